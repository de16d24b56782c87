import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ApiKeysRepository } from '../src/api-keys/api-keys.repository';
import type { KeyScope } from '../src/common/principal';
import { grantCredits } from './support/billing';
import { adminCreateUser, provisionUser, startTestApp, TestApp } from './support/app';
import { createProvision, tokenOf } from './support/provisions';

/**
 * The authorization matrix: every route of the OpenAPI document × every kind of caller × the
 * targets that route can point at, with the status each cell answers. The table below IS the
 * documentation of who may do what (DESIGN.md, "Authorization"); README's "Decisions" sums it up.
 *
 * Callers (columns, in this order):
 *   op   the operator (ADMIN_API_KEY), of its own organization (`localhost`). It outranks everyone
 *        in every organization: it reads and acts on any user and key; lists (`GET /users`) stay
 *        its own organization's. It is no provisioner here, so the provisioning routes are 403.
 *   own  the owner of org A (first user of a.example; no flag)
 *   adm  an admin of org A
 *   mem  a member of org A
 *   prv  a provisioner of org A (role member + the provisioner flag)
 *   pnd  the key of a pending `admin` provision of org A (acts as a plain member until claimed)
 *   rst  a restricted key: a provision of org B claimed into org A's OWNER account — it
 *        authenticates as that owner but acts as a plain member, spending org B's pool
 *   obo  the owner of org B (also a provisioner there)
 *   nok  no X-API-Key
 *   rvk  a revoked key (of org A's member)
 *
 * Targets (a fresh one per cell unless said otherwise):
 *   users: self (the caller's own user), member (a user org A's provisioner provisioned),
 *          admin (an admin of org A), owner (a second owner of org A, made by the operator: only
 *          the operator acts on an owner, and another owner is no higher rank), other (a user of
 *          org B)
 *   keys:  itself (the calling key: a fresh copy of it is made and used for the cell), own
 *          (another key of the caller's user), member (a key of a provisioned member of org A),
 *          paid (a key org A pays for that a user of org B holds: a provision of org A claimed
 *          into the account of a member org B's owner provisioned — so org A's managers may list and
 *          revoke it, and org B's owner, who outranks its holder, may also rotate it; the rotation
 *          stays restricted and on org A's pool), other (a key of a user of org B)
 *   provisions: same (a pending provision of org A), other (one of org B)
 *   token: a pending provision's claim token (of org A)
 */
const CALLERS = ['op', 'own', 'adm', 'mem', 'prv', 'pnd', 'rst', 'obo', 'nok', 'rvk'] as const;
type Caller = (typeof CALLERS)[number];

type Target =
  | 'none'
  | 'user:self'
  | 'user:member'
  | 'user:admin'
  | 'user:owner'
  | 'user:other'
  | 'key:itself'
  | 'key:own'
  | 'key:member'
  | 'key:paid'
  | 'key:other'
  | 'provision:same'
  | 'provision:other'
  | 'token';

type Row = [route: string, target: Target, statuses: string];

