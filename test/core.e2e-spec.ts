import { DataSource } from 'typeorm';
import { adminCreateUser, CreatedUser, provisionUser, rowCounts, startTestApp, TestApp } from './support/app';

describe('core service: operators, provisioners and API-only users', () => {
  let t: TestApp;
  let provisioner: CreatedUser;
  let otherProvisioner: CreatedUser;

  beforeAll(async () => {
    t = await startTestApp();
    provisioner = await adminCreateUser(t, { email: 'guy@orchestrator.com', is_provisioner: true });
    otherProvisioner = await adminCreateUser(t, { email: 'olga@other-orch.io', is_provisioner: true });
  });
  afterAll(async () => t?.close());

  describe('seed workflow', () => {
    it('operator creates a provisioner, provisioner creates a user, the user calls /me', async () => {
      expect(provisioner).toMatchObject({ email: 'guy@orchestrator.com', role: 'owner', is_provisioner: true });
      expect(provisioner.api_key).toMatch(/^pvk_[0-9A-Za-z]{38}$/);

      const res = await t
        .http()
        .post('/api/v1/admin/create-user')
        .set('X-API-Key', provisioner.api_key)
        .set('X-User-ID', 'GUY@Orchestrator.com')
        .send({ email: 'Alice@alice-startup.com' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        email: 'alice@orchestrator.com',
        external_email: 'Alice@alice-startup.com',
        organization_id: provisioner.organization_id,
        role: 'member',
        status: 'active',
        api_only: true,
        provisioned_by: provisioner.id,
        expires_at: null,
      });
      expect(res.body.api_key).toMatch(/^pvk_/);

      const me = await t.http().get('/api/v1/me').set('X-API-Key', res.body.api_key);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({
        id: res.body.id,
        email: 'alice@orchestrator.com',
        organization: { id: provisioner.organization_id, domain: 'orchestrator.com' },
      });
    });
  });

  describe('authentication', () => {
    it('answers 401 problem details for a missing key', async () => {
      const res = await t.http().get('/api/v1/me');
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized' });
      expect(typeof res.body.detail).toBe('string');
    });

    it('answers 401 for a malformed and for a well-formed unknown key', async () => {
      expect((await t.http().get('/api/v1/me').set('X-API-Key', 'pvk_nope')).status).toBe(401);
      const { generateApiKey } = await import('../src/api-keys/api-key-format');
      expect((await t.http().get('/api/v1/me').set('X-API-Key', generateApiKey())).status).toBe(401);
    });

    it('answers 401 for a revoked key at once', async () => {
      const user = await provisionUser(t, provisioner.api_key, 'revokee@x.com');
      const list = await t.http().get('/api/v1/api-keys').set('X-API-Key', user.api_key);
      expect(list.status).toBe(200);
      expect(list.body.data).toHaveLength(1);
      expect(list.body.data[0]).not.toHaveProperty('api_key');
      const del = await t.http().delete(`/api/v1/api-keys/${list.body.data[0].id}`).set('X-API-Key', user.api_key);
      expect(del.status).toBe(204);
      expect((await t.http().get('/api/v1/me').set('X-API-Key', user.api_key)).status).toBe(401);
    });
  });

  describe('authorization', () => {
    it('refuses create-user to a non-provisioner with 403', async () => {
      const member = await provisionUser(t, provisioner.api_key, 'member1@x.com');
      const res = await t.http().post('/api/v1/admin/create-user').set('X-API-Key', member.api_key).send({ email: 'z@z.com' });
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    });

    it('refuses a mismatching X-User-ID with 403 and writes nothing', async () => {
      const before = await rowCounts(t);
      const res = await t
        .http()
        .post('/api/v1/admin/create-user')
        .set('X-API-Key', provisioner.api_key)
        .set('X-User-ID', 'someone-else@orchestrator.com')
        .send({ email: 'mismatch@x.com' });
      expect(res.status).toBe(403);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('refuses operator routes to non-operators with 403', async () => {
      const res = await t.http().get('/api/v1/admin/organizations').set('X-API-Key', provisioner.api_key);
      expect(res.status).toBe(403);
      const res2 = await t.http().post('/api/v1/admin/users').set('X-API-Key', provisioner.api_key).send({ email: 'x@y.com' });
      expect(res2.status).toBe(403);
    });

    it("keeps one organization's provisioner away from another's users and keys", async () => {
      const alien = await provisionUser(t, otherProvisioner.api_key, 'alien@x.com');
      const asGuy = (req: ReturnType<ReturnType<TestApp['http']>['get']>) => req.set('X-API-Key', provisioner.api_key);
      expect((await asGuy(t.http().get(`/api/v1/users/${alien.id}`))).status).toBe(404);
      expect((await t.http().delete(`/api/v1/users/${alien.id}`).set('X-API-Key', provisioner.api_key)).status).toBe(404);
      expect((await asGuy(t.http().get(`/api/v1/api-keys?user_id=${alien.id}`))).status).toBe(404);
      const alienKeys = await t.http().get('/api/v1/api-keys').set('X-API-Key', alien.api_key);
      const alienKeyId = alienKeys.body.data[0].id;
      expect((await t.http().delete(`/api/v1/api-keys/${alienKeyId}`).set('X-API-Key', provisioner.api_key)).status).toBe(404);
      expect((await t.http().post(`/api/v1/api-keys/${alienKeyId}/rotate`).set('X-API-Key', provisioner.api_key)).status).toBe(404);
      const list = await asGuy(t.http().get('/api/v1/users?limit=200'));
      expect(list.status).toBe(200);
      expect(list.body.data.map((u: { id: string }) => u.id)).not.toContain(alien.id);
      expect(list.body.data.every((u: { organization_id: string }) => u.organization_id === provisioner.organization_id)).toBe(true);
      // The alien key still works: nothing above touched it.
      expect((await t.http().get('/api/v1/me').set('X-API-Key', alien.api_key)).status).toBe(200);
    });

    it('refuses the users list to a plain member with 403', async () => {
      const member = await provisionUser(t, provisioner.api_key, 'member2@x.com');
      expect((await t.http().get('/api/v1/users').set('X-API-Key', member.api_key)).status).toBe(403);
    });
  });

  describe('create-user input', () => {
    it('answers 409 naming the existing user on a collision, and writes nothing', async () => {
      const first = await provisionUser(t, provisioner.api_key, 'bob@first.com');
      const before = await rowCounts(t);
      const res = await t.http().post('/api/v1/admin/create-user').set('X-API-Key', provisioner.api_key).send({ email: 'BOB@second.org' });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ status: 409, existing_user_id: first.id });
      expect(res.body.detail).toContain(first.id);
      expect(await rowCounts(t)).toEqual(before);
    });

    const invalid: [string, unknown, number][] = [
      ['invalid address', { email: 'not-an-email' }, 400],
      ['non-ASCII local part', { email: 'jürgen@example.de' }, 400],
      ['65-character local part', { email: `${'a'.repeat(65)}@example.com` }, 400],
      ['missing email', {}, 400],
      ['email of the wrong type', { email: 42 }, 400],
      ['unknown field', { email: 'ok@example.com', admin: true }, 400],
      ['array body', [{ email: 'ok@example.com' }], 400],
    ];
    it.each(invalid)('refuses %s with a problem listing the field, and writes nothing', async (_name, body, status) => {
      const before = await rowCounts(t);
      const res = await t.http().post('/api/v1/admin/create-user').set('X-API-Key', provisioner.api_key).send(body as object);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status, title: 'Bad Request' });
      expect(Array.isArray(res.body.errors)).toBe(true);
      expect(res.body.errors[0]).toEqual({ field: expect.any(String), message: expect.any(String) });
      expect(await rowCounts(t)).toEqual(before);
    });

    it('accepts a 64-character local part', async () => {
      const user = await provisionUser(t, provisioner.api_key, `${'b'.repeat(64)}@example.com`);
      expect(user.email).toBe(`${'b'.repeat(64)}@orchestrator.com`);
    });

    it('refuses malformed JSON with 400 and writes nothing', async () => {
      const before = await rowCounts(t);
      const res = await t
        .http()
        .post('/api/v1/admin/create-user')
        .set('X-API-Key', provisioner.api_key)
        .set('Content-Type', 'application/json')
        .send('{"email": ');
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('refuses a huge body with 413 and writes nothing', async () => {
      const before = await rowCounts(t);
      const res = await t
        .http()
        .post('/api/v1/admin/create-user')
        .set('X-API-Key', provisioner.api_key)
        .send({ email: `${'a'.repeat(2_000_000)}@example.com` });
      expect(res.status).toBe(413);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('refuses the provisioner flag on a public mailbox domain with 422', async () => {
      const before = await rowCounts(t);
      const res = await t.http().post('/api/v1/admin/users').set('X-API-Key', t.adminKey).send({ email: 'someone@gmail.com', is_provisioner: true });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ status: 422, errors: [{ field: 'is_provisioner', message: expect.any(String) }] });
      expect(await rowCounts(t)).toEqual(before);

      const plain = await adminCreateUser(t, { email: 'someone@gmail.com' });
      const patch = await t.http().patch(`/api/v1/admin/users/${plain.id}`).set('X-API-Key', t.adminKey).send({ is_provisioner: true });
      expect(patch.status).toBe(422);
    });
  });

  describe('deactivation and rotation', () => {
    it("deactivating a user makes all of its keys 401 at once", async () => {
      const user = await provisionUser(t, provisioner.api_key, 'leaver@x.com');
      const second = await t.http().post('/api/v1/api-keys').set('X-API-Key', user.api_key).send({ name: 'second' });
      expect(second.status).toBe(201);
      const del = await t.http().delete(`/api/v1/users/${user.id}`).set('X-API-Key', provisioner.api_key);
      expect(del.status).toBe(204);
      expect((await t.http().get('/api/v1/me').set('X-API-Key', user.api_key)).status).toBe(401);
      expect((await t.http().get('/api/v1/me').set('X-API-Key', second.body.api_key)).status).toBe(401);
      const got = await t.http().get(`/api/v1/users/${user.id}`).set('X-API-Key', provisioner.api_key);
      expect(got.body.status).toBe('disabled');
      const keys = await t.http().get(`/api/v1/api-keys?user_id=${user.id}`).set('X-API-Key', provisioner.api_key);
      expect(keys.body.data.every((k: { revoked_at: string | null }) => k.revoked_at !== null)).toBe(true);
    });

    it('rotating a key makes the old key 401 and the new one work', async () => {
      const user = await provisionUser(t, provisioner.api_key, 'rotator@x.com');
      const keys = await t.http().get('/api/v1/api-keys').set('X-API-Key', user.api_key);
      const rotated = await t.http().post(`/api/v1/api-keys/${keys.body.data[0].id}/rotate`).set('X-API-Key', user.api_key);
      expect(rotated.status).toBe(201);
      expect(rotated.body.api_key).not.toBe(user.api_key);
      expect((await t.http().get('/api/v1/me').set('X-API-Key', user.api_key)).status).toBe(401);
      const me = await t.http().get('/api/v1/me').set('X-API-Key', rotated.body.api_key);
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(user.id);
      const again = await t.http().post(`/api/v1/api-keys/${keys.body.data[0].id}/rotate`).set('X-API-Key', rotated.body.api_key);
      expect(again.status).toBe(409);
    });

    it('an operator can disable and re-enable a user', async () => {
      const user = await provisionUser(t, provisioner.api_key, 'toggled@x.com');
      const off = await t.http().patch(`/api/v1/admin/users/${user.id}`).set('X-API-Key', t.adminKey).send({ status: 'disabled' });
      expect(off.status).toBe(200);
      expect((await t.http().get('/api/v1/me').set('X-API-Key', user.api_key)).status).toBe(401);
      await t.http().patch(`/api/v1/admin/users/${user.id}`).set('X-API-Key', t.adminKey).send({ status: 'active' });
      expect((await t.http().get('/api/v1/me').set('X-API-Key', user.api_key)).status).toBe(200);
    });
  });

  describe('secrets at rest', () => {
    it('stores no plaintext key in any column of any table', async () => {
      const user = await provisionUser(t, provisioner.api_key, 'secretive@x.com');
      const extra = await t.http().post('/api/v1/api-keys').set('X-API-Key', user.api_key).send({});
      const keys = [t.adminKey, provisioner.api_key, user.api_key, extra.body.api_key];
      const ds = t.app.get(DataSource);
      const columns: { table_name: string; column_name: string }[] = await ds.query(
        `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`,
      );
      expect(columns.length).toBeGreaterThan(10);
      for (const { table_name, column_name } of columns) {
        for (const key of keys) {
          const hits: unknown[] = await ds.query(
            `SELECT 1 FROM "${table_name}" WHERE position($1 in "${column_name}"::text) > 0
                OR position($1 in encode(convert_to("${column_name}"::text, 'UTF8'), 'escape')) > 0 LIMIT 1`,
            [key],
          );
          expect({ table_name, column_name, found: hits.length }).toEqual({ table_name, column_name, found: 0 });
        }
      }
    });
  });
});
