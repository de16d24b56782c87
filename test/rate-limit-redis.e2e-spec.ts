import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { adminCreateUser, startTestApp, TestApp } from './support/app';
import { createTestDatabase, TestDatabase } from './support/database';
import { redisReachable, TEST_REDIS_URL, withinOneWindow } from './support/rate-limit';

const reachable = redisReachable();
const d = reachable ? describe : describe.skip;
if (!reachable) console.log(`rate-limit-redis: skipped — Redis does not answer at ${TEST_REDIS_URL} (set TEST_REDIS_URL).`);

const LIMIT = 100;
const INSTANCES = 2;
/** window-counter.ts: each instance holds at most max(1, ⌊limit / 100⌋) unconfirmed hits of a key. */
const TOLERANCE = INSTANCES * Math.max(1, Math.floor(LIMIT / 100));

d('rate limits shared through Redis by two instances on one database', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  // A prefix of this run's own, so parallel runs on one Redis never share counts.
  const prefix = `provisio-test:${Date.now().toString(36)}${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = { REDIS_URL: TEST_REDIS_URL, RATE_LIMIT_REDIS_PREFIX: prefix, RATE_LIMIT_KEY_PER_MINUTE: String(LIMIT) };
    a = await startTestApp(env, { db });
    b = await startTestApp(env, { db, adminKey: a.adminKey });
    await redis.connect();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it(`holds the per-key limit across both: Σ 2xx ≤ ${LIMIT} + ${TOLERANCE}, and the rest are 429`, async () => {
    // All of it inside one window (a minute), with room to spare on a busy machine.
    await withinOneWindow(30_000);
    const user = await adminCreateUser(a, { email: 'shared@limits.example' });
    const instances = [a, b];
    const statuses: number[] = [];
    // 3 × the limit, 16 at a time on each instance, alternating between them.
    const queue = Array.from({ length: LIMIT * 3 }, (_, i) => instances[i % INSTANCES]);
    await Promise.all(
      Array.from({ length: 32 }, async (_, worker) => {
        for (let i = worker; i < queue.length; i += 32) {
          const res = await queue[i].http().get('/api/v1/me').set('X-API-Key', user.api_key);
          statuses.push(res.status);
        }
      }),
    );
    const ok = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    expect(ok + limited).toBe(LIMIT * 3);
    expect(ok).toBeGreaterThanOrEqual(LIMIT);
    expect(ok).toBeLessThanOrEqual(LIMIT + TOLERANCE);

    // Redis holds the whole count of the key: what both instances admitted, in one window.
    const [{ id: keyId }] = await a.app.get(DataSource).query('SELECT id FROM api_keys WHERE user_id = $1', [user.id]);
    await Promise.all([a, b].map((t) => t.app.close()));
    const keys = await redis.keys(`${prefix}key:${keyId}:*`);
    expect(keys).toHaveLength(1);
    expect(Number(await redis.get(keys[0]))).toBe(ok);
  });
});
