import { carriesSecret } from './security-headers';

describe('carriesSecret', () => {
  it.each([
    ['a created key', '{"id":"1","api_key":"pvk_abc"}'],
    ['a replay with the secret withheld', '{"id":"1","api_key":null,"secrets_withheld":true}'],
    ['a provision', '{"claim_url":"http://x/claim/pvc_1"}'],
    ['a webhook secret', '{"secret":"whsec_abc"}'],
    ['a key in another field', `{"results":[{"key":"pvk_${'a'.repeat(38)}"}]}`],
  ])('is true for %s', (_what, body) => {
    expect(carriesSecret(body)).toBe(true);
  });

  it.each([
    ['/me', '{"id":"1","email":"a@b.c","organization":{"domain":"b.c"}}'],
    ['a key list', '{"data":[{"id":"1","prefix":"pvk_abcdefgh"}],"next_cursor":null}'],
    ['a field named like one, escaped inside a string', '{"description":"\\"api_key\\":\\"x\\""}'],
  ])('is false for %s', (_what, body) => {
    expect(carriesSecret(body)).toBe(false);
  });
});
