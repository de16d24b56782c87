import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { canActOn, userLookupOrganization } from '../common/authorization/access-policy';
import { isPublicMailboxDomain, parseEmailAddress } from '../common/email';
import type { Principal } from '../common/principal';
import { ProblemException, Problems } from '../common/problem';
import { AdminCreateUserDto, AdminUpdateUserDto, CreatedUserDto, ListUsersQueryDto, UserDto, UserPageDto } from './dto/user.dto';
import { User } from './entities/user.entity';
import { OrganizationsRepository } from './organizations.repository';
import { NewBulkUser, NewUser, UsersRepository } from './users.repository';

export type { NewBulkUser, NewUser };

/** Users' CRUD, and the inserts other modules create users with (a taken address is a 409 here). */
@Injectable()
export class UsersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly organizations: OrganizationsRepository,
    private readonly keys: ApiKeysRepository,
  ) {}

  /**
   * Inserts a user in the caller's transaction. An existing address or external id is a 409 naming
   * that user; ON CONFLICT keeps the transaction usable and waits for a concurrent insert of the same
   * email.
   */
  async insertUser(manager: EntityManager, user: NewUser): Promise<User> {
    const inserted = await this.users.insert(manager, user);
    if (!inserted) throw await this.conflict(manager, user);
    return inserted;
  }

  /**
   * Inserts a user and a new API key in ONE statement (UsersRepository.insertWithKey): the hot path
   * of create-user. A taken address or external id inserts nothing and is a 409 naming the existing
   * user.
   */
  async insertUserWithKey(
    manager: EntityManager,
    user: NewUser,
    key: { billingOrganizationId: string; name?: string | null },
  ): Promise<{ user: User; plaintext: string }> {
    const inserted = await this.users.insertWithKey(manager, user, key);
    if (!inserted) throw await this.conflict(manager, user);
    return inserted;
  }

  /**
   * Bulk create-user: the users of `users` (each already mapped and validated) and a key for each,
   * in one statement, then one read naming who holds what the refused ones asked for. Answers, in
   * the order of `users`, the created user with its key or the 409 of one that was not created. An
   * address or external id asked for twice in the batch is the later one's 409 (naming the earlier
   * one's user). Only when an earlier one was itself refused for its other field can a later one
   * still be created: it goes into a further round (rare; every round settles at least one user).
   */
  async insertManyWithKeys(
    manager: EntityManager,
    organizationId: string,
    provisionedBy: string,
    users: NewBulkUser[],
  ): Promise<({ user: User; plaintext: string } | ProblemException)[]> {
    const outcomes: ({ user: User; plaintext: string } | ProblemException | undefined)[] = users.map(() => undefined);
    let pending = users.map((_, i) => i);
    while (pending.length > 0) {
      const seenEmails = new Set<string>();
      const seenExternalIds = new Set<string>();
      const firsts: number[] = [];
      const repeats: number[] = [];
      for (const i of pending) {
        const { email, externalId } = users[i];
        const repeated = seenEmails.has(email) || (externalId !== null && seenExternalIds.has(externalId));
        seenEmails.add(email);
        if (externalId !== null) seenExternalIds.add(externalId);
        (repeated ? repeats : firsts).push(i);
      }
      const inserted = await this.users.insertManyWithKeys(
        manager,
        organizationId,
        provisionedBy,
        firsts.map((i) => users[i]),
      );
      for (const i of firsts) outcomes[i] = inserted.get(users[i].email);
      const refused = pending.filter((i) => outcomes[i] === undefined);
      if (refused.length === 0) break;
      const holders = await this.users.findConflicting(
        manager,
        organizationId,
        refused.map((i) => users[i].email),
        refused.flatMap((i) => users[i].externalId ?? []),
      );
      const next: number[] = [];
      for (const i of refused) {
        const { email, externalId } = users[i];
        const byEmail = holders.find((h) => h.email === email);
        const byExternalId = externalId === null ? undefined : holders.find((h) => h.external_id === externalId);
        if (byEmail) outcomes[i] = Problems.emailTaken(email, byEmail);
        else if (byExternalId && externalId !== null) outcomes[i] = Problems.externalIdTaken(externalId, byExternalId);
        else if (repeats.includes(i)) next.push(i);
        else throw new Error(`bulk insert of ${email} found a conflict but no user`);
      }
      pending = next;
    }
    return outcomes.map((outcome, i) => {
      if (outcome === undefined) throw new Error(`bulk insert left ${users[i].email} unsettled`);
      return outcome;
    });
  }

  async list(principal: Principal, query: ListUsersQueryDto): Promise<UserPageDto> {
    const page = await this.users.page(principal.organizationId, { status: query.status, externalId: query.external_id }, query);
    return { data: page.items.map(toUserDto), next_cursor: page.nextCursor };
  }

  async get(principal: Principal, id: string): Promise<UserDto> {
    return toUserDto(await this.findInOrganization(this.dataSource.manager, principal, id));
  }

  /** Deactivates a user, by rank (access-policy): status `disabled` and every key revoked, in one transaction. */
  async deactivate(principal: Principal, id: string): Promise<void> {
    if (id === principal.userId) {
      throw Problems.cannotDeactivateSelf();
    }
    await this.dataSource.transaction(async (manager) => {
      const user = await this.findInOrganization(manager, principal, id, true);
      if (canActOn(principal, user) !== 'allowed') {
        throw Problems.forbidden(
          `You may not deactivate user ${id}: an owner deactivates admins and members, an admin members, a ` +
            'provisioner the users it provisioned; only an operator deactivates an owner, a provisioner or an operator.',
        );
      }
      await this.users.update(manager, user.id, { status: 'disabled' });
      await this.keys.revokeAllForUser(manager, user.id);
    });
  }

  /** Operator: create a user of any domain, with its first key. */
  async adminCreate(dto: AdminCreateUserDto): Promise<CreatedUserDto> {
    const parsed = parseEmailAddress(dto.email);
    if (!parsed.ok) throw Problems.validationFailed([{ field: 'email', message: `email ${parsed.reason}` }]);
    const { local, domain } = parsed.address;
    if (dto.is_provisioner && isPublicMailboxDomain(domain)) throw publicDomainProvisioner(domain);
    return this.dataSource.transaction(async (manager) => {
      const organization = await this.organizations.ensure(manager, domain);
      const user = await this.insertUser(manager, {
        email: `${local}@${domain}`,
        organizationId: organization.id,
        role: organization.created ? 'owner' : (dto.role ?? 'member'),
        isProvisioner: dto.is_provisioner ?? false,
      });
      const issued = await this.keys.issue(manager, { userId: user.id, billingOrganizationId: organization.id });
      return { ...toUserDto(user), api_key: issued.plaintext };
    });
  }

  /** Operator: set the provisioner flag or the status. */
  async adminUpdate(id: string, dto: AdminUpdateUserDto): Promise<UserDto> {
    if (dto.is_provisioner === undefined && dto.status === undefined) {
      throw Problems.validationFailed([{ field: 'body', message: 'set at least one of is_provisioner, status' }]);
    }
    return this.dataSource.transaction(async (manager) => {
      const user = await this.users.findForUpdate(manager, id);
      if (!user) throw Problems.notFound(`User ${id} was not found.`);
      if (dto.is_provisioner) {
        const domain = user.email.slice(user.email.lastIndexOf('@') + 1);
        if (isPublicMailboxDomain(domain)) throw publicDomainProvisioner(domain);
      }
      if (dto.status !== undefined && user.status === 'pending_claim') {
        throw Problems.userPendingClaim(id);
      }
      await this.users.update(manager, id, {
        ...(dto.is_provisioner !== undefined ? { isProvisioner: dto.is_provisioner } : {}),
        ...(dto.status !== undefined ? { status: dto.status } : {}),
      });
      const updated = await this.users.findById(manager, id);
      if (!updated) throw new Error(`user ${id} vanished inside its own transaction`);
      return toUserDto(updated);
    });
  }

  /** The 409 of an insert that inserted nothing: the user holding its address, else its external id. */
  private async conflict(manager: EntityManager, user: NewUser): Promise<ProblemException> {
    const holders = await this.users.findConflicting(
      manager,
      user.organizationId,
      [user.email],
      user.externalId ? [user.externalId] : [],
    );
    const byEmail = holders.find((h) => h.email === user.email);
    if (byEmail) return Problems.emailTaken(user.email, byEmail);
    const byExternalId = holders.find((h) => h.external_id === user.externalId);
    if (byExternalId && user.externalId) return Problems.externalIdTaken(user.externalId, byExternalId);
    throw new Error(`insert of ${user.email} found a conflict but no user`);
  }

  /** A user the caller may look up (its organization's; any for the operator), else 404 (others are not revealed). */
  private async findInOrganization(manager: EntityManager, principal: Principal, id: string, lock = false): Promise<User> {
    // The caller's organization; every organization for the operator (access-policy).
    const user = await this.users.findInOrganization(manager, userLookupOrganization(principal), id, lock);
    if (!user) throw Problems.notFound(`User ${id} was not found in your organization.`);
    return user;
  }
}

function publicDomainProvisioner(domain: string): ProblemException {
  return Problems.publicMailboxDomain(domain);
}

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
    external_id: user.externalId,
    provisioned_by: user.provisionedBy,
    expires_at: user.expiresAt?.toISOString() ?? null,
    created_at: user.createdAt.toISOString(),
  };
}
