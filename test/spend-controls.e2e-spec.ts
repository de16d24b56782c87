import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { adminCreateUser, me, startTestApp, TestApp } from './support/app';
import { ReservationSweepJob } from '../src/billing/reservation-sweep.job';
import { charge, createBillingOrg, expectBalancesMatchLedger } from './support/billing';

const PROBLEM = 'https://provisio.dev/problems/';

function reserve(t: TestApp, apiKey: string, body: object, key: string | null = randomUUID()) {
  const req = t.http().post('/api/v1/billing/reservations').set('X-API-Key', apiKey);
  if (key !== null) req.set('Idempotency-Key', key);
  return req.send(body);
}

function putLimit(t: TestApp, apiKey: string, userId: string, body: object) {
  return t.http().put(`/api/v1/billing/spend-limits/${userId}`).set('X-API-Key', apiKey).send(body);
}

async function balance(t: TestApp, apiKey: string) {
  const res = await t.http().get('/api/v1/billing/balance').set('X-API-Key', apiKey);
  expect(res.status).toBe(200);
  return res.body as { balance: number; held: number; available: number };
}

/** held = Σ live reservations of every pool, and available never below 0. */
async function expectHeldMatchesReservations(t: TestApp): Promise<void> {
  const rows: { held: number; live: number }[] = await t.app.get(DataSource).query(
    `SELECT p.held, (SELECT COALESCE(sum(units), 0)::int FROM credit_reservations r
                      WHERE r.organization_id = p.organization_id AND r.status = 'held') AS live,
            p.balance - p.held AS available
       FROM credit_pools p`,
  );
  for (const row of rows) expect(row.held).toBe(row.live);
}

