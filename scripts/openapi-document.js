#!/usr/bin/env node
/**
 * Writes the OpenAPI document the service serves at /docs-json to sdk/openapi.json, from the built
 * application (`npm run build` first: the @nestjs/swagger CLI plugin only runs in `nest build`).
 *
 * The real application is started (same factory as `npm start`) on a throw-away embedded database
 * in a temporary folder, without listening on any port; /docs-json is read through Fastify's
 * inject, and everything is stopped and removed afterwards. No DATABASE_URL or server is needed.
 */
'use strict';
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const dist = join(root, 'dist', 'src');

async function main() {
  const { createApp } = require(join(dist, 'app.factory'));
  const { loadConfig } = require(join(dist, 'config', 'app-config'));
  const { EmbeddedPostgres } = require(join(dist, 'database', 'embedded-postgres'));
  const { generateApiKey } = require(join(dist, 'api-keys', 'api-key-format'));

  const dataDir = mkdtempSync(join(tmpdir(), 'provisio-openapi-'));
  let embedded;
  let app;
  try {
    embedded = await EmbeddedPostgres.start(join(dataDir, 'data'));
    // A key of our own, so start-up prints none; nothing outside this process ever sees it.
    const config = loadConfig({ LOG_LEVEL: 'silent', PORT: '3000', ADMIN_API_KEY: generateApiKey(), DATA_DIR: dataDir });
    app = await createApp({ ...config, databaseUrl: embedded.url, databasePoolSize: 1 });
    const res = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/docs-json' });
    if (res.statusCode !== 200) throw new Error(`/docs-json answered ${res.statusCode}: ${res.body}`);
    const document = JSON.parse(res.body);
    const out = join(root, 'sdk', 'openapi.json');
    writeFileSync(out, JSON.stringify(document, null, 2) + '\n');
    console.log(`wrote ${out} (${Object.keys(document.paths).length} paths)`);
  } finally {
    if (app) await app.close();
    if (embedded) await embedded.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error('could not write the OpenAPI document:', error);
  process.exit(1);
});
