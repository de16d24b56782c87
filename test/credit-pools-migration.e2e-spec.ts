import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { MIGRATIONS } from '../src/database/migrations';
import { CreditPools1795500110000 } from '../src/database/migrations/1795500110000-CreditPools';
import { createTestDatabase, TestDatabase } from './support/database';

describe('migration CreditPools: the balance moves from organizations to credit_pools', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const before = MIGRATIONS.slice(0, MIGRATIONS.indexOf(CreditPools1795500110000));

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = new DataSource({ ...dataSourceOptions(db.url, 1), migrations: before, logging: false });
    await ds.initialize();
    await ds.runMigrations();
  });
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await db?.drop();
  });

  it('copies every balance, drops organizations.balance, and gives it back on revert', async () => {
    await ds.query(`INSERT INTO organizations (domain, balance) VALUES ('rich.example', 42), ('poor.example', 0)`);
    // Up to CreditPools only, so that undoLastMigration below reverts it whatever migrations follow.
    const all = new DataSource({
      ...dataSourceOptions(db.url, 1),
      migrations: MIGRATIONS.slice(0, before.length + 1),
      logging: false,
    });
    await all.initialize();
    try {
      await all.runMigrations();
      const pools = await all.query(
        `SELECT o.domain, p.balance FROM credit_pools p JOIN organizations o ON o.id = p.organization_id ORDER BY o.domain`,
      );
      expect(pools).toEqual([
        { domain: 'poor.example', balance: 0 },
        { domain: 'rich.example', balance: 42 },
      ]);
      const columns = await all.query(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'organizations' AND column_name = 'balance'`,
      );
      expect(columns).toEqual([]);

      await all.undoLastMigration();
      const restored = await all.query(`SELECT domain, balance FROM organizations ORDER BY domain`);
      expect(restored).toEqual([
        { domain: 'poor.example', balance: 0 },
        { domain: 'rich.example', balance: 42 },
      ]);
    } finally {
      await all.destroy();
    }
  });
});
