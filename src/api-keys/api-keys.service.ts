import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { canManageOrganization, Principal } from '../common/principal';
import { Problems } from '../common/problem';
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

  async list(principal: Principal, query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    const userId = query.user_id ?? principal.userId;
    await this.ensureUserManageable(this.dataSource.manager, principal, userId);
    const page = await this.keys.page(userId, query);
    return { data: page.items.map(toApiKeyDto), next_cursor: page.nextCursor };
  }

  async create(principal: Principal, dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.dataSource.transaction(async (manager) => {
      const user = await this.ensureUserManageable(manager, principal, dto.user_id ?? principal.userId);
      if (user.status === 'disabled') {
        throw Problems.userDisabled(user.id);
      }
      // A key minted by the caller for itself spends the same pool as the key it used.
      const billingOrganizationId = user.id === principal.userId ? principal.billingOrganizationId : user.organizationId;
      const issued = await this.keys.issue(manager, { userId: user.id, billingOrganizationId }, dto.name ?? null);
      return { ...toApiKeyDto(issued.key), api_key: issued.plaintext };
    });
  }

  async revoke(principal: Principal, keyId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const key = await this.findManageableKey(manager, principal, keyId);
      if (key.revokedAt === null) await this.keys.revoke(manager, key);
    });
  }

  /** Revokes the key and issues its replacement (same user, name and pool) in one transaction. */
  async rotate(principal: Principal, keyId: string): Promise<CreatedApiKeyDto> {
    return this.dataSource.transaction(async (manager) => {
      const key = await this.findManageableKey(manager, principal, keyId);
      if (!(await this.keys.revoke(manager, key))) {
        throw Problems.keyRevoked(key.id);
      }
      const issued = await this.keys.issue(
        manager,
        { userId: key.userId, billingOrganizationId: key.billingOrganizationId },
        key.name,
      );
      return { ...toApiKeyDto(issued.key), api_key: issued.plaintext };
    });
  }

  /** The key, if it belongs to the caller or (for org managers) to a user of the caller's organization; else 404. */
  private async findManageableKey(manager: EntityManager, principal: Principal, keyId: string): Promise<ApiKey> {
    const key = await this.keys.findForUpdate(
      manager,
      keyId,
      canManageOrganization(principal) ? { organizationId: principal.organizationId } : { userId: principal.userId },
    );
    if (!key) throw Problems.notFound(`API key ${keyId} was not found.`);
    return key;
  }

  private async ensureUserManageable(manager: EntityManager, principal: Principal, userId: string): Promise<User> {
    if (userId !== principal.userId && !canManageOrganization(principal)) {
      throw Problems.forbidden("Only an organization's owners, admins and provisioners manage other users' keys.");
    }
    const user = await this.keys.findOwner(manager, userId, principal.organizationId);
    if (!user) throw Problems.notFound(`User ${userId} was not found.`);
    return user;
  }
}

export function toApiKeyDto(key: ApiKey): ApiKeyDto {
  return {
    id: key.id,
    user_id: key.userId,
    prefix: key.prefix,
    name: key.name,
    billing_organization_id: key.billingOrganizationId,
    created_at: key.createdAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}
