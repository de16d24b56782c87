import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import {
  ActingTarget,
  canCreateKeyFor,
  canManageKey,
  Decision,
  KeyAction,
  keyListing,
  userLookupOrganization,
} from '../common/authorization/access-policy';
import { paginateByCreation } from '../common/pagination';
import { queryRows } from '../database/query-rows';
import type { KeyScope, Principal } from '../common/principal';
import { ProblemException } from '../common/problem';
import { User } from '../users/entities/user.entity';
import { ApiKeyCache } from './api-key-cache';
import { displayPrefix, generateApiKey, hashApiKey } from './api-key-format';
import { ApiKeyDto, ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto, ListApiKeysQueryDto } from './dto/api-key.dto';
import { ApiKey } from './entities/api-key.entity';

interface ApiKeyRow {
  id: string;
  user_id: string;
  billing_organization_id: string;
  scope: KeyScope;
  key_hash: Buffer;
  prefix: string;
  name: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface IssuedKey {
  key: ApiKey;
  plaintext: string;
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly keyCache: ApiKeyCache,
  ) {}

  /**
   * Creates a key inside the caller's transaction; the plaintext exists only in the return value.
   * `scope` defaults to `full`; only a rotation of a restricted key issues another restricted one.
   */
  async issue(
    manager: EntityManager,
    owner: { userId: string; billingOrganizationId: string; scope?: KeyScope },
    name: string | null = null,
  ): Promise<IssuedKey> {
    const plaintext = generateApiKey();
    // RETURNING the whole row: one round trip, no read-back.
    const rows: ApiKeyRow[] = await manager.query(
      `INSERT INTO api_keys (user_id, billing_organization_id, scope, key_hash, prefix, name)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, user_id, billing_organization_id, scope, key_hash, prefix, name, created_at, last_used_at, revoked_at`,
      [owner.userId, owner.billingOrganizationId, owner.scope ?? 'full', hashApiKey(plaintext), displayPrefix(plaintext), name],
    );
    const row = rows[0];
    const key = Object.assign(new ApiKey(), {
      id: row.id,
      userId: row.user_id,
      billingOrganizationId: row.billing_organization_id,
      scope: row.scope,
      keyHash: row.key_hash,
      prefix: row.prefix,
      name: row.name,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      revokedAt: row.revoked_at,
    });
    return { key, plaintext };
  }

