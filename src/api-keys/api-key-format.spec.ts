import { BASE62 } from '../common/random';
import { API_KEY_LENGTH, displayPrefix, generateApiKey, hashApiKey, isWellFormedApiKey } from './api-key-format';

describe('API key format', () => {
  it('generates pvk_ + 32 random base62 + 6 base62 checksum characters', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^pvk_[0-9A-Za-z]{38}$/);
    expect(key).toHaveLength(API_KEY_LENGTH);
    expect(isWellFormedApiKey(key)).toBe(true);
  });

  it('generates distinct keys', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
  });

  it('rejects a key with any single character changed, by checksum alone', () => {
    const key = generateApiKey();
    for (let i = 4; i < key.length; i++) {
      const replacement = BASE62[(BASE62.indexOf(key[i]) + 1) % 62];
      const changed = key.slice(0, i) + replacement + key.slice(i + 1);
      expect(isWellFormedApiKey(changed)).toBe(false);
    }
  });

  it('rejects wrong prefix, length and alphabet', () => {
    const key = generateApiKey();
    expect(isWellFormedApiKey('pvc_' + key.slice(4))).toBe(false);
    expect(isWellFormedApiKey(key.slice(0, -1))).toBe(false);
    expect(isWellFormedApiKey(key + 'a')).toBe(false);
    expect(isWellFormedApiKey(key.slice(0, 10) + '-' + key.slice(11))).toBe(false);
    expect(isWellFormedApiKey('')).toBe(false);
  });

  it('hashes to 32 bytes of SHA-256 and shows only the first 12 characters', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toHaveLength(32);
    expect(hashApiKey(key).equals(hashApiKey(key))).toBe(true);
    expect(displayPrefix(key)).toBe(key.slice(0, 12));
  });
});
