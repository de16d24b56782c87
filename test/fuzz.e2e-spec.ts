import { DataSource } from 'typeorm';
import { adminCreateUser, CreatedUser, provisionUser, rowCounts, startTestApp, TestApp } from './support/app';
import { grantCredits } from './support/billing';
import { createProvision, CreatedProvision, tokenOf } from './support/provisions';

/**
 * The bad-input sweep: every route gets wrong types, unknown fields, huge / negative / zero /
 * fractional numbers, strings for numbers, arrays, null, empty and malformed bodies, wrong content
 * types, over-long strings, bad ids, cursors, limits and dates. Each must answer a 4xx RFC 9457
 * problem and leave every table exactly as it was (row counts and contents).
 */

type Who = 'none' | 'operator' | 'provisioner' | 'member';

interface Ctx {
  provisioner: CreatedUser;
  member: CreatedUser;
  provision: CreatedProvision;
  token: string;
  memberKeyId: string;
}

interface Case {
  name: string;
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string | ((c: Ctx) => string);
  who: Who;
  /** A JSON value (sent as application/json) or, with `raw`, the exact text to send. */
  body?: unknown;
  /** A JSON body built from the fixtures (when it needs their ids). */
  bodyOf?: (c: Ctx) => object;
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** The exact status when it matters; otherwise any 4xx. */
  status?: number;
}

const UUID_UNKNOWN = '3f2a9c1b-7d4e-4a5b-8c6d-0123456789ab';
const LONG = 'x'.repeat(5000);
const LOCAL_65 = 'a'.repeat(65);
const IDEM = { 'Idempotency-Key': 'fuzz-key-1' };
const cursorOf = (values: unknown) => Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');

/** Rows of [what a case tries, its value]; typed so, since an array literal alone types each row as a union. */
const rows = (list: [what: string, value: unknown][]) => list;

