import { adminCreateUser, startTestApp, TestApp } from './support/app';
import { withinOneWindow } from './support/rate-limit';

// Its own file: Nest's logger is process-wide, so the log lines of an app started after another
// app in the same file do not reach its destination.
describe('rate limits when Redis is unreachable', () => {
  let t: TestApp;
  const logs: string[] = [];

  beforeAll(async () => {
    // A port nothing listens on.
    t = await startTestApp(
      { REDIS_URL: 'redis://:secret-password@127.0.0.1:1', RATE_LIMIT_KEY_PER_MINUTE: '1000', LOG_LEVEL: 'info' },
      { logDestination: { write: (line: string) => void logs.push(line) } },
    );
  });
  afterAll(async () => t?.close());

  it('serves requests (fail open) and says so once, not per request', async () => {
    await withinOneWindow();
    const user = await adminCreateUser(t, { email: 'open@limits.example' });
    for (let i = 0; i < 30; i++) {
      const res = await t.http().get('/api/v1/me').set('X-API-Key', user.api_key);
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe('1000');
    }
    const all = logs.join('');
    const lines = all.split('\n').filter((line) => line.includes('Redis is unreachable'));
    expect(lines).toHaveLength(1);
    expect(all).not.toContain('secret-password');
  });
});
