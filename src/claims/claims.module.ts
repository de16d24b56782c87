import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { ProvisioningModule } from '../provisioning/provisioning.module';
import { UsersModule } from '../users/users.module';
import { ClaimPageController } from './claim-page.controller';
import { ClaimsController } from './claims.controller';
import { ClaimsService } from './claims.service';

/** Claim links: the public preview, the claim itself, and the HTML page a person opens. */
@Module({
  imports: [UsersModule, ApiKeysModule, ProvisioningModule],
  controllers: [ClaimsController, ClaimPageController],
  providers: [ClaimsService],
})
export class ClaimsModule {}
