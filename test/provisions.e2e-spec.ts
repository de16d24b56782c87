import { DataSource } from 'typeorm';
import { generateApiKey } from '../src/api-keys/api-key-format';
import { generateClaimToken } from '../src/provisioning/claim-token';
import { ExpiryJob } from '../src/provisioning/expiry.job';
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
import { createProvision, tokenOf } from './support/provisions';
import { sleep, waitFor } from './support/wait';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PROBLEM = /^application\/problem\+json/;
const BASE_URL = 'https://claims.provisio.test';

describe('claimable provisions and claims', () => {
  let t: TestApp;
  let ds: DataSource;
  let guy: CreatedUser; // provisioner of orchestrator.com
  let olga: CreatedUser; // provisioner of other-orch.io
  let member: CreatedUser; // plain member of orchestrator.com

  beforeAll(async () => {
    // The sweep of this app never runs during the file: the "before the job" tests rely on it.
    t = await startTestApp({ PUBLIC_BASE_URL: BASE_URL, EXPIRY_SWEEP_INTERVAL_SECONDS: '86400' });
    ds = t.app.get(DataSource);
    guy = await adminCreateUser(t, { email: 'guy@orchestrator.com', is_provisioner: true });
    olga = await adminCreateUser(t, { email: 'olga@other-orch.io', is_provisioner: true });
    member = await provisionUser(t, guy.api_key, 'member@somewhere.com');
  });
  afterAll(async () => t?.close());

  const getProvision = (id: string, key = guy.api_key) => t.http().get(`/api/v1/provisions/${id}`).set('X-API-Key', key);
  const preview = (token: string) => t.http().get(`/api/v1/claims/${token}`);
  const claim = (token: string, body: object, key?: string) => {
    const req = t.http().post(`/api/v1/claims/${token}`);
    return key ? req.set('X-API-Key', key).send(body) : req.send(body);
  };
  const userExists = async (id: string) =>
    (await ds.query(`SELECT count(*)::int AS n FROM users WHERE id = $1`, [id]))[0].n === 1;
  const keysOf = async (userId: string) =>
    (await ds.query(`SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1`, [userId]))[0].n as number;
  const storedStatus = async (id: string) =>
    (await ds.query(`SELECT status FROM provisions WHERE id = $1`, [id]))[0].status as string;

  describe('create → key works → preview → claim → claimed → second claim 410', () => {
    it('runs the whole life of a claim without a key', async () => {
      const before = Date.now();
      const p = await createProvision(t, guy.api_key);
      expect(p).toMatchObject({
        user_id: expect.stringMatching(UUID),
        role: 'member',
        skip_onboarding: true,
        status: 'pending',
        organization_id: guy.organization_id,
        created_by: guy.id,
      });
      expect(p.id).toMatch(UUID);
      expect(p.email).toBe(`provisioned-${p.id.replace(/-/g, '').slice(0, 12)}@orchestrator.com`);
      expect(p.api_key).toMatch(/^pvk_[0-9A-Za-z]{38}$/);
      expect(p.claim_url).toMatch(new RegExp(`^${BASE_URL}/claim/pvc_[0-9A-Za-z]{32}$`));
      const ttlMs = new Date(p.expires_at).getTime() - before;
      expect(ttlMs).toBeGreaterThan(604_800_000 - 10_000);
      expect(ttlMs).toBeLessThanOrEqual(604_800_000 + 10_000);

      // The key works at once, as a pending_claim, API-only user that expires with the provision.
      const whoAmI = await me(t, p.api_key);
      expect(whoAmI.status).toBe(200);
      expect(whoAmI.body).toMatchObject({
        id: p.user_id,
        email: p.email,
        status: 'pending_claim',
        api_only: true,
        role: 'member',
        provisioned_by: guy.id,
        expires_at: p.expires_at,
        billing_organization_id: guy.organization_id,
      });

      const token = tokenOf(p);
      const shown = await preview(token);
      expect(shown.status).toBe(200);
      expect(shown.body).toEqual({
        organization: 'orchestrator.com',
        role: 'member',
        expires_at: p.expires_at,
        status: 'pending',
      });

      const claimed = await claim(token, { email: 'Alice@Alice-Startup.com' });
      expect(claimed.status).toBe(200);
      expect(claimed.body).toMatchObject({
        provision_id: p.id,
        status: 'claimed',
        outcome: 'activated',
        user_id: p.user_id,
        email: p.email,
        organization: 'orchestrator.com',
        moved_keys: 0,
      });

      const after = await me(t, p.api_key);
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({
        id: p.user_id,
        status: 'active',
        external_email: 'Alice@Alice-Startup.com',
        expires_at: null,
      });

      const got = await getProvision(p.id);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ status: 'claimed', user_id: p.user_id, claimed_by_user_id: p.user_id });
      expect(got.body.claimed_at).toEqual(expect.any(String));

      const again = await claim(token, { email: 'mallory@evil.example' });
      expect(again.status).toBe(410);
      expect(again.headers['content-type']).toMatch(PROBLEM);
      expect(again.body).toMatchObject({ status: 410, title: 'Gone', provision_status: 'claimed' });
      const previewAgain = await preview(token);
      expect(previewAgain.status).toBe(410);
      expect(previewAgain.body).toMatchObject({ status: 410, provision_status: 'claimed' });
      // The second attempt changed nothing.
      expect((await me(t, p.api_key)).body.external_email).toBe('Alice@Alice-Startup.com');
    });

    it('maps a given email onto the organization domain and keeps role and skip_onboarding', async () => {
      const p = await createProvision(t, guy.api_key, { email: 'Bob+x@Bob-Startup.io', role: 'admin', skip_onboarding: false });
      expect(p).toMatchObject({ email: 'bob+x@orchestrator.com', role: 'admin', skip_onboarding: false, status: 'pending' });
      const whoAmI = await me(t, p.api_key);
      expect(whoAmI.body).toMatchObject({ role: 'admin', external_email: 'Bob+x@Bob-Startup.io', status: 'pending_claim' });
      expect((await preview(tokenOf(p))).body.role).toBe('admin');
    });

    it('answers 409 naming the existing user when the mapped address exists, and writes nothing', async () => {
      const before = await rowCounts(t);
      const res = await t.http().post('/api/v1/provisions').set('X-API-Key', guy.api_key).send({ email: 'member@elsewhere.org' });
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.existing_user_id).toBe(member.id);
      expect(await rowCounts(t)).toEqual(before);
    });
  });

  describe('cancel', () => {
    it('deletes the user and keys at once: key 401, preview 410, provision cancelled; a second cancel is 409', async () => {
      const p = await createProvision(t, guy.api_key);
      expect((await me(t, p.api_key)).status).toBe(200);

      const del = await t.http().delete(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(del.status).toBe(204);

      expect((await me(t, p.api_key)).status).toBe(401);
      const shown = await preview(tokenOf(p));
      expect(shown.status).toBe(410);
      expect(shown.body).toMatchObject({ status: 410, provision_status: 'cancelled' });
      expect((await claim(tokenOf(p), { email: 'late@x.com' })).status).toBe(410);

      const got = await getProvision(p.id);
      expect(got.body).toMatchObject({ status: 'cancelled', user_id: null });
      expect(got.body.cancelled_at).toEqual(expect.any(String));
      expect(await userExists(p.user_id)).toBe(false);
      expect(await keysOf(p.user_id)).toBe(0);

      const before = await rowCounts(t);
      const again = await t.http().delete(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(again.status).toBe(409);
      expect(again.headers['content-type']).toMatch(PROBLEM);
      expect(again.body).toMatchObject({ status: 409, provision_status: 'cancelled' });
      expect(await rowCounts(t)).toEqual(before);
    });

    it('refuses to cancel a claimed provision with 409', async () => {
      const p = await createProvision(t, guy.api_key);
      expect((await claim(tokenOf(p), { email: 'keeper@x.com' })).status).toBe(200);
      const del = await t.http().delete(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(del.status).toBe(409);
      expect(del.body.provision_status).toBe('claimed');
      expect((await me(t, p.api_key)).status).toBe(200);
    });
  });

  describe('transfer into an existing account', () => {
    it('previews with the receiving key what a transfer would do, changing nothing', async () => {
      const frank = await adminCreateUser(t, { email: 'frank@frank-co.example' });
      const p = await createProvision(t, guy.api_key);
      const before = await rowCounts(t);
      const preview = await t
        .http()
        .get(`/api/v1/claims/${tokenOf(p)}`)
        .set('X-API-Key', frank.api_key);
      expect(preview.status).toBe(200);
      expect(preview.body).toEqual({
        organization: 'orchestrator.com',
        role: 'member',
        expires_at: p.expires_at,
        status: 'pending',
        transfer: {
          into_user_id: frank.id,
          into_email: 'frank@frank-co.example',
          keys: 1,
          billing_organization: 'orchestrator.com',
          scope: 'restricted',
        },
      });
      // No transfer part without a key, with the provisioned key itself, or with a restricted key.
      expect((await t.http().get(`/api/v1/claims/${tokenOf(p)}`)).body.transfer).toBeUndefined();
      expect(
        (
          await t
            .http()
            .get(`/api/v1/claims/${tokenOf(p)}`)
            .set('X-API-Key', p.api_key)
        ).body.transfer,
      ).toBeUndefined();
      expect(await rowCounts(t)).toEqual(before);
      const q = await createProvision(t, guy.api_key);
      expect((await claim(tokenOf(q), { email: 'frank@frank-co.example' }, frank.api_key)).status).toBe(200);
      const restricted = await t
        .http()
        .get(`/api/v1/claims/${tokenOf(p)}`)
        .set('X-API-Key', q.api_key);
      expect(restricted.status).toBe(200);
      expect(restricted.body.transfer).toBeUndefined();
      expect((await claim(tokenOf(p), { email: 'frank@frank-co.example' }, q.api_key)).status).toBe(403);
      expect(
        (
          await t
            .http()
            .get(`/api/v1/claims/${tokenOf(p)}`)
            .set('X-API-Key', 'pvk_not-a-key')
        ).status,
      ).toBe(401);
    });

    it('moves the keys to the account of the X-API-Key, still billed to the provisioning organization', async () => {
      const carol = await adminCreateUser(t, { email: 'carol@carol-co.com' });
      const p = await createProvision(t, guy.api_key);
      const res = await claim(tokenOf(p), { email: 'carol@carol-co.com' }, carol.api_key);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        provision_id: p.id,
        status: 'claimed',
        outcome: 'transferred',
        user_id: carol.id,
        email: 'carol@carol-co.com',
        organization: 'orchestrator.com',
        moved_keys: 1,
      });

      const whoAmI = await me(t, p.api_key);
      expect(whoAmI.status).toBe(200);
      expect(whoAmI.body).toMatchObject({
        id: carol.id,
        email: 'carol@carol-co.com',
        organization_id: carol.organization_id,
        billing_organization_id: guy.organization_id,
        scope: 'restricted',
      });
      expect(carol.organization_id).not.toBe(guy.organization_id);
      // Carol's own key is untouched and spends her own pool.
      expect((await me(t, carol.api_key)).body).toMatchObject({ id: carol.id, billing_organization_id: carol.organization_id });

      expect(await userExists(p.user_id)).toBe(false);
      expect(await keysOf(carol.id)).toBe(2);
      const got = await getProvision(p.id);
      expect(got.body).toMatchObject({ status: 'claimed', user_id: null, claimed_by_user_id: carol.id });
      expect((await claim(tokenOf(p), { email: 'carol@carol-co.com' }, carol.api_key)).status).toBe(410);
    });

    it('refuses the provisioned key itself and a pending placeholder as receivers with 409, changing nothing', async () => {
      const p = await createProvision(t, guy.api_key);
      const other = await createProvision(t, guy.api_key);
      const before = await rowCounts(t);

      const self = await claim(tokenOf(p), { email: 'x@y.com' }, p.api_key);
      expect(self.status).toBe(409);
      expect(self.headers['content-type']).toMatch(PROBLEM);
      const placeholder = await claim(tokenOf(p), { email: 'x@y.com' }, other.api_key);
      expect(placeholder.status).toBe(409);

      expect(await rowCounts(t)).toEqual(before);
      expect(await storedStatus(p.id)).toBe('pending');
      expect((await me(t, p.api_key)).body.status).toBe('pending_claim');
      expect((await preview(tokenOf(p))).status).toBe(200);
    });

    it('answers 401 for an unknown or revoked key on the claim, and the link stays usable', async () => {
      const p = await createProvision(t, guy.api_key);
      expect((await claim(tokenOf(p), { email: 'x@y.com' }, generateApiKey())).status).toBe(401);
      expect((await claim(tokenOf(p), { email: 'x@y.com' }, 'pvk_garbage')).status).toBe(401);
      expect(await storedStatus(p.id)).toBe('pending');
    });
  });

  describe('organization scoping', () => {
    it('gives another organization 404 and non-provisioners 403 on every provision route', async () => {
      const p = await createProvision(t, guy.api_key);
      const before = await rowCounts(t);

      // Another organization's provisioner: 404 (existence not revealed), and not in its list.
      const asOlga = { 'X-API-Key': olga.api_key };
      expect((await t.http().get(`/api/v1/provisions/${p.id}`).set(asOlga)).status).toBe(404);
      expect((await t.http().delete(`/api/v1/provisions/${p.id}`).set(asOlga)).status).toBe(404);
      const olgaList = await t.http().get('/api/v1/provisions?limit=200').set(asOlga);
      expect(olgaList.status).toBe(200);
      expect(olgaList.body.data.map((x: { id: string }) => x.id)).not.toContain(p.id);
      // Olga's own provisions are hers.
      const hers = await createProvision(t, olga.api_key);
      expect(hers.email).toMatch(/@other-orch\.io$/);
      expect((await t.http().get(`/api/v1/provisions/${hers.id}`).set('X-API-Key', guy.api_key)).status).toBe(404);
      await t.http().delete(`/api/v1/provisions/${hers.id}`).set(asOlga).expect(204);

      // A plain member of the same organization: 403 everywhere.
      const asMember = { 'X-API-Key': member.api_key };
      expect((await t.http().post('/api/v1/provisions').set(asMember).send({})).status).toBe(403);
      expect((await t.http().get('/api/v1/provisions').set(asMember)).status).toBe(403);
      expect((await t.http().get(`/api/v1/provisions/${p.id}`).set(asMember)).status).toBe(403);
      expect((await t.http().delete(`/api/v1/provisions/${p.id}`).set(asMember)).status).toBe(403);
      // The provisioned placeholder itself is not a provisioner either.
      expect((await t.http().get('/api/v1/provisions').set('X-API-Key', p.api_key)).status).toBe(403);
      // No key: 401.
      expect((await t.http().get('/api/v1/provisions')).status).toBe(401);
      expect((await t.http().post('/api/v1/provisions').send({})).status).toBe(401);

      expect(await storedStatus(p.id)).toBe('pending');
      const after = await rowCounts(t);
      // Olga's create and cancel left exactly one provision row behind and no user or key.
      expect(after).toEqual({ ...before, provisions: before.provisions + 1 });
    });
  });

  describe('listing', () => {
    it('pages through the organization provisions and filters by effective status', async () => {
      const lister = await adminCreateUser(t, { email: 'lister@list-org.com', is_provisioner: true });
      const made = [];
      for (let i = 0; i < 3; i++) made.push(await createProvision(t, lister.api_key));
      await t.http().delete(`/api/v1/provisions/${made[1].id}`).set('X-API-Key', lister.api_key).expect(204);
      const asLister = { 'X-API-Key': lister.api_key };

      const first = await t.http().get('/api/v1/provisions?limit=2').set(asLister);
      expect(first.status).toBe(200);
      expect(first.body.data.map((x: { id: string }) => x.id)).toEqual([made[0].id, made[1].id]);
      expect(first.body.data[0]).not.toHaveProperty('api_key');
      expect(first.body.data[0]).not.toHaveProperty('claim_url');
      expect(first.body.next_cursor).toEqual(expect.any(String));
      const second = await t.http().get(`/api/v1/provisions?limit=2&cursor=${first.body.next_cursor}`).set(asLister);
      expect(second.body.data.map((x: { id: string }) => x.id)).toEqual([made[2].id]);
      expect(second.body.next_cursor).toBeNull();

      const cancelled = await t.http().get('/api/v1/provisions?status=cancelled').set(asLister);
      expect(cancelled.body.data.map((x: { id: string }) => x.id)).toEqual([made[1].id]);
      const pending = await t.http().get('/api/v1/provisions?status=pending').set(asLister);
      expect(pending.body.data.map((x: { id: string }) => x.id)).toEqual([made[0].id, made[2].id]);
      expect((await t.http().get('/api/v1/provisions?status=claimed').set(asLister)).body.data).toEqual([]);
    });
  });

  describe('concurrent claims', () => {
    it('gives exactly one success and one 410 for two simultaneous claims of one token', async () => {
      for (let round = 0; round < 3; round++) {
        const p = await createProvision(t, guy.api_key);
        const token = tokenOf(p);
        const emails = [`first${round}@x.com`, `second${round}@x.com`];
        const results = await Promise.all(emails.map((email) => claim(token, { email })));
        expect(results.map((r) => r.status).sort()).toEqual([200, 410]);
        const winnerEmail = emails[results.findIndex((r) => r.status === 200)];
        const loser = results.find((r) => r.status === 410)!;
        expect(loser.body).toMatchObject({ status: 410, provision_status: 'claimed' });
        expect((await me(t, p.api_key)).body).toMatchObject({ status: 'active', external_email: winnerEmail });
        const stored = await ds.query(`SELECT status, claimed_email FROM provisions WHERE id = $1`, [p.id]);
        expect(stored[0]).toEqual({ status: 'claimed', claimed_email: winnerEmail });
      }
    });

    it('gives exactly one success when a keyless claim races a transfer', async () => {
      const dave = await adminCreateUser(t, { email: 'dave@dave-co.com' });
      const p = await createProvision(t, guy.api_key);
      const results = await Promise.all([
        claim(tokenOf(p), { email: 'someone@x.com' }),
        claim(tokenOf(p), { email: 'dave@dave-co.com' }, dave.api_key),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 410]);
      const whoAmI = await me(t, p.api_key);
      expect(whoAmI.status).toBe(200);
      const winner = results.find((r) => r.status === 200)!;
      expect(whoAmI.body.id).toBe(winner.body.user_id);
    });
  });

  describe('expiry, before the job has run', () => {
    it('refuses the key at once and reports the provision expired everywhere, while the row is still pending', async () => {
      const p = await createProvision(t, guy.api_key);
      // Let the provision's time pass (this app's sweep never runs during the file).
      await ds.query(`UPDATE provisions SET expires_at = now() - interval '1 second' WHERE id = $1`, [p.id]);
      await ds.query(`UPDATE users SET expires_at = now() - interval '1 second' WHERE id = $1`, [p.user_id]);

      expect((await me(t, p.api_key)).status).toBe(401);
      expect((await getProvision(p.id)).body.status).toBe('expired');
      const expiredList = await t.http().get('/api/v1/provisions?status=expired&limit=200').set('X-API-Key', guy.api_key);
      expect(expiredList.body.data.map((x: { id: string }) => x.id)).toContain(p.id);
      const pendingList = await t.http().get('/api/v1/provisions?status=pending&limit=200').set('X-API-Key', guy.api_key);
      expect(pendingList.body.data.map((x: { id: string }) => x.id)).not.toContain(p.id);
      const shown = await preview(tokenOf(p));
      expect(shown.status).toBe(410);
      expect(shown.body.provision_status).toBe('expired');
      expect((await claim(tokenOf(p), { email: 'late@x.com' })).status).toBe(410);
      const del = await t.http().delete(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(del.status).toBe(409);
      expect(del.body.provision_status).toBe('expired');

      expect(await storedStatus(p.id)).toBe('pending');
      expect(await userExists(p.user_id)).toBe(true);
    });
  });

  describe('expiry with PROVISION_TTL_SECONDS=2 and a 1 s sweep', () => {
    let fast: TestApp;
    beforeAll(async () => {
      fast = await startTestApp(
        { PUBLIC_BASE_URL: BASE_URL, PROVISION_TTL_SECONDS: '2', EXPIRY_SWEEP_INTERVAL_SECONDS: '1' },
        { db: t.db, adminKey: t.adminKey },
      );
    });
    afterAll(async () => fast?.close());

    it('refuses the key right after 2 s, reports expired, and the sweep deletes the user and keys', async () => {
      const res = await fast.http().post('/api/v1/provisions').set('X-API-Key', guy.api_key).send({});
      expect(res.status).toBe(201);
      const p = res.body;
      const expiresAt = new Date(p.expires_at).getTime();
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(2000);
      expect((await me(fast, p.api_key)).status).toBe(200);

      await sleep(Math.max(0, expiresAt - Date.now()) + 20);
      expect((await me(fast, p.api_key)).status).toBe(401);
      const got = await fast.http().get(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(got.body.status).toBe('expired');
      expect((await fast.http().get(`/api/v1/claims/${tokenOf(p)}`)).status).toBe(410);

      // The 1 s sweep rewrites the row and deletes the placeholder user and its keys.
      await waitFor('the 1 s sweep to mark the provision expired', async () => (await storedStatus(p.id)) === 'expired', {
        timeoutMs: 5000,
        everyMs: 100,
      });
      expect(await userExists(p.user_id)).toBe(false);
      expect(await keysOf(p.user_id)).toBe(0);
      const swept = await fast.http().get(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(swept.body).toMatchObject({ status: 'expired', user_id: null });
      expect(swept.body.expired_at).toEqual(expect.any(String));
    });
  });

  describe('expiry job within one process', () => {
    it('does not overlap: a sweep started while one runs returns 0, and the running one expires everything', async () => {
      const made = [];
      for (let i = 0; i < 3; i++) made.push(await createProvision(t, guy.api_key));
      const ids = made.map((p) => p.id);
      await ds.query(`UPDATE provisions SET expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])`, [ids]);
      const job = t.app.get(ExpiryJob);
      const before = job.expiredTotal;

      const results = await Promise.all([job.sweep(), job.sweep()]);
      expect(results.filter((n) => n === 0)).toHaveLength(1);
      expect(Math.max(...results)).toBeGreaterThanOrEqual(3);
      expect(job.expiredTotal - before).toBe(Math.max(...results));
      for (const p of made) {
        expect(await storedStatus(p.id)).toBe('expired');
        expect(await userExists(p.user_id)).toBe(false);
        expect((await me(t, p.api_key)).status).toBe(401);
      }
      // Nothing left: the next sweep expires nothing.
      expect(await job.sweep()).toBe(0);
    });
  });

  describe('claim page (HTML, without a browser)', () => {
    it('shows organization, role, expiry and the form; opening it never claims', async () => {
      const p = await createProvision(t, guy.api_key, { role: 'admin' });
      const page = await t.http().get(`/claim/${tokenOf(p)}`);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.text).toContain('orchestrator.com');
      expect(page.text).toContain('<dd id="role">admin</dd>');
      expect(page.text).toContain(`datetime="${p.expires_at}"`);
      expect(page.text).toContain('Claim account');
      expect((await t.http().head(`/claim/${tokenOf(p)}`)).status).toBe(200);
      expect(await storedStatus(p.id)).toBe('pending');
      expect((await preview(tokenOf(p))).body.status).toBe('pending');
    });

    it('answers unknown links with a 404 page and used links with a 410 page', async () => {
      const unknown = await t.http().get(`/claim/${generateClaimToken()}`);
      expect(unknown.status).toBe(404);
      expect(unknown.headers['content-type']).toMatch(/^text\/html/);
      expect(unknown.text).toContain('not valid');
      const malformed = await t.http().get('/claim/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
      expect(malformed.status).toBe(404);
      expect(malformed.text).not.toContain('<script>alert(1)');

      const p = await createProvision(t, guy.api_key);
      await t.http().delete(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key).expect(204);
      const cancelled = await t.http().get(`/claim/${tokenOf(p)}`);
      expect(cancelled.status).toBe(410);
      expect(cancelled.text).toContain('cancelled');
      expect(cancelled.text).not.toContain('<form');
    });
  });

  describe('secrets at rest', () => {
    it('stores neither the claim token nor the provisioned key in plaintext', async () => {
      const p = await createProvision(t, guy.api_key);
      const columns: { column_name: string }[] = await ds.query(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'provisions'`,
      );
      expect(columns.map((c) => c.column_name)).toContain('claim_token_hash');
      for (const secret of [tokenOf(p).slice(4), p.api_key.slice(12)]) {
        expect({ secret, tables: await tablesContaining(t, secret) }).toEqual({ secret, tables: [] });
      }
    });
  });
});
