import { grantCredits, charge } from './support/billing';
import { adminCreateUser, CreatedUser, provisionUser, startTestApp, TestApp } from './support/app';
import { createProvision, tokenOf } from './support/provisions';

/**
 * Issue 10's attack stories, told as an attacker outside would try them. Each one succeeded on the
 * code before the authorization policy (commit 9a4bf49) and must be refused now.
 */
describe('attack stories (issue 10)', () => {
  let t: TestApp;
  let n = 0;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  /** A new organization: its owner (first user) plus users of the given roles/flags, made by the operator. */
  async function organization(name: string, extra: { role?: string; is_provisioner?: boolean }[] = []) {
    const domain = `${name}-${++n}.example`;
    const owner = await adminCreateUser(t, { email: `owner@${domain}` });
    const others: CreatedUser[] = [];
    for (const [i, body] of extra.entries()) others.push(await adminCreateUser(t, { email: `user${i}@${domain}`, ...body }));
    return { domain, owner, others };
  }

  const get = (path: string, key: string) => t.http().get(path).set('X-API-Key', key);
  const post = (path: string, key: string, body: object = {}) => t.http().post(path).set('X-API-Key', key).send(body);
  const del = (path: string, key: string) => t.http().delete(path).set('X-API-Key', key);

  it("a provisioner cannot become the claimant through the key it provisioned and the claimant's account received", async () => {
    const orchestrator = await organization('orchestrator', [{ is_provisioner: true }]);
    const provisioner = orchestrator.others[0];
    const victim = await organization('victim', [{ role: 'admin' }, { role: 'member' }]);
    const [claimant, colleague] = victim.others;
    const provision = await createProvision(t, provisioner.api_key, { role: 'member' });
    // The orchestrator asks an admin of another organization to "claim with your account".
    const claim = await post(`/api/v1/claims/${tokenOf(provision)}`, claimant.api_key, { email: 'claimant@victim.example' });
    expect(claim.status).toBe(200);
    expect(claim.body.outcome).toBe('transferred');

    // The provisioner kept the plaintext of the moved key from the POST /provisions answer.
    const stolen = provision.api_key;
    // It authenticates as the claimant, but only with a plain member's rights.
    expect((await get('/api/v1/users', stolen)).status).toBe(403);
    expect((await get(`/api/v1/users/${colleague.id}`, stolen)).status).toBe(403);
    expect((await del(`/api/v1/users/${colleague.id}`, stolen)).status).toBe(403);
    expect((await post('/api/v1/api-keys', stolen, { user_id: colleague.id })).status).toBe(403);
    expect((await get('/api/v1/billing/ledger', stolen)).status).toBe(403);
    expect((await get(`/api/v1/api-keys?user_id=${claimant.id}`, stolen)).status).toBe(200);
    const ownKeys = await get('/api/v1/api-keys', stolen);
    expect(ownKeys.body.data.map((k: { prefix: string }) => k.prefix)).toEqual([stolen.slice(0, 12)]);
    const colleagueAfter = await get(`/api/v1/users/${colleague.id}`, victim.owner.api_key);
    expect(colleagueAfter.body.status).toBe('active');
    const me = await get('/api/v1/me', stolen);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: claimant.id, role: 'admin', scope: 'restricted' });
  });

  it("a provisioner cannot gain the operator's rights through a key the operator claimed", async () => {
    const orchestrator = await organization('orchestrator', [{ is_provisioner: true }]);
    const provision = await createProvision(t, orchestrator.others[0].api_key);
    const claim = await post(`/api/v1/claims/${tokenOf(provision)}`, t.adminKey, { email: 'ops@platform.example' });
    expect(claim.status).toBe(200);
    expect((await get('/api/v1/admin/organizations', provision.api_key)).status).toBe(403);
    expect(
      (await post('/api/v1/admin/users', provision.api_key, { email: 'mole@anywhere.example', is_provisioner: true })).status,
    ).toBe(403);
    const grant = await t
      .http()
      .post('/api/v1/admin/credits')
      .set('X-API-Key', provision.api_key)
      .set('Idempotency-Key', `steal-${n}`)
      .send({ domain: orchestrator.domain, amount: 1000 });
    expect(grant.status).toBe(403);
  });

  it("moved keys cannot mint keys on the provisioning organization's pool, and that organization lists and revokes the keys it pays for", async () => {
    const payer = await organization('payer', [{ is_provisioner: true }]);
    const provisioner = payer.others[0];
    expect((await grantCredits(t, payer.domain, 100)).status).toBe(201);
    const claimantOrg = await organization('claimant');
    const claimant = claimantOrg.owner;
    const provision = await createProvision(t, provisioner.api_key);
    expect((await post(`/api/v1/claims/${tokenOf(provision)}`, claimant.api_key, { email: 'c@claimant.example' })).status).toBe(
      200,
    );

    // Through the moved key: no new key at all.
    const minted = await post('/api/v1/api-keys', provision.api_key, { name: 'on their pool' });
    expect(minted.status).toBe(403);
    // Through the claimant's own full key: a new key bills the claimant's own organization.
    const own = await post('/api/v1/api-keys', claimant.api_key, { name: 'mine' });
    expect(own.status).toBe(201);
    expect(own.body).toMatchObject({ billing_organization_id: claimant.organization_id, scope: 'full' });
    // Rotating the moved key keeps it restricted and on the payer's pool.
    const movedList = await get('/api/v1/api-keys', provision.api_key);
    const movedId = movedList.body.data[0].id as string;
    const rotated = await post(`/api/v1/api-keys/${movedId}/rotate`, claimant.api_key);
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ scope: 'restricted', billing_organization_id: payer.owner.organization_id });
    expect((await post('/api/v1/api-keys', rotated.body.api_key)).status).toBe(403);
    expect((await charge(t, rotated.body.api_key, { units: 5 })).status).toBe(201);

    // The payer's managers see the key they pay for and may revoke it.
    for (const manager of [provisioner, payer.owner]) {
      const list = await get('/api/v1/api-keys', manager.api_key);
      expect(list.status).toBe(200);
      expect(list.body.data).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            id: rotated.body.id,
            user_id: claimant.id,
            billing_organization_id: payer.owner.organization_id,
          }),
        ]),
      );
    }
    expect((await del(`/api/v1/api-keys/${rotated.body.id}`, provisioner.api_key)).status).toBe(204);
    expect((await get('/api/v1/me', rotated.body.api_key)).status).toBe(401);
    // But not the claimant's own keys, which they do not pay for.
    expect((await del(`/api/v1/api-keys/${own.body.id}`, provisioner.api_key)).status).toBe(404);
  });

  it('an admin cannot mint a key for the owner', async () => {
    const org = await organization('ranks', [{ role: 'admin' }]);
    const admin = org.others[0];
    const res = await post('/api/v1/api-keys', admin.api_key, { user_id: org.owner.id });
    expect(res.status).toBe(403);
    const ownerKeys = await get('/api/v1/api-keys', org.owner.api_key);
    expect(ownerKeys.body.data).toHaveLength(1);
  });

  it('an admin cannot mint a key for a provisioner (and so gain the flag only operators grant)', async () => {
    const org = await organization('ranks', [{ role: 'admin' }, { role: 'member', is_provisioner: true }]);
    const [admin, provisioner] = org.others;
    const res = await post('/api/v1/api-keys', admin.api_key, { user_id: provisioner.id });
    expect(res.status).toBe(403);
    expect((await post(`/api/v1/api-keys`, org.owner.api_key, { user_id: provisioner.id })).status).toBe(403);
    const keys = await get('/api/v1/api-keys', provisioner.api_key);
    expect(keys.body.data).toHaveLength(1);
  });

  it('an admin cannot deactivate the owner', async () => {
    const org = await organization('ranks', [{ role: 'admin' }]);
    const res = await del(`/api/v1/users/${org.owner.id}`, org.others[0].api_key);
    expect(res.status).toBe(403);
    expect((await get('/api/v1/me', org.owner.api_key)).status).toBe(200);
  });

  it("a pending admin provision's placeholder is no manager before it is claimed", async () => {
    const org = await organization('pending', [{ is_provisioner: true }]);
    const provisioner = org.others[0];
    const member = await provisionUser(t, provisioner.api_key, `m${n}@elsewhere.example`);
    const provision = await createProvision(t, provisioner.api_key, { role: 'admin' });
    const placeholder = provision.api_key;
    expect((await get('/api/v1/users', placeholder)).status).toBe(403);
    expect((await get(`/api/v1/users/${member.id}`, placeholder)).status).toBe(403);
    expect((await post('/api/v1/api-keys', placeholder, { user_id: member.id })).status).toBe(403);
    expect((await del(`/api/v1/users/${member.id}`, placeholder)).status).toBe(403);
    expect((await get('/api/v1/billing/usage', placeholder)).status).toBe(403);
    expect((await get('/api/v1/me', member.api_key)).status).toBe(200);

    // From the claim on, the role applies.
    expect(
      (
        await t
          .http()
          .post(`/api/v1/claims/${tokenOf(provision)}`)
          .send({ email: 'real@person.example' })
      ).status,
    ).toBe(200);
    expect((await get('/api/v1/users', placeholder)).status).toBe(200);
  });
});
