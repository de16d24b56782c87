import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp, ProvisioApp } from '../../src/app.factory';
import { generateApiKey } from '../../src/api-keys/api-key-format';
import { loadConfig } from '../../src/config/app-config';
import { createTestDatabase, TestDatabase } from './database';

export interface TestApp {
  app: ProvisioApp;
  db: TestDatabase;
  /** The operator's key (ADMIN_API_KEY). */
  adminKey: string;
  http: () => ReturnType<typeof request>;
  close(): Promise<void>;
}

/** Starts the real application (same factory as main.ts) on a database of its own. */
export async function startTestApp(
  env: Record<string, string> = {},
  options: { db?: TestDatabase; adminKey?: string; logDestination?: { write(line: string): void } } = {},
): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const adminKey = options.adminKey ?? generateApiKey();
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ADMIN_EMAIL: 'admin@localhost',
    ADMIN_API_KEY: adminKey,
    // One connection on the embedded PGlite, as `npm start` uses (see src/main.ts).
    DATABASE_POOL_SIZE: db.embedded ? '1' : '5',
    // last_used_at is written in the background every few seconds; tests that compare whole tables
    // before and after a request must not see such a write land in between. Tests of it call
    // ApiKeyUsageRecorder.flush() (or close the app) instead.
    KEY_USAGE_FLUSH_INTERVAL_MS: '60000',
    // Every request of a test file comes from one address, many with one key, far faster than any
    // client would: rate limits are off unless a test turns them on (test/rate-limit*.e2e-spec.ts).
    RATE_LIMIT_KEY_PER_MINUTE: '0',
    RATE_LIMIT_IP_PER_MINUTE: '0',
    ...env,
    DATABASE_URL: db.url,
  });
  const app = await createApp({ ...config, databaseUrl: db.url }, { logDestination: options.logDestination });
  const server = app.getHttpServer();
  return {
    app,
    db,
    adminKey,
    http: () => request(server),
    close: async () => {
      await app.close();
      if (!options.db) await db.drop();
    },
  };
}

export interface CreatedUser {
  id: string;
  email: string;
  api_key: string;
  organization_id: string;
  [field: string]: unknown;
}

/** Operator creates a user (201 asserted). */
export async function adminCreateUser(
  t: TestApp,
  body: { email: string; is_provisioner?: boolean; role?: string },
): Promise<CreatedUser> {
  const res = await t.http().post('/api/v1/admin/users').set('X-API-Key', t.adminKey).send(body);
  if (res.status !== 201) throw new Error(`admin create user ${body.email}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as CreatedUser;
}

/** Provisioner creates an API-only user (201 asserted). */
export async function provisionUser(t: TestApp, provisionerKey: string, email: string): Promise<CreatedUser> {
  const res = await t.http().post('/api/v1/admin/create-user').set('X-API-Key', provisionerKey).send({ email });
  if (res.status !== 201) throw new Error(`create-user ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as CreatedUser;
}

/** GET /api/v1/me with `key`. */
export function me(t: TestApp, key: string) {
  return t.http().get('/api/v1/me').set('X-API-Key', key);
}

/** The tables with a row whose text (every column, as PostgreSQL prints it) contains `needle`: to prove a secret is not stored. */
export async function tablesContaining(t: TestApp, needle: string): Promise<string[]> {
  const dataSource = t.app.get(DataSource);
  const tables: { table_name: string }[] = await dataSource.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const hits: string[] = [];
  for (const { table_name } of tables) {
    const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM "${table_name}" x WHERE strpos(x::text, $1) > 0`, [
      needle,
    ]);
    if (n > 0) hits.push(table_name);
  }
  return hits;
}

/** Every row count of the tables the API writes, to prove a refused request wrote nothing (one query). */
export async function rowCounts(t: TestApp): Promise<Record<string, number>> {
  const dataSource = t.app.get(DataSource);
  const rows: { table_name: string }[] = await dataSource.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'typeorm_migrations' ORDER BY 1`,
  );
  const counts: { t: string; n: number }[] = await dataSource.query(
    rows.map(({ table_name }) => `SELECT '${table_name}' AS t, count(*)::int AS n FROM "${table_name}"`).join(' UNION ALL '),
  );
  return Object.fromEntries(counts.map(({ t: table, n }) => [table, n]));
}
