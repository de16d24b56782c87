import { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

/** Options shared by the application and the TypeORM CLI (ormconfig.ts). Never synchronize. */
export function dataSourceOptions(url: string, poolSize = 10): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    synchronize: false,
    logging: ['error', 'warn', 'migration'],
    extra: { max: poolSize, connectionTimeoutMillis: 10_000 },
  };
}
