import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { ApiKeyCache } from '../api-keys/api-key-cache';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { paginateByCreation, PageQueryDto } from '../common/pagination';
import type { UserRole, UserStatus } from '../common/principal';
import { Database, Statement } from '../database/database';
import { User } from './entities/user.entity';

export interface NewUser {
  email: string;
  organizationId: string;
  role: UserRole;
  isProvisioner?: boolean;
  isOperator?: boolean;
  apiOnly?: boolean;
  status?: UserStatus;
  externalEmail?: string | null;
  provisionedBy?: string | null;
  expiresAt?: Date | null;
}

/** What `update` may change: every field of it is part of the cached principals of the user's keys. */
export type UserChange = Partial<Pick<User, 'isProvisioner' | 'isOperator' | 'status'>>;

interface UserRow {
  id: string;
  email: string;
  organization_id: string;
  role: UserRole;
  is_provisioner: boolean;
  is_operator: boolean;
  api_only: boolean;
  status: UserStatus;
  external_email: string | null;
  provisioned_by: string | null;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const USER_COLUMNS = `id, email, organization_id, role, is_provisioner, is_operator, api_only, status,
  external_email, provisioned_by, expires_at, created_at, updated_at`;

/** $1..$10: the users insert of `insert` and `insertWithKey`, ON CONFLICT on the address. */
const INSERT_USER = `INSERT INTO users (email, organization_id, role, is_provisioner, is_operator, api_only, status,
                          external_email, provisioned_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (email) DO NOTHING
       RETURNING ${USER_COLUMNS}`;

/**
 * Create-user's one statement: the user and its first key (ApiKeysRepository's insert, $11..$14),
 * or nothing when the address is taken. Users owns the statement; the api_keys part is Api Keys'.
 */
const INSERT_USER_WITH_KEY: Statement = {
  name: 'provisio_insert_user_with_key',
  text: `WITH u AS (
           ${INSERT_USER}
         ), k AS (
           ${ApiKeysRepository.insertFragment('u', 11)}
         )
         SELECT u.* FROM u JOIN k ON k.user_id = u.id`,
};

/**
 * Owns `users`: every query of that table is here, and nothing else writes it. A write that changes
 * what a user's keys may do calls the key cache's `notifyUsersChanged` itself, inside the caller's
 * transaction. A new user needs none (it has no cached key yet).
 */
@Injectable()
export class UsersRepository {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly database: Database,
    private readonly keys: ApiKeysRepository,
    private readonly keyCache: ApiKeyCache,
  ) {}

  /** Inserts a user (RETURNING the whole row: one round trip); null when the address is taken. */
  async insert(manager: EntityManager, user: NewUser): Promise<User | null> {
    const [row] = await this.database.query<UserRow>(INSERT_USER, userParameters(user), manager);
    return row ? userFromRow(row) : null;
  }

  /**
   * Inserts a user and a newly generated key in ONE statement (two data-modifying CTEs): atomic like
   * a transaction — never a user without its key nor a key without its user — in one round trip
   * instead of four (BEGIN, INSERT, INSERT, COMMIT). The hot path of create-user. Null when the
   * address is taken (nothing inserted); the key's plaintext exists only in the return value.
   */
  async insertWithKey(
    manager: EntityManager,
    user: NewUser,
    key: { billingOrganizationId: string; name?: string | null },
  ): Promise<{ user: User; plaintext: string } | null> {
    const generated = ApiKeysRepository.generate();
    const [row] = await this.database.query<UserRow>(
      INSERT_USER_WITH_KEY,
      [...userParameters(user), ...ApiKeysRepository.fragmentParameters(key, generated, key.name ?? null)],
      manager,
    );
    return row ? { user: userFromRow(row), plaintext: generated.plaintext } : null;
  }

  findById(manager: EntityManager, id: string): Promise<User | null> {
    return manager.findOneBy(User, { id });
  }

  findByEmail(manager: EntityManager, email: string): Promise<User | null> {
    return manager.findOneBy(User, { email });
  }

  /** A user of one organization, or of any when `organizationId` is null (optionally locked for update); or null. */
  findInOrganization(manager: EntityManager, organizationId: string | null, id: string, lock = false): Promise<User | null> {
    const qb = manager.getRepository(User).createQueryBuilder('u').where('u.id = :id', { id });
    // null: any organization (the operator's reach).
    if (organizationId !== null) qb.andWhere('u.organization_id = :orgId', { orgId: organizationId });
    if (lock) qb.setLock('pessimistic_write');
    return qb.getOne();
  }

