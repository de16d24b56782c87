import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { IdempotencyRepository } from '../common/idempotency/idempotency.repository';
import { paginateByCreation, PageQueryDto } from '../common/pagination';
import { InsufficientCredits, ProblemCode, problemStatus, SpendLimitExceeded } from '../common/problem';
import { Database, Statement } from '../database/database';
import { Organization } from '../users/entities/organization.entity';
import type { LedgerEntryDto } from './dto/billing.dto';
import { CreditPool } from './entities/credit-pool.entity';
import { LedgerEntry, LedgerReason } from './entities/ledger-entry.entity';
import type { ReservationStatus } from './entities/reservation.entity';
import type { SpendPeriod } from '../common/spend-limit.dto';
import type { ActedOnUser } from './spend-policy';
import { ApiKeyCache } from '../api-keys/api-key-cache';

/** credit_pools.balance is an int4. */
export const MAX_BALANCE = 2_147_483_647;

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

/** One charge: `units` of the pool of `organizationId`, by a user's key (`userEmail`: that user's email now). */
export interface ChargeInput {
  units: number;
  organizationId: string;
  userId: string;
  userEmail: string;
  keyId: string;
  description: string | null;
}

/** A spend's refusal as stored with its Idempotency-Key: the problem's code and extension members. */
export type Refusal =
  | { kind: 'problem'; code: ProblemCode.InsufficientCredits; extensions: InsufficientCredits }
  | { kind: 'problem'; code: ProblemCode.SpendLimitExceeded; extensions: SpendLimitExceeded };

/**
 * What a charge or hold statement answers: done, refused (the 402 to answer), or refused while
 * holds past their expiry are in the way (`retry`: release them, then try again).
 */
export type SpendResult<T> = { done: true; value: T } | { done: false; refusal: Refusal; retry: boolean };

export interface ReservationRow {
  id: string;
  organization_id: string;
  user_id: string | null;
  api_key_id: string | null;
  limit_user_id: string | null;
  limit_window: string | null;
  units: number;
  committed_units: number | null;
  status: ReservationStatus;
  description: string | null;
  ledger_entry_id: string | null;
  expires_at: string;
  created_at: string;
  past_expiry: boolean;
}

export interface SpendLimitRow {
  user_id: string;
  units: number;
  period: SpendPeriod;
  /** Spent (charges and live holds) in the current window. */
  spent: number;
  resets_at: Date | null;
  created_at: Date;
}

/** A grant or correction by domain. */
export interface CreditInput {
  amount: number;
  domain: string;
  userId: string;
  userEmail: string;
  keyId: string;
  reason: LedgerReason;
  description: string | null;
  idempotencyKey: string | null;
}

export interface OrganizationWithBalance {
  id: string;
  domain: string;
  balance: number;
  createdAt: Date;
}

/** One user's spending in a usage window (user_key '' for entries whose spender was not kept), and the window's total. */
export interface UsageRow {
  user_key: string;
  email: string | null;
  units: string;
  charges: number;
  total_units: string;
}

const RESERVATION_COLUMNS = `id, organization_id, user_id, api_key_id, limit_user_id, limit_window, units, committed_units,
                                     status, description, ledger_entry_id, expires_at, created_at, expires_at <= now() AS past_expiry`;

const SPEND_LIMIT_COLUMNS = `l.user_id, l.units, l.period,
  CASE WHEN l.window_start = provisio_spend_window(l.period, now()) THEN l.spent ELSE 0 END AS spent,
  provisio_spend_window_end(l.period, provisio_spend_window(l.period, now())) AS resets_at, l.created_at`;

const RETURNING_ENTRY = `RETURNING id, organization_id, user_id, user_email, api_key_id, delta, reason, description, balance_after,
                                  idempotency_key, created_at`;

/**
 * The head of every spend (a charge or a hold) of $1 units of pool $2 by user $3 with key $4:
 * `pool` locks the pool row first when it has the units available (every spend of a pool serializes
 * there, and only then touches a spend limit, so locks are always taken pool → limit); the lock
 * re-checks `available` on the row's latest version, so `pool` has a row exactly when the spend
 * fits. A pool short already in the statement's snapshot is refused without waiting for the lock
 * (as before limits existed: a refusal is as of the statement's start); `seen` is that snapshot's
 * `available`, for the refusal's numbers only; `spender` is whose limit applies (the key's
 * user, or the placeholder a claim moved the key from: spend_limit_keys); `lim` is that limit as the
 * statement's snapshot saw it (only to know whether there is one, and for a refusal's numbers);
 * `limited` counts the units in the limit's current UTC window — conditionally, re-checked on the
 * latest row version — and only when the pool has them available, so a limit is never passed and
 * never counts a spend that the pool then refuses. `allowed` says whether the spend may go on.
 */
