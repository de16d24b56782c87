import { Global, Injectable, Module, OnModuleInit } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { DataSource, EntityManager } from 'typeorm';

/** A hot statement: its name identifies the server-side prepared statement on each connection. */
export interface Statement {
  name: string;
  text: string;
}

/**
 * Runs the hot statements (key lookup, create-user, charges) as named prepared statements: each
 * connection parses and plans them once, then only binds and executes, and the client skips
 * TypeORM's query wrapper (figures: bench/README.md, "Design notes").
 *
 * On the embedded PGlite every connection shares one backend session, so a name prepared by one
 * connection would collide on another: there, statements run unnamed.
 */
@Injectable()
export class PreparedStatements implements OnModuleInit {
  private named = false;
  /**
   * True on the embedded PGlite (known after start-up): one backend session behind every
   * connection, so nothing may open connections of its own beside the pool (see KeyCacheListener).
   */
  sharedSession = false;

  constructor(private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    const [{ version }]: { version: string }[] = await this.dataSource.query('SELECT version()');
    this.sharedSession = /PGlite/i.test(version);
    this.named = !this.sharedSession;
  }

  /**
   * Runs the statement on the pool, or on the transaction of `manager` when it has one — straight
   * through `pg` in both cases (an expected error, like the unique violation CHARGE_ONCE relies on,
   * is the caller's to handle, not one for TypeORM to log).
   */
  async query<T>(statement: Statement, values: unknown[], manager?: EntityManager): Promise<T[]> {
    const runner = manager?.queryRunner;
    const config = this.named ? { name: statement.name, text: statement.text, values } : { text: statement.text, values };
    if (runner && !runner.isReleased) {
      const client = (await runner.connect()) as PoolClient;
      return (await client.query(config)).rows as T[];
    }
    const pool = (this.dataSource.driver as unknown as { master: Pool }).master;
    return (await pool.query(config)).rows as T[];
  }
}

@Global()
@Module({ providers: [PreparedStatements], exports: [PreparedStatements] })
export class PreparedStatementsModule {}
