import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { SpendLimits } from '../common/spend-limits';
import { DataSource, EntityManager } from 'typeorm';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { IdempotencyService, IdempotentRequest, withoutSecrets } from '../common/idempotency';
import type { Principal } from '../common/principal';
import { Problems } from '../common/problem';
import { AppConfig } from '../config/app-config';
import { UsersRepository } from '../users/users.repository';
import { UsersService } from '../users/users.service';
import { generateClaimToken, hashClaimToken } from './claim-token';
import {
  CreatedProvisionDto,
  CreateProvisionDto,
  ListProvisionsQueryDto,
  ProvisionDto,
  ProvisionPageDto,
  ReissuedProvisionDto,
  ReissueProvisionDto,
  UpdateProvisionDto,
  MAX_PROVISION_TTL_SECONDS,
} from './dto/provision.dto';
import { EmailDomainMapper } from './email-domain-mapper';
import { Provision } from './entities/provision.entity';
import { effectiveProvisionStatus, placeholderEmail } from './provision-status';
import { ProvisionsRepository } from './provisions.repository';

/**
 * Claimable provisions of the caller's organization: create (user, key, provision and claim token
 * in one transaction), list, read, cancel. Claiming is the claims module's; expiry is ExpiryJob's.
 */
@Injectable()
export class ClaimableProvisionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly usersRepository: UsersRepository,
    private readonly keys: ApiKeysRepository,
    private readonly provisions: ProvisionsRepository,
    private readonly mapper: EmailDomainMapper,
    private readonly idempotency: IdempotencyService,
    private readonly spend: SpendLimits,
  ) {}

  /**
   * With an Idempotency-Key, a replay answers the same provision with `api_key` and `claim_url`
   * null: neither secret is ever stored, so neither can be shown again.
   */
  async create(principal: Principal, dto: CreateProvisionDto, idempotency?: IdempotentRequest): Promise<CreatedProvisionDto> {
    const id = randomUUID();
    let email = placeholderEmail(id, principal.organizationDomain);
    let externalEmail: string | null = null;
    if (dto.email !== undefined) {
      const mapped = this.mapper.map(dto.email, principal.organizationDomain);
      if (!mapped.ok) throw Problems.validationFailed([{ field: 'email', message: `email ${mapped.reason}` }]);
      email = mapped.email;
      externalEmail = mapped.externalEmail;
    }
    const token = generateClaimToken();
    // One instant for the user and the provision: the key verifier and the reads compare against it.
    const expiresAt = new Date(Date.now() + (dto.ttl_seconds ?? this.config.provisionTtlSeconds) * 1000);
    const role = dto.role ?? 'member';

    const scope = { organizationId: principal.organizationId, userId: principal.userId };
    return this.idempotency.run(
      scope,
      idempotency,
      async (manager) => {
        const user = await this.users.insertUser(manager, {
          email,
          organizationId: principal.organizationId,
          role,
          apiOnly: true,
          status: 'pending_claim',
          externalEmail,
          externalId: dto.external_id ?? null,
          provisionedBy: principal.userId,
          expiresAt,
        });
        const issued = await this.keys.issue(
          manager,
          { userId: user.id, billingOrganizationId: principal.organizationId },
          'provision',
        );
        const provision = await this.provisions.insert(manager, {
          id,
          organizationId: principal.organizationId,
          userId: user.id,
          createdBy: principal.userId,
          email,
          role,
          skipOnboarding: dto.skip_onboarding ?? true,
          claimTokenHash: hashClaimToken(token),
          expiresAt,
        });
        const spendLimit = dto.spend_limit
          ? await this.spend.setLimitOfNewUser(manager, principal.organizationId, user.id, dto.spend_limit)
          : undefined;
        return {
          ...toProvisionDto(provision, new Date()),
          ...(spendLimit ? { spend_limit: spendLimit } : {}),
          api_key: issued.plaintext,
          claim_url: `${this.config.publicBaseUrl}/claim/${token}`,
        };
      },
      { stored: withoutSecrets<CreatedProvisionDto>('api_key', 'claim_url') },
    );
  }

  async list(principal: Principal, query: ListProvisionsQueryDto): Promise<ProvisionPageDto> {
    const now = new Date();
    const page = await this.provisions.page(principal.organizationId, query.status, now, query);
    return { data: page.items.map((p) => toProvisionDto(p, now)), next_cursor: page.nextCursor };
  }

  async get(principal: Principal, id: string): Promise<ProvisionDto> {
    return toProvisionDto(await this.findInOrganization(this.dataSource.manager, principal, id), new Date());
  }

  /**
   * Cancels a pending provision: the provision becomes `cancelled`, its placeholder user and keys are
   * deleted, in one transaction. Anything but a pending, unexpired provision is a 409.
   */
  async cancel(principal: Principal, id: string): Promise<void> {
    const now = new Date();
    await this.dataSource.transaction(async (manager) => {
      const cancelled = await this.provisions.cancelPending(manager, principal.organizationId, id, now);
      if (!cancelled) {
        const provision = await this.findInOrganization(manager, principal, id);
        const status = effectiveProvisionStatus(provision.status, provision.expiresAt, now);
        throw Problems.provisionNotPending(id, status);
      }
      if (cancelled.userId) await this.usersRepository.deletePlaceholders(manager, [cancelled.userId]);
    });
  }

  /**
   * Reissues a pending provision's claim link: a new token (the old link is unknown at once, 404),
   * and with `ttl_seconds` a new expiry, now + ttl_seconds, for the provision and its placeholder
   * user alike. Anything but a pending, unexpired provision is a 409.
   */
  async reissue(principal: Principal, id: string, dto: ReissueProvisionDto): Promise<ReissuedProvisionDto> {
    const now = new Date();
    const token = generateClaimToken();
    const expiresAt = dto.ttl_seconds === undefined ? null : new Date(now.getTime() + dto.ttl_seconds * 1000);
    const provision = await this.changePending(
      principal,
      id,
      { claimTokenHash: hashClaimToken(token), expiresAt },
      now,
      'reissued',
    );
    return { ...toProvisionDto(provision, now), claim_url: `${this.config.publicBaseUrl}/claim/${token}` };
  }

  /**
   * Moves a pending provision's expiry (extend or shorten) to `expires_at`, which must be in the
   * future and at most 30 days from now (400); the claim link stays the same. The placeholder user
   * expires with it. Anything but a pending, unexpired provision is a 409.
   */
  async updateExpiry(principal: Principal, id: string, dto: UpdateProvisionDto): Promise<ProvisionDto> {
    const now = new Date();
    const expiresAt = new Date(dto.expires_at);
    if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= now.getTime()) {
      throw Problems.validationFailed([{ field: 'expires_at', message: 'expires_at must be in the future' }]);
    }
    if (expiresAt.getTime() > now.getTime() + MAX_PROVISION_TTL_SECONDS * 1000) {
      throw Problems.validationFailed([{ field: 'expires_at', message: 'expires_at must be at most 30 days from now' }]);
    }
    const provision = await this.changePending(principal, id, { claimTokenHash: null, expiresAt }, now, 'changed');
    return toProvisionDto(provision, now);
  }

  /** One transaction: the provision's change, then its placeholder user's expiry, or 404/409. */
  private changePending(
    principal: Principal,
    id: string,
    change: { claimTokenHash: Buffer | null; expiresAt: Date | null },
    now: Date,
    action: 'reissued' | 'changed',
  ): Promise<Provision> {
    return this.dataSource.transaction(async (manager) => {
      const changed = await this.provisions.updatePending(manager, principal.organizationId, id, change, now);
      if (!changed) {
        const provision = await this.findInOrganization(manager, principal, id);
        throw Problems.provisionNotPending(id, effectiveProvisionStatus(provision.status, provision.expiresAt, now), action);
      }
      if (change.expiresAt && changed.userId) {
        await this.usersRepository.setPlaceholderExpiry(manager, changed.userId, change.expiresAt);
      }
      return changed;
    });
  }

  /** A provision of the caller's organization, else 404 (another organization's are not revealed). */
  private async findInOrganization(manager: EntityManager, principal: Principal, id: string): Promise<Provision> {
    const provision = await this.provisions.findInOrganization(manager, principal.organizationId, id);
    if (!provision) throw Problems.notFound(`Provision ${id} was not found in your organization.`);
    return provision;
  }
}

export function toProvisionDto(provision: Provision, now: Date): ProvisionDto {
  return {
    id: provision.id,
    organization_id: provision.organizationId,
    user_id: provision.userId,
    email: provision.email,
    role: provision.role,
    skip_onboarding: provision.skipOnboarding,
    status: effectiveProvisionStatus(provision.status, provision.expiresAt, now),
    expires_at: provision.expiresAt.toISOString(),
    created_by: provision.createdBy,
    claimed_by_user_id: provision.claimedByUserId,
    claimed_at: provision.claimedAt?.toISOString() ?? null,
    cancelled_at: provision.cancelledAt?.toISOString() ?? null,
    expired_at: provision.expiredAt?.toISOString() ?? null,
    created_at: provision.createdAt.toISOString(),
  };
}
