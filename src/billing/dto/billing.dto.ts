import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsISO8601, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, NotEquals } from 'class-validator';
import { PageOf, PageQueryDto } from '../../common/pagination';
import { LEDGER_REASONS } from '../entities/ledger-entry.entity';
import type { LedgerReason } from '../entities/ledger-entry.entity';
import { OptionalField } from '../../common/validation';
import { RESERVATION_STATUSES } from '../entities/reservation.entity';
import type { ReservationStatus } from '../entities/reservation.entity';
import { SPEND_PERIODS } from '../../common/spend-limit.dto';
import type { SpendPeriod } from '../../common/spend-limit.dto';

/** Largest charge in one request. */
export const MAX_CHARGE_UNITS = 1_000_000;
/** Largest grant or correction (either sign) in one request. */
export const MAX_CREDIT_AMOUNT = 1_000_000_000;
/** Its negative, as a constant: the swagger CLI plugin silently dropped `amount` for `@Min(-MAX_CREDIT_AMOUNT)`. */
export const MIN_CREDIT_AMOUNT = -1_000_000_000;
export const MAX_DESCRIPTION_LENGTH = 500;
/** PostgreSQL text cannot hold U+0000: refuse it as bad input instead of failing at the database. */

export class CreateChargeDto {
  /** Credits to spend: a whole number from 1 to 1,000,000. */
  @IsInt({ message: 'units must be an integer' })
  @Min(1, { message: 'units must be at least 1' })
  @Max(MAX_CHARGE_UNITS, { message: `units must be at most ${MAX_CHARGE_UNITS}` })
  units: number;

  /** What the credits were spent on (up to 500 characters). */
  @OptionalField()
  @IsString()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  description?: string;
}

export class CreateCreditDto {
  /** The organization's email domain, e.g. `orchestrator.com`. */
  @IsString()
  @MaxLength(253)
  @Matches(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, {
    message: 'domain must be a domain name such as orchestrator.com',
  })
  domain: string;

  /**
   * Credits to add (a grant) or, negative, to remove (a correction, refused with 422 if it would take
   * the pool below 0). A non-zero whole number within ±1,000,000,000.
   */
  @IsInt({ message: 'amount must be an integer' })
  @NotEquals(0, { message: 'amount must not be 0' })
  @Min(MIN_CREDIT_AMOUNT, { message: `amount must be at least ${MIN_CREDIT_AMOUNT}` })
  @Max(MAX_CREDIT_AMOUNT, { message: `amount must be at most ${MAX_CREDIT_AMOUNT}` })
  amount: number;

  /** Why: stored as the ledger entry's description (up to 500 characters). */
  @OptionalField()
  @IsString()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  reason?: string;
}

export class LedgerEntryDto {
  id: string;
  /** The organization whose pool changed. */
  organization_id: string;
  /**
   * Who spent (charge) or who granted (grant, correction); kept after that user is deleted (a
   * cancelled, expired or transferred placeholder). Null only for entries written before it was kept.
   */
  user_id: string | null;
  /** That user's email at the time of the entry (kept after the user is deleted). */
  user_email: string | null;
  /** The API key that made the change; null if that key was deleted. */
  api_key_id: string | null;
  /** Credits added (positive) or removed (negative). */
  delta: number;
  @ApiProperty({ enum: LEDGER_REASONS })
  reason: LedgerReason;
  description: string | null;
  /** The pool's balance right after this entry. */
  balance_after: number;
  /** The Idempotency-Key of the request that wrote the entry. */
  idempotency_key: string | null;
  created_at: string;
}

export class LedgerEntryPageDto extends PageOf(LedgerEntryDto) {}

export class LedgerQueryDto extends PageQueryDto {
  /** Only entries of this user (who spent or who granted). */
  @IsOptional()
  @IsUUID('all', { message: 'user_id must be a UUID' })
  user_id?: string;
}

export class BalanceDto {
  /** The organization whose pool the calling key spends. */
  organization_id: string;
  domain: string;
  /** Credits in the pool (= the sum of its ledger). */
  balance: number;
  /** Credits held by live reservations. */
  held: number;
  /** `balance − held`: what charges and new holds may use. */
  available: number;
}

export class UsageQueryDto extends PageQueryDto {
  /** Start of the window, inclusive (ISO 8601, e.g. `2026-11-01T00:00:00Z`). Default: the beginning. */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 date-time' })
  since?: string;

