import { adminCreateUser, CreatedUser, me, provisionUser, startTestApp, tablesContaining, TestApp } from './support/app';

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

      const whoAmI = await me(t, res.body.api_key);
      expect(whoAmI.status).toBe(200);
      expect(whoAmI.body).toMatchObject({
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
      expect((await me(t, 'pvk_nope')).status).toBe(401);
      const { generateApiKey } = await import('../src/api-keys/api-key-format');
      expect((await me(t, generateApiKey())).status).toBe(401);
    });
  });

  describe('authorization', () => {
    it("keeps one organization's provisioner away from another's users and keys", async () => {
      const alien = await provisionUser(t, otherProvisioner.api_key, 'alien@x.com');
      const asGuy = (req: ReturnType<ReturnType<TestApp['http']>['get']>) => req.set('X-API-Key', provisioner.api_key);
      expect((await asGuy(t.http().get(`/api/v1/users/${alien.id}`))).status).toBe(404);
      expect((await t.http().delete(`/api/v1/users/${alien.id}`).set('X-API-Key', provisioner.api_key)).status).toBe(404);
      expect((await asGuy(t.http().get(`/api/v1/api-keys?user_id=${alien.id}`))).status).toBe(404);
      const alienKeys = await t.http().get('/api/v1/api-keys').set('X-API-Key', alien.api_key);
      const alienKeyId = alienKeys.body.data[0].id;
      expect((await t.http().delete(`/api/v1/api-keys/${alienKeyId}`).set('X-API-Key', provisioner.api_key)).status).toBe(404);
      expect((await t.http().post(`/api/v1/api-keys/${alienKeyId}/rotate`).set('X-API-Key', provisioner.api_key)).status).toBe(
        404,
      );
      const list = await asGuy(t.http().get('/api/v1/users?limit=200'));
      expect(list.status).toBe(200);
      expect(list.body.data.map((u: { id: string }) => u.id)).not.toContain(alien.id);
      expect(list.body.data.every((u: { organization_id: string }) => u.organization_id === provisioner.organization_id)).toBe(
        true,
      );
      // The alien key still works: nothing above touched it.
      expect((await me(t, alien.api_key)).status).toBe(200);
    });

    it('refuses the users list to a plain member with 403', async () => {
      const member = await provisionUser(t, provisioner.api_key, 'member2@x.com');
      expect((await t.http().get('/api/v1/users').set('X-API-Key', member.api_key)).status).toBe(403);
    });
  });

  describe('secrets at rest', () => {
    it('stores no plaintext key (nor its secret part after the prefix) in any table', async () => {
      const user = await provisionUser(t, provisioner.api_key, 'secretive@x.com');
      const extra = await t.http().post('/api/v1/api-keys').set('X-API-Key', user.api_key).send({});
      expect(extra.status).toBe(201);
      for (const key of [t.adminKey, provisioner.api_key, user.api_key, extra.body.api_key]) {
        expect({ secret: key.slice(12), tables: await tablesContaining(t, key.slice(12)) }).toEqual({
          secret: key.slice(12),
          tables: [],
        });
      }
    });
  });
});
