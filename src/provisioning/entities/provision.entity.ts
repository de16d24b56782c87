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
import { Organization } from '../../users/entities/organization.entity';
import { User } from '../../users/entities/user.entity';
import type { ProvisionRole, ProvisionStatus } from '../provision-status';

/**
 * One claimable user: its placeholder user and key are created with it; the claim token is
 * stored only as its SHA-256. The row outlives its placeholder (cancel, expiry and transfer
 * delete the user; `user_id` then becomes NULL) as the record of what happened.
 */
@Entity('provisions')
@Check('ck_provisions_status', `"status" IN ('pending', 'claimed', 'expired', 'cancelled')`)
@Check('ck_provisions_role', `"role" IN ('member', 'admin')`)
@Index('ix_provisions_organization_id_created_at', ['organizationId', 'createdAt', 'id'])
@Index('ix_provisions_pending_expires_at', ['expiresAt'], { where: `"status" = 'pending'` })
export class Provision {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_provisions' })
  id: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId: string;

  @ManyToOne(() => Organization, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_provisions_organization_id' })
  organization?: Organization;

  /** The placeholder user; NULL once it was deleted (cancel, expiry, transfer into another account). */
  @Index('ix_provisions_user_id')
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'fk_provisions_user_id' })
  user?: User | null;

  /** The provisioner that created it. */
  @Index('ix_provisions_created_by')
  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'created_by', foreignKeyConstraintName: 'fk_provisions_created_by' })
  creator?: User | null;

  /** The account holding the provisioned keys after the claim (the placeholder itself, or the account they moved to). */
  @Index('ix_provisions_claimed_by_user_id')
  @Column({ name: 'claimed_by_user_id', type: 'uuid', nullable: true })
  claimedByUserId: string | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'claimed_by_user_id', foreignKeyConstraintName: 'fk_provisions_claimed_by_user_id' })
  claimedBy?: User | null;

  /** The placeholder user's address at creation. */
  @Column({ type: 'text' })
  email: string;

  @Column({ type: 'text', default: 'member' })
  role: ProvisionRole;

  @Column({ name: 'skip_onboarding', type: 'boolean', default: true })
  skipOnboarding: boolean;

  @Column({ type: 'text', default: 'pending' })
  status: ProvisionStatus;

  @Index('uq_provisions_claim_token_hash', { unique: true })
  @Column({ name: 'claim_token_hash', type: 'bytea' })
  claimTokenHash: Buffer;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  /** The address the claimant gave. */
  @Column({ name: 'claimed_email', type: 'text', nullable: true })
  claimedEmail: string | null;

  @Column({ name: 'claimed_at', type: 'timestamptz', nullable: true })
  claimedAt: Date | null;

  @Column({ name: 'cancelled_at', type: 'timestamptz', nullable: true })
  cancelledAt: Date | null;

  /** Set once, by the sweep that expired it. */
  @Column({ name: 'expired_at', type: 'timestamptz', nullable: true })
  expiredAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
