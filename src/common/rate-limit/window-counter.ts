/**
 * Fixed-window request counting, per process or shared between instances through a store (Redis),
 * without a round trip on the hot path.
 *
 * Each bucket (one API key or one client IP in one window) knows:
 * - `confirmed`: the bucket's total the shared store last answered (every instance's sent hits);
 * - `pending`: hits admitted here and not sent yet;
 * - `sending`: hits admitted here, sent, whose answer has not come back.
 * A hit is admitted when `confirmed + pending + sending < limit`, decided synchronously. Pending
 * hits of all buckets go to the store in one batch (one pipelined INCRBY per bucket) every
 * `flushIntervalMs`, and the answer (the new totals) becomes each bucket's `confirmed`.
 *
 * Tolerance across instances: one instance never holds more than `unconfirmedCap(limit)` admitted
 * hits of a bucket that the store has not confirmed — a hit that would pass that cap sends the
 * batch at once and waits for its answer. Every admitted hit reaches the store, and an instance
 * stops admitting once a total it hears is at or above the limit, so the store's total (all
 * instances' admitted hits) stays ≤ limit + n × unconfirmedCap(limit) for n instances. With the
 * default cap (1 % of the limit, at least 1) a key limited to 6000 a minute on two instances gets
 * at most 6120; a client IP limited to 120 at most 122.
 *
 * Without a store, or while the store fails (fail open), counting is per process: the hits keep
 * being counted here, and are sent once the store answers again.
 */
export interface SharedCounterStore {
  /** Adds each amount to its key's count (kept for ttlMs), returning the new totals in order. */
  add(entries: readonly { key: string; amount: number; ttlMs: number }[]): Promise<number[]>;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Requests left in this window after this one. */
  remaining: number;
  /** Whole seconds until the window resets (at least 1). */
  resetSeconds: number;
}

export interface WindowCounterOptions {
  windowMs?: number;
  store?: SharedCounterStore | null;
  flushIntervalMs?: number;
  /** Slower retry while the store fails. */
  retryIntervalMs?: number;
  /** Most admitted hits of one bucket this instance may hold before the store confirms them. */
  unconfirmedCap?: (limit: number) => number;
  /** Most buckets kept in memory; beyond it, buckets with nothing unsent are dropped oldest first. */
  maxBuckets?: number;
  now?: () => number;
  /** Called when the store starts failing (with the error) and when it answers again. */
  onStoreState?: (up: boolean, error?: unknown) => void;
}

interface Bucket {
  id: string;
  window: number;
  confirmed: number;
  pending: number;
  sending: number;
  /** Hits refused in this window (here). */
  refused: number;
}

export const defaultUnconfirmedCap = (limit: number) => Math.max(1, Math.floor(limit / 100));

export class WindowCounter {
  private readonly windowMs: number;
  private readonly store: SharedCounterStore | null;
  private readonly flushIntervalMs: number;
  private readonly retryIntervalMs: number;
  private readonly unconfirmedCap: (limit: number) => number;
  private readonly maxBuckets: number;
  private readonly now: () => number;
  private readonly onStoreState?: (up: boolean, error?: unknown) => void;

  private readonly buckets = new Map<string, Bucket>();
  /** Buckets with pending hits. */
  private readonly dirty = new Set<Bucket>();
  private storeUp = true;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  /** Resolved when the flush in flight (or the next one) has an answer. */
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(options: WindowCounterOptions = {}) {
    this.windowMs = options.windowMs ?? 60_000;
    this.store = options.store ?? null;
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.retryIntervalMs = options.retryIntervalMs ?? 1000;
    this.unconfirmedCap = options.unconfirmedCap ?? defaultUnconfirmedCap;
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.now = options.now ?? Date.now;
    this.onStoreState = options.onStoreState;
  }

  /** Whether counts are shared right now (a store is configured and answering). */
  get shared(): boolean {
    return this.store !== null && this.storeUp;
  }

