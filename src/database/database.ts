import { Global, Injectable, Module, OnModuleInit } from '@nestjs/common';
import type { PoolClient, QueryConfig } from 'pg';
import { DataSource, EntityManager } from 'typeorm';

/** A hot statement: its name identifies the server-side prepared statement on each connection. */
export interface Statement {
  name: string;
  text: string;
}

/**
 * The one way raw SQL reaches PostgreSQL; repositories use it, services never do. `query` always
 * answers the rows (TypeORM's `manager.query` answers `[rows, rowCount]` for UPDATE and DELETE).
 *
 * Every statement goes through a connection of TypeORM's pool, by public API only: the
 * transaction's query runner when `manager` has one (`queryRunner.connect()` answers its `pg`
 * client), else a query runner of its own, released in `finally`. So the embedded PGlite, whose
 * connections share one backend session, still sees everything through the one pool.
 *
 * A `Statement` runs as a named prepared statement: each connection parses and plans it once, then
 * only binds and executes (faster on the server: bench/README.md, "Design notes"), and it skips
 * TypeORM's query wrapper on the client. On PGlite (detected from `SELECT version()`) a name prepared by one
 * connection would collide on another, so statements run unnamed there. An expected error (like the
 * unique violation the one-statement charge relies on) is the caller's to handle, not one for
 * TypeORM to log.
 */
@Injectable()
export class Database implements OnModuleInit {
  private named = false;
  /**
   * True on the embedded PGlite (known after start-up): one backend session behind every
   * connection, so nothing may open connections of its own beside the pool (see KeyCacheListener).
   */
  sharedSession = false;

  constructor(private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    const [{ version }] = await this.query<{ version: string }>('SELECT version()');
    this.sharedSession = /PGlite/i.test(version);
    this.named = !this.sharedSession;
  }

  /** The rows of `statement`, run in the transaction of `manager` when it has one, else on the pool. */
  async query<T>(statement: Statement | string, values: unknown[] = [], manager?: EntityManager): Promise<T[]> {
    const config: QueryConfig =
      typeof statement === 'string'
        ? { text: statement, values }
        : this.named
          ? { name: statement.name, text: statement.text, values }
          : { text: statement.text, values };
    const runner = manager?.queryRunner;
    if (runner && !runner.isReleased) {
      const client = (await runner.connect()) as PoolClient;
      return (await client.query(config)).rows as T[];
    }
    const own = this.dataSource.createQueryRunner();
    try {
      const client = (await own.connect()) as PoolClient;
      return (await client.query(config)).rows as T[];
    } finally {
      await own.release();
    }
  }
}

@Global()
@Module({ providers: [Database], exports: [Database] })
export class DatabaseModule {}
