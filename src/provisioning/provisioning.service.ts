import { Injectable } from '@nestjs/common';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { IdempotencyService, IdempotentRequest, withoutSecrets } from '../common/idempotency';
import type { Principal } from '../common/principal';
import { ProblemException } from '../common/problem';
import { CreatedUserDto } from '../users/dto/user.dto';
import { toUserDto, UsersService } from '../users/users.service';
import { CreateUserDto } from './dto/create-user.dto';
import { EmailDomainMapper } from './email-domain-mapper';

@Injectable()
export class ProvisioningService {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly users: UsersService,
    private readonly apiKeys: ApiKeysService,
    private readonly mapper: EmailDomainMapper,
  ) {}

  /**
   * Creates an active, API-only user in the provisioner's organization, under its domain, with a
   * key that works at once. User and key are written in one transaction: never one without the other.
   * With an Idempotency-Key, a replay answers the same user without `api_key` (never stored).
   */
  async provision(
    principal: Principal,
    dto: CreateUserDto,
    userIdHeader: string | undefined,
    idempotency: IdempotentRequest | undefined,
  ): Promise<CreatedUserDto> {
    if (userIdHeader !== undefined && userIdHeader.trim().toLowerCase() !== principal.email.toLowerCase()) {
      throw ProblemException.forbidden("The X-User-ID header does not match the calling key's user.");
    }
    const mapped = this.mapper.map(dto.email, principal.organizationDomain);
    if (!mapped.ok) {
      throw ProblemException.validation([{ field: 'email', message: `email ${mapped.reason}` }]);
    }
    return this.idempotency.run(principal.organizationId, idempotency, async (manager) => {
      const user = await this.users.insertUser(manager, {
        email: mapped.email,
        organizationId: principal.organizationId,
        role: 'member',
        apiOnly: true,
        status: 'active',
        externalEmail: mapped.externalEmail,
        provisionedBy: principal.userId,
      });
      const issued = await this.apiKeys.issue(manager, { userId: user.id, billingOrganizationId: principal.organizationId });
      return { ...toUserDto(user), api_key: issued.plaintext };
    }, { stored: withoutSecrets<CreatedUserDto>('api_key') });
  }
}
