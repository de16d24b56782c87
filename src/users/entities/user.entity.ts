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
import { Organization } from './organization.entity';

import type { UserRole, UserStatus } from '../../common/principal';

@Entity('users')
@Index('uq_users_organization_id_external_id', ['organizationId', 'externalId'], {
  unique: true,
  where: '"external_id" IS NOT NULL',
})
@Check('ck_users_role', `"role" IN ('owner', 'admin', 'member')`)
@Check('ck_users_status', `"status" IN ('active', 'pending_claim', 'disabled')`)
export class User {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_users' })
  id: string;

  /** Always lower-case. */
  @Index('uq_users_email', { unique: true })
  @Column({ type: 'text' })
  email: string;

  @Index('ix_users_organization_id')
  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId: string;

  @ManyToOne(() => Organization, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_users_organization_id' })
  organization?: Organization;

  @Column({ type: 'text', default: 'member' })
  role: UserRole;

  @Column({ name: 'is_provisioner', type: 'boolean', default: false })
  isProvisioner: boolean;

  @Column({ name: 'is_operator', type: 'boolean', default: false })
  isOperator: boolean;

  @Column({ name: 'api_only', type: 'boolean', default: false })
  apiOnly: boolean;

  @Column({ type: 'text', default: 'active' })
  status: UserStatus;

  /** The end-user's real address, when this user was provisioned for one. */
  @Column({ name: 'external_email', type: 'text', nullable: true })
  externalEmail: string | null;

  /** The orchestrator's own id for this end-user; unique among its organization's users. */
  @Column({ name: 'external_id', type: 'text', nullable: true })
  externalId: string | null;

  @Index('ix_users_provisioned_by')
  @Column({ name: 'provisioned_by', type: 'uuid', nullable: true })
  provisionedBy: string | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'provisioned_by', foreignKeyConstraintName: 'fk_users_provisioned_by' })
  provisioner?: User | null;

  /**
   * Set only on the placeholder user of a pending provision: past this instant its keys are
   * refused, whether or not the expiry job has run yet.
   */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
