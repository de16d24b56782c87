import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { adminCreateUser, CreatedUser, provisionUser, TestApp } from './app';

/**
 * Asserts the pool invariant for every organization: balance = Σ ledger deltas, and never below 0.
 * Returns how many organizations were checked.
 */
export async function expectBalancesMatchLedger(t: TestApp): Promise<number> {
  const rows: { domain: string; balance: number; ledger_sum: string }[] = await t.app.get(DataSource).query(
    `SELECT o.domain, COALESCE(p.balance, 0) AS balance,
            (SELECT COALESCE(sum(l.delta), 0)::bigint FROM credit_ledger_entries l WHERE l.organization_id = o.id) AS ledger_sum
       FROM organizations o
       LEFT JOIN credit_pools p ON p.organization_id = o.id
      ORDER BY o.domain`,
  );
  const actual = rows.map((r) => ({ domain: r.domain, balance: r.balance }));
  const expected = rows.map((r) => ({ domain: r.domain, balance: Number(r.ledger_sum) }));
  expect(actual).toEqual(expected);
  expect(rows.every((r) => r.balance >= 0)).toBe(true);
  return rows.length;
}

export interface BillingOrg {
  domain: string;
  organizationId: string;
  provisioner: CreatedUser;
  alice: CreatedUser;
  bob: CreatedUser;
}

let orgCounter = 0;

/** A new organization: a provisioner (its owner) and two users it provisioned; optionally a grant. */
export async function createBillingOrg(t: TestApp, name: string, grant = 0): Promise<BillingOrg> {
  const domain = `${name}-${++orgCounter}.example`;
  const provisioner = await adminCreateUser(t, { email: `guy@${domain}`, is_provisioner: true });
  const alice = await provisionUser(t, provisioner.api_key, `alice@a${orgCounter}.io`);
  const bob = await provisionUser(t, provisioner.api_key, `bob@b${orgCounter}.io`);
  if (grant > 0) {
    const res = await grantCredits(t, domain, grant);
    if (res.status !== 201) throw new Error(`grant to ${domain}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { domain, organizationId: provisioner.organization_id, provisioner, alice, bob };
}

export function grantCredits(t: TestApp, domain: string, amount: number, key: string = randomUUID(), reason?: string) {
  return t
    .http()
    .post('/api/v1/admin/credits')
    .set('X-API-Key', t.adminKey)
    .set('Idempotency-Key', key)
    .send({ domain, amount, ...(reason !== undefined ? { reason } : {}) });
}

export function charge(t: TestApp, apiKey: string, body: object | string, key: string | null = randomUUID()) {
  const req = t.http().post('/api/v1/billing/charges').set('X-API-Key', apiKey);
  if (key !== null) req.set('Idempotency-Key', key);
  if (typeof body === 'string') req.set('Content-Type', 'application/json');
  return req.send(body);
}

export async function balanceOf(t: TestApp, apiKey: string): Promise<number> {
  const res = await t.http().get('/api/v1/billing/balance').set('X-API-Key', apiKey);
  if (res.status !== 200) throw new Error(`balance: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.balance as number;
}

export async function ledgerCount(t: TestApp, organizationId: string): Promise<number> {
  const [{ n }] = await t.app
    .get(DataSource)
    .query(`SELECT count(*)::int AS n FROM credit_ledger_entries WHERE organization_id = $1`, [organizationId]);
  return n as number;
}
