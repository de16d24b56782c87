import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  adminCreateUser,
  CreatedUser,
  me,
  provisionUser,
  rowCounts,
  startTestApp,
  tablesContaining,
  TestApp,
} from './support/app';
import { grantCredits } from './support/billing';
import { createProvision, tokenOf } from './support/provisions';

/**
 * DESIGN.md row by row, over real HTTP: what a black-box test of the contract would send and
 * assert. Bad-input sweeps are in fuzz.e2e-spec.ts.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PROBLEM = /^application\/problem\+json/;
const KEY = /^pvk_[0-9A-Za-z]{38}$/;

describe('the contract (DESIGN.md), row by row', () => {
  let t: TestApp;
  let ds: DataSource;
  let guy: CreatedUser; // provisioner and owner of orchestrator.com
  let olga: CreatedUser; // provisioner of other-orch.io

  beforeAll(async () => {
    t = await startTestApp();
    ds = t.app.get(DataSource);
    guy = await adminCreateUser(t, { email: 'guy@orchestrator.com', is_provisioner: true });
    olga = await adminCreateUser(t, { email: 'olga@other-orch.io', is_provisioner: true });
  });
  afterAll(async () => t?.close());

  const createUser = (key: string, body: object, headers: Record<string, string> = {}) => {
    const req = t.http().post('/api/v1/admin/create-user').set('X-API-Key', key);
    for (const [name, value] of Object.entries(headers)) req.set(name, value);
    return req.send(body);
  };
  const postProvision = (key: string, body?: object, headers: Record<string, string> = {}) => {
    const req = t.http().post('/api/v1/provisions').set('X-API-Key', key);
    for (const [name, value] of Object.entries(headers)) req.set(name, value);
    return body === undefined ? req : req.send(body);
  };
  describe('email-domain mapping', () => {
    it('maps alice@alice-startup.com onto the provisioner domain, lower-casing the local part and keeping +tags', async () => {
      const res = await createUser(guy.api_key, { email: 'Alice+Beta@Alice-Startup.com' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        id: expect.stringMatching(UUID),
        email: 'alice+beta@orchestrator.com',
        external_email: 'Alice+Beta@Alice-Startup.com',
        organization_id: guy.organization_id,
        api_only: true,
        status: 'active',
        role: 'member',
        provisioned_by: guy.id,
        expires_at: null,
        api_key: expect.stringMatching(KEY),
      });
      const who = await me(t, res.body.api_key);
      expect(who.status).toBe(200);
      expect(who.body).toMatchObject({
        id: res.body.id,
        email: 'alice+beta@orchestrator.com',
        organization: { domain: 'orchestrator.com' },
      });
    });

    it('keeps an address already on the provisioner domain as it is', async () => {
      const res = await createUser(guy.api_key, { email: 'bob@orchestrator.com' });
      expect(res.status).toBe(201);
      expect(res.body.email).toBe('bob@orchestrator.com');
    });

    it('answers 409 naming the existing user when the mapped address exists (any case, any source domain), writing nothing', async () => {
      const first = await createUser(guy.api_key, { email: 'carol@one.io' });
      expect(first.status).toBe(201);
      const before = await rowCounts(t);
      const again = await createUser(guy.api_key, { email: 'CAROL@two.io' });
      expect(again.status).toBe(409);
      expect(again.headers['content-type']).toMatch(PROBLEM);
      expect(again.body).toMatchObject({ status: 409, existing_user_id: first.body.id });
      expect(again.body.detail).toContain(first.body.id);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('answers 400 for invalid, non-ASCII and 65-character local parts, and accepts 64 characters', async () => {
      for (const email of ['not-an-email', 'zoë@x.io', `${'a'.repeat(65)}@x.io`]) {
        const res = await createUser(guy.api_key, { email });
        expect({ email, status: res.status, type: res.headers['content-type'] }).toEqual({
          email,
          status: 400,
          type: expect.stringMatching(PROBLEM),
        });
        expect(res.body.errors).toEqual([{ field: 'email', message: expect.any(String) }]);
      }
      const ok = await createUser(guy.api_key, { email: `${'b'.repeat(64)}@x.io` });
      expect(ok.status).toBe(201);
    });

    it('refuses the provisioner flag on public mailbox domains with 422 naming the field, writing nothing, on create and on PATCH', async () => {
      const before = await rowCounts(t);
      for (const domain of ['gmail.com', 'outlook.com', 'hotmail.com', 'yahoo.com', 'icloud.com', 'proton.me']) {
        const res = await t
          .http()
          .post('/api/v1/admin/users')
          .set('X-API-Key', t.adminKey)
          .send({ email: `x@${domain}`, is_provisioner: true });
        expect({ domain, status: res.status }).toEqual({ domain, status: 422 });
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body).toMatchObject({ status: 422, errors: [{ field: 'is_provisioner', message: expect.any(String) }] });
      }
      expect(await rowCounts(t)).toEqual(before);
      const plain = await adminCreateUser(t, { email: 'someone@gmail.com' });
      const patch = await t
        .http()
        .patch(`/api/v1/admin/users/${plain.id}`)
        .set('X-API-Key', t.adminKey)
        .send({ is_provisioner: true });
      expect(patch.status).toBe(422);
    });
  });

  describe('POST /api/v1/admin/create-user', () => {
    it('accepts X-User-ID equal to the caller email in any case, and refuses another with 403', async () => {
      const ok = await createUser(guy.api_key, { email: 'dave@d.io' }, { 'X-User-ID': 'GUY@Orchestrator.COM' });
      expect(ok.status).toBe(201);
      const before = await rowCounts(t);
      const bad = await createUser(guy.api_key, { email: 'erin@e.io' }, { 'X-User-ID': 'olga@other-orch.io' });
      expect(bad.status).toBe(403);
      expect(bad.headers['content-type']).toMatch(PROBLEM);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('answers 401 without a key or with an unknown key, and 403 for a known key that is not a provisioner', async () => {
      const member = await provisionUser(t, guy.api_key, 'frank@f.io');
      const none = await t.http().post('/api/v1/admin/create-user').send({ email: 'x@y.io' });
      const unknown = await createUser('pvk_' + 'A'.repeat(38), { email: 'x@y.io' });
      const forbidden = await createUser(member.api_key, { email: 'x@y.io' });
      expect([none.status, unknown.status, forbidden.status]).toEqual([401, 401, 403]);
      for (const res of [none, unknown, forbidden]) expect(res.headers['content-type']).toMatch(PROBLEM);
    });
  });

  describe('POST /api/v1/provisions', () => {
    it('creates a pending_claim user with a working key from an empty request, answering exactly the contract fields', async () => {
      const before = Date.now();
      const res = await postProvision(guy.api_key);
      expect(res.status).toBe(201);
      for (const field of ['id', 'user_id', 'email', 'role', 'skip_onboarding', 'api_key', 'claim_url', 'expires_at', 'status']) {
        expect(res.body).toHaveProperty(field);
      }
      expect(res.body).toMatchObject({
        role: 'member',
        skip_onboarding: true,
        status: 'pending',
        api_key: expect.stringMatching(KEY),
      });
      expect(res.body.email).toMatch(/^provisioned-[0-9a-z]+@orchestrator\.com$/);
      expect(res.body.claim_url).toMatch(/^http:\/\/localhost:0\/claim\/pvc_[0-9A-Za-z]{32}$/); // PUBLIC_BASE_URL default: http://localhost:$PORT
      const ttl = new Date(res.body.expires_at).getTime() - before;
      expect(ttl).toBeGreaterThan(604_800_000 - 60_000);
      expect(ttl).toBeLessThanOrEqual(604_800_000 + 60_000);
      const who = await me(t, res.body.api_key);
      expect(who.status).toBe(200);
      expect(who.body).toMatchObject({ id: res.body.user_id, status: 'pending_claim', api_only: true });
    });

    it('takes role admin, skip_onboarding false and an email mapped onto the domain', async () => {
      const res = await postProvision(guy.api_key, { role: 'admin', skip_onboarding: false, email: 'Gina@G.io' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ role: 'admin', skip_onboarding: false, email: 'gina@orchestrator.com' });
    });

    it('lists, filters by status and reads provisions of the caller organization only', async () => {
      const p = await createProvision(t, guy.api_key);
      const list = await t.http().get('/api/v1/provisions?status=pending&limit=200').set('X-API-Key', guy.api_key);
      expect(list.status).toBe(200);
      expect(Object.keys(list.body).sort()).toEqual(['data', 'next_cursor']);
      expect(list.body.data.map((x: { id: string }) => x.id)).toContain(p.id);
      expect(list.body.data.every((x: { status: string }) => x.status === 'pending')).toBe(true);
      const one = await t.http().get(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({ id: p.id, status: 'pending' });
      expect(one.body).not.toHaveProperty('api_key');
      const other = await t.http().get(`/api/v1/provisions/${p.id}`).set('X-API-Key', olga.api_key);
      expect(other.status).toBe(404);
    });
  });

  describe('claims', () => {
    it('previews a claim link as exactly {organization, role, expires_at, status}', async () => {
      const p = await createProvision(t, guy.api_key, { role: 'admin' });
      const res = await t.http().get(`/api/v1/claims/${tokenOf(p)}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ organization: 'orchestrator.com', role: 'admin', expires_at: p.expires_at, status: 'pending' });
    });

    it('claims without a key: the placeholder becomes active with external_email, keeps its key; single use (410 after)', async () => {
      const p = await createProvision(t, guy.api_key);
      const token = tokenOf(p);
      const res = await t.http().post(`/api/v1/claims/${token}`).send({ email: 'real.person@home.org' });
      expect(res.status).toBe(200);
      const who = await me(t, p.api_key);
      expect(who.status).toBe(200);
      expect(who.body).toMatchObject({
        id: p.user_id,
        status: 'active',
        external_email: 'real.person@home.org',
        expires_at: null,
      });
      const again = await t.http().post(`/api/v1/claims/${token}`).send({ email: 'real.person@home.org' });
      expect(again.status).toBe(410);
      expect(again.headers['content-type']).toMatch(PROBLEM);
      expect((await t.http().get(`/api/v1/claims/${token}`)).status).toBe(410);
    });

    it('claims with the key of an existing active user: keys move to it, billed to the provisioning organization; the placeholder is deleted', async () => {
      const p = await createProvision(t, guy.api_key);
      const res = await t
        .http()
        .post(`/api/v1/claims/${tokenOf(p)}`)
        .set('X-API-Key', olga.api_key)
        .send({ email: 'olga@other-orch.io' });
      expect(res.status).toBe(200);
      const who = await me(t, p.api_key);
      expect(who.status).toBe(200);
      expect(who.body).toMatchObject({ id: olga.id, billing_organization_id: guy.organization_id });
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM users WHERE id = $1`, [p.user_id]);
      expect(n).toBe(0);
    });

    it('answers 404 for an unknown token', async () => {
      const res = await t.http().get(`/api/v1/claims/pvc_${'Z'.repeat(32)}`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    });

    it('serves the claim page as HTML with organization, role, an email field and a "Claim account" button', async () => {
      const p = await createProvision(t, guy.api_key);
      const res = await t.http().get(`/claim/${tokenOf(p)}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('orchestrator.com');
      expect(res.text).toContain('Claim account');
      expect(res.text).toMatch(/type="email"/);
    });
  });

  describe('users and keys', () => {
    it('GET /users pages with {data, next_cursor}: default 50, limit 1..200', async () => {
      const page = await t.http().get('/api/v1/users?limit=1').set('X-API-Key', guy.api_key);
      expect(page.status).toBe(200);
      expect(page.body.data).toHaveLength(1);
      expect(typeof page.body.next_cursor).toBe('string');
      const next = await t.http().get(`/api/v1/users?limit=1&cursor=${page.body.next_cursor}`).set('X-API-Key', guy.api_key);
      expect(next.status).toBe(200);
      expect(next.body.data[0].id).not.toBe(page.body.data[0].id);
      const all = await t.http().get('/api/v1/users').set('X-API-Key', guy.api_key);
      expect(all.body.data.length).toBeLessThanOrEqual(50);
      expect((await t.http().get('/api/v1/users?limit=200').set('X-API-Key', guy.api_key)).status).toBe(200);
      const tooMany = await t.http().get('/api/v1/users?limit=201').set('X-API-Key', guy.api_key);
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.errors).toEqual([{ field: 'limit', message: 'limit must be an integer between 1 and 200' }]);
      const twice = await t.http().get('/api/v1/users?limit=1&limit=2').set('X-API-Key', guy.api_key);
      expect(twice.status).toBe(400);
      expect(twice.body.errors).toEqual([{ field: 'limit', message: 'limit must be an integer between 1 and 200' }]);
    });

    it('DELETE /users/{id}: 204, status disabled, every key of the user 401 at once', async () => {
      const user = await provisionUser(t, guy.api_key, 'henry@h.io');
      const extra = await t.http().post('/api/v1/api-keys').set('X-API-Key', user.api_key).send({ name: 'second' });
      expect(extra.status).toBe(201);
      const del = await t.http().delete(`/api/v1/users/${user.id}`).set('X-API-Key', guy.api_key);
      expect(del.status).toBe(204);
      expect((await me(t, user.api_key)).status).toBe(401);
      expect((await me(t, extra.body.api_key)).status).toBe(401);
      const read = await t.http().get(`/api/v1/users/${user.id}`).set('X-API-Key', guy.api_key);
      expect(read.body.status).toBe('disabled');
      const keys = await t.http().get(`/api/v1/api-keys?user_id=${user.id}`).set('X-API-Key', guy.api_key);
      expect(keys.body.data).toHaveLength(2);
      expect(keys.body.data.every((k: { revoked_at: string | null }) => k.revoked_at !== null)).toBe(true);
    });

    it('API keys: the list never shows a secret; create shows it once; revoke and rotate make the old key 401 at once; a rotated key cannot be rotated again (409)', async () => {
      const user = await provisionUser(t, guy.api_key, 'ivy@i.io');
      const created = await t.http().post('/api/v1/api-keys').set('X-API-Key', user.api_key).send({});
      expect(created.status).toBe(201);
      expect(created.body.api_key).toMatch(KEY);
      const list = await t.http().get('/api/v1/api-keys').set('X-API-Key', user.api_key);
      expect(list.status).toBe(200);
      expect(list.body.data).toHaveLength(2);
      expect(JSON.stringify(list.body)).not.toMatch(/pvk_[0-9A-Za-z]{38}/);
      const rotated = await t.http().post(`/api/v1/api-keys/${created.body.id}/rotate`).set('X-API-Key', user.api_key);
      expect(rotated.status).toBe(201);
      expect((await me(t, created.body.api_key)).status).toBe(401);
      expect((await me(t, rotated.body.api_key)).status).toBe(200);
      const again = await t.http().post(`/api/v1/api-keys/${created.body.id}/rotate`).set('X-API-Key', user.api_key);
      expect(again.status).toBe(409);
      expect(again.headers['content-type']).toMatch(PROBLEM);
      const revoke = await t.http().delete(`/api/v1/api-keys/${rotated.body.id}`).set('X-API-Key', user.api_key);
      expect(revoke.status).toBe(204);
      expect((await me(t, rotated.body.api_key)).status).toBe(401);
    });
  });

  describe('operator routes', () => {
    it('PATCH /admin/users/{id} sets is_provisioner and status; disabled keys answer 401 at once, active restores them', async () => {
      const user = await provisionUser(t, guy.api_key, 'jack@j.io');
      const flag = await t
        .http()
        .patch(`/api/v1/admin/users/${user.id}`)
        .set('X-API-Key', t.adminKey)
        .send({ is_provisioner: true });
      expect(flag.status).toBe(200);
      expect(flag.body).toMatchObject({ id: user.id, is_provisioner: true });
      const off = await t
        .http()
        .patch(`/api/v1/admin/users/${user.id}`)
        .set('X-API-Key', t.adminKey)
        .send({ status: 'disabled' });
      expect(off.status).toBe(200);
      expect(off.body.status).toBe('disabled');
      expect((await me(t, user.api_key)).status).toBe(401);
      await t.http().patch(`/api/v1/admin/users/${user.id}`).set('X-API-Key', t.adminKey).send({ status: 'active' });
      expect((await me(t, user.api_key)).status).toBe(200);
    });

    it('GET /admin/organizations lists organizations with their balances', async () => {
      expect((await grantCredits(t, 'other-orch.io', 77)).status).toBe(201);
      const res = await t.http().get('/api/v1/admin/organizations?limit=200').set('X-API-Key', t.adminKey);
      expect(res.status).toBe(200);
      expect(res.body.next_cursor).toBeNull();
      const byDomain = (domain: string) => res.body.data.find((o: { domain: string }) => o.domain === domain);
      expect(byDomain('other-orch.io')).toEqual({
        id: olga.organization_id,
        domain: 'other-orch.io',
        balance: 77,
        created_at: expect.any(String),
      });
      expect(byDomain('orchestrator.com')).toEqual({
        id: guy.organization_id,
        domain: 'orchestrator.com',
        balance: 0,
        created_at: expect.any(String),
      });
    });

    it('refuses the operator routes to a provisioner with 403', async () => {
      const list = await t.http().get('/api/v1/admin/organizations').set('X-API-Key', guy.api_key);
      const create = await t.http().post('/api/v1/admin/users').set('X-API-Key', guy.api_key).send({ email: 'x@y.com' });
      const patch = await t
        .http()
        .patch(`/api/v1/admin/users/${guy.id}`)
        .set('X-API-Key', guy.api_key)
        .send({ status: 'disabled' });
      expect([list.status, create.status, patch.status]).toEqual([403, 403, 403]);
      for (const res of [list, create, patch]) expect(res.headers['content-type']).toMatch(PROBLEM);
    });
  });

  describe('service routes', () => {
    it('GET /health answers 200 with the database up, without a key', async () => {
      const res = await t.http().get('/health');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    });
  });

  describe('optional Idempotency-Key on create-user and provisions', () => {
    it('create-user: a replay answers the same user without its key (never stored), creates nothing, and the first key works', async () => {
      const key = randomUUID();
      const first = await createUser(guy.api_key, { email: 'mia@m.io' }, { 'Idempotency-Key': key });
      expect(first.status).toBe(201);
      expect(first.body.api_key).toMatch(KEY);
      expect(first.body).not.toHaveProperty('secrets_withheld');
      const before = await rowCounts(t);
      const replay = await createUser(guy.api_key, { email: 'mia@m.io' }, { 'Idempotency-Key': key });
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual({ ...first.body, api_key: null, secrets_withheld: true });
      expect(await rowCounts(t)).toEqual(before);
      expect((await me(t, first.body.api_key)).status).toBe(200);
      expect(await tablesContaining(t, first.body.api_key)).toEqual([]);
      expect(await tablesContaining(t, first.body.api_key.slice(12))).toEqual([]);
    });

    it('provisions: a replay answers the same provision without api_key and claim_url; neither secret is in any column', async () => {
      const key = randomUUID();
      const first = await postProvision(guy.api_key, { role: 'admin' }, { 'Idempotency-Key': key });
      expect(first.status).toBe(201);
      const before = await rowCounts(t);
      const replay = await postProvision(guy.api_key, { role: 'admin' }, { 'Idempotency-Key': key });
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual({ ...first.body, api_key: null, claim_url: null, secrets_withheld: true });
      expect(await rowCounts(t)).toEqual(before);
      const token = tokenOf(first.body);
      expect(await tablesContaining(t, token)).toEqual([]);
      expect(await tablesContaining(t, token.slice(4))).toEqual([]);
      expect(await tablesContaining(t, first.body.api_key.slice(12))).toEqual([]);
      expect((await t.http().get(`/api/v1/claims/${token}`)).status).toBe(200);
    });

    it('answers 422 for the same key with another body, and replays a 409 collision as 409', async () => {
      const key = randomUUID();
      expect((await createUser(guy.api_key, { email: 'nina@n.io' }, { 'Idempotency-Key': key })).status).toBe(201);
      const before = await rowCounts(t);
      const other = await createUser(guy.api_key, { email: 'otto@o.io' }, { 'Idempotency-Key': key });
      expect(other.status).toBe(422);
      expect(other.headers['content-type']).toMatch(PROBLEM);
      expect(await rowCounts(t)).toEqual(before);

      const collisionKey = randomUUID();
      const collision = await createUser(guy.api_key, { email: 'nina@elsewhere.io' }, { 'Idempotency-Key': collisionKey });
      expect(collision.status).toBe(409);
      const replayed = await createUser(guy.api_key, { email: 'nina@elsewhere.io' }, { 'Idempotency-Key': collisionKey });
      expect(replayed.status).toBe(409);
      expect(replayed.body.existing_user_id).toBe(collision.body.existing_user_id);
    });

    it('without the header, two identical requests still create two provisions (behaviour unchanged)', async () => {
      const a = await postProvision(guy.api_key, {});
      const b = await postProvision(guy.api_key, {});
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(a.body.id).not.toBe(b.body.id);
      expect(a.body.api_key).toMatch(KEY);
      expect(b.body).not.toHaveProperty('secrets_withheld');
    });
  });
});

describe('ADMIN_API_KEY: start-up makes that exact key an operator key, whatever its form', () => {
  let t: TestApp;
  const chosen = 'harness-operator-key-0001-chosen-by-hand'; // at least 32 characters

  beforeAll(async () => {
    t = await startTestApp({}, { adminKey: chosen });
  });
  afterAll(async () => t?.close());

  it('accepts a key the deployer chose (not a generated pvk_ key) as the operator key, and only that exact key', async () => {
    const ok = await t.http().get('/api/v1/admin/organizations').set('X-API-Key', chosen);
    expect(ok.status).toBe(200);
    const whoAmI = await me(t, chosen);
    expect(whoAmI.body).toMatchObject({ email: 'admin@localhost', is_operator: true });
    for (const wrong of ['harness-operator-key-0002-chosen-by-hand', chosen.toUpperCase(), `${chosen} `.trimEnd() + 'x']) {
      expect((await me(t, wrong)).status).toBe(401);
    }
  });

  it('stores it only as a hash and a short prefix (a quarter of it at most)', async () => {
    const ds = t.app.get(DataSource);
    const rows: { prefix: string }[] = await ds.query(`SELECT prefix FROM api_keys WHERE name = 'ADMIN_API_KEY'`);
    expect(rows).toEqual([{ prefix: chosen.slice(0, Math.floor(chosen.length / 4)) }]);
    const tables: { table_name: string }[] = await ds.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    for (const { table_name } of tables) {
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM "${table_name}" x WHERE strpos(x::text, $1) > 0`, [
        chosen.slice(0, 16),
      ]);
      expect({ table_name, n }).toEqual({ table_name, n: 0 });
    }
  });
});
