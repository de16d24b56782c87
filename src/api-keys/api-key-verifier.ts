import { Injectable, Optional } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import { ApiKeyCache } from './api-key-cache';
import { hashApiKey, isWellFormedApiKey } from './api-key-format';
import { ApiKeyUsageRecorder } from './api-key-usage';
import { ApiKeysRepository, KeyRecord } from './api-keys.repository';

/** Why a key was refused; kept apart from infrastructure failures, which throw. */
export type KeyRefusal = 'malformed' | 'not_found' | 'revoked' | 'user_disabled' | 'expired';
export type KeyVerification = { valid: true; principal: Principal } | { valid: false; reason: KeyRefusal };

export type { KeyRecord };

/**
 * Resolves an X-API-Key header to its principal: checksum first (a malformed key reaches neither
 * the cache nor the database), then the cache or one indexed lookup by hash, then `evaluate` — on
 * every request, cached or not, so expiry needs no invalidation.
 */
@Injectable()
export class ApiKeyVerifier {
  private readonly load = (keyHash: Buffer) => this.keys.findRecordByHash(keyHash);
  /** SHA-256 of a custom ADMIN_API_KEY (one without the pvk_ checksum), the one such key looked up. */
  private readonly customAdminKeyHash: Buffer | null;

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly cache: ApiKeyCache,
    private readonly usage: ApiKeyUsageRecorder,
    @Optional() config?: AppConfig,
  ) {
    const adminKey = config?.adminApiKey;
    this.customAdminKeyHash = adminKey && !isWellFormedApiKey(adminKey) ? hashApiKey(adminKey) : null;
  }

  async verify(key: string, now = new Date()): Promise<KeyVerification> {
    if (!isWellFormedApiKey(key) && !this.isCustomAdminKey(key)) return { valid: false, reason: 'malformed' };
    const record = await this.cache.resolve(hashApiKey(key), this.load);
    if (!record) return { valid: false, reason: 'not_found' };
    const result = evaluate(record, now);
    if (result.valid) this.usage.record(result.principal.keyId, now);
    return result;
  }

  /**
   * `verify` without the database: the answer when the cache has one, else null. The guard uses it
   * for callers already over their per-IP limit, so a flood of made-up keys costs no query.
   */
  verifyCached(key: string, now = new Date()): KeyVerification | null {
    if (!isWellFormedApiKey(key) && !this.isCustomAdminKey(key)) return { valid: false, reason: 'malformed' };
    const record = this.cache.peek(hashApiKey(key));
    if (record === undefined) return null;
    if (record === null) return { valid: false, reason: 'not_found' };
    const result = evaluate(record, now);
    if (result.valid) this.usage.record(result.principal.keyId, now);
    return result;
  }

  private isCustomAdminKey(key: string): boolean {
    return this.customAdminKeyHash !== null && timingSafeEqual(hashApiKey(key), this.customAdminKeyHash);
  }
}

/** Whether a looked-up key may be used at `now`; expiry is checked here, never left to the job. */
export function evaluate(record: KeyRecord, now: Date): KeyVerification {
  if (record.revoked) return { valid: false, reason: 'revoked' };
  if (record.principal.status === 'disabled') return { valid: false, reason: 'user_disabled' };
  const expiresAt = record.principal.expiresAt;
  if (expiresAt && expiresAt.getTime() <= now.getTime()) return { valid: false, reason: 'expired' };
  return { valid: true, principal: record.principal };
}
