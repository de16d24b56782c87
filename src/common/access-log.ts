import type { FastifyInstance } from 'fastify';
import pino, { DestinationStream, Logger } from 'pino';

/** Anything that looks like a Provisio secret (API key or claim token), wherever it appears in a URL. */
const SECRET_IN_URL = /\b(pv[kc]_)[0-9A-Za-z]+/g;

/** The URL as logged: keys and claim tokens (e.g. /api/v1/claims/pvc_…) replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_IN_URL, '$1[redacted]');
}

/**
 * The application's one pino logger. Writes JSON lines to stdout asynchronously (sonic-boom
 * coalesces the lines written while a write is in flight, so a busy server makes few syscalls and
 * an idle one still writes each line at once); pino flushes it when the process exits.
 */
export function createAppLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      // Secrets never reach the logs, even if a header object is ever logged.
      redact: { paths: ['req.headers["x-api-key"]', 'req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * One access-log line per request, written by a Fastify onResponse hook: id, method, URL (secrets
 * redacted), client address, status and response time; 5xx at error, 4xx at warn, the rest at
 * info; `/health` is not logged. Headers are not logged at all. (It replaces pino-http's Nest
 * middleware, which is both costlier — a header serializer, redaction and AsyncLocalStorage on every
 * request — and was not applied to any route under Nest 12's path syntax.)
 */
export function registerAccessLog(fastify: FastifyInstance, logger: Logger): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    if (logger.isLevelEnabled(level) && request.url !== '/health') {
      logger[level](
        {
          req: { id: request.id, method: request.method, url: redactUrl(request.url), remoteAddress: request.ip },
          res: { statusCode: status },
          responseTime: Math.round(reply.elapsedTime * 100) / 100,
        },
        'request completed',
      );
    }
    done();
  });
}
