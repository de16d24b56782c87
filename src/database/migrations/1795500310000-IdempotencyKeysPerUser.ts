import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency-Keys belong to the calling user, not to its whole organization: a colleague can no
 * longer squat a key string. The primary key becomes (organization_id, user_id, key).
 *
 * Rows already stored (they live a day) stay valid and keep replaying for their caller where the
 * migration can tell who that was: the user of the ledger entry a charge or grant answered with,
 * else the provisioner of the user a create-user or provision answered with. The rest (refusals,
 * keys still in flight) get the nil UUID: no caller has it, so they only wait for the sweep.
 */
export class IdempotencyKeysPerUser1795500310000 implements MigrationInterface {
  name = 'IdempotencyKeysPerUser1795500310000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "idempotency_keys" DROP CONSTRAINT "pk_idempotency_keys"`);
    await queryRunner.query(`ALTER TABLE "idempotency_keys" ADD "user_id" uuid`);
    await queryRunner.query(`
      UPDATE idempotency_keys k SET user_id = l.user_id
        FROM credit_ledger_entries l
       WHERE k.status = 'completed' AND k.response_body->>'kind' = 'body'
         AND l.id::text = k.response_body->'body'->>'id'
         AND l.idempotency_key = k.key
         AND l.user_id IS NOT NULL`);
    await queryRunner.query(`
      UPDATE idempotency_keys k SET user_id = u.provisioned_by
        FROM users u
       WHERE k.user_id IS NULL AND k.status = 'completed' AND k.response_body->>'kind' = 'body'
         AND u.id::text IN (k.response_body->'body'->>'id', k.response_body->'body'->>'user_id')
         AND u.provisioned_by IS NOT NULL
         AND u.organization_id = k.organization_id`);
    await queryRunner.query(
      `UPDATE idempotency_keys SET user_id = '00000000-0000-0000-0000-000000000000' WHERE user_id IS NULL`,
    );
    await queryRunner.query(`ALTER TABLE "idempotency_keys" ALTER COLUMN "user_id" SET NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" ADD CONSTRAINT "pk_idempotency_keys" PRIMARY KEY ("organization_id", "user_id", "key")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Per-organization keys cannot hold two users' rows for one key string: keep the oldest.
    await queryRunner.query(`
      DELETE FROM idempotency_keys k USING idempotency_keys older
       WHERE older.organization_id = k.organization_id AND older.key = k.key
         AND (older.created_at, older.user_id) < (k.created_at, k.user_id)`);
    await queryRunner.query(`ALTER TABLE "idempotency_keys" DROP CONSTRAINT "pk_idempotency_keys"`);
    await queryRunner.query(`ALTER TABLE "idempotency_keys" DROP COLUMN "user_id"`);
    await queryRunner.query(
      `ALTER TABLE "idempotency_keys" ADD CONSTRAINT "pk_idempotency_keys" PRIMARY KEY ("organization_id", "key")`,
    );
  }
}
