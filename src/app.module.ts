import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthModule } from './auth/auth.module';
import { BillingModule } from './billing/billing.module';
import { ClaimsModule } from './claims/claims.module';
import { MetricsModule } from './common/metrics/metrics.module';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { dataSourceOptions } from './database/data-source-options';
import { DatabaseModule } from './database/database';
import { HealthModule } from './health/health.module';
import { ProvisioningModule } from './provisioning/provisioning.module';
import { UsersModule } from './users/users.module';

@Module({})
export class AppModule {
  /** The application for one validated configuration whose database URL is known. */
  static forRoot(config: AppConfig & { databaseUrl: string }, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        // Nest's own logs go through the application's pino logger; requests are logged by the
        // access-log hook (common/access-log.ts), so no pino-http middleware is applied.
        LoggerModule.forRoot({ pinoHttp: { logger }, forRoutes: [] }),
        TypeOrmModule.forRoot({ ...dataSourceOptions(config.databaseUrl, config.databasePoolSize), migrationsRun: true }),
        ScheduleModule.forRoot(),
        DatabaseModule,
        MetricsModule,
        AuthModule,
        HealthModule,
        UsersModule,
        ApiKeysModule,
        ProvisioningModule,
        ClaimsModule,
        BillingModule,
      ],
    };
  }
}
