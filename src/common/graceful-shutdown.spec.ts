import { Agent, createServer, IncomingHttpHeaders, request, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { GracefulShutdown } from './graceful-shutdown';

interface Answer {
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: string;
  error?: string;
}

function get(port: number, path: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

describe('GracefulShutdown', () => {
  let server: Server;
  let port: number;
  let shutdown: GracefulShutdown;
  /** Requests to /slow wait for this. */
  let release: () => void;
  let released: Promise<void>;

  beforeEach(async () => {
    released = new Promise((resolve) => (release = resolve));
    shutdown = new GracefulShutdown();
    server = createServer((req, res) => {
      if (req.url === '/slow') void released.then(() => res.end('slow done'));
      else res.end('fast');
    });
    server.keepAliveTimeout = 60_000;
    shutdown.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(() => {
    release();
    server.closeAllConnections();
    server.close();
  });

  it('finishes requests in flight, serves requests on open connections with Connection: close, and refuses new connections', async () => {
    const inFlightAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const openAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(await get(port, '/fast', openAgent)).toMatchObject({ status: 200, body: 'fast' }); // an open, idle connection
    const slow = get(port, '/slow', inFlightAgent);
    await new Promise((r) => setTimeout(r, 50));

    expect(shutdown.shuttingDown).toBe(false);
    const drained = shutdown.drain(server, 5000);
    expect(shutdown.shuttingDown).toBe(true);

    const onOpenConnection = await get(port, '/fast', openAgent);
    expect(onOpenConnection).toMatchObject({
      status: 200,
      body: 'fast',
      headers: expect.objectContaining({ connection: 'close' }),
    });
    expect(await get(port, '/fast', new Agent({ keepAlive: false }))).toEqual({ error: 'ECONNREFUSED' });

    release();
    expect(await slow).toMatchObject({
      status: 200,
      body: 'slow done',
      headers: expect.objectContaining({ connection: 'close' }),
    });
    const report = await drained;
    expect(report).toMatchObject({ inFlightAtStart: 1, arrived: 1, destroyed: 0 });
    expect(report.ms).toBeLessThan(5000);
  });

  it('closes a connection left idle for a second, without waiting for the deadline', async () => {
    const idleAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await get(port, '/fast', idleAgent)).status).toBe(200);
    const report = await shutdown.drain(server, 10_000);
    expect(report.destroyed).toBe(0);
    expect(report.ms).toBeGreaterThanOrEqual(900);
    expect(report.ms).toBeLessThan(5000);
  });

  it('cuts what is still open at the deadline', async () => {
    const slow = get(port, '/slow', new Agent({ keepAlive: true }));
    await new Promise((r) => setTimeout(r, 50));
    const report = await shutdown.drain(server, 300);
    expect(report).toMatchObject({ inFlightAtStart: 1, destroyed: 1 });
    expect((await slow).error).toBeDefined();
  });
});
