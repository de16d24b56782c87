import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, Socket } from 'node:net';

/**
 * A keep-alive connection idle this long during the drain is closed: its client is not sending.
 * A client that does send on it later meets the usual keep-alive race (the connection closes as
 * the request leaves); any shorter and a client between two requests of a burst would meet it.
 */
const IDLE_CLOSE_MS = 1000;
const DRAIN_TICK_MS = 50;

interface Connection {
  /** Requests received on it whose response has not closed yet. */
  active: number;
  /** The response of its latest request (to close the connection after it when the drain begins). */
  response: ServerResponse | null;
  /** When its last response closed (or when it opened). */
  idleSince: number;
}

const CONNECTION = Symbol('provisio.connection');
type TrackedResponse = ServerResponse & { [CONNECTION]?: Connection };

/** One shared listener (no closure per request): the response's connection has one request fewer in flight. */
function responseClosed(this: TrackedResponse): void {
  const connection = this[CONNECTION];
  if (!connection) return;
  connection.active--;
  if (connection.response === this) connection.response = null;
  connection.idleSince = Date.now();
}

export interface DrainReport {
  /** Requests that were in flight when the drain began. */
  inFlightAtStart: number;
  /** Requests that arrived on connections already open during the drain (answered with `Connection: close`). */
  arrived: number;
  /** Connections still open at the deadline, destroyed then (0 unless the grace period ran out). */
  destroyed: number;
  ms: number;
}

/**
 * Graceful shutdown of the HTTP server, as the contract asks: on SIGTERM the instance reports
 * not-ready at once (`shuttingDown`, read by /health/ready), stops accepting connections, lets the
 * requests in flight finish, and answers requests that still arrive on connections already open —
 * served normally, with `Connection: close`, after which Node closes the connection. Connections
 * that stay idle are closed once idle for a second; whatever is left at the grace deadline is
 * destroyed.
 *
 * Node's `server.close()` (and Fastify's `close()` with it) closes idle keep-alive connections at
 * once, racing a client that is sending on one at that moment (its request is cut off), and
 * Fastify answers 503 on open connections while closing: neither is used for the drain.
 */
export class GracefulShutdown {
  private readonly connections = new Map<Socket, Connection>();
  private startedAt: number | null = null;
  private arrivedDuringDrain = 0;

  /** True from the moment the drain begins. */
  get shuttingDown(): boolean {
    return this.startedAt !== null;
  }

  /** Follows the server's connections and requests; call once, before it listens. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      const connection: Connection = { active: 0, response: null, idleSince: Date.now() };
      this.connections.set(socket, connection);
      socket.once('close', () => this.connections.delete(socket));
    });
    // Before Fastify's own listener, so the header is set before any handler can answer.
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      if (this.startedAt !== null) {
        response.setHeader('Connection', 'close');
        this.arrivedDuringDrain++;
      }
      const connection = this.connections.get(request.socket);
      if (!connection) return;
      connection.active++;
      connection.response = response;
      (response as TrackedResponse)[CONNECTION] = connection;
      response.on('close', responseClosed);
    });
  }

  /**
   * Stops accepting connections and waits, at most `graceMs`, until every open connection has
   * closed (see the class comment); then destroys what is left.
   */
  async drain(server: Server, graceMs: number): Promise<DrainReport> {
    const started = Date.now();
    this.startedAt = started;
    let inFlightAtStart = 0;
    for (const connection of this.connections.values()) {
      inFlightAtStart += connection.active;
      // A request in flight: its connection closes once it is answered.
      if (connection.response && !connection.response.headersSent) connection.response.setHeader('Connection', 'close');
    }
    // net.Server's close: stop listening without http.Server's closeIdleConnections().
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    const deadline = started + graceMs;
    while (this.connections.size > 0 && Date.now() < deadline) {
      const now = Date.now();
      for (const [socket, connection] of this.connections) {
        if (connection.active === 0 && now - Math.max(connection.idleSince, started) >= IDLE_CLOSE_MS) socket.end();
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(DRAIN_TICK_MS, Math.max(1, deadline - now))));
    }
    const destroyed = this.connections.size;
    for (const socket of this.connections.keys()) socket.destroy();
    await closed;
    return {
      inFlightAtStart,
      arrived: this.arrivedDuringDrain,
      destroyed,
      ms: Date.now() - started,
    };
  }
}
