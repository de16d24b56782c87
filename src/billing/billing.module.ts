import { forwardRef, Global, Module } from '@nestjs/common';
import { SpendLimitReader } from '../common/principal';
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

/** Billing's answer to /me's question (SpendLimitReader), visible to Users without an import of Billing. */
@Global()
@Module({
  imports: [forwardRef(() => BillingModule)],
  providers: [{ provide: SpendLimitReader, useExisting: SpendControlsService }],
  exports: [SpendLimitReader],
})
export class SpendLimitReaderModule {}

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
