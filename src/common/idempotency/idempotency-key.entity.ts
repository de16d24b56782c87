import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export const IDEMPOTENCY_STATUSES = ['in_progress', 'completed'] as const;
export type IdempotencyStatus = (typeof IDEMPOTENCY_STATUSES)[number];

/**
 * One claimed Idempotency-Key: the fingerprint of the request that claimed it and, once that
 * request finished, its answer. Claimed with `INSERT … ON CONFLICT DO NOTHING` in the same
 * transaction as the work, so the key and the work commit (or roll back) together.
 *
 * A key belongs to the calling user (`user_id`) on the organization whose pool or users the request
 * changes (`organization_id`): two users of one organization may use the same key string. Neither
 * carries a foreign key, on purpose: common/ knows no feature entity, rows live only about a day,
 * and a deleted user's keys expire with the rest. Rows written before keys were per user carry the
 * user the migration could tell (1795500310000), else the nil UUID, which no caller has.
 */
@Entity('idempotency_keys')
@Check('ck_idempotency_keys_status', `"status" IN ('in_progress', 'completed')`)
export class IdempotencyKey {
  @PrimaryColumn({ name: 'organization_id', type: 'uuid', primaryKeyConstraintName: 'pk_idempotency_keys' })
  organizationId: string;

  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'pk_idempotency_keys' })
  userId: string;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'pk_idempotency_keys' })
  key: string;

  /** SHA-256 of method, path, caller and canonical body. */
  @Column({ name: 'request_hash', type: 'bytea' })
  requestHash: Buffer;

  @Column({ type: 'text', default: 'in_progress' })
  status: IdempotencyStatus;

  @Column({ name: 'response_status', type: 'integer', nullable: true })
  responseStatus: number | null;

  @Column({ name: 'response_body', type: 'jsonb', nullable: true })
  responseBody: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** From this instant the key may be reused; the sweep deletes the row some time after. */
  @Index('ix_idempotency_keys_expires_at')
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
