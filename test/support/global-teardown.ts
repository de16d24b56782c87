import type { EmbeddedPostgres } from '../../src/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const servers = (globalThis as { __EMBEDDED_PG__?: EmbeddedPostgres[] }).__EMBEDDED_PG__ ?? [];
  await Promise.all(servers.map((s) => s.stop()));
}
