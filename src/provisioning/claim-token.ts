import { createHash } from 'node:crypto';
import { randomBase62 } from '../common/random';

export const CLAIM_TOKEN_PREFIX = 'pvc_';
const RANDOM_LENGTH = 32;
export const CLAIM_TOKEN_LENGTH = CLAIM_TOKEN_PREFIX.length + RANDOM_LENGTH;
const SHAPE = /^pvc_[0-9A-Za-z]{32}$/;

/** `pvc_` + 32 random base62 characters (≈190 bits). Shown once, in the claim URL. */
export function generateClaimToken(): string {
  return CLAIM_TOKEN_PREFIX + randomBase62(RANDOM_LENGTH);
}

/** True when the text has a claim token's shape; anything else is unknown (404) without a lookup. */
export function isWellFormedClaimToken(text: string): boolean {
  return text.length === CLAIM_TOKEN_LENGTH && SHAPE.test(text);
}

/** Tokens are high-entropy, so SHA-256 is the right hash; only the hash is stored and looked up. */
export function hashClaimToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
