import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A ledger entry keeps who spent it after that user is deleted (a cancelled, expired or
 * transferred placeholder): the foreign key that set user_id to NULL on delete is dropped, and the
 * user's email at the time is stored with the entry (filled from users for existing entries).
 */
export class LedgerKeepsSpender1795500320000 implements MigrationInterface {
  name = 'LedgerKeepsSpender1795500320000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "credit_ledger_entries" DROP CONSTRAINT "fk_credit_ledger_entries_user_id"`);
    await queryRunner.query(`ALTER TABLE "credit_ledger_entries" ADD "user_email" text`);
    await queryRunner.query(`
      UPDATE credit_ledger_entries l SET user_email = u.email
        FROM users u
       WHERE u.id = l.user_id AND l.user_email IS NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "credit_ledger_entries" DROP COLUMN "user_email"`);
    await queryRunner.query(
      `UPDATE credit_ledger_entries l SET user_id = NULL WHERE user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = l.user_id)`,
    );
    await queryRunner.query(
      `ALTER TABLE "credit_ledger_entries" ADD CONSTRAINT "fk_credit_ledger_entries_user_id" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
  }
}
