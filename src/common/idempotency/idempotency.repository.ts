import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Database, Statement } from '../../database/database';
import type { StoredProblem } from '../problem';

/** A stored answer: the JSON body of a success, or the parts of a problem to rebuild it. */
export type StoredAnswer = { kind: 'body'; body: unknown } | ({ kind: 'problem' } & StoredProblem);

/**
 * Whose an Idempotency-Key is: the calling user, on the organization the request acts on (its pool
 * or its users). Two users — colleagues included — may use the same key string without meeting.
 */
export interface IdempotencyScope {
  organizationId: string;
  userId: string;
}

/** An idempotency_keys row as the service reads it. */
export interface IdempotencyKeyRow {
  request_hash: Buffer;
  status: 'in_progress' | 'completed';
  response_status: number | null;
  response_body: StoredAnswer | null;
  expired: boolean;
}

/** Claims a key, or finds it taken (waiting for a holder still in flight). A prepared statement: it runs on every charge. */
const CLAIM: Statement = {
  name: 'provisio_idempotency_claim',
  text: `INSERT INTO idempotency_keys (organization_id, user_id, key, request_hash, status, expires_at)
         VALUES ($1, $5, $2, $3, 'in_progress', now() + make_interval(hours => $4))
         ON CONFLICT (organization_id, user_id, key) DO NOTHING
         RETURNING 1`,
};

/**
 * Owns `idempotency_keys`: every query of that table is here. A feature whose write must store its
 * answer in the same statement (Billing's charges) composes its statement from the fragments below,
 * so even then the table's SQL is written here.
 */
@Injectable()
export class IdempotencyRepository {
  constructor(private readonly database: Database) {}

  /**
   * A data-modifying CTE body that completes a claimed key with its answer: `status = 'completed'`,
   * `response_status` and `response_body` the given SQL expressions, for the key `key` of user `user`
   * on organization `scope` when `condition` holds. RETURNING 1.
   */
  static completeFragment(p: {
    scope: string;
    user: string;
    key: string;
    status: string;
    body: string;
    condition: string;
  }): string {
    return `UPDATE idempotency_keys
       SET status = 'completed', response_status = ${p.status},
           response_body = ${p.body}
     WHERE organization_id = ${p.scope} AND user_id = ${p.user} AND key = ${p.key} AND ${p.condition}
    RETURNING 1`;
  }

  /**
   * A data-modifying CTE body that inserts a key already completed with its answer, one per row of
   * `from`; a key that exists fails the statement with a unique violation on pk_idempotency_keys
   * (see `isKeyTaken`). RETURNING 1.
   */
  static insertCompletedFragment(p: {
    scope: string;
    user: string;
    key: string;
    requestHash: string;
    status: string;
    body: string;
    ttlHours: string;
    from: string;
  }): string {
    return `INSERT INTO idempotency_keys (organization_id, user_id, key, request_hash, status, response_status, response_body, expires_at)
    SELECT ${p.scope}, ${p.user}, ${p.key}, ${p.requestHash}, 'completed', ${p.status}, ${p.body},
           now() + make_interval(hours => ${p.ttlHours})
      FROM ${p.from}
    RETURNING 1`;
  }

  /** A unique violation on the key's primary key (pg error, or TypeORM's wrapper of it). */
  static isKeyTaken(error: unknown): boolean {
    const e = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
    const code = e?.code ?? e?.driverError?.code;
    const constraint = e?.constraint ?? e?.driverError?.constraint;
    return code === '23505' && constraint === 'pk_idempotency_keys';
  }

  /** Claims the key as in progress; false when it is taken (after waiting for an uncommitted holder). */
  async claim(
    manager: EntityManager,
    scope: IdempotencyScope,
    key: string,
    fingerprint: Buffer,
    ttlHours: number,
  ): Promise<boolean> {
    const rows = await this.database.query(CLAIM, [scope.organizationId, key, fingerprint, ttlHours, scope.userId], manager);
    return rows.length === 1;
  }

  async find(manager: EntityManager, scope: IdempotencyScope, key: string): Promise<IdempotencyKeyRow | null> {
    const [row] = await this.database.query<IdempotencyKeyRow>(
      `SELECT request_hash, status, response_status, response_body, expires_at <= now() AS expired
         FROM idempotency_keys WHERE organization_id = $1 AND user_id = $3 AND key = $2`,
      [scope.organizationId, key, scope.userId],
      manager,
    );
    return row ?? null;
  }

  /** Deletes the key if it has expired (so it can be claimed again). */
  async deleteIfExpired(manager: EntityManager, scope: IdempotencyScope, key: string): Promise<void> {
    await this.database.query(
      `DELETE FROM idempotency_keys WHERE organization_id = $1 AND user_id = $3 AND key = $2 AND expires_at <= now()`,
      [scope.organizationId, key, scope.userId],
      manager,
    );
  }

  async complete(
    manager: EntityManager,
    scope: IdempotencyScope,
    key: string,
    status: number,
    answer: StoredAnswer,
  ): Promise<void> {
    await this.database.query(
      `UPDATE idempotency_keys SET status = 'completed', response_status = $3, response_body = $4::jsonb
        WHERE organization_id = $1 AND user_id = $5 AND key = $2`,
      [scope.organizationId, key, status, JSON.stringify(answer), scope.userId],
      manager,
    );
  }

  /** Marks a savepoint in the caller's transaction (the work's writes can be undone without the key's). */
  async savepoint(manager: EntityManager, name: string): Promise<void> {
    await this.database.query(`SAVEPOINT ${name}`, [], manager);
  }

  async rollbackToSavepoint(manager: EntityManager, name: string): Promise<void> {
    await this.database.query(`ROLLBACK TO SAVEPOINT ${name}`, [], manager);
  }

  /** Deletes up to `batchSize` expired keys (`FOR UPDATE SKIP LOCKED`: instances share the work); returns how many. */
  async deleteExpiredBatch(batchSize: number): Promise<number> {
    const [row] = await this.database.query<{ n: number }>(
      `WITH batch AS (
         SELECT organization_id, user_id, key FROM idempotency_keys
          WHERE expires_at <= now()
          LIMIT $1
            FOR UPDATE SKIP LOCKED)
       , gone AS (
         DELETE FROM idempotency_keys k USING batch
          WHERE k.organization_id = batch.organization_id AND k.user_id = batch.user_id AND k.key = batch.key
         RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [batchSize],
    );
    return row.n;
  }
}
