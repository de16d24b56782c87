import { randomUUID } from 'node:crypto';
import { generateApiKey } from '../src/api-keys/api-key-format';
import { adminCreateUser, startTestApp, TestApp } from './support/app';

/** An access-log line, as far as these tests read it. */
interface LogEntry {
  msg: string;
  request_id?: string;
  req?: { id: string };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('X-Request-Id and /metrics', () => {
  let t: TestApp;
  const lines: string[] = [];
  const entries = () =>
    lines
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogEntry);
  const turnEnd = () => new Promise((resolve) => setImmediate(resolve));

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'info' }, { logDestination: { write: (line: string) => void lines.push(line) } });
  });
  afterAll(async () => t?.close());

  describe('X-Request-Id', () => {
    it('is generated for every response, and differs between requests', async () => {
      const [a, b] = [await t.http().get('/health'), await t.http().get('/api/v1/me').set('X-API-Key', t.adminKey)];
      expect(a.headers['x-request-id']).toMatch(UUID);
      expect(b.headers['x-request-id']).toMatch(UUID);
      expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    });

    it("is the request's own when valid (≤ 128 printable characters), in the access log and the problem body", async () => {
      const id = 'trace-42/"quoted" ' + 'x'.repeat(100);
      lines.length = 0;
      const res = await t.http().get('/api/v1/me').set('X-API-Key', generateApiKey()).set('X-Request-Id', id);
      expect(res.status).toBe(401);
      expect(res.headers['x-request-id']).toBe(id);
      expect(res.body.request_id).toBe(id);
      await turnEnd();
      const logged = entries().filter((e) => e.msg === 'request completed');
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ request_id: id, req: { id } });
    });

    it('is replaced when invalid: too long, or not printable ASCII', async () => {
      for (const sent of ['y'.repeat(129), 'tab\there', 'é-accent']) {
        const res = await t.http().get('/api/v1/me').set('X-API-Key', t.adminKey).set('X-Request-Id', sent);
        expect(res.status).toBe(200);
        expect(res.headers['x-request-id']).toMatch(UUID);
      }
      const ok = await t.http().get('/health').set('X-Request-Id', 'z'.repeat(128));
      expect(ok.headers['x-request-id']).toBe('z'.repeat(128));
    });

    it('is on problems of unknown routes, bad bodies and framework errors', async () => {
      const responses = [
        await t.http().get('/no/such/route'),
        await t
          .http()
          .post('/api/v1/admin/users')
          .set('X-API-Key', t.adminKey)
          .set('Content-Type', 'application/json')
          .send('{bad'),
        await t.http().get('/api/v1/users/%E0%A4%A'),
      ];
      for (const res of responses) {
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.headers['x-request-id']).toMatch(UUID);
        expect(res.body.request_id).toBe(res.headers['x-request-id']);
      }
    });
  });

  describe('/metrics', () => {
    it('serves the Prometheus text format with the named metrics', async () => {
      const user = await adminCreateUser(t, { email: 'metered@metrics.example' });
      await t.http().get('/api/v1/me').set('X-API-Key', user.api_key);
      // A user that does not exist: 404.
      await t.http().get(`/api/v1/users/${randomUUID()}`).set('X-API-Key', t.adminKey);
      const res = await t.http().get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = res.text;
      for (const name of [
        'http_request_duration_seconds',
        'provisio_key_cache_lookups_total',
        'provisio_db_pool_connections',
        'provisio_provisions_expired_total',
        'provisio_credits_charged_total',
        'provisio_rate_limited_total',
        'provisio_webhook_deliveries_total',
        'process_cpu_user_seconds_total',
        'nodejs_eventloop_lag_seconds',
      ]) {
        expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
      }
      expect(text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
      // The route label is the pattern, not the URL.
      expect(text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/me",status="200"\} \d+$/m);
      expect(text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/users\/:id",status="404"\} 1$/m);
      expect(text).not.toContain(user.id);
      expect(text).toMatch(/^provisio_key_cache_lookups_total\{result="(hit|miss)"\} [1-9]\d*$/m);
      expect(text).toMatch(/^provisio_db_pool_connections\{state="active"\} \d+$/m);
      expect(text).toMatch(/^provisio_db_pool_connections\{state="max"\} [1-9]\d*$/m);
      expect(text).toMatch(/^provisio_rate_limited_total\{scope="key"\} 0$/m);
      expect(text).toMatch(/^provisio_webhook_deliveries_total\{outcome="delivered"\} 0$/m);
    });

    it('counts credits charged', async () => {
      const owner = await adminCreateUser(t, { email: 'owner@charged.example' });
      const grant = await t
        .http()
        .post('/api/v1/admin/credits')
        .set('X-API-Key', t.adminKey)
        .set('Idempotency-Key', 'metrics-grant')
        .send({ domain: 'charged.example', amount: 100 });
      expect(grant.status).toBeLessThan(300);
      const before = Number(/^provisio_credits_charged_total (\d+)$/m.exec((await t.http().get('/metrics')).text)?.[1]);
      for (const key of ['c1', 'c2', 'c1']) {
        const res = await t
          .http()
          .post('/api/v1/billing/charges')
          .set('X-API-Key', owner.api_key)
          .set('Idempotency-Key', key)
          .send({ units: 7 });
        expect(res.status).toBe(201);
      }
      const after = Number(/^provisio_credits_charged_total (\d+)$/m.exec((await t.http().get('/metrics')).text)?.[1]);
      expect(after - before).toBe(14); // the replay of c1 charged nothing
    });

    it('with METRICS_TOKEN: 401 problem without the bearer token or with a wrong one, 200 with it', async () => {
      const token = 'metrics-' + 'k'.repeat(24);
      const secured = await startTestApp({ METRICS_TOKEN: token }, { db: t.db, adminKey: t.adminKey });
      try {
        for (const auth of [undefined, 'Bearer wrong', `Bearer ${token}x`, token, `Basic ${token}`]) {
          const req = secured.http().get('/metrics');
          const res = await (auth ? req.set('Authorization', auth) : req);
          expect(res.status).toBe(401);
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(res.body).toMatchObject({ status: 401, type: expect.stringMatching(/\/unauthorized$/) });
          expect(res.text).not.toContain('provisio_');
        }
        const ok = await secured.http().get('/metrics').set('Authorization', `Bearer ${token}`);
        expect(ok.status).toBe(200);
        expect(ok.text).toContain('provisio_rate_limited_total');
      } finally {
        await secured.close();
      }
    });
  });
});
