import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { ExternalIdField } from '../../users/dto/user.dto';
import { PageOf, PageQueryDto } from '../../common/pagination';
import { PROVISION_ROLES, PROVISION_STATUSES } from '../provision-status';
import type { ProvisionRole, ProvisionStatus } from '../provision-status';
import { OptionalField } from '../../common/validation';

/** The bounds of a provision's `ttl_seconds`: one hour to 30 days. */
export const MIN_PROVISION_TTL_SECONDS = 3600;
export const MAX_PROVISION_TTL_SECONDS = 2_592_000;
const TTL_MESSAGE = `ttl_seconds must be an integer between ${MIN_PROVISION_TTL_SECONDS} and ${MAX_PROVISION_TTL_SECONDS}`;

function TtlSecondsField(description: string): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: MIN_PROVISION_TTL_SECONDS, maximum: MAX_PROVISION_TTL_SECONDS, description }),
    IsInt({ message: TTL_MESSAGE }),
    Min(MIN_PROVISION_TTL_SECONDS, { message: TTL_MESSAGE }),
    Max(MAX_PROVISION_TTL_SECONDS, { message: TTL_MESSAGE }),
  );
}

export class CreateProvisionDto {
  /** The role of the user in your organization. */
  @ApiProperty({ enum: PROVISION_ROLES, default: 'member', required: false })
  @OptionalField()
  @IsIn(PROVISION_ROLES, { message: 'role must be one of: member, admin' })
  role?: ProvisionRole;

  /** Whether the claimed account skips onboarding. */
  @ApiProperty({ default: true, required: false })
  @OptionalField()
  @IsBoolean()
  skip_onboarding?: boolean;

  /**
   * The end-user's address, if known: the user is created as `<local part>@<your domain>` (as
   * create-user does). Without it the user gets `provisioned-<short id>@<your domain>`.
   */
  @OptionalField()
  @IsString()
  @MaxLength(320)
  email?: string;

  @OptionalField()
  @ExternalIdField(
    "Your own id for this end-user (1–255 printable characters), unique among your organization's users: " +
      'a second create with the same id is 409 naming `existing_user_id`.',
  )
  external_id?: string;

  @OptionalField()
  @TtlSecondsField('How long the claim link stays usable, in seconds (3600–2592000; default PROVISION_TTL_SECONDS, 7 days).')
  ttl_seconds?: number;
}

export class ReissueProvisionDto {
  @OptionalField()
  @TtlSecondsField(
    'When given, the provision then expires this many seconds from now (3600–2592000); else `expires_at` is unchanged.',
  )
  ttl_seconds?: number;
}

const EXPIRES_AT_MESSAGE = 'expires_at must be an ISO 8601 date-time with a time zone, e.g. 2026-12-01T12:00:00Z';

export class UpdateProvisionDto {
  /** The new expiry: in the future and at most 30 days from now. The claim link stays the same. */
  @ApiProperty({ type: String, format: 'date-time', example: '2026-12-01T12:00:00Z' })
  @IsString({ message: EXPIRES_AT_MESSAGE })
  @IsISO8601({ strict: true }, { message: EXPIRES_AT_MESSAGE })
  @Matches(/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i, { message: EXPIRES_AT_MESSAGE })
  expires_at: string;
}

export class ProvisionDto {
  id: string;
  organization_id: string;
  /** The placeholder user; null once it was deleted (cancelled, expired, or claimed into another account). */
  user_id: string | null;
  /** The placeholder user's address. */
  email: string;
  @ApiProperty({ enum: PROVISION_ROLES })
  role: ProvisionRole;
  skip_onboarding: boolean;
  /** `expired` as soon as `expires_at` has passed, even before the expiry job rewrote the row. */
  @ApiProperty({ enum: PROVISION_STATUSES })
  status: ProvisionStatus;
  expires_at: string;
  /** The provisioner that created it. */
  created_by: string | null;
  /** The account that holds the provisioned keys after the claim. */
  claimed_by_user_id: string | null;
  claimed_at: string | null;
  cancelled_at: string | null;
  expired_at: string | null;
  created_at: string;
}

export class CreatedProvisionDto extends ProvisionDto {
  /**
   * The placeholder user's API key: it works at once. Shown only in this response; null only in
   * the replay of an Idempotency-Key request (`secrets_withheld`).
   */
  @ApiProperty({ type: String, nullable: true, example: 'pvk_4Wd0mX7q2T9bK1yZr8LpQn3sVc6HjE5a0h3KzA' })
  api_key: string | null;

  /**
   * The claim link to hand to the end-user (single use). Shown only in this response; null only in
   * the replay of an Idempotency-Key request (`secrets_withheld`).
   */
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'https://provisio.example.com/claim/pvc_8sK2mQ0xVb4Zr7TnLp1WcY9dHe3Ja6Uf',
  })
  claim_url: string | null;

  /**
   * Only on a replay of an earlier request with the same Idempotency-Key: `true`, and `api_key` and
   * `claim_url` are null (they are never stored). Cancel the provision and create a new one if the
   * first answer was lost.
   */
  @ApiPropertyOptional({ type: Boolean, example: true })
  secrets_withheld?: boolean;
}

/** A reissued provision: its new claim link is in this answer only. */
export class ReissuedProvisionDto extends ProvisionDto {
  /** The new claim link (single use; the previous one no longer works). Shown only in this response. */
  @ApiProperty({ type: String, example: 'https://provisio.example.com/claim/pvc_8sK2mQ0xVb4Zr7TnLp1WcY9dHe3Ja6Uf' })
  claim_url: string;
}

export class ProvisionPageDto extends PageOf(ProvisionDto) {}

export class ListProvisionsQueryDto extends PageQueryDto {
  /** Only provisions with this (effective) status. */
  @ApiProperty({ enum: PROVISION_STATUSES, required: false })
  @IsOptional()
  @IsIn(PROVISION_STATUSES, { message: 'status must be one of: pending, claimed, expired, cancelled' })
  status?: ProvisionStatus;
}

export class ProvisionIdParamsDto {
  @IsUUID('all', { message: 'id must be a UUID' })
  @MaxLength(36)
  id: string;
}
