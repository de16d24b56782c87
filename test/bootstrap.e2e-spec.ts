import { DataSource } from 'typeorm';
import { generateApiKey, hashApiKey } from '../src/api-keys/api-key-format';
import { createTestDatabase, TestDatabase, withClient } from './support/database';
import { adminCreateUser, me, startTestApp } from './support/app';
import { describeOnRealServer } from './support/conditions';
import { buildService, BuiltService, runService } from './support/process';

describe('operator bootstrap', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => db.drop());

  const operatorState = (url: string) =>
    withClient(url, async (c) => {
      const users = await c.query(`SELECT id, is_operator, status FROM users WHERE email = 'admin@localhost'`);
      const keys = await c.query(
        `SELECT k.key_hash, k.revoked_at FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.email = 'admin@localhost'`,
      );
      return { users: users.rows, keys: keys.rows as { key_hash: Buffer; revoked_at: Date | null }[] };
    });

  it('with ADMIN_API_KEY, makes that exact key the operator key, idempotently across two starts', async () => {
    const key = generateApiKey();
    for (let start = 0; start < 2; start++) {
      const t = await startTestApp({}, { db, adminKey: key });
      const whoAmI = await me(t, key);
      expect(whoAmI.status).toBe(200);
      expect(whoAmI.body).toMatchObject({ email: 'admin@localhost', is_operator: true });
      await t.close();
    }
    const state = await operatorState(db.url);
    expect(state.users).toHaveLength(1);
    expect(state.keys).toHaveLength(1);
    expect(state.keys[0].key_hash.equals(hashApiKey(key))).toBe(true);
  });

  it('without ADMIN_API_KEY, generates and prints a key once, and not again on the next start', async () => {
    const printed: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(chunk.toString());
      return true;
    });
    try {
      const first = await startTestApp({ ADMIN_API_KEY: '' }, { db });
      await first.close();
      const second = await startTestApp({ ADMIN_API_KEY: '' }, { db });
      const keysInOutput = printed.join('').match(/pvk_[0-9A-Za-z]{38}/g) ?? [];
      expect(keysInOutput).toHaveLength(1);
      spy.mockRestore();
      const whoAmI = await me(second, keysInOutput[0]!);
      expect(whoAmI.status).toBe(200);
      expect(whoAmI.body.is_operator).toBe(true);
      const live = await second.app.get(DataSource).query(`SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL`);
      expect(live[0].n).toBe(1);
      await second.close();
    } finally {
      spy.mockRestore();
    }
  });
});

/**
 * Start-up refusals, on the real process (`node <build>/src/main.js`): exit code 1, a message that
 * says why, and no secret of the environment in the output.
 */
describe('start-up refusals (real process)', () => {
  let build: BuiltService;
  beforeAll(async () => {
    build = await buildService();
  }, 180_000);
  afterAll(() => build?.remove());

  it('refuses an ADMIN_API_KEY shorter than 32 characters, without printing it', async () => {
    const key = 'Sh0rtAdm1nKey-31-characters-xyz';
    expect(key).toHaveLength(31);
    const run = await runService(build, { ADMIN_API_KEY: key });
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/ADMIN_API_KEY.*at least 32|ADMIN_API_KEY.*32–256/);
    expect(run.output).not.toContain(key);
    expect(run.output).not.toContain('Sh0rtAdm1n');
  });

  it('never prints a malformed ADMIN_API_KEY (a long one with spaces)', async () => {
    const key = 'pvk_ my very secret operator key with spaces 0123456789';
    const run = await runService(build, { ADMIN_API_KEY: key });
    expect(run.code).toBe(1);
    expect(run.output).toContain('ADMIN_API_KEY');
    expect(run.output).not.toContain('very secret');
    expect(run.output).not.toContain('0123456789');
  });

  it('never prints a malformed DATABASE_URL or the password inside it', async () => {
    const password = 'Hunter2-Passw0rd-InUrl';
    const run = await runService(build, { DATABASE_URL: `postgres://provisio:${password}@db.internal:notaport/provisio` });
    expect(run.code).toBe(1);
    expect(run.output).toContain('DATABASE_URL');
    expect(run.output).not.toContain(password);
    expect(run.output).not.toContain('db.internal');
  });

  it('never prints a METRICS_TOKEN or REDIS_URL password given beside a configuration error', async () => {
    // Whatever variable fails, the output is scrubbed of every secret the environment holds.
    const run = await runService(build, {
      ADMIN_API_KEY: 'too-short',
      METRICS_TOKEN: 'metrics-token-value-9f8e7d6c5b4a',
      REDIS_URL: 'redis://:redis-secret-pw-1a2b3c@127.0.0.1:6379',
    });
    expect(run.code).toBe(1);
    expect(run.output).not.toContain('too-short');
    expect(run.output).not.toContain('metrics-token-value');
    expect(run.output).not.toContain('redis-secret-pw');
  });

  describeOnRealServer(
    'with a database',
    'the process needs a database of its own, which the embedded PGlite of the test run is not',
    () => {
      let db: TestDatabase;
      beforeEach(async () => {
        db = await createTestDatabase();
      });
      afterEach(async () => db.drop());

      it('refuses to promote an existing user named by ADMIN_EMAIL, naming ADMIN_EMAIL, and changes nothing', async () => {
        const t = await startTestApp({}, { db });
        const squatter = await adminCreateUser(t, { email: 'boss@squat.example', role: 'owner' });
        await t.close();
        const before = await withClient(db.url, (c) =>
          c.query(`SELECT is_operator, status, role FROM users WHERE id = $1`, [squatter.id]),
        );

        const run = await runService(build, { DATABASE_URL: db.url, ADMIN_EMAIL: 'boss@squat.example', ADMIN_API_KEY: '' });
        expect(run.code).toBe(1);
        expect(run.output).toContain('ADMIN_EMAIL=boss@squat.example');
        expect(run.output).toMatch(/refuses to promote/);
        expect(run.output).not.toMatch(/pvk_[0-9A-Za-z]{38}/); // no key was generated for it

        const after = await withClient(db.url, async (c) => ({
          user: (await c.query(`SELECT is_operator, status, role FROM users WHERE id = $1`, [squatter.id])).rows,
          keys: (await c.query(`SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1`, [squatter.id])).rows[0].n,
        }));
        expect(after.user).toEqual(before.rows);
        expect(after.user[0].is_operator).toBe(false);
        expect(after.keys).toBe(1);
      });

      it('refuses a revoked ADMIN_API_KEY (says so, does not print it) and leaves it revoked', async () => {
        const key = generateApiKey();
        const t = await startTestApp({}, { db, adminKey: key });
        const keys = await t.http().get('/api/v1/api-keys').set('X-API-Key', key);
        expect((await t.http().delete(`/api/v1/api-keys/${keys.body.data[0].id}`).set('X-API-Key', key)).status).toBe(204);
        await t.close();

        const run = await runService(build, { DATABASE_URL: db.url, ADMIN_EMAIL: 'admin@localhost', ADMIN_API_KEY: key });
        expect(run.code).toBe(1);
        expect(run.output).toMatch(/ADMIN_API_KEY is a revoked key/);
        expect(run.output).not.toContain(key);
        expect(run.output).not.toContain(key.slice(4, 20));

        const state = await withClient(db.url, (c) =>
          c.query(`SELECT revoked_at FROM api_keys WHERE key_hash = $1`, [hashApiKey(key)]),
        );
        expect(state.rows).toHaveLength(1);
        expect(state.rows[0].revoked_at).not.toBeNull();
      });
    },
  );
});
