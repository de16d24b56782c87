import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsInt, Max, Min } from 'class-validator';

export const SPEND_PERIODS = ['day', 'month', 'total'] as const;
export type SpendPeriod = (typeof SPEND_PERIODS)[number];

/** Largest spend limit: the largest balance a pool can have. */
export const MAX_SPEND_LIMIT_UNITS = 2_147_483_647;

/**
 * A spend limit as set: `PUT /billing/spend-limits/{user_id}`, or `spend_limit` in a create body
 * (create-user, bulk, provisions). In common/ so that Provisioning, below Billing, can take it.
 */
export class SpendLimitInputDto {
  /** Credits the user may spend of the pool per period: a whole number from 1. */
  @IsInt({ message: 'units must be an integer' })
  @Min(1, { message: 'units must be at least 1' })
  @Max(MAX_SPEND_LIMIT_UNITS, { message: `units must be at most ${MAX_SPEND_LIMIT_UNITS}` })
  units: number;

  /** The window the limit counts in: a UTC calendar `day` or `month`, or `total` (never resets). */
  @ApiProperty({ enum: SPEND_PERIODS })
  @IsIn(SPEND_PERIODS, { message: `period must be one of ${SPEND_PERIODS.join(', ')}` })
  period: SpendPeriod;
}
