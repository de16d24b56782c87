import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import {
  canCreateKeyFor,
  canManageKey,
  Decision,
  KeyAction,
  keyListing,
  userLookupOrganization,
} from '../common/authorization/access-policy';
import type { Principal } from '../common/principal';
import { ProblemException, Problems } from '../common/problem';
import { User } from '../users/entities/user.entity';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeyDto, ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto, ListApiKeysQueryDto } from './dto/api-key.dto';
import { ApiKey } from './entities/api-key.entity';

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: ApiKeysRepository,
  ) {}

  /**
   * Keys the caller may see (never their secrets): its own (a restricted key: only itself), for the
   * managers of an organization also the keys it pays for that users of other organizations hold;
   * with `user_id`, that user's keys when the caller may act on it (see access-policy).
   */
  async list(principal: Principal, query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    const target =
      query.user_id === undefined || query.user_id === principal.userId
        ? null
        : await this.findUser(this.dataSource.manager, principal, query.user_id);
    const listing = keyListing(principal, target);
    if (listing.decision !== 'allowed') throw refusal(listing.decision, `User ${query.user_id}`);
    const page = await this.keys.page(listing, query);
    return { data: page.items.map(toApiKeyDto), next_cursor: page.nextCursor };
  }

  /**
   * Creates a key for the caller or, by rank, for another user of its organization. It always
   * spends its owner's own organization's pool, whatever pool the calling key spends.
   */
  async create(principal: Principal, dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.dataSource.transaction(async (manager) => {
      const userId = dto.user_id ?? principal.userId;
      const user = await this.findUser(manager, principal, userId);
      const decision = canCreateKeyFor(principal, user);
      if (decision !== 'allowed') throw refusal(decision, `User ${userId}`);
      if (user.status === 'disabled') {
        throw Problems.userDisabled(user.id);
      }
      const issued = await this.keys.issue(
        manager,
        { userId: user.id, billingOrganizationId: user.organizationId },
        dto.name ?? null,
      );
      return { ...toApiKeyDto(issued.key), api_key: issued.plaintext };
    });
  }

  async revoke(principal: Principal, keyId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const key = await this.findKey(manager, principal, keyId, 'revoke');
      if (key.revokedAt === null) await this.keys.revoke(manager, key);
    });
  }

  /** Revokes the key and issues its replacement (same user, name, pool and scope) in one transaction. */
  async rotate(principal: Principal, keyId: string): Promise<CreatedApiKeyDto> {
    return this.dataSource.transaction(async (manager) => {
      const key = await this.findKey(manager, principal, keyId, 'rotate');
      if (!(await this.keys.revoke(manager, key))) {
        throw Problems.keyRevoked(key.id);
      }
      const issued = await this.keys.issue(
        manager,
        { userId: key.userId, billingOrganizationId: key.billingOrganizationId, scope: key.scope },
        key.name,
      );
      return { ...toApiKeyDto(issued.key), api_key: issued.plaintext };
    });
  }

  /** The key (row-locked) when the policy lets the caller do `action` on it; else 404 or 403. */
  private async findKey(manager: EntityManager, principal: Principal, keyId: string, action: KeyAction): Promise<ApiKey> {
    const found = await this.keys.findWithOwnerForUpdate(manager, keyId);
    const decision: Decision = found
      ? canManageKey(
          principal,
          {
            id: found.key.id,
            scope: found.key.scope,
            billingOrganizationId: found.key.billingOrganizationId,
            owner: found.owner,
          },
          action,
        )
      : 'not_found';
    if (!found || decision !== 'allowed') throw refusal(decision === 'allowed' ? 'not_found' : decision, `API key ${keyId}`);
    return found.key;
  }

  /** A user the caller may look up (its organization's; any for the operator), else 404. */
  private async findUser(manager: EntityManager, principal: Principal, userId: string): Promise<User> {
    const user = await this.keys.findOwner(manager, userId, userLookupOrganization(principal));
    if (!user) throw Problems.notFound(`User ${userId} was not found.`);
    return user;
  }
}

/** The problem for a refused decision: 404 hides what another organization holds; 403 names the rule. */
function refusal(decision: Exclude<Decision, 'allowed'>, what: string): ProblemException {
  if (decision === 'not_found') return Problems.notFound(`${what} was not found.`);
  return Problems.forbidden(
    `${what}: acting on another user needs a higher rank in its organization (owner over admins and members, ` +
      'admin over members; a provisioner over the users it provisioned); a restricted key lists and revokes only ' +
      'itself and creates no keys.',
  );
}

export function toApiKeyDto(key: ApiKey): ApiKeyDto {
  return {
    id: key.id,
    user_id: key.userId,
    prefix: key.prefix,
    name: key.name,
    billing_organization_id: key.billingOrganizationId,
    scope: key.scope,
    created_at: key.createdAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}
