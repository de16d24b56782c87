import { MigrationInterface, QueryRunner } from "typeorm";

export class InitialSchema1795434712884 implements MigrationInterface {
    name = 'InitialSchema1795434712884'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "organizations" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "domain" text NOT NULL, "balance" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_organizations_balance_non_negative" CHECK ("balance" >= 0), CONSTRAINT "pk_organizations" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_organizations_domain" ON "organizations"  ("domain") `);
        await queryRunner.query(`CREATE TABLE "users" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "email" text NOT NULL, "organization_id" uuid NOT NULL, "role" text NOT NULL DEFAULT 'member', "is_provisioner" boolean NOT NULL DEFAULT false, "is_operator" boolean NOT NULL DEFAULT false, "api_only" boolean NOT NULL DEFAULT false, "status" text NOT NULL DEFAULT 'active', "external_email" text, "provisioned_by" uuid, "expires_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_users_status" CHECK ("status" IN ('active', 'pending_claim', 'disabled')), CONSTRAINT "ck_users_role" CHECK ("role" IN ('owner', 'admin', 'member')), CONSTRAINT "pk_users" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_users_email" ON "users"  ("email") `);
        await queryRunner.query(`CREATE INDEX "ix_users_organization_id" ON "users"  ("organization_id") `);
        await queryRunner.query(`CREATE INDEX "ix_users_provisioned_by" ON "users"  ("provisioned_by") `);
        await queryRunner.query(`CREATE TABLE "api_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "billing_organization_id" uuid NOT NULL, "key_hash" bytea NOT NULL, "prefix" character varying(12) NOT NULL, "name" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_api_keys" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "ix_api_keys_user_id" ON "api_keys"  ("user_id") `);
        await queryRunner.query(`CREATE INDEX "ix_api_keys_billing_organization_id" ON "api_keys"  ("billing_organization_id") `);
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_api_keys_key_hash" ON "api_keys"  ("key_hash") `);
        await queryRunner.query(`ALTER TABLE "users" ADD CONSTRAINT "fk_users_organization_id" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "users" ADD CONSTRAINT "fk_users_provisioned_by" FOREIGN KEY ("provisioned_by") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "api_keys" ADD CONSTRAINT "fk_api_keys_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "api_keys" ADD CONSTRAINT "fk_api_keys_billing_organization_id" FOREIGN KEY ("billing_organization_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "fk_api_keys_billing_organization_id"`);
        await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "fk_api_keys_user_id"`);
        await queryRunner.query(`ALTER TABLE "users" DROP CONSTRAINT "fk_users_provisioned_by"`);
        await queryRunner.query(`ALTER TABLE "users" DROP CONSTRAINT "fk_users_organization_id"`);
        await queryRunner.query(`DROP INDEX "public"."uq_api_keys_key_hash"`);
        await queryRunner.query(`DROP INDEX "public"."ix_api_keys_billing_organization_id"`);
        await queryRunner.query(`DROP INDEX "public"."ix_api_keys_user_id"`);
        await queryRunner.query(`DROP TABLE "api_keys"`);
        await queryRunner.query(`DROP INDEX "public"."ix_users_provisioned_by"`);
        await queryRunner.query(`DROP INDEX "public"."ix_users_organization_id"`);
        await queryRunner.query(`DROP INDEX "public"."uq_users_email"`);
        await queryRunner.query(`DROP TABLE "users"`);
        await queryRunner.query(`DROP INDEX "public"."uq_organizations_domain"`);
        await queryRunner.query(`DROP TABLE "organizations"`);
    }

}
