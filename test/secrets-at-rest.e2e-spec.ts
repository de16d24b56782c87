import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { adminCreateUser, provisionUser, startTestApp, TestApp } from './support/app';
import { charge, grantCredits } from './support/billing';
import { describeOnRealServer } from './support/conditions';
import { createProvision, tokenOf } from './support/provisions';

/**
 * No secret at rest: after a walk-through of everything that hands out a secret (operator and
 * provisioned users, keys created and rotated, provisions claimed both ways and cancelled, credits,
 * charges with Idempotency-Keys), a `pg_dump` of the whole database holds none of the plaintexts the
 * API returned, and nothing shaped like one (`pvk_`/`pvc_` + 32 base62, `whsec_` + base64).
 *
 * Only on the real server: the dump is the machine's PostgreSQL 15 `pg_dump` of the test's own
 * database (an embedded PGlite database is dumped differently, if at all).
 */
describeOnRealServer('secrets at rest: pg_dump after a walk-through', "the machine's pg_dump dumps a server database", () => {
  let t: TestApp;
  const secrets: string[] = [];
  const keep = <T extends string>(secret: T): T => {
    secrets.push(secret);
    return secret;
  };

  beforeAll(async () => {
    t = await startTestApp();
    keep(t.adminKey);
  });
  afterAll(async () => t?.close());

  it('holds no secret the API returned, and nothing shaped like one', async () => {
    const http = t.http;
    const guy = await adminCreateUser(t, { email: 'guy@dump.example', is_provisioner: true });
    keep(guy.api_key);
    const owner = await adminCreateUser(t, { email: 'owner@other-dump.example' });
    keep(owner.api_key);
    expect((await grantCredits(t, 'dump.example', 500)).status).toBe(201);

    const alice = await provisionUser(t, guy.api_key, 'alice@customer.io');
    keep(alice.api_key);
    const bulkKey = randomUUID();
    const bob = await http()
      .post('/api/v1/admin/create-user')
      .set('X-API-Key', guy.api_key)
      .set('Idempotency-Key', bulkKey)
      .send({ email: 'bob@customer.io' });
    expect(bob.status).toBe(201);
    keep(bob.body.api_key);
    // Its replay stored the answer without the secret.
    const replay = await http()
      .post('/api/v1/admin/create-user')
      .set('X-API-Key', guy.api_key)
      .set('Idempotency-Key', bulkKey)
      .send({ email: 'bob@customer.io' });
    expect(replay.status).toBe(201);
    expect(replay.body.api_key).toBeNull();

    const second = await http().post('/api/v1/api-keys').set('X-API-Key', alice.api_key).send({ name: 'second' });
    expect(second.status).toBe(201);
    keep(second.body.api_key);
    const rotated = await http().post(`/api/v1/api-keys/${second.body.id}/rotate`).set('X-API-Key', alice.api_key).send({});
    expect(rotated.status).toBe(201);
    keep(rotated.body.api_key);

    const activated = await createProvision(t, guy.api_key, { role: 'admin', email: 'carol@customer.io' });
    keep(activated.api_key);
    keep(tokenOf(activated));
    expect(
      (
        await http()
          .post(`/api/v1/claims/${tokenOf(activated)}`)
          .send({ email: 'carol@customer.io' })
      ).status,
    ).toBe(200);

    const transferred = await createProvision(t, guy.api_key, {});
    keep(transferred.api_key);
    keep(tokenOf(transferred));
    const claimed = await http()
      .post(`/api/v1/claims/${tokenOf(transferred)}`)
      .set('X-API-Key', owner.api_key)
      .send({ email: 'owner@other-dump.example' });
    expect(claimed.status).toBe(200);

    const cancelled = await createProvision(t, guy.api_key);
    keep(cancelled.api_key);
    keep(tokenOf(cancelled));
    expect((await http().delete(`/api/v1/provisions/${cancelled.id}`).set('X-API-Key', guy.api_key)).status).toBe(204);

    const pending = await http()
      .post('/api/v1/provisions')
      .set('X-API-Key', guy.api_key)
      .set('Idempotency-Key', randomUUID())
      .send({});
    expect(pending.status).toBe(201);
    keep(pending.body.api_key);
    keep(tokenOf(pending.body));

    for (const key of [
      alice.api_key,
      bob.body.api_key,
      rotated.body.api_key,
      activated.api_key,
      transferred.api_key,
      pending.body.api_key,
    ]) {
      expect((await charge(t, key, { units: 1, description: 'walk-through' })).status).toBe(201);
    }

    const { stdout: dump } = await promisify(execFile)('pg_dump', ['--no-owner', '--dbname', t.db.url], {
      maxBuffer: 64 * 1024 * 1024,
    });
    // The dump is of this database: it has the walk-through's rows.
    expect(dump).toContain('guy@dump.example');
    expect(dump).toContain('CREATE TABLE public.api_keys');
    expect(secrets.length).toBeGreaterThanOrEqual(15);

    const found = secrets.filter((secret) => dump.includes(secret) || dump.includes(secret.slice(12)));
    expect(found).toEqual([]);
    const shaped = dump.match(/pv[kc]_[0-9A-Za-z]{32,}|whsec_[0-9A-Za-z+/=]{32,}/g) ?? [];
    expect(shaped).toEqual([]);
  });
});