// prettier-ignore
const MATRIX: Row[] = [
  //                                                                    op  own adm mem prv pnd rst obo nok rvk
  ['GET /api/v1/me',                               'none',            '200 200 200 200 200 200 200 200 401 401'],

  ['GET /api/v1/users',                            'none',            '200 200 200 403 200 403 403 200 401 401'],
  ['GET /api/v1/users/{id}',                       'user:self',       '200 200 200 403 200 403 403 200 401 401'],
  ['GET /api/v1/users/{id}',                       'user:member',     '200 200 200 403 200 403 403 404 401 401'],
  ['GET /api/v1/users/{id}',                       'user:admin',      '200 200 200 403 200 403 403 404 401 401'],
  ['GET /api/v1/users/{id}',                       'user:owner',      '200 200 200 403 200 403 403 404 401 401'],
  ['GET /api/v1/users/{id}',                       'user:other',      '200 404 404 403 404 403 403 200 401 401'],
  ['DELETE /api/v1/users/{id}',                    'user:self',       '409 409 409 403 409 403 403 409 401 401'],
  ['DELETE /api/v1/users/{id}',                    'user:member',     '204 204 204 403 204 403 403 404 401 401'],
  ['DELETE /api/v1/users/{id}',                    'user:admin',      '204 204 403 403 403 403 403 404 401 401'],
  ['DELETE /api/v1/users/{id}',                    'user:owner',      '204 403 403 403 403 403 403 404 401 401'],
  ['DELETE /api/v1/users/{id}',                    'user:other',      '204 404 404 403 404 403 403 204 401 401'],

  ['GET /api/v1/api-keys',                         'none',            '200 200 200 200 200 200 200 200 401 401'],
  ['GET /api/v1/api-keys',                         'user:self',       '200 200 200 200 200 200 200 200 401 401'],
  ['GET /api/v1/api-keys',                         'user:member',     '200 200 200 403 200 403 403 404 401 401'],
  ['GET /api/v1/api-keys',                         'user:admin',      '200 200 403 403 403 403 403 404 401 401'],
  ['GET /api/v1/api-keys',                         'user:owner',      '200 403 403 403 403 403 403 404 401 401'],
  ['GET /api/v1/api-keys',                         'user:other',      '200 404 404 404 404 404 404 200 401 401'],
  ['POST /api/v1/api-keys',                        'user:self',       '201 201 201 201 201 201 403 201 401 401'],
  ['POST /api/v1/api-keys',                        'user:member',     '201 201 201 403 201 403 403 404 401 401'],
  ['POST /api/v1/api-keys',                        'user:admin',      '201 201 403 403 403 403 403 404 401 401'],
  ['POST /api/v1/api-keys',                        'user:owner',      '201 403 403 403 403 403 403 404 401 401'],
  ['POST /api/v1/api-keys',                        'user:other',      '201 404 404 404 404 404 404 201 401 401'],
  ['DELETE /api/v1/api-keys/{id}',                 'key:itself',      '204 204 204 204 204 204 204 204 401 401'],
  ['DELETE /api/v1/api-keys/{id}',                 'key:own',         '204 204 204 204 204 204 403 204 401 401'],
  ['DELETE /api/v1/api-keys/{id}',                 'key:member',      '204 204 204 403 204 403 403 404 401 401'],
  ['DELETE /api/v1/api-keys/{id}',                 'key:paid',        '204 204 204 404 204 404 404 204 401 401'],
  ['DELETE /api/v1/api-keys/{id}',                 'key:other',       '204 404 404 404 404 404 404 204 401 401'],
  ['POST /api/v1/api-keys/{id}/rotate',            'key:itself',      '201 201 201 201 201 201 403 201 401 401'],
  ['POST /api/v1/api-keys/{id}/rotate',            'key:own',         '201 201 201 201 201 201 403 201 401 401'],
  ['POST /api/v1/api-keys/{id}/rotate',            'key:member',      '201 201 201 403 201 403 403 404 401 401'],
  ['POST /api/v1/api-keys/{id}/rotate',            'key:paid',        '201 404 404 404 404 404 404 201 401 401'],
  ['POST /api/v1/api-keys/{id}/rotate',            'key:other',       '201 404 404 404 404 404 404 201 401 401'],

  ['POST /api/v1/admin/create-user',               'none',            '403 403 403 403 201 403 403 201 401 401'],
  ['POST /api/v1/admin/create-users',              'none',            '403 403 403 403 200 403 403 200 401 401'],
  ['POST /api/v1/provisions',                      'none',            '403 403 403 403 201 403 403 201 401 401'],
  ['GET /api/v1/provisions',                       'none',            '403 403 403 403 200 403 403 200 401 401'],
  ['GET /api/v1/provisions/{id}',                  'provision:same',  '403 403 403 403 200 403 403 404 401 401'],
  ['GET /api/v1/provisions/{id}',                  'provision:other', '403 403 403 403 404 403 403 200 401 401'],
  ['PATCH /api/v1/provisions/{id}',                'provision:same',  '403 403 403 403 200 403 403 404 401 401'],
  ['PATCH /api/v1/provisions/{id}',                'provision:other', '403 403 403 403 404 403 403 200 401 401'],
  ['POST /api/v1/provisions/{id}/reissue',         'provision:same',  '403 403 403 403 200 403 403 404 401 401'],
  ['POST /api/v1/provisions/{id}/reissue',         'provision:other', '403 403 403 403 404 403 403 200 401 401'],
  ['DELETE /api/v1/provisions/{id}',               'provision:same',  '403 403 403 403 204 403 403 404 401 401'],
  ['DELETE /api/v1/provisions/{id}',               'provision:other', '403 403 403 403 404 403 403 204 401 401'],

  ['GET /api/v1/claims/{token}',                   'token',           '200 200 200 200 200 200 200 200 200 401'],
  ['POST /api/v1/claims/{token}',                  'token',           '200 200 200 200 200 409 403 200 200 401'],
  ['GET /claim/{token}',                           'token',           '200 200 200 200 200 200 200 200 200 200'],

  ['GET /api/v1/billing/balance',                  'none',            '200 200 200 200 200 200 200 200 401 401'],
  ['POST /api/v1/billing/charges',                 'none',            '201 201 201 201 201 201 201 201 401 401'],
  ['GET /api/v1/billing/ledger',                   'none',            '200 200 200 403 200 403 403 200 401 401'],
  ['GET /api/v1/billing/usage',                    'none',            '200 200 200 403 200 403 403 200 401 401'],

  ['POST /api/v1/admin/users',                     'none',            '201 403 403 403 403 403 403 403 401 401'],
  ['PATCH /api/v1/admin/users/{id}',               'user:member',     '200 403 403 403 403 403 403 403 401 401'],
  ['PATCH /api/v1/admin/users/{id}',               'user:other',      '200 403 403 403 403 403 403 403 401 401'],
  ['GET /api/v1/admin/organizations',              'none',            '200 403 403 403 403 403 403 403 401 401'],
  ['POST /api/v1/admin/credits',                   'none',            '201 403 403 403 403 403 403 403 401 401'],

  ['GET /health',                                  'none',            '200 200 200 200 200 200 200 200 200 200'],
  ['GET /metrics',                                 'none',            '200 200 200 200 200 200 200 200 200 200'],
];

