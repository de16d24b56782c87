import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Response } from 'supertest';
import { generateApiKey } from '../src/api-keys/api-key-format';
import { adminCreateUser, CreatedUser, provisionUser, startTestApp, TestApp } from './support/app';
import { describeIf } from './support/conditions';
import { freePort } from './support/net';
import { createProvision } from './support/provisions';

/** Every response: nosniff, never framed (X-Frame-Options DENY and CSP frame-ancestors 'none'). */
function expectSecurityHeaders(res: Response, what: string): void {
  expect({ what, nosniff: res.headers['x-content-type-options'] }).toEqual({ what, nosniff: 'nosniff' });
  expect({ what, frame: res.headers['x-frame-options'] }).toEqual({ what, frame: 'DENY' });
  expect({ what, csp: res.headers['content-security-policy'] }).toEqual({
    what,
    csp: expect.stringMatching(/frame-ancestors 'none'/),
  });
}

function expectNoStore(res: Response, what: string): void {
  expect({ what, cacheControl: res.headers['cache-control'] }).toEqual({ what, cacheControl: 'no-store' });
}

describe('security headers', () => {
  let t: TestApp;
  let guy: CreatedUser;
  beforeAll(async () => {
    t = await startTestApp();
    guy = await adminCreateUser(t, { email: 'guy@headers.example', is_provisioner: true });
  });
  afterAll(async () => t?.close());

  it('are on every response: JSON, problems, unknown routes, health, the OpenAPI document and Swagger UI', async () => {
    const responses: [string, Response][] = [
      ['GET /api/v1/me 200', await t.http().get('/api/v1/me').set('X-API-Key', guy.api_key)],
      ['GET /api/v1/me 401', await t.http().get('/api/v1/me').set('X-API-Key', generateApiKey())],
      ['GET /api/v1/me no key', await t.http().get('/api/v1/me')],
      [
        'POST /api/v1/admin/create-user 400',
        await t.http().post('/api/v1/admin/create-user').set('X-API-Key', guy.api_key).send({}),
      ],
      ['GET /api/v1/nowhere 404', await t.http().get('/api/v1/nowhere')],
      ['GET /health', await t.http().get('/health')],
      ['GET /docs-json', await t.http().get('/docs-json')],
      ['GET /docs', await t.http().get('/docs')],
      ['GET /claim/{unknown}', await t.http().get(`/claim/pvc_${'A'.repeat(32)}`)],
      ['GET bad percent-encoding 400', await t.http().get('/api/v1/users/%zz').set('X-API-Key', guy.api_key)],
      [
        'GET path parameter too long 414',
        await t
          .http()
          .get(`/api/v1/users/${'a'.repeat(150)}`)
          .set('X-API-Key', guy.api_key),
      ],
      [
        'POST text/plain 415',
        await t
          .http()
          .post('/api/v1/admin/create-user')
          .set('X-API-Key', guy.api_key)
          .set('Content-Type', 'text/plain')
          .send('x'),
      ],
      [
        'POST body too large 413',
        await t
          .http()
          .post('/api/v1/admin/create-user')
          .set('X-API-Key', guy.api_key)
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ email: 'x'.repeat(70_000) })),
      ],
    ];
    for (const [what, res] of responses) expectSecurityHeaders(res, what);
    expect(responses.map(([what, res]) => [what, res.status])).toEqual([
      ['GET /api/v1/me 200', 200],
      ['GET /api/v1/me 401', 401],
      ['GET /api/v1/me no key', 401],
      ['POST /api/v1/admin/create-user 400', 400],
      ['GET /api/v1/nowhere 404', 404],
      ['GET /health', 200],
      ['GET /docs-json', 200],
      ['GET /docs', 200],
      ['GET /claim/{unknown}', 404],
      ['GET bad percent-encoding 400', 400],
      ['GET path parameter too long 414', 414],
      ['POST text/plain 415', 415],
      ['POST body too large 413', 413],
    ]);
  });

  it('the claim page keeps its own nonce-based CSP (stricter than the default)', async () => {
    const p = await createProvision(t, guy.api_key);
    const page = await t.http().get(new URL(p.claim_url).pathname);
    expect(page.status).toBe(200);
    expectSecurityHeaders(page, 'claim page');
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'nonce-[0-9A-Za-z]+'/);
    expectNoStore(page, 'claim page');
  });

  it('Cache-Control: no-store on every answer that carries a secret (api_key, claim_url)', async () => {
    const created = await t
      .http()
      .post('/api/v1/admin/users')
      .set('X-API-Key', t.adminKey)
      .send({ email: 'ann@headers.example' });
    expect(created.status).toBe(201);
    expectNoStore(created, 'POST /admin/users');

    const provisioned = await t
      .http()
      .post('/api/v1/admin/create-user')
      .set('X-API-Key', guy.api_key)
      .send({ email: 'eve@elsewhere.example' });
    expect(provisioned.status).toBe(201);
    expectNoStore(provisioned, 'POST /admin/create-user');

    const key = await t.http().post('/api/v1/api-keys').set('X-API-Key', guy.api_key).send({ name: 'second' });
    expect(key.status).toBe(201);
    expect(key.body.api_key).toMatch(/^pvk_/);
    expectNoStore(key, 'POST /api-keys');

    const rotated = await t.http().post(`/api/v1/api-keys/${key.body.id}/rotate`).set('X-API-Key', guy.api_key).send({});
    expect(rotated.status).toBe(201);
    expectNoStore(rotated, 'POST /api-keys/{id}/rotate');

    const provision = await t.http().post('/api/v1/provisions').set('X-API-Key', guy.api_key).send({});
    expect(provision.status).toBe(201);
    expect(provision.body.claim_url).toMatch(/\/claim\/pvc_/);
    expectNoStore(provision, 'POST /provisions');

    // An idempotent replay (secrets withheld) and a refusal of a secret-bearing route are fine with no-store too.
    const replayKey = `replay-${Date.now()}`;
    const firstProvision = await t
      .http()
      .post('/api/v1/provisions')
      .set('X-API-Key', guy.api_key)
      .set('Idempotency-Key', replayKey)
      .send({});
    const replayed = await t
      .http()
      .post('/api/v1/provisions')
      .set('X-API-Key', guy.api_key)
      .set('Idempotency-Key', replayKey)
      .send({});
    expect([firstProvision.status, replayed.status, replayed.body.claim_url]).toEqual([201, 201, null]);
    expectNoStore(replayed, 'POST /provisions replay');

    // Answers without a secret keep the default caching (none asked for).
    const me = await t.http().get('/api/v1/me').set('X-API-Key', guy.api_key);
    expect(me.headers['cache-control']).toBeUndefined();
    const keys = await t.http().get('/api/v1/api-keys').set('X-API-Key', guy.api_key);
    expect(keys.status).toBe(200);
    expect(keys.headers['cache-control']).toBeUndefined();
  });

  it('X-Forwarded-For is not believed by default: the client address is the TCP peer', async () => {
    const lines: string[] = [];
    const other = await startTestApp(
      { LOG_LEVEL: 'info' },
      { logDestination: { write: (line: string) => void lines.push(line) } },
    );
    try {
      const user = await provisionUserViaOperator(other);
      await other.http().get('/api/v1/me').set('X-API-Key', user.api_key).set('X-Forwarded-For', '203.0.113.9');
      await new Promise((resolve) => setImmediate(resolve));
      const logged = accessLines(lines).filter((e) => e.req.url === '/api/v1/me');
      expect(logged).toHaveLength(1);
      expect(logged[0].req.remoteAddress).not.toBe('203.0.113.9');
      expect(logged[0].req.remoteAddress).toMatch(/127\.0\.0\.1|::1/);
    } finally {
      await other.close();
    }
  });

  it.each([
    ['1', '203.0.113.9'],
    ['2', '198.51.100.7'],
    ['127.0.0.1,::1,::ffff:127.0.0.1', '203.0.113.9'],
    ['10.0.0.0/8', 'peer'], // the test client is not in that range: not believed
  ])('with TRUST_PROXY=%s the client address is %s', async (trustProxy, expected) => {
    const lines: string[] = [];
    const other = await startTestApp(
      { LOG_LEVEL: 'info', TRUST_PROXY: trustProxy },
      { logDestination: { write: (line: string) => void lines.push(line) } },
    );
    try {
      await other.http().get('/api/v1/me').set('X-API-Key', other.adminKey).set('X-Forwarded-For', '198.51.100.7, 203.0.113.9');
      await new Promise((resolve) => setImmediate(resolve));
      const logged = accessLines(lines).filter((e) => e.req.url === '/api/v1/me');
      expect(logged).toHaveLength(1);
      if (expected === 'peer') expect(logged[0].req.remoteAddress).toMatch(/127\.0\.0\.1|::1/);
      else expect(logged[0].req.remoteAddress).toBe(expected);
    } finally {
      await other.close();
    }
  });
});

