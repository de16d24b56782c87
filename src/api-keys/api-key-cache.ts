import { Injectable, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { AppConfig } from '../config/app-config';
import type { KeyRecord } from './api-key-verifier';

/** The PostgreSQL channel on which instances tell each other which users' keys changed. */
export const KEY_CACHE_CHANNEL = 'provisio_key_cache';
/** pg_notify payloads are limited to 8000 bytes; 100 uuids in JSON stay well below. */
const USERS_PER_NOTIFICATION = 100;

/** What a notification on KEY_CACHE_CHANNEL carries. */
export type KeyCacheMessage = { users: string[] } | { all: true } | { probe: string };

/**
 * State of the cross-instance invalidation listener (see KeyCacheListener). `listening`: its probe
 * came back, so other instances' revocations are heard. `connecting`, `disconnected` and
 * `unverified` (connected, but its last probe did not come back) fail closed: cached keys live at
 * most UNVERIFIED_TTL_MS. `unsupported` (the embedded PGlite, one process) and `stopped` (no
 * listener) keep KEY_CACHE_TTL_MS.
 */
export type ListenerState = 'stopped' | 'connecting' | 'listening' | 'unverified' | 'disconnected' | 'unsupported';

/** How long a verified key stays cached while the listener cannot prove it hears other instances. */
export const UNVERIFIED_TTL_MS = 1000;
const FAIL_CLOSED_STATES: ReadonlySet<ListenerState> = new Set(['connecting', 'unverified', 'disconnected']);

/** The listener as /health/ready reports it (and a metric can export it). */
export interface KeyCacheListenerHealth {
  state: ListenerState;
  /** True when revocations by other instances are known to reach this one (or there are none: PGlite). */
  verified: boolean;
  /** How long a key verified now stays cached. */
  ttl_ms: number;
  /** When the state last changed. */
  since: string;
}

export interface KeyCacheStats {
  enabled: boolean;
  size: number;
  max: number;
  negativeSize: number;
  negativeMax: number;
  /** Users with at least one cached key (the secondary index). */
  indexedUsers: number;
  hits: number;
  negativeHits: number;
  misses: number;
  invalidations: number;
  listener: ListenerState;
  /** How many times the listener has (re)connected and started listening. */
  listenerConnects: number;
}

interface InFlight {
  generation: number;
  promise: Promise<KeyRecord | null>;
}

/**
 * In-process cache of key verification: SHA-256 of a key → its KeyRecord (user, organization,
 * status, expiry, revoked flag), plus a separate, smaller cache of hashes known to be unknown.
 * Both are bounded LRUs with a TTL, so random keys cannot grow memory.
 *
 * Invalidation is by user id: every event that changes what a key may do (revoke, rotate,
 * deactivate, admin update, cancel, claim, expiry) names the users whose keys changed. A secondary
 * index userId → cached hashes finds their entries. The write methods of UsersRepository and
 * ApiKeysRepository call `notifyUsersChanged(manager, ids)` inside the caller's transaction (no
 * service calls it, so none can forget it): the entries are dropped at once, again right after COMMIT (so a
 * lookup racing the transaction cannot leave the old answer behind), and other instances hear a
 * NOTIFY on KEY_CACHE_CHANNEL, which PostgreSQL delivers only on commit.
 *
 * A lookup that started before an invalidation never fills the cache (generation counter), and a
 * request after an invalidation never joins such a lookup. `evaluate()` still runs on every request
 * (see ApiKeyVerifier), so a cached key past its expires_at is refused at once.
 */
@Injectable()
export class ApiKeyCache implements OnModuleInit, OnApplicationShutdown {
  private readonly positive: LRUCache<string, KeyRecord> | null;
  private readonly negative: LRUCache<string, true> | null;
  /** userId → hashes of that user's cached keys. Kept in step with `positive` by its dispose hook. */
  private readonly byUser = new Map<string, Set<string>>();
  private readonly inFlight = new Map<string, InFlight>();
  /** Bumped by every invalidation; a lookup that saw another generation does not fill the cache. */
  private generation = 0;
  private counters = { hits: 0, negativeHits: 0, misses: 0, invalidations: 0 };
  private listenerState: ListenerState = 'stopped';
  private listenerSince = Date.now();
  private listenerConnects = 0;
  /** KEY_CACHE_TTL_MS, or UNVERIFIED_TTL_MS (if shorter) while the listener fails closed. */
  private ttlMs: number;
  private readonly configuredTtlMs: number;
  private readonly afterCommit = new AfterCommitHooks();

  constructor(
    config: AppConfig,
    private readonly dataSource: DataSource,
    @Optional() metrics?: MetricsService,
  ) {
    metrics?.observeKeyCache(() => ({
      hit: this.counters.hits,
      negative_hit: this.counters.negativeHits,
      miss: this.counters.misses,
    }));
    const listenerVerified = () => (this.listenerHealth().verified ? 1 : 0);
    metrics?.gauge({
      name: 'provisio_key_cache_listener_verified',
      help: '1 while the cross-instance revocation listener is proven to receive notifications; 0 while the key cache fails closed (TTL 1 s).',
      collect() {
        this.set(listenerVerified());
      },
    });
    this.configuredTtlMs = config.keyCacheTtlMs;
    this.ttlMs = config.keyCacheTtlMs;
    this.positive =
      config.keyCacheTtlMs > 0
        ? new LRUCache<string, KeyRecord>({
            max: config.keyCacheMax,
            ttl: config.keyCacheTtlMs,
            updateAgeOnGet: false,
            dispose: (record, hash) => this.unindex(record.principal.userId, hash),
          })
        : null;
    this.negative =
      config.keyCacheNegativeTtlMs > 0
        ? new LRUCache<string, true>({ max: config.keyCacheNegativeMax, ttl: config.keyCacheNegativeTtlMs })
        : null;
  }

  onModuleInit(): void {
    this.dataSource.subscribers.push(this.afterCommit);
  }

  onApplicationShutdown(): void {
    const index = this.dataSource.subscribers.indexOf(this.afterCommit);
    if (index >= 0) this.dataSource.subscribers.splice(index, 1);
  }

  /** What the cache alone knows of a key hash: its record, null (known unknown), or undefined (not cached). */
  peek(keyHash: Buffer): KeyRecord | null | undefined {
    const id = keyHash.toString('base64');
    const hit = this.positive?.get(id);
    if (hit) return hit;
    return this.negative?.get(id) ? null : undefined;
  }

  /**
   * The record for a key hash: from the cache, or from `load` (one database lookup, shared by
   * concurrent requests for the same hash), which then fills the cache. `null` means unknown.
   */
  resolve(keyHash: Buffer, load: (keyHash: Buffer) => Promise<KeyRecord | null>): Promise<KeyRecord | null> | KeyRecord | null {
    if (!this.positive) return load(keyHash);
    const id = keyHash.toString('base64');
    const hit = this.positive.get(id);
    if (hit) {
      this.counters.hits++;
      return hit;
    }
    if (this.negative?.get(id)) {
      this.counters.negativeHits++;
      return null;
    }
    const running = this.inFlight.get(id);
    if (running && running.generation === this.generation) return running.promise;
    this.counters.misses++;
    const generation = this.generation;
    const promise = load(keyHash).then(
      (record) => {
        if (this.inFlight.get(id)?.promise === promise) this.inFlight.delete(id);
        if (generation === this.generation) this.store(id, record);
        return record;
      },
      (error: unknown) => {
        if (this.inFlight.get(id)?.promise === promise) this.inFlight.delete(id);
        throw error;
      },
    );
    this.inFlight.set(id, { generation, promise });
    return promise;
  }

  /**
   * Call INSIDE the transaction that changes what some users' keys may do (their keys revoked,
   * moved or deleted; the user disabled, re-enabled, changed or deleted). Drops their entries here
   * now and again right after COMMIT, and queues a NOTIFY that PostgreSQL delivers to the other
   * instances on commit (nothing is sent if the transaction rolls back).
   */
  async notifyUsersChanged(manager: EntityManager, userIds: Iterable<string>): Promise<void> {
    const ids = [...new Set(userIds)];
    if (ids.length === 0) return;
    this.invalidateUsers(ids);
    for (let i = 0; i < ids.length; i += USERS_PER_NOTIFICATION) {
      const message: KeyCacheMessage = { users: ids.slice(i, i + USERS_PER_NOTIFICATION) };
      await manager.query(`SELECT pg_notify($1, $2)`, [KEY_CACHE_CHANNEL, JSON.stringify(message)]);
    }
    const runner = manager.queryRunner;
    if (runner?.isTransactionActive) {
      this.afterCommit.add(runner, () => this.invalidateUsers(ids));
    } else {
      // Not in a transaction: the change is already committed.
      this.invalidateUsers(ids);
    }
  }

  /** Drops the cached entries of these users' keys (this instance only). */
  invalidateUsers(userIds: Iterable<string>): void {
    this.generation++;
    this.counters.invalidations++;
    this.inFlight.clear();
    for (const userId of userIds) {
      const hashes = this.byUser.get(userId);
      if (!hashes) continue;
      for (const hash of [...hashes]) this.positive?.delete(hash);
      this.byUser.delete(userId);
    }
    // A hash only turns from unknown to known when a chosen key is registered (ADMIN_API_KEY at
    // start-up); dropping every negative entry on any change covers that at a negligible cost.
    this.negative?.clear();
  }

  /** Drops everything (this instance only): used when notifications may have been missed. */
  clear(): void {
    this.generation++;
    this.counters.invalidations++;
    this.inFlight.clear();
    this.positive?.clear();
    this.negative?.clear();
    this.byUser.clear();
  }

  /** Applies a message received on KEY_CACHE_CHANNEL; anything unexpected clears the cache. */
  applyMessage(payload: string | undefined): void {
    let message: Partial<{ users: unknown; all: unknown; probe: unknown }> | null;
    try {
      const parsed: unknown = payload ? JSON.parse(payload) : null;
      message = typeof parsed === 'object' ? parsed : null;
    } catch {
      message = null;
    }
    if (message && Array.isArray(message.users) && message.users.every((u) => typeof u === 'string')) {
      this.invalidateUsers(message.users);
    } else if (message && typeof message.probe === 'string') {
      return;
    } else {
      this.clear();
    }
  }

  /**
   * Entering a fail-closed state drops every cached key (revocations may be missed from now on)
   * and caches new ones for at most UNVERIFIED_TTL_MS, until the listener is heard again.
   */
  setListenerState(state: ListenerState): void {
    if (state === this.listenerState) return;
    if (state === 'listening') this.listenerConnects++;
    const failClosed = FAIL_CLOSED_STATES.has(state);
    if (failClosed && !FAIL_CLOSED_STATES.has(this.listenerState)) this.clear();
    this.ttlMs = failClosed ? Math.min(this.configuredTtlMs, UNVERIFIED_TTL_MS) : this.configuredTtlMs;
    this.listenerState = state;
    this.listenerSince = Date.now();
  }

  listenerHealth(): KeyCacheListenerHealth {
    return {
      state: this.listenerState,
      verified: !FAIL_CLOSED_STATES.has(this.listenerState),
      ttl_ms: this.positive ? this.ttlMs : 0,
      since: new Date(this.listenerSince).toISOString(),
    };
  }

  stats(): KeyCacheStats {
    return {
      enabled: this.positive !== null,
      size: this.positive?.size ?? 0,
      max: this.positive?.max ?? 0,
      negativeSize: this.negative?.size ?? 0,
      negativeMax: this.negative?.max ?? 0,
      indexedUsers: this.byUser.size,
      ...this.counters,
      listener: this.listenerState,
      listenerConnects: this.listenerConnects,
    };
  }

  private store(id: string, record: KeyRecord | null): void {
    if (record) {
      Object.freeze(record.principal);
      this.positive?.set(id, record, { ttl: this.ttlMs });
      // After set(): replacing an entry first disposes (unindexes) the old one.
      let hashes = this.byUser.get(record.principal.userId);
      if (!hashes) this.byUser.set(record.principal.userId, (hashes = new Set()));
      hashes.add(id);
    } else {
      this.negative?.set(id, true);
    }
  }

  private unindex(userId: string, hash: string): void {
    const hashes = this.byUser.get(userId);
    if (!hashes) return;
    hashes.delete(hash);
    if (hashes.size === 0) this.byUser.delete(userId);
  }
}

/**
 * Runs callbacks right after the outermost COMMIT of a transaction (TypeORM broadcasts
 * AfterTransactionCommit once the COMMIT statement has returned), and forgets them on rollback.
 */
class AfterCommitHooks implements EntitySubscriberInterface {
  private readonly pending = new WeakMap<QueryRunner, (() => void)[]>();

  add(runner: QueryRunner, callback: () => void): void {
    const callbacks = this.pending.get(runner);
    if (callbacks) callbacks.push(callback);
    else this.pending.set(runner, [callback]);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    // After RELEASE SAVEPOINT the outer transaction is still open: wait for its COMMIT.
    if (event.queryRunner.isTransactionActive) return;
    const callbacks = this.pending.get(event.queryRunner);
    if (!callbacks) return;
    this.pending.delete(event.queryRunner);
    for (const callback of callbacks) callback();
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (event.queryRunner.isTransactionActive) return;
    this.pending.delete(event.queryRunner);
  }
}
