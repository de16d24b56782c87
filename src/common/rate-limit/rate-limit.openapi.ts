import type { OpenAPIObject } from '@nestjs/swagger';

/** Paths that are not rate limited (see @NoRateLimit()). */
const UNLIMITED = /^\/(health|metrics)(\/|$)/;

const integerHeader = (description: string) => ({ description, schema: { type: 'integer' } });

/**
 * Documents the 429 of every rate-limited operation: a ProblemDto with Retry-After and the
 * RateLimit-* headers (which every answer of those operations carries).
 */
export function documentRateLimits(document: OpenAPIObject): void {
  const problem = { schema: { $ref: '#/components/schemas/ProblemDto' } };
  for (const [path, pathItem] of Object.entries(document.paths)) {
    if (UNLIMITED.test(path)) continue;
    for (const operation of Object.values(pathItem) as ({ responses?: Record<string, unknown> } | undefined)[]) {
      if (!operation?.responses || operation.responses['429']) continue;
      operation.responses['429'] = {
        description:
          'Over the rate limit: per API key, or per client IP for requests without a valid key (`type` ending `/rate-limited`).',
        headers: {
          'Retry-After': integerHeader('Seconds until the window resets and requests are accepted again.'),
          'RateLimit-Limit': integerHeader('Requests allowed in the window (one minute).'),
          'RateLimit-Remaining': integerHeader('Requests left in the window.'),
          'RateLimit-Reset': integerHeader('Seconds until the window resets.'),
        },
        content: { 'application/problem+json': problem, 'application/json': problem },
      };
    }
  }
}
