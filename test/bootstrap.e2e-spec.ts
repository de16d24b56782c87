import { DataSource } from 'typeorm';
import { generateApiKey, hashApiKey } from '../src/api-keys/api-key-format';
import { createTestDatabase, TestDatabase, withClient } from './support/database';
import { me, startTestApp } from './support/app';

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

  it('reactivates ADMIN_API_KEY at start-up if it was revoked', async () => {
    const key = generateApiKey();
    const t = await startTestApp({}, { db, adminKey: key });
    const keys = await t.http().get('/api/v1/api-keys').set('X-API-Key', key);
    await t.http().delete(`/api/v1/api-keys/${keys.body.data[0].id}`).set('X-API-Key', key);
    expect((await me(t, key)).status).toBe(401);
    await t.close();
    const again = await startTestApp({}, { db, adminKey: key });
    expect((await me(again, key)).status).toBe(200);
    await again.close();
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
