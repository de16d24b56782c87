import type { EntityManager } from 'typeorm';
import type { Principal } from './principal';
import type { SpendLimitInputDto, SpendPeriod } from './spend-limit.dto';

/** A spend limit as the API shows it. */
export interface SpendLimitView {
  user_id: string;
  units: number;
  period: SpendPeriod;
  spent: number;
  resets_at: string | null;
}

/**
 * Spend limits as the modules below Billing use them (Provisioning sets a new user's limit in its
 * transaction; /me reads what is spent). Billing provides it globally (SpendLimitsModule), so
 * nothing below Billing imports Billing.
 */
export abstract class SpendLimits {
  /** Sets a new user's limit on `organizationId`'s pool, inside the transaction that creates the user. */
  abstract setLimitOfNewUser(
    manager: EntityManager,
    organizationId: string,
    userId: string,
    dto: SpendLimitInputDto,
  ): Promise<SpendLimitView>;

  /** What the caller spent of its limit on the pool its key spends, in the current window; null without one. */
  abstract currentWindow(principal: Principal): Promise<{ spent: number; resets_at: string | null } | null>;
}
