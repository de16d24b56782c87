import { canonicalJson, checkIdempotencyKey, requestFingerprint } from './request-fingerprint';

describe('canonicalJson', () => {
  it('sorts object keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it('gives one text for bodies that differ only in key order and whitespace', () => {
    expect(canonicalJson(JSON.parse('{ "units": 5, "description": "x" }'))).toBe(
      canonicalJson(JSON.parse('{"description":"x","units":5}')),
    );
  });

  it('drops undefined members like JSON.stringify, keeps null', () => {
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('escapes strings and keys as JSON does', () => {
    expect(canonicalJson({ 'k"ey': 'va"l\n' })).toBe('{"k\\"ey":"va\\"l\\n"}');
  });
});

describe('requestFingerprint', () => {
  const base = { method: 'POST', path: '/api/v1/billing/charges', callerId: 'u1', body: { units: 5 } };

  it('is a 32-byte SHA-256, stable for the same request', () => {
    const a = requestFingerprint(base);
    expect(a).toHaveLength(32);
    expect(requestFingerprint({ ...base, body: { units: 5 } }).equals(a)).toBe(true);
    expect(requestFingerprint({ ...base, method: 'post' }).equals(a)).toBe(true);
  });

  it.each([
    ['another body', { body: { units: 6 } }],
    ['an extra field', { body: { units: 5, description: 'x' } }],
    ['another path', { path: '/api/v1/admin/credits' }],
    ['another caller', { callerId: 'u2' }],
    ['another method', { method: 'PUT' }],
  ])('differs for %s', (_name, change) => {
    expect(requestFingerprint({ ...base, ...change }).equals(requestFingerprint(base))).toBe(false);
  });

  it('cannot be fooled by moving characters between parts', () => {
    const a = requestFingerprint({ method: 'POST', path: '/a', callerId: 'bc', body: null });
    const b = requestFingerprint({ method: 'POST', path: '/ab', callerId: 'c', body: null });
    expect(a.equals(b)).toBe(false);
  });
});

describe('checkIdempotencyKey', () => {
  it('accepts UUIDs and other printable keys up to 255 characters', () => {
    expect(checkIdempotencyKey('3f1c2a9e-8d4b-4c7a-9f0e-1b2c3d4e5f60')).toEqual({
      ok: true,
      key: '3f1c2a9e-8d4b-4c7a-9f0e-1b2c3d4e5f60',
    });
    expect(checkIdempotencyKey('order 42/charge #1')).toMatchObject({ ok: true });
    expect(checkIdempotencyKey('k'.repeat(255))).toMatchObject({ ok: true });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['blank', '   '],
    ['too long', 'k'.repeat(256)],
    ['non-ASCII', 'clé'],
    ['a control character', 'a\tb'],
    ['a leading space', ' abc'],
    ['repeated headers', ['a', 'b']],
  ])('refuses %s', (_name, value) => {
    expect(checkIdempotencyKey(value).ok).toBe(false);
  });
});
