import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Client, Notification } from 'pg';
import { AppConfig } from '../config/app-config';
import { Database } from '../database/database';
import { ApiKeyCache, KEY_CACHE_CHANNEL } from './api-key-cache';

/** The listener's connection shows up under this name in pg_stat_activity. */
export const KEY_CACHE_LISTENER_APPLICATION_NAME = 'provisio-key-cache';
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
const PING_INTERVAL_MS = 10_000;
const PROBE_TIMEOUT_MS = 3000;

/**
 * Hears other instances' invalidations: a dedicated `pg` connection (not one of the pool's) doing
 * `LISTEN provisio_key_cache`. When it drops, it reconnects with exponential backoff; meanwhile the
 * cache falls back to its TTL, and on every (re)connection the whole cache is cleared once, since
 * notifications may have been missed.
 *
 * On the embedded PGlite (one backend session behind every connection; a notification comes back
 * on the connection that sent it, never on another) no listener is started and the state is
 * `unsupported`: invalidation stays exact within this process (the embedded database is for one
 * process), and changes made by another process would reach it only through the TTL. Elsewhere,
 * once listening, it probes the channel from a second short-lived connection, and gives up the
 * same way if the probe comes back on the sending connection instead.
 */
@Injectable()
export class KeyCacheListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(KeyCacheListener.name);
  private client: Client | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly probes = new Map<string, () => void>();

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
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.client?.end().catch(() => undefined);
    await this.loop;
    this.cache.setListenerState('stopped');
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      this.cache.setListenerState(attempt === 0 ? 'connecting' : 'disconnected');
      const outcome = await this.connect().catch((error: unknown) => {
        this.logger.warn(`Key cache listener could not connect (${describe(error)}); retrying, TTL applies meanwhile`);
        return null;
      });
      if (outcome !== null) {
        attempt = 0;
        if (outcome === 'unsupported' || this.stopped) return;
        this.logger.warn(`Key cache listener lost its connection (${outcome}); reconnecting, TTL applies meanwhile`);
        this.cache.setListenerState('disconnected');
      }
      const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt = Math.min(attempt + 1, 16);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Connects and LISTENs; resolves once the connection has ended, with why ('unsupported' if LISTEN cannot work here). */
  private async connect(): Promise<string> {
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
      return closed;
    }
    // Notifications sent while nobody listened are lost: start from an empty cache.
    this.cache.clear();
    this.cache.setListenerState('listening');
    const ping = setInterval(() => {
      client.query('SELECT 1').catch((error: unknown) => {
        end(`ping failed: ${describe(error)}`);
        void client.end().catch(() => undefined);
      });
    }, PING_INTERVAL_MS);
    ping.unref();
    void closed.then(() => clearInterval(ping));

    const supported = await this.probe();
    if (!supported) {
      this.logger.warn(
        'LISTEN/NOTIFY does not reach a separate connection on this database (the embedded PGlite shares one ' +
          'session between connections): the key cache is invalidated exactly within this process only; ' +
          `changes made by other processes reach it within KEY_CACHE_TTL_MS (${this.config.keyCacheTtlMs} ms).`,
      );
      this.cache.setListenerState('unsupported');
      await client.query('UNLISTEN *').catch(() => undefined);
      await client.end().catch(() => undefined);
      return 'unsupported';
    }
    return closed;
  }

  /**
   * Sends a probe from a second connection. True when the listener hears it, false when it comes
   * back on the sending connection (PGlite). Neither within the timeout: assumed supported, since a
   * real server is merely slow.
   */
  private async probe(): Promise<boolean> {
    const nonce = randomUUID();
    const sender = new Client({ connectionString: this.config.databaseUrl, connectionTimeoutMillis: 5000 });
    let settle: (supported: boolean) => void = () => undefined;
    const outcome = new Promise<boolean>((resolve) => (settle = resolve));
    this.probes.set(nonce, () => settle(true));
    const timer = setTimeout(() => settle(true), PROBE_TIMEOUT_MS);
    try {
      sender.on('error', () => undefined);
      sender.on('notification', (n: Notification) => {
        if (n.payload?.includes(nonce)) settle(false);
      });
      await sender.connect();
      await sender.query(`SELECT pg_notify($1, $2)`, [KEY_CACHE_CHANNEL, JSON.stringify({ probe: nonce })]);
      // On PGlite the notification arrives with (or right after) the answer to a query on the sender.
      await sender.query('SELECT 1');
      return await outcome;
    } catch (error) {
      this.logger.warn(`Key cache listener probe failed (${describe(error)}); assuming notifications work`);
      return true;
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
