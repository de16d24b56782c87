import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
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
  ReissuedProvisionDto,
  ReissueProvisionDto,
  UpdateProvisionDto,
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
  @ApiProblems({
    400: 'Invalid email, role, external_id, ttl_seconds or body.',
    409: 'The mapped address or the external_id is taken; `existing_user_id` names that user.',
  })
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

  /**
   * Reissues a pending provision's claim link: a new `claim_url` (shown only in this answer) and the
   * previous link is dead at once (404). With `ttl_seconds` the provision (and its user) then expire
   * that many seconds from now; without it `expires_at` is unchanged.
   */
  @Post(':id/reissue')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiProblems({
    400: 'The id is not a UUID, or ttl_seconds is out of 3600–2592000.',
    404: 'No such provision in your organization.',
    409: 'The provision is not pending (claimed, expired or cancelled).',
  })
  reissue(
    @CurrentPrincipal() principal: Principal,
    @Param() params: ProvisionIdParamsDto,
    @Body() dto: ReissueProvisionDto,
  ): Promise<ReissuedProvisionDto> {
    return this.provisions.reissue(principal, params.id, dto);
  }

  /**
   * Extends or shortens a pending provision: `expires_at` must be in the future and at most 30 days
   * from now. The claim link stays the same; the provision's user expires with it.
   */
  @Patch(':id')
  @ApiProblems({
    400: 'The id is not a UUID, or expires_at is not a date-time in the future within 30 days.',
    404: 'No such provision in your organization.',
    409: 'The provision is not pending (claimed, expired or cancelled).',
  })
  update(
    @CurrentPrincipal() principal: Principal,
    @Param() params: ProvisionIdParamsDto,
    @Body() dto: UpdateProvisionDto,
  ): Promise<ProvisionDto> {
    return this.provisions.updateExpiry(principal, params.id, dto);
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
