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
  /** The orchestrator's own id for the user: unique among its organization's users. */
  externalId?: string | null;
  provisionedBy?: string | null;
  expiresAt?: Date | null;
}

/** One user of a bulk insert (`insertManyWithKeys`): an active, API-only user of the batch's organization. */
export interface NewBulkUser {
  email: string;
  externalEmail: string;
  externalId: string | null;
}

/** A user that holds an address or an external id a new user asked for. */
export interface ConflictingUser {
  id: string;
  email: string;
  external_id: string | null;
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
  external_id: string | null;
  provisioned_by: string | null;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const USER_COLUMNS = `id, email, organization_id, role, is_provisioner, is_operator, api_only, status,
  external_email, external_id, provisioned_by, expires_at, created_at, updated_at`;

/**
 * $1..$11: the users insert of `insert` and `insertWithKey`. ON CONFLICT with no target: a taken
 * address (uq_users_email) or a taken external id of the organization
 * (uq_users_organization_id_external_id) inserts nothing, and the caller says which.
 */
const INSERT_USER = `INSERT INTO users (email, organization_id, role, is_provisioner, is_operator, api_only, status,
                          external_email, provisioned_by, expires_at, external_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT DO NOTHING
       RETURNING ${USER_COLUMNS}`;

/**
 * Create-user's one statement: the user and its first key (ApiKeysRepository's insert, $12..$15),
 * or nothing when the address or external id is taken. Users owns the statement; the api_keys part
 * is Api Keys'.
 */
const INSERT_USER_WITH_KEY: Statement = {
  name: 'provisio_insert_user_with_key',
  text: `WITH u AS (
           ${INSERT_USER}
         ), k AS (
           ${ApiKeysRepository.insertFragment('u', 12)}
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

  /**
   * Bulk create-user in ONE statement: every user of `users` (distinct addresses and external ids)
   * and a newly generated key for each, in the organization `organizationId`, provisioned by
   * `provisionedBy` and billed to that organization. A user whose address or external id is taken
   * is left out (ON CONFLICT DO NOTHING) with its key; the others are inserted. Answers the inserted
   * users with their keys' plaintext (which exists only in the return value), by address.
   */
  async insertManyWithKeys(
    manager: EntityManager,
    organizationId: string,
    provisionedBy: string,
    users: NewBulkUser[],
  ): Promise<Map<string, { user: User; plaintext: string }>> {
    if (users.length === 0) return new Map();
    const keys = users.map(() => ApiKeysRepository.generate());
    const rows = await this.database.query<UserRow>(
      `WITH input AS (
         SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[])
                  WITH ORDINALITY AS i(email, external_email, external_id, key_hash, prefix, ord)
       ), u AS (
         INSERT INTO users (email, organization_id, role, api_only, status, external_email, external_id, provisioned_by)
         SELECT email, $1::uuid, 'member', true, 'active', external_email, external_id, $2::uuid FROM input ORDER BY email
         ON CONFLICT DO NOTHING
         RETURNING ${USER_COLUMNS}
       ), k AS (
         ${ApiKeysRepository.insertManyFragment('u', 'input', '$1::uuid')}
       )
       SELECT u.* FROM u JOIN k ON k.user_id = u.id`,
      [
        organizationId,
        provisionedBy,
        users.map((u) => u.email),
        users.map((u) => u.externalEmail),
        users.map((u) => u.externalId),
        keys.map((k) => k.keyHash),
        keys.map((k) => k.prefix),
      ],
      manager,
    );
    const plaintextByEmail = new Map(users.map((u, i) => [u.email, keys[i].plaintext]));
    return new Map(
      rows.map((row) => [row.email, { user: userFromRow(row), plaintext: plaintextByEmail.get(row.email) as string }]),
    );
  }

  /**
   * The users holding any of `emails` (on any domain: addresses are unique everywhere) or any of
   * `externalIds` in the organization: who stands in the way of a create that inserted nothing.
   */
  findConflicting(
    manager: EntityManager,
    organizationId: string,
    emails: string[],
    externalIds: string[],
  ): Promise<ConflictingUser[]> {
    return this.database.query<ConflictingUser>(
      `SELECT id, email, external_id FROM users
        WHERE email = ANY($2::text[]) OR (organization_id = $1 AND external_id = ANY($3::text[]))`,
      [organizationId, emails, externalIds],
      manager,
    );
  }

  /**
   * Moves the expiry of a placeholder user (a pending provision's, reissued or patched), inside the
   * caller's transaction: its keys are refused from `expiresAt` on, so their cached principals go.
   */
  async setPlaceholderExpiry(manager: EntityManager, userId: string, expiresAt: Date): Promise<void> {
    const rows = await this.database.query<{ id: string }>(
      `UPDATE users SET expires_at = $2, updated_at = now() WHERE id = $1 AND status = 'pending_claim' RETURNING id`,
      [userId, expiresAt],
      manager,
    );
    if (rows.length === 1) await this.keyCache.notifyUsersChanged(manager, [userId]);
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

  /** One page of an organization's users, oldest first, optionally of one status and/or external id. */
  page(
    organizationId: string,
    filter: { status?: UserStatus; externalId?: string },
    query: PageQueryDto,
  ): Promise<{ items: User[]; nextCursor: string | null }> {
    const qb = this.users.createQueryBuilder('u').where('u.organization_id = :orgId', { orgId: organizationId });
    if (filter.status) qb.andWhere('u.status = :status', { status: filter.status });
    if (filter.externalId !== undefined) qb.andWhere('u.external_id = :externalId', { externalId: filter.externalId });
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

/** $1..$11 of the users insert, in the column order of `INSERT INTO users (email, …, external_id)`. */
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
    user.externalId ?? null,
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
    externalId: row.external_id,
    provisionedBy: row.provisioned_by,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}
