import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AppConfig } from '../../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { Problems } from '../problem';
import { RedisCounterStore } from './redis-counter-store';
import { RateLimitDecision, WindowCounter } from './window-counter';

export type RateLimitScope = 'key' | 'ip';

/** Refusals in a window after which a client is treated as flooding (see `flooding`). */
export const FLOOD_REFUSALS = 100;

/**
 * The contract's rate limits: RATE_LIMIT_KEY_PER_MINUTE per API key on authenticated requests,
 * RATE_LIMIT_IP_PER_MINUTE per client IP on requests without a valid key (0 turns either off), in
 * fixed one-minute windows. Counted by WindowCounter: per process, or shared through Redis when
 * REDIS_URL is set — without a Redis round trip per request (see window-counter.ts for how, and
 * for the tolerance across instances). Redis unreachable: requests are served and counted per
 * process (fail open); that is logged once when it starts and once when it ends.
 *
 * `limit()` sets RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset on the reply and, over
 * the limit, throws the 429 problem with Retry-After.
 */
@Injectable()
export class RateLimiter implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly store: RedisCounterStore | null;
  private readonly counter: WindowCounter;
  private readonly limits: Record<RateLimitScope, number>;

  constructor(
    config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.limits = { key: config.rateLimitKeyPerMinute, ip: config.rateLimitIpPerMinute };
    this.store = config.redisUrl ? new RedisCounterStore(config.redisUrl, config.rateLimitRedisPrefix) : null;
    this.counter = new WindowCounter({
      store: this.store,
      onStoreState: (up, error) => this.reportStore(up, error),
    });
  }

  async onModuleInit(): Promise<void> {
    if (!this.store) return;
    if (!(await this.store.connect())) this.counter.storeFailed(new Error('no answer within 2 s'));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.counter.close();
    await this.store?.close();
  }

  /** Whether requests of this scope are limited at all. */
  enabled(scope: RateLimitScope): boolean {
    return this.limits[scope] > 0;
  }

  /**
   * Whether `id` is flooding: it has used up its limit in the current window and been refused at
   * least as many times again, and at least FLOOD_REFUSALS times (as far as this instance knows).
   */
  flooding(scope: RateLimitScope, id: string): boolean {
    const limit = this.limits[scope];
    if (limit <= 0) return false;
    const { used, refused } = this.counter.peek(`${scope}:${id}`);
    return used >= limit && refused >= Math.max(limit, FLOOD_REFUSALS);
  }

  /** Counts one request of `id` (a key id or a client IP); throws the 429 problem when over the limit. */
  limit(scope: RateLimitScope, id: string, reply: FastifyReply): void | Promise<void> {
    const limit = this.limits[scope];
    if (limit <= 0) return;
    const decision = this.counter.hit(`${scope}:${id}`, limit);
    if (decision instanceof Promise) return decision.then((d) => this.answer(scope, d, reply));
    this.answer(scope, decision, reply);
  }

  private answer(scope: RateLimitScope, decision: RateLimitDecision, reply: FastifyReply): void {
    void reply
      .header('ratelimit-limit', decision.limit)
      .header('ratelimit-remaining', decision.remaining)
      .header('ratelimit-reset', decision.resetSeconds);
    if (decision.allowed) return;
    this.metrics.rateLimited.inc({ scope });
    void reply.header('retry-after', decision.resetSeconds);
    throw Problems.rateLimited(scope, decision.limit, decision.resetSeconds);
  }

  private reportStore(up: boolean, error?: unknown): void {
    if (up) {
      this.logger.log('Redis answers again: rate-limit counts are shared between instances again.');
    } else {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(
        `Redis is unreachable (${reason}): requests are served and rate limits are counted per instance until it answers again.`,
      );
    }
  }
}
