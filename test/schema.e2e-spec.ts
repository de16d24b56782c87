import { DataSource } from 'typeorm';
import { startTestApp, TestApp } from './support/app';

describe('database schema', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it('is built by the migrations exactly as the entities describe it (nothing left to generate)', async () => {
    const ds = t.app.get(DataSource);
    expect(ds.options.synchronize).toBe(false);
    const pending = await ds.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('indexes every foreign-key column', async () => {
    const unindexed: { table: string; column: string }[] = await t.app.get(DataSource).query(`
      SELECT c.conrelid::regclass::text AS table, a.attname AS column
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
       WHERE c.contype = 'f'
         AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])`);
    expect(unindexed).toEqual([]);
  });
});
