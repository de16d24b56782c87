import Redis from 'ioredis';
import type { SharedCounterStore } from './window-counter';

/**
 * The shared counts in Redis: one key per bucket and window, INCRBY then PEXPIRE, every bucket of a
 * batch in one pipeline (one round trip). Commands fail at once while Redis is unreachable (no
 * offline queue) and after `commandTimeoutMs` when it does not answer, so a caller never waits on
 * a dead Redis; the client reconnects by itself.
 */
export class RedisCounterStore implements SharedCounterStore {
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly prefix: string,
    options: { commandTimeoutMs?: number } = {},
  ) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: 2000,
      // How long disconnect() waits for the socket to end before destroying it (default 2 s keeps a closing process alive).
      disconnectTimeout: 200,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      lazyConnect: true,
    });
    // Connection errors are reported by the counter (once per outage), not per reconnect attempt.
    this.redis.on('error', () => undefined);
  }

  /** Connects, waiting at most `timeoutMs`; false when Redis did not answer (the client keeps trying). */
  async connect(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([
        this.redis.connect().then(
          () => true,
          () => false,
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async add(entries: readonly { key: string; amount: number; ttlMs: number }[]): Promise<number[]> {
    const pipeline = this.redis.pipeline();
    for (const { key, amount, ttlMs } of entries) pipeline.incrby(this.prefix + key, amount).pexpire(this.prefix + key, ttlMs);
    const results = (await pipeline.exec()) ?? [];
    return entries.map((_, i) => {
      const [error, total] = results[2 * i] ?? [new Error('Redis answered no result')];
      if (error) throw error;
      return Number(total);
    });
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
