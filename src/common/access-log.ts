import type { FastifyInstance } from 'fastify';
import pino, { DestinationStream, Logger } from 'pino';
import { redactSecrets } from './redact';

/** Most bytes of log lines waiting for the destination; beyond it, lines are dropped (and counted). */
export const LOG_BUFFER_MAX_BYTES = 8 * 1024 * 1024;

/** Log lines dropped because the destination could not keep up (LOG_BUFFER_MAX_BYTES reached). */
export const droppedLogLines = { count: 0 };

/**
 * The application's one pino logger, writing JSON lines to stdout asynchronously: a write hands
 * its lines to sonic-boom, which writes them in the background, one write at a time, gathering
 * what arrives meanwhile into the next write. The buffer is bounded (LOG_BUFFER_MAX_BYTES: lines
 * beyond it are dropped and counted, so a stalled stdout never grows memory without bound), and
 * it is written out synchronously at process exit (here, besides pino's own exit hook), so a normal
 * close loses nothing.
 */
export function createAppLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level }, destination ?? stdoutDestination());
}

function stdoutDestination(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, maxLength: LOG_BUFFER_MAX_BYTES });
  stream.on('drop', (data: string) => {
    droppedLogLines.count += countLines(data);
  });
  process.on('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // not open yet, or closed: nothing more can be written
    }
  });
  return stream;
}

function countLines(data: string): number {
  let lines = 0;
  for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) lines++;
  return lines;
}

/** With ACCESS_LOG=errors, a successful request is still logged when it took at least this long. */
export const SLOW_REQUEST_MS = 1000;

/** The access-log lines of this event-loop turn, per destination, written together at the turn's end. */
class LineBatch {
  private lines = '';
  private scheduled = false;
  private readonly write = () => this.flush();

  constructor(private readonly stream: { write(chunk: string): unknown; flushSync?(): void }) {}

  add(line: string): void {
    this.lines += line;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.write);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines === '') return;
    const lines = this.lines;
    this.lines = '';
    this.stream.write(lines);
  }

  /** At process exit: what this turn logged, then whatever the destination still buffers. */
  flushSync(): void {
    this.flush();
    try {
      this.stream.flushSync?.();
    } catch {
      // the destination is closed or not open yet: nothing more can be written
    }
  }
}

const openBatches = new Set<LineBatch>();
process.on('exit', () => openBatches.forEach((batch) => batch.flushSync()));

/**
 * One access-log line per request, written by a Fastify onResponse hook: id (X-Request-Id), method, URL (secrets
 * redacted), client address, status and response time; 5xx at error, 4xx at warn, the rest at
 * info; `/health` is not logged. With ACCESS_LOG=errors only 4xx, 5xx and slow requests are logged.
 * Headers are not logged at all, so nothing per request serializes, redacts or tracks headers.
 *
 * The lines of one event-loop turn go to the destination in one write: the destination's cost
 * grows with the number of writes, not of lines. (Why this replaced pino-http, with the figures:
 * bench/README.md, "Design notes".)
 */
export function registerAccessLog(fastify: FastifyInstance, logger: Logger, mode: 'all' | 'errors' = 'all'): void {
  // The line is pino's own format (level, time, the logger's pid/hostname bindings, msg), written
  // straight to the logger's destination: one template string instead of pino's generic object
  // serialization, on every request.
  const internals = logger as unknown as Record<symbol, unknown>;
  const batch = new LineBatch(internals[pino.symbols.streamSym] as { write(line: string): void });
  const bindings = internals[pino.symbols.chindingsSym] as string;
  openBatches.add(batch);
  fastify.addHook('onClose', (_instance, done) => {
    batch.flush();
    openBatches.delete(batch);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    const wanted = mode === 'all' || status >= 400 || reply.elapsedTime >= SLOW_REQUEST_MS;
    if (wanted && logger.isLevelEnabled(level) && request.url !== '/health') {
      // The request id may be the caller's own X-Request-Id (printable ASCII): escaped. The method is an HTTP token.
      const id = JSON.stringify(request.id);
      batch.add(
        `{"level":${logger.levels.values[level]},"time":${Date.now()}${bindings},"request_id":${id},` +
          `"req":{"id":${id},"method":"${request.method}",` +
          `"url":${JSON.stringify(redactSecrets(request.url))},"remoteAddress":${JSON.stringify(request.ip)}},` +
          `"res":{"statusCode":${status}},"responseTime":${Math.round(reply.elapsedTime * 100) / 100},` +
          `"msg":"request completed"}\n`,
      );
    }
    done();
  });
}