  /** Counts one request of `id` against `limit` a window; a promise only when it must wait for the store. */
  hit(id: string, limit: number): RateLimitDecision | Promise<RateLimitDecision> {
    const now = this.now();
    const window = Math.floor(now / this.windowMs);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * this.windowMs - now) / 1000));
    const bucket = this.bucket(id, window);
    const used = bucket.confirmed + bucket.pending + bucket.sending;
    if (used >= limit) {
      bucket.refused++;
      return { allowed: false, limit, remaining: 0, resetSeconds };
    }
    if (this.shared && bucket.pending + bucket.sending >= this.unconfirmedCap(limit)) {
      return this.nextAnswer().then(() => this.hit(id, limit));
    }
    bucket.pending++;
    if (this.store) {
      this.dirty.add(bucket);
      if (this.shared && bucket.pending + bucket.sending >= this.unconfirmedCap(limit)) void this.flush();
      else this.schedule();
    }
    return { allowed: true, limit, remaining: limit - used - 1, resetSeconds };
  }

  /** The count this instance knows for `id` in the current window, and how many of its hits it refused. */
  peek(id: string): { used: number; refused: number } {
    const bucket = this.buckets.get(id);
    const window = Math.floor(this.now() / this.windowMs);
    if (!bucket || bucket.window !== window) return { used: 0, refused: 0 };
    return { used: bucket.confirmed + bucket.pending + bucket.sending, refused: bucket.refused };
  }

  /** Sends every pending hit to the store in one batch; resolves when the store answered (or failed). */
  flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    if (!this.store || this.dirty.size === 0) {
      this.release();
      return Promise.resolve();
    }
    this.flushing = this.send(this.store).finally(() => {
      this.flushing = null;
      this.release();
      if (this.flushAgain) {
        this.flushAgain = false;
        if (this.dirty.size > 0) void this.flush();
      } else if (this.dirty.size > 0) {
        this.schedule();
      }
    });
    return this.flushing;
  }

  /** The store is known to be unreachable (e.g. at start-up): count per process until a batch gets through. */
  storeFailed(error: unknown): void {
    if (!this.storeUp) return;
    this.storeUp = false;
    this.onStoreState?.(false, error);
  }

  /** Sends what is pending (bounded wait) and stops the timer; hits after close are counted locally. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.flushing) await this.flushing;
    if (this.storeUp) await this.flush();
    this.release();
  }

  private async send(store: SharedCounterStore): Promise<void> {
    const batch = [...this.dirty].map((bucket) => ({ bucket, window: bucket.window, amount: bucket.pending }));
    this.dirty.clear();
    for (const { bucket, amount } of batch) {
      bucket.pending -= amount;
      bucket.sending += amount;
    }
    const ttlMs = 2 * this.windowMs;
    try {
      const totals = await store.add(
        batch.map(({ bucket, window, amount }) => ({ key: `${bucket.id}:${window}`, amount, ttlMs })),
      );
      batch.forEach(({ bucket, amount }, i) => {
        bucket.sending -= amount;
        bucket.confirmed = Math.max(bucket.confirmed, totals[i]);
      });
      if (!this.storeUp) {
        this.storeUp = true;
        this.onStoreState?.(true);
      }
    } catch (error) {
      // Not lost: counted here, and sent again with the next batch.
      for (const { bucket, window, amount } of batch) {
        bucket.sending -= amount;
        if (bucket.window === window) {
          bucket.pending += amount;
          this.dirty.add(bucket);
        }
      }
      if (this.storeUp) {
        this.storeUp = false;
        this.onStoreState?.(false, error);
      }
    }
  }

  private bucket(id: string, window: number): Bucket {
    let bucket = this.buckets.get(id);
    if (bucket && bucket.window === window) return bucket;
    if (bucket) {
      // A new window: what was not sent of the last one no longer matters.
      this.dirty.delete(bucket);
      this.buckets.delete(id);
    } else if (this.buckets.size >= this.maxBuckets) {
      this.evict(window);
    }
    bucket = { id, window, confirmed: 0, pending: 0, sending: 0, refused: 0 };
    this.buckets.set(id, bucket);
    return bucket;
  }

  /** Drops buckets of past windows, then (if still full) the oldest with nothing left to send. */
  private evict(window: number): void {
    for (const [id, bucket] of this.buckets) {
      if (bucket.window !== window && bucket.sending === 0) {
        this.dirty.delete(bucket);
        this.buckets.delete(id);
      }
    }
    for (const [id, bucket] of this.buckets) {
      if (this.buckets.size < this.maxBuckets) break;
      if (bucket.pending === 0 && bucket.sending === 0) this.buckets.delete(id);
    }
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.closed) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        void this.flush();
      },
      this.storeUp ? this.flushIntervalMs : this.retryIntervalMs,
    );
    this.timer.unref();
  }

  private nextAnswer(): Promise<void> {
    const answered = new Promise<void>((resolve) => this.waiters.push(resolve));
    void this.flush();
    return answered;
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
