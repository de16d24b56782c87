import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, IsNull, Repository } from 'typeorm';
import { paginateByCreation, PageQueryDto } from '../common/pagination';
import type { ActingTarget, KeyListing } from '../common/authorization/access-policy';
import type { KeyScope, Principal, UserRole, UserStatus } from '../common/principal';
import { Database, Statement } from '../database/database';
import { User } from '../users/entities/user.entity';
import { ApiKeyCache } from './api-key-cache';
import { displayPrefix, generateApiKey, hashApiKey } from './api-key-format';
import { ApiKey } from './entities/api-key.entity';

/** What one lookup by hash returns; everything a request needs to know about its caller. */
export interface KeyRecord {
  principal: Principal;
  revoked: boolean;
}

/** Who a new key belongs to and which pool it spends. */
export interface KeyOwner {
  userId: string;
  billingOrganizationId: string;
  /** Default `full`; only the rotation of a restricted key issues another restricted one. */
  scope?: KeyScope;
}

/** A key generated here: the plaintext exists only in this value, the database keeps its hash. */
export interface GeneratedKey {
  plaintext: string;
  keyHash: Buffer;
  prefix: string;
}

export interface IssuedKey {
  key: ApiKey;
  plaintext: string;
}

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

interface KeyRecordRow {
  key_id: string;
  billing_organization_id: string;
  scope: KeyScope;
  revoked_at: Date | null;
  user_id: string;
  email: string;
  organization_id: string;
  domain: string;
  role: UserRole;
  is_provisioner: boolean;
  is_operator: boolean;
  api_only: boolean;
  status: UserStatus;
  external_email: string | null;
  external_id: string | null;
  provisioned_by: string | null;
  expires_at: Date | null;
  created_at: Date;
  spend_limit_units: number | null;
  spend_limit_period: string | null;
}

const KEY_COLUMNS = 'id, user_id, billing_organization_id, scope, key_hash, prefix, name, created_at, last_used_at, revoked_at';

/** The key verifier's lookup: the key, its user and the user's organization, by hash. */
const LOOKUP: Statement = {
  name: 'provisio_key_lookup',
  text: `
  SELECT k.id AS key_id, k.billing_organization_id, k.scope, k.revoked_at,
         u.id AS user_id, u.email, u.organization_id, o.domain, u.role, u.is_provisioner, u.is_operator,
         u.api_only, u.status, u.external_email, u.external_id, u.provisioned_by, u.expires_at, u.created_at,
         sl.units AS spend_limit_units, sl.period AS spend_limit_period
    FROM api_keys k
    JOIN users u ON u.id = k.user_id
    JOIN organizations o ON o.id = u.organization_id
    LEFT JOIN spend_limits sl
      ON sl.organization_id = k.billing_organization_id
     AND sl.user_id = COALESCE((SELECT s.user_id FROM spend_limit_keys s WHERE s.api_key_id = k.id), u.id)
   WHERE k.key_hash = $1`,
};

/**
 * Owns `api_keys`: every query of that table is here, and nothing else writes it. Every write that
 * changes what a key may do (revoke, move, delete, a chosen key registered) calls the
 * key cache's `notifyUsersChanged` itself, inside the caller's transaction, so no caller can forget
 * it. Two writes need none, by construction: a key generated here (a random hash no cache can hold,
 * and the owner's other keys answer as before), and `last_used_at` (no part of any principal).
 */
@Injectable()
export class ApiKeysRepository {
  constructor(
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly database: Database,
    private readonly keyCache: ApiKeyCache,
  ) {}

  /** A new key: plaintext, hash and display prefix. Stored by `issue` or `insertFragment`. */
  static generate(): GeneratedKey {
    const plaintext = generateApiKey();
    return { plaintext, keyHash: hashApiKey(plaintext), prefix: displayPrefix(plaintext) };
  }

  /**
   * The api_keys insert of a data-modifying CTE, for a statement that inserts a user and its first
   * key at once (UsersRepository.insertWithKey): one key per row of `source`, whose `id` column is
   * the user's id; `$first`.. are billing organization, hash, prefix and name. RETURNING user_id.
   */
  static insertFragment(source: string, first: number): string {
    const p = (i: number) => `$${first + i}`;
    return `INSERT INTO api_keys (user_id, billing_organization_id, key_hash, prefix, name)
           SELECT ${source}.id, ${p(0)}, ${p(1)}, ${p(2)}, ${p(3)} FROM ${source}
           RETURNING user_id`;
  }

