import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ApiKeyCache } from '../api-keys/api-key-cache';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { isPublicMailboxDomain, parseEmailAddress } from '../common/email';
import { paginateByCreation, PageQueryDto } from '../common/pagination';
import type { Principal, UserRole, UserStatus } from '../common/principal';
import { ProblemException, Problems } from '../common/problem';
import { PreparedStatements, Statement } from '../database/prepared-statements';
import { queryRows } from '../database/query-rows';
import {
  AdminCreateUserDto,
  AdminUpdateUserDto,
  CreatedUserDto,
  ListUsersQueryDto,
  MeDto,
  OrganizationPageDto,
  UserDto,
  UserPageDto,
} from './dto/user.dto';
import { Organization } from './entities/organization.entity';
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

@Injectable()
export class UsersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly apiKeys: ApiKeysService,
    private readonly keyCache: ApiKeyCache,
    private readonly statements: PreparedStatements,
  ) {}

  /**
   * `/me`: answered from the principal alone, no query. Principals come from the key cache and never
   * change (a change replaces them), so each one's answer — a MeDto as JSON — is serialized once.
   */
  meJson(principal: Principal): string {
    let json = meJsonByPrincipal.get(principal);
    if (json === undefined) meJsonByPrincipal.set(principal, (json = JSON.stringify(buildMe(principal))));
    return json;
  }

  /**
   * The organization of a domain, created if missing (in the caller's transaction). `created`
   * tells whether this call made it, so its first user becomes the owner, even under races.
   */
  async ensureOrganization(manager: EntityManager, domain: string): Promise<{ id: string; created: boolean }> {
    const rows: { id: string; created: boolean }[] = await manager.query(
      `INSERT INTO organizations (domain) VALUES ($1)
       ON CONFLICT (domain) DO UPDATE SET domain = EXCLUDED.domain
       RETURNING id, (xmax = 0) AS created`,
      [domain],
    );
    return rows[0];
  }

  /**
   * Inserts a user in the caller's transaction. An existing address is a 409 naming that user;
   * ON CONFLICT keeps the transaction usable and waits for a concurrent insert of the same email.
   */
  async insertUser(manager: EntityManager, user: NewUser): Promise<User> {
    // RETURNING the whole row: one round trip, no read-back.
    const rows: UserRow[] = await manager.query(
      `INSERT INTO users (email, organization_id, role, is_provisioner, is_operator, api_only, status,
                          external_email, provisioned_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (email) DO NOTHING
       RETURNING ${USER_COLUMNS}`,
      userParameters(user),
    );
    if (rows.length === 0) throw await this.emailTaken(manager, user.email);
    return userFromRow(rows[0]);
  }

  /**
   * Inserts a user and its first API key in ONE statement (two data-modifying CTEs): atomic like a
   * transaction — never a user without its key nor a key without its user — in one round trip
   * instead of four (BEGIN, INSERT, INSERT, COMMIT). The hot path of create-user. A taken address
   * inserts nothing and is a 409 naming the existing user.
   */
  async insertUserWithKey(
    manager: EntityManager,
    user: NewUser,
    key: { billingOrganizationId: string; keyHash: Buffer; prefix: string; name?: string | null },
  ): Promise<User> {
    const rows = await this.statements.query<UserRow>(
      INSERT_USER_WITH_KEY,
      [
        ...userParameters(user),
        key.billingOrganizationId,
        key.keyHash,
        key.prefix,
        key.name ?? null,
      ],
      manager,
    );
    if (rows.length === 0) throw await this.emailTaken(manager, user.email);
    return userFromRow(rows[0]);
  }

  /**
   * Deletes placeholder users of provisions (cancel, expiry, transfer into another account) and all
   * their keys, inside the caller's transaction. Active users are never deleted here.
   */
  async deletePlaceholderUsers(manager: EntityManager, userIds: string[]): Promise<{ userIds: string[]; keyIds: string[] }> {
    if (userIds.length === 0) return { userIds: [], keyIds: [] };
    const placeholders: { id: string }[] = await manager.query(
      `SELECT id FROM users WHERE id = ANY($1::uuid[]) AND status <> 'active' ORDER BY id FOR UPDATE`,
      [userIds],
    );
    const ids = placeholders.map((row) => row.id);
    const keyIds = await this.apiKeys.deleteAllForUsers(manager, ids);
    if (ids.length > 0) await manager.query(`DELETE FROM users WHERE id = ANY($1::uuid[])`, [ids]);
    return { userIds: ids, keyIds };
  }

  /**
   * The placeholder of a claimed provision becomes an ordinary active user that never expires,
   * inside the caller's transaction. False when the user is no longer `pending_claim` (e.g. it was
   * deactivated meanwhile): nothing is changed then.
   */
  async activateClaimedUser(manager: EntityManager, userId: string, externalEmail: string): Promise<boolean> {
    const rows = await queryRows<{ id: string }>(
      manager,
      `UPDATE users SET status = 'active', external_email = $2, expires_at = NULL, updated_at = now()
        WHERE id = $1 AND status = 'pending_claim' RETURNING id`,
      [userId, externalEmail],
    );
    // Its cached principal still says pending_claim with an expiry.
    if (rows.length === 1) await this.keyCache.notifyUsersChanged(manager, [userId]);
    return rows.length === 1;
  }

  async list(principal: Principal, query: ListUsersQueryDto): Promise<UserPageDto> {
    const qb = this.dataSource
      .getRepository(User)
      .createQueryBuilder('u')
      .where('u.organization_id = :orgId', { orgId: principal.organizationId });
    if (query.status) qb.andWhere('u.status = :status', { status: query.status });
    const page = await paginateByCreation(qb, query);
    return { data: page.items.map(toUserDto), next_cursor: page.nextCursor };
  }

  async get(principal: Principal, id: string): Promise<UserDto> {
    return toUserDto(await this.findInOrganization(this.dataSource.manager, principal, id));
  }

  /** Deactivates a user: status `disabled` and every key revoked, in one transaction. */
  async deactivate(principal: Principal, id: string): Promise<void> {
    if (id === principal.userId) {
      throw Problems.cannotDeactivateSelf();
    }
    await this.dataSource.transaction(async (manager) => {
      const user = await this.findInOrganization(manager, principal, id, true);
      if (user.isOperator && !principal.isOperator) {
        throw Problems.forbidden('Only an operator can deactivate an operator.');
      }
      await manager.update(User, { id: user.id }, { status: 'disabled' });
      await this.apiKeys.revokeAllForUser(manager, user.id);
      await this.keyCache.notifyUsersChanged(manager, [user.id]);
    });
  }

  /** Operator: create a user of any domain, with its first key. */
  async adminCreate(dto: AdminCreateUserDto): Promise<CreatedUserDto> {
    const parsed = parseEmailAddress(dto.email);
    if (!parsed.ok) throw Problems.validationFailed([{ field: 'email', message: `email ${parsed.reason}` }]);
    const { local, domain } = parsed.address;
    if (dto.is_provisioner && isPublicMailboxDomain(domain)) throw publicDomainProvisioner(domain);
    return this.dataSource.transaction(async (manager) => {
      const organization = await this.ensureOrganization(manager, domain);
      const user = await this.insertUser(manager, {
        email: `${local}@${domain}`,
        organizationId: organization.id,
        role: organization.created ? 'owner' : (dto.role ?? 'member'),
        isProvisioner: dto.is_provisioner ?? false,
      });
      const issued = await this.apiKeys.issue(manager, { userId: user.id, billingOrganizationId: organization.id });
      return { ...toUserDto(user), api_key: issued.plaintext };
    });
  }

  /** Operator: set the provisioner flag or the status. */
  async adminUpdate(id: string, dto: AdminUpdateUserDto): Promise<UserDto> {
    if (dto.is_provisioner === undefined && dto.status === undefined) {
      throw Problems.validationFailed([{ field: 'body', message: 'set at least one of is_provisioner, status' }]);
    }
    return this.dataSource.transaction(async (manager) => {
      const user = await manager
        .getRepository(User)
        .createQueryBuilder('u')
        .where('u.id = :id', { id })
        .setLock('pessimistic_write')
        .getOne();
      if (!user) throw Problems.notFound(`User ${id} was not found.`);
      if (dto.is_provisioner) {
        const domain = user.email.slice(user.email.lastIndexOf('@') + 1);
        if (isPublicMailboxDomain(domain)) throw publicDomainProvisioner(domain);
      }
      if (dto.status !== undefined && user.status === 'pending_claim') {
        throw Problems.userPendingClaim(id);
      }
      await manager.update(User, { id }, {
        ...(dto.is_provisioner !== undefined ? { isProvisioner: dto.is_provisioner } : {}),
        ...(dto.status !== undefined ? { status: dto.status } : {}),
      });
      // The flag and the status are part of every cached principal of this user.
      await this.keyCache.notifyUsersChanged(manager, [id]);
      return toUserDto(await manager.findOneByOrFail(User, { id }));
    });
  }

  async listOrganizations(query: PageQueryDto): Promise<OrganizationPageDto> {
    const qb = this.dataSource.getRepository(Organization).createQueryBuilder('o');
    const page = await paginateByCreation(qb, query);
    return {
      data: page.items.map((o) => ({ id: o.id, domain: o.domain, balance: o.balance, created_at: o.createdAt.toISOString() })),
      next_cursor: page.nextCursor,
    };
  }

  private async emailTaken(manager: EntityManager, email: string): Promise<ProblemException> {
    const existing = await manager.findOneByOrFail(User, { email });
    return Problems.emailTaken(email, existing);
  }

  /** A user of the caller's organization, else 404 (another organization's users are not revealed). */
  private async findInOrganization(manager: EntityManager, principal: Principal, id: string, lock = false): Promise<User> {
    const qb = manager
      .getRepository(User)
      .createQueryBuilder('u')
      .where('u.id = :id AND u.organization_id = :orgId', { id, orgId: principal.organizationId });
    if (lock) qb.setLock('pessimistic_write');
    const user = await qb.getOne();
    if (!user) throw Problems.notFound(`User ${id} was not found in your organization.`);
    return user;
  }
}

