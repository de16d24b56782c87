import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { ApiKeyAuth, CurrentPrincipal, Operator, OrgManager } from '../common/auth.decorators';
import { Idempotent, IdempotencyContext, IdempotentRequest } from '../common/idempotency';
import type { Principal } from '../common/principal';
import { PageQueryDto } from '../common/pagination';
import { BillingService } from './billing.service';
import {
  BalanceDto,
  CreateChargeDto,
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
  constructor(private readonly billing: BillingService) {}

  /** Spends credits of the pool the calling key bills, exactly once per Idempotency-Key. */
  @Post('charges')
  @HttpCode(201)
  @ApiKeyAuth()
  @Idempotent()
  @ApiCreatedResponse({ type: LedgerEntryDto, description: `The charge's ledger entry. ${REPLAY_NOTE}`, headers: REPLAY_HEADER })
  @ApiProblems({
    400: INVALID_BODY_OR_KEY,
    402:
      'The pool has fewer credits than `units`: nothing was charged. Stored with the key: a retry with the same key ' +
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
