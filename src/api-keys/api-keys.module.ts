import { Module } from '@nestjs/common';
import { ApiKeyCache } from './api-key-cache';
import { ApiKeyUsageRecorder } from './api-key-usage';
import { ApiKeyVerifier } from './api-key-verifier';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { KeyCacheListener } from './key-cache-listener';

@Module({
  controllers: [ApiKeysController],
  providers: [ApiKeysService, ApiKeyVerifier, ApiKeyCache, KeyCacheListener, ApiKeyUsageRecorder],
  exports: [ApiKeysService, ApiKeyVerifier, ApiKeyCache, ApiKeyUsageRecorder],
})
export class ApiKeysModule {}
