import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { IdempotencyRepository } from '../common/idempotency/idempotency.repository';
import { paginateByCreation, PageQueryDto } from '../common/pagination';
import { InsufficientCredits, ProblemCode, problemStatus } from '../common/problem';
import { Database, Statement } from '../database/database';
import { Organization } from '../users/entities/organization.entity';
import type { LedgerEntryDto } from './dto/billing.dto';
import { CreditPool } from './entities/credit-pool.entity';
import { LedgerEntry, LedgerReason } from './entities/ledger-entry.entity';

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

/** What CHARGE_ONCE answers: the entry, or the short pool's stored 402. */
export type ChargeOnceResult = { charged: true; body: LedgerEntryDto } | { charged: false; shortfall: InsufficientCredits };

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

const RETURNING_ENTRY = `RETURNING id, organization_id, user_id, user_email, api_key_id, delta, reason, description, balance_after,
                                  idempotency_key, created_at`;

/**
 * The conditional debit ($1 units of pool $2; no row when the pool is short or missing) and its
 * ledger entry (user $3 with its email $7 at the time, key $4, description $5, Idempotency-Key $6),
 * the head of both charge statements.
 */
const DEBIT_AND_ENTRY = `WITH debited AS (
    UPDATE credit_pools SET balance = balance - $1::int, updated_at = now()
     WHERE organization_id = $2::uuid AND balance >= $1::int
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
 * answer in a statement of its own would add a round trip under the lock (bench/README.md, "Design
 * notes"). The answer (the entry as JSON, created_at in ISO 8601 with milliseconds like
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
    ${IdempotencyRepository.completeFragment({
      scope: '$2::uuid',
      user: '$3::uuid',
      key: '$6::text',
      status: '201',
      body: `jsonb_build_object('kind', 'body', 'body', (SELECT body FROM answer))`,
      condition: 'EXISTS (SELECT 1 FROM answer)',
    })}
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
 * fingerprint, $9 the key's lifetime in hours. A missing pool has 0 credits.
 */
const CHARGE_ONCE: Statement = {
  name: 'provisio_charge_once',
  text: `
  ${DEBIT_AND_ENTRY}, outcome AS (
    SELECT e.id IS NOT NULL AS charged, e_body.body, COALESCE(p.balance, 0) AS balance
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
      LEFT JOIN credit_pools p ON p.organization_id = $2::uuid AND e.id IS NULL
  ), answer AS (
    SELECT charged, body,
           CASE WHEN charged THEN jsonb_build_object('kind', 'body', 'body', body::jsonb)
                ELSE jsonb_build_object(
                       'kind', 'problem', 'code', '${ProblemCode.InsufficientCredits}',
                       'extensions', jsonb_build_object('balance', balance, 'units', $1::int))
           END AS stored
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
      from: 'answer',
    })}
  )
  SELECT charged, body, stored FROM answer`,
};

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
  ) {}

  /**
   * The common case of a charge — a new Idempotency-Key — in one statement (CHARGE_ONCE). Null when
   * the key exists already: nothing was done.
   */
  async chargeOnce(charge: ChargeInput, key: string, fingerprint: Buffer, ttlHours: number): Promise<ChargeOnceResult | null> {
    let rows: { charged: boolean; body: LedgerEntryDto | null; stored: { extensions: InsufficientCredits } }[];
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
      if (IdempotencyRepository.isKeyTaken(error)) return null;
      throw error;
    }
    const { charged, body, stored } = rows[0];
    if (charged && body) return { charged: true, body };
    return { charged: false, shortfall: stored.extensions };
  }

  /**
   * One charge in the caller's transaction (CHARGE): the entry, and whether its answer was stored
   * with `idempotencyKey` in the same statement; null when the pool is short (nothing written).
   */
  async charge(
    manager: EntityManager,
    charge: ChargeInput,
    idempotencyKey: string | null,
  ): Promise<{ body: LedgerEntryDto; stored: boolean } | null> {
    const rows = await this.database.query<{ body: LedgerEntryDto; stored: number }>(
      CHARGE,
      [charge.units, charge.organizationId, charge.userId, charge.keyId, charge.description, idempotencyKey, charge.userEmail],
      manager,
    );
    return rows.length === 1 ? { body: rows[0].body, stored: rows[0].stored === 1 } : null;
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
  ): Promise<{ id: string; domain: string; balance: number } | null> {
    const [row] = await this.database.query<{ id: string; domain: string; balance: number }>(
      `SELECT o.id, o.domain, COALESCE(p.balance, 0) AS balance
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
