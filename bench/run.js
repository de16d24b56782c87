'use strict';
// `npm run bench`: load the BUILT service (production mode, real logger settings) on a fresh
// PostgreSQL database, and measure a reference for every figure in the same run. See bench/README.md.
//
// Environment:
//   BENCH_DATABASE_URL  admin connection to the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres);
//                       a fresh database is created on it for the run and dropped at the end
//   BENCH_SECONDS       seconds per measured run (default 5)
//   BENCH_PAIRS         service/reference pairs per figure (default 3; medians are reported)
//   BENCH_FIGURES       comma-separated subset of me,me_redis,create_user,charges (default: all the service supports)
//   BENCH_REDIS_URL     Redis for the me_redis figure (default redis://127.0.0.1:6379; the figure is skipped when it does not answer)
//   BENCH_NODE_OPTIONS  extra node flags for the service process (e.g. --cpu-prof --cpu-prof-dir=bench/.work)
//   BENCH_SERVICE_ENV   JSON object of extra environment variables for the service (e.g. '{"KEY_CACHE_TTL_MS":"0"}')
//   BENCH_LOG_LEVEL     the service's LOG_LEVEL (default info, as in production)
//   BENCH_SERVICE_ROOT  another checkout whose built service to measure (default this one), e.g. to record "before" figures
const { spawn } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { Client } = require('pg');

const ROOT = path.resolve(process.env.BENCH_SERVICE_ROOT || path.join(__dirname, '..'));
const WORK = path.join(__dirname, '.work');
const SECONDS = positiveInt(process.env.BENCH_SECONDS, 5);
const PAIRS = positiveInt(process.env.BENCH_PAIRS, 3);
const WARMUP_SECONDS = Math.min(2, SECONDS);
const ADMIN_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const PGBENCH = ['/usr/lib/postgresql/15/bin/pgbench', 'pgbench'].find((p) => p === 'pgbench' || fs.existsSync(p));
const { generateApiKey } = require(path.join(ROOT, 'dist/src/api-keys/api-key-format.js'));

const TARGETS = { me: 0.6, me_redis: 0.6, create_user: 0.5, charges: 0.5 };
const REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';
/**
 * The rate limit stays on during the bench, above the load (so its cost counts, and nothing is
 * refused): the largest per-key limit RATE_LIMIT_KEY_PER_MINUTE accepts.
 */
const RATE_LIMIT_ENV = { RATE_LIMIT_KEY_PER_MINUTE: '1000000000' };
const RSS_TARGET_MB = 250;

/**
 * The figures, in order. Each has a service load (autocannon in bench/load.js) and a reference;
 * `available(ctx)` says whether the built service has the route. Adding a figure = one entry here.
 */
