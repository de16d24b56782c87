import { generateApiKey } from '../src/api-keys/api-key-format';
import { adminCreateUser, me, startTestApp, TestApp } from './support/app';

/** The fields of a pino access-log line that these tests read. */
interface LogEntry {
  level: number;
  msg: string;
  responseTime?: number;
  req: { id: string; method: string; url: string };
  res: { statusCode: number };
}

describe('access log', () => {
  let t: TestApp;
  // What the destination was given: the access log writes the lines of one event-loop turn together.
  const lines: string[] = [];
  const toEntries = (chunks: string[]) =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogEntry);
  const completed = () => toEntries(lines).filter((e) => e.msg === 'request completed');
  /** The access-log lines of a request are written at the end of the event-loop turn it ended in. */
  const turnEnd = () => new Promise((resolve) => setImmediate(resolve));

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'info' }, { logDestination: { write: (line: string) => void lines.push(line) } });
  });
  afterAll(async () => t?.close());

  it('logs one line per request with method, URL, status and time, by level of status', async () => {
    const user = await adminCreateUser(t, { email: 'logged@logs.example' });
    lines.length = 0;
    expect((await me(t, user.api_key)).status).toBe(200);
    expect((await me(t, generateApiKey())).status).toBe(401);
    await turnEnd();
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
    await me(t, user.api_key);
    await t.http().get(`/api/v1/claims/${token}`);
    await t.http().get(`/claim/${token}?x=${user.api_key}`);
    await turnEnd();
    const all = lines.join('');
    expect(completed()).toHaveLength(3);
    expect(all).not.toContain(user.api_key);
    expect(all).not.toContain(user.api_key.slice(4));
    expect(all).not.toContain(token.slice(4));
    expect(completed()[1].req.url).toBe('/api/v1/claims/pvc_[redacted]');
  });

  it('logs every one of many concurrent requests, each as one whole line', async () => {
    lines.length = 0;
    const statuses = await Promise.all(Array.from({ length: 40 }, () => me(t, t.adminKey)).map(async (r) => (await r).status));
    expect(statuses).toEqual(Array(40).fill(200));
    await turnEnd();
    const logged = completed();
    expect(logged).toHaveLength(40);
    expect(new Set(logged.map((e) => e.req.id)).size).toBe(40);
  });

  it('does not log /health', async () => {
    lines.length = 0;
    expect((await t.http().get('/health')).status).toBe(200);
    await turnEnd();
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
      expect((await me(other, t.adminKey)).status).toBe(200);
      expect((await me(other, generateApiKey())).status).toBe(401);
      await turnEnd();
      const logged = toEntries(quiet).filter((e) => e.msg === 'request completed');
      expect(logged.map((e) => e.res.statusCode)).toEqual([401]);
    } finally {
      await other.close();
    }
  });
});
