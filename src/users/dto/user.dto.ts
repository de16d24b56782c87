import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { IsBoolean, IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { PageOf, PageQueryDto } from '../../common/pagination';
import { KEY_SCOPES, USER_ROLES, USER_STATUSES } from '../../common/principal';
import type { KeyScope, UserRole, UserStatus } from '../../common/principal';
import { OptionalField } from '../../common/validation';

/** `external_id`: 1–255 printable characters (no control, format or unassigned code points). */
export const EXTERNAL_ID_PATTERN = /^[^\p{C}]{1,255}$/u;
export const EXTERNAL_ID_MESSAGE = 'external_id must be 1–255 printable characters';

/** Validation and OpenAPI of an `external_id` field or query parameter (present: checked; absent: fine). */
export function ExternalIdField(description: string): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ type: String, minLength: 1, maxLength: 255, description, example: 'cust_8412' }),
    IsString({ message: EXTERNAL_ID_MESSAGE }),
    Matches(EXTERNAL_ID_PATTERN, { message: EXTERNAL_ID_MESSAGE }),
  );
}

export class UserDto {
  id: string;
  email: string;
  organization_id: string;
  @ApiProperty({ enum: USER_ROLES })
  role: UserRole;
  is_provisioner: boolean;
  is_operator: boolean;
  api_only: boolean;
  @ApiProperty({ enum: USER_STATUSES })
  status: UserStatus;
  /** The end-user's real address, for provisioned users. */
  external_email: string | null;
  /** The orchestrator's own id for this end-user (`external_id` at creation); null when none was given. */
  external_id: string | null;
  /** The provisioner that created this user. */
  provisioned_by: string | null;
  /** Pending provisions only: when the user and its keys expire. */
  expires_at: string | null;
  created_at: string;
}

export class CreatedUserDto extends UserDto {
  /**
   * The user's API key. Shown only in this response; null only in the replay of an Idempotency-Key
   * request (`secrets_withheld`), since keys are never stored in plaintext.
   */
  @ApiProperty({ type: String, nullable: true, example: 'pvk_4Wd0mX7q2T9bK1yZr8LpQn3sVc6HjE5a0h3KzA' })
  api_key: string | null;

  /**
   * Only on a replay of an earlier request with the same Idempotency-Key: `true`, and the secrets of
   * the first answer are null. Rotate or create a key for the user if the first answer was lost.
   */
  @ApiPropertyOptional({ type: Boolean, example: true })
  secrets_withheld?: boolean;
}

export class OrganizationSummaryDto {
  id: string;
  domain: string;
}

export class MeDto extends UserDto {
  organization: OrganizationSummaryDto;
  /** The organization whose credit pool the calling key spends. */
  billing_organization_id: string;
  /**
   * The calling key's scope. `restricted` (a key moved into this account by a claim): the key acts
   * as a plain member whatever `role`, `is_provisioner` and `is_operator` say.
   */
  @ApiProperty({ enum: KEY_SCOPES })
  scope: KeyScope;
}

export class UserPageDto extends PageOf(UserDto) {}

export class ListUsersQueryDto extends PageQueryDto {
  /** Only users with this status. */
  @IsOptional()
  @IsIn(USER_STATUSES)
  status?: UserStatus;

  @IsOptional()
  @ExternalIdField('Only the user with this `external_id` (at most one: external ids are unique in an organization).')
  external_id?: string;
}

export class UserIdParamsDto {
  @IsUUID('all', { message: 'id must be a UUID' })
  id: string;
}

export class AdminCreateUserDto {
  /** The user's address, on any domain. Its organization is created if it is the domain's first user. */
  @IsString()
  @MaxLength(320)
  email: string;

  /** May this user create users in its own organization? Refused (422) on public mailbox domains. */
  @OptionalField()
  @IsBoolean()
  is_provisioner?: boolean;

  /** Role in an existing organization (default member). The first user of a domain is always its owner. */
  @OptionalField()
  @IsIn(USER_ROLES)
  role?: UserRole;
}

export class AdminUpdateUserDto {
  @OptionalField()
  @IsBoolean()
  is_provisioner?: boolean;

  /** `disabled` refuses the user's keys at once; `active` lets them work again. */
  @OptionalField()
  @IsIn(['active', 'disabled'])
  status?: 'active' | 'disabled';
}
