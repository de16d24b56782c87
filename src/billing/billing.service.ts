import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { IdempotencyService, IdempotentRequest } from '../common/idempotency';
import { paginateByCreation } from '../common/pagination';
import type { Principal } from '../common/principal';
import { ProblemException } from '../common/problem';
import {
  BalanceDto,
  CreateChargeDto,
  CreateCreditDto,
  LedgerEntryDto,
  LedgerEntryPageDto,
  LedgerQueryDto,
  UsageDto,
  UsageQueryDto,
} from './dto/billing.dto';
import { LedgerEntry, LedgerReason } from './entities/ledger-entry.entity';

/** organizations.balance is an int4. */
const MAX_BALANCE = 2_147_483_647;

interface LedgerRow {
  id: string;
  organization_id: string;
  user_id: string | null;
  api_key_id: string | null;
  delta: number;
  reason: LedgerReason;
  description: string | null;
  balance_after: number;
  idempotency_key: string | null;
  created_at: Date;
}

const RETURNING_ENTRY = `RETURNING id, organization_id, user_id, api_key_id, delta, reason, description, balance_after,
                                  idempotency_key, created_at`;

/**
 * Debits a pool in one statement that cannot overspend (the conditional UPDATE finds no row when
 * the pool is short) and appends the ledger entry in that same statement. created_at is the
 * clock time after the row lock was taken, so one pool's entries sort in balance order.
 */
const CHARGE_SQL = `
  WITH debited AS (
    UPDATE organizations SET balance = balance - $1::int
     WHERE id = $2::uuid AND balance >= $1::int
    RETURNING balance)
  INSERT INTO credit_ledger_entries
         (organization_id, user_id, api_key_id, delta, reason, description, balance_after, idempotency_key, created_at)
  SELECT $2::uuid, $3::uuid, $4::uuid, -$1::int, 'charge', $5::text, debited.balance, $6::text, clock_timestamp()
    FROM debited
  ${RETURNING_ENTRY}`;

/** A grant or correction by domain; the pool stays within 0..MAX_BALANCE (no int4 overflow). */
const CREDIT_SQL = `
  WITH changed AS (
    UPDATE organizations SET balance = balance + $1::int
     WHERE domain = $2::text
       AND balance::bigint + $1::int BETWEEN 0 AND ${MAX_BALANCE}
    RETURNING id, balance)
  INSERT INTO credit_ledger_entries
         (organization_id, user_id, api_key_id, delta, reason, description, balance_after, idempotency_key, created_at)
  SELECT changed.id, $3::uuid, $4::uuid, $1::int, $5::text, $6::text, changed.balance, $7::text, clock_timestamp()
    FROM changed
  ${RETURNING_ENTRY}`;