  /**
   * The api_keys insert of a bulk create-user statement (UsersRepository.insertManyWithKeys): one key
   * per row of `users` (the inserted users: `id`, `email`), whose hash and prefix are the columns
   * `key_hash`, `prefix` of the row of `input` with the same `email`; billed to `billingOrganization`
   * (an SQL expression). RETURNING user_id.
   */
  static insertManyFragment(users: string, input: string, billingOrganization: string): string {
    return `INSERT INTO api_keys (user_id, billing_organization_id, key_hash, prefix)
           SELECT ${users}.id, ${billingOrganization}, ${input}.key_hash, ${input}.prefix
             FROM ${users} JOIN ${input} ON ${input}.email = ${users}.email
           RETURNING user_id`;
  }

  /** The parameters of `insertFragment`, in its order. */
  static fragmentParameters(owner: Pick<KeyOwner, 'billingOrganizationId'>, key: GeneratedKey, name: string | null): unknown[] {
    return [owner.billingOrganizationId, key.keyHash, key.prefix, name];
  }

  /** Generates and stores a key inside the caller's transaction; the plaintext exists only in the return value. */
  async issue(manager: EntityManager, owner: KeyOwner, name: string | null = null): Promise<IssuedKey> {
    const generated = ApiKeysRepository.generate();
    const key = await this.insertRow(manager, owner, generated.keyHash, generated.prefix, name);
    return { key, plaintext: generated.plaintext };
  }

  /**
   * Stores a key chosen outside (ADMIN_API_KEY). Other instances may remember its hash as unknown:
   * the notification drops their negative entries.
   */
  async insertChosen(manager: EntityManager, owner: KeyOwner, plaintext: string, name: string): Promise<ApiKey> {
    const key = await this.insertRow(manager, owner, hashApiKey(plaintext), displayPrefix(plaintext), name);
    await this.keyCache.notifyUsersChanged(manager, [owner.userId]);
    return key;
  }

  /** The key with this hash (live or revoked), or null. */
  findByHash(manager: EntityManager, keyHash: Buffer): Promise<ApiKey | null> {
    return manager.findOneBy(ApiKey, { keyHash });
  }

  /** The key verifier's one indexed lookup by hash (a prepared statement: it runs on every cache miss). */
  async findRecordByHash(keyHash: Buffer): Promise<KeyRecord | null> {
    const [row] = await this.database.query<KeyRecordRow>(LOOKUP, [keyHash]);
    if (!row) return null;
    return {
      revoked: row.revoked_at !== null,
      principal: {
        keyId: row.key_id,
        userId: row.user_id,
        email: row.email,
        organizationId: row.organization_id,
        organizationDomain: row.domain,
        billingOrganizationId: row.billing_organization_id,
        scope: row.scope,
        role: row.role,
        isProvisioner: row.is_provisioner,
        isOperator: row.is_operator,
        apiOnly: row.api_only,
        status: row.status,
        externalEmail: row.external_email,
        externalId: row.external_id,
        provisionedBy: row.provisioned_by,
        expiresAt: row.expires_at,
        createdAt: row.created_at,
        spendLimit:
          row.spend_limit_units !== null ? { units: row.spend_limit_units, period: row.spend_limit_period as string } : null,
      },
    };
  }

  /**
   * A user, as a prospective key owner (a read of Users' table), or null: of `organizationId`, or of
   * any organization when it is null (the operator's reach).
   */
  findOwner(manager: EntityManager, userId: string, organizationId: string | null): Promise<User | null> {
    return manager.findOneBy(User, { id: userId, ...(organizationId === null ? {} : { organizationId }) });
  }

