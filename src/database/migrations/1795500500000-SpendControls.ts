import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Issue 14: spend limits per (spender, pool) with their counter in the row, keys moved by a claim
 * and the spender whose limit keeps governing them, reservations, and `held` on the pool.
 * `provisio_spend_window(period, at)` is the start of the UTC window containing `at`.
 */
export class SpendControls1795500500000 implements MigrationInterface {
    name = 'SpendControls1795500500000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "credit_reservations" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "user_id" uuid, "api_key_id" uuid, "limit_user_id" uuid, "limit_window" TIMESTAMP WITH TIME ZONE, "units" integer NOT NULL, "committed_units" integer, "status" text NOT NULL DEFAULT 'held', "description" text, "ledger_entry_id" uuid, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_credit_reservations_committed_units" CHECK ("committed_units" IS NULL OR ("committed_units" >= 0 AND "committed_units" <= "units")), CONSTRAINT "ck_credit_reservations_units_positive" CHECK ("units" >= 1), CONSTRAINT "ck_credit_reservations_status" CHECK ("status" IN ('held', 'committed', 'released', 'expired')), CONSTRAINT "pk_credit_reservations" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_credit_reservations_organization_id" ON "credit_reservations"  ("organization_id") `);
        await queryRunner.query(`CREATE INDEX "ix_credit_reservations_user_id" ON "credit_reservations"  ("user_id") `);
        await queryRunner.query(`CREATE INDEX "ix_credit_reservations_api_key_id" ON "credit_reservations"  ("api_key_id") `);
        await queryRunner.query(`CREATE INDEX "ix_credit_reservations_expires_at_held" ON "credit_reservations"  ("expires_at") WHERE "status" = 'held'`);
        await queryRunner.query(`CREATE TABLE "spend_limit_keys" ("api_key_id" uuid NOT NULL, "organization_id" uuid NOT NULL, "user_id" uuid NOT NULL, CONSTRAINT "pk_spend_limit_keys" PRIMARY KEY ("api_key_id"))`);
        await queryRunner.query(`CREATE INDEX "ix_spend_limit_keys_organization_id_user_id" ON "spend_limit_keys"  ("organization_id", "user_id") `);
        await queryRunner.query(`CREATE TABLE "spend_limits" ("organization_id" uuid NOT NULL, "user_id" uuid NOT NULL, "units" integer NOT NULL, "period" text NOT NULL, "spent" integer NOT NULL DEFAULT '0', "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_spend_limits_spent_non_negative" CHECK ("spent" >= 0), CONSTRAINT "ck_spend_limits_units_positive" CHECK ("units" >= 1), CONSTRAINT "ck_spend_limits_period" CHECK ("period" IN ('day', 'month', 'total')), CONSTRAINT "pk_spend_limits" PRIMARY KEY ("organization_id", "user_id"))`);
        await queryRunner.query(`ALTER TABLE "credit_pools" ADD "held" integer NOT NULL DEFAULT '0'`);
        await queryRunner.query(`ALTER TABLE "credit_pools" ADD CONSTRAINT "ck_credit_pools_held_within_balance" CHECK ("held" >= 0 AND "held" <= "balance")`);
        await queryRunner.query(`ALTER TABLE "credit_reservations" ADD CONSTRAINT "fk_credit_reservations_organization_id" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "credit_reservations" ADD CONSTRAINT "fk_credit_reservations_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "credit_reservations" ADD CONSTRAINT "fk_credit_reservations_api_key_id" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "spend_limit_keys" ADD CONSTRAINT "fk_spend_limit_keys_api_key_id" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "spend_limits" ADD CONSTRAINT "fk_spend_limits_organization_id" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`CREATE FUNCTION provisio_spend_window(period text, at timestamptz) RETURNS timestamptz
          LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE period
                     WHEN 'day' THEN date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                     WHEN 'month' THEN date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                     ELSE '-infinity'::timestamptz
                   END
          $$`);
        await queryRunner.query(`CREATE FUNCTION provisio_spend_window_end(period text, start timestamptz) RETURNS timestamptz
          LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE period
                     WHEN 'day' THEN start + interval '24 hours'
                     WHEN 'month' THEN provisio_spend_window('month', start + interval '768 hours')
                     ELSE NULL
                   END
          $$`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP FUNCTION provisio_spend_window_end(text, timestamptz)`);
        await queryRunner.query(`DROP FUNCTION provisio_spend_window(text, timestamptz)`);
        await queryRunner.query(`ALTER TABLE "spend_limits" DROP CONSTRAINT "fk_spend_limits_organization_id"`);
        await queryRunner.query(`ALTER TABLE "spend_limit_keys" DROP CONSTRAINT "fk_spend_limit_keys_api_key_id"`);
        await queryRunner.query(`ALTER TABLE "credit_reservations" DROP CONSTRAINT "fk_credit_reservations_api_key_id"`);
        await queryRunner.query(`ALTER TABLE "credit_reservations" DROP CONSTRAINT "fk_credit_reservations_user_id"`);
        await queryRunner.query(`ALTER TABLE "credit_reservations" DROP CONSTRAINT "fk_credit_reservations_organization_id"`);
        await queryRunner.query(`ALTER TABLE "credit_pools" DROP CONSTRAINT "ck_credit_pools_held_within_balance"`);
        await queryRunner.query(`ALTER TABLE "credit_pools" DROP COLUMN "held"`);
        await queryRunner.query(`DROP TABLE "spend_limits"`);
        await queryRunner.query(`DROP INDEX "public"."ix_spend_limit_keys_organization_id_user_id"`);
        await queryRunner.query(`DROP TABLE "spend_limit_keys"`);
        await queryRunner.query(`DROP INDEX "public"."ix_credit_reservations_expires_at_held"`);
        await queryRunner.query(`DROP INDEX "public"."ix_credit_reservations_api_key_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_credit_reservations_user_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_credit_reservations_organization_id"`);
        await queryRunner.query(`DROP TABLE "credit_reservations"`);
    }

}