const SPEND_HEAD = `WITH pool AS (
    SELECT balance, held FROM credit_pools
     WHERE organization_id = $2::uuid AND balance - held >= $1::int
       FOR UPDATE
  ), seen AS (
    SELECT balance - held AS available FROM credit_pools WHERE organization_id = $2::uuid
  ), spender AS (
    SELECT COALESCE((SELECT s.user_id FROM spend_limit_keys s WHERE s.api_key_id = $4::uuid), $3::uuid) AS id
  ), lim AS (
    SELECT l.units, l.period,
           CASE WHEN l.window_start = provisio_spend_window(l.period, now()) THEN l.spent ELSE 0 END AS spent,
           provisio_spend_window_end(l.period, provisio_spend_window(l.period, now())) AS resets_at
      FROM spend_limits l
     WHERE l.organization_id = $2::uuid AND l.user_id = (SELECT id FROM spender)
  ), limited AS (
    UPDATE spend_limits l
       SET spent = (CASE WHEN l.window_start = provisio_spend_window(l.period, now()) THEN l.spent ELSE 0 END) + $1::int,
           window_start = provisio_spend_window(l.period, now()), updated_at = now()
     WHERE l.organization_id = $2::uuid AND l.user_id = (SELECT id FROM spender)
       AND EXISTS (SELECT 1 FROM pool)
       AND (CASE WHEN l.window_start = provisio_spend_window(l.period, now()) THEN l.spent ELSE 0 END) + $1::int <= l.units
    RETURNING l.user_id, l.window_start
  ), allowed AS (
    SELECT EXISTS (SELECT 1 FROM limited) OR NOT EXISTS (SELECT 1 FROM lim) AS ok
  )`;

/**
 * Why a spend was refused, as the stored problem of its 402 (code and extension members; the
 * factory builds the text): the pool's `available` is short, or else the spender's limit.
 */
const REFUSAL = `CASE WHEN NOT EXISTS (SELECT 1 FROM pool)
       THEN jsonb_build_object('kind', 'problem', 'code', '${ProblemCode.InsufficientCredits}',
              'extensions', jsonb_build_object('balance', GREATEST(COALESCE((SELECT available FROM seen), 0), 0), 'units', $1::int))
       ELSE (SELECT jsonb_build_object('kind', 'problem', 'code', '${ProblemCode.SpendLimitExceeded}',
              'extensions', jsonb_build_object('limit', lim.units, 'period', lim.period, 'spent', lim.spent, 'units', $1::int,
                'resets_at', to_char(lim.resets_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) FROM lim)
  END`;

/**
 * Whether a refused spend may be the doing of holds past their expiry that no sweep has released yet
 * (the pool is short while it holds some): then the refusal is not final; the caller releases them
 * and tries again.
 */
const EXPIRED_HOLDS_IN_THE_WAY = `(NOT EXISTS (SELECT 1 FROM pool)
       AND EXISTS (SELECT 1 FROM credit_reservations r
                    WHERE r.organization_id = $2::uuid AND r.status = 'held' AND r.expires_at <= now()))`;

/**
 * The conditional debit ($1 units of pool $2; no row when the pool's available credits are short,
 * the spender's limit would be passed, or the pool is missing) and its ledger entry (user $3 with
 * its email $7 at the time, key $4, description $5, Idempotency-Key $6), the head of both charge
 * statements.
 */
const DEBIT_AND_ENTRY = `${SPEND_HEAD}, debited AS (
    UPDATE credit_pools SET balance = balance - $1::int, updated_at = now()
     WHERE organization_id = $2::uuid AND EXISTS (SELECT 1 FROM pool) AND (SELECT ok FROM allowed)
    RETURNING balance
  ), entry AS (
    INSERT INTO credit_ledger_entries
           (organization_id, user_id, user_email, api_key_id, delta, reason, description, balance_after, idempotency_key, created_at)
    SELECT $2::uuid, $3::uuid, $7::text, $4::uuid, -$1::int, 'charge', $5::text, debited.balance, $6::text, clock_timestamp()
      FROM debited
    ${RETURNING_ENTRY}
  )`;

