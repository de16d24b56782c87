import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { BillingRepository } from './billing.repository';
import { EXPIRE_BATCH_SIZE } from './spend-controls.service';

const INTERVAL_NAME = 'reservation-expiry-sweep';
/** Pools looked at per round of a sweep. */
const POOLS_PER_ROUND = 100;

/**
 * Every RESERVATION_SWEEP_INTERVAL_SECONDS: holds past `expires_at` become `expired` and their
 * units go back to the pool's `available` and the spender's limit. One pool per statement; holds
 * are taken `FOR UPDATE SKIP LOCKED` and rewritten only while still `held`, so several instances
 * (and a commit or release racing the sweep) end each hold exactly once. Reads of the balance and
 * refused spends release a pool's expired holds at once (lazily); the sweep catches the rest.
 */
@Injectable()
export class ReservationSweepJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReservationSweepJob.name);
  private running: Promise<number> | null = null;
  private stopping = false;

  constructor(
    private readonly config: AppConfig,
    private readonly billing: BillingRepository,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const handle = setInterval(() => void this.runScheduled(), this.config.reservationSweepIntervalSeconds * 1000);
    this.scheduler.addInterval(INTERVAL_NAME, handle);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.scheduler.getIntervals().includes(INTERVAL_NAME)) this.scheduler.deleteInterval(INTERVAL_NAME);
    await this.running?.catch(() => undefined);
  }

  /** One sweep until no hold past its expiry is left; how many this call expired (0 while one runs). */
  async sweep(): Promise<number> {
    if (this.running) return 0;
    this.running = this.sweepUntilDone();
    try {
      return await this.running;
    } finally {
      this.running = null;
    }
  }

  private async runScheduled(): Promise<void> {
    try {
      await this.sweep();
    } catch (error) {
      this.logger.error(`Reservation sweep failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }

  private async sweepUntilDone(): Promise<number> {
    let expired = 0;
    while (!this.stopping) {
      const pools = await this.billing.poolsWithExpiredHolds(POOLS_PER_ROUND);
      let round = 0;
      for (const pool of pools) {
        if (this.stopping) break;
        round += await this.billing.expirePoolHolds(pool, EXPIRE_BATCH_SIZE);
      }
      expired += round;
      if (round === 0) break;
    }
    if (expired > 0) this.logger.log(`Released ${expired} reservation(s) past their expiry.`);
    return expired;
  }
}