  /** A user, locked for update until the caller's transaction ends, or null. */
  findForUpdate(manager: EntityManager, id: string): Promise<User | null> {
    return manager.getRepository(User).createQueryBuilder('u').where('u.id = :id', { id }).setLock('pessimistic_write').getOne();
  }

  /** One page of an organization's users, oldest first, optionally of one status. */
  page(
    organizationId: string,
    status: UserStatus | undefined,
    query: PageQueryDto,
  ): Promise<{ items: User[]; nextCursor: string | null }> {
    const qb = this.users.createQueryBuilder('u').where('u.organization_id = :orgId', { orgId: organizationId });
    if (status) qb.andWhere('u.status = :status', { status });
    return paginateByCreation(qb, query);
  }

  /** Changes flags or the status of a user (every one of them is part of its keys' cached principals). */
  async update(manager: EntityManager, id: string, change: UserChange): Promise<void> {
    await manager.update(User, { id }, change);
    await this.keyCache.notifyUsersChanged(manager, [id]);
  }

  /**
   * The placeholder of a claimed provision becomes an ordinary active user that never expires,
   * inside the caller's transaction. False when the user is no longer `pending_claim` (e.g. it was
   * deactivated meanwhile): nothing is changed then.
   */
  async activateClaimed(manager: EntityManager, userId: string, externalEmail: string): Promise<boolean> {
    const rows = await this.database.query<{ id: string }>(
      `UPDATE users SET status = 'active', external_email = $2, expires_at = NULL, updated_at = now()
        WHERE id = $1 AND status = 'pending_claim' RETURNING id`,
      [userId, externalEmail],
      manager,
    );
    // Its cached principal still says pending_claim with an expiry.
    if (rows.length === 1) await this.keyCache.notifyUsersChanged(manager, [userId]);
    return rows.length === 1;
  }

  /**
   * Deletes placeholder users of provisions (cancel, expiry, transfer into another account) and all
   * their keys, inside the caller's transaction. Active users are never deleted here. The keys'
   * deletion (ApiKeysRepository.deleteAllForUsers) invalidates these users' cached entries.
   */
  async deletePlaceholders(manager: EntityManager, userIds: string[]): Promise<{ userIds: string[]; keyIds: string[] }> {
    if (userIds.length === 0) return { userIds: [], keyIds: [] };
    const placeholders = await this.database.query<{ id: string }>(
      `SELECT id FROM users WHERE id = ANY($1::uuid[]) AND status <> 'active' ORDER BY id FOR UPDATE`,
      [userIds],
      manager,
    );
    const ids = placeholders.map((row) => row.id);
    const keyIds = await this.keys.deleteAllForUsers(manager, ids);
    if (ids.length > 0) await this.database.query(`DELETE FROM users WHERE id = ANY($1::uuid[])`, [ids], manager);
    return { userIds: ids, keyIds };
  }

  /** Serializes operator bootstraps of several instances (until the caller's transaction ends). */
  async lockOperatorBootstrap(manager: EntityManager): Promise<void> {
    await this.database.query(`SELECT pg_advisory_xact_lock(hashtext('provisio:operator-bootstrap'))`, [], manager);
  }
}

/** $1..$10 of the users insert, in the column order of `INSERT INTO users (email, …, expires_at)`. */
function userParameters(user: NewUser): unknown[] {
  return [
    user.email,
    user.organizationId,
    user.role,
    user.isProvisioner ?? false,
    user.isOperator ?? false,
    user.apiOnly ?? false,
    user.status ?? 'active',
    user.externalEmail ?? null,
    user.provisionedBy ?? null,
    user.expiresAt ?? null,
  ];
}

/** A users row as returned by RETURNING, as the entity. */
function userFromRow(row: UserRow): User {
  return Object.assign(new User(), {
    id: row.id,
    email: row.email,
    organizationId: row.organization_id,
    role: row.role,
    isProvisioner: row.is_provisioner,
    isOperator: row.is_operator,
    apiOnly: row.api_only,
    status: row.status,
    externalEmail: row.external_email,
    provisionedBy: row.provisioned_by,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}
