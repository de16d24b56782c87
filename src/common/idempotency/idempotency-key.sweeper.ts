import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { IdempotencyRepository } from './idempotency.repository';

const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Deletes expired idempotency keys, in batches that several instances can run at once
 * (`FOR UPDATE SKIP LOCKED`). Expired keys are already free to be reused (the claim deletes an
 * expired row it meets), so this only keeps the table small; it runs hourly.
 */
@Injectable()
export class IdempotencyKeySweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyKeySweeper.name);
  private timer?: NodeJS.Timeout;

  constructor(private readonly keys: IdempotencyRepository) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweepLogged(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Deletes every key expired now; returns how many. */
  async sweep(batchSize = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.keys.deleteExpiredBatch(batchSize);
      total += deleted;
      if (deleted < batchSize) return total;
    }
  }

  private async sweepLogged(): Promise<void> {
    try {
      const deleted = await this.sweep();
      if (deleted > 0) this.logger.log(`Deleted ${deleted} expired idempotency keys`);
    } catch (error) {
      this.logger.error(`Idempotency key sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
