import { hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { randomBase62, toBase62 } from '../common/random';

export const API_KEY_PREFIX = 'pvk_';
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
/** How many leading characters are kept, in clear, to tell keys apart. */
export const DISPLAY_PREFIX_LENGTH = 12;

const SHAPE = /^pvk_[0-9A-Za-z]{38}$/;

function checksum(random: string): string {
  return toBase62(crc32(API_KEY_PREFIX + random), CHECKSUM_LENGTH);
}

/** `pvk_` + 32 random base62 + 6 base62 of the CRC32 of what precedes them. */
export function generateApiKey(): string {
  const random = randomBase62(RANDOM_LENGTH);
  return API_KEY_PREFIX + random + checksum(random);
}

/**
 * True when the text has the key's shape and its checksum matches: a typo or a random string is
 * refused here, before any hashing or database lookup.
 */
export function isWellFormedApiKey(text: string): boolean {
  if (text.length !== API_KEY_LENGTH || !SHAPE.test(text)) return false;
  const random = text.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + RANDOM_LENGTH);
  return checksum(random) === text.slice(API_KEY_PREFIX.length + RANDOM_LENGTH);
}

/** Keys are high-entropy, so a plain SHA-256 is the right hash (a slow KDF would add nothing). */
export function hashApiKey(key: string): Buffer {
  // One-shot crypto.hash: no Hash object per request.
  return hash('sha256', key, 'buffer');
}

/**
 * The characters kept in clear to tell keys apart: the first 12 of a Provisio key (`pvk_` + 8 of
 * its 38 random ones). A custom ADMIN_API_KEY keeps at most a quarter of itself, so a short one
 * is never stored (nearly) whole.
 */
export function displayPrefix(key: string): string {
  if (isWellFormedApiKey(key)) return key.slice(0, DISPLAY_PREFIX_LENGTH);
  return key.slice(0, Math.min(DISPLAY_PREFIX_LENGTH, Math.floor(key.length / 4)));
}
