import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { ApiKeyAuth, CurrentPrincipal } from '../common/auth.decorators';
import type { Principal } from '../common/principal';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyIdParamsDto, ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto, ListApiKeysQueryDto } from './dto/api-key.dto';

const OTHER_USERS_KEYS = '`user_id` names another user, and you are not an owner, admin or provisioner of the organization.';

@ApiTags('api-keys')
@ApiKeyAuth()
@ApiProblems({ 400: 'Invalid parameters.' })
@Controller('api/v1/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  /** Lists keys (never their secrets): your own, or with `user_id` those of a user of your organization. */
  @Get()
  @ApiProblems({ 403: OTHER_USERS_KEYS, 404: 'No such user in your organization.' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    return this.apiKeys.list(principal, query);
  }

  /** Creates a key. The secret is in this response only. */
  @Post()
  @ApiProblems({ 403: OTHER_USERS_KEYS, 404: 'No such user in your organization.', 409: 'The user is disabled.' })
  create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.apiKeys.create(principal, dto);
  }

  /** Revokes a key at once. */
  @Delete(':id')
  @HttpCode(204)
  @ApiProblems({ 404: 'No such key you may manage.' })
  revoke(@CurrentPrincipal() principal: Principal, @Param() params: ApiKeyIdParamsDto): Promise<void> {
    return this.apiKeys.revoke(principal, params.id);
  }

  /** Revokes a key and returns its replacement (same user, name and billing pool). */
  @Post(':id/rotate')
  @ApiProblems({ 404: 'No such key you may manage.', 409: 'The key is already revoked.' })
  rotate(@CurrentPrincipal() principal: Principal, @Param() params: ApiKeyIdParamsDto): Promise<CreatedApiKeyDto> {
    return this.apiKeys.rotate(principal, params.id);
  }
}
