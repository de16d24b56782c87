export const USER_ROLES = ['owner', 'admin', 'member'] as const;
export type UserRole = (typeof USER_ROLES)[number];
export const USER_STATUSES = ['active', 'pending_claim', 'disabled'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];
/**
 * What an API key may do: `full` acts with all of its user's rights; `restricted` (every key moved
 * into an existing account by a claim) acts as a plain member whatever its user's role and flags.
 */
export const KEY_SCOPES = ['full', 'restricted'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

/**
 * Who is calling: the verified API key, its user and organization. Built by the ApiKeyGuard
 * from one lookup and put on the request; everything `/me` answers comes from here.
 */
export interface Principal {
  keyId: string;
  userId: string;
  email: string;
  organizationId: string;
  organizationDomain: string;
  /** The pool this key spends (differs from organizationId only for keys moved by a claim). */
  billingOrganizationId: string;
  /** The calling key's scope; `restricted` keys act as plain members (see authorization/access-policy). */
  scope: KeyScope;
  role: UserRole;
  isProvisioner: boolean;
  isOperator: boolean;
  apiOnly: boolean;
  status: UserStatus;
  externalEmail: string | null;
  /** The orchestrator's own id for this user, if it gave one. */
  externalId: string | null;
  provisionedBy: string | null;
  /** Pending provisions only: the key is refused from this instant on. */
  expiresAt: Date | null;
  createdAt: Date;
}
