import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { ApiKey } from '../../api-keys/entities/api-key.entity';
import { Organization } from '../../users/entities/organization.entity';

export const LEDGER_REASONS = ['grant', 'charge', 'correction'] as const;
export type LedgerReason = (typeof LEDGER_REASONS)[number];

/**
 * One change of an organization's credit pool. Append-only: rows are inserted together with the
 * conditional UPDATE of credit_pools.balance, in one statement, and never updated or deleted,
 * so a pool's balance always equals the sum of its entries' deltas.
 */
@Entity('credit_ledger_entries')
@Check('ck_credit_ledger_entries_reason', `"reason" IN ('grant', 'charge', 'correction')`)
@Check('ck_credit_ledger_entries_delta_non_zero', `"delta" <> 0`)
@Check('ck_credit_ledger_entries_balance_after_non_negative', `"balance_after" >= 0`)
@Check('ck_credit_ledger_entries_charge_negative', `"reason" <> 'charge' OR "delta" < 0`)
@Check('ck_credit_ledger_entries_grant_positive', `"reason" <> 'grant' OR "delta" > 0`)
// The ledger list (newest first) and usage windows; scanned backwards for DESC.
@Index('ix_credit_ledger_entries_organization_id_created_at', ['organizationId', 'createdAt', 'id'])
// The ledger filtered by user, and usage per user.
@Index('ix_credit_ledger_entries_organization_id_user_id_created_at', ['organizationId', 'userId', 'createdAt'])
export class LedgerEntry {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_credit_ledger_entries' })
  id: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId: string;

  @ManyToOne(() => Organization, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_credit_ledger_entries_organization_id' })
  organization?: Organization;

  /**
   * Who spent (charge) or who granted (grant, correction). No foreign key, on purpose: the entry
   * keeps the id after that user is deleted (a cancelled, expired or transferred placeholder), as
   * the ledger is history. Null only in entries whose user was deleted before that was so.
   */
  @Index('ix_credit_ledger_entries_user_id')
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  /** That user's email at the time of the entry, kept with it. */
  @Column({ name: 'user_email', type: 'text', nullable: true })
  userEmail: string | null;

  /** The API key that made the change; null once that key is deleted. */
  @Index('ix_credit_ledger_entries_api_key_id')
  @Column({ name: 'api_key_id', type: 'uuid', nullable: true })
  apiKeyId: string | null;

  @ManyToOne(() => ApiKey, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'api_key_id', foreignKeyConstraintName: 'fk_credit_ledger_entries_api_key_id' })
  apiKey?: ApiKey | null;

  /** Credits added (grant, positive correction) or removed (charge, negative correction). */
  @Column({ type: 'integer' })
  delta: number;

  @Column({ type: 'text' })
  reason: LedgerReason;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** The pool's balance right after this entry. */
  @Column({ name: 'balance_after', type: 'integer' })
  balanceAfter: number;

  /** The Idempotency-Key of the request that wrote this entry. */
  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
