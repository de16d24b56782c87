import { DataSource } from 'typeorm';
import { ExpiryJob } from '../src/provisioning/expiry.job';
import { adminCreateUser, me, startTestApp, TestApp } from './support/app';
import { describeOnRealServer } from './support/conditions';
import { createTestDatabase, TestDatabase } from './support/database';
import { waitFor } from './support/wait';

const PROVISIONS = 2000;

const ONE_SESSION =
  'the embedded PGlite serves every connection from one backend session, so two instances cannot share the sweep';

describeOnRealServer('expiry job with two instances on one database', ONE_SESSION, () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = { EXPIRY_SWEEP_INTERVAL_SECONDS: '1' };
    a = await startTestApp(env, { db });
    b = await startTestApp(env, { db, adminKey: a.adminKey });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it(`expires ${PROVISIONS} expired provisions exactly once between them, without errors`, async () => {
    const ds = a.app.get(DataSource);
    const provisioner = await adminCreateUser(a, { email: 'bulk@bulk-orch.com', is_provisioner: true });
    const started = Date.now();
    // 2,000 provisions already past expiry, each with its placeholder user and key, in one statement
    // (so no sweep sees half of them).
    await ds.query(
      `WITH u AS (
         INSERT INTO users (email, organization_id, role, api_only, status, provisioned_by, expires_at)
         SELECT 'provisioned-bulk' || g || '@bulk-orch.com', $1, 'member', true, 'pending_claim', $2,
                now() - interval '1 minute'
           FROM generate_series(1, $3::int) AS g
         RETURNING id, organization_id, email
       ), k AS (
         INSERT INTO api_keys (user_id, billing_organization_id, key_hash, prefix)
         SELECT id, organization_id, sha256(convert_to('key:' || id::text, 'UTF8')), 'pvk_bulk0000' FROM u
       )
       INSERT INTO provisions (organization_id, user_id, created_by, email, claim_token_hash, expires_at)
       SELECT organization_id, id, $2, email, sha256(convert_to('claim:' || id::text, 'UTF8')), now() - interval '1 minute'
         FROM u`,
      [provisioner.organization_id, provisioner.id, PROVISIONS],
    );

    const jobs = [a.app.get(ExpiryJob), b.app.get(ExpiryJob)];
    expect(jobs[0]).not.toBe(jobs[1]);
    // Both instances sweep at the same moment (besides their 1 s schedules, which also run).
    await Promise.all(jobs.map((job) => job.sweep()));
    await waitFor(
      `the two instances to expire ${PROVISIONS} provisions`,
      () => jobs[0].expiredTotal + jobs[1].expiredTotal >= PROVISIONS,
      { timeoutMs: 15_000 },
    );
    // One more scheduled sweep on each, run to its end: nothing is expired a second time.
    const sweeps = jobs.map((job) => jest.spyOn(job, 'sweep'));
    await waitFor('a scheduled sweep on each instance', () => sweeps.every((sweep) => sweep.mock.calls.length > 0));
    await Promise.all(sweeps.map((sweep) => sweep.mock.results[0].value));
    sweeps.forEach((sweep) => sweep.mockRestore());

    const [countA, countB] = jobs.map((job) => job.expiredTotal);
    console.log(
      `expiry-multi-instance: instance A expired ${countA}, instance B ${countB} ` +
        `(total ${countA + countB} of ${PROVISIONS}) in ${Date.now() - started} ms`,
    );
    expect(countA + countB).toBe(PROVISIONS);
    expect(countA).toBeGreaterThan(0);
    expect(countB).toBeGreaterThan(0);
    expect(jobs.map((job) => job.failedSweeps)).toEqual([0, 0]);

    const [state] = await ds.query(
      `SELECT count(*) FILTER (WHERE status = 'expired' AND expired_at IS NOT NULL AND user_id IS NULL)::int AS expired,
              count(*) FILTER (WHERE status <> 'expired')::int AS other
         FROM provisions WHERE organization_id = $1`,
      [provisioner.organization_id],
    );
    expect(state).toEqual({ expired: PROVISIONS, other: 0 });
    const [left] = await ds.query(
      `SELECT (SELECT count(*)::int FROM users WHERE email LIKE 'provisioned-bulk%') AS users,
              (SELECT count(*)::int FROM api_keys WHERE prefix = 'pvk_bulk0000') AS keys`,
    );
    expect(left).toEqual({ users: 0, keys: 0 });
    // The provisioner and its key were not touched.
    expect((await me(b, provisioner.api_key)).status).toBe(200);
  });
});
