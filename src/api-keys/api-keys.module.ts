import { Module } from '@nestjs/common';
import { ApiKeyVerifier } from './api-key-verifier';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';

@Module({
  controllers: [ApiKeysController],
  providers: [ApiKeysService, ApiKeyVerifier],
  exports: [ApiKeysService, ApiKeyVerifier],
})
export class ApiKeysModule {}
