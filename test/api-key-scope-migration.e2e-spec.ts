import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { MIGRATIONS } from '../src/database/migrations';
import { ApiKeyScope1795500200000 } from '../src/database/migrations/1795500200000-ApiKeyScope';
import { createTestDatabase, TestDatabase } from './support/database';

describe('migration ApiKeyScope: keys that spend another organization than their user become restricted', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const index = MIGRATIONS.indexOf(ApiKeyScope1795500200000);

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = new DataSource({ ...dataSourceOptions(db.url, 1), migrations: MIGRATIONS.slice(0, index), logging: false });
    await ds.initialize();
    await ds.runMigrations();
  });
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it('adds scope (full by default), marks the moved keys restricted, and drops it on revert', async () => {
    const [payer, claimant] = await ds.query(
      `INSERT INTO organizations (domain) VALUES ('payer.example'), ('claimant.example') RETURNING id`,
    );
    const [user] = await ds.query(
      `INSERT INTO users (email, organization_id, role) VALUES ('c@claimant.example', $1, 'admin') RETURNING id`,
      [claimant.id],
    );
    await ds.query(
      `INSERT INTO api_keys (user_id, billing_organization_id, key_hash, prefix, name)
       VALUES ($1, $2, '\\x01', 'pvk_own00000', 'own'), ($1, $3, '\\x02', 'pvk_moved000', 'moved')`,
      [user.id, claimant.id, payer.id],
    );

    const upTo = new DataSource({ ...dataSourceOptions(db.url, 1), migrations: MIGRATIONS.slice(0, index + 1), logging: false });
    await upTo.initialize();
    try {
      await upTo.runMigrations();
      expect(await upTo.query(`SELECT name, scope FROM api_keys ORDER BY name`)).toEqual([
        { name: 'moved', scope: 'restricted' },
        { name: 'own', scope: 'full' },
      ]);
      await expect(upTo.query(`UPDATE api_keys SET scope = 'admin'`)).rejects.toThrow(/ck_api_keys_scope/);

      await upTo.undoLastMigration();
      const columns = await upTo.query(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'api_keys' AND column_name = 'scope'`,
      );
      expect(columns).toEqual([]);
    } finally {
      await upTo.destroy();
    }
  });
});
