import { DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthModule } from './auth/auth.module';
import { BillingModule } from './billing/billing.module';
import { ClaimsModule } from './claims/claims.module';
import { redactSecrets } from './common/redact';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { dataSourceOptions } from './database/data-source-options';
import { HealthModule } from './health/health.module';
import { ProvisioningModule } from './provisioning/provisioning.module';
import { UsersModule } from './users/users.module';

@Module({})
export class AppModule {
  /** The application for one validated configuration whose database URL is known. */
  static forRoot(config: AppConfig & { databaseUrl: string }): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggerModule.forRoot({
          // nestjs-pino's default route pattern does not match under Nest 12 on Fastify.
          forRoutes: [{ path: '*path', method: RequestMethod.ALL }],
          pinoHttp: {
            level: config.logLevel,
            // Secrets never reach the logs.
            redact: { paths: ['req.headers["x-api-key"]', 'req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
            // Claim links carry their token in the path: logged URLs never show it.
            serializers: {
              req: (req: { url?: unknown }) => {
                if (typeof req.url === 'string') req.url = redactSecrets(req.url);
                return req;
              },
            },
            autoLogging: { ignore: (req) => req.url === '/health' },
            customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
          },
        }),
        TypeOrmModule.forRoot({ ...dataSourceOptions(config.databaseUrl, config.databasePoolSize), migrationsRun: true }),
        ScheduleModule.forRoot(),
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
