import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet from 'helmet';

/**
 * helmet's headers on every response, built once: `X-Content-Type-Options: nosniff`,
 * `X-Frame-Options: DENY` and a CSP with `frame-ancestors 'none'` (nothing of this service is ever
 * framed), HSTS, `Referrer-Policy: no-referrer` and the rest of helmet's defaults.
 *
 * The CSP is helmet's default otherwise, which Swagger UI (/docs) needs as it is: its scripts and
 * styles are files of this origin, its inline styles are allowed by `style-src 'unsafe-inline'`, its
 * icons are `data:` images, and it fetches /docs-json from this origin. `upgrade-insecure-requests` is
 * left out so the UI also works when served over plain HTTP (local runs). The claim page sends its own,
 * stricter, nonce-based CSP, which replaces this one (headers a route sets win).
 *
 * Not @fastify/helmet: it calls helmet(options) — parsing every option and building the CSP text —
 * on each request (6.0 µs a request measured here, against 0.4 µs for the middleware built once),
 * a third of the CPU of an authenticated GET /api/v1/me.
 */
const applySecurityHeaders = helmet({
  contentSecurityPolicy: {
    directives: { 'frame-ancestors': ["'none'"], 'upgrade-insecure-requests': null },
  },
  frameguard: { action: 'deny' },
});

/**
 * Response fields that hold a secret shown once — an API key, a claim link, a webhook signing
 * secret — whatever their value (an idempotent replay answers them as null: no-store as well), and
 * anything shaped like such a secret in any field.
 */
const SECRET_BEARING = /"(?:api_key|claim_url|secret)":|\b(?:pv[kc]_[0-9A-Za-z]{32}|whsec_[0-9A-Za-z+/]{16})/;

/** True when a serialized response body carries a secret (see SECRET_BEARING). */
export function carriesSecret(payload: string): boolean {
  return SECRET_BEARING.test(payload);
}

/**
 * Registers the security headers (helmet, above) on every response, and `Cache-Control: no-store`
 * on every response whose body carries a secret — in one place, the hook that sees each serialized
 * body, so no route that answers a secret (create-user, bulk create, provisions, reissue, keys,
 * rotation, admin users, webhook secrets, and the replays of those) can forget it.
 */
export function registerSecurityHeaders(fastify: FastifyInstance): void {
  // onSend: the one hook that sees the body, and one hook a request for both.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (isJson(reply.getHeader('content-type'))) setJsonSecurityHeaders(reply);
    else setSecurityHeaders(request, reply);
    if (typeof payload === 'string' && carriesSecret(payload)) void reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}

/**
 * A JSON answer is never rendered by a browser, so it needs only what the contract asks of every
 * response: nosniff and never framed. helmet's dozen headers (a long CSP among them) on each JSON
 * answer made every `/me` response several hundred bytes longer (bench/README.md, "Design notes").
 */
function setJsonSecurityHeaders(reply: FastifyReply): void {
  reply.raw.setHeader('x-content-type-options', 'nosniff');
  reply.raw.setHeader('x-frame-options', 'DENY');
  reply.raw.setHeader('content-security-policy', JSON_CSP);
}

const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";

function isJson(contentType: unknown): boolean {
  return typeof contentType === 'string' && /^application\/(?:problem\+)?json\b/.test(contentType);
}

/**
 * Sets helmet's headers on one answer. For answers Fastify makes without running any hook — a
 * malformed URL, a path parameter too long — frameworkErrorAsProblem calls it itself.
 */
export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  applySecurityHeaders(request.raw, reply.raw, () => undefined);
}
