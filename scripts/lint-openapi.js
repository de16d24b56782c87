'use strict';
// `npm run lint:openapi`: start the BUILT service on a throw-away embedded PostgreSQL, take its
// OpenAPI document from /docs-json, and lint it with Redocly's recommended rules (0 errors wanted).
// The document is kept in bench/.work/openapi.json for a look. Set OPENAPI_LINT_KEEP=path to
// write it elsewhere.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist/src');

async function main() {
  const { loadConfig } = require(path.join(DIST, 'config/app-config.js'));
  const { EmbeddedPostgres } = require(path.join(DIST, 'database/embedded-postgres.js'));
  const { createApp } = require(path.join(DIST, 'app.factory.js'));
  const { generateApiKey } = require(path.join(DIST, 'api-keys/api-key-format.js'));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'provisio-openapi-'));
  const out = process.env.OPENAPI_LINT_KEEP || path.join(ROOT, 'bench/.work/openapi.json');
  let embedded;
  let app;
  try {
    embedded = await EmbeddedPostgres.start(path.join(dataDir, 'data'));
    const config = loadConfig({ LOG_LEVEL: 'silent', ADMIN_API_KEY: generateApiKey(), DATA_DIR: path.join(dataDir, 'data') });
    app = await createApp({ ...config, databaseUrl: embedded.url, databasePoolSize: 1 });
    const res = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/docs-json' });
    if (res.statusCode !== 200) throw new Error(`/docs-json answered ${res.statusCode}`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(JSON.parse(res.body), null, 2) + '\n');
  } finally {
    await app?.close();
    await embedded?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const redocly = path.join(ROOT, 'node_modules/.bin/redocly');
  const lint = spawnSync(redocly, ['lint', out, '--extends', 'recommended', '--format', 'stylish'], {
    stdio: 'inherit',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  process.exit(lint.status ?? 1);
}

main().catch((error) => {
  console.error('lint:openapi failed:', error);
  process.exit(1);
});
