import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { IDEMPOTENCY_KEY_TTL_HOURS, IdempotencyService, IdempotentRequest } from '../common/idempotency';
import { MetricsService } from '../common/metrics/metrics.service';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, PageQueryDto } from '../common/pagination';
import type { Principal } from '../common/principal';
import { Problems } from '../common/problem';
import { BillingRepository, ChargeInput, MAX_BALANCE } from './billing.repository';
import { EXPIRE_BATCH_SIZE, refusalProblem } from './spend-controls.service';
import {
  BalanceDto,
  CreateChargeDto,
  CreateCreditDto,
  LedgerEntryDto,
  LedgerEntryPageDto,
  LedgerQueryDto,
  OrganizationPageDto,
  UsageDto,
  UsageQueryDto,
} from './dto/billing.dto';
import { LedgerReason } from './entities/ledger-entry.entity';

@Injectable()
export class BillingService {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly billing: BillingRepository,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Spends `units` of the pool the calling key bills (principal.billingOrganizationId), exactly
   * once per Idempotency-Key (the calling user's, on that pool). 402 when the pool is short.
   */
  async charge(principal: Principal, dto: CreateChargeDto, idempotency: IdempotentRequest | undefined): Promise<LedgerEntryDto> {
    const organizationId = principal.billingOrganizationId;
    if (idempotency) {
      const answered = await this.chargeOnce(principal, dto, idempotency);
      if (answered) return answered;
    }
    return this.idempotency.run(
      { organizationId, userId: principal.userId },
      idempotency,
      (manager) => this.debit(manager, principal, dto, idempotency),
      { atomicWork: true },
    );
  }

  /**
   * The common case — a new Idempotency-Key — in one statement (CHARGE_ONCE). Null when the key
   * exists already: nothing was done, and the general path decides.
   */
  private async chargeOnce(
    principal: Principal,
    dto: CreateChargeDto,
    idempotency: IdempotentRequest,
  ): Promise<LedgerEntryDto | null> {
    const result = await this.billing.chargeOnce(
      chargeInput(principal, dto),
      idempotency.key,
      idempotency.fingerprint,
      IDEMPOTENCY_KEY_TTL_HOURS,
    );
    if (!result) return null;
    if (result.done) {
      this.metrics.creditsCharged.inc(dto.units);
      return result.value;
    }
    if (result.retry) {
      // Refused while holds past their expiry were in the way: nothing was stored; release them
      // and let the general path decide.
      await this.billing.expirePoolHolds(principal.billingOrganizationId, EXPIRE_BATCH_SIZE);
      return null;
    }
    throw refusalProblem(result.refusal);
  }

  /** The work of one charge: the one statement, or the 402 of a short pool (which wrote nothing). */
  private async debit(
    manager: EntityManager,
    principal: Principal,
    dto: CreateChargeDto,
    idempotency: IdempotentRequest | undefined,
  ): Promise<LedgerEntryDto> {
    const input = chargeInput(principal, dto);
    let charged = await this.billing.charge(manager, input, idempotency?.key ?? null);
    if (!charged.done && charged.retry) {
      // Holds past their expiry in the way: released here (the pool row is this transaction's already).
      await this.billing.expirePoolHolds(input.organizationId, EXPIRE_BATCH_SIZE, manager);
      charged = await this.billing.charge(manager, input, idempotency?.key ?? null);
    }
    if (charged.done) {
      if (idempotency && charged.value.stored) idempotency.answerStored = true;
      this.metrics.creditsCharged.inc(dto.units);
      return charged.value.body;
    }
    // Refused: the statement wrote nothing (hence `atomicWork`: no savepoint needed).
    throw refusalProblem(charged.refusal);
  }

  /**
   * Operator: grants (amount > 0) or corrects (amount < 0) an organization's pool by domain,
   * exactly once per Idempotency-Key (the calling operator's). 404 for an unknown
   * domain; 422 if a correction would take the pool below 0 (or a grant above the largest balance).
   */
  credit(principal: Principal, dto: CreateCreditDto, idempotency: IdempotentRequest | undefined): Promise<LedgerEntryDto> {
    const domain = dto.domain.toLowerCase();
    const reason: LedgerReason = dto.amount > 0 ? 'grant' : 'correction';
    const scope = { organizationId: principal.organizationId, userId: principal.userId };
    return this.idempotency.run(scope, idempotency, async (manager) => {
      const entry = await this.billing.credit(manager, {
        amount: dto.amount,
        domain,
        userId: principal.userId,
        userEmail: principal.email,
        keyId: principal.keyId,
        reason,
        description: dto.reason ?? null,
        idempotencyKey: idempotency?.key ?? null,
      });
      if (entry) return entry;
      const found = await this.billing.organizationBalance(manager, { domain });
      if (!found) throw Problems.notFound(`No organization has the domain ${domain}.`);
      const balance = found.balance;
      if (dto.amount < 0) {
        throw Problems.balanceWouldGoNegative({ domain, balance, amount: dto.amount });
      }
      throw Problems.balanceLimitExceeded({ domain, balance, amount: dto.amount, max: MAX_BALANCE });
    });
  }

  /** The pool the calling key spends. */
  async balance(principal: Principal): Promise<BalanceDto> {
    const id = principal.billingOrganizationId;
    let pool = await this.billing.organizationBalance(undefined, { id });
    if (pool && pool.held > 0 && (await this.billing.expirePoolHolds(id, EXPIRE_BATCH_SIZE)) > 0) {
      // Holds past their expiry are released when read (lazily), not only by the sweep.
      pool = await this.billing.organizationBalance(undefined, { id });
    }
    if (!pool) throw new Error(`billing organization ${id} is missing`);
    return {
      organization_id: pool.id,
      domain: pool.domain,
      balance: pool.balance,
      held: pool.held,
      available: pool.balance - pool.held,
    };
  }

  /** Operator: organizations with their balances, oldest first. */
  async listOrganizations(query: PageQueryDto): Promise<OrganizationPageDto> {
    const page = await this.billing.pageOrganizations(query);
    return {
      data: page.items.map((o) => ({ id: o.id, domain: o.domain, balance: o.balance, created_at: o.createdAt.toISOString() })),
      next_cursor: page.nextCursor,
    };
  }

  /** The caller organization's ledger, newest first, optionally one user's entries. */
  async ledger(principal: Principal, query: LedgerQueryDto): Promise<LedgerEntryPageDto> {
    const page = await this.billing.pageLedger(principal.organizationId, query.user_id, query);
    return { data: page.items, next_cursor: page.nextCursor };
  }

  /**
   * Credits spent per user of the caller's organization in [since, until), one page of users: most
   * units first, then by user id (entries whose spender was not kept come first among equals, as one
   * row with user_id null). total_units is over all users of the window. Without `until`, the first
   * page fixes the window's end at its own instant and the cursor carries it, so later charges cannot
   * move a user across pages while paging.
   */
  async usage(principal: Principal, query: UsageQueryDto): Promise<UsageDto> {
    const since = parseInstant('since', query.since);
    let until = parseInstant('until', query.until);
    if (since && until && since.getTime() > until.getTime()) {
      throw Problems.validationFailed([{ field: 'until', message: 'until must not be before since' }]);
    }
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    let after: { units: number; userKey: string } | null = null;
    if (query.cursor) {
      const [units, userKey, asOf] = decodeCursor(query.cursor, 3);
      const asOfDate = new Date(asOf);
      if (!/^\d{1,18}$/.test(units) || !(userKey === '' || UUID_TEXT.test(userKey)) || Number.isNaN(asOfDate.getTime())) {
        throw Problems.validationFailed([{ field: 'cursor', message: 'cursor is not a cursor this API returned' }]);
      }
      after = { units: Number(units), userKey };
      until ??= asOfDate;
    }
    const window = { since, until: until ?? new Date() };
    const rows = await this.billing.usagePage(principal.organizationId, window, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = rows.length > limit ? page[page.length - 1] : undefined;
    let totalUnits = page.length > 0 ? Number(page[0].total_units) : 0;
    if (page.length === 0 && after) totalUnits = await this.billing.usageTotal(principal.organizationId, window);
    return {
      organization_id: principal.organizationId,
      since: since?.toISOString() ?? null,
      until: until?.toISOString() ?? null,
      total_units: totalUnits,
      data: page.map((row) => ({
        user_id: row.user_key === '' ? null : row.user_key,
        email: row.email,
        units: Number(row.units),
        charges: row.charges,
      })),
      next_cursor: last ? encodeCursor([last.units, last.user_key, window.until.toISOString()]) : null,
    };
  }
}

/** The charge `dto` makes on the pool the calling key spends. */
function chargeInput(principal: Principal, dto: CreateChargeDto): ChargeInput {
  return {
    units: dto.units,
    organizationId: principal.billingOrganizationId,
    userId: principal.userId,
    userEmail: principal.email,
    keyId: principal.keyId,
    description: dto.description ?? null,
  };
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Years 1–9999 in UTC: outside them the ISO text PostgreSQL is given (`+010000-…`) fails to parse (a 500). */
const EARLIEST_INSTANT = new Date('0001-01-01T00:00:00Z').getTime();
const LATEST_INSTANT = new Date('9999-12-31T23:59:59.999Z').getTime();

function parseInstant(field: string, value: string | undefined): Date | null {
  if (value === undefined) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw Problems.validationFailed([{ field, message: `${field} must be an ISO 8601 date-time` }]);
  }
  if (date.getTime() < EARLIEST_INSTANT || date.getTime() > LATEST_INSTANT) {
    throw Problems.validationFailed([{ field, message: `${field} must be between the years 1 and 9999 (UTC)` }]);
  }
  return date;
}
