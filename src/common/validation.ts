import { ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate, ValidateIf, ValidatorOptions } from 'class-validator';
import type { FastifyBodyParser, FastifyInstance } from 'fastify';
import { FieldError, ProblemException, Problems } from './problem';

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      message: message.replace(/^property (\S+) should not exist$/, 'unknown field $1'),
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** One entry per distinct field and message (`?limit=a&limit=b` failed the same check once per constraint). */
function unique(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = JSON.stringify([error.field, error.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
};

/**
 * Validates one item of a bulk body (an object the pipe let through as it is) against its DTO,
 * exactly as the pipe validates a whole body: the item as its DTO, or the 400 problem it would get.
 */
export async function validateItem<T extends object>(
  dto: new () => T,
  item: Record<string, unknown>,
): Promise<{ ok: true; value: T } | { ok: false; problem: ProblemException }> {
  const value = plainToInstance(dto, item, { enableImplicitConversion: false });
  const errors = await validate(value, VALIDATOR_OPTIONS);
  if (errors.length === 0) return { ok: true, value };
  return { ok: false, problem: Problems.validationFailed(unique(flatten(errors))) };
}

/**
 * Validates bodies, queries and params against their DTOs: unknown fields are refused, values are
 * never coerced implicitly, and every failure is a 400 problem listing `errors: [{field, message}]`.
 */
@Injectable()
export class StrictValidationPipe extends ValidationPipe {
  constructor() {
    super({
      ...VALIDATOR_OPTIONS,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      exceptionFactory: (errors) => Problems.validationFailed(unique(flatten(errors))),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Values of custom parameter decorators (the verified principal, …) are the server's own, not
    // input: nothing to check (ValidationPipe skips them too), and /me would pay a scan per request.
    if (metadata.type === 'custom') return value;
    // PostgreSQL text cannot hold NUL: refuse it here as bad input rather than fail at the database.
    const nulField = findNul(value, metadata.type === 'body' ? '' : (metadata.data ?? ''));
    if (nulField !== null) {
      throw Problems.validationFailed([{ field: nulField || 'body', message: 'must not contain the NUL character' }]);
    }
    if (metadata.type === 'body' && metadata.metatype && this.toValidate(metadata)) {
      // No body at all (no Content-Type, nothing sent) is an empty object: routes whose fields are
      // all optional work without one, and required fields are reported by name.
      if (value === undefined) return super.transform({}, metadata);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw Problems.validationFailed(
          [{ field: 'body', message: 'the request body must be a JSON object' }],
          'The request body must be a JSON object.',
        );
      }
    }
    return super.transform(value, metadata);
  }
}

/** No request of this API nests objects or arrays; anything deeper than this is refused. */
export const MAX_BODY_NESTING = 16;

type CallbackBodyParser = Exclude<FastifyBodyParser<string>, (request: never, rawBody: string) => Promise<unknown>>;

/**
 * Fastify's own JSON body parser followed by a nesting check, before any guard, interceptor or
 * pipe: a JSON body nested thousands deep made class-transformer (and the idempotency fingerprint)
 * overflow the stack, a 500. Done while parsing, so requests without a body pay nothing for it.
 */
export function parseJsonRefusingDeepNesting(fastify: FastifyInstance): void {
  // Fastify's default JSON parser is the callback form; its declared type also allows the promise form.
  const parse = fastify.getDefaultJsonParser('error', 'error') as CallbackBodyParser;
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' as const }, (request, body: string, done) => {
    parse(request, body, (error, value) => {
      if (error) return done(error, undefined);
      if (nestedDeeperThan(value, MAX_BODY_NESTING)) {
        const message = `must not nest objects or arrays more than ${MAX_BODY_NESTING} levels deep`;
        return done(Problems.validationFailed([{ field: 'body', message }]), undefined);
      }
      done(null, value);
    });
  });
}

/** True when objects/arrays nest more than `max` levels (walks at most `max` levels down). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max === 0) return true;
  return Object.values(value).some((item) => nestedDeeperThan(item, max - 1));
}

/** The path of the first string holding U+0000 in a parsed body, query or parameter; null if none. */
function findNul(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (depth > 32 || value === null || typeof value !== 'object') return null;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000')) return path ? `${path}.${key.replaceAll('\u0000', '')}` : 'body';
    const found = findNul(item, path ? `${path}.${key}` : key, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/**
 * An optional body field: it may be left out, but when present it is validated, so an explicit
 * `null` is refused (400) like any other wrong type. (class-validator's @IsOptional() lets `null`
 * through, which then reached the database as a NOT NULL violation: a 500.)
 */
export function OptionalField(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}