/** Bodies that are wrong whatever the route expects. */
const bodyShapes = (
  prefix: string,
  method: Case['method'],
  path: Case['path'],
  who: Who,
  headers?: Record<string, string>,
): Case[] => [
  {
    name: `${prefix}: malformed JSON`,
    method,
    path,
    who,
    headers,
    raw: '{"email": ',
    contentType: 'application/json',
    status: 400,
  },
  {
    name: `${prefix}: empty body with a JSON content type`,
    method,
    path,
    who,
    headers,
    raw: '',
    contentType: 'application/json',
    status: 400,
  },
  {
    name: `${prefix}: a JSON array`,
    method,
    path,
    who,
    headers,
    raw: '[{"email":"a@b.com"}]',
    contentType: 'application/json',
    status: 400,
  },
  { name: `${prefix}: JSON null`, method, path, who, headers, raw: 'null', contentType: 'application/json', status: 400 },
  {
    name: `${prefix}: a JSON string`,
    method,
    path,
    who,
    headers,
    raw: '"a@b.com"',
    contentType: 'application/json',
    status: 400,
  },
  { name: `${prefix}: a JSON number`, method, path, who, headers, raw: '12', contentType: 'application/json', status: 400 },
  {
    name: `${prefix}: __proto__ pollution`,
    method,
    path,
    who,
    headers,
    raw: '{"__proto__":{"is_operator":true}}',
    contentType: 'application/json',
    status: 400,
  },
  {
    name: `${prefix}: a form body`,
    method,
    path,
    who,
    headers,
    raw: 'email=a%40b.com&units=1&amount=1&domain=b.com',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
  },
  {
    name: `${prefix}: a text/plain body`,
    method,
    path,
    who,
    headers,
    raw: '{"email":"a@b.com","units":1}',
    contentType: 'text/plain',
    status: 415,
  },
  {
    name: `${prefix}: an XML body`,
    method,
    path,
    who,
    headers,
    raw: '<email>a@b.com</email>',
    contentType: 'application/xml',
    status: 415,
  },
  { name: `${prefix}: an unknown field`, method, path, who, headers, body: { surprise: true }, status: 400 },
  {
    name: `${prefix}: arrays nested 5,000 deep`,
    method,
    path,
    who,
    headers,
    raw: `{"email":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    contentType: 'application/json',
    status: 400,
  },
  {
    name: `${prefix}: objects nested 9,000 deep`,
    method,
    path,
    who,
    headers,
    raw: `${'{"a":'.repeat(9000)}1${'}'.repeat(9000)}`,
    contentType: 'application/json',
    status: 400,
  },
];

const emailCases = (prefix: string, method: Case['method'], path: Case['path'], who: Who, extra: object = {}): Case[] =>
  rows([
    ['a number', 42],
    ['null', null],
    ['an array', ['a@b.com']],
    ['an object', { value: 'a@b.com' }],
    ['a boolean', true],
    ['empty', ''],
    ['no @', 'not-an-email'],
    ['no domain dot', 'a@localhost'],
    ['two @', 'a@@b.com'],
    ['a space', 'a b@b.com'],
    ['a non-ASCII local part', 'jürgen@b.com'],
    ['a 65-character local part', `${LOCAL_65}@b.com`],
    ['an over-long address', `${LONG}@b.com`],
    ['a bad domain', 'a@-b-.com'],
    ['a NUL character', 'a\u0000@b.com'],
  ]).map(([what, email]) => ({ name: `${prefix}: email ${what}`, method, path, who, body: { ...extra, email }, status: 400 }));

const idPathCases = (prefix: string, method: Case['method'], base: string, who: Who, suffix = '', body?: unknown): Case[] =>
  [
    ['not a UUID', 'not-a-uuid', 400],
    ['a number', '12345', 400],
    ['SQL', "1'%20OR%20'1'='1", 400],
    ['a UUID with a NUL', `${UUID_UNKNOWN}%00`, 400],
    ['bad percent-encoding', '%E0%A4%A', 400],
    ['an over-long id (Fastify: 414 past 100 characters)', 'a'.repeat(300), 414],
    ['an unknown UUID', UUID_UNKNOWN, 404],
  ].map(([what, id, status]) => ({
    name: `${prefix}: id ${what}`,
    method,
    path: `${base}/${id}${suffix}`,
    who,
    body,
    status: status as number,
  }));

const listQueryCases = (prefix: string, path: string, who: Who): Case[] =>
  [
    ['limit=0', 'limit=0'],
    ['limit=201', 'limit=201'],
    ['limit=-1', 'limit=-1'],
    ['limit=1.5', 'limit=1.5'],
    ['limit=abc', 'limit=abc'],
    ['limit empty', 'limit='],
    ['limit huge', 'limit=99999999999999999999999'],
    ['limit twice', 'limit=1&limit=2'],
    ['limit in exponent form', 'limit=1e1'],
    ['limit in hex', 'limit=0x10'],
    ['limit with a space', 'limit=%205'],
    ['cursor not base64 JSON', 'cursor=not-a-cursor'],
    ['cursor with symbols', 'cursor=%24%25%5E'],
    ['cursor of a wrong shape', `cursor=${cursorOf({ a: 1 })}`],
    ['cursor with an impossible timestamp', `cursor=${cursorOf(['2026-99-99 99:99:99+00', UUID_UNKNOWN])}`],
    ['cursor with February 30', `cursor=${cursorOf(['2026-02-30 00:00:00+00', UUID_UNKNOWN])}`],
    ['cursor with year 0', `cursor=${cursorOf(['0000-01-01 00:00:00+00', UUID_UNKNOWN])}`],
    ['cursor with a bad id', `cursor=${cursorOf(['2026-01-01 00:00:00+00', 'nope'])}`],
    ['cursor over-long', `cursor=${'A'.repeat(600)}`],
    ['an unknown parameter', 'sort=email'],
  ].map(([what, query]) => ({ name: `${prefix}: ${what}`, method: 'get' as const, path: `${path}?${query}`, who, status: 400 }));

const CASES: Case[] = [
  // POST /api/v1/admin/create-user
  ...bodyShapes('create-user', 'post', '/api/v1/admin/create-user', 'provisioner'),
  ...emailCases('create-user', 'post', '/api/v1/admin/create-user', 'provisioner'),
  { name: 'create-user: no body at all', method: 'post', path: '/api/v1/admin/create-user', who: 'provisioner', status: 400 },
  {
    name: 'create-user: an empty object',
    method: 'post',
    path: '/api/v1/admin/create-user',
    who: 'provisioner',
    body: {},
    status: 400,
  },
  {
    name: 'create-user: a malformed Idempotency-Key',
    method: 'post',
    path: '/api/v1/admin/create-user',
    who: 'provisioner',
    body: { email: 'x@y.io' },
    headers: { 'Idempotency-Key': ' ' },
    status: 400,
  },

  // POST /api/v1/provisions
  ...bodyShapes('provisions', 'post', '/api/v1/provisions', 'provisioner'),
  ...emailCases('provisions', 'post', '/api/v1/provisions', 'provisioner'),
  ...rows([
    ['role owner', { role: 'owner' }],
    ['role in capitals', { role: 'ADMIN' }],
    ['role a number', { role: 1 }],
    ['role null', { role: null }],
    ['role an array', { role: ['admin'] }],
    ['skip_onboarding a string', { skip_onboarding: 'true' }],
    ['skip_onboarding a number', { skip_onboarding: 1 }],
    ['skip_onboarding null', { skip_onboarding: null }],
  ]).map(([what, body]): Case => ({
    name: `provisions: ${what}`,
    method: 'post',
    path: '/api/v1/provisions',
    who: 'provisioner',
    body,
    status: 400,
  })),

  // GET /api/v1/provisions, /{id}; DELETE /{id}
  ...listQueryCases('list provisions', '/api/v1/provisions', 'provisioner'),
  {
    name: 'list provisions: unknown status',
    method: 'get',
    path: '/api/v1/provisions?status=active',
    who: 'provisioner',
    status: 400,
  },
  {
    name: 'list provisions: status twice',
    method: 'get',
    path: '/api/v1/provisions?status=pending&status=claimed',
    who: 'provisioner',
    status: 400,
  },
  ...idPathCases('get provision', 'get', '/api/v1/provisions', 'provisioner'),
  ...idPathCases('cancel provision', 'delete', '/api/v1/provisions', 'provisioner'),

  // GET/POST /api/v1/claims/{token}
  { name: 'preview: unknown token', method: 'get', path: `/api/v1/claims/pvc_${'A'.repeat(32)}`, who: 'none', status: 404 },
  { name: 'preview: malformed token', method: 'get', path: '/api/v1/claims/not-a-token', who: 'none', status: 404 },
  { name: 'preview: over-long token', method: 'get', path: `/api/v1/claims/pvc_${'A'.repeat(3000)}`, who: 'none', status: 414 },
  {
    name: 'preview: token of 60 characters',
    method: 'get',
    path: `/api/v1/claims/pvc_${'A'.repeat(56)}`,
    who: 'none',
    status: 404,
  },
  { name: 'preview: a short token', method: 'get', path: '/api/v1/claims/pvc_short', who: 'none', status: 404 },
  {
    name: 'preview: an API key in place of a token',
    method: 'get',
    path: `/api/v1/claims/pvk_${'a'.repeat(32)}`,
    who: 'none',
    status: 404,
  },
  {
    name: 'claim: unknown token',
    method: 'post',
    path: `/api/v1/claims/pvc_${'A'.repeat(32)}`,
    who: 'none',
    body: { email: 'a@b.com' },
    status: 404,
  },
  {
    name: 'claim: an API key in place of a token',
    method: 'post',
    path: `/api/v1/claims/pvk_${'a'.repeat(32)}`,
    who: 'none',
    body: { email: 'a@b.com' },
    status: 404,
  },
  ...bodyShapes('claim', 'post', (c) => `/api/v1/claims/${c.token}`, 'none'),
  ...emailCases('claim', 'post', (c) => `/api/v1/claims/${c.token}`, 'none'),
  { name: 'claim: no body at all', method: 'post', path: (c) => `/api/v1/claims/${c.token}`, who: 'none', status: 400 },
  {
    name: 'claim: a malformed X-API-Key',
    method: 'post',
    path: (c) => `/api/v1/claims/${c.token}`,
    who: 'none',
    headers: { 'X-API-Key': 'pvk_nope' },
    body: { email: 'a@b.com' },
    status: 401,
  },
  {
    name: 'claim page: unknown token (HTML is fine, but never 5xx)',
    method: 'get',
    path: `/claim/pvc_${'A'.repeat(32)}`,
    who: 'none',
    status: 404,
  },

  // GET /api/v1/users, /{id}; DELETE /{id}
  ...listQueryCases('list users', '/api/v1/users', 'provisioner'),
  { name: 'list users: unknown status', method: 'get', path: '/api/v1/users?status=deleted', who: 'provisioner', status: 400 },
  ...idPathCases('get user', 'get', '/api/v1/users', 'provisioner'),
  ...idPathCases('deactivate user', 'delete', '/api/v1/users', 'provisioner'),

  // /api/v1/api-keys
  ...listQueryCases('list keys', '/api/v1/api-keys', 'provisioner'),
  { name: 'list keys: user_id not a UUID', method: 'get', path: '/api/v1/api-keys?user_id=me', who: 'provisioner', status: 400 },
  ...bodyShapes('create key', 'post', '/api/v1/api-keys', 'provisioner'),
  ...rows([
    ['name empty', { name: '' }],
    ['name a number', { name: 5 }],
    ['name null', { name: null }],
    ['name over 100 characters', { name: 'n'.repeat(101) }],
    ['user_id not a UUID', { user_id: 'me' }],
    ['user_id a number', { user_id: 7 }],
    ['user_id null', { user_id: null }],
  ]).map(([what, body]): Case => ({
    name: `create key: ${what}`,
    method: 'post',
    path: '/api/v1/api-keys',
    who: 'provisioner',
    body,
    status: 400,
  })),
  {
    name: 'create key: user_id of nobody',
    method: 'post',
    path: '/api/v1/api-keys',
    who: 'provisioner',
    body: { user_id: UUID_UNKNOWN },
    status: 404,
  },
  // An id of no user of the caller's organization is 404 for everyone (Authorization: another organization's users are not revealed).
  {
    name: 'create key: a member for an unknown user',
    method: 'post',
    path: '/api/v1/api-keys',
    who: 'member',
    body: { user_id: UUID_UNKNOWN },
    status: 404,
  },
  {
    name: 'create key: a member for a user of its organization it does not outrank',
    method: 'post',
    path: '/api/v1/api-keys',
    who: 'member',
    bodyOf: (c: Ctx) => ({ user_id: c.provisioner.id }),
    status: 403,
  },
  ...idPathCases('revoke key', 'delete', '/api/v1/api-keys', 'provisioner'),
  ...idPathCases('rotate key', 'post', '/api/v1/api-keys', 'provisioner', '/rotate'),
  {
    name: 'rotate key: malformed JSON body',
    method: 'post',
    path: (c) => `/api/v1/api-keys/${c.memberKeyId}/rotate`,
    who: 'member',
    raw: '{',
    contentType: 'application/json',
    status: 400,
  },

  // POST /api/v1/billing/charges
  ...bodyShapes('charge', 'post', '/api/v1/billing/charges', 'member', IDEM),
  ...rows([
    ['units missing', {}],
    ['units 0', { units: 0 }],
    ['units above 1,000,000', { units: 1_000_001 }],
    ['units negative', { units: -5 }],
    ['units fractional', { units: 1.5 }],
    ['units a string', { units: '5' }],
    ['units 1e20', { units: 1e20 }],
    ['units 2**31', { units: 2 ** 31 }],
    ['units 1e308', { units: 1e308 }],
    ['units null', { units: null }],
    ['units an array', { units: [1] }],
    ['units a boolean', { units: true }],
    ['description a number', { units: 1, description: 5 }],
    ['description null', { units: 1, description: null }],
    ['description of 501 characters', { units: 1, description: 'd'.repeat(501) }],
    ['description over-long', { units: 1, description: LONG }],
    ['description with NUL', { units: 1, description: 'a\u0000b' }],
  ]).map(([what, body]): Case => ({
    name: `charge: ${what}`,
    method: 'post',
    path: '/api/v1/billing/charges',
    who: 'member',
    body,
    headers: IDEM,
    status: 400,
  })),

  // GET /api/v1/billing/ledger, /usage, /balance
  ...listQueryCases('ledger', '/api/v1/billing/ledger', 'provisioner'),
  {
    name: 'ledger: user_id not a UUID',
    method: 'get',
    path: '/api/v1/billing/ledger?user_id=x',
    who: 'provisioner',
    status: 400,
  },
  ...[
    ['since not a date', 'since=yesterday'],
    ['until not a date', 'until=2026-13-01T00:00:00Z'],
    ['since February 30', 'since=2026-02-30T00:00:00Z'],
    ['since empty', 'since='],
    ['since a number', 'since=1700000000'],
    ['until before since', 'since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z'],
    ['since past the year 9999 in UTC', 'since=9999-12-31T23:59:59-14:00'],
    ['until before the year 1 in UTC', 'until=0001-01-01T00:00:00%2B14:00'],
    ['since twice', 'since=2026-01-01T00:00:00Z&since=2026-01-02T00:00:00Z'],
    ['an unknown parameter', 'from=2026-01-01'],
  ].map(([what, query]): Case => ({
    name: `usage: ${what}`,
    method: 'get',
    path: `/api/v1/billing/usage?${query}`,
    who: 'provisioner',
    status: 400,
  })),

  // POST /api/v1/admin/credits
  ...bodyShapes('credits', 'post', '/api/v1/admin/credits', 'operator', IDEM),
  ...rows([
    ['amount missing', { domain: 'fuzz.example' }],
    ['domain missing', { amount: 1 }],
    ['amount 0', { domain: 'fuzz.example', amount: 0 }],
    ['amount fractional', { domain: 'fuzz.example', amount: 0.5 }],
    ['amount a string', { domain: 'fuzz.example', amount: '10' }],
    ['amount above 1e9', { domain: 'fuzz.example', amount: 1_000_000_001 }],
    ['amount below -1e9', { domain: 'fuzz.example', amount: -1_000_000_001 }],
    ['amount 2**31', { domain: 'fuzz.example', amount: 2 ** 31 }],
    ['amount -(2**31)', { domain: 'fuzz.example', amount: -(2 ** 31) }],
    ['amount 1e20', { domain: 'fuzz.example', amount: 1e20 }],
    ['amount null', { domain: 'fuzz.example', amount: null }],
    ['domain a number', { domain: 5, amount: 1 }],
    ['domain empty', { domain: '', amount: 1 }],
    ['domain not a domain', { domain: 'not a domain', amount: 1 }],
    ['domain over-long', { domain: `${'a'.repeat(300)}.com`, amount: 1 }],
    ['reason a number', { domain: 'fuzz.example', amount: 1, reason: 1 }],
    ['reason null', { domain: 'fuzz.example', amount: 1, reason: null }],
    ['reason of 501 characters', { domain: 'fuzz.example', amount: 1, reason: 'r'.repeat(501) }],
    ['reason over-long', { domain: 'fuzz.example', amount: 1, reason: LONG }],
    ['reason with NUL', { domain: 'fuzz.example', amount: 1, reason: 'a\u0000b' }],
  ]).map(([what, body]): Case => ({
    name: `credits: ${what}`,
    method: 'post',
    path: '/api/v1/admin/credits',
    who: 'operator',
    body,
    headers: IDEM,
    status: 400,
  })),

  // POST /api/v1/admin/users
  ...bodyShapes('admin create user', 'post', '/api/v1/admin/users', 'operator'),
  ...emailCases('admin create user', 'post', '/api/v1/admin/users', 'operator'),
  ...rows([
    ['is_provisioner a string', { email: 'n@new.example', is_provisioner: 'yes' }],
    ['is_provisioner null', { email: 'n@new.example', is_provisioner: null }],
    ['role unknown', { email: 'n@new.example', role: 'god' }],
    ['role null', { email: 'n@new.example', role: null }],
    ['is_operator (not settable)', { email: 'n@new.example', is_operator: true }],
  ]).map(([what, body]): Case => ({
    name: `admin create user: ${what}`,
    method: 'post',
    path: '/api/v1/admin/users',
    who: 'operator',
    body,
    status: 400,
  })),

  // PATCH /api/v1/admin/users/{id}
  ...bodyShapes('admin patch user', 'patch', (c) => `/api/v1/admin/users/${c.member.id}`, 'operator'),
  ...rows([
    ['an empty object', {}],
    ['is_provisioner null', { is_provisioner: null }],
    ['status null', { status: null }],
    ['is_provisioner a string', { is_provisioner: 'true' }],
    ['status pending_claim', { status: 'pending_claim' }],
    ['status unknown', { status: 'deleted' }],
    ['role (not settable)', { role: 'owner' }],
    ['email (not settable)', { email: 'x@y.io' }],
  ]).map(([what, body]): Case => ({
    name: `admin patch user: ${what}`,
    method: 'patch',
    path: (c: Ctx) => `/api/v1/admin/users/${c.member.id}`,
    who: 'operator',
    body,
    status: 400,
  })),
  ...idPathCases('admin patch user', 'patch', '/api/v1/admin/users', 'operator', '', { status: 'disabled' }),

  // GET /api/v1/admin/organizations
  ...listQueryCases('organizations', '/api/v1/admin/organizations', 'operator'),

  // A body over BODY_LIMIT_BYTES
  {
    name: 'create-user: a body over the limit (413)',
    method: 'post',
    path: '/api/v1/admin/create-user',
    who: 'provisioner',
    body: { email: 'a@b.com', pad: 'p'.repeat(70_000) },
    status: 413,
  },
];

describe('bad input: every route answers 4xx problem details and changes nothing', () => {
  let t: TestApp;
  let ctx: Ctx;
  let keys: Record<Who, string | undefined>;

  /**
   * Row counts and a digest of every table's rows: any insert, update or delete shows. Leaves out
   * api_keys.last_used_at, which the background usage flush writes whenever its interval (60 s in
   * tests, the most the config allows) ends, also between two statements of a slow test.
   */
  async function databaseState(): Promise<{ counts: Record<string, number>; digests: Record<string, string> }> {
    const counts = await rowCounts(t);
    const digests: Record<string, string> = {};
    const dataSource = t.app.get(DataSource);
    const row = `(to_jsonb(x) - 'last_used_at')::text`;
    const rows: { t: string; d: string }[] = await dataSource.query(
      Object.keys(counts)
        .map(
          (table) => `SELECT '${table}' AS t, md5(coalesce(string_agg(${row}, ',' ORDER BY ${row}), '')) AS d FROM "${table}" x`,
        )
        .join(' UNION ALL '),
    );
    for (const row of rows) digests[row.t] = row.d;
    return { counts, digests };
  }

  beforeAll(async () => {
    t = await startTestApp();
    const provisioner = await adminCreateUser(t, { email: 'guy@fuzz.example', is_provisioner: true });
    const member = await provisionUser(t, provisioner.api_key, 'mem@elsewhere.io');
    const grant = await grantCredits(t, 'fuzz.example', 100);
    expect(grant.status).toBe(201);
    const provision = await createProvision(t, provisioner.api_key);
    const memberKeys = await t.http().get('/api/v1/api-keys').set('X-API-Key', member.api_key);
    expect(memberKeys.status).toBe(200);
    ctx = { provisioner, member, provision, token: tokenOf(provision), memberKeyId: memberKeys.body.data[0].id };
    keys = { none: undefined, operator: t.adminKey, provisioner: provisioner.api_key, member: member.api_key };
  });
  afterAll(async () => t?.close());

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await databaseState();
    const path = typeof c.path === 'string' ? c.path : c.path(ctx);
    let req = t.http()[c.method](path);
    const key = keys[c.who];
    if (key) req = req.set('X-API-Key', key);
    for (const [name, value] of Object.entries(c.headers ?? {})) req = req.set(name, value);
    if (c.raw !== undefined) {
      req = req.set('Content-Type', c.contentType ?? 'application/json').send(c.raw);
    } else if (c.bodyOf !== undefined) {
      req = req.send(c.bodyOf(ctx));
    } else if (c.body !== undefined) {
      req = req.send(c.body as object);
    }
    const res = await req;

    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    if (c.status !== undefined) expect({ status: res.status, body: res.body }).toMatchObject({ status: c.status });
    if (path.startsWith('/claim/')) {
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    } else {
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = JSON.parse(res.text);
      expect(problem).toEqual(
        expect.objectContaining({
          type: expect.any(String),
          title: expect.any(String),
          status: res.status,
          detail: expect.any(String),
        }),
      );
      if (res.status === 400) expect(problem.title).toBe('Bad Request');
      if (String(problem.type).endsWith('/validation-failed')) {
        expect(problem.errors.length).toBeGreaterThan(0);
        for (const error of problem.errors) expect(error).toEqual({ field: expect.any(String), message: expect.any(String) });
      }
    }
    expect(await databaseState()).toEqual(before);
  });
});