function accessLines(chunks: string[]): { req: { url: string; remoteAddress: string } }[] {
  return chunks
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .filter((e) => e.msg === 'request completed');
}

async function provisionUserViaOperator(t: TestApp): Promise<CreatedUser> {
  const provisioner = await adminCreateUser(t, { email: 'p@proxy.example', is_provisioner: true });
  return provisionUser(t, provisioner.api_key, 'someone@proxy.example');
}

const CHROMIUM = '/usr/bin/chromium';
describeIf(
  existsSync(CHROMIUM),
  `no browser at ${CHROMIUM} (apt-get install -y chromium)`,
  'Swagger UI under the security headers (headless Chromium)',
  () => {
    let t: TestApp;
    let baseUrl: string;
    beforeAll(async () => {
      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      t = await startTestApp({ PUBLIC_BASE_URL: baseUrl });
      await t.app.listen({ port, host: '127.0.0.1' });
    });
    afterAll(async () => t?.close());

    it('renders the document with no Content-Security-Policy violation', async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
        });
        const opened = await page.goto(`${baseUrl}/docs`);
        expect(opened?.status()).toBe(200);
        await page.locator('.swagger-ui .info .title').waitFor({ timeout: 20_000 });
        expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('Provisio');
        await page.locator('.opblock-summary-path').first().waitFor({ timeout: 20_000 });
        expect(await page.locator('.opblock-summary-path', { hasText: '/api/v1/me' }).count()).toBeGreaterThan(0);
        expect(problems.filter((p) => /Content Security Policy|Refused to/i.test(p))).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  },
);
