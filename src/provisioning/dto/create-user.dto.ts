import { Type } from 'class-transformer';
import { IsString, MaxLength, ValidateNested } from 'class-validator';
import { SpendLimitInputDto } from '../../common/spend-limit.dto';
import { OptionalField } from '../../common/validation';

export class CreateUserDto {
  /**
   * The end-user's real address. The user is created as `<local part>@<your domain>`; this
   * address is kept as `external_email`.
   */
  @IsString()
  @MaxLength(320)
  email: string;

  /** The new user's spend limit on your organization's pool, set in the same transaction as the user. */
  @OptionalField()
  @ValidateNested()
  @Type(() => SpendLimitInputDto)
  spend_limit?: SpendLimitInputDto;
}
