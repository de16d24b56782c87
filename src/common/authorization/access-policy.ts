import type { KeyScope, Principal, UserRole, UserStatus } from '../principal';

/**
 * The authorization rules of the contract ("Authorization" in DESIGN.md), in one place. Pure
 * functions of what the caller's principal and the target rows already say: no query, no I/O, so
 * guards and services ask them freely and they add nothing to the key lookup of `/me`.
 *
 * - Rank: operator > owner > admin > member. The provisioner flag adds a right (provisioning and
 *   acting on the users its organization provisioned), not a rank.
 * - What a principal may do follows from its *effective* rights: a `restricted` key (moved by a
 *   claim) and the key of a `pending_claim` user act as a plain member whatever the user's role and
 *   flags.
 * - Acting on another user (deactivate it, create, rotate or revoke its keys, set its spend limit)
 *   needs a higher rank in the same organization, or the provisioner's right over the users its
 *   organization provisioned. Nobody but an operator acts on an owner, a provisioner or an operator.
 *   Same organization, not allowed: `forbidden` (403); another organization: `not_found` (404).
 *   The operator (with a full key) outranks everyone in every organization.
 */

export const RANKS = ['member', 'admin', 'owner', 'operator'] as const;
export type Rank = (typeof RANKS)[number];

const RANK_ORDER: Record<Rank, number> = { member: 0, admin: 1, owner: 2, operator: 3 };

/** What a caller may do, after its key scope and its user's status are taken into account. */
export interface EffectiveRights {
  rank: Rank;
  /** May create users and provisions in its own organization. */
  provisions: boolean;
  /** Owner, admin or provisioner (or operator) of its organization: reads its users, ledger, usage. */
  manages: boolean;
  /** May use the operator routes (/api/v1/admin/users, credits, organizations). */
  operates: boolean;
  /** May create or rotate keys (a restricted key may not, not even for its own user). */
  createsKeys: boolean;
  /** A restricted key sees and revokes only itself among keys. */
  onlyItselfAmongKeys: boolean;
}

/** The parts of a principal the policy reads. */
export type Actor = Pick<
  Principal,
  'keyId' | 'userId' | 'organizationId' | 'role' | 'isProvisioner' | 'isOperator' | 'status' | 'scope'
>;

/** A user acted upon, as its row says. */
export interface ActingTarget {
  id: string;
  organizationId: string;
  role: UserRole;
  isProvisioner: boolean;
  isOperator: boolean;
  status: UserStatus;
  provisionedBy: string | null;
}

/** A key acted upon, with its owner. */
export interface KeyTarget {
  id: string;
  scope: KeyScope;
  billingOrganizationId: string;
  owner: ActingTarget;
}

export type Decision = 'allowed' | 'forbidden' | 'not_found';
export type KeyAction = 'list' | 'revoke' | 'rotate';

const MEMBER_RIGHTS: EffectiveRights = Object.freeze({
  rank: 'member',
  provisions: false,
  manages: false,
  operates: false,
  createsKeys: true,
  onlyItselfAmongKeys: false,
});

const RESTRICTED_RIGHTS: EffectiveRights = Object.freeze({
  ...MEMBER_RIGHTS,
  createsKeys: false,
  onlyItselfAmongKeys: true,
});

/** The rank a user's row gives, before any key scope: a pending placeholder is a member until claimed. */
export function rankOf(user: { role: UserRole; isOperator: boolean; status: UserStatus }): Rank {
  if (user.status === 'pending_claim') return 'member';
  if (user.isOperator) return 'operator';
  return user.role;
}

export function effectiveRights(
  actor: Pick<Actor, 'role' | 'isProvisioner' | 'isOperator' | 'status' | 'scope'>,
): EffectiveRights {
  if (actor.scope === 'restricted') return RESTRICTED_RIGHTS;
  if (actor.status === 'pending_claim') return MEMBER_RIGHTS;
  const rank = rankOf(actor);
  const provisions = actor.isProvisioner;
  return {
    rank,
    provisions,
    manages: RANK_ORDER[rank] >= RANK_ORDER.admin || provisions,
    operates: rank === 'operator',
    createsKeys: true,
    onlyItselfAmongKeys: false,
  };
}

/**
 * Which organization's users a caller may look up on the organization routes (`/users/{id}`,
 * `/api-keys` with `user_id`): its own, or — for an operator — any (null). What it may then do with
 * them is `canActOn`'s answer.
 */
