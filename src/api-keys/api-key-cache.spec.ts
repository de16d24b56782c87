import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config';
import { ApiKeyCache } from './api-key-cache';
import { hashApiKey, generateApiKey } from './api-key-format';
import type { KeyRecord } from './api-key-verifier';

function record(userId: string, keyId = `k-${userId}`): KeyRecord {
  return {
    revoked: false,
    principal: {
      keyId,
      userId,
      email: `${userId}@b.com`,
      organizationId: 'o',
      organizationDomain: 'b.com',
      billingOrganizationId: 'o',
      scope: 'full',
      role: 'member',
      isProvisioner: false,
      isOperator: false,
      apiOnly: true,
      status: 'active',
      externalEmail: null,
      externalId: null,
      provisionedBy: null,
      expiresAt: null,
      createdAt: new Date(0),
    },
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ApiKeyCache', () => {
  const dataSource = { subscribers: [] } as unknown as DataSource;
  const make = (env: Record<string, string> = {}) => new ApiKeyCache(loadConfig(env), dataSource);

  it('serves a second resolve from the cache and drops it when its user changes', async () => {
    const cache = make();
    const hash = hashApiKey(generateApiKey());
    let loads = 0;
    const load = () => (loads++, Promise.resolve(record('u1')));
    await cache.resolve(hash, load);
    await cache.resolve(hash, load);
    expect(loads).toBe(1);
    cache.invalidateUsers(['u2']);
    await cache.resolve(hash, load);
    expect(loads).toBe(1);
    cache.invalidateUsers(['u1']);
    await cache.resolve(hash, load);
    expect(loads).toBe(2);
  });

  it('does not cache a lookup that was running when an invalidation happened', async () => {
    const cache = make();
    const hash = hashApiKey(generateApiKey());
    const slow = deferred<KeyRecord | null>();
    const first = cache.resolve(hash, () => slow.promise);
    cache.invalidateUsers(['u1']);
    // A request after the invalidation starts its own lookup instead of joining the old one.
    const fresh = record('u1');
    fresh.revoked = true;
    await expect(cache.resolve(hash, () => Promise.resolve(fresh))).resolves.toBe(fresh);
    slow.resolve(record('u1'));
    await first;
    let loads = 0;
    const again = await cache.resolve(hash, () => (loads++, Promise.resolve(record('u1'))));
    expect(loads).toBe(0);
    expect(again).toBe(fresh);
  });

  it('shares one lookup between concurrent requests for the same key', async () => {
    const cache = make();
    const hash = hashApiKey(generateApiKey());
    const slow = deferred<KeyRecord | null>();
    let loads = 0;
    const load = () => (loads++, slow.promise);
    const answers = [cache.resolve(hash, load), cache.resolve(hash, load), cache.resolve(hash, load)];
    const loaded = record('u1');
    slow.resolve(loaded);
    // resolve() answers a cached record at once, a lookup as a promise: all three join the one lookup.
    for (const answer of answers) expect(await answer).toBe(loaded);
    expect(loads).toBe(1);
  });

  it('keeps both caches and the user index within their bounds', async () => {
    const cache = make({ KEY_CACHE_MAX: '10', KEY_CACHE_NEGATIVE_MAX: '5' });
    for (let i = 0; i < 50; i++) await cache.resolve(hashApiKey(generateApiKey()), () => Promise.resolve(record(`u${i}`)));
    for (let i = 0; i < 50; i++) await cache.resolve(hashApiKey(generateApiKey()), () => Promise.resolve(null));
    const stats = cache.stats();
    expect(stats.size).toBe(10);
    expect(stats.indexedUsers).toBe(10);
    expect(stats.negativeSize).toBe(5);
  });

  it('caches nothing with KEY_CACHE_TTL_MS=0', async () => {
    const cache = make({ KEY_CACHE_TTL_MS: '0' });
    const hash = hashApiKey(generateApiKey());
    let loads = 0;
    await cache.resolve(hash, () => (loads++, Promise.resolve(record('u1'))));
    await cache.resolve(hash, () => (loads++, Promise.resolve(record('u1'))));
    expect(loads).toBe(2);
    expect(cache.stats()).toMatchObject({ enabled: false, size: 0 });
  });

  it('clears everything on an unreadable message, and applies a list of users', async () => {
    const cache = make();
    await cache.resolve(hashApiKey(generateApiKey()), () => Promise.resolve(record('u1')));
    await cache.resolve(hashApiKey(generateApiKey()), () => Promise.resolve(record('u2')));
    cache.applyMessage(JSON.stringify({ users: ['u1'] }));
    expect(cache.stats()).toMatchObject({ size: 1, indexedUsers: 1 });
    cache.applyMessage('not json');
    expect(cache.stats()).toMatchObject({ size: 0, indexedUsers: 0 });
  });
});
