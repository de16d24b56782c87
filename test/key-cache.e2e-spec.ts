import { DataSource } from 'typeorm';
import { ApiKeyCache } from '../src/api-keys/api-key-cache';
import { generateApiKey } from '../src/api-keys/api-key-format';
import { ApiKeyUsageRecorder } from '../src/api-keys/api-key-usage';
import { ApiKeyVerifier } from '../src/api-keys/api-key-verifier';
import { KEY_CACHE_LISTENER_APPLICATION_NAME } from '../src/api-keys/key-cache-listener';
import { ExpiryJob } from '../src/provisioning/expiry.job';
import { adminCreateUser, CreatedUser, me, provisionUser, startTestApp, TestApp } from './support/app';
import { describeOnRealServer, itOnRealServer } from './support/conditions';
import { createProvision, tokenOf } from './support/provisions';
import { sleep, waitFor } from './support/wait';

const ONE_SESSION = 'on the embedded PGlite a query outside an open transaction waits for it (one session)';

/** GET /me twice: the second answer must come from the cache (a hit is counted). */
async function useUntilCached(t: TestApp, key: string): Promise<void> {
  const cache = t.app.get(ApiKeyCache);
  expect((await me(t, key)).status).toBe(200);
  const hits = cache.stats().hits;
  expect((await me(t, key)).status).toBe(200);
  expect(cache.stats().hits).toBe(hits + 1);
}

async function keyIdOf(t: TestApp, key: string): Promise<string> {
  const list = await t.http().get('/api/v1/api-keys').set('X-API-Key', key);
  expect(list.status).toBe(200);
  const prefix = key.slice(0, 12);
  const found = (list.body.data as { id: string; prefix: string }[]).find((k) => k.prefix === prefix);
  if (!found) throw new Error('key not listed');
  return found.id;
}

