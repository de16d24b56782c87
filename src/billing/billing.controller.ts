import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { ApiKeyAuth, CurrentPrincipal, Operator, OrgManager } from '../common/auth.decorators';
import { Idempotent, IdempotencyContext, IdempotentRequest } from '../common/idempotency';
import type { Principal } from '../common/principal';
import { PageQueryDto } from '../common/pagination';
import { BillingService } from './billing.service';
import { SpendControlsService } from './spend-controls.service';
import {
  BalanceDto,
  CommitReservationDto,
  CommittedReservationDto,
  CreateChargeDto,
  CreateReservationDto,
  ReservationDto,
  ReservationIdPathDto,
  SpendLimitDto,
  SpendLimitInputDto,
  SpendLimitPageDto,
  UserIdPathDto,
  CreateCreditDto,
  LedgerEntryDto,
  LedgerEntryPageDto,
  LedgerQueryDto,
  OrganizationPageDto,
  UsageDto,
  UsageQueryDto,
} from './dto/billing.dto';

const INVALID_BODY_OR_KEY = 'Invalid body, or the Idempotency-Key header is missing or malformed.';
const REPLAY_NOTE = 'A replay of an earlier request with the same Idempotency-Key carries `Idempotent-Replayed: true`.';
const REPLAY_HEADER = {
  'Idempotent-Replayed': {
    description: 'Present, with the value `true`, when this answer is a replay of an earlier request with the same key.',
    schema: { type: 'string', enum: ['true'] },
  },
};

@ApiTags('billing')
@Controller('api/v1/billing')
export class BillingController {
  constructor(
    private readonly billing: BillingService,
    private readonly spend: SpendControlsService,
  ) {}

  /** Spends credits of the pool the calling key bills, exactly once per Idempotency-Key. */
  @Post('charges')
  @HttpCode(201)
  @ApiKeyAuth()
  @Idempotent()
  @ApiCreatedResponse({ type: LedgerEntryDto, description: `The charge's ledger entry. ${REPLAY_NOTE}`, headers: REPLAY_HEADER })
  @ApiProblems({
    400: INVALID_BODY_OR_KEY,
    402:
      "The pool has fewer `available` credits than `units` (`type` …/insufficient-credits), or the user's spend limit " +
      'would be passed (…/spend-limit-exceeded): nothing was charged. Stored with the key: a retry with the same key ' +
      'replays this 402 even after a top-up, so use a new key.',
  })
  charge(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateChargeDto,
    @IdempotencyContext() idempotency: IdempotentRequest,
  ): Promise<LedgerEntryDto> {
    return this.billing.charge(principal, dto, idempotency);
  }

  /** The credit pool the calling key spends. */
  @Get('balance')
  @ApiKeyAuth()
  balance(@CurrentPrincipal() principal: Principal): Promise<BalanceDto> {
    return this.billing.balance(principal);
  }

  /**
   * Holds credits of the pool the calling key spends, for work whose cost is known only afterwards:
   * commit what was used, release the rest. Holds count against `available` and the spend limit.
   */
  @Post('reservations')
  @HttpCode(201)
  @ApiKeyAuth()
  @Idempotent()
  @ApiCreatedResponse({ type: ReservationDto, description: `The hold (status \`held\`). ${REPLAY_NOTE}`, headers: REPLAY_HEADER })
  @ApiProblems({
    400: INVALID_BODY_OR_KEY,
    402: 'The pool has fewer `available` credits than `units`, or the spend limit would be passed: nothing was held.',
  })
  reserve(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateReservationDto,
    @IdempotencyContext() idempotency: IdempotentRequest,
  ): Promise<ReservationDto> {
    return this.spend.reserve(principal, dto, idempotency);
  }

  /** Charges `units` of a held reservation (one ledger entry, reason `charge`) and releases the rest. */
  @Post('reservations/:id/commit')
  @HttpCode(200)
  @ApiKeyAuth()
  @ApiOkResponse({ type: CommittedReservationDto })
  @ApiProblems({
    400: 'The id is not a UUID, or `units` is not a whole number from 0 to the units held.',
    403: 'Only the reserving user and the managers of the pool may end a reservation.',
    404: 'No such reservation on your pool.',
    409: 'The reservation is committed, released or expired already.',
  })
  commit(
    @CurrentPrincipal() principal: Principal,
    @Param() params: ReservationIdPathDto,
    @Body() dto: CommitReservationDto,
  ): Promise<CommittedReservationDto> {
    return this.spend.commit(principal, params.id, dto);
  }

