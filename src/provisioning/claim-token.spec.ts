import { CLAIM_TOKEN_LENGTH, generateClaimToken, hashClaimToken, isWellFormedClaimToken } from './claim-token';

describe('claim token', () => {
  it('is pvc_ + 32 base62 characters', () => {
    const token = generateClaimToken();
    expect(token).toMatch(/^pvc_[0-9A-Za-z]{32}$/);
    expect(token).toHaveLength(CLAIM_TOKEN_LENGTH);
    expect(isWellFormedClaimToken(token)).toBe(true);
  });

  it('is distinct on every call', () => {
    expect(new Set(Array.from({ length: 1000 }, generateClaimToken)).size).toBe(1000);
  });

  it.each([
    ['an API key prefix', () => 'pvk_' + generateClaimToken().slice(4)],
    ['one character short', () => generateClaimToken().slice(0, -1)],
    ['one character long', () => generateClaimToken() + 'a'],
    ['a non-base62 character', () => generateClaimToken().slice(0, 10) + '-' + generateClaimToken().slice(11)],
    ['an empty string', () => ''],
    ['a path traversal', () => '../../etc/passwd'],
  ])('refuses %s', (_name, make) => {
    expect(isWellFormedClaimToken(make())).toBe(false);
  });

  it('hashes to the 32 bytes of SHA-256, the same for the same token', () => {
    const token = generateClaimToken();
    expect(hashClaimToken(token)).toHaveLength(32);
    expect(hashClaimToken(token).equals(hashClaimToken(token))).toBe(true);
    expect(hashClaimToken(token).equals(hashClaimToken(generateClaimToken()))).toBe(false);
  });
});
