import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { IDEMPOTENCY_KEY_TTL_HOURS, IdempotencyService, IdempotentRequest } from '../common/idempotency';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, paginateByCreation } from '../common/pagination';
import type { Principal } from '../common/principal';
import { ProblemException } from '../common/problem';
import { PreparedStatements, Statement } from '../database/prepared-statements';
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
  user_email: string | null;
  api_key_id: string | null;
  delta: number;
  reason: LedgerReason;
  description: string | null;
  balance_after: number;
  idempotency_key: string | null;
  created_at: Date;
}

const RETURNING_ENTRY = `RETURNING id, organization_id, user_id, user_email, api_key_id, delta, reason, description, balance_after,
                                  idempotency_key, created_at`;

/**
 * The conditional debit ($1 units of pool $2; no row when the pool is short) and its ledger entry
 * (user $3 with its email $7 at the time, key $4, description $5, Idempotency-Key $6), the head of
 * both charge statements.
 */
const DEBIT_AND_ENTRY = `WITH debited AS (
    UPDATE organizations SET balance = balance - $1::int
     WHERE id = $2::uuid AND balance >= $1::int
    RETURNING balance
  ), entry AS (
    INSERT INTO credit_ledger_entries
           (organization_id, user_id, user_email, api_key_id, delta, reason, description, balance_after, idempotency_key, created_at)
    SELECT $2::uuid, $3::uuid, $7::text, $4::uuid, -$1::int, 'charge', $5::text, debited.balance, $6::text, clock_timestamp()
      FROM debited
    ${RETURNING_ENTRY}
  )`;

/**
 * Debits a pool in one statement that cannot overspend (the conditional UPDATE finds no row when
 * the pool is short), appends the ledger entry, and stores the answer with the request's
 * Idempotency-Key — all in that same statement. The pool's row lock is held from this statement to
 * COMMIT, and every charge of the pool waits for it, so nothing else runs in between: storing the
 * answer in a statement of its own cost one more round trip under the lock and halved the
 * throughput. The answer (the entry as JSON, created_at in ISO 8601 with milliseconds like
 * Date.toISOString) is built here once and is what the response and every replay return.
 * created_at is the clock time after the row lock was taken, so one pool's entries sort in
 * balance order. $6 (the key) is null without an Idempotency-Key: nothing is stored then.
 */
const CHARGE: Statement = {
  name: 'provisio_charge',
  text: `
  ${DEBIT_AND_ENTRY}, answer AS (
    SELECT json_build_object(
             'id', id, 'organization_id', organization_id, 'user_id', user_id, 'user_email', user_email,
             'api_key_id', api_key_id,
             'delta', delta, 'reason', reason, 'description', description, 'balance_after', balance_after,
             'idempotency_key', idempotency_key,
             'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS body
      FROM entry
  ), stored AS (
    UPDATE idempotency_keys
       SET status = 'completed', response_status = 201,
           response_body = jsonb_build_object('kind', 'body', 'body', (SELECT body FROM answer))
     WHERE organization_id = $2::uuid AND user_id = $3::uuid AND key = $6::text AND EXISTS (SELECT 1 FROM answer)
    RETURNING 1
  )
  SELECT body, (SELECT count(*)::int FROM stored) AS stored FROM answer`,
};

/**
 * A charge with its Idempotency-Key in ONE autocommit statement: debit, ledger entry, and the key
 * inserted already completed with its answer — the entry (201) or the short-pool problem (402).
 * The pool's row lock is then held only while the statement runs and commits, with no round trip
 * to the service inside it. A key that exists already (a replay, a reuse with another request, a
 * holder still in flight, or an expired key) makes the final INSERT fail with a unique violation,
 * which undoes the whole statement; the charge then goes the general way (IdempotencyService.run),
 * which replays, refuses or re-claims. The answer built here is what the response and every replay
 * return. The key is the calling user's ($3) on the pool's organization ($2); $8 is the request's
 * fingerprint and $9 the key's lifetime in hours.
 */
