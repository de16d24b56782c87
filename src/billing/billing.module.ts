import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyModule } from '../common/idempotency';
import { AdminCreditsController, BillingController } from './billing.controller';
import { BillingRepository } from './billing.repository';
import { BillingService } from './billing.service';
import { CreditPool } from './entities/credit-pool.entity';
import { LedgerEntry } from './entities/ledger-entry.entity';

@Module({
  imports: [TypeOrmModule.forFeature([CreditPool, LedgerEntry]), IdempotencyModule],
  controllers: [BillingController, AdminCreditsController],
  providers: [BillingService, BillingRepository],
  exports: [BillingService],
})
export class BillingModule {}
