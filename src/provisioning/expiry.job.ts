import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { AppConfig } from '../config/app-config';
import { UsersRepository } from '../users/users.repository';
import { ProvisionsRepository } from './provisions.repository';

const INTERVAL_NAME = 'provision-expiry-sweep';

/**
 * Every EXPIRY_SWEEP_INTERVAL_SECONDS: pending provisions at or past `expires_at` become `expired`
 * and their placeholder users and keys are deleted, 500 per transaction. Rows are taken with
 * `FOR UPDATE SKIP LOCKED` and rewritten only while still `pending`, so several instances on one
 * database share the work and expire each provision exactly once. Keys of expired provisions are
 * already refused by the key verifier; the sweep only cleans up.
 */
@Injectable()
export class ExpiryJob implements OnApplicationBootstrap, OnModuleDestroy {
  static readonly BATCH_SIZE = 500;
  private readonly logger = new Logger(ExpiryJob.name);
  private running: Promise<number> | null = null;
  private stopping = false;
  /** Provisions this instance has expired since it started. */
  expiredTotal = 0;
  /** Sweeps of this instance that failed (logged; the next interval tries again). */
  failedSweeps = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly users: UsersRepository,
    private readonly provisions: ProvisionsRepository,
    private readonly scheduler: SchedulerRegistry,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    const handle = setInterval(() => void this.runScheduled(), this.config.expirySweepIntervalSeconds * 1000);
    this.scheduler.addInterval(INTERVAL_NAME, handle);
  }

  /** Stops the interval and waits for a sweep in progress, so the pool is not closed under it. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.scheduler.getIntervals().includes(INTERVAL_NAME)) this.scheduler.deleteInterval(INTERVAL_NAME);
    await this.running?.catch(() => undefined);
  }

  /**
   * Runs one sweep until no expired pending provision is left; returns how many this call expired.
   * A call while this instance's previous sweep is still running returns 0 at once (no overlap).
   */
  async sweep(): Promise<number> {
    if (this.running) {
      this.logger.debug('The previous expiry sweep is still running; skipping this one.');
      return 0;
    }
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
      this.failedSweeps++;
      this.logger.error(`Expiry sweep failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }

  private async sweepUntilDone(): Promise<number> {
    const started = Date.now();
    let expired = 0;
    let deletedUsers = 0;
    let deletedKeys = 0;
    while (!this.stopping) {
      const batch = await this.dataSource.transaction(async (manager) => {
        const rows = await this.provisions.expireBatch(manager, ExpiryJob.BATCH_SIZE);
        const userIds = rows.flatMap((row) => (row.user_id ? [row.user_id] : []));
        const deleted = await this.users.deletePlaceholders(manager, userIds);
        return { expired: rows.length, users: deleted.userIds.length, keys: deleted.keyIds.length };
      });
      expired += batch.expired;
      deletedUsers += batch.users;
      deletedKeys += batch.keys;
      this.expiredTotal += batch.expired;
      this.metrics.provisionsExpired.inc(batch.expired);
      if (batch.expired === 0) break;
    }
    if (expired > 0) {
      this.logger.log(
        `Expired ${expired} provision(s); deleted ${deletedUsers} placeholder user(s) and ${deletedKeys} key(s) in ${Date.now() - started} ms.`,
      );
    }
    return expired;
  }
}