/** What a cell sends: the path with its parameter filled, and the body or query the route needs. */
interface Call {
  path: string;
  body?: object;
  query?: Record<string, string>;
  idempotent?: boolean;
}

let serial = 0;
const unique = () => `${Date.now().toString(36)}${++serial}`;

/** How each route is called, given the resolved target id (a user, key or provision id, or a token). */
const CALLS: Record<string, (id: string, target: Target) => Call> = {
  'GET /api/v1/me': () => ({ path: '/api/v1/me' }),
  'GET /api/v1/users': () => ({ path: '/api/v1/users' }),
  'GET /api/v1/users/{id}': (id) => ({ path: `/api/v1/users/${id}` }),
  'DELETE /api/v1/users/{id}': (id) => ({ path: `/api/v1/users/${id}` }),
  'GET /api/v1/api-keys': (id, target) => ({ path: '/api/v1/api-keys', query: target === 'none' ? undefined : { user_id: id } }),
  'POST /api/v1/api-keys': (id) => ({ path: '/api/v1/api-keys', body: { user_id: id, name: 'matrix' } }),
  'DELETE /api/v1/api-keys/{id}': (id) => ({ path: `/api/v1/api-keys/${id}` }),
  'POST /api/v1/api-keys/{id}/rotate': (id) => ({ path: `/api/v1/api-keys/${id}/rotate` }),
  'POST /api/v1/admin/create-user': () => ({
    path: '/api/v1/admin/create-user',
    body: { email: `end-${unique()}@users.example` },
  }),
  'POST /api/v1/admin/create-users': () => ({
    path: '/api/v1/admin/create-users',
    body: { users: [{ email: `bulk-${unique()}@users.example` }] },
  }),
  'POST /api/v1/provisions': () => ({ path: '/api/v1/provisions', body: {} }),
  'PATCH /api/v1/provisions/{id}': (id) => ({
    path: `/api/v1/provisions/${id}`,
    body: { expires_at: new Date(Date.now() + 86_400_000).toISOString() },
  }),
  'POST /api/v1/provisions/{id}/reissue': (id) => ({ path: `/api/v1/provisions/${id}/reissue`, body: {} }),
  'GET /api/v1/provisions': () => ({ path: '/api/v1/provisions' }),
  'GET /api/v1/provisions/{id}': (id) => ({ path: `/api/v1/provisions/${id}` }),
  'DELETE /api/v1/provisions/{id}': (id) => ({ path: `/api/v1/provisions/${id}` }),
  'GET /api/v1/claims/{token}': (token) => ({ path: `/api/v1/claims/${token}` }),
  'POST /api/v1/claims/{token}': (token) => ({
    path: `/api/v1/claims/${token}`,
    body: { email: `person-${unique()}@mail.example` },
  }),
  'GET /claim/{token}': (token) => ({ path: `/claim/${token}` }),
  'GET /api/v1/billing/balance': () => ({ path: '/api/v1/billing/balance' }),
  'POST /api/v1/billing/charges': () => ({ path: '/api/v1/billing/charges', body: { units: 1 }, idempotent: true }),
  'GET /api/v1/billing/ledger': () => ({ path: '/api/v1/billing/ledger' }),
  'GET /api/v1/billing/usage': () => ({ path: '/api/v1/billing/usage' }),
  'POST /api/v1/admin/users': () => ({ path: '/api/v1/admin/users', body: { email: `made-${unique()}@c.example` } }),
  'PATCH /api/v1/admin/users/{id}': (id) => ({ path: `/api/v1/admin/users/${id}`, body: { is_provisioner: false } }),
  'GET /api/v1/admin/organizations': () => ({ path: '/api/v1/admin/organizations' }),
  'POST /api/v1/admin/credits': () => ({
    path: '/api/v1/admin/credits',
    body: { domain: 'a.example', amount: 1 },
    idempotent: true,
  }),
  'GET /health': () => ({ path: '/health' }),
  'GET /metrics': () => ({ path: '/metrics' }),
};

