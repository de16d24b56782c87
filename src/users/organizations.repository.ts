import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Database } from '../database/database';

/**
 * Owns `organizations`: nothing else writes it. An organization's credit pool is Billing's
 * (`credit_pools`), which reads organizations but never writes them.
 */
@Injectable()
export class OrganizationsRepository {
  constructor(private readonly database: Database) {}

  /**
   * The organization of a domain, created if missing (in the caller's transaction). `created`
   * tells whether this call made it, so its first user becomes the owner, even under races.
   */
  async ensure(manager: EntityManager, domain: string): Promise<{ id: string; created: boolean }> {
    const [row] = await this.database.query<{ id: string; created: boolean }>(
      `INSERT INTO organizations (domain) VALUES ($1)
       ON CONFLICT (domain) DO UPDATE SET domain = EXCLUDED.domain
       RETURNING id, (xmax = 0) AS created`,
      [domain],
      manager,
    );
    return row;
  }
}
