import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ApiKey } from '../../api-keys/entities/api-key.entity';

/**
 * A key moved by a claim transfer, and the spender (the deleted placeholder user) whose spend
 * limit on the key's pool keeps governing it. Keys without a row spend as their own user.
 */
@Entity('spend_limit_keys')
@Index('ix_spend_limit_keys_organization_id_user_id', ['organizationId', 'userId'])
export class SpendLimitKey {
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid', primaryKeyConstraintName: 'pk_spend_limit_keys' })
  apiKeyId: string;

  @ManyToOne(() => ApiKey, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id', foreignKeyConstraintName: 'fk_spend_limit_keys_api_key_id' })
  apiKey?: ApiKey;

  /** The pool (billing organization) the key spends. */
  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId: string;

  /** The spender whose limit applies: the placeholder the key was provisioned for. */
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;
}
