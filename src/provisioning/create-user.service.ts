import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { IdempotencyService, IdempotentRequest, withoutSecrets } from '../common/idempotency';
import type { Principal } from '../common/principal';
import { Problems } from '../common/problem';
import { CreatedUserDto } from '../users/dto/user.dto';
import { toUserDto, UsersService } from '../users/users.service';
import { CreateUserDto } from './dto/create-user.dto';
import { EmailDomainMapper } from './email-domain-mapper';

@Injectable()
export class CreateUserService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
    private readonly users: UsersService,
    private readonly mapper: EmailDomainMapper,
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
    if (userIdHeader !== undefined && userIdHeader.trim().toLowerCase() !== principal.email.toLowerCase()) {
      throw Problems.forbidden("The X-User-ID header does not match the calling key's user.");
    }
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
            provisionedBy: principal.userId,
          },
          { billingOrganizationId: principal.organizationId },
        )
        .then(({ user, plaintext }) => ({ ...toUserDto(user), api_key: plaintext }));
    if (!idempotency) return insert(this.dataSource.manager);
    const scope = { organizationId: principal.organizationId, userId: principal.userId };
    return this.idempotency.run(scope, idempotency, insert, {
      stored: withoutSecrets<CreatedUserDto>('api_key'),
    });
  }
}
