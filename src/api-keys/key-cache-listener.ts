import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Client, Notification } from 'pg';
import { AppConfig } from '../config/app-config';
import { Database } from '../database/database';
import { ApiKeyCache, KEY_CACHE_CHANNEL, UNVERIFIED_TTL_MS } from './api-key-cache';

/** The listener's connection shows up under this name in pg_stat_activity. */
export const KEY_CACHE_LISTENER_APPLICATION_NAME = 'provisio-key-cache';
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
/** How often a listening connection is checked (a query on it, then a probe from another connection). */
const CHECK_INTERVAL_MS = 10_000;
/** How often the check is repeated while the last probe did not come back. */
const UNVERIFIED_CHECK_INTERVAL_MS = 2000;
const PROBE_TIMEOUT_MS = 3000;

/** What a probe showed: heard by the listener, echoed back to its sender (PGlite), or neither. */
type ProbeOutcome = 'heard' | 'echoed' | 'silent';

/**
 * Hears other instances' invalidations: a dedicated `pg` connection (not one of the pool's) doing
 * `LISTEN provisio_key_cache`. It fails closed: until a probe sent from a second connection comes
 * back to it, and again whenever a later probe does not (every CHECK_INTERVAL_MS) or the connection
 * drops, the cache keeps keys at most UNVERIFIED_TTL_MS (see ApiKeyCache.setListenerState), so a
 * revocation on another instance is obeyed within about a second even then. A dropped connection
 * is reconnected with exponential backoff; on every (re)connection the whole cache is cleared
 * once, since notifications may have been missed. A lost connection is logged once, and so is its
 * return, not every failed attempt in between.
 *
 * On the embedded PGlite (one backend session behind every connection; a notification comes back
 * on the connection that sent it, never on another) no listener is started and the state is
 * `unsupported`: invalidation stays exact within this process (the embedded database is for one
 * process), and changes made by another process would reach it only through the TTL. Elsewhere,
 * the same is concluded if the first probe comes back on the sending connection.
 */
