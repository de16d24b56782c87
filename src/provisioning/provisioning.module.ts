import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { IdempotencyModule } from '../common/idempotency';
import { UsersModule } from '../users/users.module';
import { ClaimableProvisionsController } from './claimable-provisions.controller';
import { ClaimableProvisionsService } from './claimable-provisions.service';
import { CreateUserController } from './create-user.controller';
import { CreateUserService } from './create-user.service';
import { EmailDomainMapper } from './email-domain-mapper';
import { Provision } from './entities/provision.entity';
import { ExpiryJob } from './expiry.job';
import { ProvisionsRepository } from './provisions.repository';

@Module({
  imports: [TypeOrmModule.forFeature([Provision]), UsersModule, ApiKeysModule, IdempotencyModule],
  controllers: [CreateUserController, ClaimableProvisionsController],
  providers: [CreateUserService, ClaimableProvisionsService, ProvisionsRepository, EmailDomainMapper, ExpiryJob],
  exports: [CreateUserService, ClaimableProvisionsService, ProvisionsRepository, EmailDomainMapper],
})
export class ProvisioningModule {}
