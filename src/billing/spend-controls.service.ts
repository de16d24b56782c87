import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { IdempotencyService, IdempotentRequest } from '../common/idempotency';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, PageQueryDto } from '../common/pagination';
import { SpendLimits } from '../common/spend-limits';
import type { Principal } from '../common/principal';
import { ProblemCode, ProblemException, Problems } from '../common/problem';
import { BillingRepository, Refusal, ReservationRow, SpendLimitRow } from './billing.repository';
import {
  CommitReservationDto,
  CommittedReservationDto,
  CreateReservationDto,
  DEFAULT_RESERVATION_TTL_SECONDS,
  ReservationDto,
  SpendLimitDto,
  SpendLimitInputDto,
  SpendLimitPageDto,
} from './dto/billing.dto';
import { mayEndReservation, maySetSpendLimit } from './spend-policy';

/** Holds past their expiry released per statement (lazily, or by the sweep). */
export const EXPIRE_BATCH_SIZE = 500;

/**
 * Spend limits per (user, pool) and reservations (holds) on a pool. Both count in the same
 * statement as the spend they govern (BillingRepository's SPEND_HEAD), so no concurrency passes a
 * limit or takes `available` below 0.
 */
@Injectable()
export class SpendControlsService implements SpendLimits {
  constructor(
    private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
    private readonly billing: BillingRepository,
  ) {}

  /** PUT /billing/spend-limits/{user_id}: sets the limit of a user of the caller's pool. */
  putLimit(principal: Principal, userId: string, dto: SpendLimitInputDto): Promise<SpendLimitDto> {
    return this.dataSource.transaction(async (manager) => {
      await this.authorizeLimit(manager, principal, userId);
      return toSpendLimitDto(await this.billing.putSpendLimit(manager, principal.organizationId, userId, dto));
    });
  }

  /**
   * Sets a new user's limit on `organizationId`'s pool inside the transaction that creates the user
   * (create-user, provisions): the creating provisioner's right to do so is its right to create.
   */
  async setLimitOfNewUser(
    manager: EntityManager,
    organizationId: string,
    userId: string,
    dto: SpendLimitInputDto,
  ): Promise<SpendLimitDto> {
    return toSpendLimitDto(await this.billing.putSpendLimit(manager, organizationId, userId, dto));
  }

