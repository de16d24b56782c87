import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { Client } from 'pg';
import { generateApiKey } from '../../../src/api-keys/api-key-format';
import { createTestDatabase, TestDatabase } from '../../support/database';
import { HttpLoad, Outcome, RequestSpec, send } from './http-load';
import { ServiceProcess } from './service';

/** The machine's PostgreSQL server that TEST_DATABASE_URL names (fault tests need a real one). */
export const SERVER_URL = process.env.TEST_DATABASE_URL;
export const describeWithServer = SERVER_URL ? describe : describe.skip;
export const SKIP_REASON = SERVER_URL ? '' : ' (skipped: set TEST_DATABASE_URL to a real PostgreSQL server)';
if (!SERVER_URL) console.warn(`Fault tests skipped: they need a real PostgreSQL server; set TEST_DATABASE_URL.`);

export const DOMAIN = 'faults.example';
const CREDITS = 1_000_000_000;

export interface Tenant {
  adminKey: string;
  provisionerKey: string;
  provisionerId: string;
  organizationId: string;
}

export async function freshDatabase(): Promise<TestDatabase> {
  return createTestDatabase();
}

/** Env for a service instance on `databaseUrl`, with a known operator key. */
export function serviceEnv(databaseUrl: string, adminKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    ADMIN_EMAIL: 'operator@localhost',
    ADMIN_API_KEY: adminKey,
    DATABASE_POOL_SIZE: '10',
    ...extra,
  };
}

export function newAdminKey(): string {
  return generateApiKey();
}

/** Creates the provisioner of DOMAIN and grants its pool plenty of credits. */
export async function setUpTenant(service: ServiceProcess, adminKey: string): Promise<Tenant> {
  const agent = new Agent({ keepAlive: false });
  const created = await send(agent, service.port, {
    kind: 'setup',
    method: 'POST',
    path: '/api/v1/admin/users',
    headers: { 'x-api-key': adminKey },
    body: { email: `provisioner@${DOMAIN}`, is_provisioner: true },
  });
  if (created.status !== 201)
    throw new Error(`create provisioner: ${created.status ?? created.error} ${JSON.stringify(created.body)}`);
  const user = created.body as { id: string; api_key: string; organization_id: string };
  const granted = await send(agent, service.port, {
    kind: 'setup',
    method: 'POST',
    path: '/api/v1/admin/credits',
    headers: { 'x-api-key': adminKey, 'idempotency-key': randomUUID() },
    body: { domain: DOMAIN, amount: CREDITS },
  });
  if (granted.status !== 201)
    throw new Error(`grant credits: ${granted.status ?? granted.error} ${JSON.stringify(granted.body)}`);
  return { adminKey, provisionerKey: user.api_key, provisionerId: user.id, organizationId: user.organization_id };
}

/** The mixed load of the issue: create-user, a charge with an Idempotency-Key, and /me, in turn. */
export function mixedRequests(tenant: Tenant, tag: string): (client: number, n: number) => RequestSpec {
  const key = { 'x-api-key': tenant.provisionerKey };
  return (client, n) => {
    switch (n % 3) {
      case 0:
        return {
          kind: 'create-user',
          method: 'POST',
          path: '/api/v1/admin/create-user',
          headers: key,
          body: { email: `${tag}-${client}-${n}@elsewhere.example` },
        };
      case 1:
        return {
          kind: 'charge',
          method: 'POST',
          path: '/api/v1/billing/charges',
          headers: { ...key, 'idempotency-key': randomUUID() },
          body: { units: 1 },
        };
      default:
        return { kind: 'me', method: 'GET', path: '/api/v1/me', headers: key };
    }
  };
}

export function acknowledged(outcomes: Outcome[]): { users: string[]; entries: string[] } {
  const ok = (kind: string) =>
    outcomes.filter((o) => o.spec.kind === kind && o.status === 201).map((o) => (o.body as { id: string }).id);
  return { users: ok('create-user'), entries: ok('charge') };
}

export async function withDatabase<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** What the database holds of the acknowledged writes, and the invariants the contract names. */
export async function auditDatabase(url: string, ack: { users: string[]; entries: string[] }) {
  return withDatabase(url, async (db) => {
    const users = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE id = ANY($1::uuid[])`, [ack.users]);
    const entries = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM credit_ledger_entries WHERE id = ANY($1::uuid[])`,
      [ack.entries],
    );
    const keyless = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM users u WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.user_id = u.id)`,
    );
    const unbalanced = await db.query<{ domain: string; balance: number; sum: number }>(
      `SELECT o.domain, COALESCE(p.balance, 0) AS balance, l.sum
         FROM organizations o
         LEFT JOIN credit_pools p ON p.organization_id = o.id
         CROSS JOIN LATERAL (SELECT COALESCE(sum(delta), 0)::int AS sum FROM credit_ledger_entries e WHERE e.organization_id = o.id) l
        WHERE COALESCE(p.balance, 0) <> l.sum`,
    );
    return {
      acknowledgedUsersPresent: `${users.rows[0].n}/${ack.users.length}`,
      acknowledgedEntriesPresent: `${entries.rows[0].n}/${ack.entries.length}`,
      usersWithoutKey: keyless.rows[0].n,
      poolsWhoseBalanceIsNotTheLedgerSum: unbalanced.rows,
    };
  });
}

/** Polls `check` every 50 ms until it is true; fails with `what` after `ms`. */
export async function waitFor(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function summarize(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = `${o.spec.kind} ${o.status ?? o.error}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

export { HttpLoad, send };
export type { Outcome };
