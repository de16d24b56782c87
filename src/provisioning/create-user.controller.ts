import { Body, Controller, Headers, Post } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { CurrentPrincipal, Provisioner } from '../common/auth.decorators';
import { Idempotent, IdempotencyContext, IdempotentRequest } from '../common/idempotency';
import type { Principal } from '../common/principal';
import { CreatedUserDto } from '../users/dto/user.dto';
import { CreateUserDto } from './dto/create-user.dto';
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
  @ApiProblems({ 400: 'Invalid email or body.', 409: 'The mapped address exists; `existing_user_id` names that user.' })
  createUser(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateUserDto,
    @Headers('x-user-id') userIdHeader: string | undefined,
    @IdempotencyContext() idempotency: IdempotentRequest | undefined,
  ): Promise<CreatedUserDto> {
    return this.service.provision(principal, dto, userIdHeader, idempotency);
  }
}
