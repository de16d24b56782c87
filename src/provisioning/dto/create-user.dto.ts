import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsObject, IsString, MaxLength } from 'class-validator';
import { OptionalField } from '../../common/validation';
import { CreatedUserDto, ExternalIdField } from '../../users/dto/user.dto';
import { ProblemDto } from '../../common/problem';

export class CreateUserDto {
  /**
   * The end-user's real address. The user is created as `<local part>@<your domain>`; this
   * address is kept as `external_email`.
   */
  @IsString()
  @MaxLength(320)
  email: string;

  @OptionalField()
  @ExternalIdField(
    "Your own id for this end-user (1–255 printable characters), unique among your organization's users: " +
      'a second create with the same id is 409 naming `existing_user_id`.',
  )
  external_id?: string;
}

/** The most users one bulk create-user request may hold. */
export const MAX_BULK_USERS = 100;

export class CreateUsersDto {
  /**
   * 1–100 users, each as the body of `POST /api/v1/admin/create-user`. Each is checked and created
   * on its own: a bad or conflicting item is answered in its place in `results` and does not stop
   * the others.
   */
  @ApiProperty({ type: [CreateUserDto], minItems: 1, maxItems: MAX_BULK_USERS })
  @IsArray({ message: 'users must be an array of 1–100 objects' })
  @ArrayMinSize(1, { message: 'users must hold at least 1 item' })
  @ArrayMaxSize(MAX_BULK_USERS, { message: `users must hold at most ${MAX_BULK_USERS} items` })
  @IsObject({ each: true, message: 'each item of users must be an object' })
  users: Record<string, unknown>[];
}

/** One item's outcome in a bulk create-user answer: `user` when created (201), else `problem`. */
export class BulkCreateUserResultDto {
  /** 201 when this item's user was created; otherwise the status its own request would have had (400, 409). */
  @ApiProperty({ type: 'integer', example: 201 })
  status: number;

  /** The created user with its API key (status 201 only). */
  @ApiProperty({ type: CreatedUserDto, required: false })
  user?: CreatedUserDto;

  /** Why this item was not created (any status but 201): RFC 9457 problem details. */
  @ApiProperty({ type: ProblemDto, required: false })
  problem?: Record<string, unknown>;
}

export class BulkCreateUsersResponseDto {
  /** One result per item of `users`, in the same order. */
  @ApiProperty({ type: [BulkCreateUserResultDto] })
  results: BulkCreateUserResultDto[];

  /**
   * Only on a replay of an earlier request with the same Idempotency-Key: `true`, and every
   * `api_key` is null (keys are never stored in plaintext).
   */
  @ApiProperty({ type: Boolean, required: false, example: true })
  secrets_withheld?: boolean;
}
