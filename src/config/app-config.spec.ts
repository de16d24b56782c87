import { EnvironmentVariables, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      port: 3000,
      publicBaseUrl: 'http://localhost:3000',
      provisionTtlSeconds: 604800,
      expirySweepIntervalSeconds: 60,
      adminEmail: 'admin@localhost',
      adminApiKey: undefined,
    });
  });

  it('derives PUBLIC_BASE_URL from PORT and drops a trailing slash', () => {
    expect(loadConfig({ PORT: '8080' }).publicBaseUrl).toBe('http://localhost:8080');
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://api.example.com/' }).publicBaseUrl).toBe('https://api.example.com');
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PROVISION_TTL_SECONDS', '0'],
    ['EXPIRY_SWEEP_INTERVAL_SECONDS', '1.5'],
    ['DATABASE_URL', 'mysql://x'],
    ['PUBLIC_BASE_URL', 'not a url'],
    ['ADMIN_API_KEY', 'secret'],
    ['ADMIN_EMAIL', 'nobody'],
    ['LOG_LEVEL', 'loud'],
    ['KEY_CACHE_TTL_MS', '-1'],
    ['KEY_CACHE_MAX', '0'],
    ['KEY_CACHE_NEGATIVE_MAX', 'many'],
    ['KEY_USAGE_FLUSH_INTERVAL_MS', '10'],
    ['SHUTDOWN_GRACE_SECONDS', '-1'],
    ['SHUTDOWN_GRACE_SECONDS', 'ten'],
    ['IDEMPOTENCY_LOCK_SECONDS', '0'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n\\s+${name}=`));
  });

  it('has key cache defaults, and KEY_CACHE_TTL_MS=0 is accepted (cache off)', () => {
    expect(loadConfig({})).toMatchObject({
      keyCacheTtlMs: 30000,
      keyCacheMax: 10000,
      keyCacheNegativeTtlMs: 10000,
      keyCacheNegativeMax: 5000,
      keyUsageFlushIntervalMs: 5000,
    });
    expect(loadConfig({ KEY_CACHE_TTL_MS: '0' }).keyCacheTtlMs).toBe(0);
  });

  it('defaults SHUTDOWN_GRACE_SECONDS to 10 and IDEMPOTENCY_LOCK_SECONDS to 30, and reads both', () => {
    expect(loadConfig({})).toMatchObject({ shutdownGraceSeconds: 10, idempotencyLockSeconds: 30 });
    expect(loadConfig({ SHUTDOWN_GRACE_SECONDS: '0', IDEMPOTENCY_LOCK_SECONDS: '5' })).toMatchObject({
      shutdownGraceSeconds: 0,
      idempotencyLockSeconds: 5,
    });
  });

  it('holds every variable under its camelCase name, with the value given', () => {
    const config = loadConfig({ KEY_USAGE_FLUSH_INTERVAL_MS: '250', DATABASE_URL: 'postgres://db/x', ACCESS_LOG: 'errors' });
    expect(config).toMatchObject({ keyUsageFlushIntervalMs: 250, databaseUrl: 'postgres://db/x', accessLog: 'errors' });
    const names = Object.keys(new EnvironmentVariables());
    expect(names).toEqual(expect.arrayContaining(['DATABASE_URL', 'PUBLIC_BASE_URL', 'ADMIN_API_KEY', 'ACCESS_LOG']));
    const camel = (name: string) => name.toLowerCase().replace(/_(.)/g, (_m, c: string) => c.toUpperCase());
    expect(Object.keys(config).sort()).toEqual(names.map(camel).sort());
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', ADMIN_API_KEY: '' })).toMatchObject({ databaseUrl: undefined, adminApiKey: undefined });
  });

  it('has the rate-limit and metrics defaults; 0 turns a limit off; secrets are never echoed', () => {
    expect(loadConfig({})).toMatchObject({
      rateLimitKeyPerMinute: 6000,
      rateLimitIpPerMinute: 120,
      redisUrl: undefined,
      rateLimitRedisPrefix: 'provisio:rate-limit:',
      metricsToken: undefined,
    });
    expect(loadConfig({ RATE_LIMIT_KEY_PER_MINUTE: '0', RATE_LIMIT_IP_PER_MINUTE: '0' })).toMatchObject({
      rateLimitKeyPerMinute: 0,
      rateLimitIpPerMinute: 0,
    });
    expect(loadConfig({ REDIS_URL: 'redis://:pw@cache:6379/2', METRICS_TOKEN: 'scrape-me' })).toMatchObject({
      redisUrl: 'redis://:pw@cache:6379/2',
      metricsToken: 'scrape-me',
    });
    for (const [name, value] of [
      ['RATE_LIMIT_KEY_PER_MINUTE', '-1'],
      ['RATE_LIMIT_IP_PER_MINUTE', 'many'],
      ['REDIS_URL', 'http://user:hunter2secret@cache:6379'],
      ['METRICS_TOKEN', 'has spaces hunter2secret'],
    ]) {
      let message = '';
      try {
        loadConfig({ [name]: value });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(new RegExp(`^Invalid configuration:\\n\\s+${name}=`));
      expect(message).not.toContain('hunter2secret');
    }
  });
});
