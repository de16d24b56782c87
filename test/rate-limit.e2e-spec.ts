import { generateApiKey } from '../src/api-keys/api-key-format';
import { adminCreateUser, startTestApp, TestApp } from './support/app';
import { withinOneWindow } from './support/rate-limit';

const problemType = /\/rate-limited$/;

describe('rate limits (per process)', () => {
  let t: TestApp;
  const logs: string[] = [];

  // The operator's key makes at most 5 requests in any one minute across these tests (its limit).
  beforeAll(async () => {
    t = await startTestApp(
      { RATE_LIMIT_KEY_PER_MINUTE: '5', RATE_LIMIT_IP_PER_MINUTE: '3', LOG_LEVEL: 'info' },
      { logDestination: { write: (line: string) => void logs.push(line) } },
    );
  });
  afterAll(async () => t?.close());

  it('per API key: RateLimit-* headers on every answer, then 429 problem with Retry-After; other keys unaffected', async () => {
    await withinOneWindow();
    const user = await adminCreateUser(t, { email: 'limited@limits.example' });
    const other = await adminCreateUser(t, { email: 'other@limits.example' });
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.http().get('/api/v1/me').set('X-API-Key', user.api_key);
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe('5');
      const reset = Number(res.headers['ratelimit-reset']);
      expect(reset).toBeGreaterThanOrEqual(1);
      expect(reset).toBeLessThanOrEqual(60);
      remaining.push(res.headers['ratelimit-remaining']);
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);

    const refused = await t.http().get('/api/v1/me').set('X-API-Key', user.api_key);
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ type: expect.stringMatching(problemType), title: 'Too Many Requests', status: 429 });
    expect(refused.body.type).toMatch(/^https:\/\/provisio\.dev\/problems\//);
    expect(refused.body.request_id).toBe(refused.headers['x-request-id']);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    expect(refused.headers['ratelimit-reset']).toBe(refused.headers['retry-after']);

    // Every route of the key shares its count; another key has its own.
    expect((await t.http().get('/api/v1/billing/balance').set('X-API-Key', user.api_key)).status).toBe(429);
    const fresh = await t.http().get('/api/v1/me').set('X-API-Key', other.api_key);
    expect(fresh.status).toBe(200);
    expect(fresh.headers['ratelimit-remaining']).toBe('4');

    const metrics = await t.http().get('/metrics');
    expect(metrics.text).toMatch(/^provisio_rate_limited_total\{scope="key"\} 2$/m);
  });

  it('per client IP without a valid key: failed authentication and public routes count; 429 after the limit', async () => {
    await withinOneWindow();
    // A fresh window for this IP: the previous test made no keyless request, so the count starts here.
    const bad = await t.http().get('/api/v1/me').set('X-API-Key', generateApiKey());
    expect(bad.status).toBe(401);
    expect(bad.headers['ratelimit-limit']).toBe('3');
    expect(bad.headers['ratelimit-remaining']).toBe('2');
    const missing = await t.http().get('/api/v1/me');
    expect(missing.status).toBe(401);
    expect(missing.headers['ratelimit-remaining']).toBe('1');
    const claim = await t.http().get(`/api/v1/claims/pvc_${'A'.repeat(32)}`);
    expect(claim.status).toBe(404);
    expect(claim.headers['ratelimit-remaining']).toBe('0');
    for (const res of [
      await t.http().get(`/claim/pvc_${'B'.repeat(32)}`),
      await t
        .http()
        .post(`/api/v1/claims/pvc_${'C'.repeat(32)}`)
        .send({ email: 'x@y.example' }),
      await t.http().get('/api/v1/me').set('X-API-Key', generateApiKey()),
    ]) {
      expect(res.status).toBe(429);
      expect(res.body.type).toMatch(problemType);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // A valid key from the same address is counted per key, not per IP.
    const user = await adminCreateUser(t, { email: 'same-ip@limits.example' });
    expect((await t.http().get('/api/v1/me').set('X-API-Key', user.api_key)).status).toBe(200);
  });

  it('a flooding client IP: made-up keys are refused (429) without a database lookup; cached valid keys still pass', async () => {
    await withinOneWindow();
    const fresh = await adminCreateUser(t, { email: 'fresh@limits.example' });
    // Over the limit (3), then refused 100 times more: flooding.
    for (let i = 0; i < 110; i++) await t.http().get('/api/v1/me');
    const misses = async () =>
      Number(/^provisio_key_cache_lookups_total\{result="miss"\} (\d+)$/m.exec((await t.http().get('/metrics')).text)?.[1]);
    const before = await misses();
    for (let i = 0; i < 5; i++) {
      const res = await t.http().get('/api/v1/me').set('X-API-Key', generateApiKey());
      expect(res.status).toBe(429);
      expect(res.body.type).toMatch(problemType);
    }
    expect(await misses()).toBe(before);
    // The operator's key is in the key cache: counted per key, answered.
    expect((await t.http().get('/api/v1/me').set('X-API-Key', t.adminKey)).status).toBe(200);
    // A valid key this instance has not verified lately is refused like the others until the
    // window ends (the price of not querying the database for a flooding address).
    expect((await t.http().get('/api/v1/me').set('X-API-Key', fresh.api_key)).status).toBe(429);
    expect(await misses()).toBe(before);
  });

  it('does not limit /health, /metrics or /docs', async () => {
    for (let i = 0; i < 8; i++) {
      for (const path of ['/health', '/metrics', '/docs-json']) {
        const res = await t.http().get(path);
        expect(res.status).toBe(200);
        expect(res.headers['ratelimit-limit']).toBeUndefined();
      }
    }
  });

  it('0 turns a limit off', async () => {
    const open = await startTestApp(
      { RATE_LIMIT_KEY_PER_MINUTE: '0', RATE_LIMIT_IP_PER_MINUTE: '0' },
      { db: t.db, adminKey: t.adminKey },
    );
    try {
      for (let i = 0; i < 10; i++) {
        const res = await open.http().get('/api/v1/me').set('X-API-Key', open.adminKey);
        expect(res.status).toBe(200);
        expect(res.headers['ratelimit-limit']).toBeUndefined();
        expect((await open.http().get('/api/v1/me')).status).toBe(401);
      }
    } finally {
      await open.close();
    }
  });
});