  /** Releases a held reservation (its credits are available again); releasing a released or expired one changes nothing. */
  @Delete('reservations/:id')
  @HttpCode(204)
  @ApiKeyAuth()
  @ApiNoContentResponse({ description: 'Released.' })
  @ApiProblems({
    400: 'The id is not a UUID.',
    403: 'Only the reserving user and the managers of the pool may end a reservation.',
    404: 'No such reservation on your pool.',
    409: 'The reservation is committed.',
  })
  release(@CurrentPrincipal() principal: Principal, @Param() params: ReservationIdPathDto): Promise<void> {
    return this.spend.release(principal, params.id);
  }

  /** The spend limits of your organization's pool, with what each user spent in the current window. */
  @Get('spend-limits')
  @OrgManager()
  @ApiProblems({ 400: 'Invalid query parameters.' })
  listLimits(@CurrentPrincipal() principal: Principal, @Query() query: PageQueryDto): Promise<SpendLimitPageDto> {
    return this.spend.listLimits(principal, query);
  }

  /** Sets how much a user may spend of your organization's pool per UTC day, UTC month, or in total. */
  @Put('spend-limits/:user_id')
  @OrgManager()
  @ApiOkResponse({ type: SpendLimitDto })
  @ApiProblems({
    400: 'The user id is not a UUID, or the body is invalid.',
    403: 'Acting on this user needs a higher rank.',
    404: 'No such user in your organization.',
  })
  putLimit(
    @CurrentPrincipal() principal: Principal,
    @Param() params: UserIdPathDto,
    @Body() dto: SpendLimitInputDto,
  ): Promise<SpendLimitDto> {
    return this.spend.putLimit(principal, params.user_id, dto);
  }

  /** Removes a user's spend limit on your organization's pool. */
  @Delete('spend-limits/:user_id')
  @HttpCode(204)
  @OrgManager()
  @ApiNoContentResponse({ description: 'Removed.' })
  @ApiProblems({
    400: 'The user id is not a UUID.',
    403: 'Acting on this user needs a higher rank.',
    404: 'No such user in your organization, or it has no spend limit.',
  })
  deleteLimit(@CurrentPrincipal() principal: Principal, @Param() params: UserIdPathDto): Promise<void> {
    return this.spend.deleteLimit(principal, params.user_id);
  }

  /** Your organization's ledger, newest first; `user_id` keeps one user's entries. */
  @Get('ledger')
  @OrgManager()
  @ApiProblems({ 400: 'Invalid query parameters.' })
  ledger(@CurrentPrincipal() principal: Principal, @Query() query: LedgerQueryDto): Promise<LedgerEntryPageDto> {
    return this.billing.ledger(principal, query);
  }

  /**
   * Credits spent per user of your organization in `[since, until)`, cursor-paginated: most units
   * first, then by user id. `total_units` counts every user of the window. Without `until`, the first
   * page fixes the window's end at the time it was read and its `next_cursor` keeps it, so charges made
   * while paging move nobody across pages. A user deleted since (a cancelled, expired or transferred
   * placeholder) keeps its id and email here.
   */
  @Get('usage')
  @OrgManager()
  @ApiProblems({ 400: 'since or until is not an ISO 8601 date-time, until is before since, or limit or cursor is invalid.' })
  usage(@CurrentPrincipal() principal: Principal, @Query() query: UsageQueryDto): Promise<UsageDto> {
    return this.billing.usage(principal, query);
  }
}

@ApiTags('admin')
@Controller('api/v1/admin')
export class AdminCreditsController {
  constructor(private readonly billing: BillingService) {}

  /**
   * Grants credits to an organization's pool (positive `amount`) or corrects it (negative, never
   * below 0), exactly once per Idempotency-Key (yours: keys are scoped to the calling user).
   */
  @Post('credits')
  @HttpCode(201)
  @Operator()
  // Above @Idempotent(): its 422 (a reused key) is described first, this one joins it.
  @ApiProblems({
    400: INVALID_BODY_OR_KEY,
    404: 'No organization has this domain.',
    422: 'Or: a correction would take the pool below 0 (or a grant above 2,147,483,647); nothing was changed.',
  })
  @Idempotent()
  @ApiCreatedResponse({
    type: LedgerEntryDto,
    description: `The ledger entry (reason grant or correction). ${REPLAY_NOTE}`,
    headers: REPLAY_HEADER,
  })
  credit(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateCreditDto,
    @IdempotencyContext() idempotency: IdempotentRequest,
  ): Promise<LedgerEntryDto> {
    return this.billing.credit(principal, dto, idempotency);
  }

  /** Organizations with their credit balances. */
  @Get('organizations')
  @Operator()
  @ApiProblems({ 400: 'Invalid request.' })
  organizations(@Query() query: PageQueryDto): Promise<OrganizationPageDto> {
    return this.billing.listOrganizations(query);
  }
}