const FIGURES = [
  {
    name: 'me',
    title: 'GET /api/v1/me, 50 connections',
    referenceTitle: 'bare Fastify: SHA-256 + Map + same JSON',
    available: () => true,
    prepare: async (ctx) => {
      ctx.reference = await startFastifyReference(ctx.meKey, ctx.meBody);
    },
    service: (ctx, seconds) =>
      autocannon({ url: ctx.baseUrl, kind: 'get', path: '/api/v1/me', apiKey: ctx.meKey, connections: 50, seconds }),
    reference: (ctx, seconds) =>
      autocannon({ url: ctx.reference.url, kind: 'get', path: '/api/v1/me', apiKey: ctx.meKey, connections: 50, seconds }),
    finish: async (ctx) => ctx.reference.stop(),
  },
  {
    // The same /me load on a second instance of the service whose rate-limit counts go through Redis.
    name: 'me_redis',
    title: 'GET /api/v1/me, 50 connections, rate limits shared through Redis (REDIS_URL)',
    referenceTitle: 'bare Fastify: SHA-256 + Map + same JSON',
    available: (ctx) => ctx.redisReachable,
    prepare: async (ctx) => {
      ctx.redisService = await startService(ctx.dbUrl, ctx.adminKey, {
        REDIS_URL: REDIS_URL,
        RATE_LIMIT_REDIS_PREFIX: `provisio-bench:${ctx.tag}:`,
      });
      ctx.redisRss = sampleRss(ctx.redisService.pid);
      ctx.reference = await startFastifyReference(ctx.meKey, ctx.meBody);
    },
    service: (ctx, seconds) =>
      autocannon({ url: ctx.redisService.url, kind: 'get', path: '/api/v1/me', apiKey: ctx.meKey, connections: 50, seconds }),
    reference: (ctx, seconds) =>
      autocannon({ url: ctx.reference.url, kind: 'get', path: '/api/v1/me', apiKey: ctx.meKey, connections: 50, seconds }),
    finish: async (ctx) => {
      ctx.extraPeakRssMb = Math.max(ctx.redisRss.stop(), ctx.redisService.hwmMb());
      await ctx.redisService.stop();
      await ctx.reference.stop();
    },
  },
  {
    name: 'create_user',
    title: 'POST /api/v1/admin/create-user, 16 connections',
    referenceTitle: 'pgbench: select org + insert user + insert key, 16 clients',
    available: () => true,
    service: (ctx, seconds) =>
      autocannon({
        url: ctx.baseUrl,
        kind: 'create_user',
        path: '/api/v1/admin/create-user',
        apiKey: ctx.provisioner.api_key,
        connections: 16,
        seconds,
        tag: `${ctx.tag}-${++ctx.runs}`,
      }),
    reference: (ctx, seconds) => pgbench(ctx, 'create_user.sql', seconds, { domain: ctx.domain, prov_id: ctx.provisioner.id }),
  },
  {
    name: 'charges',
    title: 'POST /api/v1/billing/charges, one pool, 16 connections',
    referenceTitle: 'pgbench: conditional UPDATE of one balance + ledger insert, 16 clients',
    available: (ctx) => ctx.routes.has('/api/v1/billing/charges') && ctx.routes.has('/api/v1/admin/credits'),
    prepare: async (ctx) => {
      const granted = await ctx.api('POST', '/api/v1/admin/credits', ctx.adminKey, {
        body: { domain: ctx.domain, amount: 1_000_000_000, reason: 'bench' },
        headers: { 'idempotency-key': `bench-grant-${ctx.tag}` },
      });
      if (granted.status !== 201 && granted.status !== 200) throw new Error(`grant credits: ${granted.status} ${granted.text}`);
    },
    service: (ctx, seconds) =>
      autocannon({
        url: ctx.baseUrl,
        kind: 'charges',
        path: '/api/v1/billing/charges',
        apiKey: ctx.meKey,
        connections: 16,
        seconds,
        units: 1,
        tag: `${ctx.tag}-${++ctx.runs}`,
      }),
    reference: (ctx, seconds) => pgbench(ctx, 'charge.sql', seconds, { org_id: ctx.organizationId, user_id: ctx.meUserId }),
    finish: async (ctx) => {
      const consistent = await checkLedger(ctx);
      const noOverspend = await checkNoOverspend(ctx);
      ctx.ledgerConsistent = consistent && noOverspend;
    },
  },
];

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  const started = Date.now();
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dbName = `provisio_bench_${tag}`;
  const cleanups = [];
  const cleanup = async () => {
    while (cleanups.length)
      await cleanups
        .pop()()
        .catch((e) => console.error('cleanup:', e.message));
  };
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
  try {
    await withAdmin((c) => c.query(`CREATE DATABASE ${dbName}`));
    cleanups.push(() => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)));
    const dbUrl = new URL(ADMIN_URL);
    dbUrl.pathname = `/${dbName}`;

    const adminKey = generateApiKey();
    const service = await startService(dbUrl.toString(), adminKey);
    cleanups.push(() => service.stop());
    const rss = sampleRss(service.pid);
    cleanups.push(async () => rss.stop());

    const ctx = { tag, runs: 0, dbUrl: dbUrl.toString(), baseUrl: service.url, adminKey, domain: `bench-${tag}.example` };
    ctx.api = (method, route, key, options = {}) => api(service.url, method, route, key, options);
    ctx.routes = new Set(Object.keys((await (await fetch(`${service.url}/docs-json`)).json()).paths));
    await setUp(ctx);
    ctx.redisReachable = await redisAnswers(REDIS_URL);

    const wanted = process.env.BENCH_FIGURES ? new Set(process.env.BENCH_FIGURES.split(',')) : null;
    const results = [];
    for (const figure of FIGURES) {
      if (wanted && !wanted.has(figure.name)) continue;
      if (!figure.available(ctx)) {
        console.log(
          `- ${figure.name}: skipped, ${figure.name === 'me_redis' ? `Redis does not answer at ${REDIS_URL}` : 'the service has no such route yet'}`,
        );
        continue;
      }
      results.push(await measure(figure, ctx));
    }
    const peakRssMb = Math.max(rss.stop(), service.hwmMb(), ctx.extraPeakRssMb ?? 0);
    await service.stop();
    cleanups.pop();
    cleanups.pop();

    report(results, peakRssMb, ctx.ledgerConsistent);
    const out = {
      figures: results.map((r) => ({
        name: r.name,
        service_rps: round(r.service.rps),
        reference_rps: round(r.reference.rps),
        ratio: round(r.ratio, 3),
        p50_ms: r.service.p50_ms,
        p99_ms: r.service.p99_ms,
      })),
      peak_rss_mb: round(peakRssMb, 1),
      ledger_consistent: ctx.ledgerConsistent === true,
    };
    fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(out, null, 2) + '\n');
    console.log(`\nWrote bench/results.json (${Math.round((Date.now() - started) / 1000)} s in all).`);
  } finally {
    await cleanup();
  }
}

