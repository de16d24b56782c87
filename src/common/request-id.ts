import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller may send as its request id: 1–128 printable ASCII characters. */
const VALID_REQUEST_ID = /^[\x20-\x7e]{1,128}$/;

/**
 * Fastify's `genReqId`: the request's own X-Request-Id when it sent a valid one, else a new UUID.
 * It becomes `request.id`, which the access log, the problem bodies (`request_id`) and the error
 * logs carry.
 */
export function requestIdOf(request: IncomingMessage): string {
  const sent = request.headers[REQUEST_ID_HEADER];
  return typeof sent === 'string' && VALID_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/** Every response carries the request's id as X-Request-Id (set first, so error answers keep it). */
export function registerRequestIdHeader(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
}
