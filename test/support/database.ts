import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  url: string;
  /** True on the embedded PGlite: one backend session, so no real concurrency. */
  embedded: boolean;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database for one test file: a new database on the TEST_DATABASE_URL server, or,
 * on the embedded default, this worker's PGlite server with its schema wiped (files in one worker
 * run one after another).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (serverUrl) {
    const name = `provisio_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      embedded: false,
      drop: () => withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
    };
  }
  const urls: string[] = JSON.parse(process.env.PROVISIO_TEST_EMBEDDED_URLS ?? '[]');
  if (urls.length === 0) throw new Error('No test database: set TEST_DATABASE_URL or run through jest (global setup)');
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  const url = urls[(worker - 1) % urls.length];
  await withClient(url, (c) => c.query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;'));
  return { url, embedded: true, drop: () => Promise.resolve() };
}

export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
