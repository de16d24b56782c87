import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyVerifier, KeyRefusal } from '../api-keys/api-key-verifier';
import { Access, ACCESS_METADATA, API_KEY_HEADER, RequestWithPrincipal } from '../common/auth.decorators';
import { Problems } from '../common/problem';
import { NO_RATE_LIMIT_METADATA } from '../common/rate-limit/rate-limit.decorators';
import { RateLimiter } from '../common/rate-limit/rate-limiter';

const refusalText: Record<KeyRefusal, string> = {
  malformed: 'The API key is not a valid Provisio key.',
  not_found: 'The API key is not known.',
  revoked: 'The API key has been revoked.',
  user_disabled: "The API key's user is disabled.",
  expired: "The API key's provision has expired.",
};

/**
 * Global authentication: resolves X-API-Key to a principal on the request, or answers 401. It also
 * applies the rate limits, since it is where the caller becomes known: per API key once a key is
 * valid; per client IP (Fastify's `request.ip`, which honours the proxy setting) for requests
 * without a valid key — public routes, `optional` routes called without a key, and every failed
 * authentication, counted before its 401 is sent. Routes marked @NoRateLimit() are not counted.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: ApiKeyVerifier,
    private readonly rateLimiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = readAccess(this.reflector, context);
    const http = context.switchToHttp();
    const request = http.getRequest<RequestWithPrincipal & FastifyRequest>();
    const limited = isRateLimited(this.reflector, context);
    const byIp = () => (limited ? this.rateLimiter.limit('ip', request.ip, http.getResponse<FastifyReply>()) : undefined);
    if (access === 'public') {
      await byIp();
      return true;
    }
    const header = request.headers[API_KEY_HEADER];
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined || key === '') {
      await byIp();
      if (access === 'optional') return true;
      throw Problems.unauthorized('The X-API-Key header is required.');
    }
    // A client IP that is flooding (over its limit and refused as many times again this minute) gets
    // an answer from the key cache only: a valid cached key still counts per key; anything else is
    // refused (429) without a database query, so made-up keys cannot exhaust the pool.
    if (limited && this.rateLimiter.flooding('ip', request.ip)) {
      const cached = this.verifier.verifyCached(key.trim());
      if (!cached?.valid) {
        await byIp(); // 429, unless a new window has begun meanwhile: then the key is checked in full
        if (cached) throw Problems.unauthorized(refusalText[cached.reason]);
      }
    }
    const result = await this.verifier.verify(key.trim());
    if (!result.valid) {
      await byIp();
      throw Problems.unauthorized(refusalText[result.reason]);
    }
    request.principal = result.principal;
    if (limited) {
      const waiting = this.rateLimiter.limit('key', result.principal.keyId, http.getResponse<FastifyReply>());
      if (waiting) await waiting;
    }
    return true;
  }
}

const rateLimitedByHandler = new WeakMap<object, boolean>();

function isRateLimited(reflector: Reflector, context: ExecutionContext): boolean {
  const handler = context.getHandler();
  let limited = rateLimitedByHandler.get(handler);
  if (limited === undefined) {
    limited = !reflector.getAllAndOverride<boolean | undefined>(NO_RATE_LIMIT_METADATA, [handler, context.getClass()]);
    rateLimitedByHandler.set(handler, limited);
  }
  return limited;
}

/** Route metadata never changes after start-up: read once per handler, for both guards. */
const accessByHandler = new WeakMap<object, Access>();

export function readAccess(reflector: Reflector, context: ExecutionContext): Access {
  const handler = context.getHandler();
  let access = accessByHandler.get(handler);
  if (access === undefined) {
    access = reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [handler, context.getClass()]) ?? 'any';
    accessByHandler.set(handler, access);
  }
  return access;
}
