import { EmbeddedPostgres } from '../../src/database/embedded-postgres';

/**
 * Without TEST_DATABASE_URL, starts one embedded PostgreSQL per jest worker (a PGlite server is a
 * single backend session, so workers must not share one). Test files find theirs by JEST_WORKER_ID.
 */
export default async function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    console.log(`\nTests use the PostgreSQL server at TEST_DATABASE_URL (one fresh database per test file).`);
    return;
  }
  const count = Math.max(1, globalConfig.maxWorkers);
  const servers = await Promise.all(Array.from({ length: count }, () => EmbeddedPostgres.start('memory://', 64)));
  (globalThis as { __EMBEDDED_PG__?: EmbeddedPostgres[] }).__EMBEDDED_PG__ = servers;
  process.env.PROVISIO_TEST_EMBEDDED_URLS = JSON.stringify(servers.map((s) => s.url));
  console.log(`\nTEST_DATABASE_URL is not set: tests use ${count} embedded PostgreSQL (PGlite) server(s).`);
}
