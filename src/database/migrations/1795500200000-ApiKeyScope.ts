import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `api_keys.scope`: `full` or `restricted` (keys moved into an existing account by a claim act as a
 * plain member). Keys that already spend another organization's pool than their owner's were moved
 * by a claim (or minted through such a key): they become `restricted`.
 */
export class ApiKeyScope1795500200000 implements MigrationInterface {
  name = 'ApiKeyScope1795500200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "scope" text NOT NULL DEFAULT 'full'`);
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "ck_api_keys_scope" CHECK ("scope" IN ('full', 'restricted'))`,
    );
    await queryRunner.query(
      `UPDATE "api_keys" k SET "scope" = 'restricted'
         FROM "users" u
        WHERE u."id" = k."user_id" AND k."billing_organization_id" <> u."organization_id"`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "ck_api_keys_scope"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "scope"`);
  }
}
