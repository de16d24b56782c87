import { Injectable, Optional } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { Principal, UserRole, UserStatus } from '../common/principal';
import { AppConfig } from '../config/app-config';
import { PreparedStatements, Statement } from '../database/prepared-statements';
import { ApiKeyCache } from './api-key-cache';
import { hashApiKey, isWellFormedApiKey } from './api-key-format';
import { ApiKeyUsageRecorder } from './api-key-usage';

/** Why a key was refused; kept apart from infrastructure failures, which throw. */
export type KeyRefusal = 'malformed' | 'not_found' | 'revoked' | 'user_disabled' | 'expired';
export type KeyVerification = { valid: true; principal: Principal } | { valid: false; reason: KeyRefusal };

/** What one lookup by hash returns; everything a request needs to know about its caller. */
export interface KeyRecord {
  principal: Principal;
  revoked: boolean;
}

interface KeyRow {
  key_id: string;
  billing_organization_id: string;
  revoked_at: Date | null;
  user_id: string;
  email: string;
  organization_id: string;
  domain: string;
  role: UserRole;
  is_provisioner: boolean;
  is_operator: boolean;
  api_only: boolean;
  status: UserStatus;
  external_email: string | null;
  provisioned_by: string | null;
  expires_at: Date | null;
  created_at: Date;
}

const LOOKUP: Statement = {
  name: 'provisio_key_lookup',
  text: `
  SELECT k.id AS key_id, k.billing_organization_id, k.revoked_at,
         u.id AS user_id, u.email, u.organization_id, o.domain, u.role, u.is_provisioner, u.is_operator,
         u.api_only, u.status, u.external_email, u.provisioned_by, u.expires_at, u.created_at
    FROM api_keys k
    JOIN users u ON u.id = k.user_id
    JOIN organizations o ON o.id = u.organization_id
   WHERE k.key_hash = $1`,
};

/**
 * Resolves an X-API-Key header to its principal: checksum first (a malformed key reaches neither
 * the cache nor the database), then the cache or one indexed lookup by hash, then `evaluate` — on
 * every request, cached or not, so expiry needs no invalidation.
 */
@Injectable()
export class ApiKeyVerifier {
  private readonly load = (keyHash: Buffer) => this.lookup(keyHash);
  /** SHA-256 of a custom ADMIN_API_KEY (one without the pvk_ checksum), the one such key looked up. */
  private readonly customAdminKeyHash: Buffer | null;

  constructor(
    private readonly statements: PreparedStatements,
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

  async lookup(keyHash: Buffer): Promise<KeyRecord | null> {
    const rows = await this.statements.query<KeyRow>(LOOKUP, [keyHash]);
    const row = rows[0];
    if (!row) return null;
    return {
      revoked: row.revoked_at !== null,
      principal: {
        keyId: row.key_id,
        userId: row.user_id,
        email: row.email,
        organizationId: row.organization_id,
        organizationDomain: row.domain,
        billingOrganizationId: row.billing_organization_id,
        role: row.role,
        isProvisioner: row.is_provisioner,
        isOperator: row.is_operator,
        apiOnly: row.api_only,
        status: row.status,
        externalEmail: row.external_email,
        provisionedBy: row.provisioned_by,
        expiresAt: row.expires_at,
        createdAt: row.created_at,
      },
    };
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