const CHARGE_ONCE: Statement = {
  name: 'provisio_charge_once',
  text: `
  ${DEBIT_AND_ENTRY}, outcome AS (
    SELECT e.id IS NOT NULL AS charged, e_body.body, o.balance
      FROM (SELECT 1) AS one
      LEFT JOIN entry e ON true
      LEFT JOIN LATERAL (
        SELECT json_build_object(
                 'id', e.id, 'organization_id', e.organization_id, 'user_id', e.user_id, 'user_email', e.user_email,
                 'api_key_id', e.api_key_id,
                 'delta', e.delta, 'reason', e.reason, 'description', e.description, 'balance_after', e.balance_after,
                 'idempotency_key', e.idempotency_key,
                 'created_at', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS body
      ) AS e_body ON e.id IS NOT NULL
      LEFT JOIN organizations o ON o.id = $2::uuid AND e.id IS NULL
  ), answer AS (
    SELECT charged, body,
           CASE WHEN charged THEN jsonb_build_object('kind', 'body', 'body', body::jsonb)
                ELSE jsonb_build_object(
                       'kind', 'problem', 'code', 'insufficient-credits',
                       'detail', format('The credit pool has %s credits; this charge needs %s. Nothing was charged.', balance, $1::int),
                       'extensions', jsonb_build_object('balance', balance, 'units', $1::int))
           END AS stored
      FROM outcome
  ), claimed AS (
    INSERT INTO idempotency_keys (organization_id, user_id, key, request_hash, status, response_status, response_body, expires_at)
    SELECT $2::uuid, $3::uuid, $6::text, $8::bytea, 'completed', CASE WHEN charged THEN 201 ELSE 402 END, stored,
           now() + make_interval(hours => $9::int)
      FROM answer
    RETURNING 1
  )
  SELECT charged, body, stored FROM answer`,
};

/** A grant or correction by domain; the pool stays within 0..MAX_BALANCE (no int4 overflow). */
const CREDIT_SQL = `
  WITH changed AS (
    UPDATE organizations SET balance = balance + $1::int
     WHERE domain = $2::text
       AND balance::bigint + $1::int BETWEEN 0 AND ${MAX_BALANCE}
    RETURNING id, balance)
  INSERT INTO credit_ledger_entries
         (organization_id, user_id, user_email, api_key_id, delta, reason, description, balance_after, idempotency_key, created_at)
  SELECT changed.id, $3::uuid, $8::text, $4::uuid, $1::int, $5::text, $6::text, changed.balance, $7::text, clock_timestamp()
    FROM changed
  ${RETURNING_ENTRY}`;

