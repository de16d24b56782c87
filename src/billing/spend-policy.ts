import { ActingTarget, canActOn, effectiveRights } from '../common/authorization/access-policy';
import type { Principal } from '../common/principal';

/** A user as spend-limit authorization reads it: the central policy's acting target. */
export type ActedOnUser = ActingTarget;

/**
 * Whether `principal` may set or remove the spend limit of `target`: a manager of the pool acting
 * on itself or, by the central policy's rank rules (common/authorization), on another user.
 */
export function maySetSpendLimit(principal: Principal, target: ActedOnUser): boolean {
  return effectiveRights(principal).manages && canActOn(principal, target) === 'allowed';
}

/** Whether `principal` may commit or release a reservation of `userId` on pool `organizationId`. */
export function mayEndReservation(
  principal: Principal,
  reservation: { organization_id: string; user_id: string | null },
): boolean {
  if (reservation.user_id === principal.userId) return true;
  return principal.organizationId === reservation.organization_id && effectiveRights(principal).manages;
}
