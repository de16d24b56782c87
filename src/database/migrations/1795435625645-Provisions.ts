import { MigrationInterface, QueryRunner } from "typeorm";

export class Provisions1795435625645 implements MigrationInterface {
    name = 'Provisions1795435625645'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "provisions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "user_id" uuid, "created_by" uuid, "claimed_by_user_id" uuid, "email" text NOT NULL, "role" text NOT NULL DEFAULT 'member', "skip_onboarding" boolean NOT NULL DEFAULT true, "status" text NOT NULL DEFAULT 'pending', "claim_token_hash" bytea NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "claimed_email" text, "claimed_at" TIMESTAMP WITH TIME ZONE, "cancelled_at" TIMESTAMP WITH TIME ZONE, "expired_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_provisions_role" CHECK ("role" IN ('member', 'admin')), CONSTRAINT "ck_provisions_status" CHECK ("status" IN ('pending', 'claimed', 'expired', 'cancelled')), CONSTRAINT "pk_provisions" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_provisions_user_id" ON "provisions"  ("user_id") `);
        await queryRunner.query(`CREATE INDEX "ix_provisions_created_by" ON "provisions"  ("created_by") `);
        await queryRunner.query(`CREATE INDEX "ix_provisions_claimed_by_user_id" ON "provisions"  ("claimed_by_user_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_provisions_claim_token_hash" ON "provisions"  ("claim_token_hash") `);
        await queryRunner.query(`CREATE INDEX "ix_provisions_pending_expires_at" ON "provisions"  ("expires_at") WHERE "status" = 'pending'`);
        await queryRunner.query(`CREATE INDEX "ix_provisions_organization_id_created_at" ON "provisions"  ("organization_id", "created_at", "id") `);
        await queryRunner.query(`ALTER TABLE "provisions" ADD CONSTRAINT "fk_provisions_organization_id" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "provisions" ADD CONSTRAINT "fk_provisions_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "provisions" ADD CONSTRAINT "fk_provisions_created_by" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "provisions" ADD CONSTRAINT "fk_provisions_claimed_by_user_id" FOREIGN KEY ("claimed_by_user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "provisions" DROP CONSTRAINT "fk_provisions_claimed_by_user_id"`);
        await queryRunner.query(`ALTER TABLE "provisions" DROP CONSTRAINT "fk_provisions_created_by"`);
        await queryRunner.query(`ALTER TABLE "provisions" DROP CONSTRAINT "fk_provisions_user_id"`);
        await queryRunner.query(`ALTER TABLE "provisions" DROP CONSTRAINT "fk_provisions_organization_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_provisions_organization_id_created_at"`);
        await queryRunner.query(`DROP INDEX "public"."ix_provisions_pending_expires_at"`);
        await queryRunner.query(`DROP INDEX "public"."uq_provisions_claim_token_hash"`);
        await queryRunner.query(`DROP INDEX "public"."ix_provisions_claimed_by_user_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_provisions_created_by"`);
        await queryRunner.query(`DROP INDEX "public"."ix_provisions_user_id"`);
        await queryRunner.query(`DROP TABLE "provisions"`);
    }

}
