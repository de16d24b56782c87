import { ChildProcess, spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';

/** The build under test: this checkout's (`npm run build`), or another one's (to show a fault test fails there). */
const MAIN = process.env.FAULTS_SERVICE_MAIN ?? resolve(__dirname, '../../../dist/src/main.js');

/** One line a service printed, with when the test saw it. */
export interface LogLine {
  at: number;
  text: string;
  /** The parsed JSON line (pino), or null for plain text. */
  json: { level?: number; msg?: string; [field: string]: unknown } | null;
}

/**
 * The built service (`dist/src/main.js`, from `npm run build`) as a child process on a port of its
 * own, 127.0.0.1 only, with its output kept line by line.
 */
export class ServiceProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => resolveExit({ code, signal, at: Date.now() })),
    );
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        const at = Date.now();
        for (const text of parts) if (text !== '') this.lines.push({ at, text, json: parseJson(text) });
      });
    }
  }

  static async start(env: Record<string, string>, readyWithinMs = 30_000): Promise<ServiceProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: tmpdir(), // no .env of the checkout
    });
    const service = new ServiceProcess(child, port);
    const deadline = Date.now() + readyWithinMs;
    const agent = new Agent({ keepAlive: false });
    for (;;) {
      const exited = await Promise.race([service.exited, new Promise<null>((r) => setTimeout(() => r(null), 100))]);
      if (exited) throw new Error(`service exited (${exited.code ?? exited.signal}) before answering:\n${service.output()}`);
      // A build from before /health/live (run through FAULTS_SERVICE_MAIN) answers /health.
      let live = await get(agent, port, '/health/live').catch(() => null);
      if (live === 404) live = await get(agent, port, '/health').catch(() => null);
      if (live === 200) return service;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`service did not answer /health/live within ${readyWithinMs} ms:\n${service.output()}`);
      }
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Lines other than the access log's, at pino level `level` or above. */
  logLinesAtLeast(level: number, since = 0): LogLine[] {
    return this.lines.filter(
      (line) =>
        line.at >= since && line.json !== null && (line.json.level ?? 0) >= level && line.json.msg !== 'request completed',
    );
  }

  output(last = 15): string {
    return this.lines
      .slice(-last)
      .map((line) => line.text.slice(0, 500))
      .join('\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

function parseJson(text: string): LogLine['json'] {
  if (!text.startsWith('{')) return null;
  try {
    return JSON.parse(text) as LogLine['json'];
  } catch {
    return null;
  }
}

function get(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolveStatus(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}
