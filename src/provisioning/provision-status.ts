export const PROVISION_STATUSES = ['pending', 'claimed', 'expired', 'cancelled'] as const;
export type ProvisionStatus = (typeof PROVISION_STATUSES)[number];

export const PROVISION_ROLES = ['member', 'admin'] as const;
export type ProvisionRole = (typeof PROVISION_ROLES)[number];

/**
 * The status a reader sees. A provision still `pending` in the table but at or past `expires_at`
 * is reported `expired` at once, before the expiry job has rewritten the row (its key is already
 * refused by the key verifier at the same instant).
 */
export function effectiveProvisionStatus(stored: ProvisionStatus, expiresAt: Date, now: Date): ProvisionStatus {
  if (stored === 'pending' && expiresAt.getTime() <= now.getTime()) return 'expired';
  return stored;
}

/**
 * The placeholder address of a provision created without an email: `provisioned-<short id>@<domain>`,
 * the short id being the first 12 hex digits of the provision id (48 random bits of a v4 UUID).
 */
export function placeholderEmail(provisionId: string, domain: string): string {
  return `provisioned-${provisionId.replace(/-/g, '').slice(0, 12).toLowerCase()}@${domain.toLowerCase()}`;
}
