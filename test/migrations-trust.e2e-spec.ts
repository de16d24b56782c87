import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { MIGRATIONS } from '../src/database/migrations';
import { IdempotencyKeysPerUser1795500310000 } from '../src/database/migrations/1795500310000-IdempotencyKeysPerUser';
import { createTestDatabase, TestDatabase } from './support/database';

/**
 * The per-user Idempotency-Key and kept-spender migrations on a database that already holds rows
 * written by the previous schema: every row stays, and stays attributed where that can be told.
 */
describe('migrations 1795500310000 (per-user Idempotency-Keys) and 1795500320000 (kept spenders) on existing rows', () => {
  let db: TestDatabase;
  let ds: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db.drop();
  });

  it('keeps every stored key valid, attributes it to its caller where it can, and fills user_email', async () => {
    const before = MIGRATIONS.indexOf(IdempotencyKeysPerUser1795500310000);
    expect(before).toBeGreaterThan(0);
    ds = new DataSource({ ...dataSourceOptions(db.url, 1), migrations: MIGRATIONS.slice(0, before) });
    await ds.initialize();
    await ds.runMigrations();

    const [org] = await ds.query(`INSERT INTO organizations (domain) VALUES ('legacy.example') RETURNING id`);
    const [guy] = await ds.query(
      `INSERT INTO users (email, organization_id, role, is_provisioner) VALUES ('guy@legacy.example', $1, 'owner', true) RETURNING id`,
      [org.id],
    );
    const [made] = await ds.query(
      `INSERT INTO users (email, organization_id, provisioned_by) VALUES ('made@legacy.example', $1, $2) RETURNING id`,
      [org.id, guy.id],
    );
    const [gone] = await ds.query(`INSERT INTO users (email, organization_id) VALUES ('gone@legacy.example', $1) RETURNING id`, [
      org.id,
    ]);
    const [grant] = await ds.query(
      `INSERT INTO credit_ledger_entries (organization_id, user_id, delta, reason, balance_after) VALUES ($1, $2, 100, 'grant', 100) RETURNING id`,
      [org.id, guy.id],
    );
    const [spent] = await ds.query(
      `INSERT INTO credit_ledger_entries (organization_id, user_id, delta, reason, balance_after, idempotency_key)
       VALUES ($1, $2, -10, 'charge', 90, 'charge-1') RETURNING id`,
      [org.id, guy.id],
    );
    const [lost] = await ds.query(
      `INSERT INTO credit_ledger_entries (organization_id, user_id, delta, reason, balance_after) VALUES ($1, $2, -1, 'charge', 89) RETURNING id`,
      [org.id, gone.id],
    );
    await ds.query(`DELETE FROM users WHERE id = $1`, [gone.id]); // the old foreign key nulls its entry's user_id
    const store = (key: string, status: string, body: object | null) =>
      ds.query(
        `INSERT INTO idempotency_keys (organization_id, key, request_hash, status, response_status, response_body, expires_at)
         VALUES ($1, $2, '\\x00', $3, $4, $5::jsonb, now() + interval '1 day')`,
        [org.id, key, status, body ? 201 : null, body ? JSON.stringify(body) : null],
      );
    await store('charge-1', 'completed', { kind: 'body', body: { id: spent.id, user_id: guy.id } });
    await store('create-1', 'completed', { kind: 'body', body: { id: made.id, email: 'made@legacy.example' } });
    await store('refused-1', 'completed', { kind: 'problem', code: 'insufficient-credits', detail: 'short' });
    await store('in-flight-1', 'in_progress', null);
    await ds.destroy();

    ds = new DataSource(dataSourceOptions(db.url, 1));
    await ds.initialize();
    await ds.runMigrations();

    const keys = await ds.query(`SELECT key, user_id, status FROM idempotency_keys ORDER BY key`);
    const nil = '00000000-0000-0000-0000-000000000000';
    expect(keys).toEqual([
      { key: 'charge-1', user_id: guy.id, status: 'completed' },
      { key: 'create-1', user_id: guy.id, status: 'completed' },
      { key: 'in-flight-1', user_id: nil, status: 'in_progress' },
      { key: 'refused-1', user_id: nil, status: 'completed' },
    ]);
    const [pk] = await ds.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'pk_idempotency_keys'`,
    );
    expect(pk.def).toBe('PRIMARY KEY (organization_id, user_id, key)');

    const entries = await ds.query(
      `SELECT id, user_id, user_email FROM credit_ledger_entries ORDER BY balance_after DESC, delta DESC`,
    );
    expect(entries).toEqual(
      expect.arrayContaining([
        { id: grant.id, user_id: guy.id, user_email: 'guy@legacy.example' },
        { id: spent.id, user_id: guy.id, user_email: 'guy@legacy.example' },
        { id: lost.id, user_id: null, user_email: null },
      ]),
    );
    const fk = await ds.query(`SELECT 1 FROM pg_constraint WHERE conname = 'fk_credit_ledger_entries_user_id'`);
    expect(fk).toEqual([]);

    // From now on a deleted user keeps its entries' user_id.
    await ds.query(`DELETE FROM users WHERE id = $1`, [made.id]);
    await ds.query(
      `INSERT INTO credit_ledger_entries (organization_id, user_id, user_email, delta, reason, balance_after) VALUES ($1, $2, 'x@legacy.example', 1, 'grant', 91)`,
      [org.id, made.id],
    );
    const kept = await ds.query(`SELECT user_id FROM credit_ledger_entries WHERE balance_after = 91`);
    expect(kept).toEqual([{ user_id: made.id }]);

    // And down again (with any later migration first): the previous schema comes back.
    const applied = async () =>
      (await ds.query<{ name: string }[]>(`SELECT name FROM typeorm_migrations`)).map((row) => row.name);
    for (
      let undone = 0;
      undone < MIGRATIONS.length && (await applied()).includes('IdempotencyKeysPerUser1795500310000');
      undone++
    ) {
      await ds.undoLastMigration();
    }
    expect(await applied()).not.toContain('IdempotencyKeysPerUser1795500310000');
    const [oldPk] = await ds.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'pk_idempotency_keys'`,
    );
    expect(oldPk.def).toBe('PRIMARY KEY (organization_id, key)');
  });
});
