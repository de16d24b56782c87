import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { paginateByCreation, PageQueryDto } from '../common/pagination';
import { Database } from '../database/database';
import { Provision } from './entities/provision.entity';
import type { ProvisionRole, ProvisionStatus } from './provision-status';

export interface NewProvision {
  id: string;
  organizationId: string;
  userId: string;
  createdBy: string;
  email: string;
  role: ProvisionRole;
  skipOnboarding: boolean;
  claimTokenHash: Buffer;
  expiresAt: Date;
}

/** What a claim token points at, with its organization's domain. */
export interface ProvisionByToken {
  id: string;
  /** The placeholder user while the provision is pending; null once it is gone. */
  user_id: string | null;
  domain: string;
  role: ProvisionRole;
  status: ProvisionStatus;
  expires_at: Date;
}

/** A provision just switched to `claimed`. */
export interface ClaimedProvision {
  id: string;
  user_id: string | null;
  domain: string;
  claimed_at: Date;
}

/**
 * Owns `provisions`: every query of that table is here, and nothing else writes it (Claims changes
 * a provision through `claimPending` and `setClaimedBy`).
 */
@Injectable()
export class ProvisionsRepository {
  constructor(
    @InjectRepository(Provision) private readonly provisions: Repository<Provision>,
    private readonly database: Database,
  ) {}

  /** Inserts a provision (in the caller's transaction) and answers the stored row. */
  async insert(manager: EntityManager, p: NewProvision): Promise<Provision> {
    await this.database.query(
      `INSERT INTO provisions (id, organization_id, user_id, created_by, email, role, skip_onboarding,
                               claim_token_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [p.id, p.organizationId, p.userId, p.createdBy, p.email, p.role, p.skipOnboarding, p.claimTokenHash, p.expiresAt],
      manager,
    );
    return manager.findOneByOrFail(Provision, { id: p.id });
  }

  findInOrganization(manager: EntityManager, organizationId: string, id: string): Promise<Provision | null> {
    return manager.findOneBy(Provision, { id, organizationId });
  }

  /** One page of an organization's provisions, oldest first, optionally of one effective status at `now`. */
  page(
    organizationId: string,
    status: ProvisionStatus | undefined,
    now: Date,
    query: PageQueryDto,
  ): Promise<{ items: Provision[]; nextCursor: string | null }> {
    const qb = this.provisions.createQueryBuilder('p').where('p.organization_id = :orgId', { orgId: organizationId });
    // Filter on the effective status: a pending row past its expiry is `expired`, not `pending`.
    if (status === 'pending') {
      qb.andWhere(`p.status = 'pending' AND p.expires_at > :now`, { now });
    } else if (status === 'expired') {
      qb.andWhere(`(p.status = 'expired' OR (p.status = 'pending' AND p.expires_at <= :now))`, { now });
    } else if (status) {
      qb.andWhere('p.status = :status', { status });
    }
    return paginateByCreation(qb, query);
  }

  /**
   * Cancels a pending, unexpired provision of an organization. Answers `{ userId }` of its
   * placeholder, or null when the provision is not (or no longer) pending: nothing changed then.
   */
  async cancelPending(
    manager: EntityManager,
    organizationId: string,
    id: string,
    now: Date,
  ): Promise<{ userId: string | null } | null> {
    const [row] = await this.database.query<{ user_id: string | null }>(
      `UPDATE provisions SET status = 'cancelled', cancelled_at = now(), updated_at = now()
        WHERE id = $1 AND organization_id = $2 AND status = 'pending' AND expires_at > $3
        RETURNING user_id`,
      [id, organizationId, now],
      manager,
    );
    return row ? { userId: row.user_id } : null;
  }

  /**
   * Changes a pending, unexpired provision of an organization: a new claim token (`claimTokenHash`,
   * the old one stops matching at once) and/or a new `expiresAt`; what is null stays. Answers the
   * changed row, or null when the provision is not (or no longer) pending: nothing changed then.
   * The conditional UPDATE row-locks it, so a concurrent claim either sees the new token or wins.
   */
  async updatePending(
    manager: EntityManager,
    organizationId: string,
    id: string,
    change: { claimTokenHash: Buffer | null; expiresAt: Date | null },
    now: Date,
  ): Promise<Provision | null> {
    const rows = await this.database.query<{ id: string }>(
      `UPDATE provisions SET claim_token_hash = COALESCE($4, claim_token_hash), expires_at = COALESCE($5, expires_at),
                             updated_at = now()
        WHERE id = $1 AND organization_id = $2 AND status = 'pending' AND expires_at > $3
        RETURNING id`,
      [id, organizationId, now, change.claimTokenHash, change.expiresAt],
      manager,
    );
    return rows.length === 1 ? manager.findOneByOrFail(Provision, { id }) : null;
  }

  /**
   * Expires up to `limit` pending provisions at or past `expires_at` (`FOR UPDATE SKIP LOCKED`,
   * rewritten only while still pending: instances share the work, each provision expires once).
   */
  expireBatch(manager: EntityManager, limit: number): Promise<{ id: string; user_id: string | null }[]> {
    return this.database.query(
      `WITH b AS (
         SELECT id FROM provisions
          WHERE status = 'pending' AND expires_at <= now()
          ORDER BY expires_at
          LIMIT $1
          FOR UPDATE SKIP LOCKED
       )
       UPDATE provisions p
          SET status = 'expired', expired_at = now(), updated_at = now()
         FROM b
        WHERE p.id = b.id AND p.status = 'pending'
       RETURNING p.id, p.user_id`,
      [limit],
      manager,
    );
  }

  /** The provision behind a claim token's hash, with its organization's domain, or null. */
  async findByTokenHash(manager: EntityManager | undefined, tokenHash: Buffer): Promise<ProvisionByToken | null> {
    const [row] = await this.database.query<ProvisionByToken>(
      `SELECT p.id, p.user_id, o.domain, p.role, p.status, p.expires_at
         FROM provisions p JOIN organizations o ON o.id = p.organization_id
        WHERE p.claim_token_hash = $1`,
      [tokenHash],
      manager,
    );
    return row ?? null;
  }

  /**
   * Switches the provision of a token from pending (and unexpired at `now`) to claimed, by one
   * conditional UPDATE that row-locks it: of concurrent claims exactly one gets the row. Null when
   * it was not pending.
   */
  async claimPending(
    manager: EntityManager,
    tokenHash: Buffer,
    claimedEmail: string,
    now: Date,
  ): Promise<ClaimedProvision | null> {
    const [row] = await this.database.query<ClaimedProvision>(
      `UPDATE provisions p
          SET status = 'claimed', claimed_at = now(), claimed_email = $2, updated_at = now()
         FROM organizations o
        WHERE p.claim_token_hash = $1 AND p.status = 'pending' AND p.expires_at > $3 AND o.id = p.organization_id
        RETURNING p.id, p.user_id, o.domain, p.claimed_at`,
      [tokenHash, claimedEmail, now],
      manager,
    );
    return row ?? null;
  }

  /** Records which user holds a claimed provision's account. */
  async setClaimedBy(manager: EntityManager, id: string, userId: string): Promise<void> {
    await this.database.query(`UPDATE provisions SET claimed_by_user_id = $2 WHERE id = $1`, [id, userId], manager);
  }
}
