import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { displayPrefix, generateApiKey, hashApiKey } from '../api-keys/api-key-format';
import type { Principal } from '../common/principal';
import { ProblemException } from '../common/problem';
import { CreatedUserDto } from '../users/dto/user.dto';
import { toUserDto, UsersService } from '../users/users.service';
import { CreateUserDto } from './dto/create-user.dto';
import { EmailDomainMapper } from './email-domain-mapper';

@Injectable()
export class ProvisioningService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly mapper: EmailDomainMapper,
  ) {}

  /**
   * Creates an active, API-only user in the provisioner's organization, under its domain, with a
   * key that works at once. User and key are written atomically: never one without the other.
   */
  async provision(principal: Principal, dto: CreateUserDto, userIdHeader?: string): Promise<CreatedUserDto> {
    if (userIdHeader !== undefined && userIdHeader.trim().toLowerCase() !== principal.email.toLowerCase()) {
      throw ProblemException.forbidden("The X-User-ID header does not match the calling key's user.");
    }
    const mapped = this.mapper.map(dto.email, principal.organizationDomain);
    if (!mapped.ok) {
      throw ProblemException.validation([{ field: 'email', message: `email ${mapped.reason}` }]);
    }
    // User and key in one statement (see UsersService.insertUserWithKey): one transaction, one round trip.
    const plaintext = generateApiKey();
    const user = await this.users.insertUserWithKey(
      this.dataSource.manager,
      {
        email: mapped.email,
        organizationId: principal.organizationId,
        role: 'member',
        apiOnly: true,
        status: 'active',
        externalEmail: mapped.externalEmail,
        provisionedBy: principal.userId,
      },
      { billingOrganizationId: principal.organizationId, keyHash: hashApiKey(plaintext), prefix: displayPrefix(plaintext) },
    );
    return { ...toUserDto(user), api_key: plaintext };
  }
}
