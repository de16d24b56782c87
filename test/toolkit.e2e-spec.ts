import { DataSource } from 'typeorm';
import { adminCreateUser, CreatedUser, me, provisionUser, rowCounts, startTestApp, TestApp } from './support/app';
import { itOnRealServer } from './support/conditions';
import { createProvision, tokenOf } from './support/provisions';

const PROBLEM = /^application\/problem\+json/;
const DAY_MS = 86_400_000;

/** Issue 13: provision TTLs, reissue and PATCH of claim links, external_id, bulk create-user. */
describe("the orchestrator's toolkit", () => {
  let t: TestApp;
  let ds: DataSource;
  let guy: CreatedUser; // provisioner of toolkit.example
  let olga: CreatedUser; // provisioner of other-toolkit.example

  beforeAll(async () => {
    t = await startTestApp({ EXPIRY_SWEEP_INTERVAL_SECONDS: '86400' });
    ds = t.app.get(DataSource);
    guy = await adminCreateUser(t, { email: 'guy@toolkit.example', is_provisioner: true });
    olga = await adminCreateUser(t, { email: 'olga@other-toolkit.example', is_provisioner: true });
  });
  afterAll(async () => t?.close());

  const post = (path: string, key: string, body: object) => t.http().post(path).set('X-API-Key', key).send(body);
  const previewClaim = (token: string) => t.http().get(`/api/v1/claims/${token}`);
  const claim = (token: string, email: string) => t.http().post(`/api/v1/claims/${token}`).send({ email });
  const reissue = (id: string, body: object = {}, key = guy.api_key) => post(`/api/v1/provisions/${id}/reissue`, key, body);
  const patch = (id: string, body: object, key = guy.api_key) =>
    t.http().patch(`/api/v1/provisions/${id}`).set('X-API-Key', key).send(body);
  const placeholderExpiry = async (userId: string) =>
    ((await ds.query(`SELECT expires_at FROM users WHERE id = $1`, [userId]))[0].expires_at as Date).toISOString();

  describe('ttl_seconds on POST /api/v1/provisions', () => {
    it.each([3599, 2_592_001, 0, -1, 3600.5, '3600'])('refuses ttl_seconds %p with 400 and creates nothing', async (ttl) => {
      const before = await rowCounts(t);
      const res = await post('/api/v1/provisions', guy.api_key, { ttl_seconds: ttl });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.errors).toEqual([
        { field: 'ttl_seconds', message: 'ttl_seconds must be an integer between 3600 and 2592000' },
      ]);
      expect(await rowCounts(t)).toEqual(before);
    });

    it.each([3600, 2_592_000])(
      'takes ttl_seconds %p: the provision and its user expire that long after creation',
      async (ttl) => {
        const before = Date.now();
        const p = await createProvision(t, guy.api_key, { ttl_seconds: ttl });
        const ms = new Date(p.expires_at).getTime() - before;
        expect(ms).toBeGreaterThan(ttl * 1000 - 10_000);
        expect(ms).toBeLessThanOrEqual(ttl * 1000 + 10_000);
        expect(await placeholderExpiry(p.user_id)).toBe(p.expires_at);
        expect((await me(t, p.api_key)).body.expires_at).toBe(p.expires_at);
      },
    );
  });

  describe('POST /api/v1/provisions/{id}/reissue', () => {
    it('kills the old link at once (404), answers a new one shown once (no-store), and the new one claims', async () => {
      const p = await createProvision(t, guy.api_key);
      const oldToken = tokenOf(p);
      const res = await reissue(p.id);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({ id: p.id, user_id: p.user_id, status: 'pending', expires_at: p.expires_at });
      expect(res.body.claim_url).toMatch(/\/claim\/pvc_[0-9A-Za-z]{32}$/);
      const newToken = tokenOf(res.body);
      expect(newToken).not.toBe(oldToken);

      expect((await previewClaim(oldToken)).status).toBe(404);
      expect((await claim(oldToken, 'end-user@elsewhere.example')).status).toBe(404);
      expect((await t.http().get(`/claim/${oldToken}`)).status).toBe(404);
      // The provision itself does not show the link again.
      const read = await t.http().get(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(read.body.claim_url).toBeUndefined();

      expect((await previewClaim(newToken)).status).toBe(200);
      const claimed = await claim(newToken, 'end-user@elsewhere.example');
      expect(claimed.status).toBe(200);
      expect((await me(t, p.api_key)).body).toMatchObject({ status: 'active', expires_at: null });
    });

    it('with ttl_seconds moves expires_at to now + ttl_seconds, for the provision and its user', async () => {
      const p = await createProvision(t, guy.api_key);
      const before = Date.now();
      const res = await reissue(p.id, { ttl_seconds: 7200 });
      expect(res.status).toBe(200);
      const ms = new Date(res.body.expires_at).getTime() - before;
      expect(ms).toBeGreaterThan(7_200_000 - 10_000);
      expect(ms).toBeLessThanOrEqual(7_200_000 + 10_000);
      expect(await placeholderExpiry(p.user_id)).toBe(res.body.expires_at);
      // The key verifier reads the user's expiry: the cached principal was dropped.
      expect((await me(t, p.api_key)).body.expires_at).toBe(res.body.expires_at);
    });

    it('refuses a ttl_seconds out of bounds or an unknown field (400) and changes nothing', async () => {
      const p = await createProvision(t, guy.api_key);
      for (const body of [{ ttl_seconds: 60 }, { ttl_seconds: 2_592_001 }, { expires_at: p.expires_at }]) {
        const before = await rowCounts(t);
        const res = await reissue(p.id, body);
        expect(res.status).toBe(400);
        expect(await rowCounts(t)).toEqual(before);
      }
      expect((await previewClaim(tokenOf(p))).status).toBe(200);
    });

    it('is 409 for a provision that is not pending, and 404 for another organization or an unknown id', async () => {
      const claimed = await createProvision(t, guy.api_key);
      expect((await claim(tokenOf(claimed), 'x@elsewhere.example')).status).toBe(200);
      const cancelled = await createProvision(t, guy.api_key);
      expect((await t.http().delete(`/api/v1/provisions/${cancelled.id}`).set('X-API-Key', guy.api_key)).status).toBe(204);
      for (const [p, status] of [
        [claimed, 'claimed'],
        [cancelled, 'cancelled'],
      ] as const) {
        const res = await reissue(p.id);
        expect(res.status).toBe(409);
        expect(res.body).toMatchObject({ type: 'https://provisio.dev/problems/provision-not-pending', provision_status: status });
      }
      const mine = await createProvision(t, guy.api_key);
      expect((await reissue(mine.id, {}, olga.api_key)).status).toBe(404);
      expect((await reissue('00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await previewClaim(tokenOf(mine))).status).toBe(200);
    });
  });

  describe('PATCH /api/v1/provisions/{id}', () => {
    it('extends and shortens the expiry of provision and user; the link stays the same', async () => {
      const p = await createProvision(t, guy.api_key);
      for (const days of [29, 1]) {
        const expiresAt = new Date(Date.now() + days * DAY_MS).toISOString();
        const res = await patch(p.id, { expires_at: expiresAt });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id: p.id, status: 'pending', expires_at: expiresAt });
        expect(res.body.claim_url).toBeUndefined();
        expect(await placeholderExpiry(p.user_id)).toBe(expiresAt);
        expect((await me(t, p.api_key)).body.expires_at).toBe(expiresAt);
        expect((await previewClaim(tokenOf(p))).body).toMatchObject({ status: 'pending', expires_at: expiresAt });
      }
    });

    it('refuses a past, present, too far or malformed expires_at (400) and changes nothing', async () => {
      const p = await createProvision(t, guy.api_key);
      const bodies = [
        { expires_at: new Date(Date.now() - 60_000).toISOString() },
        { expires_at: new Date(Date.now() + 30 * DAY_MS + 60_000).toISOString() },
        { expires_at: 'tomorrow' },
        { expires_at: '2030-01-01T00:00:00' },
        { expires_at: 1893456000 },
        {},
      ];
      for (const body of bodies) {
        const res = await patch(p.id, body);
        expect(res.status).toBe(400);
        expect(res.body.errors[0].field).toBe('expires_at');
      }
      const read = await t.http().get(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key);
      expect(read.body.expires_at).toBe(p.expires_at);
    });

    it('is 409 for a provision that is not pending', async () => {
      const p = await createProvision(t, guy.api_key);
      expect((await t.http().delete(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key)).status).toBe(204);
      const res = await patch(p.id, { expires_at: new Date(Date.now() + DAY_MS).toISOString() });
      expect(res.status).toBe(409);
      expect(res.body.provision_status).toBe('cancelled');
    });
  });

  describe('external_id', () => {
    it('is stored and shown on the created user, /me and the user list; a second create with it is 409 naming the user', async () => {
      const res = await post('/api/v1/admin/create-user', guy.api_key, { email: 'ext1@anywhere.example', external_id: 'cust-1' });
      expect(res.status).toBe(201);
      expect(res.body.external_id).toBe('cust-1');
      expect((await me(t, res.body.api_key)).body.external_id).toBe('cust-1');

      const before = await rowCounts(t);
      const again = await post('/api/v1/admin/create-user', guy.api_key, {
        email: 'other@anywhere.example',
        external_id: 'cust-1',
      });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({
        type: 'https://provisio.dev/problems/external-id-taken',
        existing_user_id: res.body.id,
      });
      const asProvision = await post('/api/v1/provisions', guy.api_key, { external_id: 'cust-1' });
      expect(asProvision.status).toBe(409);
      expect(asProvision.body.existing_user_id).toBe(res.body.id);
      expect(await rowCounts(t)).toEqual(before);

      // Another organization may use the same id.
      const elsewhere = await post('/api/v1/admin/create-user', olga.api_key, {
        email: 'ext1@anywhere.example',
        external_id: 'cust-1',
      });
      expect(elsewhere.status).toBe(201);

      const list = await t.http().get('/api/v1/users?external_id=cust-1').set('X-API-Key', guy.api_key);
      expect(list.status).toBe(200);
      expect(list.body.data.map((u: { id: string }) => u.id)).toEqual([res.body.id]);
      const none = await t.http().get('/api/v1/users?external_id=nobody').set('X-API-Key', guy.api_key);
      expect(none.body).toEqual({ data: [], next_cursor: null });
    });

    it("is null on users created without one, and on provisions it is the placeholder user's", async () => {
      const plain = await provisionUser(t, guy.api_key, 'noext@anywhere.example');
      expect(plain.external_id).toBeNull();
      const p = await createProvision(t, guy.api_key, { external_id: 'prov-ext-1' });
      const user = await t.http().get(`/api/v1/users/${p.user_id}`).set('X-API-Key', guy.api_key);
      expect(user.body.external_id).toBe('prov-ext-1');
      expect((await me(t, p.api_key)).body.external_id).toBe('prov-ext-1');
    });

    it.each(['', 'x'.repeat(256), 'tab\there', 'nul-less\u0007bell', 42])(
      'refuses external_id %p with 400',
      async (externalId) => {
        const res = await post('/api/v1/admin/create-user', guy.api_key, {
          email: 'bad-ext@anywhere.example',
          external_id: externalId,
        });
        expect(res.status).toBe(400);
        expect(res.body.errors[0].field).toBe('external_id');
        const query = await t.http().get('/api/v1/users').query({ external_id: externalId }).set('X-API-Key', guy.api_key);
        expect(query.status).toBe(typeof externalId === 'number' ? 200 : 400);
      },
    );

    it('takes 255 printable characters, non-ASCII included', async () => {
      const id = 'é'.repeat(255);
      const res = await post('/api/v1/admin/create-user', guy.api_key, { email: 'long-ext@anywhere.example', external_id: id });
      expect(res.status).toBe(201);
      expect(res.body.external_id).toBe(id);
    });
  });

  describe('POST /api/v1/admin/create-users', () => {
    it('creates 98 of 100 with two bad items, answering every item in order; each created key works', async () => {
      const existing = await provisionUser(t, guy.api_key, 'taken@anywhere.example');
      const users: object[] = Array.from({ length: 100 }, (_, i) => ({
        email: `bulk${i}@anywhere.example`,
        external_id: `bulk-${i}`,
      }));
      users[17] = { email: 'not an address' };
      users[63] = { email: 'taken@anywhere.example' };
      const before = await rowCounts(t);
      const res = await post('/api/v1/admin/create-users', guy.api_key, { users });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const results = res.body.results as { status: number; user?: CreatedUser; problem?: Record<string, unknown> }[];
      expect(results).toHaveLength(100);
      expect(results.map((r) => r.status)).toEqual(users.map((_, i) => (i === 17 ? 400 : i === 63 ? 409 : 201)));
      expect(results[17].problem).toMatchObject({ status: 400, type: 'https://provisio.dev/problems/validation-failed' });
      expect((results[17].problem?.errors as { field: string }[])[0].field).toBe('email');
      expect(results[63].problem).toMatchObject({
        status: 409,
        type: 'https://provisio.dev/problems/email-taken',
        existing_user_id: existing.id,
      });
      const after = await rowCounts(t);
      expect(after.users - before.users).toBe(98);
      expect(after.api_keys - before.api_keys).toBe(98);
      for (const [i, result] of results.entries()) {
        if (result.status !== 201) continue;
        expect(result.user).toMatchObject({
          email: `bulk${i}@toolkit.example`,
          external_email: `bulk${i}@anywhere.example`,
          external_id: `bulk-${i}`,
          status: 'active',
          api_only: true,
          provisioned_by: guy.id,
        });
        const whoAmI = await me(t, result.user!.api_key);
        expect(whoAmI.status).toBe(200);
        expect(whoAmI.body.id).toBe(result.user!.id);
      }
    });

    it('answers an address or external_id asked twice in one batch with 409 for the later item', async () => {
      const res = await post('/api/v1/admin/create-users', guy.api_key, {
        users: [
          { email: 'twice@anywhere.example' },
          { email: 'twice@anywhere.example' },
          { email: 'ext-a@anywhere.example', external_id: 'dup-ext' },
          { email: 'ext-b@anywhere.example', external_id: 'dup-ext' },
          { email: 'Twice@toolkit.example' },
        ],
      });
      expect(res.status).toBe(200);
      const [a, b, c, d, e] = res.body.results;
      expect([a.status, b.status, c.status, d.status, e.status]).toEqual([201, 409, 201, 409, 409]);
      expect(b.problem).toMatchObject({ type: 'https://provisio.dev/problems/email-taken', existing_user_id: a.user.id });
      expect(d.problem).toMatchObject({ type: 'https://provisio.dev/problems/external-id-taken', existing_user_id: c.user.id });
      expect(e.problem.existing_user_id).toBe(a.user.id);
    });

    it('creates a later item whose external_id an earlier, refused item also asked for', async () => {
      await provisionUser(t, guy.api_key, 'held@anywhere.example');
      const res = await post('/api/v1/admin/create-users', guy.api_key, {
        users: [
          { email: 'held@anywhere.example', external_id: 'second-round' },
          { email: 'free@anywhere.example', external_id: 'second-round' },
        ],
      });
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([409, 201]);
      expect(res.body.results[1].user.external_id).toBe('second-round');
    });

    it.each([
      [{ users: [] }, 'users must hold at least 1 item'],
      [
        { users: Array.from({ length: 101 }, (_, i) => ({ email: `x${i}@anywhere.example` })) },
        'users must hold at most 100 items',
      ],
      [{ users: ['a@b.example'] }, 'each item of users must be an object'],
      [{}, 'users must be an array of 1–100 objects'],
    ])('refuses a body out of shape (400) and creates nothing: %#', async (body, message) => {
      const before = await rowCounts(t);
      const res = await post('/api/v1/admin/create-users', guy.api_key, body);
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { message: string }) => e.message)).toContain(message);
      expect(await rowCounts(t)).toEqual(before);
    });

    it("answers an unknown field of an item as that item's 400", async () => {
      const res = await post('/api/v1/admin/create-users', guy.api_key, {
        users: [{ email: 'fine@anywhere.example' }, { email: 'extra@anywhere.example', role: 'admin' }],
      });
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([201, 400]);
      expect(res.body.results[1].problem.errors).toEqual([{ field: 'role', message: 'unknown field role' }]);
    });

    it('replays a batch with the same Idempotency-Key: creates nothing, keys withheld', async () => {
      const body = { users: [{ email: 'idem1@anywhere.example' }, { email: 'idem2@anywhere.example' }, { email: 'bad' }] };
      const first = await post('/api/v1/admin/create-users', guy.api_key, body).set('Idempotency-Key', 'bulk-replay-1');
      expect(first.status).toBe(200);
      expect(first.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 400]);
      const before = await rowCounts(t);
      const replay = await post('/api/v1/admin/create-users', guy.api_key, body).set('Idempotency-Key', 'bulk-replay-1');
      expect(replay.status).toBe(200);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(await rowCounts(t)).toEqual(before);
      expect(replay.body.secrets_withheld).toBe(true);
      expect(replay.body.results[0].user).toMatchObject({
        id: first.body.results[0].user.id,
        api_key: null,
        secrets_withheld: true,
      });
      expect(replay.body.results[2]).toEqual(first.body.results[2]);
      const other = await post('/api/v1/admin/create-users', guy.api_key, { users: [{ email: 'idem3@anywhere.example' }] }).set(
        'Idempotency-Key',
        'bulk-replay-1',
      );
      expect(other.status).toBe(422);
    });

    itOnRealServer(
      'concurrent batches asking for the same addresses in opposite orders: each address created once, every item 201 or 409',
      'concurrent transactions (PGlite serializes them)',
      async () => {
        const emails = Array.from({ length: 40 }, (_, i) => `race${i}@anywhere.example`);
        const batches = [emails, [...emails].reverse(), emails.filter((_, i) => i % 2 === 0), [...emails].reverse()];
        const answers = await Promise.all(
          batches.map((batch) => post('/api/v1/admin/create-users', guy.api_key, { users: batch.map((email) => ({ email })) })),
        );
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
        const created = new Map<string, number>();
        for (const answer of answers) {
          for (const result of answer.body.results as { status: number; user?: CreatedUser }[]) {
            expect([201, 409]).toContain(result.status);
            if (result.user) created.set(result.user.email, (created.get(result.user.email) ?? 0) + 1);
          }
        }
        expect(created.size).toBe(40);
        expect([...created.values()].every((n) => n === 1)).toBe(true);
      },
    );

    it('refuses an X-User-ID that is not the caller (403), a member (403) and no key (401)', async () => {
      const body = { users: [{ email: 'hdr@anywhere.example' }] };
      expect(
        (await post('/api/v1/admin/create-users', guy.api_key, body).set('X-User-ID', 'someone@toolkit.example')).status,
      ).toBe(403);
      expect((await post('/api/v1/admin/create-users', guy.api_key, body).set('X-User-ID', 'GUY@toolkit.example')).status).toBe(
        200,
      );
      const member = await provisionUser(t, guy.api_key, 'plain-member@anywhere.example');
      expect((await post('/api/v1/admin/create-users', member.api_key, body)).status).toBe(403);
      expect((await t.http().post('/api/v1/admin/create-users').send(body)).status).toBe(401);
    });
  });
});