@Injectable()
export class BillingService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * Spends `units` of the pool the calling key bills (principal.billingOrganizationId), exactly
   * once per Idempotency-Key (scoped to that pool's organization). 402 when the pool is short.
   */
  charge(principal: Principal, dto: CreateChargeDto, idempotency: IdempotentRequest | undefined): Promise<LedgerEntryDto> {
    const organizationId = principal.billingOrganizationId;
    return this.idempotency.run(organizationId, idempotency, async (manager) => {
      const rows: LedgerRow[] = await manager.query(CHARGE_SQL, [
        dto.units,
        organizationId,
        principal.userId,
        principal.keyId,
        dto.description ?? null,
        idempotency?.key ?? null,
      ]);
      if (rows.length === 1) return toLedgerEntryDto(rows[0]);
      const balance = await this.currentBalance(manager, organizationId);
      throw new ProblemException(
        402,
        'insufficient-credits',
        `The credit pool has ${balance} credits; this charge needs ${dto.units}. Nothing was charged.`,
        undefined,
        { balance, units: dto.units },
      );
    });
  }

  /**
   * Operator: grants (amount > 0) or corrects (amount < 0) an organization's pool by domain,
   * exactly once per Idempotency-Key (scoped to the operator's organization). 404 for an unknown
   * domain; 422 if a correction would take the pool below 0 (or a grant above the largest balance).
   */
  credit(principal: Principal, dto: CreateCreditDto, idempotency: IdempotentRequest | undefined): Promise<LedgerEntryDto> {
    const domain = dto.domain.toLowerCase();
    const reason: LedgerReason = dto.amount > 0 ? 'grant' : 'correction';
    return this.idempotency.run(principal.organizationId, idempotency, async (manager) => {
      const rows: LedgerRow[] = await manager.query(CREDIT_SQL, [
        dto.amount,
        domain,
        principal.userId,
        principal.keyId,
        reason,
        dto.reason ?? null,
        idempotency?.key ?? null,
      ]);
      if (rows.length === 1) return toLedgerEntryDto(rows[0]);
      const found: { balance: number }[] = await manager.query(`SELECT balance FROM organizations WHERE domain = $1`, [
        domain,
      ]);
      if (found.length === 0) throw ProblemException.notFound(`No organization has the domain ${domain}.`);
      const balance = found[0].balance;
      if (dto.amount < 0) {
        throw new ProblemException(
          422,
          'balance-would-go-negative',
          `The pool of ${domain} has ${balance} credits; a correction of ${dto.amount} would take it below 0. Nothing was changed.`,
          [{ field: 'amount', message: `amount must be at least -${balance} for this pool` }],
          { balance },
        );
      }
      throw new ProblemException(
        422,
        'balance-limit-exceeded',
        `The pool of ${domain} has ${balance} credits; a grant of ${dto.amount} would exceed the largest balance (${MAX_BALANCE}). Nothing was changed.`,
        [{ field: 'amount', message: `amount must be at most ${MAX_BALANCE - balance} for this pool` }],
        { balance },
      );
    });
  }

  /** The pool the calling key spends. */
  async balance(principal: Principal): Promise<BalanceDto> {
    const rows: { id: string; domain: string; balance: number }[] = await this.dataSource.query(
      `SELECT id, domain, balance FROM organizations WHERE id = $1`,
      [principal.billingOrganizationId],
    );
    if (rows.length === 0) throw new Error(`billing organization ${principal.billingOrganizationId} is missing`);
    return { organization_id: rows[0].id, domain: rows[0].domain, balance: rows[0].balance };
  }

  /** The caller organization's ledger, newest first, optionally one user's entries. */
  async ledger(principal: Principal, query: LedgerQueryDto): Promise<LedgerEntryPageDto> {
    const qb = this.dataSource
      .getRepository(LedgerEntry)
      .createQueryBuilder('l')
      .where('l.organization_id = :orgId', { orgId: principal.organizationId });
    if (query.user_id) qb.andWhere('l.user_id = :userId', { userId: query.user_id });
    const page = await paginateByCreation(qb, query, 'DESC');
    return { data: page.items.map(entityToDto), next_cursor: page.nextCursor };
  }

  /** Credits spent per user of the caller's organization in [since, until): one grouped query. */
  async usage(principal: Principal, query: UsageQueryDto): Promise<UsageDto> {
    const since = parseInstant('since', query.since);
    const until = parseInstant('until', query.until);
    if (since && until && since.getTime() > until.getTime()) {
      throw ProblemException.validation([{ field: 'until', message: 'until must not be before since' }]);
    }
    const rows: { user_id: string | null; email: string | null; units: string; charges: number }[] =
      await this.dataSource.query(
        `SELECT l.user_id, u.email, sum(-l.delta)::bigint AS units, count(*)::int AS charges
           FROM credit_ledger_entries l
           LEFT JOIN users u ON u.id = l.user_id
          WHERE l.organization_id = $1
            AND l.reason = 'charge'
            AND ($2::timestamptz IS NULL OR l.created_at >= $2::timestamptz)
            AND ($3::timestamptz IS NULL OR l.created_at < $3::timestamptz)
          GROUP BY l.user_id, u.email
          ORDER BY units DESC, l.user_id`,
        [principal.organizationId, since?.toISOString() ?? null, until?.toISOString() ?? null],
      );
    const data = rows.map((row) => ({
      user_id: row.user_id,
      email: row.email,
      units: Number(row.units),
      charges: row.charges,
    }));
    return {
      organization_id: principal.organizationId,
      since: since?.toISOString() ?? null,
      until: until?.toISOString() ?? null,
      total_units: data.reduce((sum, row) => sum + row.units, 0),
      data,
    };
  }

  private async currentBalance(manager: EntityManager, organizationId: string): Promise<number> {
    const rows: { balance: number }[] = await manager.query(`SELECT balance FROM organizations WHERE id = $1`, [
      organizationId,
    ]);
    return rows[0]?.balance ?? 0;
  }
}

/** Years 1–9999 in UTC: outside them the ISO text PostgreSQL is given (`+010000-…`) fails to parse (a 500). */
const EARLIEST_INSTANT = new Date('0001-01-01T00:00:00Z').getTime();
const LATEST_INSTANT = new Date('9999-12-31T23:59:59.999Z').getTime();

function parseInstant(field: string, value: string | undefined): Date | null {
  if (value === undefined) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw ProblemException.validation([{ field, message: `${field} must be an ISO 8601 date-time` }]);
  }
  if (date.getTime() < EARLIEST_INSTANT || date.getTime() > LATEST_INSTANT) {
    throw ProblemException.validation([{ field, message: `${field} must be between the years 1 and 9999 (UTC)` }]);
  }
  return date;
}

export function toLedgerEntryDto(row: LedgerRow): LedgerEntryDto {
  return {
    id: row.id,
    organization_id: row.organization_id,
    user_id: row.user_id,
    api_key_id: row.api_key_id,
    delta: row.delta,
    reason: row.reason,
    description: row.description,
    balance_after: row.balance_after,
    idempotency_key: row.idempotency_key,
    created_at: new Date(row.created_at).toISOString(),
  };
}

function entityToDto(entry: LedgerEntry): LedgerEntryDto {
  return {
    id: entry.id,
    organization_id: entry.organizationId,
    user_id: entry.userId,
    api_key_id: entry.apiKeyId,
    delta: entry.delta,
    reason: entry.reason,
    description: entry.description,
    balance_after: entry.balanceAfter,
    idempotency_key: entry.idempotencyKey,
    created_at: entry.createdAt.toISOString(),
  };
}
