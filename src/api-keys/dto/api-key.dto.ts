import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, Length, MaxLength } from 'class-validator';
import { PageOf, PageQueryDto } from '../../common/pagination';
import { KEY_SCOPES } from '../../common/principal';
import type { KeyScope } from '../../common/principal';
import { OptionalField } from '../../common/validation';

export class ApiKeyDto {
  id: string;
  user_id: string;
  /** The first 12 characters of the key, to recognise it. The key itself is never shown again. */
  prefix: string;
  name: string | null;
  /** The organization whose credit pool this key spends. */
  billing_organization_id: string;
  /**
   * `full`: the key acts with all of its user's rights. `restricted`: it acts as a plain member
   * (keys moved into an existing account by a claim, and their rotations).
   */
  @ApiProperty({ enum: KEY_SCOPES })
  scope: KeyScope;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export class CreatedApiKeyDto extends ApiKeyDto {
  /** The secret key. Shown only in this response; store it now. */
  @ApiProperty({ example: 'pvk_4Wd0mX7q2T9bK1yZr8LpQn3sVc6HjE5a0h3KzA' })
  api_key: string;
}

export class ApiKeyPageDto extends PageOf(ApiKeyDto) {}

export class CreateApiKeyDto {
  /** A label for the key. */
  @OptionalField()
  @IsString()
  @Length(1, 100)
  name?: string;

  /**
   * Create the key for this user of your organization, when you may act on it (a higher rank, or a
   * provisioner for the users it provisioned). Default: yourself. The key spends the user's own
   * organization's pool.
   */
  @OptionalField()
  @IsUUID('all')
  user_id?: string;
}

export class ListApiKeysQueryDto extends PageQueryDto {
  /**
   * List this user's keys, when you may act on it. Default: your own keys and, for the managers of
   * an organization, the keys it pays for that users of other organizations hold (keys moved by a
   * claim). A restricted key lists only itself.
   */
  @IsOptional()
  @IsUUID('all')
  user_id?: string;
}

export class ApiKeyIdParamsDto {
  @IsUUID('all', { message: 'id must be a UUID' })
  @MaxLength(36)
  id: string;
}
