import { EnvironmentVariables, fastifyTrustProxy, loadConfig, redactSecretValues } from './app-config';

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

  it('never echoes the value of a secret variable, only its name', () => {
    const secrets = {
      ADMIN_API_KEY: 'short-secret',
      DATABASE_URL: 'postgres://u:pg-pass-123@host:badport/db',
    };
    let message = '';
    try {
      loadConfig(secrets);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/ADMIN_API_KEY=\(value not shown\)/);
    expect(message).toMatch(/DATABASE_URL=\(value not shown\)/);
    expect(message).not.toContain('short-secret');
    expect(message).not.toContain('pg-pass-123');
  });

  it('requires ADMIN_API_KEY to have at least 32 characters', () => {
    expect(() => loadConfig({ ADMIN_API_KEY: 'x'.repeat(31) })).toThrow(/ADMIN_API_KEY/);
    expect(loadConfig({ ADMIN_API_KEY: 'x'.repeat(32) }).adminApiKey).toBe('x'.repeat(32));
  });

  it('redacts every secret value of the environment, and the password inside a URL even when it does not parse', () => {
    const env = {
      ADMIN_API_KEY: 'pvk_adminkey',
      METRICS_TOKEN: 'metrics-tok',
      DATABASE_URL: 'postgres://app:p%40ss@db:bad/x',
      REDIS_URL: 'redis://:redispw@r:6379',
    };
    const text = 'a pvk_adminkey b metrics-tok c postgres://app:p%40ss@db:bad/x d p@ss e redispw f app:p%40ss';
    const redacted = redactSecretValues(text, env);
    for (const secret of ['pvk_adminkey', 'metrics-tok', 'p%40ss', 'p@ss', 'redispw']) expect(redacted).not.toContain(secret);
    expect(redacted).toContain('a [redacted] b');
  });

  it.each([
    [undefined, false],
    ['', false],
    ['1', 1],
    ['2', 2],
    ['10.0.0.1', ['10.0.0.1']],
    ['10.0.0.0/8, 192.168.1.1 ,::1', ['10.0.0.0/8', '192.168.1.1', '::1']],
    ['loopback,uniquelocal', ['loopback', 'uniquelocal']],
  ])('reads TRUST_PROXY=%s', (value, expected) => {
    const trust = fastifyTrustProxy(loadConfig(value === undefined ? {} : { TRUST_PROXY: value }).trustProxy);
    if (typeof expected === 'number') {
      // A hop count: the nearest `expected` hops are proxies, the next one is the client.
      expect(typeof trust).toBe('function');
      const hops = [0, 1, 2, 3].map((hop) => (trust as (address: string, hop: number) => boolean)('10.0.0.1', hop));
      expect(hops).toEqual([0, 1, 2, 3].map((hop) => hop < expected));
    } else {
      expect(trust).toEqual(expected);
    }
  });

  it.each(['true', '0', '11', 'proxy.example.com', '10.0.0.0/33', '10.0.0.1,', '1.2.3'])('refuses TRUST_PROXY=%s', (value) => {
    expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY=/);
  });

  it('accepts a DATABASE_URL naming a Unix socket, refuses one that does not parse', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql:///provisio?host=/run/postgresql' }).databaseUrl).toBe(
      'postgresql:///provisio?host=/run/postgresql',
    );
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:p@host:port/db' })).toThrow(/DATABASE_URL=\(value not shown\)/);
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
