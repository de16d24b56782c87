import { AddressInfo } from 'node:net';
import { createClient, createConfig } from '../sdk/src/client';
import {
  claimableProvisionsControllerCreate,
  claimableProvisionsControllerReissue,
  claimsControllerClaim,
  claimsControllerPreview,
  createUserControllerCreateUser,
  createUserControllerCreateUsers,
  adminUsersControllerCreate,
  usersControllerList,
  usersControllerMe,
} from '../sdk/src';
import { startTestApp, TestApp } from './support/app';

/**
 * The README's walk-through in SDK form (sdk/, generated from /docs-json by `npm run sdk`), run
 * against the real application listening on a port: operator → provisioner → create-user → /me,
 * bulk create, provision → reissue → preview → claim.
 */
describe('the typed SDK (sdk/) against the real app', () => {
  let t: TestApp;
  let baseUrl: string;

  beforeAll(async () => {
    t = await startTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => t?.close());

  /** A client that sends `apiKey` as X-API-Key (the document's security scheme). */
  const clientFor = (apiKey?: string) => createClient(createConfig({ baseUrl, auth: apiKey, throwOnError: true }));

  it('runs the walk-through: provisioner, create-user, /me, bulk, provision, reissue, claim', async () => {
    const operator = clientFor(t.adminKey);
    const { data: provisioner } = await adminUsersControllerCreate({
      client: operator,
      throwOnError: true,
      body: { email: 'guy@sdk-orchestrator.example', is_provisioner: true },
    });
    expect(provisioner).toMatchObject({ role: 'owner', is_provisioner: true });
    const guy = clientFor(provisioner.api_key as string);

    const { data: alice, response } = await createUserControllerCreateUser({
      client: guy,
      throwOnError: true,
      headers: { 'X-User-ID': 'guy@sdk-orchestrator.example' },
      body: { email: 'alice@alice-startup.example', external_id: 'crm-alice' },
    });
    expect(response.status).toBe(201);
    expect(alice).toMatchObject({ email: 'alice@sdk-orchestrator.example', external_id: 'crm-alice', status: 'active' });

    const { data: aliceMe } = await usersControllerMe({ client: clientFor(alice.api_key as string), throwOnError: true });
    expect(aliceMe).toMatchObject({
      id: alice.id,
      external_id: 'crm-alice',
      organization: { domain: 'sdk-orchestrator.example' },
    });

    const { data: found } = await usersControllerList({ client: guy, throwOnError: true, query: { external_id: 'crm-alice' } });
    expect(found.data.map((u) => u.id)).toEqual([alice.id]);

    // A refused create: the SDK's error is the problem document (throwOnError: false to read it).
    const twin = await createUserControllerCreateUser({
      client: guy,
      throwOnError: false as const,
      body: { email: 'alice2@alice-startup.example', external_id: 'crm-alice' },
    });
    expect(twin.response.status).toBe(409);
    expect(twin.error).toMatchObject({ type: 'https://provisio.dev/problems/external-id-taken', existing_user_id: alice.id });

    const { data: bulk } = await createUserControllerCreateUsers({
      client: guy,
      throwOnError: true,
      body: { users: [{ email: 'bob@bob.example' }, { email: 'alice@alice-startup.example' }] },
    });
    expect(bulk.results.map((r) => r.status)).toEqual([201, 409]);
    expect(bulk.results[0].user?.email).toBe('bob@sdk-orchestrator.example');

    const { data: provision } = await claimableProvisionsControllerCreate({
      client: guy,
      throwOnError: true,
      body: { role: 'member', ttl_seconds: 3600, external_id: 'crm-carol' },
    });
    expect(provision.status).toBe('pending');
    const { data: reissued } = await claimableProvisionsControllerReissue({
      client: guy,
      throwOnError: true,
      path: { id: provision.id },
      body: { ttl_seconds: 86_400 },
    });
    expect(reissued.claim_url).not.toBe(provision.claim_url);
    const token = reissued.claim_url.slice(reissued.claim_url.lastIndexOf('/') + 1);

    const anonymous = clientFor();
    const { data: preview } = await claimsControllerPreview({ client: anonymous, throwOnError: true, path: { token } });
    expect(preview).toMatchObject({
      organization: 'sdk-orchestrator.example',
      status: 'pending',
      expires_at: reissued.expires_at,
    });
    const { data: claimed } = await claimsControllerClaim({
      client: anonymous,
      throwOnError: true,
      path: { token },
      body: { email: 'carol@carol.example' },
    });
    expect(claimed).toBeDefined();
    const { data: carolMe } = await usersControllerMe({ client: clientFor(provision.api_key as string), throwOnError: true });
    expect(carolMe).toMatchObject({ status: 'active', external_id: 'crm-carol', external_email: 'carol@carol.example' });
  });
});
