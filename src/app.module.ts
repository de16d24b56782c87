import { DynamicModule, Global, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthModule } from './auth/auth.module';
import { BillingModule, SpendLimitsModule } from './billing/billing.module';
import { ClaimsModule } from './claims/claims.module';
import { MetricsModule } from './common/metrics/metrics.module';
import { GracefulShutdown } from './common/graceful-shutdown';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { DatabaseHealth } from './database/database-health';
import { dataSourceOptions } from './database/data-source-options';
import { DatabaseModule } from './database/database';
import { HealthModule } from './health/health.module';
import { ProvisioningModule } from './provisioning/provisioning.module';
import { UsersModule } from './users/users.module';

/** The state one application instance keeps about itself: whether it is draining, whether its database answers. */
export interface RuntimeState {
  shutdown: GracefulShutdown;
  database: DatabaseHealth;
}

/** Provides the RuntimeState objects, which app.factory.ts creates before the module graph (its hooks use them). */
@Global()
@Module({})
class RuntimeStateModule {
  static forRoot(state: RuntimeState): DynamicModule {
    return {
      module: RuntimeStateModule,
      providers: [
        { provide: GracefulShutdown, useValue: state.shutdown },
        { provide: DatabaseHealth, useValue: state.database },
      ],
      exports: [GracefulShutdown, DatabaseHealth],
    };
  }
}

@Module({})
export class AppModule {
  /** The application for one validated configuration whose database URL is known. */
  static forRoot(config: AppConfig & { databaseUrl: string }, logger: Logger, state: RuntimeState): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        RuntimeStateModule.forRoot(state),
        // Nest's own logs go through the application's pino logger; requests are logged by the
        // access-log hook (common/access-log.ts), so no pino-http middleware is applied.
        LoggerModule.forRoot({ pinoHttp: { logger }, forRoutes: [] }),
        TypeOrmModule.forRoot({
          ...dataSourceOptions(config.databaseUrl, config.databasePoolSize, {
            health: state.database,
            idleInTransactionSeconds: config.idempotencyLockSeconds,
          }),
          migrationsRun: true,
        }),
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
        SpendLimitsModule,
      ],
    };
  }
}
