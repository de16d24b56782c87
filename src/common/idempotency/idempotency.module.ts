import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyKey } from './idempotency-key.entity';
import { IdempotencyKeySweeper } from './idempotency-key.sweeper';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyRepository } from './idempotency.repository';
import { IdempotencyService } from './idempotency.service';

/** Exactly-once POST handling for any feature module: import this module, use @Idempotent() and IdempotencyService.run. */
@Module({
  imports: [TypeOrmModule.forFeature([IdempotencyKey])],
  providers: [IdempotencyService, IdempotencyRepository, IdempotencyInterceptor, IdempotencyKeySweeper],
  exports: [IdempotencyService, IdempotencyInterceptor, IdempotencyKeySweeper],
})
export class IdempotencyModule {}
