import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { ApiKey } from '../../api-keys/entities/api-key.entity';
import { Organization } from '../../users/entities/organization.entity';
import { User } from '../../users/entities/user.entity';

export const RESERVATION_STATUSES = ['held', 'committed', 'released', 'expired'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/**
 * Credits held on a pool (credit_pools.held) until committed, released or expired. While `held`,
 * its units are counted in the pool's `held` and, when its spender has a limit, in that limit's
 * `spent` of the window `limit_window`.
 */
@Entity('credit_reservations')
@Check('ck_credit_reservations_status', `"status" IN ('held', 'committed', 'released', 'expired')`)
@Check('ck_credit_reservations_units_positive', `"units" >= 1`)
@Check(
  'ck_credit_reservations_committed_units',
  `"committed_units" IS NULL OR ("committed_units" >= 0 AND "committed_units" <= "units")`,
)
// The sweep: live holds by expiry.
@Index('ix_credit_reservations_expires_at_held', ['expiresAt'], { where: `"status" = 'held'` })
export class Reservation {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_credit_reservations' })
  id: string;

  @Index('ix_credit_reservations_organization_id')
  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId: string;

  @ManyToOne(() => Organization, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_credit_reservations_organization_id' })
  organization?: Organization;

  @Index('ix_credit_reservations_user_id')
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'fk_credit_reservations_user_id' })
  user?: User | null;

  @Index('ix_credit_reservations_api_key_id')
  @Column({ name: 'api_key_id', type: 'uuid', nullable: true })
  apiKeyId: string | null;

  @ManyToOne(() => ApiKey, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'api_key_id', foreignKeyConstraintName: 'fk_credit_reservations_api_key_id' })
  apiKey?: ApiKey | null;

  /** The spender whose limit counted this hold (null: no limit applied). */
  @Column({ name: 'limit_user_id', type: 'uuid', nullable: true })
  limitUserId: string | null;

  /** The limit window the hold was counted in. */
  @Column({ name: 'limit_window', type: 'timestamptz', nullable: true })
  limitWindow: Date | null;

  @Column({ type: 'integer' })
  units: number;

  @Column({ name: 'committed_units', type: 'integer', nullable: true })
  committedUnits: number | null;

  @Column({ type: 'text', default: 'held' })
  status: ReservationStatus;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** The commit's ledger entry (none for a commit of 0). */
  @Column({ name: 'ledger_entry_id', type: 'uuid', nullable: true })
  ledgerEntryId: string | null;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