/** An operator key, a provisioner on a domain of its own, and one user whose key drives /me and charges. */
async function setUp(ctx) {
  const prov = await ctx.api('POST', '/api/v1/admin/users', ctx.adminKey, {
    body: { email: `bench@${ctx.domain}`, is_provisioner: true },
  });
  if (prov.status !== 201) throw new Error(`create provisioner: ${prov.status} ${prov.text}`);
  ctx.provisioner = prov.json;
  ctx.organizationId = prov.json.organization_id;
  const user = await ctx.api('POST', '/api/v1/admin/create-user', ctx.provisioner.api_key, {
    body: { email: 'me@end-user.example' },
  });
  if (user.status !== 201) throw new Error(`create user: ${user.status} ${user.text}`);
  ctx.meKey = user.json.api_key;
  ctx.meUserId = user.json.id;
  const me = await ctx.api('GET', '/api/v1/me', ctx.meKey);
  if (me.status !== 200) throw new Error(`GET /me: ${me.status} ${me.text}`);
  ctx.meBody = me.json;
}

/** Warm-up, then PAIRS alternating service/reference runs; medians. */
async function measure(figure, ctx) {
  console.log(`- ${figure.name}: ${figure.title}  vs  ${figure.referenceTitle}`);
  if (figure.prepare) await figure.prepare(ctx);
  await figure.service(ctx, WARMUP_SECONDS);
  await figure.reference(ctx, WARMUP_SECONDS);
  const service = [];
  const reference = [];
  for (let i = 0; i < PAIRS; i++) {
    const s = await figure.service(ctx, SECONDS);
    const r = await figure.reference(ctx, SECONDS);
    service.push(s);
    reference.push(r);
    const bad = s.non2xx + s.errors + s.timeouts;
    console.log(
      `    pair ${i + 1}: service ${round(s.rps)} req/s (p50 ${s.p50_ms} ms, p99 ${s.p99_ms} ms${bad ? `, ${bad} failed: ${JSON.stringify(s.status)}` : ''})` +
        `  reference ${round(r.rps)} req/s (p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms)`,
    );
  }
  if (figure.finish) await figure.finish(ctx);
  const med = (runs) => ({
    rps: median(runs.map((r) => r.rps)),
    p50_ms: round(median(runs.map((r) => r.p50_ms)), 2),
    p99_ms: round(median(runs.map((r) => r.p99_ms)), 2),
    failed: runs.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
  });
  const s = med(service);
  const r = med(reference);
  return { name: figure.name, service: s, reference: r, ratio: s.rps / r.rps };
}

