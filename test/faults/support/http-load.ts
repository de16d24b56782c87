import { Agent, IncomingHttpHeaders, request as httpRequest } from 'node:http';

export interface RequestSpec {
  kind: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** What one request got: a status (with headers and parsed body), or the error code of its failure. */
export interface Outcome {
  spec: RequestSpec;
  client: number;
  sentAt: number;
  at: number;
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: unknown;
  /** `ECONNREFUSED`, `ECONNRESET`, `socket hang up`, `timeout`, … */
  error?: string;
  /** True when the request went out on a connection that had already carried a request. */
  reusedConnection?: boolean;
}

/** Sends one request on 127.0.0.1:`port` through `agent`. Never rejects. */
export function send(agent: Agent, port: number, spec: RequestSpec, client = 0, timeoutMs = 15_000): Promise<Outcome> {
  const sentAt = Date.now();
  const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
  return new Promise((resolve) => {
    let reused = false;
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: spec.method,
        path: spec.path,
        agent,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...spec.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error: NodeJS.ErrnoException) =>
          resolve({ spec, client, sentAt, at: Date.now(), error: error.code ?? error.message, reusedConnection: reused }),
        );
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: kept as text
          }
          resolve({
            spec,
            client,
            sentAt,
            at: Date.now(),
            status: res.statusCode,
            headers: res.headers,
            body,
            reusedConnection: reused,
          });
        });
      },
    );
    req.on('socket', (socket) => {
      reused = (socket as unknown as { _provisioUsed?: boolean })._provisioUsed === true;
      (socket as unknown as { _provisioUsed?: boolean })._provisioUsed = true;
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ spec, client, sentAt, at: Date.now(), error: error.code ?? error.message, reusedConnection: reused }),
    );
    req.end(payload);
  });
}

export interface LoadOptions {
  port: number;
  clients: number;
  /** Hard bounds: each client stops after this many requests, or at this time. */
  maxRequestsPerClient: number;
  until: number;
  /** The next request of a client. */
  next: (client: number, n: number) => RequestSpec;
  /** Stops a client after this outcome (e.g. a refused connection once the service is gone). */
  stopAfter?: (outcome: Outcome) => boolean;
  /** A client waits this long after a 503 before its next request (it honours Retry-After, shortened). */
  pauseAfter503Ms?: number;
  timeoutMs?: number;
}

/**
 * `clients` concurrent clients, each with one keep-alive connection of its own, sending one request
 * at a time until `stop()` is called or a bound is reached. Outcomes are collected as they come.
 */
export class HttpLoad {
  readonly outcomes: Outcome[] = [];
  private stopped = false;
  readonly done: Promise<void>;
  private readonly agents: Agent[] = [];

  constructor(private readonly options: LoadOptions) {
    this.done = Promise.all(Array.from({ length: options.clients }, (_, i) => this.client(i))).then(() => undefined);
  }

  stop(): void {
    this.stopped = true;
  }

  async finish(): Promise<Outcome[]> {
    this.stop();
    await this.done;
    for (const agent of this.agents) agent.destroy();
    return this.outcomes;
  }

  private async client(index: number): Promise<void> {
    const { port, maxRequestsPerClient, until, next, stopAfter, pauseAfter503Ms = 0, timeoutMs } = this.options;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.agents.push(agent);
    for (let n = 0; n < maxRequestsPerClient && !this.stopped && Date.now() < until; n++) {
      const outcome = await send(agent, port, next(index, n), index, timeoutMs);
      this.outcomes.push(outcome);
      if (stopAfter?.(outcome)) return;
      if (outcome.status === 503 && pauseAfter503Ms > 0) await new Promise((r) => setTimeout(r, pauseAfter503Ms));
    }
  }
}