  async countLive(manager: EntityManager, userId: string): Promise<number> {
    const [row] = await this.database.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL`,
      [userId],
      manager,
    );
    return row.count;
  }

  /** A key, locked for update, with what the authorization policy needs to know of its owner; or null. */
  async findWithOwnerForUpdate(manager: EntityManager, keyId: string): Promise<{ key: ApiKey; owner: ActingTarget } | null> {
    const [row] = await this.database.query<ApiKeyRow & OwnerRow>(
      `SELECT ${KEY_COLUMNS.split(', ')
        .map((c) => `k.${c}`)
        .join(', ')},
              u.organization_id AS owner_organization_id, u.role AS owner_role,
              u.is_provisioner AS owner_is_provisioner, u.is_operator AS owner_is_operator,
              u.status AS owner_status, u.provisioned_by AS owner_provisioned_by
         FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.id = $1
          FOR UPDATE OF k`,
      [keyId],
      manager,
    );
    if (!row) return null;
    return {
      key: keyFromRow(row),
      owner: {
        id: row.user_id,
        organizationId: row.owner_organization_id,
        role: row.owner_role,
        isProvisioner: row.owner_is_provisioner,
        isOperator: row.owner_is_operator,
        status: row.owner_status,
        provisionedBy: row.owner_provisioned_by,
      },
    };
  }

  /**
   * One page of the keys a listing allows, oldest first: one key, one user's keys, or a user's keys
   * plus those its organization pays for that users of other organizations hold.
   */
  page(
    listing: Extract<KeyListing, { decision: 'allowed' }>,
    query: PageQueryDto,
  ): Promise<{ items: ApiKey[]; nextCursor: string | null }> {
    const qb = this.keys.createQueryBuilder('k');
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
    return paginateByCreation(qb, query);
  }

  /** How many keys (live or revoked) a user has: what a transfer claim would move. */
  async countAll(manager: EntityManager | undefined, userId: string): Promise<number> {
    const [row] = await this.database.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM api_keys WHERE user_id = $1`,
      [userId],
      manager,
    );
    return row.count;
  }

  /** Revokes one key if it is live; false when it was already revoked. */
  async revoke(manager: EntityManager, key: Pick<ApiKey, 'id' | 'userId'>): Promise<boolean> {
    const result = await manager.update(ApiKey, { id: key.id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    if (!result.affected) return false;
    await this.keyCache.notifyUsersChanged(manager, [key.userId]);
    return true;
  }

  /** Revokes every live key of a user, inside the caller's transaction. Returns the revoked ids. */
  async revokeAllForUser(manager: EntityManager, userId: string): Promise<string[]> {
    const rows = await this.database.query<{ id: string }>(
      `UPDATE api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`,
      [userId],
      manager,
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
    const rows = await this.database.query<{ id: string }>(
      `DELETE FROM api_keys WHERE user_id = ANY($1::uuid[]) RETURNING id`,
      [userIds],
      manager,
    );
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
    const rows = await this.database.query<{ id: string }>(
      `UPDATE api_keys SET user_id = $2, scope = 'restricted' WHERE user_id = $1 RETURNING id`,
      [fromUserId, toUserId],
      manager,
    );
    // The moved keys now answer as the receiving user: both users' cached entries go.
    await this.keyCache.notifyUsersChanged(manager, [fromUserId, toUserId]);
    return rows.map((row) => row.id);
  }

  /**
   * Writes keys' last use (ApiKeyUsageRecorder's batches): skips rows written less than
   * `minIntervalSeconds` before the use. No invalidation: last_used_at is no part of a principal.
   */
  async recordUses(uses: [keyId: string, usedAt: Date][], minIntervalSeconds: number): Promise<void> {
    await this.database.query(
      `UPDATE api_keys AS k SET last_used_at = u.used_at
         FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, used_at)
        WHERE k.id = u.id
          AND (k.last_used_at IS NULL OR k.last_used_at <= u.used_at - make_interval(secs => $3))`,
      [uses.map(([id]) => id), uses.map(([, at]) => at), minIntervalSeconds],
    );
  }

  private async insertRow(
    manager: EntityManager,
    owner: KeyOwner,
    keyHash: Buffer,
    prefix: string,
    name: string | null,
  ): Promise<ApiKey> {
    // RETURNING the whole row: one round trip, no read-back.
    const [row] = await this.database.query<ApiKeyRow>(
      `INSERT INTO api_keys (user_id, billing_organization_id, scope, key_hash, prefix, name)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING ${KEY_COLUMNS}`,
      [owner.userId, owner.billingOrganizationId, owner.scope ?? 'full', keyHash, prefix, name],
      manager,
    );
    return keyFromRow(row);
  }
}

/** The owner's columns the authorization policy reads, beside a key row. */
interface OwnerRow {
  owner_organization_id: string;
  owner_role: UserRole;
  owner_is_provisioner: boolean;
  owner_is_operator: boolean;
  owner_status: UserStatus;
  owner_provisioned_by: string | null;
}

/** An api_keys row as returned by RETURNING, as the entity. */
function keyFromRow(row: ApiKeyRow): ApiKey {
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
