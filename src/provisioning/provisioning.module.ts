import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { UsersModule } from '../users/users.module';
import { EmailDomainMapper } from './email-domain-mapper';
import { ProvisioningController } from './provisioning.controller';
import { ProvisioningService } from './provisioning.service';

@Module({
  imports: [UsersModule, ApiKeysModule],
  controllers: [ProvisioningController],
  providers: [ProvisioningService, EmailDomainMapper],
  exports: [ProvisioningService, EmailDomainMapper],
})
export class ProvisioningModule {}
