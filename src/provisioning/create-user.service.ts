import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { IdempotencyService, IdempotentRequest, withoutSecrets } from '../common/idempotency';
import type { Principal } from '../common/principal';
import { ProblemException, Problems } from '../common/problem';
import { ProblemDetailsFilter } from '../common/problem-details.filter';
import { validateItem } from '../common/validation';
import { CreatedUserDto } from '../users/dto/user.dto';
import { NewBulkUser, toUserDto, UsersService } from '../users/users.service';
import { BulkCreateUserResultDto, BulkCreateUsersResponseDto, CreateUserDto, CreateUsersDto } from './dto/create-user.dto';
import { SpendLimitInputDto } from '../common/spend-limit.dto';
import { SpendLimits } from '../common/spend-limits';
import { EmailDomainMapper } from './email-domain-mapper';

const problems = new ProblemDetailsFilter();

@Injectable()
export class CreateUserService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
    private readonly users: UsersService,
    private readonly mapper: EmailDomainMapper,
    private readonly spend: SpendLimits,
  ) {}

  /**
   * Creates an active, API-only user in the provisioner's organization, under its domain, with a
   * key that works at once. User and key are written atomically, in one statement: never one
   * without the other. Without an Idempotency-Key that statement is all (one round trip); with one,
   * it runs in the key's transaction, and a replay answers the same user without `api_key` (never
   * stored).
   */
  async provision(
    principal: Principal,
    dto: CreateUserDto,
    userIdHeader: string | undefined,
    idempotency: IdempotentRequest | undefined,
  ): Promise<CreatedUserDto> {
    checkUserIdHeader(principal, userIdHeader);
    const mapped = this.mapper.map(dto.email, principal.organizationDomain);
    if (!mapped.ok) {
      throw Problems.validationFailed([{ field: 'email', message: `email ${mapped.reason}` }]);
    }
    const insert = (manager: EntityManager): Promise<CreatedUserDto> =>
      this.users
        .insertUserWithKey(
          manager,
          {
            email: mapped.email,
            organizationId: principal.organizationId,
            role: 'member',
            apiOnly: true,
            status: 'active',
            externalEmail: mapped.externalEmail,
            externalId: dto.external_id ?? null,
            provisionedBy: principal.userId,
          },
          { billingOrganizationId: principal.organizationId },
        )
        .then(async ({ user, plaintext }) => ({
          ...toUserDto(user),
          ...(dto.spend_limit
            ? { spend_limit: await this.spend.setLimitOfNewUser(manager, principal.organizationId, user.id, dto.spend_limit) }
            : {}),
          api_key: plaintext,
        }));
    if (!idempotency) {
      // With a spend limit, user and limit are one transaction; without, the one statement is all.
      return dto.spend_limit ? this.dataSource.transaction(insert) : insert(this.dataSource.manager);
    }
    const scope = { organizationId: principal.organizationId, userId: principal.userId };
    return this.idempotency.run(scope, idempotency, insert, {
      stored: withoutSecrets<CreatedUserDto>('api_key'),
    });
  }

  /**
   * Bulk create-user: each item is checked as a create-user body on its own (a bad one is its own
   * 400), then every valid one is created with its key in ONE statement (UsersService.
   * insertManyWithKeys); an address or external id that is taken — by an existing user or an earlier
   * item — is that item's 409. Answers one result per item, in order. With an Idempotency-Key the
   * whole batch runs in the key's transaction and a replay answers the same results with every
   * `api_key` null.
   */
  async provisionMany(
    principal: Principal,
    dto: CreateUsersDto,
    userIdHeader: string | undefined,
    idempotency: IdempotentRequest | undefined,
  ): Promise<BulkCreateUsersResponseDto> {
    checkUserIdHeader(principal, userIdHeader);
    // Each valid item with the spend limit its body asked for (set in the batch's transaction).
    const checked: ((NewBulkUser & { spendLimit?: SpendLimitInputDto }) | ProblemException)[] = await Promise.all(
      dto.users.map(async (item) => {
        const valid = await validateItem(CreateUserDto, item);
        if (!valid.ok) return valid.problem;
        const mapped = this.mapper.map(valid.value.email, principal.organizationDomain);
        if (!mapped.ok) return Problems.validationFailed([{ field: 'email', message: `email ${mapped.reason}` }]);
        return {
          email: mapped.email,
          externalEmail: mapped.externalEmail,
          externalId: valid.value.external_id ?? null,
          spendLimit: valid.value.spend_limit,
        };
      }),
    );
    const insert = async (manager: EntityManager): Promise<BulkCreateUsersResponseDto> => {
      const valid = checked.filter(
        (item): item is NewBulkUser & { spendLimit?: SpendLimitInputDto } => !(item instanceof ProblemException),
      );
      const outcomes = await this.users.insertManyWithKeys(manager, principal.organizationId, principal.userId, valid);
      const limits = await Promise.all(
        outcomes.map(async (outcome, i) => {
          const limit = valid[i].spendLimit;
          if (outcome instanceof ProblemException || !limit) return undefined;
          return this.spend.setLimitOfNewUser(manager, principal.organizationId, outcome.user.id, limit);
        }),
      );
      let next = 0;
      const results = checked.map((item): BulkCreateUserResultDto => {
        const index = item instanceof ProblemException ? -1 : next++;
        const outcome = index < 0 ? (item as ProblemException) : outcomes[index];
        if (outcome instanceof ProblemException) return { status: outcome.getStatus(), problem: problems.toProblem(outcome) };
        const spendLimit = limits[index];
        return {
          status: 201,
          user: { ...toUserDto(outcome.user), ...(spendLimit ? { spend_limit: spendLimit } : {}), api_key: outcome.plaintext },
        };
      });
      return { results };
    };
    const anyLimit = checked.some((item) => !(item instanceof ProblemException) && item.spendLimit);
    // Users, keys and limits are one transaction; without limits, the one statement is all.
    if (!idempotency) return anyLimit ? this.dataSource.transaction(insert) : insert(this.dataSource.manager);
    const scope = { organizationId: principal.organizationId, userId: principal.userId };
    return this.idempotency.run(scope, idempotency, insert, {
      successStatus: 200,
      stored: (answer) => ({
        results: answer.results.map((result) =>
          result.user ? { ...result, user: { ...result.user, api_key: null, secrets_withheld: true } } : result,
        ),
        secrets_withheld: true,
      }),
    });
  }
}

/** X-User-ID, when sent, must be the calling key's user's email (case-insensitive), else 403. */
function checkUserIdHeader(principal: Principal, userIdHeader: string | undefined): void {
  if (userIdHeader !== undefined && userIdHeader.trim().toLowerCase() !== principal.email.toLowerCase()) {
    throw Problems.forbidden("The X-User-ID header does not match the calling key's user.");
  }
}