  /** End of the window, exclusive (ISO 8601). Default: now. */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'until must be an ISO 8601 date-time' })
  until?: string;
}

export class UserUsageDto {
  /** The user who spent (kept after the user is deleted); null for charges whose spender was not kept. */
  user_id: string | null;
  /** That user's email at the time of its charges (kept after the user is deleted). */
  email: string | null;
  /** Credits spent in the window. */
  units: number;
  /** Number of charges in the window. */
  charges: number;
}

export class UsageDto {
  organization_id: string;
  /** The window's start as applied (null: from the beginning). */
  since: string | null;
  /** The window's end as applied (null: up to now). */
  until: string | null;
  /** Credits spent by everyone in the window (all pages). */
  total_units: number;
  /** One row per user who spent, most units first, then by user id. */
  data: UserUsageDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` to get the next page; null on the last page.' })
  next_cursor: string | null;
}

export class OrganizationDto {
  id: string;
  domain: string;
  /** Credits in the organization's pool. */
  balance: number;
  created_at: string;
}

export class OrganizationPageDto extends PageOf(OrganizationDto) {}

export { MAX_SPEND_LIMIT_UNITS, SpendLimitInputDto } from '../../common/spend-limit.dto';

export class SpendLimitDto {
  user_id: string;
  /** Credits the user may spend of the pool per period. */
  units: number;
  @ApiProperty({ enum: SPEND_PERIODS })
  period: SpendPeriod;
  /** Credits charged or held in the current window. */
  spent: number;
  /** When the current window ends (UTC); null for `total`. */
  resets_at: string | null;
}

export class SpendLimitPageDto extends PageOf(SpendLimitDto) {}

export class UserIdPathDto {
  @IsUUID('all', { message: 'user_id must be a UUID' })
  user_id: string;
}

export class ReservationIdPathDto {
  @IsUUID('all', { message: 'id must be a UUID' })
  id: string;
}

export const MIN_RESERVATION_TTL_SECONDS = 10;
export const MAX_RESERVATION_TTL_SECONDS = 3600;
export const DEFAULT_RESERVATION_TTL_SECONDS = 300;

export class CreateReservationDto {
  /** Credits to hold: a whole number from 1 to 1,000,000. */
  @IsInt({ message: 'units must be an integer' })
  @Min(1, { message: 'units must be at least 1' })
  @Max(MAX_CHARGE_UNITS, { message: `units must be at most ${MAX_CHARGE_UNITS}` })
  units: number;

  /** How long the hold lives unless committed or released: 10–3600 seconds (default 300). */
  @OptionalField()
  @IsInt({ message: 'ttl_seconds must be an integer' })
  @Min(MIN_RESERVATION_TTL_SECONDS, { message: `ttl_seconds must be at least ${MIN_RESERVATION_TTL_SECONDS}` })
  @Max(MAX_RESERVATION_TTL_SECONDS, { message: `ttl_seconds must be at most ${MAX_RESERVATION_TTL_SECONDS}` })
  ttl_seconds?: number;

  /** What the credits are for (up to 500 characters); the commit's ledger entry carries it. */
  @OptionalField()
  @IsString()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  description?: string;
}

export class CommitReservationDto {
  /** Credits to charge: 0 up to the units held; the rest is released. */
  @IsInt({ message: 'units must be an integer' })
  @Min(0, { message: 'units must be at least 0' })
  @Max(MAX_CHARGE_UNITS, { message: `units must be at most ${MAX_CHARGE_UNITS}` })
  units: number;
}

export class ReservationDto {
  id: string;
  /** Credits held (or, once committed, that were held). */
  units: number;
  @ApiProperty({ enum: RESERVATION_STATUSES })
  status: ReservationStatus;
  /** Credits charged by the commit; null unless committed. */
  committed_units: number | null;
  expires_at: string;
  /** The reserving user; null once deleted. */
  user_id: string | null;
  /** The reserving key; null once deleted. */
  api_key_id: string | null;
  /** The pool (organization) the credits are held on. */
  organization_id: string;
  description: string | null;
  created_at: string;
}

export class CommittedReservationDto {
  reservation: ReservationDto;
  /** The commit's ledger entry (reason `charge`); null for a commit of 0 units. */
  @ApiProperty({ type: LedgerEntryDto, nullable: true })
  entry: LedgerEntryDto | null;
}
