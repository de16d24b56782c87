import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  collectDefaultMetrics,
  Counter,
  CounterConfiguration,
  Gauge,
  GaugeConfiguration,
  Histogram,
  Registry,
} from 'prom-client';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { droppedLogLines } from '../access-log';

/** What a route label says for a request that matched no route (a 404 of the router). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Key-cache lookups by result, as ApiKeyCache counts them. */
export type KeyCacheLookupCounts = Record<'hit' | 'negative_hit' | 'miss', number>;

/**
 * The application's Prometheus registry (one per application, so two apps in one process keep
 * apart) with the metrics the contract names and Node's default process metrics. Other modules
 * inject it to count (`creditsCharged.inc(units)`) or to register metrics of their own
 * (`gauge({...})`, `counter({...})`), all served by GET /metrics.
 */
@Injectable()
export class MetricsService implements OnModuleInit {
  readonly registry = new Registry();
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly provisionsExpired: Counter;
  readonly creditsCharged: Counter;
  readonly rateLimited: Counter<'scope'>;
  readonly webhookDeliveries: Counter<'outcome'>;
  private keyCacheSource: (() => KeyCacheLookupCounts) | null = null;
  /** Bound histogram children per "method route status": labelling costs a lookup, not a hash, per request. */
  private readonly durationChildren = new Map<string, { observe(value: number): void }>();

  constructor(
    @Optional() private readonly adapterHost?: HttpAdapterHost,
    @Optional() private readonly dataSource?: DataSource,
    @Optional() private readonly config?: AppConfig,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.httpRequestDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to sending its response, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    const source = () => this.keyCacheSource?.();
    this.counter({
      name: 'provisio_key_cache_lookups_total',
      help: 'API key verifications by cache result: hit, negative_hit (known unknown), miss (database lookup).',
      labelNames: ['result'],
      collect() {
        const counts = source();
        this.reset();
        for (const result of ['hit', 'negative_hit', 'miss'] as const) this.inc({ result }, counts?.[result] ?? 0);
      },
    });
    const inUse = () => this.connectionsInUse();
    const max = () => this.config?.databasePoolSize ?? 0;
    this.gauge({
      name: 'provisio_db_pool_connections',
      help: 'Database pool connections by state: active (held by a query or transaction), available (max - active), max (the pool size).',
      labelNames: ['state'],
      collect() {
        const active = inUse();
        this.set({ state: 'active' }, active);
        this.set({ state: 'available' }, Math.max(0, max() - active));
        this.set({ state: 'max' }, max());
      },
    });
    this.provisionsExpired = this.counter({
      name: 'provisio_provisions_expired_total',
      help: 'Provisions expired by the expiry job (this instance).',
    });
    this.creditsCharged = this.counter({
      name: 'provisio_credits_charged_total',
      help: 'Credits charged (charges and committed reservations) by this instance.',
    });
    this.rateLimited = this.counter({
      name: 'provisio_rate_limited_total',
      help: 'Requests refused with 429 by the rate limit, by scope: key (per API key) or ip (per client IP).',
      labelNames: ['scope'],
    });
    this.webhookDeliveries = this.counter({
      name: 'provisio_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome.',
      labelNames: ['outcome'],
    });
    this.counter({
      name: 'provisio_log_lines_dropped_total',
      help: 'Log lines dropped because stdout did not keep up and the bounded log buffer was full.',
      collect() {
        this.reset();
        this.inc(droppedLogLines.count);
      },
    });
    // Labelled series are exported from the start, at 0.
    for (const scope of ['key', 'ip']) this.rateLimited.inc({ scope }, 0);
    for (const outcome of ['delivered', 'failed']) this.webhookDeliveries.inc({ outcome }, 0);
  }

  onModuleInit(): void {
    const fastify = this.adapterHost?.httpAdapter?.getInstance<FastifyInstance>();
    fastify?.addHook('onResponse', (request, reply, done) => {
      this.observe(request, reply);
      done();
    });
  }

  counter<T extends string = string>(config: CounterConfiguration<T>): Counter<T> {
    return new Counter<T>({ ...config, registers: [this.registry] });
  }

  gauge<T extends string = string>(config: GaugeConfiguration<T>): Gauge<T> {
    return new Gauge<T>({ ...config, registers: [this.registry] });
  }

  /** Where provisio_key_cache_lookups_total reads its counts (the key cache's own counters). */
  observeKeyCache(read: () => KeyCacheLookupCounts): void {
    this.keyCacheSource = read;
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private observe(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const status = reply.statusCode;
    const id = `${request.method} ${route} ${status}`;
    let child = this.durationChildren.get(id);
    if (!child) {
      child = this.httpRequestDuration.labels(request.method, route, String(status));
      this.durationChildren.set(id, child);
    }
    child.observe(reply.elapsedTime / 1000);
  }

  /** Connections of the pool held right now, through TypeORM's public driver API (its connected query runners). */
  private connectionsInUse(): number {
    if (!this.dataSource?.isInitialized) return 0;
    // A public field of TypeORM's PostgresDriver: the query runners holding a connection of the pool.
    const driver = this.dataSource.driver as typeof this.dataSource.driver & { connectedQueryRunners?: unknown[] };
    return driver.connectedQueryRunners?.length ?? 0;
  }
}
