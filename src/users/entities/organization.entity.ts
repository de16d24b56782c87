import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One email domain; owns one credit pool. */
@Entity('organizations')
@Check('ck_organizations_balance_non_negative', '"balance" >= 0')
export class Organization {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_organizations' })
  id: string;

  @Index('uq_organizations_domain', { unique: true })
  @Column({ type: 'text' })
  domain: string;

  /** The credit pool, in whole credits. Changed only together with a ledger entry. */
  @Column({ type: 'integer', default: 0 })
  balance: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
