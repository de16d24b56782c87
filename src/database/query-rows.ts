import type { DataSource, EntityManager } from 'typeorm';

/**
 * The rows of a raw query. TypeORM's PostgreSQL driver answers UPDATE and DELETE (also with
 * RETURNING, also behind a WITH) with `[rows, rowCount]` instead of the rows; this unwraps it.
 */
export async function queryRows<T>(
  runner: EntityManager | DataSource,
  sql: string,
  parameters: unknown[] = [],
): Promise<T[]> {
  const result: unknown = await runner.query(sql, parameters);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}
