import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { ApiKeysRepository } from './api-keys.repository';

/** A key's last_used_at is written at most this often. */
export const USAGE_WRITE_INTERVAL_MS = 60_000;
const KEYS_PER_UPDATE = 5000;

/**
 * Keeps api_keys.last_used_at without a write per request: each use is recorded in memory, and the
 * uses are written in batches (one UPDATE … FROM unnest(…) per flush, every
 * KEY_USAGE_FLUSH_INTERVAL_MS and at shutdown). A key is queued at most once a minute by this
 * process, and the UPDATE skips rows written less than a minute before the use, so several
 * instances together still write each key at most about once a minute.
 * last_used_at is therefore accurate to a minute (plus the flush interval).
 */
@Injectable()
export class ApiKeyUsageRecorder implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(ApiKeyUsageRecorder.name);
  /** keyId → the use to write. */
  private pending = new Map<string, Date>();
  /** keyId → when its last write was queued (ms); entries older than a minute are pruned. */
  private readonly queuedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<number> | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly keys: ApiKeysRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), this.config.keyUsageFlushIntervalMs);
    this.timer.unref();
  }

  /** The database is still open here (TypeORM closes it in its own onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush().catch(() => undefined);
  }

  /** Uses recorded after the first flush (requests still finishing), if the pool is still open. */
  async onApplicationShutdown(): Promise<void> {
    if (this.pending.size > 0 && this.dataSource.isInitialized) await this.flush().catch(() => undefined);
  }

  /** Called on every successful verification; O(1) and no I/O. */
  record(keyId: string, at: Date): void {
    const ms = at.getTime();
    const last = this.queuedAt.get(keyId);
    if (last !== undefined && ms - last < USAGE_WRITE_INTERVAL_MS) return;
    this.queuedAt.set(keyId, ms);
    this.pending.set(keyId, at);
  }

  /** Writes the queued uses; returns how many keys were sent. One flush at a time. */
  async flush(): Promise<number> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    this.flushing = this.write();
    try {
      return await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  pendingCount(): number {
    return this.pending.size;
  }

  private async write(): Promise<number> {
    const now = Date.now();
    for (const [keyId, ms] of this.queuedAt) {
      if (now - ms >= USAGE_WRITE_INTERVAL_MS) this.queuedAt.delete(keyId);
    }
    if (this.pending.size === 0) return 0;
    const batch = [...this.pending];
    this.pending = new Map();
    try {
      for (let i = 0; i < batch.length; i += KEYS_PER_UPDATE) {
        const chunk = batch.slice(i, i + KEYS_PER_UPDATE);
        await this.keys.recordUses(chunk, USAGE_WRITE_INTERVAL_MS / 1000);
      }
      return batch.length;
    } catch (error) {
      // Keep the uses for the next flush (newer ones recorded meanwhile win).
      for (const [keyId, at] of batch) if (!this.pending.has(keyId)) this.pending.set(keyId, at);
      this.logger.warn(
        `Could not write last_used_at of ${batch.length} keys: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw error;
    }
  }
}
