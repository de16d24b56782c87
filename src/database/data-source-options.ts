import { DataSourceOptions } from 'typeorm';
import { DatabaseHealth, TypeOrmLogger } from './database-health';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

/**
 * How long a request waits for a pool connection (a new one, or a free one) before it is refused
 * with 503. pg-pool uses one setting for both, so it also bounds the wait for a free connection
 * under load: with 5 s, the 64-client charge test on a pool of 5 failed once on a busy 2-core
 * machine (it passed alone), so the wait stays at 10 s.
 */
const CONNECTION_TIMEOUT_MS = 10_000;

export interface RuntimeDatabaseOptions {
  /** Receives connection errors instead of the log (see DatabaseHealth). */
  health?: DatabaseHealth;
  /**
   * IDEMPOTENCY_LOCK_SECONDS: each connection asks PostgreSQL to end its session when it stays idle
   * inside a transaction this long. A transaction is only idle that long when its instance is gone
   * (killed, or its host lost without closing the socket); ending it rolls back what it held,
   * Idempotency-Key claims included, so a retry can succeed.
   */
  idleInTransactionSeconds?: number;
}

/** Options shared by the application and the TypeORM CLI (ormconfig.ts). Never synchronize. */
export function dataSourceOptions(url: string, poolSize = 10, runtime: RuntimeDatabaseOptions = {}): DataSourceOptions {
  const logger = runtime.health ? new TypeOrmLogger(runtime.health) : undefined;
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
    ...(logger
      ? { logger, poolErrorHandler: (error: Error) => logger.poolError(error) }
      : { logging: ['error', 'warn', 'migration'] }),
    extra: {
      max: poolSize,
      connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
      keepAlive: true,
      ...(runtime.idleInTransactionSeconds
        ? { idle_in_transaction_session_timeout: runtime.idleInTransactionSeconds * 1000 }
        : {}),
    },
  };
}
