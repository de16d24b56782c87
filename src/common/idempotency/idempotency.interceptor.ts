import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catchError, Observable, tap, throwError } from 'rxjs';
import type { Principal } from '../principal';
import { Problems } from '../problem';
import { IdempotentRequest } from './idempotency.service';
import { checkIdempotencyKey, requestFingerprint } from './request-fingerprint';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';
export const IDEMPOTENCY_METADATA = 'provisio:idempotency';

export interface IdempotencyOptions {
  /** Refuse requests without the header (400). Default true. */
  required?: boolean;
}

export interface RequestWithIdempotency {
  idempotency?: IdempotentRequest;
}

/**
 * Reads and validates the `Idempotency-Key` header (400 when required and missing or malformed),
 * fingerprints the request, hands both to the handler through `@IdempotencyContext()`, and marks
 * replayed answers — successes and problems alike — with `Idempotent-Replayed: true`.
 * The exactly-once part is IdempotencyService.run, called by the route's service.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & RequestWithIdempotency & { principal?: Principal }>();
    const reply = http.getResponse<FastifyReply>();
    const options = this.reflector.get<IdempotencyOptions | undefined>(IDEMPOTENCY_METADATA, context.getHandler()) ?? {};
    const header = request.headers[IDEMPOTENCY_KEY_HEADER];
    if (header === undefined && options.required === false) return next.handle();

    const check = checkIdempotencyKey(header);
    if (!check.ok) {
      throw header === undefined ? Problems.idempotencyKeyMissing(check.reason) : Problems.idempotencyKeyInvalid(check.reason);
    }
    const idempotency = new IdempotentRequest(
      check.key,
      requestFingerprint({
        method: request.method,
        path: request.url.split('?')[0],
        callerId: request.principal?.userId ?? 'anonymous',
        body: request.body,
      }),
    );
    request.idempotency = idempotency;
    const markReplay = () => {
      if (idempotency.replayed) void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
    };
    return next.handle().pipe(
      tap(markReplay),
      catchError((error: unknown) => {
        markReplay();
        return throwError(() => error);
      }),
    );
  }
}