const ENTRY_JSON = (e: string) => `json_build_object(
             'id', ${e}.id, 'organization_id', ${e}.organization_id, 'user_id', ${e}.user_id, 'user_email', ${e}.user_email,
             'api_key_id', ${e}.api_key_id,
             'delta', ${e}.delta, 'reason', ${e}.reason, 'description', ${e}.description, 'balance_after', ${e}.balance_after,
             'idempotency_key', ${e}.idempotency_key,
             'created_at', to_char(${e}.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

/**
 * Debits a pool in one statement that cannot overspend (the conditional UPDATE finds no row when
 * the pool is short), appends the ledger entry, and stores the answer with the request's
 * Idempotency-Key — all in that same statement. The pool's row lock is held from this statement to
 * COMMIT, and every charge of the pool waits for it, so nothing else runs in between: storing the
 * answer in a statement of its own would add a round trip under the lock (bench/README.md, "Design
 * notes"). The answer (the entry as JSON, created_at in ISO 8601 with milliseconds like
 * Date.toISOString) is built here once and is what the response and every replay return.
 * created_at is the clock time after the row lock was taken, so one pool's entries sort in
 * balance order. $6 (the key) is null without an Idempotency-Key: nothing is stored then.
 * Always one row: `body` null when refused, with `refusal` (the stored problem) and `retry`.
 */
const CHARGE: Statement = {
  name: 'provisio_charge',
  text: `
  ${DEBIT_AND_ENTRY}, answer AS (
    SELECT ${ENTRY_JSON('entry')} AS body FROM entry
  ), stored AS (
    ${IdempotencyRepository.completeFragment({
      scope: '$2::uuid',
      user: '$3::uuid',
      key: '$6::text',
      status: '201',
      body: `jsonb_build_object('kind', 'body', 'body', (SELECT body FROM answer))`,
      condition: 'EXISTS (SELECT 1 FROM answer)',
    })}
  )
  SELECT (SELECT body FROM answer) AS body, (SELECT count(*)::int FROM stored) AS stored,
         CASE WHEN EXISTS (SELECT 1 FROM answer) THEN NULL ELSE ${REFUSAL} END AS refusal,
         CASE WHEN EXISTS (SELECT 1 FROM answer) THEN false ELSE ${EXPIRED_HOLDS_IN_THE_WAY} END AS retry`,
};

/**
 * A charge with its Idempotency-Key in ONE autocommit statement: debit, ledger entry, and the key
 * inserted already completed with its answer — the entry (201) or the refusal (402: the pool's
 * available credits are short, or the spender's limit would be passed).
 * The pool's row lock is then held only while the statement runs and commits, with no round trip
 * to the service inside it. A key that exists already (a replay, a reuse with another request, a
 * holder still in flight, or an expired key) makes the final INSERT fail with a unique violation,
 * which undoes the whole statement; the charge then goes the general way (IdempotencyService.run),
 * which replays, refuses or re-claims. The answer built here is what the response and every replay
 * return. The key is the calling user's ($3) on the pool's organization ($2); $8 is the request's
 * fingerprint, $9 the key's lifetime in hours. A missing pool has 0
 * credits. A refusal that holds past their expiry may have caused (`retry`) is not stored: the
 * service releases them and goes the general way.
 */
const CHARGE_ONCE: Statement = {
  name: 'provisio_charge_once',
  text: `
  ${DEBIT_AND_ENTRY}, outcome AS (
    SELECT e.id IS NOT NULL AS charged, e_body.body
      FROM (SELECT 1) AS one
      LEFT JOIN entry e ON true
      LEFT JOIN LATERAL (SELECT ${ENTRY_JSON('e')} AS body) AS e_body ON e.id IS NOT NULL
  ), answer AS (
    SELECT charged, body,
           CASE WHEN charged THEN jsonb_build_object('kind', 'body', 'body', body::jsonb) ELSE ${REFUSAL} END AS stored,
           CASE WHEN charged THEN false ELSE ${EXPIRED_HOLDS_IN_THE_WAY} END AS retry
      FROM outcome
  ), claimed AS (
    ${IdempotencyRepository.insertCompletedFragment({
      scope: '$2::uuid',
      user: '$3::uuid',
      key: '$6::text',
      requestHash: '$8::bytea',
      status: `CASE WHEN charged THEN 201 ELSE ${problemStatus(ProblemCode.InsufficientCredits)} END`,
      body: 'stored',
      ttlHours: '$9::int',
      from: 'answer WHERE NOT retry',
    })}
  )
  SELECT charged, body, stored, retry FROM answer`,
};

/**
 * A hold of $1 units of pool $2 by user $3 with key $4 (description $5, lifetime $6 seconds), in
 * the caller's transaction: counted in the pool's `held` and in the spender's limit exactly as a
 * charge would be debited. Always one row: the reservation, or the refusal.
 */
const HOLD: Statement = {
  name: 'provisio_hold',
  text: `
  ${SPEND_HEAD}, holding AS (
    UPDATE credit_pools SET held = held + $1::int, updated_at = now()
     WHERE organization_id = $2::uuid AND EXISTS (SELECT 1 FROM pool) AND (SELECT ok FROM allowed)
    RETURNING 1
  ), reservation AS (
    INSERT INTO credit_reservations
           (organization_id, user_id, api_key_id, limit_user_id, limit_window, units, description, expires_at)
    SELECT $2::uuid, $3::uuid, $4::uuid, (SELECT user_id FROM limited), (SELECT window_start FROM limited),
           $1::int, $5::text, now() + make_interval(secs => $6::int)
      FROM holding
    RETURNING ${RESERVATION_COLUMNS}
  )
  SELECT (SELECT row_to_json(reservation) FROM reservation) AS reservation,
         CASE WHEN EXISTS (SELECT 1 FROM reservation) THEN NULL ELSE ${REFUSAL} END AS refusal,
         CASE WHEN EXISTS (SELECT 1 FROM reservation) THEN false ELSE ${EXPIRED_HOLDS_IN_THE_WAY} END AS retry`,
};

/**
 * Ends one held reservation (already locked and marked by the caller): the pool pays $5 units of
 * it (balance − $5, a ledger entry when $5 > 0) and no longer holds its $4 units; the units not
 * paid go back to the spender's limit when the hold was counted in the limit's current window.
 * $1 pool, $2 limit spender (or null), $3 limit window, $6 user, $7 key, $8 description.
 * The pool row is locked before the limit (as every spend does).
 */
const SETTLE = `
  WITH pool AS (
    UPDATE credit_pools SET balance = balance - $5::int, held = held - $4::int, updated_at = now()
     WHERE organization_id = $1::uuid
    RETURNING balance
  ), giveback AS (
    UPDATE spend_limits l SET spent = GREATEST(l.spent - ($4::int - $5::int), 0), updated_at = now()
     WHERE l.organization_id = $1::uuid AND l.user_id = $2::uuid AND l.window_start = $3::timestamptz
       AND $4::int > $5::int AND EXISTS (SELECT 1 FROM pool)
    RETURNING 1
  ), entry AS (
    INSERT INTO credit_ledger_entries
           (organization_id, user_id, user_email, api_key_id, delta, reason, description, balance_after, created_at)
    SELECT $1::uuid, $6::uuid, (SELECT email FROM users WHERE id = $6::uuid), $7::uuid, -$5::int, 'charge', $8::text,
           pool.balance, clock_timestamp()
      FROM pool WHERE $5::int > 0
    ${RETURNING_ENTRY}
  )
  SELECT (SELECT row_to_json(entry) FROM entry) AS entry, (SELECT count(*)::int FROM giveback) AS given_back,
         (SELECT count(*)::int FROM pool) AS pools`;

/**
 * Expires up to $1 holds past their expiry of pool $2 (SKIP LOCKED: a hold another instance or a
 * commit is ending is left to it), and gives their units back to the pool and the limits — pool
 * row before limit rows, as every spend. One pool per statement, so two sweepers never lock
 * two pools in opposite orders.
 */
const EXPIRE_POOL_HOLDS = `
  WITH due AS (
    SELECT id, units, limit_user_id, limit_window FROM credit_reservations
     WHERE organization_id = $2::uuid AND status = 'held' AND expires_at <= now()
     ORDER BY expires_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED
  ), expired AS (
    UPDATE credit_reservations r SET status = 'expired', updated_at = now()
      FROM due WHERE r.id = due.id
    RETURNING r.id
  ), pool AS (
    UPDATE credit_pools p SET held = p.held - (SELECT sum(units)::int FROM due), updated_at = now()
     WHERE p.organization_id = $2::uuid AND EXISTS (SELECT 1 FROM expired)
    RETURNING 1
  ), giveback AS (
    UPDATE spend_limits l SET spent = GREATEST(l.spent - s.units, 0), updated_at = now()
      FROM (SELECT limit_user_id, limit_window, sum(units)::int AS units FROM due
             WHERE limit_user_id IS NOT NULL GROUP BY limit_user_id, limit_window) s
     WHERE l.organization_id = $2::uuid AND l.user_id = s.limit_user_id AND l.window_start = s.limit_window
       AND EXISTS (SELECT 1 FROM pool)
    RETURNING 1
  )
  SELECT (SELECT count(*)::int FROM expired) AS expired, (SELECT count(*)::int FROM giveback) AS given_back`;

const LOCK_POOL: Statement = {
  name: 'provisio_lock_pool',
  text: `SELECT 1 FROM credit_pools WHERE organization_id = $1 FOR UPDATE`,
};

/** A CHECK constraint of credit_pools failed (the statement was undone). */
function isPoolCheckViolation(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string };
  return e?.code === '23514' && typeof e.constraint === 'string' && e.constraint.startsWith('ck_credit_pools_');
}

/** The ledger entry of a grant or correction, after `changed` (id, balance) moved the pool. */
const CREDIT_ENTRY = `
  INSERT INTO credit_ledger_entries
         (organization_id, user_id, user_email, api_key_id, delta, reason, description, balance_after, idempotency_key, created_at)
  SELECT changed.id, $3::uuid, $8::text, $4::uuid, $1::int, $5::text, $6::text, changed.balance, $7::text, clock_timestamp()
    FROM changed
  ${RETURNING_ENTRY}`;

/** A grant by domain: creates the pool or adds to it, never above MAX_BALANCE (no int4 overflow). */
const GRANT_SQL = `
  WITH changed AS (
    INSERT INTO credit_pools AS p (organization_id, balance)
    SELECT o.id, $1::int FROM organizations o WHERE o.domain = $2::text
    ON CONFLICT (organization_id) DO UPDATE SET balance = p.balance + EXCLUDED.balance, updated_at = now()
     WHERE p.balance::bigint + EXCLUDED.balance <= ${MAX_BALANCE}
    RETURNING p.organization_id AS id, p.balance)
  ${CREDIT_ENTRY}`;

/** A correction (negative amount) by domain: the pool stays at or above 0; a missing pool (0) cannot go lower. */
const CORRECTION_SQL = `
  WITH changed AS (
    UPDATE credit_pools p SET balance = p.balance + $1::int, updated_at = now()
      FROM organizations o
     WHERE o.domain = $2::text AND p.organization_id = o.id
       AND p.balance::bigint + $1::int BETWEEN 0 AND ${MAX_BALANCE}
    RETURNING p.organization_id AS id, p.balance)
  ${CREDIT_ENTRY}`;

/**
 * Owns `credit_pools` and `credit_ledger_entries`: every query of them is here, and nothing else
 * writes them. A pool changes only in the statement that appends its ledger entry. Reads
 * organizations and users (Users' tables) for names; writes neither.
 */
@Injectable()
export class BillingRepository {
  constructor(
    @InjectRepository(LedgerEntry) private readonly entries: Repository<LedgerEntry>,
    private readonly database: Database,
    private readonly keyCache: ApiKeyCache,
  ) {}

  /**
   * The common case of a charge — a new Idempotency-Key — in one statement (CHARGE_ONCE). Null when
   * the key exists already: nothing was done.
   */
  async chargeOnce(
    charge: ChargeInput,
    key: string,
    fingerprint: Buffer,
    ttlHours: number,
  ): Promise<SpendResult<LedgerEntryDto> | null> {
    let rows: { charged: boolean; body: LedgerEntryDto | null; stored: Refusal; retry: boolean }[];
    try {
      rows = await this.database.query(CHARGE_ONCE, [
        charge.units,
        charge.organizationId,
        charge.userId,
        charge.keyId,
        charge.description,
        key,
        charge.userEmail,
        fingerprint,
        ttlHours,
      ]);
    } catch (error) {
      // A taken key, or the pool's CHECK failing under concurrency (nothing was written either way):
      // the general path (its own transaction, pool locked first) decides.
      if (IdempotencyRepository.isKeyTaken(error) || isPoolCheckViolation(error)) return null;
      throw error;
    }
    const { charged, body, stored, retry } = rows[0];
    if (charged && body) return { done: true, value: body };
    return { done: false, refusal: stored, retry };
  }

  /**
   * One charge in the caller's transaction (CHARGE): the entry, and whether its answer was stored
   * with `idempotencyKey` in the same statement; or the refusal (nothing written).
   */
  async charge(
    manager: EntityManager,
    charge: ChargeInput,
    idempotencyKey: string | null,
  ): Promise<SpendResult<{ body: LedgerEntryDto; stored: boolean }>> {
    await this.lockPool(manager, charge.organizationId);
    const [row] = await this.database.query<{ body: LedgerEntryDto | null; stored: number; refusal: Refusal; retry: boolean }>(
      CHARGE,
      [charge.units, charge.organizationId, charge.userId, charge.keyId, charge.description, idempotencyKey, charge.userEmail],
      manager,
    );
    if (row.body) return { done: true, value: { body: row.body, stored: row.stored === 1 } };
    return { done: false, refusal: row.refusal, retry: row.retry };
  }

  /**
   * Locks a pool's row for the rest of the caller's transaction, in a statement of its own, so the
   * spend statement that follows starts from a snapshot no concurrent spend of the pool can change
   * under it. Under heavy concurrency the one-statement form (lock and update in one statement) was
   * seen to test the lock's values yet fail the pool's CHECK on the row it updated; the CHECK keeps
   * the invariant, and this makes the transactional paths exact. False when the pool has no row.
   */
  async lockPool(manager: EntityManager, organizationId: string): Promise<boolean> {
    const rows = await this.database.query(LOCK_POOL, [organizationId], manager);
    return rows.length === 1;
  }

  /** A hold (HOLD) in the caller's transaction: the reservation, or the refusal (nothing written). */
  async hold(manager: EntityManager, charge: ChargeInput, ttlSeconds: number): Promise<SpendResult<ReservationRow>> {
    await this.lockPool(manager, charge.organizationId);
    const [row] = await this.database.query<{ reservation: ReservationRow | null; refusal: Refusal; retry: boolean }>(
      HOLD,
      [charge.units, charge.organizationId, charge.userId, charge.keyId, charge.description, ttlSeconds],
      manager,
    );
    if (row.reservation) return { done: true, value: row.reservation };
    return { done: false, refusal: row.refusal, retry: row.retry };
  }

  /** A reservation, locked for the rest of the caller's transaction; null when there is none. */
  async lockReservation(manager: EntityManager, id: string): Promise<ReservationRow | null> {
    const [row] = await this.database.query<ReservationRow>(
      `SELECT ${RESERVATION_COLUMNS} FROM credit_reservations WHERE id = $1 FOR UPDATE`,
      [id],
      manager,
    );
    return row ?? null;
  }

  /**
   * Ends a held reservation locked by `lockReservation`: `status` committed (paying `paid` units,
   * with a ledger entry when more than 0), released or expired (paying 0). Answers the row as it
   * now is and the entry.
   */
  async settle(
    manager: EntityManager,
    held: ReservationRow,
    status: Exclude<ReservationStatus, 'held'>,
    paid: number,
  ): Promise<{ reservation: ReservationRow; entry: LedgerEntryDto | null }> {
    const [settled] = await this.database.query<{ entry: LedgerRow | null; pools: number }>(
      SETTLE,
      [
        held.organization_id,
        held.limit_user_id,
        held.limit_window,
        held.units,
        paid,
        held.user_id,
        held.api_key_id,
        held.description,
      ],
      manager,
    );
    if (settled.pools !== 1) throw new Error(`reservation ${held.id}: its pool ${held.organization_id} is missing`);
    const entry = settled.entry ? toLedgerEntryDto(settled.entry) : null;
    const [reservation] = await this.database.query<ReservationRow>(
      `UPDATE credit_reservations
          SET status = $2, committed_units = $3, ledger_entry_id = $4, updated_at = now()
        WHERE id = $1
       RETURNING ${RESERVATION_COLUMNS}`,
      [held.id, status, status === 'committed' ? paid : null, entry?.id ?? null],
      manager,
    );
    return { reservation, entry };
  }

  /** Expires up to `batchSize` holds past their expiry of one pool; how many. */
  async expirePoolHolds(organizationId: string, batchSize: number, manager?: EntityManager): Promise<number> {
    const [row] = await this.database.query<{ expired: number }>(EXPIRE_POOL_HOLDS, [batchSize, organizationId], manager);
    return row.expired;
  }

  /** Pools with holds past their expiry (at most `max`), for the sweep. */
  async poolsWithExpiredHolds(max: number): Promise<string[]> {
    const rows = await this.database.query<{ organization_id: string }>(
      `SELECT DISTINCT organization_id FROM credit_reservations
        WHERE status = 'held' AND expires_at <= now()
        LIMIT $1`,
      [max],
    );
    return rows.map((row) => row.organization_id);
  }

  /**
   * Sets the spend limit of `userId` on pool `organizationId` in the caller's transaction. A new
   * limit (or one whose period changes) starts from what the ledger shows the spender charged in
   * the current window; the same period keeps its count. Drops the spender's cached principals
   * (/me shows the limit).
   */
  async putSpendLimit(
    manager: EntityManager,
    organizationId: string,
    userId: string,
    limit: { units: number; period: SpendPeriod },
  ): Promise<SpendLimitRow> {
    const [row] = await this.database.query<SpendLimitRow>(
      `WITH charged AS (
         SELECT COALESCE(sum(-e.delta), 0)::int AS units
           FROM credit_ledger_entries e
          WHERE e.organization_id = $1::uuid AND e.reason = 'charge'
            AND e.created_at >= provisio_spend_window($4::text, now())
            AND (e.api_key_id IN (SELECT k.api_key_id FROM spend_limit_keys k
                                   WHERE k.organization_id = $1::uuid AND k.user_id = $2::uuid)
                 OR (e.user_id = $2::uuid
                     AND NOT EXISTS (SELECT 1 FROM spend_limit_keys k WHERE k.api_key_id = e.api_key_id)))
       ), upserted AS (
         INSERT INTO spend_limits AS l (organization_id, user_id, units, period, spent, window_start)
         SELECT $1::uuid, $2::uuid, $3::int, $4::text, charged.units, provisio_spend_window($4::text, now()) FROM charged
         ON CONFLICT (organization_id, user_id) DO UPDATE
            SET units = EXCLUDED.units, period = EXCLUDED.period, updated_at = now(),
                spent = CASE WHEN l.period <> EXCLUDED.period THEN EXCLUDED.spent
                             WHEN l.window_start = EXCLUDED.window_start THEN l.spent
                             ELSE 0 END,
                window_start = EXCLUDED.window_start
         RETURNING l.user_id, l.units, l.period, l.spent, l.window_start, l.created_at)
       SELECT user_id, units, period, spent, provisio_spend_window_end(period, window_start) AS resets_at, created_at
         FROM upserted`,
      [organizationId, userId, limit.units, limit.period],
      manager,
    );
    await this.keyCache.notifyUsersChanged(manager, [userId]);
    return row;
  }

  /** Removes a spend limit; false when there was none. */
  async deleteSpendLimit(manager: EntityManager, organizationId: string, userId: string): Promise<boolean> {
    const rows = await this.database.query(
      `DELETE FROM spend_limits WHERE organization_id = $1 AND user_id = $2 RETURNING 1`,
      [organizationId, userId],
      manager,
    );
    await this.keyCache.notifyUsersChanged(manager, [userId]);
    return rows.length === 1;
  }

  /** The spend limit key `keyId` of user `userId` spends under on a pool, with what is spent in the current window; null without one. */
  async spendLimitOfKey(organizationId: string, keyId: string, userId: string): Promise<SpendLimitRow | null> {
    const [row] = await this.database.query<SpendLimitRow>(
      `SELECT ${SPEND_LIMIT_COLUMNS} FROM spend_limits l
        WHERE l.organization_id = $1
          AND l.user_id = COALESCE((SELECT s.user_id FROM spend_limit_keys s WHERE s.api_key_id = $2), $3::uuid)`,
      [organizationId, keyId, userId],
    );
    return row ?? null;
  }

  /** One page of a pool's spend limits, by spender id (limits of spenders gone without moved keys are left out). */
  async pageSpendLimits(organizationId: string, after: string | null, limit: number): Promise<SpendLimitRow[]> {
    return this.database.query<SpendLimitRow>(
      `SELECT ${SPEND_LIMIT_COLUMNS} FROM spend_limits l
        WHERE l.organization_id = $1 AND ($2::uuid IS NULL OR l.user_id > $2::uuid)
          AND (EXISTS (SELECT 1 FROM users u WHERE u.id = l.user_id)
               OR EXISTS (SELECT 1 FROM spend_limit_keys k WHERE k.organization_id = l.organization_id AND k.user_id = l.user_id))
        ORDER BY l.user_id
        LIMIT $3`,
      [organizationId, after, limit],
    );
  }

  /**
   * A claim moved `keyIds` (spending pool `organizationId`) away from the placeholder `fromUserId`:
   * when the placeholder has a limit on that pool, the keys keep spending as it (spend_limit_keys),
   * so the limit and its count follow them. Keys that already spend as someone keep that.
   */
  async keepSpenderOfMovedKeys(
    manager: EntityManager,
    organizationId: string,
    fromUserId: string,
    keyIds: string[],
  ): Promise<void> {
    if (keyIds.length === 0) return;
    await this.database.query(
      `INSERT INTO spend_limit_keys (api_key_id, organization_id, user_id)
       SELECT k.id, $1::uuid, COALESCE(s.user_id, $2::uuid)
         FROM unnest($3::uuid[]) AS k(id)
         LEFT JOIN spend_limit_keys s ON s.api_key_id = k.id
        WHERE EXISTS (SELECT 1 FROM spend_limits l WHERE l.organization_id = $1::uuid AND l.user_id = COALESCE(s.user_id, $2::uuid))
       ON CONFLICT (api_key_id) DO NOTHING`,
      [organizationId, fromUserId, keyIds],
      manager,
    );
  }

  /** A user of an organization as spend-limit authorization needs it (a read of Users' table), or null. */
  async findActedOnUser(manager: EntityManager, organizationId: string, userId: string): Promise<ActedOnUser | null> {
    const [row] = await this.database.query<{
      id: string;
      organization_id: string;
      role: ActedOnUser['role'];
      is_provisioner: boolean;
      is_operator: boolean;
      status: ActedOnUser['status'];
      provisioned_by: string | null;
    }>(
      `SELECT id, organization_id, role, is_provisioner, is_operator, status, provisioned_by
         FROM users WHERE id = $1 AND organization_id = $2`,
      [userId, organizationId],
      manager,
    );
    return row
      ? {
          id: row.id,
          organizationId: row.organization_id,
          role: row.role,
          isProvisioner: row.is_provisioner,
          isOperator: row.is_operator,
          status: row.status,
          provisionedBy: row.provisioned_by,
        }
      : null;
  }

  /** A grant (amount > 0) or correction (< 0) with its ledger entry; null when nothing changed. */
  async credit(manager: EntityManager, credit: CreditInput): Promise<LedgerEntryDto | null> {
    const [row] = await this.database.query<LedgerRow>(
      credit.amount > 0 ? GRANT_SQL : CORRECTION_SQL,
      [
        credit.amount,
        credit.domain,
        credit.userId,
        credit.keyId,
        credit.reason,
        credit.description,
        credit.idempotencyKey,
        credit.userEmail,
      ],
      manager,
    );
    return row ? toLedgerEntryDto(row) : null;
  }

  /** The balance of an organization's pool (0 without one). */
  async balanceOf(manager: EntityManager, organizationId: string): Promise<number> {
    const [row] = await this.database.query<{ balance: number }>(
      `SELECT balance FROM credit_pools WHERE organization_id = $1`,
      [organizationId],
      manager,
    );
    return row?.balance ?? 0;
  }

  /** An organization and its pool's balance by id or domain (0 without a pool); null when no such organization. */
  async organizationBalance(
    manager: EntityManager | undefined,
    by: { id: string } | { domain: string },
  ): Promise<{ id: string; domain: string; balance: number; held: number } | null> {
    const [row] = await this.database.query<{ id: string; domain: string; balance: number; held: number }>(
      `SELECT o.id, o.domain, COALESCE(p.balance, 0) AS balance, COALESCE(p.held, 0) AS held
         FROM organizations o LEFT JOIN credit_pools p ON p.organization_id = o.id
        WHERE ${'id' in by ? 'o.id = $1' : 'o.domain = $1'}`,
      ['id' in by ? by.id : by.domain],
      manager,
    );
    return row ?? null;
  }

  /** One page of organizations with their balances, oldest first. */
  async pageOrganizations(query: PageQueryDto): Promise<{ items: OrganizationWithBalance[]; nextCursor: string | null }> {
    const qb = this.entries.manager
      .createQueryBuilder(Organization, 'o')
      .leftJoinAndMapOne('o.pool', CreditPool, 'p', 'p.organization_id = o.id');
    const page = await paginateByCreation(qb, query);
    return {
      items: page.items.map((o) => ({
        id: o.id,
        domain: o.domain,
        balance: (o as Organization & { pool?: CreditPool | null }).pool?.balance ?? 0,
        createdAt: o.createdAt,
      })),
      nextCursor: page.nextCursor,
    };
  }

  /** One page of an organization's ledger, newest first, optionally one user's entries. */
  async pageLedger(
    organizationId: string,
    userId: string | undefined,
    query: PageQueryDto,
  ): Promise<{ items: LedgerEntryDto[]; nextCursor: string | null }> {
    const qb = this.entries.createQueryBuilder('l').where('l.organization_id = :orgId', { orgId: organizationId });
    if (userId) qb.andWhere('l.user_id = :userId', { userId });
    const page = await paginateByCreation(qb, query, 'DESC');
    return { items: page.items.map(entityToDto), nextCursor: page.nextCursor };
  }

  /**
   * One page of the credits spent per user of an organization in [since, until): most units first,
   * then by user key (the user id as text; '' for entries whose spender was not kept), after
   * `after` when given; `limit` rows, each with the window's total over all users. One grouped query.
   */
  usagePage(
    organizationId: string,
    window: { since: Date | null; until: Date },
    after: { units: number; userKey: string } | null,
    limit: number,
  ): Promise<UsageRow[]> {
    return this.database.query<UsageRow>(
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
        organizationId,
        window.since?.toISOString() ?? null,
        window.until.toISOString(),
        after?.units ?? null,
        after?.userKey ?? '',
        limit,
      ],
    );
  }

  /** Credits spent by all users of an organization in [since, until). */
  async usageTotal(organizationId: string, window: { since: Date | null; until: Date }): Promise<number> {
    const [row] = await this.database.query<{ total: string }>(
      `SELECT COALESCE(sum(-delta), 0)::bigint AS total FROM credit_ledger_entries
        WHERE organization_id = $1 AND reason = 'charge'
          AND ($2::timestamptz IS NULL OR created_at >= $2::timestamptz) AND created_at < $3::timestamptz`,
      [organizationId, window.since?.toISOString() ?? null, window.until.toISOString()],
    );
    return Number(row.total);
  }
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
