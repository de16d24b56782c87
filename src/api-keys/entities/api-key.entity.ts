import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { KeyScope } from '../../common/principal';
import { Organization } from '../../users/entities/organization.entity';
import { User } from '../../users/entities/user.entity';

/** An API key, stored only as its SHA-256 and its first 12 characters. */
@Entity('api_keys')
@Check('ck_api_keys_scope', `"scope" IN ('full', 'restricted')`)
export class ApiKey {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_api_keys' })
  id: string;

  @Index('ix_api_keys_user_id')
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'fk_api_keys_user_id' })
  user?: User;

  /**
   * The pool this key spends. Normally the owner's organization; a key moved to another
   * account by a claim keeps spending the organization that provisioned it.
   */
  @Index('ix_api_keys_billing_organization_id')
  @Column({ name: 'billing_organization_id', type: 'uuid' })
  billingOrganizationId: string;

  @ManyToOne(() => Organization, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'billing_organization_id', foreignKeyConstraintName: 'fk_api_keys_billing_organization_id' })
  billingOrganization?: Organization;

  /** `restricted` for keys moved into an existing account by a claim: they act as a plain member. */
  @Column({ type: 'text', default: 'full' })
  scope: KeyScope;

  @Index('uq_api_keys_key_hash', { unique: true })
  @Column({ name: 'key_hash', type: 'bytea' })
  keyHash: Buffer;

  /** The first 12 characters, to tell keys apart in lists. */
  @Column({ type: 'varchar', length: 12 })
  prefix: string;

  @Column({ type: 'text', nullable: true })
  name: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