  /** DELETE /billing/spend-limits/{user_id}: 404 when the user has no limit on the caller's pool. */
  async deleteLimit(principal: Principal, userId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.authorizeLimit(manager, principal, userId);
      const deleted = await this.billing.deleteSpendLimit(manager, principal.organizationId, userId);
      if (!deleted) throw Problems.notFound(`User ${userId} has no spend limit on this pool.`);
    });
  }

  /** GET /billing/spend-limits: the caller's pool's limits, by user id. */
  async listLimits(principal: Principal, query: PageQueryDto): Promise<SpendLimitPageDto> {
    const size = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = query.cursor ? decodeCursor(query.cursor, 1)[0] : null;
    if (after !== null && !/^[0-9a-f-]{36}$/i.test(after)) {
      throw Problems.validationFailed([{ field: 'cursor', message: 'cursor is not a cursor this API returned' }]);
    }
    const rows = await this.billing.pageSpendLimits(principal.organizationId, after, size + 1);
    const page = rows.slice(0, size);
    return {
      data: page.map(toSpendLimitDto),
      next_cursor: rows.length > size ? encodeCursor([page[page.length - 1].user_id]) : null,
    };
  }

  /** What the caller spent of its limit on the pool its key spends, in the current window (for /me). */
  async currentWindow(principal: Principal): Promise<{ spent: number; resets_at: string | null } | null> {
    const row = await this.billing.spendLimitOfKey(principal.billingOrganizationId, principal.keyId, principal.userId);
    return row ? { spent: row.spent, resets_at: row.resets_at ? new Date(row.resets_at).toISOString() : null } : null;
  }

  /**
   * POST /billing/reservations: holds units of the pool the key spends, once per Idempotency-Key.
   * 402 as a charge. A refusal that holds past their expiry may cause releases them and tries once more.
   */
  reserve(principal: Principal, dto: CreateReservationDto, idempotency: IdempotentRequest | undefined): Promise<ReservationDto> {
    const pool = principal.billingOrganizationId;
    const input = {
      units: dto.units,
      organizationId: pool,
      userId: principal.userId,
      userEmail: principal.email,
      keyId: principal.keyId,
      description: dto.description ?? null,
    };
    const ttl = dto.ttl_seconds ?? DEFAULT_RESERVATION_TTL_SECONDS;
    return this.idempotency.run(
      { organizationId: pool, userId: principal.userId },
      idempotency,
      async (manager) => {
        let held = await this.billing.hold(manager, input, ttl);
        if (!held.done && held.retry) {
          // Releasing expired holds in this transaction: the pool row is ours already (SPEND_HEAD locked it).
          await this.billing.expirePoolHolds(pool, EXPIRE_BATCH_SIZE, manager);
          held = await this.billing.hold(manager, input, ttl);
        }
        if (!held.done) throw refusalProblem(held.refusal);
        return toReservationDto(held.value);
      },
      { successStatus: 201, atomicWork: true },
    );
  }

  /** POST /billing/reservations/{id}/commit: charges `units` of the hold and releases the rest. */
  async commit(principal: Principal, id: string, dto: CommitReservationDto): Promise<CommittedReservationDto> {
    const done = await this.dataSource.transaction(async (manager): Promise<CommittedReservationDto | { expiredOn: string }> => {
      const held = await this.lockVisible(manager, principal, id);
      if (held.status !== 'held') throw Problems.reservationNotHeld(id, held.status);
      if (held.past_expiry) return { expiredOn: held.organization_id };
      if (dto.units > held.units) {
        throw Problems.validationFailed([{ field: 'units', message: `units must be at most ${held.units}, the units held` }]);
      }
      const { reservation, entry } = await this.billing.settle(manager, held, 'committed', dto.units);
      return { reservation: toReservationDto(reservation), entry };
    });
    if ('expiredOn' in done) {
      // Past its expiry but not swept yet: released now (lazily), and too late to commit.
      await this.releaseExpired(done.expiredOn);
      throw Problems.reservationNotHeld(id, 'expired');
    }
    return done;
  }

  /** DELETE /billing/reservations/{id}: releases the hold; releasing one released or expired is a no-op. */
  async release(principal: Principal, id: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const row = await this.lockVisible(manager, principal, id);
      if (row.status === 'committed') throw Problems.reservationNotHeld(id, row.status);
      if (row.status !== 'held') return;
      await this.billing.settle(manager, row, row.past_expiry ? 'expired' : 'released', 0);
    });
  }

  /** Releases the pool's holds past their expiry (lazily, before a read or a refused spend). */
  async releaseExpired(organizationId: string): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.billing.expirePoolHolds(organizationId, EXPIRE_BATCH_SIZE);
      total += n;
      if (n < EXPIRE_BATCH_SIZE) return total;
    }
  }

  /** The reservation locked, when the caller may act on it (404 otherwise: its existence is not revealed). */
  private async lockVisible(manager: EntityManager, principal: Principal, id: string): Promise<ReservationRow> {
    const row = await this.billing.lockReservation(manager, id);
    if (!row || !mayEndReservation(principal, row)) {
      if (row && row.organization_id === principal.organizationId) {
        throw Problems.forbidden('Only the reserving user and the managers of the pool can end this reservation.');
      }
      throw Problems.notFound(`No reservation ${id}.`);
    }
    return row;
  }

  /** 404 for a user outside the caller's organization; 403 when rank forbids acting on it. */
  private async authorizeLimit(manager: EntityManager, principal: Principal, userId: string): Promise<void> {
    const target = await this.billing.findActedOnUser(manager, principal.organizationId, userId);
    if (!target) throw Problems.notFound(`No user ${userId} in your organization.`);
    if (!maySetSpendLimit(principal, target)) {
      throw Problems.forbidden(`You may not set the spend limit of user ${userId}: it needs a higher rank.`);
    }
  }
}

/** The 402 of a refused spend. */
export function refusalProblem(refusal: Refusal): ProblemException {
  if (refusal.code === ProblemCode.SpendLimitExceeded) return Problems.spendLimitExceeded(refusal.extensions);
  return Problems.insufficientCredits(refusal.extensions);
}

export function toSpendLimitDto(row: SpendLimitRow): SpendLimitDto {
  return {
    user_id: row.user_id,
    units: row.units,
    period: row.period,
    spent: row.spent,
    resets_at: row.resets_at ? new Date(row.resets_at).toISOString() : null,
  };
}

export function toReservationDto(row: ReservationRow): ReservationDto {
  return {
    id: row.id,
    units: row.units,
    status: row.status === 'held' && row.past_expiry ? 'expired' : row.status,
    committed_units: row.committed_units,
    expires_at: new Date(row.expires_at).toISOString(),
    user_id: row.user_id,
    api_key_id: row.api_key_id,
    organization_id: row.organization_id,
    description: row.description,
    created_at: new Date(row.created_at).toISOString(),
  };
}
