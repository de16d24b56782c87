import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { ApiKeyAuth, CurrentPrincipal } from '../common/auth.decorators';
import type { Principal } from '../common/principal';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyIdParamsDto, ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto, ListApiKeysQueryDto } from './dto/api-key.dto';

const NOT_BY_RANK =
  '`user_id` names a user of your organization you may not act on (acting on another user needs a higher rank, ' +
  'or the provisioner right over the users it provisioned), or the key is restricted.';
const KEY_NOT_BY_RANK =
  "The key's user is in your organization but you may not act on it, or a restricted key names another key " +
  '(it lists and revokes only itself, and rotates nothing).';

@ApiTags('api-keys')
@ApiKeyAuth()
@ApiProblems({ 400: 'Invalid parameters.' })
@Controller('api/v1/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  /**
   * Lists keys (never their secrets). Without `user_id`: your own keys and, for an organization's
   * owners, admins and provisioners, the keys the organization pays for that users of other
   * organizations hold (keys moved by a claim: `billing_organization_id` is yours, `user_id` is not
   * of your organization). With `user_id`: that user's keys, by rank. A restricted key lists itself.
   */
  @Get()
  @ApiProblems({ 403: NOT_BY_RANK, 404: 'No such user you may look up.' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    return this.apiKeys.list(principal, query);
  }

  /**
   * Creates a key for yourself or, by rank, for another user of your organization. It spends its
   * user's own organization's pool. A restricted key creates none (403). The secret is in this
   * response only.
   */
  @Post()
  @ApiProblems({ 403: NOT_BY_RANK, 404: 'No such user you may look up.', 409: 'The user is disabled.' })
  create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.apiKeys.create(principal, dto);
  }

  /**
   * Revokes a key at once: your own, one of a user you may act on, or one your organization pays
   * for that a user of another organization holds.
   */
  @Delete(':id')
  @HttpCode(204)
  @ApiProblems({ 403: KEY_NOT_BY_RANK, 404: 'No such key you may manage.' })
  revoke(@CurrentPrincipal() principal: Principal, @Param() params: ApiKeyIdParamsDto): Promise<void> {
    return this.apiKeys.revoke(principal, params.id);
  }

  /** Revokes a key and returns its replacement (same user, name, billing pool and scope). */
  @Post(':id/rotate')
  @ApiProblems({ 403: KEY_NOT_BY_RANK, 404: 'No such key you may manage.', 409: 'The key is already revoked.' })
  rotate(@CurrentPrincipal() principal: Principal, @Param() params: ApiKeyIdParamsDto): Promise<CreatedApiKeyDto> {
    return this.apiKeys.rotate(principal, params.id);
  }
}
