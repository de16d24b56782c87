import { createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that a fault test controls: `cut()` breaks every open
 * connection and, until `restore()`, resets new ones at once (`reset`: the server is down) or
 * accepts them and never answers (`blackhole`: the network is gone; they are reset at `restore()`). With `holdOnClientClose`, a connection
 * whose client side goes away (its process killed) keeps its server side open, as when a host
 * vanishes without closing its sockets: PostgreSQL does not learn that the client is gone.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private readonly held = new Set<Socket>();
  private refusing: 'reset' | 'blackhole' | null = null;
  private readonly stalled = new Set<Socket>();
  /** Connections reset while cut. */
  refused = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
    private readonly holdOnClientClose: boolean,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(target: { host: string; port: number }, options: { holdOnClientClose?: boolean } = {}): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    return new TcpProxy(server, address.port, target, options.holdOnClientClose ?? false);
  }

  /** `url` (a postgres:// URL of the target) going through this proxy instead. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Open client connections (not counting held server sides). */
  get open(): number {
    return this.pairs.size;
  }

  cut(mode: 'reset' | 'blackhole' = 'reset'): void {
    this.refusing = mode;
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.refusing = null;
    for (const socket of this.stalled) socket.resetAndDestroy();
    this.stalled.clear();
  }

  async close(): Promise<void> {
    this.cut();
    this.restore();
    for (const socket of this.held) socket.destroy();
    this.held.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      this.refused++;
      if (this.refusing === 'reset') {
        client.resetAndDestroy();
      } else {
        client.on('error', () => undefined);
        this.stalled.add(client);
      }
      return;
    }
    const upstream = new Socket();
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    upstream.connect(this.target.port, this.target.host);
    client.pipe(upstream, { end: !this.holdOnClientClose });
    upstream.pipe(client);
    client.on('close', () => {
      this.pairs.delete(pair);
      if (this.holdOnClientClose && !upstream.destroyed) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        upstream.resume(); // read and drop what the server still sends
        this.held.add(upstream);
      } else {
        upstream.destroy();
      }
    });
    upstream.on('close', () => {
      this.pairs.delete(pair);
      this.held.delete(upstream);
      client.destroy();
    });
  }
}