  /** Revokes every live key of a user, inside the caller's transaction. Returns the revoked ids. */
  async revokeAllForUser(manager: EntityManager, userId: string): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      manager,
      `UPDATE api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`,
      [userId],
    );
    await this.keyCache.notifyUsersChanged(manager, [userId]);
    return rows.map((row) => row.id);
  }

  /**
   * Deletes every key (live or revoked) of these users, inside the caller's transaction, before the
   * users themselves are deleted. Returns the deleted key ids.
   */
  async deleteAllForUsers(manager: EntityManager, userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await queryRows<{ id: string }>(manager, `DELETE FROM api_keys WHERE user_id = ANY($1::uuid[]) RETURNING id`, [
      userIds,
    ]);
    await this.keyCache.notifyUsersChanged(manager, userIds);
    return rows.map((row) => row.id);
  }

  /**
   * Moves every key of one user to another, inside the caller's transaction, as `restricted` keys:
   * whoever held them before (the provisioner saw their plaintext) must never act with the receiving
   * user's manager, provisioner or operator rights. `billing_organization_id` is left as it is, so
   * the keys keep spending the pool they spent before. Returns the moved key ids.
   */
  async moveAllToUser(manager: EntityManager, fromUserId: string, toUserId: string): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      manager,
      `UPDATE api_keys SET user_id = $2, scope = 'restricted' WHERE user_id = $1 RETURNING id`,
      [fromUserId, toUserId],
    );
    // The moved keys now answer as the receiving user: both users' cached entries go.
    await this.keyCache.notifyUsersChanged(manager, [fromUserId, toUserId]);
    return rows.map((row) => row.id);
  }

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
    const qb = this.dataSource.getRepository(ApiKey).createQueryBuilder('k');
    if (listing.onlyKeyId !== null) {
      qb.where('k.id = :keyId', { keyId: listing.onlyKeyId });
    } else if (listing.paidByOrganizationId !== null) {
      qb.innerJoin(User, 'u', 'u.id = k.user_id').where(
        '(k.user_id = :userId OR (k.billing_organization_id = :orgId AND u.organization_id <> :orgId))',
        { userId: listing.userId, orgId: listing.paidByOrganizationId },
      );
    } else {
      qb.where('k.user_id = :userId', { userId: listing.userId });
    }
    const page = await paginateByCreation(qb, query);
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
        throw ProblemException.conflict('user-disabled', `User ${user.id} is disabled; it cannot get new keys.`);
      }
      const issued = await this.issue(manager, { userId: user.id, billingOrganizationId: user.organizationId }, dto.name ?? null);
      return { ...toApiKeyDto(issued.key), api_key: issued.plaintext };
    });
  }

  async revoke(principal: Principal, keyId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const key = await this.findKey(manager, principal, keyId, 'revoke');
      if (key.revokedAt === null) {
        await manager.update(ApiKey, { id: key.id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
        await this.keyCache.notifyUsersChanged(manager, [key.userId]);
      }
    });
  }

  /** Revokes the key and issues its replacement (same user, name, pool and scope) in one transaction. */
  async rotate(principal: Principal, keyId: string): Promise<CreatedApiKeyDto> {
    return this.dataSource.transaction(async (manager) => {
      const key = await this.findKey(manager, principal, keyId, 'rotate');
      const result = await manager.update(ApiKey, { id: key.id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
      if (!result.affected) {
        throw ProblemException.conflict('key-revoked', `API key ${key.id} is revoked; only a live key can be rotated.`);
      }
      await this.keyCache.notifyUsersChanged(manager, [key.userId]);
      const issued = await this.issue(
        manager,
        { userId: key.userId, billingOrganizationId: key.billingOrganizationId, scope: key.scope },
        key.name,
      );
      return { ...toApiKeyDto(issued.key), api_key: issued.plaintext };
    });
  }

  /** The key (row-locked) with its owner, when the policy lets the caller do `action` on it; else 404 or 403. */
  private async findKey(manager: EntityManager, principal: Principal, keyId: string, action: KeyAction): Promise<ApiKey> {
    const rows = await queryRows<ApiKeyRow & OwnerRow>(
      manager,
      `SELECT k.id, k.user_id, k.billing_organization_id, k.scope, k.key_hash, k.prefix, k.name, k.created_at,
              k.last_used_at, k.revoked_at, u.organization_id AS owner_organization_id, u.role AS owner_role,
              u.is_provisioner AS owner_is_provisioner, u.is_operator AS owner_is_operator,
              u.status AS owner_status, u.provisioned_by AS owner_provisioned_by
         FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.id = $1
          FOR UPDATE OF k`,
      [keyId],
    );
    const row = rows[0];
    const decision: Decision = row
      ? canManageKey(
          principal,
          { id: row.id, scope: row.scope, billingOrganizationId: row.billing_organization_id, owner: ownerOf(row) },
          action,
        )
      : 'not_found';
    if (decision !== 'allowed') throw refusal(decision, `API key ${keyId}`);
    return Object.assign(new ApiKey(), {
      id: row.id,
      userId: row.user_id,
      billingOrganizationId: row.billing_organization_id,
      scope: row.scope,
      keyHash: row.key_hash,
      prefix: row.prefix,
      name: row.name,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      revokedAt: row.revoked_at,
    });
  }

  /** A user the caller may look up (its organization's; any for the operator), else 404. */
  private async findUser(manager: EntityManager, principal: Principal, userId: string): Promise<User> {
    const organizationId = userLookupOrganization(principal);
    const user = await manager.findOneBy(User, { id: userId, ...(organizationId === null ? {} : { organizationId }) });
    if (!user) throw ProblemException.notFound(`User ${userId} was not found.`);
    return user;
  }
}

interface OwnerRow {
  owner_organization_id: string;
  owner_role: User['role'];
  owner_is_provisioner: boolean;
  owner_is_operator: boolean;
  owner_status: User['status'];
  owner_provisioned_by: string | null;
}

function ownerOf(row: ApiKeyRow & OwnerRow): ActingTarget {
  return {
    id: row.user_id,
    organizationId: row.owner_organization_id,
    role: row.owner_role,
    isProvisioner: row.owner_is_provisioner,
    isOperator: row.owner_is_operator,
    status: row.owner_status,
    provisionedBy: row.owner_provisioned_by,
  };
}

/** The problem for a refused decision: 404 hides what another organization holds; 403 names the rule. */
function refusal(decision: Exclude<Decision, 'allowed'>, what: string): ProblemException {
  if (decision === 'not_found') return ProblemException.notFound(`${what} was not found.`);
  return ProblemException.forbidden(
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
