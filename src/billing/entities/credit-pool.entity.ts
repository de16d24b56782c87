import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Organization } from '../../users/entities/organization.entity';

/**
 * An organization's credit pool, in whole credits. Created by the first grant; an organization
 * without a row has a balance of 0. Changed only together with a ledger entry, in one statement.
 */
@Entity('credit_pools')
@Check('ck_credit_pools_balance_non_negative', '"balance" >= 0')
export class CreditPool {
  @PrimaryColumn({ name: 'organization_id', type: 'uuid', primaryKeyConstraintName: 'pk_credit_pools' })
  organizationId: string;

  @ManyToOne(() => Organization, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_credit_pools_organization_id' })
  organization?: Organization;

  @Column({ type: 'integer', default: 0 })
  balance: number;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
