import { Module } from '@nestjs/common';
import { IdempotencyKeySweeper } from './idempotency-key.sweeper';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyService } from './idempotency.service';

/** Exactly-once POST handling for any feature module: import this module, use @Idempotent() and IdempotencyService.run. */
@Module({
  providers: [IdempotencyService, IdempotencyInterceptor, IdempotencyKeySweeper],
  exports: [IdempotencyService, IdempotencyInterceptor, IdempotencyKeySweeper],
})
export class IdempotencyModule {}
