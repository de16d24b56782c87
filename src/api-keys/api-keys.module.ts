import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyCache } from './api-key-cache';
import { ApiKeyUsageRecorder } from './api-key-usage';
import { ApiKeyVerifier } from './api-key-verifier';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { ApiKey } from './entities/api-key.entity';
import { KeyCacheListener } from './key-cache-listener';

@Module({
  imports: [TypeOrmModule.forFeature([ApiKey])],
  controllers: [ApiKeysController],
  providers: [ApiKeysService, ApiKeysRepository, ApiKeyVerifier, ApiKeyCache, KeyCacheListener, ApiKeyUsageRecorder],
  exports: [ApiKeysService, ApiKeysRepository, ApiKeyVerifier, ApiKeyCache, ApiKeyUsageRecorder],
})
export class ApiKeysModule {}
