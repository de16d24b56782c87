import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import { loadConfig, redactSecretValues, StartupRefusal } from './config/app-config';
import { EmbeddedPostgres } from './database/embedded-postgres';
import { createApp } from './app.factory';
import { GracefulShutdown } from './common/graceful-shutdown';

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig(process.env);
  let databaseUrl = config.databaseUrl;
  let embedded: EmbeddedPostgres | undefined;
  if (!databaseUrl) {
    const started = Date.now();
    embedded = await EmbeddedPostgres.start(config.dataDir);
    databaseUrl = embedded.url;
    console.log(
      `DATABASE_URL is not set: using the embedded PostgreSQL (PGlite) with its data in ${embedded.dataDir} ` +
        `(ready in ${Date.now() - started} ms). Set DATABASE_URL to use a PostgreSQL server.`,
    );
  }
  // PGlite is one backend session: concurrent connections interleave their protocol messages
  // (e.g. "unnamed prepared statement does not exist"), so the embedded database gets one connection.
  const app = await createApp({ ...config, databaseUrl, databasePoolSize: embedded ? 1 : config.databasePoolSize });
  // SIGTERM/SIGINT: drain HTTP (not-ready at once, no new connections, requests in flight and on
  // open connections answered, up to SHUTDOWN_GRACE_SECONDS), then close the app — its shutdown
  // hooks flush last_used_at, stop the jobs and close the pool — then the embedded database.
  let closing = false;
  const graceMs = config.shutdownGraceSeconds * 1000;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    // Should closing hang (a flush waiting on an unreachable database), exit anyway.
    setTimeout(() => {
      console.error(`${signal}: shutdown did not finish within ${graceMs / 1000 + 15} s; exiting`);
      process.exit(1);
    }, graceMs + 15_000).unref();
    console.log(`${signal}: not ready; draining HTTP for at most ${graceMs / 1000} s`);
    const drained = await app.get(GracefulShutdown).drain(app.getHttpServer(), graceMs);
    console.log(
      `${signal}: HTTP drained in ${drained.ms} ms (${drained.inFlightAtStart} request(s) in flight at the signal, ` +
        `${drained.arrived} arrived on open connections, ${drained.destroyed} connection(s) cut at the deadline); closing`,
    );
    await app.close();
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await app.listen({ port: config.port, host: '0.0.0.0' });
  console.log(
    `Provisio listening on ${config.publicBaseUrl} — Swagger UI: ${config.publicBaseUrl}/docs, ` +
      `OpenAPI: ${config.publicBaseUrl}/docs-json, health: ${config.publicBaseUrl}/health`,
  );
}

main().catch((error: unknown) => {
  // A refusal is the deployer's to fix: its message alone. Anything else with its stack. Either way
  // no secret of the environment is printed, even inside an error's fields (a URL's `input`).
  const text = error instanceof StartupRefusal ? error.message : `Provisio failed to start: ${inspect(error)}`;
  console.error(redactSecretValues(text, process.env));
  process.exit(1);
});
