import { MigrationInterface, QueryRunner } from "typeorm";

export class Billing1795435626831 implements MigrationInterface {
    name = 'Billing1795435626831'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "credit_ledger_entries" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "user_id" uuid, "api_key_id" uuid, "delta" integer NOT NULL, "reason" text NOT NULL, "description" text, "balance_after" integer NOT NULL, "idempotency_key" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_credit_ledger_entries_grant_positive" CHECK ("reason" <> 'grant' OR "delta" > 0), CONSTRAINT "ck_credit_ledger_entries_charge_negative" CHECK ("reason" <> 'charge' OR "delta" < 0), CONSTRAINT "ck_credit_ledger_entries_balance_after_non_negative" CHECK ("balance_after" >= 0), CONSTRAINT "ck_credit_ledger_entries_delta_non_zero" CHECK ("delta" <> 0), CONSTRAINT "ck_credit_ledger_entries_reason" CHECK ("reason" IN ('grant', 'charge', 'correction')), CONSTRAINT "pk_credit_ledger_entries" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_credit_ledger_entries_user_id" ON "credit_ledger_entries"  ("user_id") `);
        await queryRunner.query(`CREATE INDEX "ix_credit_ledger_entries_api_key_id" ON "credit_ledger_entries"  ("api_key_id") `);
        await queryRunner.query(`CREATE INDEX "ix_credit_ledger_entries_organization_id_user_id_created_at" ON "credit_ledger_entries"  ("organization_id", "user_id", "created_at") `);
        await queryRunner.query(`CREATE INDEX "ix_credit_ledger_entries_organization_id_created_at" ON "credit_ledger_entries"  ("organization_id", "created_at", "id") `);
        await queryRunner.query(`CREATE TABLE "idempotency_keys" ("organization_id" uuid NOT NULL, "key" text NOT NULL, "request_hash" bytea NOT NULL, "status" text NOT NULL DEFAULT 'in_progress', "response_status" integer, "response_body" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "ck_idempotency_keys_status" CHECK ("status" IN ('in_progress', 'completed')), CONSTRAINT "pk_idempotency_keys" PRIMARY KEY ("organization_id", "key"))`);
        await queryRunner.query(`CREATE INDEX "ix_idempotency_keys_expires_at" ON "idempotency_keys"  ("expires_at") `);
        await queryRunner.query(`ALTER TABLE "credit_ledger_entries" ADD CONSTRAINT "fk_credit_ledger_entries_organization_id" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "credit_ledger_entries" ADD CONSTRAINT "fk_credit_ledger_entries_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "credit_ledger_entries" ADD CONSTRAINT "fk_credit_ledger_entries_api_key_id" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "credit_ledger_entries" DROP CONSTRAINT "fk_credit_ledger_entries_api_key_id"`);
        await queryRunner.query(`ALTER TABLE "credit_ledger_entries" DROP CONSTRAINT "fk_credit_ledger_entries_user_id"`);
        await queryRunner.query(`ALTER TABLE "credit_ledger_entries" DROP CONSTRAINT "fk_credit_ledger_entries_organization_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_idempotency_keys_expires_at"`);
        await queryRunner.query(`DROP TABLE "idempotency_keys"`);
        await queryRunner.query(`DROP INDEX "public"."ix_credit_ledger_entries_organization_id_created_at"`);
        await queryRunner.query(`DROP INDEX "public"."ix_credit_ledger_entries_organization_id_user_id_created_at"`);
        await queryRunner.query(`DROP INDEX "public"."ix_credit_ledger_entries_api_key_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_credit_ledger_entries_user_id"`);
        await queryRunner.query(`DROP TABLE "credit_ledger_entries"`);
    }

}