const meJsonByPrincipal = new WeakMap<Principal, string>();

function buildMe(principal: Principal): MeDto {
  return {
    id: principal.userId,
    email: principal.email,
    organization_id: principal.organizationId,
    role: principal.role,
    is_provisioner: principal.isProvisioner,
    is_operator: principal.isOperator,
    api_only: principal.apiOnly,
    status: principal.status,
    external_email: principal.externalEmail,
    provisioned_by: principal.provisionedBy,
    expires_at: principal.expiresAt?.toISOString() ?? null,
    created_at: principal.createdAt.toISOString(),
    organization: { id: principal.organizationId, domain: principal.organizationDomain },
    billing_organization_id: principal.billingOrganizationId,
  };
}

function publicDomainProvisioner(domain: string): ProblemException {
  return Problems.publicMailboxDomain(domain);
}

/** $1..$10 of both user inserts, in the column order of `INSERT INTO users (email, …, expires_at)`. */
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

const USER_COLUMNS = `id, email, organization_id, role, is_provisioner, is_operator, api_only, status,
  external_email, provisioned_by, expires_at, created_at, updated_at`;

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

/** Create-user's one statement: the user and its first key, or nothing when the address is taken. */
const INSERT_USER_WITH_KEY: Statement = {
  name: 'provisio_insert_user_with_key',
  text: `WITH u AS (
           INSERT INTO users (email, organization_id, role, is_provisioner, is_operator, api_only, status,
                              external_email, provisioned_by, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (email) DO NOTHING
           RETURNING ${USER_COLUMNS}
         ), k AS (
           INSERT INTO api_keys (user_id, billing_organization_id, key_hash, prefix, name)
           SELECT u.id, $11, $12, $13, $14 FROM u
           RETURNING user_id
         )
         SELECT u.* FROM u JOIN k ON k.user_id = u.id`,
};

export function toUserDto(user: User): UserDto {
  return {
    id: user.id,
    email: user.email,
    organization_id: user.organizationId,
    role: user.role,
    is_provisioner: user.isProvisioner,
    is_operator: user.isOperator,
    api_only: user.apiOnly,
    status: user.status,
    external_email: user.externalEmail,
    provisioned_by: user.provisionedBy,
    expires_at: user.expiresAt?.toISOString() ?? null,
    created_at: user.createdAt.toISOString(),
  };
}
