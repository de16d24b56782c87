import { Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Logger as TypeOrmLoggerInterface } from 'typeorm';

/**
 * Error codes that mean "the database cannot be reached", not "this query is wrong": Node's socket
 * errors, and PostgreSQL's class 08 (connection exception), 57P01–57P03 (the server shut down,
 * crashed, or cannot accept connections yet) and 53300 (too many connections).
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** What `pg` and `pg-pool` say when a connection breaks or cannot be had (they set no code). */
const UNREACHABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Connection terminated due to connection timeout|Query read timeout)/;

/**
 * True when `error` (or what it wraps: TypeORM's `driverError`, a `cause`, an AggregateError's
 * `errors`) says the database could not be reached or the connection broke.
 */
export function isDatabaseUnreachable(error: unknown, depth = 0): boolean {
  if (depth > 4 || error === null || typeof error !== 'object') return false;
  const e = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (UNREACHABLE_CODES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true;
  if (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)) return true;
  if (e.driverError !== undefined && isDatabaseUnreachable(e.driverError, depth + 1)) return true;
  if (e.cause !== undefined && isDatabaseUnreachable(e.cause, depth + 1)) return true;
  return Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnreachable(inner, depth + 1));
}

/** Seconds a client is told to wait (Retry-After) when the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;
/** How often an outage is probed for its end. */
const PROBE_INTERVAL_MS = 1000;

interface Outage {
  since: number;
  reason: string;
  /** Set once a probe confirmed it (a lone broken connection is not an outage worth a log line). */
  confirmed: boolean;
  /** Requests answered 503 meanwhile. */
  refused: number;
}

/**
 * Tracks whether the database answers, so an outage is logged once when it starts and once when
 * it ends instead of once per failed request or query. Anything that meets a connection error
 * reports it here (the problem-details filter, TypeORM's query-error log, the pool's error event,
 * the background jobs) and logs nothing itself. The first report starts probing (`SELECT 1` through
 * the pool, every second): a failing probe confirms the outage and logs its start; the first
 * probe that succeeds ends it, logging how long it lasted if it had been confirmed.
 */
export class DatabaseHealth implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private outage: Outage | null = null;
  private probe: (() => Promise<unknown>) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** Where the probe goes; set once the data source exists. */
  watch(probe: () => Promise<unknown>): void {
    this.probe = probe;
  }

  /** False from the first connection error until a probe succeeds. */
  get reachable(): boolean {
    return this.outage === null;
  }

  /** `{reachable, since, reason}` for health details and metrics. */
  state(): { reachable: boolean; since: string | null; reason: string | null } {
    const outage = this.outage;
    return {
      reachable: outage === null,
      since: outage ? new Date(outage.since).toISOString() : null,
      reason: outage?.reason ?? null,
    };
  }

  /**
   * Reports an error met while using the database. Returns true when it is a connection error
   * (the caller then answers 503 and logs nothing); false for any other error, which is the
   * caller's to handle and log.
   */
  reportFailure(error: unknown): boolean {
    if (!isDatabaseUnreachable(error)) return false;
    if (this.outage) return true;
    this.outage = { since: Date.now(), reason: describe(error), confirmed: false, refused: 0 };
    this.schedule(0);
    return true;
  }

  /** Counts a request answered 503 because of the outage (for the line that ends it). */
  countRefused(): void {
    if (this.outage) this.outage.refused++;
  }

  onApplicationShutdown(): void {
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.stopped || !this.probe || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runProbe();
    }, delayMs);
    this.timer.unref();
  }

  private async runProbe(): Promise<void> {
    const outage = this.outage;
    if (!outage || !this.probe) return;
    try {
      await this.probe();
    } catch (error) {
      if (this.stopped) return;
      if (!outage.confirmed) {
        outage.confirmed = true;
        this.logger.error(
          `Database unreachable (${outage.reason}); requests that need it are answered 503 ` +
            `database-unavailable until it answers again.`,
        );
      } else if (isDatabaseUnreachable(error)) {
        outage.reason = describe(error);
      }
      this.schedule(PROBE_INTERVAL_MS);
      return;
    }
    this.outage = null;
    const seconds = ((Date.now() - outage.since) / 1000).toFixed(1);
    if (outage.confirmed) {
      this.logger.log(`Database reachable again after ${seconds} s; ${outage.refused} request(s) were answered 503 meanwhile.`);
    } else {
      this.logger.debug(`A database connection failed (${outage.reason}) but the database answers.`);
    }
  }
}

/**
 * TypeORM's logger: query errors and pool warnings go to the application's log, except connection
 * errors, which go to DatabaseHealth (one line per outage instead of one per failed query).
 * Successful queries are not logged.
 */
export class TypeOrmLogger implements TypeOrmLoggerInterface {
  private readonly logger = new Logger('TypeORM');

  constructor(private readonly health: DatabaseHealth) {}

  logQuery(): void {
    // not logged
  }

  logQueryError(error: string | Error, query: string): void {
    if (this.health.reportFailure(error)) return;
    this.logger.error(`Query failed: ${describe(error)} — ${query}`);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`Slow query (${time} ms): ${query}`);
  }

  logSchemaBuild(): void {
    // synchronize is never used
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.log(String(message));
  }

  /** For the pool's `error` event (an idle connection broke). */
  poolError(error: Error): void {
    if (this.health.reportFailure(error)) return;
    this.logger.warn(`An idle database connection failed: ${error.message}`);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name;
  return String(error);
}