@Injectable()
export class KeyCacheListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(KeyCacheListener.name);
  private client: Client | null = null;
  private stopped = false;
  /** Ends the pauses in progress (backoff, the wait between checks). */
  private readonly wakers = new Set<() => void>();
  private loop: Promise<void> | null = null;
  private readonly probes = new Map<string, () => void>();
  /** Set while a failure has been logged and its end not yet: later failures are not logged again. */
  private troubled = false;

  constructor(
    private readonly config: AppConfig,
    private readonly cache: ApiKeyCache,
    private readonly database: Database,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.cache.stats().enabled || !this.config.databaseUrl) return;
    if (this.database.sharedSession) {
      // The embedded PGlite: notifications never reach another connection, and a connection of our
      // own beside the pool's would interleave protocol messages on its one session.
      this.cache.setListenerState('unsupported');
      return;
    }
    this.cache.setListenerState('connecting');
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wakeAll();
    await this.client?.end().catch(() => undefined);
    await this.loop;
    this.cache.setListenerState('stopped');
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const connection = await this.connect().catch((error: unknown) => {
        this.trouble(`Key cache listener could not connect (${describe(error)}); retrying`);
        return null;
      });
      if (connection) {
        attempt = 0;
        const outcome = await connection.closed;
        if (outcome === 'unsupported' || this.stopped) return;
        this.cache.setListenerState('disconnected');
        this.trouble(`Key cache listener lost its connection (${outcome}); reconnecting`);
      }
      const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt = Math.min(attempt + 1, 16);
      await this.pause(delay);
    }
  }

  /** Logs the first failure of a series, with what it means for the cache. */
  private trouble(message: string): void {
    if (this.stopped || this.troubled) return;
    this.troubled = true;
    this.logger.warn(`${message}; cached keys live at most ${UNVERIFIED_TTL_MS} ms until it is heard again`);
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.wakers.add(wake);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /** Connects and LISTENs; `closed` settles with why the connection ended. */
  private async connect(): Promise<{ closed: Promise<string> }> {
    const client = new Client({
      connectionString: this.config.databaseUrl,
      application_name: KEY_CACHE_LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
      query_timeout: 5000,
    });
    let end: (reason: string) => void = () => undefined;
    const closed = new Promise<string>((resolve) => (end = resolve));
    client.on('error', (error) => end(describe(error)));
    client.on('end', () => end('connection ended'));
    client.on('notification', (notification: Notification) => this.onNotification(notification));
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${KEY_CACHE_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return { closed };
    }
    // Notifications sent while nobody listened are lost: start from an empty cache.
    this.cache.clear();

    const first = await this.probe();
    if (first === 'echoed') {
      this.logger.warn(
        'LISTEN/NOTIFY does not reach a separate connection on this database (the embedded PGlite shares one ' +
          'session between connections): the key cache is invalidated exactly within this process only; ' +
          `changes made by other processes reach it within KEY_CACHE_TTL_MS (${this.config.keyCacheTtlMs} ms).`,
      );
      this.cache.setListenerState('unsupported');
      await client.query('UNLISTEN *').catch(() => undefined);
      await client.end().catch(() => undefined);
      return { closed: Promise.resolve('unsupported') };
    }
    let done = false;
    void closed.then(() => {
      done = true;
      this.wakeAll();
    });
    void this.watch(client, first, () => done, end);
    return { closed };
  }

  /**
   * Until the connection ends: takes the first probe's outcome, then periodically a query on the
   * listening connection (a dead one fails it) and a probe from another connection; `listening`
   * when heard, `unverified` when not.
   */
  private async watch(client: Client, first: ProbeOutcome, ended: () => boolean, end: (reason: string) => void): Promise<void> {
    let outcome = first;
    for (;;) {
      if (ended() || this.stopped) return;
      let delay: number;
      if (outcome === 'heard') {
        this.cache.setListenerState('listening');
        if (this.troubled) this.logger.log('Key cache listener hears other instances again');
        this.troubled = false;
        delay = CHECK_INTERVAL_MS;
      } else {
        this.cache.setListenerState('unverified');
        this.trouble(`Key cache listener did not hear its probe within ${PROBE_TIMEOUT_MS} ms`);
        delay = UNVERIFIED_CHECK_INTERVAL_MS;
      }
      await this.pause(delay);
      if (ended() || this.stopped) return;
      try {
        await client.query('SELECT 1');
      } catch (error) {
        end(`check failed: ${describe(error)}`);
        void client.end().catch(() => undefined);
        return;
      }
      outcome = await this.probe();
    }
  }

  /**
   * Sends a probe from a second connection: `heard` when the listener hears it, `echoed` when it
   * comes back on the sending connection (PGlite), `silent` when neither happens within the timeout
   * or the probe cannot be sent.
   */
  private async probe(): Promise<ProbeOutcome> {
    const nonce = randomUUID();
    const sender = new Client({ connectionString: this.config.databaseUrl, connectionTimeoutMillis: 5000, query_timeout: 5000 });
    let settle: (outcome: ProbeOutcome) => void = () => undefined;
    const outcome = new Promise<ProbeOutcome>((resolve) => (settle = resolve));
    this.probes.set(nonce, () => settle('heard'));
    const timer = setTimeout(() => settle('silent'), PROBE_TIMEOUT_MS);
    try {
      sender.on('error', () => undefined);
      sender.on('notification', (n: Notification) => {
        if (n.payload?.includes(nonce)) settle('echoed');
      });
      await sender.connect();
      await sender.query(`SELECT pg_notify($1, $2)`, [KEY_CACHE_CHANNEL, JSON.stringify({ probe: nonce })]);
      // On PGlite the notification arrives with (or right after) the answer to a query on the sender.
      await sender.query('SELECT 1');
      return await outcome;
    } catch (error) {
      this.logger.debug(`Key cache listener probe failed (${describe(error)})`);
      return 'silent';
    } finally {
      clearTimeout(timer);
      this.probes.delete(nonce);
      await sender.end().catch(() => undefined);
    }
  }

  private onNotification(notification: Notification): void {
    if (notification.channel !== KEY_CACHE_CHANNEL) return;
    const payload = notification.payload;
    if (payload && payload.startsWith('{"probe"')) {
      const nonce = (JSON.parse(payload) as { probe: string }).probe;
      this.probes.get(nonce)?.();
      return;
    }
    this.cache.applyMessage(payload);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