describe('key verification cache', () => {
  let t: TestApp;
  let provisioner: CreatedUser;
  let seq = 0;
  const newUser = () => provisionUser(t, provisioner.api_key, `cached-${++seq}@x.com`);

  beforeAll(async () => {
    t = await startTestApp();
    provisioner = await adminCreateUser(t, { email: 'guy@cache-orch.com', is_provisioner: true });
  });
  afterAll(async () => t?.close());

  describe('never serves a stale answer: each change takes effect on the next request', () => {
    it('revoke', async () => {
      const user = await newUser();
      const keyId = await keyIdOf(t, user.api_key);
      await useUntilCached(t, user.api_key);
      expect((await t.http().delete(`/api/v1/api-keys/${keyId}`).set('X-API-Key', user.api_key)).status).toBe(204);
      const res = await me(t, user.api_key);
      expect(res.status).toBe(401);
      expect(res.body.detail).toMatch(/revoked/);
    });

    it('rotate: the old key is refused, the new one works', async () => {
      const user = await newUser();
      const keyId = await keyIdOf(t, user.api_key);
      await useUntilCached(t, user.api_key);
      const rotated = await t.http().post(`/api/v1/api-keys/${keyId}/rotate`).set('X-API-Key', user.api_key);
      expect(rotated.status).toBe(201);
      expect((await me(t, user.api_key)).status).toBe(401);
      const fresh = await me(t, rotated.body.api_key);
      expect(fresh.status).toBe(200);
      expect(fresh.body.id).toBe(user.id);
    });

    it('deactivate (DELETE /users/{id})', async () => {
      const user = await newUser();
      await useUntilCached(t, user.api_key);
      expect((await t.http().delete(`/api/v1/users/${user.id}`).set('X-API-Key', provisioner.api_key)).status).toBe(204);
      expect((await me(t, user.api_key)).status).toBe(401);
    });

    it('operator disables, then re-enables, a user', async () => {
      const user = await newUser();
      await useUntilCached(t, user.api_key);
      const patch = (status: string) =>
        t.http().patch(`/api/v1/admin/users/${user.id}`).set('X-API-Key', t.adminKey).send({ status });
      expect((await patch('disabled')).status).toBe(200);
      const refused = await me(t, user.api_key);
      expect(refused.status).toBe(401);
      expect(refused.body.detail).toMatch(/disabled/);
      expect((await me(t, user.api_key)).status).toBe(401); // the disabled answer is cached now
      expect((await patch('active')).status).toBe(200);
      expect((await me(t, user.api_key)).status).toBe(200);
    });

    it('operator grants the provisioner flag: the cached principal gains it at once', async () => {
      const owner = await adminCreateUser(t, { email: 'boss@flag-change.io' });
      await useUntilCached(t, owner.api_key);
      const create = () => t.http().post('/api/v1/admin/create-user').set('X-API-Key', owner.api_key).send({ email: 'e@e.com' });
      expect((await create()).status).toBe(403);
      const patch = await t
        .http()
        .patch(`/api/v1/admin/users/${owner.id}`)
        .set('X-API-Key', t.adminKey)
        .send({ is_provisioner: true });
      expect(patch.status).toBe(200);
      expect((await create()).status).toBe(201);
    });

    it("cancel: the provision's key is refused at once", async () => {
      const provision = await createProvision(t, provisioner.api_key);
      await useUntilCached(t, provision.api_key);
      const del = await t.http().delete(`/api/v1/provisions/${provision.id}`).set('X-API-Key', provisioner.api_key);
      expect(del.status).toBe(204);
      expect((await me(t, provision.api_key)).status).toBe(401);
    });

    it('claim without a key: the next /me shows the user active and no longer expiring', async () => {
      const provision = await createProvision(t, provisioner.api_key);
      await useUntilCached(t, provision.api_key);
      const before = await me(t, provision.api_key);
      expect(before.body).toMatchObject({ status: 'pending_claim', expires_at: provision.expires_at });
      const claim = await t
        .http()
        .post(`/api/v1/claims/${tokenOf(provision)}`)
        .send({ email: 'real@person.example' });
      expect(claim.status).toBe(200);
      const after = await me(t, provision.api_key);
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({
        id: provision.user_id,
        status: 'active',
        expires_at: null,
        external_email: 'real@person.example',
      });
    });

    it("claim into an existing account: the placeholder's key answers as the new user on the next request", async () => {
      const provision = await createProvision(t, provisioner.api_key);
      const receiver = await newUser();
      await useUntilCached(t, provision.api_key);
      await useUntilCached(t, receiver.api_key);
      const claim = await t
        .http()
        .post(`/api/v1/claims/${tokenOf(provision)}`)
        .set('X-API-Key', receiver.api_key)
        .send({ email: 'someone@person.example' });
      expect(claim.status).toBe(200);
      expect(claim.body).toMatchObject({ outcome: 'transferred', user_id: receiver.id });
      const moved = await me(t, provision.api_key);
      expect(moved.status).toBe(200);
      expect(moved.body).toMatchObject({ id: receiver.id, email: receiver.email, status: 'active' });
      expect((await me(t, receiver.api_key)).body.id).toBe(receiver.id);
    });

    it('expiry job: the keys it deletes stay refused (no stale entry survives the sweep)', async () => {
      const provision = await createProvision(t, provisioner.api_key);
      await useUntilCached(t, provision.api_key);
      const ds = t.app.get(DataSource);
      // Only the provision is made due (straight SQL): the cached key still carries its original expiry,
      // so only the sweep's own invalidation can refuse it now.
      await ds.query(`UPDATE provisions SET expires_at = now() - interval '1 second' WHERE id = $1`, [provision.id]);
      expect((await me(t, provision.api_key)).status).toBe(200);
      await expect(t.app.get(ExpiryJob).sweep()).resolves.toBeGreaterThanOrEqual(1);
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1`, [provision.user_id]);
      expect(n).toBe(0);
      const res = await me(t, provision.api_key);
      expect(res.status).toBe(401);
      expect(res.body.detail).toMatch(/not known/);
    });

    it('expiry: a cached key is refused once its user passes expires_at, with no invalidation', async () => {
      const user = await newUser();
      const ds = t.app.get(DataSource);
      // Straight SQL: nothing tells the cache; only evaluate() on every request can refuse it.
      await ds.query(`UPDATE users SET expires_at = now() + interval '3 seconds' WHERE id = $1`, [user.id]);
      const [{ expires_at }] = await ds.query(`SELECT expires_at FROM users WHERE id = $1`, [user.id]);
      expect(expires_at).toBeInstanceOf(Date);
      await useUntilCached(t, user.api_key);
      await sleep(Math.max(0, new Date(expires_at).getTime() - Date.now()) + 50);
      const res = await me(t, user.api_key);
      expect(res.status).toBe(401);
      expect(res.body.detail).toMatch(/expired/);
    });
  });

  it('listens for other instances on a real server; on the embedded PGlite detects that it cannot', async () => {
    const expected = t.db.embedded ? 'unsupported' : 'listening';
    await waitFor(`the key-cache listener to be ${expected}`, () => t.app.get(ApiKeyCache).stats().listener === expected);
    expect(t.app.get(ApiKeyCache).stats().listener).toBe(expected);
  });

  itOnRealServer('drops a lookup that raced a transaction: the after-commit invalidation wins', ONE_SESSION, async () => {
    const user = await newUser();
    const ds = t.app.get(DataSource);
    const cache = t.app.get(ApiKeyCache);
    const verifier = t.app.get(ApiKeyVerifier);
    await ds.transaction(async (manager) => {
      await manager.query(`UPDATE api_keys SET revoked_at = now() WHERE user_id = $1`, [user.id]);
      await cache.notifyUsersChanged(manager, [user.id]);
      // Another request, on another connection, still sees the committed (live) key and caches it.
      await expect(verifier.verify(user.api_key)).resolves.toMatchObject({ valid: true });
      expect(cache.stats().size).toBeGreaterThan(0);
    });
    await expect(verifier.verify(user.api_key)).resolves.toEqual({ valid: false, reason: 'revoked' });
  });

  describe('bounded memory', () => {
    let small: TestApp;
    beforeAll(async () => {
      small = await startTestApp(
        { KEY_CACHE_MAX: '20', KEY_CACHE_NEGATIVE_MAX: '1000' },
        t.db.embedded ? { db: t.db, adminKey: t.adminKey } : {},
      );
    });
    afterAll(async () => small?.close());

    it('10,000 requests with random well-formed unknown keys leave the caches within their bounds', async () => {
      const cache = small.app.get(ApiKeyCache);
      const before = cache.stats();
      const total = 10_000;
      let unauthorized = 0;
      for (let i = 0; i < total; i += 100) {
        const answers = await Promise.all(
          Array.from({ length: 100 }, () =>
            small.app.inject({ method: 'GET', url: '/api/v1/me', headers: { 'x-api-key': generateApiKey() } }),
          ),
        );
        unauthorized += answers.filter((a) => a.statusCode === 401).length;
      }
      expect(unauthorized).toBe(total);
      const after = cache.stats();
      expect(after.misses - before.misses).toBe(total);
      expect(after.negativeSize).toBeLessThanOrEqual(1000);
      expect(after.negativeSize).toBeGreaterThan(0);
      expect(after.size).toBeLessThanOrEqual(20);
    });

    it('malformed keys reach neither the cache nor the database', async () => {
      const cache = small.app.get(ApiKeyCache);
      const before = cache.stats();
      for (let i = 0; i < 200; i++) {
        const key = generateApiKey();
        const broken = key.slice(0, 10) + (key[10] === 'a' ? 'b' : 'a') + key.slice(11);
        const res = await small.app.inject({ method: 'GET', url: '/api/v1/me', headers: { 'x-api-key': broken } });
        expect(res.statusCode).toBe(401);
      }
      const after = cache.stats();
      expect([after.misses, after.hits, after.negativeHits]).toEqual([before.misses, before.hits, before.negativeHits]);
    });

    it('more valid keys than KEY_CACHE_MAX: entries and the user index stay within the bound', async () => {
      const smallProvisioner = await adminCreateUser(small, { email: 'owner@bounded.org', is_provisioner: true });
      const users: CreatedUser[] = [];
      for (let i = 0; i < 30; i++) users.push(await provisionUser(small, smallProvisioner.api_key, `b${i}@x.com`));
      for (const user of users) expect((await me(small, user.api_key)).status).toBe(200);
      const stats = small.app.get(ApiKeyCache).stats();
      expect(stats.size).toBeLessThanOrEqual(20);
      expect(stats.indexedUsers).toBeLessThanOrEqual(20);
      // The evicted ones still work, through a fresh lookup.
      for (const user of users.slice(0, 5)) expect((await me(small, user.api_key)).status).toBe(200);
    });
  });

  describe('last_used_at without a write per request', () => {
    const lastUsed = async (app: TestApp, keyId: string): Promise<Date | null> => {
      const [row] = await app.app.get(DataSource).query(`SELECT last_used_at FROM api_keys WHERE id = $1`, [keyId]);
      return row.last_used_at;
    };

    it('is written in a batch, and at most once a minute per key', async () => {
      const user = await newUser();
      const keyId = await keyIdOf(t, user.api_key); // this request is a use too
      const usage = t.app.get(ApiKeyUsageRecorder);
      await usage.flush();
      const first = await lastUsed(t, keyId);
      expect(first).toBeInstanceOf(Date);
      for (let i = 0; i < 20; i++) expect((await me(t, user.api_key)).status).toBe(200);
      expect(usage.pendingCount()).toBe(0);
      await usage.flush();
      expect(await lastUsed(t, keyId)).toEqual(first);
    });

    it('is flushed at shutdown', async () => {
      const other = await startTestApp({ KEY_USAGE_FLUSH_INTERVAL_MS: '60000' }, { db: t.db, adminKey: t.adminKey });
      const user = await provisionUser(other, provisioner.api_key, `shutdown-${++seq}@x.com`);
      const [{ id: keyId }] = await t.app.get(DataSource).query(`SELECT id FROM api_keys WHERE user_id = $1`, [user.id]);
      expect((await me(other, user.api_key)).status).toBe(200);
      expect(await lastUsed(t, keyId)).toBeNull();
      await other.close();
      expect(await lastUsed(t, keyId)).toBeInstanceOf(Date);
    });
  });

  describeOnRealServer('two instances on one database', 'LISTEN/NOTIFY does not cross connections on the embedded PGlite', () => {
    let a: TestApp;
    let b: TestApp;
    const listening = (app: TestApp) => app.app.get(ApiKeyCache).stats().listener === 'listening';

    beforeAll(async () => {
      a = await startTestApp();
      b = await startTestApp({}, { db: a.db, adminKey: a.adminKey });
      await waitFor('both instances to listen for key-cache invalidations', () => listening(a) && listening(b));
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
    });

    /** How long until `app` refuses `key` (the test asserts the bound; the poll gives up after 5 s). */
    const refusedWithin = (app: TestApp, key: string): Promise<number> =>
      waitFor('the other instance to refuse the key with 401', async () => (await me(app, key)).status === 401, {
        timeoutMs: 5000,
      });

    it('a revocation on one instance is refused by the other within 1 s', async () => {
      const prov = await adminCreateUser(a, { email: 'p@two-instances.com', is_provisioner: true });
      const user = await provisionUser(a, prov.api_key, 'victim@x.com');
      const keyId = await keyIdOf(a, user.api_key);
      await useUntilCached(b, user.api_key);
      expect((await a.http().delete(`/api/v1/api-keys/${keyId}`).set('X-API-Key', user.api_key)).status).toBe(204);
      expect(await refusedWithin(b, user.api_key)).toBeLessThan(1000);
    });

    it('after its listening connection is killed, an instance reconnects and hears revocations again', async () => {
      const prov = await adminCreateUser(a, { email: 'p@reconnect.com', is_provisioner: true });
      const user = await provisionUser(a, prov.api_key, 'victim2@x.com');
      const dbName = new URL(a.db.url).pathname.slice(1);
      const connects = [a, b].map((app) => app.app.get(ApiKeyCache).stats().listenerConnects);
      const killed: unknown[] = await a.app
        .get(DataSource)
        .query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`, [
          KEY_CACHE_LISTENER_APPLICATION_NAME,
          dbName,
        ]);
      expect(killed.length).toBe(2);
      await waitFor('both instances to reconnect their listeners', () =>
        [a, b].every((app, i) => app.app.get(ApiKeyCache).stats().listenerConnects > connects[i] && listening(app)),
      );
      await useUntilCached(b, user.api_key);
      expect((await a.http().delete(`/api/v1/users/${user.id}`).set('X-API-Key', prov.api_key)).status).toBe(204);
      expect(await refusedWithin(b, user.api_key)).toBeLessThan(1000);
    });
  });
});
