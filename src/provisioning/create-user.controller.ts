import { Body, Controller, Header, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { CurrentPrincipal, Provisioner } from '../common/auth.decorators';
import { Idempotent, IdempotencyContext, IdempotentRequest } from '../common/idempotency';
import type { Principal } from '../common/principal';
import { CreatedUserDto } from '../users/dto/user.dto';
import { BulkCreateUsersResponseDto, CreateUserDto, CreateUsersDto } from './dto/create-user.dto';
import { CreateUserService } from './create-user.service';

@ApiTags('provisioning')
@Controller('api/v1')
export class CreateUserController {
  constructor(private readonly service: CreateUserService) {}

  /**
   * Creates an active, API-only user for an end-user, under your organization's domain, and
   * returns its API key (shown once).
   */
  @Post('admin/create-user')
  @Provisioner()
  @Idempotent({ required: false })
  @ApiHeader({
    name: 'X-User-ID',
    required: false,
    description: "If sent, must equal the calling key's user email (case-insensitive), else 403.",
  })
  @ApiProblems({
    400: 'Invalid email, external_id or body.',
    409: 'The mapped address or the external_id is taken; `existing_user_id` names that user.',
  })
  createUser(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateUserDto,
    @Headers('x-user-id') userIdHeader: string | undefined,
    @IdempotencyContext() idempotency: IdempotentRequest | undefined,
  ): Promise<CreatedUserDto> {
    return this.service.provision(principal, dto, userIdHeader, idempotency);
  }

  /**
   * Creates 1–100 users at once, each as `POST /api/v1/admin/create-user` would. Answers 200 with
   * one result per item, in request order: `{status: 201, user}` (with its `api_key`, shown once) or
   * `{status: 400|409, problem}`. Items are independent: a refused item does not stop the others.
   * An address or external_id asked for twice in the batch is the later item's 409.
   */
  @Post('admin/create-users')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Provisioner()
  @Idempotent({ required: false })
  @ApiHeader({
    name: 'X-User-ID',
    required: false,
    description: "If sent, must equal the calling key's user email (case-insensitive), else 403.",
  })
  @ApiProblems({ 400: 'The body is not `{users: [...]}` with 1–100 objects (a bad item is answered in `results`).' })
  createUsers(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateUsersDto,
    @Headers('x-user-id') userIdHeader: string | undefined,
    @IdempotencyContext() idempotency: IdempotentRequest | undefined,
  ): Promise<BulkCreateUsersResponseDto> {
    return this.service.provisionMany(principal, dto, userIdHeader, idempotency);
  }
}
