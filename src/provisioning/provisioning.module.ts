import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { IdempotencyModule } from '../common/idempotency';
import { UsersModule } from '../users/users.module';
import { EmailDomainMapper } from './email-domain-mapper';
import { ExpiryJob } from './expiry.job';
import { ProvisioningController } from './provisioning.controller';
import { ProvisioningService } from './provisioning.service';
import { ProvisionsController } from './provisions.controller';
import { ProvisionsService } from './provisions.service';

@Module({
  imports: [UsersModule, ApiKeysModule, IdempotencyModule],
  controllers: [ProvisioningController, ProvisionsController],
  providers: [ProvisioningService, ProvisionsService, EmailDomainMapper, ExpiryJob],
  exports: [ProvisioningService, ProvisionsService, EmailDomainMapper],
})
export class ProvisioningModule {}
