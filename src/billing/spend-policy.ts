import type { Principal } from '../common/principal';
import { canManageOrganization } from '../common/principal';

/** The fields of a user that decide who may act on it. */
export interface ActedOnUser {
  id: string;
  role: 'owner' | 'admin' | 'member';
  isProvisioner: boolean;
  isOperator: boolean;
  provisionedBy: string | null;
}

/**
 * Whether `principal` (already known to be of the user's organization) may set or remove the spend
 * limit of `target` — the one place Billing decides it, to be replaced by the central policy of
 * issue 10 when it lands. A manager of the pool (owner, admin, provisioner) acts on itself and by
 * rank: an owner on admins and members, an admin on members, a provisioner on the flagless
 * member/admin users its organization provisioned; nobody but an operator on an owner, a
 * provisioner or an operator.
 */
export function maySetSpendLimit(principal: Principal, target: ActedOnUser): boolean {
  if (principal.isOperator) return true;
  if (!canManageOrganization(principal)) return false;
  if (target.id === principal.userId) return true;
  if (target.isOperator || target.isProvisioner || target.role === 'owner') return false;
  if (principal.role === 'owner') return true;
  if (principal.role === 'admin' && target.role === 'member') return true;
  return principal.isProvisioner && target.provisionedBy !== null;
}

/** Whether `principal` may commit or release a reservation of `userId` on pool `organizationId`. */
export function mayEndReservation(
  principal: Principal,
  reservation: { organization_id: string; user_id: string | null },
): boolean {
  if (reservation.user_id === principal.userId) return true;
  return principal.organizationId === reservation.organization_id && canManageOrganization(principal);
}
