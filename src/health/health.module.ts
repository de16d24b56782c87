import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), ApiKeysModule],
  controllers: [HealthController],
})
export class HealthModule {}
