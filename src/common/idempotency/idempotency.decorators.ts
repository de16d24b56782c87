import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata, UseInterceptors } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { ApiProblems } from '../api-problems.decorator';
import { IdempotentRequest } from './idempotency.service';
import {
  IDEMPOTENCY_METADATA,
  IdempotencyInterceptor,
  IdempotencyOptions,
  RequestWithIdempotency,
} from './idempotency.interceptor';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from './request-fingerprint';

export const IDEMPOTENCY_CONFLICT_TEXT = 'A request with this Idempotency-Key is still being processed.';
export const IDEMPOTENCY_REUSED_TEXT = 'The Idempotency-Key was already used for a different request.';

/**
 * Makes a POST route idempotent: validates the `Idempotency-Key` header, documents it and its
 * 409/422 answers in OpenAPI, and adds `Idempotent-Replayed: true` to replays. The route's service
 * passes `@IdempotencyContext()` to IdempotencyService.run. A route with its own 409 or 422 adds
 * that status to its @ApiProblems as well: @nestjs/swagger joins the descriptions.
 */
export function Idempotent(options: IdempotencyOptions = {}) {
  const required = options.required ?? true;
  return applyDecorators(
    SetMetadata(IDEMPOTENCY_METADATA, { required } satisfies IdempotencyOptions),
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required,
      description:
        `${required ? 'Required' : 'Optional'}: a unique key per operation (1–${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII ` +
        'characters, e.g. a UUID). Resending the same key with the same body replays the first answer ' +
        '(same status and body, header `Idempotent-Replayed: true`) without doing the work again. ' +
        'Keys are scoped to the calling user (two users may use the same key) and kept 24 hours.',
      schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
    }),
    ApiProblems({ 409: IDEMPOTENCY_CONFLICT_TEXT, 422: IDEMPOTENCY_REUSED_TEXT }),
  );
}

/** The request's validated key and fingerprint; undefined on optional routes called without a key. */
export const IdempotencyContext = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): IdempotentRequest | undefined =>
    ctx.switchToHttp().getRequest<RequestWithIdempotency>().idempotency,
);
