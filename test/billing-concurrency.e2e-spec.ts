import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { startTestApp, TestApp } from './support/app';
import { describeOnRealServer } from './support/conditions';
import { withClient } from './support/database';
import { createBillingOrg, expectBalancesMatchLedger, grantCredits } from './support/billing';
import { waitFor } from './support/wait';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { id?: string; [field: string]: unknown };
}

/** A keep-alive HTTP client with at most `sockets` connections to the app's real port. */
function client(port: number, sockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const post = (path: string, headers: Record<string, string>, body: unknown) =>
    new Promise<Answer>((resolve, reject) => {
      const payload = Buffer.from(JSON.stringify(body));
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent,
          headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : {} });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  return { post, close: () => agent.destroy() };
}

/** Runs `total` tasks with at most `concurrency` in flight. */
async function runPool<T>(total: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return results;
}

function countBy(values: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

const ONE_SESSION = 'the embedded PGlite serializes every transaction through one backend session';

describeOnRealServer('billing under concurrency', ONE_SESSION, () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await startTestApp({ DATABASE_POOL_SIZE: '20' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(async () => {
    if (!t) return;
    await t.app.close();
    // pg-pool's end() returns before the server has seen every Terminate; let the 20 backends
    // leave before DROP DATABASE … WITH (FORCE), so none is killed (and logged) mid-goodbye.
    const name = new URL(t.db.url).pathname.slice(1);
    await withClient(process.env.TEST_DATABASE_URL!, (client) =>
      waitFor(`the app's backends to leave database ${name}`, async () => {
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [name]);
        return rows[0].n === 0;
      }),
    );
    await t.db.drop();
  });
  afterEach(async () => {
    await expectBalancesMatchLedger(t);
  });

  it('10,000 one-credit charges from 64 clients against a pool of 5,000: exactly 5,000 succeed, 5,000 get 402, the pool ends at 0', async () => {
    const org = await createBillingOrg(t, 'stampede', 5000);
    const keys = [org.alice.api_key, org.bob.api_key, org.provisioner.api_key];
    const http = client(port, 64);
    const started = Date.now();
    try {
      const answers = await runPool(10_000, 64, (i) =>
        http.post(
          '/api/v1/billing/charges',
          { 'x-api-key': keys[i % keys.length], 'idempotency-key': `stampede-${i}` },
          { units: 1 },
        ),
      );
      const elapsed = Date.now() - started;
      console.log(
        `billing-concurrency: 10,000 charges over 64 connections in ${elapsed} ms (${Math.round(10_000_000 / elapsed)} req/s)`,
      );
      expect(countBy(answers.map((a) => a.status))).toEqual({ 201: 5000, 402: 5000 });
      expect(
        answers
          .filter((a) => a.status === 402)
          .every((a) => a.body.type === 'https://provisio.dev/problems/insufficient-credits'),
      ).toBe(true);
      expect(new Set(answers.filter((a) => a.status === 201).map((a) => a.body.id)).size).toBe(5000);
    } finally {
      http.close();
    }

    const ds = t.app.get(DataSource);
    const [pool] = await ds.query(`SELECT balance FROM credit_pools WHERE organization_id = $1`, [org.organizationId]);
    expect(pool.balance).toBe(0);
    // Every balance from 4,999 down to 0 was reached exactly once: no lost or doubled debit.
    const [ledger] = await ds.query(
      `SELECT count(*)::int AS charges, count(DISTINCT balance_after)::int AS distinct_after,
              min(balance_after) AS min_after, max(balance_after) AS max_after, sum(delta)::int AS charged
         FROM credit_ledger_entries WHERE organization_id = $1 AND reason = 'charge'`,
      [org.organizationId],
    );
    expect(ledger).toEqual({ charges: 5000, distinct_after: 5000, min_after: 0, max_after: 4999, charged: -5000 });
  });

  it('50 concurrent requests with one Idempotency-Key debit exactly once; every answer is that entry (or 409)', async () => {
    const org = await createBillingOrg(t, 'same-key', 100);
    const key = randomUUID();
    const http = client(port, 50);
    let answers: Answer[];
    try {
      answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          http.post('/api/v1/billing/charges', { 'x-api-key': org.alice.api_key, 'idempotency-key': key }, { units: 3 }),
        ),
      );
    } finally {
      http.close();
    }
    const statuses = countBy(answers.map((a) => a.status));
    expect(Object.keys(statuses).every((s) => s === '201' || s === '409')).toBe(true);
    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((a) => a.body.id)).size).toBe(1);
    // Exactly one answer did the work; all the others say they are replays (or 409).
    expect(created.filter((a) => a.headers['idempotent-replayed'] === undefined)).toHaveLength(1);
    expect(created.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(created.length - 1);

    const ds = t.app.get(DataSource);
    const rows = await ds.query(`SELECT id, delta FROM credit_ledger_entries WHERE organization_id = $1 AND reason = 'charge'`, [
      org.organizationId,
    ]);
    expect(rows).toEqual([{ id: created[0].body.id, delta: -3 }]);
    const [pool] = await ds.query(`SELECT balance FROM credit_pools WHERE organization_id = $1`, [org.organizationId]);
    expect(pool.balance).toBe(97);
  });

  it('concurrent charges and corrections never take the pool below 0', async () => {
    const org = await createBillingOrg(t, 'tug', 1000);
    const http = client(port, 32);
    try {
      const answers = await runPool(400, 32, (i) =>
        i % 4 === 0
          ? http.post(
              '/api/v1/admin/credits',
              { 'x-api-key': t.adminKey, 'idempotency-key': `tug-${i}` },
              { domain: org.domain, amount: -40 },
            )
          : http.post('/api/v1/billing/charges', { 'x-api-key': org.bob.api_key, 'idempotency-key': `tug-${i}` }, { units: 7 }),
      );
      const statuses = countBy(answers.map((a) => a.status));
      expect(Object.keys(statuses).every((s) => ['201', '402', '422'].includes(s))).toBe(true);
      const spent = answers.filter((a) => a.status === 201).reduce((sum, a) => sum + -(a.body.delta as number), 0);
      const [pool] = await t.app
        .get(DataSource)
        .query(`SELECT balance FROM credit_pools WHERE organization_id = $1`, [org.organizationId]);
      expect(pool.balance).toBe(1000 - spent);
      expect(pool.balance).toBeGreaterThanOrEqual(0);
      expect(pool.balance).toBeLessThan(7);
    } finally {
      http.close();
    }
    // A grant afterwards still works on the drained pool.
    expect((await grantCredits(t, org.domain, 5)).status).toBe(201);
  });
});
