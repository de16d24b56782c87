import { generateApiKey } from '../src/api-keys/api-key-format';
import { adminCreateUser, startTestApp, TestApp } from './support/app';

describe('access log', () => {
  let t: TestApp;
  const lines: string[] = [];
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, any>);
  const completed = () => entries().filter((e) => e.msg === 'request completed');

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'info' }, { logDestination: { write: (line: string) => void lines.push(line) } });
  });
  afterAll(async () => t?.close());

  it('logs one line per request with method, URL, status and time, by level of status', async () => {
    const user = await adminCreateUser(t, { email: 'logged@logs.example' });
    lines.length = 0;
    expect((await t.http().get('/api/v1/me').set('X-API-Key', user.api_key)).status).toBe(200);
    expect((await t.http().get('/api/v1/me').set('X-API-Key', generateApiKey())).status).toBe(401);
    const logged = completed();
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ level: 30, req: { method: 'GET', url: '/api/v1/me' }, res: { statusCode: 200 } });
    expect(typeof logged[0].responseTime).toBe('number');
    expect(typeof logged[0].req.id).toBe('string');
    expect(logged[0]).toMatchObject({ pid: process.pid, hostname: expect.any(String), msg: 'request completed' });
    expect(logged[1]).toMatchObject({ level: 40, res: { statusCode: 401 } });
  });

  it('never logs an API key, header or claim token', async () => {
    const user = await adminCreateUser(t, { email: 'secretive@logs.example' });
    const token = 'pvc_' + 'A'.repeat(32);
    lines.length = 0;
    await t.http().get('/api/v1/me').set('X-API-Key', user.api_key);
    await t.http().get(`/api/v1/claims/${token}`);
    await t.http().get(`/claim/${token}?x=${user.api_key}`);
    const all = lines.join('');
    expect(completed()).toHaveLength(3);
    expect(all).not.toContain(user.api_key);
    expect(all).not.toContain(user.api_key.slice(4));
    expect(all).not.toContain(token.slice(4));
    expect(completed()[1].req.url).toBe('/api/v1/claims/pvc_[redacted]');
  });

  it('does not log /health', async () => {
    lines.length = 0;
    expect((await t.http().get('/health')).status).toBe(200);
    expect(completed()).toHaveLength(0);
  });

  it('with ACCESS_LOG=errors logs only 4xx and 5xx (and slow) requests', async () => {
    const quiet: string[] = [];
    const other = await startTestApp(
      { LOG_LEVEL: 'info', ACCESS_LOG: 'errors' },
      { db: t.db, adminKey: t.adminKey, logDestination: { write: (line: string) => void quiet.push(line) } },
    );
    try {
      quiet.length = 0;
      expect((await other.http().get('/api/v1/me').set('X-API-Key', t.adminKey)).status).toBe(200);
      expect((await other.http().get('/api/v1/me').set('X-API-Key', generateApiKey())).status).toBe(401);
      const logged = quiet.map((line) => JSON.parse(line)).filter((e) => e.msg === 'request completed');
      expect(logged.map((e) => e.res.statusCode)).toEqual([401]);
    } finally {
      await other.close();
    }
  });
});