interface Identity {
  /** The X-API-Key sent, or null for none. */
  key: string | null;
  userId: string;
  keyId: string;
  organizationId: string;
  billingOrganizationId: string;
  scope: KeyScope;
  /** False for the revoked key: `key:itself` then targets that very key. */
  live: boolean;
}

describe('authorization matrix', () => {
  let t: TestApp;
  let openApiRoutes: string[];
  const callers = {} as Record<Caller, Identity>;
  let provisionerA: string;
  let ownerB: string;
  let orgA: string;
  let orgB: string;

  async function identity(key: string): Promise<Identity> {
    const me = await t.http().get('/api/v1/me').set('X-API-Key', key);
    if (me.status !== 200) throw new Error(`me: ${me.status}`);
    const keys = await t.http().get('/api/v1/api-keys').set('X-API-Key', key);
    const prefix = key.slice(0, 12);
    const own = (keys.body.data as { id: string; prefix: string }[]).find((k) => k.prefix === prefix);
    if (!own) throw new Error('calling key not listed');
    return {
      key,
      userId: me.body.id,
      keyId: own.id,
      organizationId: me.body.organization_id,
      billingOrganizationId: me.body.billing_organization_id,
      scope: me.body.scope,
      live: true,
    };
  }

  /** A new key of `owner`, made by the repository method POST /api-keys and rotation use. */
  async function issueKey(owner: { userId: string; billingOrganizationId: string; scope?: KeyScope }) {
    const apiKeys = t.app.get(ApiKeysRepository);
    return t.app.get(DataSource).transaction((manager) => apiKeys.issue(manager, owner));
  }

  /** A fresh user of org A that org A's provisioner provisioned; returns its id and key. */
  async function provisionedMember() {
    return provisionUser(t, provisionerA, `pm-${unique()}@elsewhere.example`);
  }

  /** Resolves a cell's target to the id (or token) the route takes; may swap in the key the caller sends. */
  async function resolve(target: Target, caller: Identity): Promise<{ id: string; key: string | null }> {
    switch (target) {
      case 'none':
        return { id: '', key: caller.key };
      case 'user:self':
        return { id: caller.userId, key: caller.key };
      case 'user:member':
        return { id: (await provisionedMember()).id, key: caller.key };
      case 'user:admin':
        return { id: (await adminCreateUser(t, { email: `adm-${unique()}@a.example`, role: 'admin' })).id, key: caller.key };
      case 'user:owner':
        return { id: (await adminCreateUser(t, { email: `own-${unique()}@a.example`, role: 'owner' })).id, key: caller.key };
      case 'user:other':
        return { id: (await provisionUser(t, ownerB, `ob-${unique()}@elsewhere.example`)).id, key: caller.key };
      case 'key:itself': {
        if (caller.key === null || !caller.live) return { id: caller.keyId, key: caller.key };
        // A copy of the calling key (same user, pool and scope), so revoking or rotating it spends only the copy.
        const copy = await issueKey(caller);
        return { id: copy.key.id, key: copy.plaintext };
      }
      case 'key:own':
        return {
          id: (await issueKey({ userId: caller.userId, billingOrganizationId: caller.organizationId })).key.id,
          key: caller.key,
        };
      case 'key:member': {
        const member = await provisionedMember();
        return { id: (await issueKey({ userId: member.id, billingOrganizationId: orgA })).key.id, key: caller.key };
      }
      case 'key:paid': {
        const holder = await provisionUser(t, ownerB, `holder-${unique()}@elsewhere.example`);
        const provision = await createProvision(t, provisionerA);
        const claim = await t
          .http()
          .post(`/api/v1/claims/${tokenOf(provision)}`)
          .set('X-API-Key', holder.api_key)
          .send({ email: 'h@mail.example' });
        if (claim.status !== 200) throw new Error(`claim: ${claim.status}`);
        const moved = await identity(provision.api_key);
        return { id: moved.keyId, key: caller.key };
      }
      case 'key:other': {
        const other = await provisionUser(t, ownerB, `ok-${unique()}@elsewhere.example`);
        return { id: (await issueKey({ userId: other.id, billingOrganizationId: orgB })).key.id, key: caller.key };
      }
      case 'provision:same':
        return { id: (await createProvision(t, provisionerA)).id, key: caller.key };
      case 'provision:other':
        return { id: (await createProvision(t, ownerB)).id, key: caller.key };
      case 'token':
        return { id: tokenOf(await createProvision(t, provisionerA)), key: caller.key };
    }
  }

  beforeAll(async () => {
    t = await startTestApp();
    const doc = (await t.http().get('/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    const methods = new Set(['get', 'post', 'put', 'patch', 'delete']);
    openApiRoutes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => methods.has(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );

    const ownerA = await adminCreateUser(t, { email: 'owner@a.example' });
    const adminA = await adminCreateUser(t, { email: 'admin@a.example', role: 'admin' });
    const memberA = await adminCreateUser(t, { email: 'member@a.example', role: 'member' });
    const provA = await adminCreateUser(t, { email: 'provisioner@a.example', is_provisioner: true });
    const ownB = await adminCreateUser(t, { email: 'owner@b.example', is_provisioner: true });
    provisionerA = provA.api_key;
    ownerB = ownB.api_key;
    orgA = ownerA.organization_id;
    orgB = ownB.organization_id;
    for (const domain of ['localhost', 'a.example', 'b.example']) {
      const grant = await grantCredits(t, domain, 100_000);
      if (grant.status !== 201) throw new Error(`grant ${domain}: ${grant.status}`);
    }
    const pending = await createProvision(t, provisionerA, { role: 'admin' });
    const restricted = await createProvision(t, ownerB);
    const claim = await t
      .http()
      .post(`/api/v1/claims/${tokenOf(restricted)}`)
      .set('X-API-Key', ownerA.api_key)
      .send({ email: 'o@a.example' });
    if (claim.status !== 200) throw new Error(`claim into owner A: ${claim.status}`);
    const revoked = await t.http().post('/api/v1/api-keys').set('X-API-Key', memberA.api_key).send({ name: 'revoked' });
    const member = await identity(memberA.api_key);

    callers.op = await identity(t.adminKey);
    callers.own = await identity(ownerA.api_key);
    callers.adm = await identity(adminA.api_key);
    callers.mem = member;
    callers.prv = await identity(provA.api_key);
    callers.pnd = await identity(pending.api_key);
    callers.rst = await identity(restricted.api_key);
    callers.obo = await identity(ownB.api_key);
    callers.nok = { ...member, key: null };
    callers.rvk = { ...member, key: revoked.body.api_key, keyId: revoked.body.id, live: false };
    expect((await t.http().delete(`/api/v1/api-keys/${revoked.body.id}`).set('X-API-Key', memberA.api_key)).status).toBe(204);
    expect([callers.rst.scope, callers.rst.userId, callers.rst.billingOrganizationId]).toEqual(['restricted', ownerA.id, orgB]);
  });
  afterAll(async () => t?.close());

  it('has a row for every route of the OpenAPI document, and no row for a route it does not have', () => {
    const covered = new Set(MATRIX.map(([route]) => route));
    expect(openApiRoutes.filter((route) => !covered.has(route))).toEqual([]);
    expect([...covered].filter((route) => !openApiRoutes.includes(route))).toEqual([]);
    expect(Object.keys(CALLS).sort()).toEqual([...covered].sort());
  });

  it.each(MATRIX)('%s (target %s): %s', async (route, target, statuses) => {
    const [method, pathPattern] = route.split(' ');
    const actual: string[] = [];
    /** Refusals that are not RFC 9457 problem details (the claim page answers HTML, by design). */
    const notProblems: string[] = [];
    for (const name of CALLERS) {
      const caller = callers[name];
      const resolved = await resolve(target, caller);
      const call = CALLS[route](resolved.id, target);
      expect(pathPattern.split('/').length).toBe(call.path.split('/').length);
      const req = t.http()[method.toLowerCase() as 'get' | 'post' | 'delete' | 'patch'](call.path);
      if (resolved.key !== null) req.set('X-API-Key', resolved.key);
      if (call.idempotent) req.set('Idempotency-Key', randomUUID());
      if (call.query) req.query(call.query);
      const res = await (call.body ? req.send(call.body) : req);
      actual.push(String(res.status));
      const problem = /^application\/problem\+json/.test(String(res.headers['content-type']));
      if (res.status >= 400 && !problem && !call.path.startsWith('/claim/')) notProblems.push(`${name}: ${res.status}`);
    }
    expect({ statuses: actual.join(' '), notProblems }).toEqual({ statuses, notProblems: [] });
  });
});
