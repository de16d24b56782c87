import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The credit balance moves from organizations (Users' table) to credit_pools (Billing's): one row
 * per organization that has one, existing balances copied; a missing row is a balance of 0.
 */
export class CreditPools1795500110000 implements MigrationInterface {
    name = 'CreditPools1795500110000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "credit_pools" ("organization_id" uuid NOT NULL, "balance" integer NOT NULL DEFAULT '0', "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "ck_credit_pools_balance_non_negative" CHECK ("balance" >= 0), CONSTRAINT "pk_credit_pools" PRIMARY KEY ("organization_id"))`);
        await queryRunner.query(`ALTER TABLE "credit_pools" ADD CONSTRAINT "fk_credit_pools_organization_id" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`INSERT INTO "credit_pools" ("organization_id", "balance") SELECT "id", "balance" FROM "organizations"`);
        await queryRunner.query(`ALTER TABLE "organizations" DROP CONSTRAINT "ck_organizations_balance_non_negative"`);
        await queryRunner.query(`ALTER TABLE "organizations" DROP COLUMN "balance"`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "organizations" ADD "balance" integer NOT NULL DEFAULT '0'`);
        await queryRunner.query(`ALTER TABLE "organizations" ADD CONSTRAINT "ck_organizations_balance_non_negative" CHECK ("balance" >= 0)`);
        await queryRunner.query(`UPDATE "organizations" o SET "balance" = p."balance" FROM "credit_pools" p WHERE p."organization_id" = o."id"`);
        await queryRunner.query(`ALTER TABLE "credit_pools" DROP CONSTRAINT "fk_credit_pools_organization_id"`);
        await queryRunner.query(`DROP TABLE "credit_pools"`);
    }

}
