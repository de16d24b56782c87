import { forwardRef, Global, Module } from '@nestjs/common';
import { SpendLimits } from '../common/spend-limits';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyModule } from '../common/idempotency';
import { AdminCreditsController, BillingController } from './billing.controller';
import { BillingRepository } from './billing.repository';
import { BillingService } from './billing.service';
import { CreditPool } from './entities/credit-pool.entity';
import { LedgerEntry } from './entities/ledger-entry.entity';
import { Reservation } from './entities/reservation.entity';
import { SpendLimitKey } from './entities/spend-limit-key.entity';
import { SpendLimit } from './entities/spend-limit.entity';
import { ReservationSweepJob } from './reservation-sweep.job';
import { SpendControlsService } from './spend-controls.service';
import { ApiKeysModule } from '../api-keys/api-keys.module';

/** Billing's spend limits for the modules below it (common/spend-limits.ts), visible without an import of Billing. */
@Global()
@Module({
  imports: [forwardRef(() => BillingModule)],
  providers: [{ provide: SpendLimits, useExisting: SpendControlsService }],
  exports: [SpendLimits],
})
export class SpendLimitsModule {}

@Module({
  imports: [
    TypeOrmModule.forFeature([CreditPool, LedgerEntry, SpendLimit, SpendLimitKey, Reservation]),
    IdempotencyModule,
    ApiKeysModule,
  ],
  controllers: [BillingController, AdminCreditsController],
  providers: [BillingService, BillingRepository, SpendControlsService, ReservationSweepJob],
  exports: [BillingService, SpendControlsService, BillingRepository],
})
export class BillingModule {}
