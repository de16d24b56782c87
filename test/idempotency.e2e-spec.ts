import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { IdempotencyScope, IdempotencyService, IdempotentRequest, requestFingerprint } from '../src/common/idempotency';
import { ProblemException, Problems } from '../src/common/problem';
import { startTestApp, TestApp } from './support/app';
import { onRealServer } from './support/conditions';
import { waitFor } from './support/wait';

/**
 * IdempotencyService on its own, against the real database: the semantics any POST route gets,
 * beyond what the billing routes happen to exercise.
 */
describe('IdempotencyService (common/idempotency)', () => {
  let t: TestApp;
  let service: IdempotencyService;
  let ds: DataSource;
  let scope: IdempotencyScope;

  beforeAll(async () => {
    t = await startTestApp();
    service = t.app.get(IdempotencyService);
    ds = t.app.get(DataSource);
    const [operator] = await ds.query(`SELECT id, organization_id FROM users WHERE email = 'admin@localhost'`);
    scope = { organizationId: operator.organization_id, userId: operator.id };
  });
  afterAll(async () => t?.close());

  const requestFor = (key: string, body: unknown) =>
    new IdempotentRequest(key, requestFingerprint({ method: 'POST', path: '/things', callerId: 'u1', body }));
  const insertDomain = (manager: EntityManager, domain: string) =>
    manager.query(`INSERT INTO organizations (domain) VALUES ($1) RETURNING id`, [domain]);
  const domainExists = async (domain: string) =>
    (await ds.query(`SELECT 1 FROM organizations WHERE domain = $1`, [domain])).length === 1;
  const storedKey = async (key: string) =>
    (
      await ds.query(
        `SELECT status, response_status FROM idempotency_keys WHERE organization_id = $1 AND user_id = $2 AND key = $3`,
        [scope.organizationId, scope.userId, key],
      )
    )[0];

  it('runs the work once and replays its result for the same request', async () => {
    const key = randomUUID();
    let calls = 0;
    const work = async (manager: EntityManager) => {
      calls++;
      const [row] = await insertDomain(manager, `${key}.example`);
      return { id: row.id as string, n: calls };
    };
    const first = requestFor(key, { a: 1 });
    const result = await service.run(scope, first, work);
    expect(first.replayed).toBe(false);
    const second = requestFor(key, { a: 1 });
    await expect(service.run(scope, second, work)).resolves.toEqual(result);
    expect(second.replayed).toBe(true);
    expect(calls).toBe(1);
    expect(await storedKey(key)).toEqual({ status: 'completed', response_status: 201 });
  });

  it('rolls back the work of a 4xx problem, stores the problem and replays it without running the work', async () => {
    const key = randomUUID();
    let calls = 0;
    const work = async (manager: EntityManager) => {
      calls++;
      await insertDomain(manager, `${key}.example`);
      throw Problems.emailTaken('taken@x.example', { id: 'u-1', email: 'taken@x.example' });
    };
    const detail = 'A user with email taken@x.example already exists (id u-1).';
    await expect(service.run(scope, requestFor(key, {}), work)).rejects.toMatchObject({ code: 'email-taken', detail });
    expect(await domainExists(`${key}.example`)).toBe(false);
    expect(await storedKey(key)).toEqual({ status: 'completed', response_status: 409 });

    const replay = requestFor(key, {});
    const error = await service.run(scope, replay, work).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemException);
    expect(error).toMatchObject({
      code: 'email-taken',
      detail,
      extensions: { existing_user_id: 'u-1', existing_user_email: 'taken@x.example' },
    });
    expect((error as ProblemException).getStatus()).toBe(409);
    expect(replay.replayed).toBe(true);
    expect(calls).toBe(1);
  });

  it('stores nothing for an unexpected error, so a retry with the key runs the work again', async () => {
    const key = randomUUID();
    let calls = 0;
    const work = async (manager: EntityManager) => {
      calls++;
      await insertDomain(manager, `${key}-${calls}.example`);
      if (calls === 1) throw new Error('database went away');
      return { ok: true };
    };
    await expect(service.run(scope, requestFor(key, {}), work)).rejects.toThrow('database went away');
    expect(await storedKey(key)).toBeUndefined();
    expect(await domainExists(`${key}-1.example`)).toBe(false);
    await expect(service.run(scope, requestFor(key, {}), work)).resolves.toEqual({ ok: true });
    expect(calls).toBe(2);
  });

  it('answers 422 for the same key with another request, in the same scope only', async () => {
    const key = randomUUID();
    await service.run(scope, requestFor(key, { a: 1 }), () => Promise.resolve({ ok: 1 }));
    const error = await service.run(scope, requestFor(key, { a: 2 }), () => Promise.resolve({ ok: 2 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemException);
    expect((error as ProblemException).getStatus()).toBe(422);
    // Another scope — another organization, or another user of the same one — has its own keys.
    const otherOrganization = { ...scope, organizationId: randomUUID() };
    await expect(service.run(otherOrganization, requestFor(key, { a: 2 }), () => Promise.resolve({ ok: 2 }))).resolves.toEqual({
      ok: 2,
    });
    const colleague = { ...scope, userId: randomUUID() };
    await expect(service.run(colleague, requestFor(key, { a: 3 }), () => Promise.resolve({ ok: 3 }))).resolves.toEqual({
      ok: 3,
    });
  });

  it('runs the work in a plain transaction when the route was called without a key', async () => {
    const domain = `${randomUUID()}.example`;
    await expect(
      service.run(scope, undefined, async (manager) => {
        await insertDomain(manager, domain);
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await domainExists(domain)).toBe(false);
  });

  it('makes a second request with the key wait for the first in flight, then replays its answer', async () => {
    const key = randomUUID();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let claimed!: () => void;
    const firstHoldsTheKey = new Promise<void>((resolve) => (claimed = resolve));
    let calls = 0;
    const work = async (manager: EntityManager) => {
      calls++;
      await insertDomain(manager, `${key}-${calls}.example`);
      claimed();
      await gate;
      return { call: calls };
    };
    const firstRequest = requestFor(key, {});
    const secondRequest = requestFor(key, {});
    const first = service.run(scope, firstRequest, work);
    // Barrier: the first transaction has claimed the key and is inside its work.
    await firstHoldsTheKey;
    const second = service.run(scope, secondRequest, work);
    if (onRealServer) {
      // The second transaction's claim blocks on the first one's uncommitted row of the key.
      await waitFor("the second request's transaction to wait on the first one's lock", async () => {
        const [{ n }] = await ds.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0`,
        );
        return n === 1;
      });
    }
    // (On the embedded PGlite the pool has one connection, held by the first transaction: the
    // second cannot begin before the first commits.)
    release();
    await expect(first).resolves.toEqual({ call: 1 });
    await expect(second).resolves.toEqual({ call: 1 });
    expect(calls).toBe(1);
    expect(firstRequest.replayed).toBe(false);
    expect(secondRequest.replayed).toBe(true);
  });
});
