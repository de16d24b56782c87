import { createHash } from 'node:crypto';

/** Longest accepted Idempotency-Key. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
// Printable ASCII, no leading or trailing space (a UUID, a ULID, "order-42/charge-1", …).
const KEY_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

export type KeyCheck = { ok: true; key: string } | { ok: false; reason: string };

/** Validates an `Idempotency-Key` header value (undefined when the header is missing). */
export function checkIdempotencyKey(value: string | string[] | undefined): KeyCheck {
  if (Array.isArray(value)) return { ok: false, reason: 'send exactly one Idempotency-Key header' };
  if (value === undefined || value.trim() === '') {
    return { ok: false, reason: 'the Idempotency-Key header is required on this route' };
  }
  if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    return { ok: false, reason: `the Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` };
  }
  if (!KEY_PATTERN.test(value)) {
    return { ok: false, reason: 'the Idempotency-Key must be printable ASCII without leading or trailing spaces' };
  }
  return { ok: true, key: value };
}

/**
 * JSON with object keys sorted at every level, so two bodies that differ only in key order (or
 * whitespace) have one text. `undefined` members are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) {
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  }
  const entries = Object.keys(value as Record<string, unknown>)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}

/**
 * What makes two requests "the same request" for one idempotency key: the method, the path
 * (without the query string), the calling user and the canonical body. SHA-256 of their
 * length-prefixed concatenation, so no two different tuples can produce the same input.
 */
export function requestFingerprint(parts: { method: string; path: string; callerId: string; body: unknown }): Buffer {
  const hash = createHash('sha256');
  for (const part of [parts.method.toUpperCase(), parts.path, parts.callerId, canonicalJson(parts.body ?? null)]) {
    hash.update(`${Buffer.byteLength(part, 'utf8')}:`).update(part, 'utf8');
  }
  return hash.digest();
}
