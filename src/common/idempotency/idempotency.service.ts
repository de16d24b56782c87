import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ProblemException, Problems, restoreProblem } from '../problem';
import { IdempotencyRepository, IdempotencyScope, StoredAnswer } from './idempotency.repository';

/** How long an answered key is kept (and replayed) before it may be reused. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

/** The validated Idempotency-Key of one request and the fingerprint of that request. */
export class IdempotentRequest {
  /** Set when the answer is a replay of an earlier request with this key. */
  replayed = false;

  /**
   * Set by a work that stored its own success answer with this key in the same statement as its
   * write (see BillingService.charge: it keeps a contended row lock short); `run` then does not
   * store it again.
   */
  answerStored = false;

  constructor(
    readonly key: string,
    readonly fingerprint: Buffer,
  ) {}
}

type Attempt<T> =
  { kind: 'done'; value: T } | { kind: 'refused'; problem: ProblemException } | { kind: 'replay'; answer: StoredAnswer };

/** One call of `run` with a key: what attempt/execute/complete need, resolved once. */
interface GuardedWork<T> {
  scope: IdempotencyScope;
  request: IdempotentRequest;
  work: (manager: EntityManager) => Promise<T>;
  successStatus: number;
  stored: (value: T) => unknown;
  atomicWork: boolean;
}

const SAVEPOINT = 'idempotent_work';

/**
 * Exactly-once POST handling (Stripe / IETF `Idempotency-Key` semantics), for any route:
 *
 * - the key is claimed with `INSERT … ON CONFLICT DO NOTHING` in the SAME transaction as the work,
 *   so the claim and the work commit or roll back together;
 * - a second request with the key while the first is in flight blocks on the unique index until
 *   the first commits, then reads its answer and replays it (if the first rolled back, the second
 *   claims the key and does the work) — never a second execution;
 * - same key, same request: the stored status and body are replayed (`request.replayed` is set so
 *   the interceptor adds `Idempotent-Replayed: true`);
 * - same key, another request (method, path, caller or body differ): 422;
 * - a 4xx problem thrown by the work (402 short pool, 404, 422, …) is a business answer: the work's
 *   writes are rolled back to a savepoint, the problem is stored and replayed like a success;
 *   anything else (5xx, unknown errors) rolls everything back, key included, so a retry runs anew;
 * - keys live IDEMPOTENCY_KEY_TTL_HOURS; an expired key is free to be claimed again;
 * - a key whose holder died (`kill -9`, a lost host) is free again within IDEMPOTENCY_LOCK_SECONDS:
 *   an in-flight claim is an uncommitted row, and every pool connection asks PostgreSQL to end its
 *   session once idle inside a transaction that long (`idle_in_transaction_session_timeout`, see
 *   dataSourceOptions), which rolls the claim back. A retry that arrived meanwhile waits on the
 *   unique index and then claims the key and does the work. (A holder still working is never idle:
 *   it is waited for, as above.)
 */
@Injectable()
export class IdempotencyService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: IdempotencyRepository,
  ) {}

  /**
   * Runs `work` in a new transaction guarded by the key (or, without a key, just in a transaction).
   * `scope` is whose the key is (the calling user, on the organization acted on). The result must be plain JSON (it is stored).
   * `stored` turns the result into what is stored and replayed, e.g. withoutSecrets(): a route that
   * answers a secret (an API key, a claim link) must never store it, so its replays lack it.
   */
  async run<T>(
    scope: IdempotencyScope,
    request: IdempotentRequest | undefined,
    work: (manager: EntityManager) => Promise<T>,
    options: { successStatus?: number; atomicWork?: boolean; stored?: (value: T) => unknown } = {},
  ): Promise<T> {
    if (!request) return this.dataSource.transaction(work);
    const guarded: GuardedWork<T> = {
      scope,
      request,
      work,
      successStatus: options.successStatus ?? 201,
      stored: options.stored ?? ((value: T) => value),
      atomicWork: options.atomicWork ?? false,
    };
    const outcome = await this.dataSource.transaction((manager) => this.attempt(manager, guarded));
    switch (outcome.kind) {
      case 'done':
        return outcome.value;
      case 'refused':
        throw outcome.problem;
      case 'replay':
        request.replayed = true;
        if (outcome.answer.kind === 'body') return outcome.answer.body as T;
        throw restoreProblem(outcome.answer);
    }
  }

  private async attempt<T>(manager: EntityManager, guarded: GuardedWork<T>): Promise<Attempt<T>> {
    const { scope, request } = guarded;
    // At most three rounds: claim, or read the holder's answer, or free an expired key and claim again.
    for (let round = 0; round < 3; round++) {
      if (await this.keys.claim(manager, scope, request.key, request.fingerprint, IDEMPOTENCY_KEY_TTL_HOURS)) {
        return this.execute(manager, guarded);
      }
      const row = await this.keys.find(manager, scope, request.key);
      if (!row) continue; // swept between the two statements: claim again
      if (row.expired) {
        await this.keys.deleteIfExpired(manager, scope, request.key);
        continue;
      }
      if (!row.request_hash.equals(request.fingerprint)) {
        return {
          kind: 'refused',
          problem: Problems.idempotencyKeyReused(),
        };
      }
      if (row.status !== 'completed' || row.response_status === null || row.response_body === null) {
        return { kind: 'refused', problem: Problems.idempotencyKeyInProgress() };
      }
      return { kind: 'replay', answer: row.response_body };
    }
    return { kind: 'refused', problem: Problems.idempotencyKeyInProgress() };
  }

  /**
   * The key is ours: run the work behind a savepoint and store its answer with the key. A work that
   * writes nothing when it refuses (`atomicWork`: its writes are one statement that either happens or
   * not, like a charge) needs no savepoint, which saves a round trip.
   */
  private async execute<T>(manager: EntityManager, guarded: GuardedWork<T>): Promise<Attempt<T>> {
    const { request, work, successStatus, stored, atomicWork } = guarded;
    if (!atomicWork) await this.keys.savepoint(manager, SAVEPOINT);
    try {
      const value = await work(manager);
      if (!request.answerStored) {
        await this.complete(manager, guarded, successStatus, { kind: 'body', body: stored(value) });
      }
      return { kind: 'done', value };
    } catch (error) {
      if (!(error instanceof ProblemException) || error.getStatus() >= 500) throw error;
      if (!atomicWork) await this.keys.rollbackToSavepoint(manager, SAVEPOINT);
      await this.complete(manager, guarded, error.getStatus(), {
        kind: 'problem',
        code: error.code,
        detail: error.detail,
        ...(error.fieldErrors ? { errors: error.fieldErrors } : {}),
        ...(error.extensions ? { extensions: error.extensions } : {}),
      });
      return { kind: 'refused', problem: error };
    }
  }

  private async complete(
    manager: EntityManager,
    { scope, request }: Pick<GuardedWork<unknown>, 'scope' | 'request'>,
    status: number,
    answer: StoredAnswer,
  ): Promise<void> {
    await this.keys.complete(manager, scope, request.key, status, answer);
  }
}

/**
 * For IdempotencyService.run's `stored`: the answer with its secret fields set to null and
 * `secrets_withheld: true`. Secrets are shown once, in the first answer; a replay still names the
 * created resource (same status, ids and other fields) but says its secrets are not available again.
 */
export function withoutSecrets<T extends object>(...fields: (keyof T & string)[]): (value: T) => unknown {
  return (value) => ({ ...value, ...Object.fromEntries(fields.map((field) => [field, null])), secrets_withheld: true });
}
