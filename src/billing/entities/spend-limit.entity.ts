import { Check, Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Organization } from '../../users/entities/organization.entity';

import type { SpendPeriod } from '../../common/spend-limit.dto';

/**
 * How much one spender may spend of one pool per period, and what it has spent in the current
 * window. `user_id` is the spender: a user, or — after a claim transfer — the deleted placeholder
 * whose limit keeps governing its moved keys (SpendLimitKey). So it has no foreign key to users.
 * `spent` counts charges and live holds made in the window that starts at `window_start`
 * (UTC day, UTC month, or -infinity for `total`); a charge that finds an older window starts anew.
 */
@Entity('spend_limits')
@Check('ck_spend_limits_period', `"period" IN ('day', 'month', 'total')`)
@Check('ck_spend_limits_units_positive', `"units" >= 1`)
@Check('ck_spend_limits_spent_non_negative', `"spent" >= 0`)
export class SpendLimit {
  @PrimaryColumn({ name: 'organization_id', type: 'uuid', primaryKeyConstraintName: 'pk_spend_limits' })
  organizationId: string;

  @ManyToOne(() => Organization, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_spend_limits_organization_id' })
  organization?: Organization;

  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'pk_spend_limits' })
  userId: string;

  @Column({ type: 'integer' })
  units: number;

  @Column({ type: 'text' })
  period: SpendPeriod;

  @Column({ type: 'integer', default: 0 })
  spent: number;

  @Column({ name: 'window_start', type: 'timestamptz' })
  windowStart: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