export function userLookupOrganization(
  actor: Pick<Actor, 'organizationId' | 'role' | 'isProvisioner' | 'isOperator' | 'status' | 'scope'>,
): string | null {
  return effectiveRights(actor).operates ? null : actor.organizationId;
}

/** Whether `actor` may act on the user `target` (deactivate, mint/rotate/revoke its keys, set its limit). */
export function canActOn(actor: Actor, target: ActingTarget): Decision {
  const rights = effectiveRights(actor);
  // The operator outranks everyone, in every organization.
  if (rights.operates) return 'allowed';
  if (target.organizationId !== actor.organizationId) return 'not_found';
  if (target.id === actor.userId) return 'allowed';
  // Owners, provisioners and operators are acted upon by operators only.
  if (target.isOperator || target.isProvisioner || target.role === 'owner') return 'forbidden';
  if (RANK_ORDER[rights.rank] > RANK_ORDER[rankOf(target)]) return 'allowed';
  if (rights.provisions && isProvisionedUser(target)) return 'allowed';
  return 'forbidden';
}

/**
 * A user its organization provisioned and the provisioner right reaches: `provisioned_by` set, no
 * flag, and the `member` or `admin` role a provision or create-user gives.
 */
export function isProvisionedUser(target: ActingTarget): boolean {
  return (
    target.provisionedBy !== null &&
    !target.isProvisioner &&
    !target.isOperator &&
    (target.role === 'member' || target.role === 'admin')
  );
}

/** Minting a key for a user is acting as that user; a restricted key mints none, not even for itself. */
export function canCreateKeyFor(actor: Actor, target: ActingTarget): Decision {
  const decision = canActOn(actor, target);
  if (decision === 'allowed' && !effectiveRights(actor).createsKeys) return 'forbidden';
  return decision;
}

/**
 * Whether `actor` may list, revoke or rotate `key`:
 * - a restricted key lists and revokes itself only, and rotates nothing;
 * - otherwise acting on the key's owner decides (its own keys always);
 * - and the managers of the organization that pays for a key held by a user of another
 *   organization (a key moved by a claim) may list and revoke it, not rotate it.
 */
export function canManageKey(actor: Actor, key: KeyTarget, action: KeyAction): Decision {
  const rights = effectiveRights(actor);
  if (rights.onlyItselfAmongKeys) {
    if (key.id === actor.keyId) return action === 'rotate' ? 'forbidden' : 'allowed';
    return key.owner.organizationId === actor.organizationId ? 'forbidden' : 'not_found';
  }
  const decision = action === 'rotate' ? canCreateKeyFor(actor, key.owner) : canActOn(actor, key.owner);
  if (decision !== 'not_found' || action === 'rotate') return decision;
  return rights.manages && key.billingOrganizationId === actor.organizationId ? 'allowed' : 'not_found';
}

/** Which keys `GET /api/v1/api-keys` shows a caller, or why it may not list them. */
export type KeyListing =
  | { decision: 'allowed'; userId: string; onlyKeyId: string | null; paidByOrganizationId: string | null }
  | { decision: 'forbidden' | 'not_found' };

/**
 * The keys a caller lists. Without `user_id` (or with its own id): its own keys — for a restricted
 * key only that key — and, for the managers of its organization, the keys their organization pays
 * for that users of other organizations hold. With another user's id: that user's keys, when the
 * caller may act on it.
 */
export function keyListing(actor: Actor, target: ActingTarget | null): KeyListing {
  const rights = effectiveRights(actor);
  if (target === null || target.id === actor.userId) {
    return {
      decision: 'allowed',
      userId: actor.userId,
      onlyKeyId: rights.onlyItselfAmongKeys ? actor.keyId : null,
      paidByOrganizationId: rights.manages && target === null ? actor.organizationId : null,
    };
  }
  const decision = canActOn(actor, target);
  return decision === 'allowed' ? { decision, userId: target.id, onlyKeyId: null, paidByOrganizationId: null } : { decision };
}

/**
 * Whether a claim sent with this key may move a provision's keys into the key's account. A
 * restricted key may not: its holder (possibly the provisioner that saw it) must not steer more
 * keys into an account it does not own.
 */
export function mayReceiveClaim(actor: Pick<Actor, 'scope'>): boolean {
  return actor.scope === 'full';
}
