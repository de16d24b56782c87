import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { CurrentPrincipal, Provisioner } from '../common/auth.decorators';
import { Idempotent, IdempotencyContext, IdempotentRequest } from '../common/idempotency';
import type { Principal } from '../common/principal';
import {
  CreatedProvisionDto,
  CreateProvisionDto,
  ListProvisionsQueryDto,
  ProvisionDto,
  ProvisionIdParamsDto,
  ProvisionPageDto,
} from './dto/provision.dto';
import { ClaimableProvisionsService } from './claimable-provisions.service';

@ApiTags('provisions')
@Provisioner()
@Controller('api/v1/provisions')
export class ClaimableProvisionsController {
  constructor(private readonly provisions: ClaimableProvisionsService) {}

  /**
   * Creates a claimable user in your organization: a `pending_claim` user with an API key that works
   * at once, and a single-use claim link. Unclaimed, it expires after PROVISION_TTL_SECONDS (7 days
   * by default) and its user and keys are deleted.
   */
  @Post()
  @Idempotent({ required: false })
  @ApiProblems({ 400: 'Invalid email, role or body.', 409: 'The mapped address exists; `existing_user_id` names that user.' })
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateProvisionDto,
    @IdempotencyContext() idempotency: IdempotentRequest | undefined,
  ): Promise<CreatedProvisionDto> {
    return this.provisions.create(principal, dto, idempotency);
  }

  /** Your organization's provisions, oldest first, optionally only those with one (effective) status. */
  @Get()
  @ApiProblems({ 400: 'Invalid query parameters.' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListProvisionsQueryDto): Promise<ProvisionPageDto> {
    return this.provisions.list(principal, query);
  }

  /** One provision of your organization. */
  @Get(':id')
  @ApiProblems({ 400: 'The id is not a UUID.', 404: 'No such provision in your organization.' })
  get(@CurrentPrincipal() principal: Principal, @Param() params: ProvisionIdParamsDto): Promise<ProvisionDto> {
    return this.provisions.get(principal, params.id);
  }

  /** Cancels a pending provision: its user and keys are deleted at once and the claim link dies. */
  @Delete(':id')
  @HttpCode(204)
  @ApiProblems({
    400: 'The id is not a UUID.',
    404: 'No such provision in your organization.',
    409: 'The provision is not pending (claimed, expired or cancelled).',
  })
  cancel(@CurrentPrincipal() principal: Principal, @Param() params: ProvisionIdParamsDto): Promise<void> {
    return this.provisions.cancel(principal, params.id);
  }
}