describe('spend limits and reservations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());
  afterEach(async () => {
    await expectBalancesMatchLedger(t);
    await expectHeldMatchesReservations(t);
  });

  it('a day limit refuses the charge that would pass it with 402 spend-limit-exceeded, debiting nothing', async () => {
    const org = await createBillingOrg(t, 'limits', 1000);
    const put = await putLimit(t, org.provisioner.api_key, org.alice.id, { units: 10, period: 'day' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ user_id: org.alice.id, units: 10, period: 'day', spent: 0 });
    expect(new Date(put.body.resets_at).getUTCHours()).toBe(0);

    expect((await charge(t, org.alice.api_key, { units: 7 })).status).toBe(201);
    const refused = await charge(t, org.alice.api_key, { units: 4 });
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ type: `${PROBLEM}spend-limit-exceeded`, limit: 10, spent: 7, units: 4, period: 'day' });
    expect((await balance(t, org.alice.api_key)).balance).toBe(993);
    // Bob has no limit; Alice can still spend what is left.
    expect((await charge(t, org.bob.api_key, { units: 50 })).status).toBe(201);
    expect((await charge(t, org.alice.api_key, { units: 3 })).status).toBe(201);

    const me1 = await me(t, org.alice.api_key);
    expect(me1.body.spend_limit).toMatchObject({ units: 10, period: 'day', spent: 10, remaining: 0 });
    expect((await me(t, org.bob.api_key)).body.spend_limit).toBeNull();

    const list = await t.http().get('/api/v1/billing/spend-limits').set('X-API-Key', org.provisioner.api_key);
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([expect.objectContaining({ user_id: org.alice.id, units: 10, spent: 10 })]);
    expect(list.body.next_cursor).toBeNull();
  });

  it('a day limit resets at 00:00 UTC (the window is moved back a day in the database)', async () => {
    const org = await createBillingOrg(t, 'midnight', 100);
    await putLimit(t, org.provisioner.api_key, org.alice.id, { units: 5, period: 'day' });
    expect((await charge(t, org.alice.api_key, { units: 5 })).status).toBe(201);
    expect((await charge(t, org.alice.api_key, { units: 1 })).status).toBe(402);
    const ds = t.app.get(DataSource);
    await ds.query(`UPDATE spend_limits SET window_start = window_start - interval '24 hours' WHERE user_id = $1`, [
      org.alice.id,
    ]);
    expect((await charge(t, org.alice.api_key, { units: 5 })).status).toBe(201);
    const [w] = await ds.query(
      `SELECT provisio_spend_window('day', '2026-11-30T23:59:59.999Z') AS before,
              provisio_spend_window('day', '2026-12-01T00:00:00Z') AS after,
              provisio_spend_window('month', '2026-12-31T23:59:59Z') AS month,
              provisio_spend_window_end('month', '2026-12-01T00:00:00Z') AS month_end`,
    );
    expect(new Date(w.before).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(new Date(w.after).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(new Date(w.month).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(new Date(w.month_end).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('spend-limit routes: validation, 404 outside the organization, 403 for members, DELETE', async () => {
    const org = await createBillingOrg(t, 'limit-routes', 10);
    const other = await createBillingOrg(t, 'limit-other', 0);
    expect((await putLimit(t, org.provisioner.api_key, org.alice.id, { units: 0, period: 'day' })).status).toBe(400);
    expect((await putLimit(t, org.provisioner.api_key, org.alice.id, { units: 5, period: 'week' })).status).toBe(400);
    expect((await putLimit(t, org.provisioner.api_key, 'nope', { units: 5, period: 'day' })).status).toBe(400);
    expect((await putLimit(t, org.provisioner.api_key, other.alice.id, { units: 5, period: 'day' })).status).toBe(404);
    expect((await putLimit(t, org.alice.api_key, org.bob.id, { units: 5, period: 'day' })).status).toBe(403);
    expect((await putLimit(t, org.provisioner.api_key, org.bob.id, { units: 5, period: 'total' })).body.resets_at).toBeNull();
    const del = () => t.http().delete(`/api/v1/billing/spend-limits/${org.bob.id}`).set('X-API-Key', org.provisioner.api_key);
    expect((await del()).status).toBe(204);
    expect((await del()).status).toBe(404);
  });

  it('spend_limit in create-user and provisions bodies is set with the user', async () => {
    const org = await createBillingOrg(t, 'limit-create', 100);
    const created = await t
      .http()
      .post('/api/v1/admin/create-user')
      .set('X-API-Key', org.provisioner.api_key)
      .send({ email: 'carol@c.io', spend_limit: { units: 3, period: 'month' } });
    expect(created.status).toBe(201);
    expect((await charge(t, created.body.api_key, { units: 4 })).body.type).toBe(`${PROBLEM}spend-limit-exceeded`);
    const provisioned = await t
      .http()
      .post('/api/v1/provisions')
      .set('X-API-Key', org.provisioner.api_key)
      .send({ spend_limit: { units: 2, period: 'total' } });
    expect(provisioned.status).toBe(201);
    expect((await charge(t, provisioned.body.api_key, { units: 3 })).status).toBe(402);
    const bad = await t
      .http()
      .post('/api/v1/admin/create-user')
      .set('X-API-Key', org.provisioner.api_key)
      .send({ email: 'dave@d.io', spend_limit: { units: -1, period: 'day' } });
    expect(bad.status).toBe(400);
    const [{ n }] = await t.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM users WHERE email = $1`, [`dave@${org.domain}`]);
    expect(n).toBe(0);
  });

  it('a claim transfer keeps the placeholder limit on the moved keys', async () => {
    const org = await createBillingOrg(t, 'limit-claim', 100);
    const claimant = await adminCreateUser(t, { email: `zed@claimant-${randomUUID().slice(0, 8)}.example` });
    const provisioned = await t
      .http()
      .post('/api/v1/provisions')
      .set('X-API-Key', org.provisioner.api_key)
      .send({ spend_limit: { units: 4, period: 'day' } });
    expect((await charge(t, provisioned.body.api_key, { units: 3 })).status).toBe(201);
    const token = (provisioned.body.claim_url as string).split('/').pop();
    const claimed = await t
      .http()
      .post(`/api/v1/claims/${token}`)
      .set('X-API-Key', claimant.api_key)
      .send({ email: 'zed@real.io' });
    expect(claimed.status).toBe(200);
    expect((await charge(t, provisioned.body.api_key, { units: 2 })).body.type).toBe(`${PROBLEM}spend-limit-exceeded`);
    expect((await charge(t, provisioned.body.api_key, { units: 1 })).status).toBe(201);
    expect((await me(t, provisioned.body.api_key)).body.spend_limit).toMatchObject({ units: 4, spent: 4, remaining: 0 });
  });

  it('reservations: hold, commit part (the rest released), double commit 409, release 204, commit after release 409', async () => {
    const org = await createBillingOrg(t, 'holds', 100);
    const held = await reserve(t, org.alice.api_key, { units: 30, description: 'llm call' });
    expect(held.status).toBe(201);
    expect(held.body).toMatchObject({ units: 30, status: 'held', user_id: org.alice.id });
    expect(held.body.api_key_id).toEqual(expect.any(String));
    expect(await balance(t, org.alice.api_key)).toMatchObject({ balance: 100, held: 30, available: 70 });
    expect((await charge(t, org.bob.api_key, { units: 71 })).body.type).toBe(`${PROBLEM}insufficient-credits`);
    expect((await reserve(t, org.bob.api_key, { units: 71 })).status).toBe(402);

    const commit = (id: string, units: number, key = org.alice.api_key) =>
      t.http().post(`/api/v1/billing/reservations/${id}/commit`).set('X-API-Key', key).send({ units });
    expect((await commit(held.body.id, 31)).status).toBe(400);
    expect((await commit(held.body.id, 12, org.bob.api_key)).status).toBe(403);
    const done = await commit(held.body.id, 12);
    expect(done.status).toBe(200);
    expect(done.body.reservation).toMatchObject({ status: 'committed', committed_units: 12 });
    expect(done.body.entry).toMatchObject({ delta: -12, reason: 'charge', balance_after: 88 });
    expect(await balance(t, org.alice.api_key)).toMatchObject({ balance: 88, held: 0, available: 88 });
    expect((await commit(held.body.id, 1)).status).toBe(409);
    expect(
      (await t.http().delete(`/api/v1/billing/reservations/${held.body.id}`).set('X-API-Key', org.alice.api_key)).status,
    ).toBe(409);

    const second = await reserve(t, org.bob.api_key, { units: 20 });
    const release = await t
      .http()
      .delete(`/api/v1/billing/reservations/${second.body.id}`)
      .set('X-API-Key', org.provisioner.api_key);
    expect(release.status).toBe(204);
    expect((await commit(second.body.id, 0, org.bob.api_key)).body.type).toBe(`${PROBLEM}reservation-not-held`);
    expect(await balance(t, org.bob.api_key)).toMatchObject({ balance: 88, held: 0 });
    expect(
      (
        await t
          .http()
          .post(`/api/v1/billing/reservations/${randomUUID()}/commit`)
          .set('X-API-Key', org.alice.api_key)
          .send({ units: 0 })
      ).status,
    ).toBe(404);
    expect((await reserve(t, org.alice.api_key, { units: 1 }, null)).status).toBe(400);
    expect((await reserve(t, org.alice.api_key, { units: 1, ttl_seconds: 5 })).status).toBe(400);
  });

  it('holds count against the spend limit; a release gives the units back', async () => {
    const org = await createBillingOrg(t, 'holds-limit', 100);
    await putLimit(t, org.provisioner.api_key, org.alice.id, { units: 10, period: 'day' });
    const held = await reserve(t, org.alice.api_key, { units: 8 });
    expect(held.status).toBe(201);
    expect((await charge(t, org.alice.api_key, { units: 3 })).body.type).toBe(`${PROBLEM}spend-limit-exceeded`);
    await t
      .http()
      .post(`/api/v1/billing/reservations/${held.body.id}/commit`)
      .set('X-API-Key', org.alice.api_key)
      .send({ units: 5 });
    expect((await charge(t, org.alice.api_key, { units: 5 })).status).toBe(201);
    expect((await charge(t, org.alice.api_key, { units: 1 })).status).toBe(402);
  });

  it('a hold past its expiry is released when read, and then cannot be committed', async () => {
    const org = await createBillingOrg(t, 'holds-expiry', 50);
    const held = await reserve(t, org.alice.api_key, { units: 40, ttl_seconds: 10 });
    expect(held.status).toBe(201);
    await t.app
      .get(DataSource)
      .query(`UPDATE credit_reservations SET expires_at = now() - interval '1 second' WHERE id = $1`, [held.body.id]);
    // The charge finds the expired hold in its way, releases it and goes through.
    expect((await charge(t, org.bob.api_key, { units: 45 })).status).toBe(201);
    expect(await balance(t, org.alice.api_key)).toMatchObject({ balance: 5, held: 0, available: 5 });
    const late = await t
      .http()
      .post(`/api/v1/billing/reservations/${held.body.id}/commit`)
      .set('X-API-Key', org.alice.api_key)
      .send({ units: 1 });
    expect(late.status).toBe(409);
    expect(late.body.reservation_status).toBe('expired');
  });

  it('the sweep releases holds past their expiry (units back to the pool and the limit), once', async () => {
    const org = await createBillingOrg(t, 'holds-sweep', 30);
    await putLimit(t, org.provisioner.api_key, org.alice.id, { units: 20, period: 'month' });
    const held = await reserve(t, org.alice.api_key, { units: 20, ttl_seconds: 10 });
    expect(held.status).toBe(201);
    const ds = t.app.get(DataSource);
    await ds.query(`UPDATE credit_reservations SET expires_at = now() - interval '1 second' WHERE id = $1`, [held.body.id]);
    const job = t.app.get(ReservationSweepJob);
    const [first, second] = [await job.sweep(), await job.sweep()];
    expect(first).toBeGreaterThanOrEqual(1);
    expect(second).toBe(0);
    const [row] = await ds.query(
      `SELECT r.status, p.held, l.spent FROM credit_reservations r
         JOIN credit_pools p ON p.organization_id = r.organization_id
         JOIN spend_limits l ON l.organization_id = r.organization_id AND l.user_id = r.user_id
        WHERE r.id = $1`,
      [held.body.id],
    );
    expect(row).toEqual({ status: 'expired', held: 0, spent: 0 });
    expect((await charge(t, org.alice.api_key, { units: 20 })).status).toBe(201);
  });
});
