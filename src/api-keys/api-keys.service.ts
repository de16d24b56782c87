import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { paginateByCreation } from '../common/pagination';
import { queryRows } from '../database/query-rows';
import { canManageOrganization, Principal } from '../common/principal';
import { Problems } from '../common/problem';
import { User } from '../users/entities/user.entity';
import { ApiKeyCache } from './api-key-cache';
import { displayPrefix, generateApiKey, hashApiKey } from './api-key-format';
import { ApiKeyDto, ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto, ListApiKeysQueryDto } from './dto/api-key.dto';
import { ApiKey } from './entities/api-key.entity';

interface ApiKeyRow {
  id: string;
  user_id: string;
  billing_organization_id: string;
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

  /** Creates a key inside the caller's transaction; the plaintext exists only in the return value. */
  async issue(
    manager: EntityManager,
    owner: { userId: string; billingOrganizationId: string },
    name: string | null = null,
  ): Promise<IssuedKey> {
    const plaintext = generateApiKey();
    // RETURNING the whole row: one round trip, no read-back.
    const rows: ApiKeyRow[] = await manager.query(
      `INSERT INTO api_keys (user_id, billing_organization_id, key_hash, prefix, name)
       VALUES ($1, $2, $3, $4, $5)
       RETURNING id, user_id, billing_organization_id, key_hash, prefix, name, created_at, last_used_at, revoked_at`,
      [owner.userId, owner.billingOrganizationId, hashApiKey(plaintext), displayPrefix(plaintext), name],
    );
    const row = rows[0];
    const key = Object.assign(new ApiKey(), {
      id: row.id,
      userId: row.user_id,
      billingOrganizationId: row.billing_organization_id,
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
    const rows = await queryRows<{ id: string }>(
      manager,
      `DELETE FROM api_keys WHERE user_id = ANY($1::uuid[]) RETURNING id`,
      [userIds],
    );
    await this.keyCache.notifyUsersChanged(manager, userIds);
    return rows.map((row) => row.id);
  }

  /**
   * Moves every key of one user to another, inside the caller's transaction. `billing_organization_id`
   * is left as it is, so the keys keep spending the pool they spent before. Returns the moved key ids.
   */
  async moveAllToUser(manager: EntityManager, fromUserId: string, toUserId: string): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      manager,
      `UPDATE api_keys SET user_id = $2 WHERE user_id = $1 RETURNING id`,
      [fromUserId, toUserId],
    );
    // The moved keys now answer as the receiving user: both users' cached entries go.
    await this.keyCache.notifyUsersChanged(manager, [fromUserId, toUserId]);
    return rows.map((row) => row.id);
  }

  async list(principal: Principal, query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    const userId = query.user_id ?? principal.userId;
    await this.ensureUserManageable(this.dataSource.manager, principal, userId);
    const qb = this.dataSource.getRepository(ApiKey).createQueryBuilder('k').where('k.user_id = :userId', { userId });
    const page = await paginateByCreation(qb, query);
    return { data: page.items.map(toApiKeyDto), next_cursor: page.nextCursor };
  }

  async create(principal: Principal, dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.dataSource.transaction(async (manager) => {
      const user = await this.ensureUserManageable(manager, principal, dto.user_id ?? principal.userId);
      if (user.status === 'disabled') {
        throw Problems.userDisabled(user.id);
      }
      // A key minted by the caller for itself spends the same pool as the key it used.
      const billingOrganizationId =
        user.id === principal.userId ? principal.billingOrganizationId : user.organizationId;
      const issued = await this.issue(manager, { userId: user.id, billingOrganizationId }, dto.name ?? null);
      return { ...toApiKeyDto(issued.key), api_key: issued.plaintext };
    });
  }

  async revoke(principal: Principal, keyId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const key = await this.findManageableKey(manager, principal, keyId);
      if (key.revokedAt === null) {
        await manager.update(ApiKey, { id: key.id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
        await this.keyCache.notifyUsersChanged(manager, [key.userId]);
      }
    });
  }

  /** Revokes the key and issues its replacement (same user, name and pool) in one transaction. */
  async rotate(principal: Principal, keyId: string): Promise<CreatedApiKeyDto> {
    return this.dataSource.transaction(async (manager) => {
      const key = await this.findManageableKey(manager, principal, keyId);
      const result = await manager.update(
        ApiKey,
        { id: key.id, revokedAt: IsNull() },
        { revokedAt: () => 'now()' },
      );
      if (!result.affected) {
        throw Problems.keyRevoked(key.id);
      }
      await this.keyCache.notifyUsersChanged(manager, [key.userId]);
      const issued = await this.issue(
        manager,
        { userId: key.userId, billingOrganizationId: key.billingOrganizationId },
        key.name,
      );
      return { ...toApiKeyDto(issued.key), api_key: issued.plaintext };
    });
  }

  /** The key, if it belongs to the caller or (for org managers) to a user of the caller's organization; else 404. */
  private async findManageableKey(manager: EntityManager, principal: Principal, keyId: string): Promise<ApiKey> {
    const key = await manager
      .getRepository(ApiKey)
      .createQueryBuilder('k')
      .innerJoin(User, 'u', 'u.id = k.user_id')
      .where('k.id = :keyId', { keyId })
      .andWhere(
        canManageOrganization(principal) ? 'u.organization_id = :orgId' : 'k.user_id = :userId',
        { orgId: principal.organizationId, userId: principal.userId },
      )
      .setLock('pessimistic_write', undefined, ['k'])
      .getOne();
    if (!key) throw Problems.notFound(`API key ${keyId} was not found.`);
    return key;
  }

  private async ensureUserManageable(manager: EntityManager, principal: Principal, userId: string): Promise<User> {
    if (userId !== principal.userId && !canManageOrganization(principal)) {
      throw Problems.forbidden("Only an organization's owners, admins and provisioners manage other users' keys.");
    }
    const user = await manager.findOneBy(User, { id: userId, organizationId: principal.organizationId });
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
