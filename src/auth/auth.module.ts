import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RateLimiter } from '../common/rate-limit/rate-limiter';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { ApiKeyGuard } from './api-key.guard';
import { RoleGuard } from './role.guard';

/** Registers the global guards, in order: authenticate (ApiKeyGuard), then authorize (RoleGuard). */
@Module({
  imports: [ApiKeysModule],
  providers: [RateLimiter, { provide: APP_GUARD, useClass: ApiKeyGuard }, { provide: APP_GUARD, useClass: RoleGuard }],
})
export class AuthModule {}
