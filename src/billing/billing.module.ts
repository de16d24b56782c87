import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../common/idempotency';
import { AdminCreditsController, BillingController } from './billing.controller';
import { BillingService } from './billing.service';

@Module({
  imports: [IdempotencyModule],
  controllers: [BillingController, AdminCreditsController],
  providers: [BillingService],
  exports: [BillingService],
})
export class BillingModule {}
