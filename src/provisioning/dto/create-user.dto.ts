import { IsString, MaxLength } from 'class-validator';

export class CreateUserDto {
  /**
   * The end-user's real address. The user is created as `<local part>@<your domain>`; this
   * address is kept as `external_email`.
   */
  @IsString()
  @MaxLength(320)
  email: string;
}
