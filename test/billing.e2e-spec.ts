import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { IdempotencyKeySweeper } from '../src/common/idempotency';
import { adminCreateUser, me, rowCounts, startTestApp, TestApp } from './support/app';
import {
  balanceOf,
  BillingOrg,
  charge,
  createBillingOrg,
  expectBalancesMatchLedger,
  grantCredits,
  ledgerCount,
} from './support/billing';

const PROBLEM = /^application\/problem\+json/;

/** Row counts but for idempotency_keys: a refused business answer under an Idempotency-Key is stored, and nothing else. */
async function rowCountsButKeys(t: TestApp): Promise<Record<string, number>> {
  const counts = await rowCounts(t);
  delete counts.idempotency_keys;
  return counts;
}

describe('billing: shared credit pools, ledger, exactly-once charges', () => {
  let t: TestApp;
  let operatorId: string;

  beforeAll(async () => {
    t = await startTestApp();
    const whoAmI = await me(t, t.adminKey);
    expect(whoAmI.status).toBe(200);
    operatorId = whoAmI.body.id;
  });
  afterAll(async () => t?.close());

  // The pool invariant after every scenario: balance = Σ ledger, for every organization.
  afterEach(async () => {
    expect(await expectBalancesMatchLedger(t)).toBeGreaterThan(0);
  });

  describe('one pool shared by the users of an organization', () => {
    it('grant → charges by two provisioned users reduce the one pool → ledger attributes them → usage groups them', async () => {
      const org = await createBillingOrg(t, 'acme');
      // A user created by a provisioner is in the provisioner's organization and spends its pool.
      const aliceMe = await me(t, org.alice.api_key);
      expect(aliceMe.body).toMatchObject({
        organization_id: org.organizationId,
        billing_organization_id: org.organizationId,
      });

      const grant = await grantCredits(t, org.domain, 100, randomUUID(), 'welcome credits');
      expect(grant.status).toBe(201);
      expect(grant.headers['idempotent-replayed']).toBeUndefined();
      expect(grant.body).toMatchObject({
        organization_id: org.organizationId,
        user_id: operatorId,
        delta: 100,
        reason: 'grant',
        description: 'welcome credits',
        balance_after: 100,
      });

      const a1 = await charge(t, org.alice.api_key, { units: 30, description: 'image render' });
      expect(a1.status).toBe(201);
      expect(a1.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        organization_id: org.organizationId,
        user_id: org.alice.id,
        user_email: org.alice.email,
        api_key_id: expect.any(String),
        delta: -30,
        reason: 'charge',
        description: 'image render',
        balance_after: 70,
        idempotency_key: expect.any(String),
        created_at: expect.any(String),
      });
      const b1 = await charge(t, org.bob.api_key, { units: 20 });
      expect(b1.status).toBe(201);
      expect(b1.body).toMatchObject({ user_id: org.bob.id, delta: -20, balance_after: 50, description: null });
      const b2 = await charge(t, org.bob.api_key, { units: 5 });
      expect(b2.body).toMatchObject({ user_id: org.bob.id, delta: -5, balance_after: 45 });

      // One pool, seen the same from every key of the organization.
      for (const key of [org.alice.api_key, org.bob.api_key, org.provisioner.api_key]) {
        const res = await t.http().get('/api/v1/billing/balance').set('X-API-Key', key);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({
          organization_id: org.organizationId,
          domain: org.domain,
          balance: 45,
          held: 0,
          available: 45,
        });
      }

      const ledger = await t.http().get('/api/v1/billing/ledger').set('X-API-Key', org.provisioner.api_key);
      expect(ledger.status).toBe(200);
      expect(ledger.body.next_cursor).toBeNull();
      expect(
        ledger.body.data.map((e: { id: string; user_id: string; delta: number; balance_after: number }) => [
          e.id,
          e.user_id,
          e.delta,
          e.balance_after,
        ]),
      ).toEqual([
        [b2.body.id, org.bob.id, -5, 45],
        [b1.body.id, org.bob.id, -20, 50],
        [a1.body.id, org.alice.id, -30, 70],
        [grant.body.id, operatorId, 100, 100],
      ]);

      const aliceOnly = await t
        .http()
        .get(`/api/v1/billing/ledger?user_id=${org.alice.id}`)
        .set('X-API-Key', org.provisioner.api_key);
      expect(aliceOnly.status).toBe(200);
      expect(aliceOnly.body.data).toEqual([a1.body]);

      const usage = await t.http().get('/api/v1/billing/usage').set('X-API-Key', org.provisioner.api_key);
      expect(usage.status).toBe(200);
      expect(usage.body).toEqual({
        organization_id: org.organizationId,
        since: null,
        until: null,
        total_units: 55,
        data: [
          { user_id: org.alice.id, email: org.alice.email, units: 30, charges: 1 },
          { user_id: org.bob.id, email: org.bob.email, units: 25, charges: 2 },
        ],
        next_cursor: null,
      });
    });

    it('keeps ledger and usage to owners, admins and provisioners (403 for a member); balance is for any key', async () => {
      const org = await createBillingOrg(t, 'roles', 10);
      expect((await t.http().get('/api/v1/billing/ledger').set('X-API-Key', org.alice.api_key)).status).toBe(403);
      expect((await t.http().get('/api/v1/billing/usage').set('X-API-Key', org.alice.api_key)).status).toBe(403);
      expect(await balanceOf(t, org.alice.api_key)).toBe(10);
      const anonymous = await t.http().get('/api/v1/billing/balance');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['content-type']).toMatch(PROBLEM);
      const noKey = await t.http().post('/api/v1/billing/charges').set('Idempotency-Key', 'k').send({ units: 1 });
      expect(noKey.status).toBe(401);
    });

    it('bills a key moved to another account (as a claim does) to the organization that provisioned it', async () => {
      const org = await createBillingOrg(t, 'mover', 50);
      const other = await createBillingOrg(t, 'claimant', 0);
      const extra = await t.http().post('/api/v1/api-keys').set('X-API-Key', org.alice.api_key).send({ name: 'moved' });
      expect(extra.status).toBe(201);
      expect(extra.body.billing_organization_id).toBe(org.organizationId);
      // What a claim with an existing account does to the provisioned keys.
      await t.app.get(DataSource).query(`UPDATE api_keys SET user_id = $1 WHERE id = $2`, [other.bob.id, extra.body.id]);

      const res = await charge(t, extra.body.api_key, { units: 8 });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ organization_id: org.organizationId, user_id: other.bob.id, balance_after: 42 });
      expect(await balanceOf(t, extra.body.api_key)).toBe(42);
      expect(await balanceOf(t, other.bob.api_key)).toBe(0);
      expect(await balanceOf(t, org.provisioner.api_key)).toBe(42);
    });
  });

  describe('402 when the pool is short', () => {
    it('leaves balance, ledger and every other table unchanged, and replays the stored 402 for the same key even after a top-up', async () => {
      const org = await createBillingOrg(t, 'short', 10);
      const ledgerBefore = await ledgerCount(t, org.organizationId);
      const before = await rowCountsButKeys(t);
      const key = randomUUID();
      const res = await charge(t, org.alice.api_key, { units: 11 }, key);
      expect(res.status).toBe(402);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({
        type: 'https://provisio.dev/problems/insufficient-credits',
        title: 'Payment Required',
        status: 402,
        balance: 10,
        units: 11,
      });
      expect(await balanceOf(t, org.alice.api_key)).toBe(10);
      expect(await ledgerCount(t, org.organizationId)).toBe(ledgerBefore);
      expect(await rowCountsButKeys(t)).toEqual(before);

      expect((await grantCredits(t, org.domain, 5)).status).toBe(201);
      const replay = await charge(t, org.alice.api_key, { units: 11 }, key);
      expect(replay.status).toBe(402);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toMatchObject({ status: 402, balance: 10, units: 11 });
      // Only the code and members are stored; the replay's text is built again, the same text.
      // (request_id is the replaying request's own, like its X-Request-Id.)
      expect(replay.body).toEqual({ ...res.body, request_id: replay.headers['x-request-id'] });
      expect(await balanceOf(t, org.alice.api_key)).toBe(15);

      const fresh = await charge(t, org.alice.api_key, { units: 11 });
      expect(fresh.status).toBe(201);
      expect(fresh.body.balance_after).toBe(4);
    });

    it('an organization never granted has no pool row: balance 0, a charge is 402, a correction 422; the first grant creates the pool', async () => {
      const org = await createBillingOrg(t, 'no-pool', 0);
      const ds = t.app.get(DataSource);
      expect(await ds.query(`SELECT 1 FROM credit_pools WHERE organization_id = $1`, [org.organizationId])).toEqual([]);
      expect(await balanceOf(t, org.alice.api_key)).toBe(0);
      const res = await charge(t, org.alice.api_key, { units: 1 });
      expect(res.status).toBe(402);
      expect(res.body).toMatchObject({ status: 402, balance: 0, units: 1 });
      expect(res.body.detail).toBe('The credit pool has 0 credits; this charge needs 1. Nothing was charged.');
      const correction = await grantCredits(t, org.domain, -1);
      expect(correction.status).toBe(422);
      expect(correction.body).toMatchObject({ type: 'https://provisio.dev/problems/balance-would-go-negative', balance: 0 });
      expect(await ledgerCount(t, org.organizationId)).toBe(0);

      expect((await grantCredits(t, org.domain, 7)).body).toMatchObject({ reason: 'grant', delta: 7, balance_after: 7 });
      expect(await ds.query(`SELECT balance FROM credit_pools WHERE organization_id = $1`, [org.organizationId])).toEqual([
        { balance: 7 },
      ]);
    });

    it('charges the whole pool down to exactly 0, then refuses 1 more', async () => {
      const org = await createBillingOrg(t, 'exact', 3);
      expect((await charge(t, org.bob.api_key, { units: 3 })).body).toMatchObject({ balance_after: 0 });
      expect((await charge(t, org.bob.api_key, { units: 1 })).status).toBe(402);
      expect(await balanceOf(t, org.bob.api_key)).toBe(0);
    });
  });

  describe('Idempotency-Key', () => {
    let org: BillingOrg;
    beforeAll(async () => {
      org = await createBillingOrg(t, 'idem', 1000);
    });

    it('replays the first answer for the same key and body, and debits once', async () => {
      const key = `order-${randomUUID()}`;
      const first = await charge(t, org.alice.api_key, '{"units": 7, "description": "batch 1"}', key);
      expect(first.status).toBe(201);
      expect(first.body.idempotency_key).toBe(key);
      const balanceAfterFirst = await balanceOf(t, org.alice.api_key);
      const ledgerAfterFirst = await ledgerCount(t, org.organizationId);

      // Same body, other key order and spacing: the same request.
      const replay = await charge(t, org.alice.api_key, '{"description":"batch 1","units":7}', key);
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      const again = await charge(t, org.alice.api_key, { units: 7, description: 'batch 1' }, key);
      expect(again.body.id).toBe(first.body.id);

      expect(await balanceOf(t, org.alice.api_key)).toBe(balanceAfterFirst);
      expect(await ledgerCount(t, org.organizationId)).toBe(ledgerAfterFirst);
      const rows = await t.app.get(DataSource).query(`SELECT id FROM credit_ledger_entries WHERE idempotency_key = $1`, [key]);
      expect(rows).toEqual([{ id: first.body.id }]);
    });

    it('refuses the same key with another body of the same caller with 422, and writes nothing', async () => {
      const key = randomUUID();
      expect((await charge(t, org.alice.api_key, { units: 1 }, key)).status).toBe(201);
      const before = await rowCounts(t);
      const cases = [
        () => charge(t, org.alice.api_key, { units: 2 }, key),
        () => charge(t, org.alice.api_key, { units: 1, description: 'x' }, key),
        // (Another user of the organization has keys of its own: test/billing-attribution.e2e-spec.ts.)
      ];
      for (const send of cases) {
        const res = await send();
        expect(res.status).toBe(422);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body).toMatchObject({ status: 422, type: 'https://provisio.dev/problems/idempotency-key-reused' });
      }
      expect(await rowCounts(t)).toEqual(before);
    });

    it.each([
      ['missing', null],
      ['empty', ''],
      ['longer than 255 characters', 'k'.repeat(256)],
      ['not ASCII', 'clé-1'],
    ])('answers 400 when the key is %s, on charges and on admin credits, and writes nothing', async (_name, key) => {
      const before = await rowCounts(t);
      const res = await charge(t, org.alice.api_key, { units: 1 }, key);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({ status: 400, errors: [{ field: 'Idempotency-Key', message: expect.any(String) }] });
      const admin = t.http().post('/api/v1/admin/credits').set('X-API-Key', t.adminKey);
      if (key !== null) admin.set('Idempotency-Key', key);
      const res2 = await admin.send({ domain: org.domain, amount: 5 });
      expect(res2.status).toBe(400);
      expect(res2.body.errors[0].field).toBe('Idempotency-Key');
      expect(await rowCounts(t)).toEqual(before);
    });

    it('scopes keys to the organization: another organization may use the same key for its own charge', async () => {
      const other = await createBillingOrg(t, 'idem-other', 5);
      const key = randomUUID();
      const mine = await charge(t, org.alice.api_key, { units: 1 }, key);
      const theirs = await charge(t, other.alice.api_key, { units: 1 }, key);
      expect(mine.status).toBe(201);
      expect(theirs.status).toBe(201);
      expect(theirs.headers['idempotent-replayed']).toBeUndefined();
      expect(theirs.body.id).not.toBe(mine.body.id);
      expect(theirs.body).toMatchObject({ organization_id: other.organizationId, balance_after: 4 });
    });

    it('keeps a key 24 hours; an expired key may be used again, and the sweep deletes expired keys', async () => {
      const ds = t.app.get(DataSource);
      const key = randomUUID();
      const first = await charge(t, org.bob.api_key, { units: 2 }, key);
      expect(first.status).toBe(201);
      const [stored] = await ds.query(
        `SELECT status, response_status, expires_at - created_at >= interval '24 hours' AS kept_a_day
           FROM idempotency_keys WHERE organization_id = $1 AND key = $2`,
        [org.organizationId, key],
      );
      expect(stored).toEqual({ status: 'completed', response_status: 201, kept_a_day: true });

      await ds.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [key]);
      const reused = await charge(t, org.bob.api_key, { units: 3 }, key);
      expect(reused.status).toBe(201);
      expect(reused.headers['idempotent-replayed']).toBeUndefined();
      expect(reused.body.id).not.toBe(first.body.id);

      const liveKey = randomUUID();
      expect((await charge(t, org.bob.api_key, { units: 1 }, liveKey)).status).toBe(201);
      await ds.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE key = $1`, [key]);
      expect(await t.app.get(IdempotencyKeySweeper).sweep()).toBeGreaterThanOrEqual(1);
      const left = await ds.query(`SELECT key FROM idempotency_keys WHERE key = ANY($1) ORDER BY key`, [[key, liveKey]]);
      expect(left).toEqual([{ key: liveKey }]);
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE expires_at <= now()`);
      expect(n).toBe(0);
    });
  });

  describe('organizations are isolated', () => {
    it('another organization cannot see this pool, ledger or usage', async () => {
      const acme = await createBillingOrg(t, 'iso-acme', 40);
      const olga = await createBillingOrg(t, 'iso-olga', 0);
      expect((await charge(t, acme.alice.api_key, { units: 9 })).status).toBe(201);

      const balance = await t.http().get('/api/v1/billing/balance').set('X-API-Key', olga.provisioner.api_key);
      expect(balance.body).toEqual({
        organization_id: olga.organizationId,
        domain: olga.domain,
        balance: 0,
        held: 0,
        available: 0,
      });

      const ledger = await t.http().get('/api/v1/billing/ledger').set('X-API-Key', olga.provisioner.api_key);
      expect(ledger.status).toBe(200);
      expect(ledger.body.data).toEqual([]);
      const filtered = await t
        .http()
        .get(`/api/v1/billing/ledger?user_id=${acme.alice.id}`)
        .set('X-API-Key', olga.provisioner.api_key);
      expect(filtered.status).toBe(200);
      expect(filtered.body.data).toEqual([]);

      const usage = await t.http().get('/api/v1/billing/usage').set('X-API-Key', olga.provisioner.api_key);
      expect(usage.body).toMatchObject({ organization_id: olga.organizationId, total_units: 0, data: [] });

      // Olga's users spend Olga's empty pool, never Acme's.
      const res = await charge(t, olga.alice.api_key, { units: 1 });
      expect(res.status).toBe(402);
      expect(await balanceOf(t, acme.alice.api_key)).toBe(31);
    });
  });

  describe('operator credits', () => {
    it('answers 404 for an unknown domain and writes no ledger entry (nor anything else)', async () => {
      const before = await rowCountsButKeys(t);
      const res = await grantCredits(t, 'nobody-here.example', 10);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(await rowCountsButKeys(t)).toEqual(before);
    });

    it('refuses a correction below 0 with 422 and changes nothing; a correction within the pool is recorded', async () => {
      const org = await createBillingOrg(t, 'correct', 20);
      const ledgerBefore = await ledgerCount(t, org.organizationId);
      const before = await rowCountsButKeys(t);
      const refused = await grantCredits(t, org.domain, -21, randomUUID(), 'too much');
      expect(refused.status).toBe(422);
      expect(refused.headers['content-type']).toMatch(PROBLEM);
      expect(refused.body).toMatchObject({
        status: 422,
        type: 'https://provisio.dev/problems/balance-would-go-negative',
        balance: 20,
        errors: [{ field: 'amount', message: expect.any(String) }],
      });
      expect(await balanceOf(t, org.alice.api_key)).toBe(20);
      expect(await ledgerCount(t, org.organizationId)).toBe(ledgerBefore);
      expect(await rowCountsButKeys(t)).toEqual(before);

      const ok = await grantCredits(t, org.domain.toUpperCase(), -20, randomUUID(), 'refund reversal');
      expect(ok.status).toBe(201);
      expect(ok.body).toMatchObject({
        organization_id: org.organizationId,
        user_id: operatorId,
        delta: -20,
        reason: 'correction',
        description: 'refund reversal',
        balance_after: 0,
      });
      expect(await balanceOf(t, org.alice.api_key)).toBe(0);
    });

    it('refuses a grant that would overflow the pool with 422', async () => {
      const org = await createBillingOrg(t, 'rich', 1_000_000_000);
      expect((await grantCredits(t, org.domain, 1_000_000_000)).status).toBe(201);
      const res = await grantCredits(t, org.domain, 1_000_000_000);
      expect(res.status).toBe(422);
      expect(res.body.type).toBe('https://provisio.dev/problems/balance-limit-exceeded');
      expect(await balanceOf(t, org.alice.api_key)).toBe(2_000_000_000);
    });

    it('replays a grant for the same key and grants once', async () => {
      const org = await createBillingOrg(t, 'grant-once', 0);
      const key = randomUUID();
      const first = await grantCredits(t, org.domain, 70, key);
      const replay = await grantCredits(t, org.domain, 70, key);
      expect(first.status).toBe(201);
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(await balanceOf(t, org.alice.api_key)).toBe(70);
      expect((await grantCredits(t, org.domain, 71, key)).status).toBe(422);
    });

    it('is for operators only (403)', async () => {
      const org = await createBillingOrg(t, 'not-op', 0);
      const res = await t
        .http()
        .post('/api/v1/admin/credits')
        .set('X-API-Key', org.provisioner.api_key)
        .set('Idempotency-Key', randomUUID())
        .send({ domain: org.domain, amount: 1000 });
      expect(res.status).toBe(403);
      expect(await balanceOf(t, org.provisioner.api_key)).toBe(0);
    });
  });

  describe('ledger pages and usage windows', () => {
    it('pages the ledger newest first with next_cursor, without gaps or repeats', async () => {
      const org = await createBillingOrg(t, 'pages', 100);
      for (let i = 1; i <= 4; i++) expect((await charge(t, org.alice.api_key, { units: i })).status).toBe(201);
      const all = await t.http().get('/api/v1/billing/ledger').set('X-API-Key', org.provisioner.api_key);
      expect(all.body.data.map((e: { balance_after: number }) => e.balance_after)).toEqual([90, 94, 97, 99, 100]);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `/api/v1/billing/ledger?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const res = await t.http().get(url).set('X-API-Key', org.provisioner.api_key);
        expect(res.status).toBe(200);
        expect(res.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.data.map((e: { id: string }) => e.id));
        cursor = res.body.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(all.body.data.map((e: { id: string }) => e.id));
    });

    it('counts only charges inside [since, until)', async () => {
      const org = await createBillingOrg(t, 'window', 100);
      expect((await charge(t, org.alice.api_key, { units: 4 })).status).toBe(201);
      const get = (query: string) => t.http().get(`/api/v1/billing/usage${query}`).set('X-API-Key', org.provisioner.api_key);
      const past = new Date(Date.now() - 3600_000).toISOString();
      const future = new Date(Date.now() + 3600_000).toISOString();

      const inside = await get(`?since=${past}&until=${future}`);
      expect(inside.status).toBe(200);
      expect(inside.body).toMatchObject({
        since: past,
        until: future,
        total_units: 4,
        data: [{ user_id: org.alice.id, units: 4, charges: 1 }],
      });
      expect((await get(`?since=${future}`)).body).toMatchObject({ total_units: 0, data: [] });
      expect((await get(`?until=${past}`)).body).toMatchObject({ total_units: 0, data: [] });
    });
  });

  it('the invariant helper sees every organization', async () => {
    const org = await adminCreateUser(t, { email: 'lonely@solo.example' });
    expect(org.organization_id).toBeDefined();
    const [{ n }] = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM organizations`);
    expect(await expectBalancesMatchLedger(t)).toBe(n);
  });
});
