import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ExpiryJob } from '../src/provisioning/expiry.job';
import { adminCreateUser, provisionUser, startTestApp, TestApp } from './support/app';
import { charge, createBillingOrg, expectBalancesMatchLedger, grantCredits } from './support/billing';
import { createProvision, tokenOf } from './support/provisions';

describe('billing: who spent, per-user Idempotency-Keys, paginated usage', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());
  afterEach(async () => {
    await expectBalancesMatchLedger(t);
  });

  describe('Idempotency-Keys are scoped to the calling user', () => {
    it('two users of one organization use the same key string with different bodies: both 201, both charged', async () => {
      const org = await createBillingOrg(t, 'idem-users', 100);
      const key = `shared-${randomUUID()}`;
      const alice = await charge(t, org.alice.api_key, { units: 3 }, key);
      const bob = await charge(t, org.bob.api_key, { units: 4 }, key);
      expect([alice.status, bob.status]).toEqual([201, 201]);
      expect(alice.body).toMatchObject({ user_id: org.alice.id, delta: -3, idempotency_key: key });
      expect(bob.body).toMatchObject({ user_id: org.bob.id, delta: -4, idempotency_key: key });
      expect(bob.headers['idempotent-replayed']).toBeUndefined();
      // Each replays its own answer; the other's body under the same key is still a reuse (422) for each.
      const aliceAgain = await charge(t, org.alice.api_key, { units: 3 }, key);
      expect(aliceAgain.status).toBe(201);
      expect(aliceAgain.headers['idempotent-replayed']).toBe('true');
      expect(aliceAgain.body).toEqual(alice.body);
      expect((await charge(t, org.bob.api_key, { units: 3 }, key)).status).toBe(422);
      const balance = await t.http().get('/api/v1/billing/balance').set('X-API-Key', org.alice.api_key);
      expect(balance.body.balance).toBe(93);
    });

    it('two provisioners of one organization create users with the same key string: both 201', async () => {
      const first = await adminCreateUser(t, { email: 'p1@idem-prov.example', is_provisioner: true });
      const second = await adminCreateUser(t, { email: 'p2@idem-prov.example', is_provisioner: true });
      expect(second.organization_id).toBe(first.organization_id);
      const key = `create-${randomUUID()}`;
      const a = await t
        .http()
        .post('/api/v1/admin/create-user')
        .set('X-API-Key', first.api_key)
        .set('Idempotency-Key', key)
        .send({ email: 'x@one.io' });
      const b = await t
        .http()
        .post('/api/v1/admin/create-user')
        .set('X-API-Key', second.api_key)
        .set('Idempotency-Key', key)
        .send({ email: 'y@two.io' });
      expect([a.status, b.status]).toEqual([201, 201]);
      expect([a.body.email, b.body.email]).toEqual(['x@idem-prov.example', 'y@idem-prov.example']);
    });
  });

  describe('a ledger entry keeps who spent it after that user is deleted', () => {
    it.each([
      ['a cancelled provision', 'cancel'],
      ['a provision transferred to an existing account by a claim', 'transfer'],
      ['an expired provision (swept by the expiry job)', 'expire'],
    ] as const)('%s: the placeholder is deleted, its charges keep user_id and user_email', async (_what, how) => {
      const org = await createBillingOrg(t, `spender-${how}`, 50);
      const p = await createProvision(t, org.provisioner.api_key, { email: `end-user-${how}@customer.io` });
      const spent = await charge(t, p.api_key, { units: 7, description: 'before deletion' });
      expect(spent.status).toBe(201);
      expect(spent.body).toMatchObject({ user_id: p.user_id, user_email: p.email });

      if (how === 'cancel') {
        expect((await t.http().delete(`/api/v1/provisions/${p.id}`).set('X-API-Key', org.provisioner.api_key)).status).toBe(204);
      } else if (how === 'expire') {
        await t.app.get(DataSource).query(`UPDATE provisions SET expires_at = now() - interval '1 second' WHERE id = $1`, [p.id]);
        expect(await t.app.get(ExpiryJob).sweep()).toBeGreaterThanOrEqual(1);
      } else {
        const claimant = await provisionUser(t, org.provisioner.api_key, `claimant-${how}@customer.io`);
        const claimed = await t
          .http()
          .post(`/api/v1/claims/${tokenOf(p)}`)
          .set('X-API-Key', claimant.api_key)
          .send({ email: `real-${how}@customer.io` });
        expect(claimed.status).toBe(200);
      }
      const [{ n }] = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM users WHERE id = $1`, [p.user_id]);
      expect(n).toBe(0);

      const ledger = await t.http().get('/api/v1/billing/ledger').set('X-API-Key', org.provisioner.api_key);
      expect(ledger.status).toBe(200);
      const entry = ledger.body.data.find((e: { id: string }) => e.id === spent.body.id);
      // The key itself is gone with a cancelled or expired placeholder (api_key_id null then); who spent is kept.
      expect(entry).toEqual({ ...spent.body, api_key_id: how === 'transfer' ? spent.body.api_key_id : null });
      expect(entry).toMatchObject({ user_id: p.user_id, user_email: p.email, delta: -7 });
      const byUser = await t.http().get(`/api/v1/billing/ledger?user_id=${p.user_id}`).set('X-API-Key', org.provisioner.api_key);
      expect(byUser.body.data).toEqual([entry]);

      const usage = await t.http().get('/api/v1/billing/usage').set('X-API-Key', org.provisioner.api_key);
      expect(usage.status).toBe(200);
      expect(usage.body.data).toEqual([{ user_id: p.user_id, email: p.email, units: 7, charges: 1 }]);
    });
  });

  describe('GET /api/v1/billing/usage is cursor-paginated', () => {
    it('pages users most units first, then by user id, without gaps or repeats, totals over all pages', async () => {
      const org = await createBillingOrg(t, 'usage-pages', 1000);
      const carol = await provisionUser(t, org.provisioner.api_key, 'carol@c.io');
      const dave = await provisionUser(t, org.provisioner.api_key, 'dave@d.io');
      // alice 5, bob 9, carol 5, dave 2 (and one charge of the provisioner: 1)
      for (const [key, units] of [
        [org.alice.api_key, 2],
        [org.alice.api_key, 3],
        [org.bob.api_key, 9],
        [carol.api_key, 5],
        [dave.api_key, 2],
        [org.provisioner.api_key, 1],
      ] as const) {
        expect((await charge(t, key, { units })).status).toBe(201);
      }
      const expected = [
        { user_id: org.bob.id, email: org.bob.email, units: 9, charges: 1 },
        ...[
          { user_id: org.alice.id, email: org.alice.email, units: 5, charges: 2 },
          { user_id: carol.id, email: carol.email, units: 5, charges: 1 },
        ].sort((a, b) => (a.user_id < b.user_id ? -1 : 1)),
        { user_id: dave.id, email: dave.email, units: 2, charges: 1 },
        { user_id: org.provisioner.id, email: org.provisioner.email, units: 1, charges: 1 },
      ];

      const all = await t.http().get('/api/v1/billing/usage').set('X-API-Key', org.provisioner.api_key);
      expect(all.body).toMatchObject({ total_units: 22, data: expected, next_cursor: null });

      const seen: unknown[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `/api/v1/billing/usage?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const res = await t.http().get(url).set('X-API-Key', org.provisioner.api_key);
        expect(res.status).toBe(200);
        expect(res.body.total_units).toBe(22);
        expect(res.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.data);
        cursor = res.body.next_cursor;
        pages++;
        // A charge while paging does not move anyone across pages: the window ends where the first page was read.
        if (pages === 1) expect((await charge(t, dave.api_key, { units: 100 })).status).toBe(201);
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(expected);
    });

    it('refuses a cursor it did not return (400) and a limit out of range', async () => {
      const org = await createBillingOrg(t, 'usage-bad', 10);
      for (const query of [
        'cursor=abc',
        `cursor=${Buffer.from('["1","x","y"]').toString('base64url')}`,
        'limit=0',
        'limit=201',
      ]) {
        const res = await t.http().get(`/api/v1/billing/usage?${query}`).set('X-API-Key', org.provisioner.api_key);
        expect({ query, status: res.status }).toEqual({ query, status: 400 });
      }
    });
  });

  it('grants keep the granting operator and its email too', async () => {
    const org = await createBillingOrg(t, 'grant-email');
    const grant = await grantCredits(t, org.domain, 5);
    expect(grant.status).toBe(201);
    expect(grant.body.user_email).toBe('admin@localhost');
  });
});