function report(results, peakRssMb, ledgerConsistent) {
  const rows = [['figure', 'service req/s', 'p50 ms', 'p99 ms', 'reference req/s', 'ref p50', 'ref p99', 'ratio', 'target', '']];
  for (const r of results) {
    const target = TARGETS[r.name];
    rows.push([
      r.name,
      String(round(r.service.rps)),
      String(r.service.p50_ms),
      String(r.service.p99_ms),
      String(round(r.reference.rps)),
      String(r.reference.p50_ms),
      String(r.reference.p99_ms),
      `${r.ratio.toFixed(3)}×`,
      `≥ ${target}×`,
      (r.ratio >= target ? 'ok' : 'BELOW') + (r.service.failed ? ` (${r.service.failed} non-2xx!)` : ''),
    ]);
  }
  rows.push([
    'peak RSS',
    `${round(peakRssMb, 1)} MB`,
    '',
    '',
    '',
    '',
    '',
    '',
    `≤ ${RSS_TARGET_MB} MB`,
    peakRssMb <= RSS_TARGET_MB ? 'ok' : 'ABOVE',
  ]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  console.log(`\nResults (${SECONDS} s runs, median of ${PAIRS} pairs, ${require('node:os').cpus().length} CPUs):`);
  for (const row of rows) console.log('  ' + row.map((cell, i) => cell.padEnd(widths[i])).join('  '));
  if (ledgerConsistent !== undefined) {
    console.log(
      `\nLedger check after the charges runs: balance = Σ ledger and never below 0: ${ledgerConsistent ? 'yes' : 'NO'}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// processes

async function startService(databaseUrl, adminKey, env = {}) {
  const port = await freePort();
  const log = path.join(WORK, env.REDIS_URL ? 'service-redis.log' : 'service.log');
  const fd = fs.openSync(log, 'w');
  const extraEnv = process.env.BENCH_SERVICE_ENV ? JSON.parse(process.env.BENCH_SERVICE_ENV) : {};
  const nodeArgs = (process.env.BENCH_NODE_OPTIONS || '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/src/main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL || 'info',
      ...RATE_LIMIT_ENV,
      ...env,
      ...extraEnv,
    },
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  let exited = false;
  const exit = new Promise((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`the service exited during start-up; see ${log}`);
    const res = await fetch(`${url}/health`).catch(() => null);
    if (res && res.status === 200) break;
    if (Date.now() > deadline) throw new Error(`the service did not answer /health within 60 s; see ${log}`);
    await sleep(200);
  }
  console.log(
    `Service: node dist/src/main.js (pid ${child.pid}, NODE_ENV=production, LOG_LEVEL=${process.env.BENCH_LOG_LEVEL || 'info'}, logs in bench/.work/${path.basename(log)})`,
  );
  let hwm = 0;
  return {
    url,
    pid: child.pid,
    hwmMb: () => Math.max(hwm, readStatusMb(child.pid, 'VmHWM')),
    stop: async () => {
      if (exited) return;
      hwm = readStatusMb(child.pid, 'VmHWM');
      child.kill('SIGTERM');
      await Promise.race([exit, sleep(10_000)]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}

async function startFastifyReference(key, body) {
  const port = await freePort();
  const keys = { [createHash('sha256').update(key).digest('hex')]: body };
  const child = spawn(process.execPath, [path.join(__dirname, 'reference-fastify.js')], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', REFERENCE_CONFIG: JSON.stringify({ port, keys }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`reference server exited (${code})`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const check = await api(url, 'GET', '/api/v1/me', key);
  if (check.status !== 200 || check.text !== JSON.stringify(body))
    throw new Error('the reference does not answer like the service');
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

function autocannon(spec) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'load.js'), JSON.stringify(spec)], {
      cwd: __dirname,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load.js exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

/** pgbench with a script from bench/pgbench, 16 clients; tps and per-transaction latency percentiles. */
function pgbench(ctx, script, seconds, vars) {
  return new Promise((resolve, reject) => {
    const prefix = path.join(WORK, `pgbench-${process.pid}-${++ctx.runs}`);
    const args = [
      '-n',
      '-M',
      'prepared',
      '-c',
      '16',
      '-j',
      '2',
      '-T',
      String(seconds),
      '-f',
      path.join(__dirname, 'pgbench', script),
      '-l',
      `--log-prefix=${prefix}`,
      ...Object.entries(vars).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
      ctx.dbUrl,
    ];
    const child = spawn(PGBENCH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.once('exit', (code) => {
      const latencies = [];
      for (const file of fs.readdirSync(WORK).filter((f) => f.startsWith(path.basename(prefix) + '.'))) {
        const full = path.join(WORK, file);
        for (const line of fs.readFileSync(full, 'utf8').split('\n')) {
          const fields = line.split(' ');
          if (fields.length >= 3) latencies.push(Number(fields[2]) / 1000);
        }
        fs.unlinkSync(full);
      }
      const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
      const failed = /number of failed transactions: (\d+)/.exec(out);
      if (code !== 0 || !tps) return reject(new Error(`pgbench ${script} failed (${code}):\n${out}\n${err}`));
      latencies.sort((a, b) => a - b);
      resolve({
        rps: Number(tps[1]),
        p50_ms: round(percentile(latencies, 0.5), 2),
        p99_ms: round(percentile(latencies, 0.99), 2),
        non2xx: 0,
        errors: failed ? Number(failed[1]) : 0,
        timeouts: 0,
      });
    });
  });
}

/** Peak resident set size of a process, sampled every 100 ms. `stop()` returns it in MB. */
function sampleRss(pid) {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, readStatusMb(pid, 'VmRSS'))), 100);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

function readStatusMb(pid, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// database and HTTP helpers

async function checkLedger(ctx) {
  const client = new Client({ connectionString: ctx.dbUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT coalesce(p.balance, 0)::bigint AS balance,
              (SELECT coalesce(sum(l.delta), 0)::bigint FROM credit_ledger_entries l WHERE l.organization_id = o.id) AS ledger_sum
         FROM organizations o LEFT JOIN credit_pools p ON p.organization_id = o.id WHERE o.id = $1`,
      [ctx.organizationId],
    );
    const { balance, ledger_sum } = rows[0];
    console.log(`    ledger check: balance ${balance}, Σ ledger ${ledger_sum}`);
    return balance === ledger_sum && Number(balance) >= 0;
  } finally {
    await client.end();
  }
}

/**
 * Zero overspend under contention: a second organization gets 100 credits, then 16 connections
 * charge 1 credit for a second: exactly 100 charges must succeed (the rest 402), leaving 0.
 */
async function checkNoOverspend(ctx) {
  const domain = `short-${ctx.tag}.example`;
  const owner = await ctx.api('POST', '/api/v1/admin/users', ctx.adminKey, { body: { email: `owner@${domain}` } });
  if (owner.status !== 201) throw new Error(`create owner: ${owner.status} ${owner.text}`);
  const granted = await ctx.api('POST', '/api/v1/admin/credits', ctx.adminKey, {
    body: { domain, amount: 100, reason: 'overspend check' },
    headers: { 'idempotency-key': `bench-short-${ctx.tag}` },
  });
  if (granted.status !== 201 && granted.status !== 200) throw new Error(`grant: ${granted.status} ${granted.text}`);
  const run = await autocannon({
    url: ctx.baseUrl,
    kind: 'charges',
    path: '/api/v1/billing/charges',
    apiKey: owner.json.api_key,
    connections: 16,
    seconds: 1,
    units: 1,
    tag: `${ctx.tag}-short`,
  });
  const client = new Client({ connectionString: ctx.dbUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT coalesce(p.balance, 0) AS balance,
              (SELECT count(*)::int FROM credit_ledger_entries l WHERE l.organization_id = o.id AND l.reason = 'charge') AS charges,
              (SELECT coalesce(sum(l.delta), 0)::int FROM credit_ledger_entries l WHERE l.organization_id = o.id) AS ledger_sum
         FROM organizations o LEFT JOIN credit_pools p ON p.organization_id = o.id WHERE o.domain = $1`,
      [domain],
    );
    const { balance, charges, ledger_sum } = rows[0];
    const ok = run.ok === 100 && charges === 100 && balance === 0 && ledger_sum === 0;
    console.log(
      `    overspend check: 100 credits, ${run.ok + run.non2xx} charges tried by 16 connections: ${run.ok} accepted, ` +
        `${JSON.stringify(run.status)}; balance ${balance}, Σ ledger ${ledger_sum}: ${ok ? 'no overspend' : 'OVERSPEND OR LOSS'}`,
    );
    return ok;
  } finally {
    await client.end();
  }
}

async function withAdmin(fn) {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function api(baseUrl, method, route, key, { body, headers = {} } = {}) {
  const res = await fetch(`${baseUrl}${route}`, {
    method,
    headers: { ...(key ? { 'x-api-key': key } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** Whether Redis answers PING within 2 s. */
function redisAnswers(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port) || 6379, hostname);
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(String(data).startsWith('+PONG')));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function positiveInt(text, fallback) {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}
function round(n, digits = 0) {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((error) => {
  console.error('bench failed:', error);
  process.exit(1);
});
