import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * users.external_id: the orchestrator's own id for an end-user, unique among its organization's
 * users when set (a partial unique index: most users have none).
 */
export class UserExternalId1795500400000 implements MigrationInterface {
    name = 'UserExternalId1795500400000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "users" ADD "external_id" text`);
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_users_organization_id_external_id" ON "users" ("organization_id", "external_id") WHERE "external_id" IS NOT NULL`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."uq_users_organization_id_external_id"`);
        await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "external_id"`);
    }

}