@Injectable()
export class BillingService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
    private readonly statements: PreparedStatements,
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
    let rows: { charged: boolean; body: LedgerEntryDto | null; stored: { detail: string; extensions: Record<string, unknown> } }[];
    try {
      rows = await this.statements.query(CHARGE_ONCE, [
        dto.units,
        principal.billingOrganizationId,
        principal.userId,
        principal.keyId,
        dto.description ?? null,
        idempotency.key,
        principal.email,
        idempotency.fingerprint,
        IDEMPOTENCY_KEY_TTL_HOURS,
      ]);
    } catch (error) {
      if (isIdempotencyKeyTaken(error)) return null;
      throw error;
    }
    const { charged, body, stored } = rows[0];
    if (charged && body) return body;
    throw new ProblemException(402, 'insufficient-credits', stored.detail, undefined, stored.extensions);
  }

  /** The work of one charge: the one statement, or the 402 of a short pool (which wrote nothing). */
  private async debit(
    manager: EntityManager,
    principal: Principal,
    dto: CreateChargeDto,
    idempotency: IdempotentRequest | undefined,
  ): Promise<LedgerEntryDto> {
    const organizationId = principal.billingOrganizationId;
    const rows = await this.statements.query<{ body: LedgerEntryDto; stored: number }>(
      CHARGE,
      [
        dto.units,
        organizationId,
        principal.userId,
        principal.keyId,
        dto.description ?? null,
        idempotency?.key ?? null,
        principal.email,
      ],
      manager,
    );
    if (rows.length === 1) {
      if (idempotency && rows[0].stored === 1) idempotency.answerStored = true;
      return rows[0].body;
    }
    // Short pool: the statement wrote nothing (hence `atomicWork`: no savepoint needed).
    const balance = await this.currentBalance(manager, organizationId);
    throw new ProblemException(
      402,
      'insufficient-credits',
      `The credit pool has ${balance} credits; this charge needs ${dto.units}. Nothing was charged.`,
      undefined,
      { balance, units: dto.units },
    );
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
      const rows: LedgerRow[] = await manager.query(CREDIT_SQL, [
        dto.amount,
        domain,
        principal.userId,
        principal.keyId,
        reason,
        dto.reason ?? null,
        idempotency?.key ?? null,
        principal.email,
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

  /**
   * Credits spent per user of the caller's organization in [since, until), one page of users: most
   * units first, then by user id (users whose entries predate keeping the spender come first among
   * equals, as one row with user_id null). One grouped query; total_units and the page's window are
   * over all users. Without `until`, the first page fixes the window's end at its own instant and
   * the cursor carries it, so later charges cannot move a user across pages while paging.
   */
  async usage(principal: Principal, query: UsageQueryDto): Promise<UsageDto> {
    const since = parseInstant('since', query.since);
    let until = parseInstant('until', query.until);
    if (since && until && since.getTime() > until.getTime()) {
      throw ProblemException.validation([{ field: 'until', message: 'until must not be before since' }]);
    }
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    let after: { units: number; userKey: string } | null = null;
    if (query.cursor) {
      const [units, userKey, asOf] = decodeCursor(query.cursor, 3);
      const asOfDate = new Date(asOf);
      if (!/^\d{1,18}$/.test(units) || !(userKey === '' || UUID_TEXT.test(userKey)) || Number.isNaN(asOfDate.getTime())) {
        throw ProblemException.validation([{ field: 'cursor', message: 'cursor is not a cursor this API returned' }]);
      }
      after = { units: Number(units), userKey };
      until ??= asOfDate;
    }
    const windowEnd = until ?? new Date();
    const rows: { user_key: string; email: string | null; units: string; charges: number; total_units: string }[] =
      await this.dataSource.query(
        `WITH per_user AS (
           SELECT COALESCE(l.user_id::text, '') AS user_key,
                  COALESCE(max(l.user_email), max(u.email)) AS email,
                  sum(-l.delta)::bigint AS units, count(*)::int AS charges
             FROM credit_ledger_entries l
             LEFT JOIN users u ON u.id = l.user_id
            WHERE l.organization_id = $1
              AND l.reason = 'charge'
              AND ($2::timestamptz IS NULL OR l.created_at >= $2::timestamptz)
              AND l.created_at < $3::timestamptz
            GROUP BY l.user_id
         ), ranked AS (
           SELECT per_user.*, sum(units) OVER ()::bigint AS total_units FROM per_user
         )
         SELECT * FROM ranked
          WHERE $4::bigint IS NULL OR units < $4::bigint OR (units = $4::bigint AND user_key > $5::text)
          ORDER BY units DESC, user_key
          LIMIT $6`,
        [
          principal.organizationId,
          since?.toISOString() ?? null,
          windowEnd.toISOString(),
          after?.units ?? null,
          after?.userKey ?? '',
          limit + 1,
        ],
      );
    const page = rows.slice(0, limit);
    const last = rows.length > limit ? page[page.length - 1] : undefined;
    let totalUnits = page.length > 0 ? Number(page[0].total_units) : 0;
    if (page.length === 0 && after) totalUnits = await this.usageTotal(principal.organizationId, since, windowEnd);
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
      next_cursor: last ? encodeCursor([last.units, last.user_key, windowEnd.toISOString()]) : null,
    };
  }

  private async usageTotal(organizationId: string, since: Date | null, until: Date): Promise<number> {
    const rows: { total: string }[] = await this.dataSource.query(
      `SELECT COALESCE(sum(-delta), 0)::bigint AS total FROM credit_ledger_entries
        WHERE organization_id = $1 AND reason = 'charge'
          AND ($2::timestamptz IS NULL OR created_at >= $2::timestamptz) AND created_at < $3::timestamptz`,
      [organizationId, since?.toISOString() ?? null, until.toISOString()],
    );
    return Number(rows[0].total);
  }

  private async currentBalance(manager: EntityManager, organizationId: string): Promise<number> {
    const rows: { balance: number }[] = await manager.query(`SELECT balance FROM organizations WHERE id = $1`, [
      organizationId,
    ]);
    return rows[0]?.balance ?? 0;
  }
}

/** A unique violation on the idempotency key's primary key (pg error, or TypeORM's wrapper of it). */
function isIdempotencyKeyTaken(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e?.code ?? e?.driverError?.code;
  const constraint = e?.constraint ?? e?.driverError?.constraint;
  return code === '23505' && constraint === 'pk_idempotency_keys';
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
    user_email: row.user_email,
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
    user_email: entry.userEmail,
    api_key_id: entry.apiKeyId,
    delta: entry.delta,
    reason: entry.reason,
    description: entry.description,
    balance_after: entry.balanceAfter,
    idempotency_key: entry.idempotencyKey,
    created_at: entry.createdAt.toISOString(),
  };
}
