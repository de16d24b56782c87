import { adminCreateUser, CreatedUser, me, provisionUser, startTestApp, TestApp } from './support/app';

describe('users and organizations', () => {
  let t: TestApp;
  let provisioner: CreatedUser;

  beforeAll(async () => {
    t = await startTestApp();
    provisioner = await adminCreateUser(t, { email: 'owner@pager.io', is_provisioner: true });
  });
  afterAll(async () => t?.close());

  it('pages through the organization users with limit and next_cursor, each user once', async () => {
    for (let i = 0; i < 7; i++) await provisionUser(t, provisioner.api_key, `paged${i}@x.com`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { data: { id: string }[]; next_cursor: string | null } } = await t
        .http()
        .get('/api/v1/users')
        .query({ limit: 3, ...(cursor ? { cursor } : {}) })
        .set('X-API-Key', provisioner.api_key);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.data.map((u: { id: string }) => u.id));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toHaveLength(8);
    expect(new Set(seen).size).toBe(8);
    expect(pages).toBe(3);
  });

  it('filters the users list by status', async () => {
    const res = await t.http().get('/api/v1/users?status=disabled').set('X-API-Key', provisioner.api_key);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
    const bad = await t.http().get('/api/v1/users?status=sleeping').set('X-API-Key', provisioner.api_key);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('status');
  });

  it('makes the first user of a domain its owner and later ones members', async () => {
    const first = await adminCreateUser(t, { email: 'first@newdomain.org', role: 'member' });
    const second = await adminCreateUser(t, { email: 'second@newdomain.org' });
    const third = await adminCreateUser(t, { email: 'third@newdomain.org', role: 'admin' });
    expect([first.role, second.role, third.role]).toEqual(['owner', 'member', 'admin']);
    expect(second.organization_id).toBe(first.organization_id);
  });

  it('gives exactly one 201 and 409s when the same address is created concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.http().post('/api/v1/admin/create-user').set('X-API-Key', provisioner.api_key).send({ email: 'racer@x.com' }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const winner = results.find((r) => r.status === 201)!;
    for (const loser of results.filter((r) => r.status === 409)) {
      expect(loser.body.existing_user_id).toBe(winner.body.id);
    }
  });

  it('refuses to let users deactivate themselves', async () => {
    const res = await t.http().delete(`/api/v1/users/${provisioner.id}`).set('X-API-Key', provisioner.api_key);
    expect(res.status).toBe(409);
    expect((await me(t, provisioner.api_key)).status).toBe(200);
  });

  it('lets an org manager create and list keys for a user of the organization', async () => {
    const user = await provisionUser(t, provisioner.api_key, 'keyed@x.com');
    const created = await t
      .http()
      .post('/api/v1/api-keys')
      .set('X-API-Key', provisioner.api_key)
      .send({ user_id: user.id, name: 'ci' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ user_id: user.id, name: 'ci', prefix: created.body.api_key.slice(0, 12) });
    const whoAmI = await me(t, created.body.api_key);
    expect(whoAmI.body.id).toBe(user.id);
    const list = await t.http().get(`/api/v1/api-keys?user_id=${user.id}`).set('X-API-Key', provisioner.api_key);
    expect(list.body.data).toHaveLength(2);
    // A plain member cannot do the same for someone else.
    const other = await provisionUser(t, provisioner.api_key, 'other@x.com');
    const denied = await t.http().post('/api/v1/api-keys').set('X-API-Key', user.api_key).send({ user_id: other.id });
    expect(denied.status).toBe(403);
  });
});

describe('NUL characters in input', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it.each([
    [
      'POST /api/v1/api-keys name',
      (key: string) => t.http().post('/api/v1/api-keys').set('X-API-Key', key).send({ name: 'a\u0000b' }),
      'name',
    ],
    [
      'POST /api/v1/admin/users email',
      (key: string) => t.http().post('/api/v1/admin/users').set('X-API-Key', key).send({ email: 'a\u0000@b.com' }),
      'email',
    ],
    ['GET /api/v1/users?status', (key: string) => t.http().get('/api/v1/users?status=%00').set('X-API-Key', key), 'status'],
  ])('refuses %s with 400 naming the field', async (_name, send, field) => {
    const res = await send(t.adminKey);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field, message: 'must not contain the NUL character' }]);
  });
});
