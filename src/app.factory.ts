import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { DataSource } from 'typeorm';
import { AppModule, RuntimeState } from './app.module';
import { createAppLogger, registerAccessLog } from './common/access-log';
import { API_KEY_SCHEME } from './common/auth.decorators';
import { METRICS_TOKEN_SCHEME } from './common/metrics/metrics.controller';
import { GracefulShutdown } from './common/graceful-shutdown';
import { frameworkErrorAsProblem, ProblemDetailsFilter } from './common/problem-details.filter';
import { registerSecurityHeaders } from './common/security-headers';
import { documentRateLimits } from './common/rate-limit/rate-limit.openapi';
import { registerRequestIdHeader, requestIdOf } from './common/request-id';
import { parseJsonRefusingDeepNesting, StrictValidationPipe } from './common/validation';
import { AppConfig, fastifyTrustProxy } from './config/app-config';
import { DatabaseHealth } from './database/database-health';

export type ProvisioApp = NestFastifyApplication;

/**
 * Builds the whole application (adapter, validation, problem details, OpenAPI) for a config
 * whose database is known. main.ts and the e2e tests both start the service through here.
 */
export async function createApp(
  config: AppConfig & { databaseUrl: string },
  options: { logDestination?: DestinationStream } = {},
) {
  const logger = createAppLogger(config.logLevel, options.logDestination);
  // No Nest middleware is used (requests are logged by a Fastify hook): skipping @fastify/middie
  // saves its onRequest hook on every request.
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    // X-Forwarded-For is believed only from the proxies TRUST_PROXY names (unset: from none).
    trustProxy: fastifyTrustProxy(config.trustProxy),
    frameworkErrors: frameworkErrorAsProblem,
    skipMiddie: true,
    genReqId: requestIdOf,
  });
  registerRequestIdHeader(adapter.getInstance());
  registerAccessLog(adapter.getInstance(), logger, config.accessLog);
  registerSecurityHeaders(adapter.getInstance());
  // JSON only: Fastify's own application/json parser, and no other. Nest's default form parser and
  // Fastify's text/plain parser are left out, so any other Content-Type is a 415 problem instead of
  // a body validated as if it were JSON.
  adapter.getInstance().removeContentTypeParser('text/plain');
  parseJsonRefusingDeepNesting(adapter.getInstance());
  // What the instance knows about itself (draining? database reachable?), shared by the HTTP
  // server's hooks, the error filter, TypeORM's logger and /health/ready.
  const state: RuntimeState = { shutdown: new GracefulShutdown(), database: new DatabaseHealth() };
  state.shutdown.attach(adapter.getInstance().server);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, logger, state), adapter, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  const dataSource = app.get(DataSource);
  state.database.watch(() => dataSource.query('SELECT 1'));
  app.useGlobalPipes(new StrictValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter(state.database));
  setUpOpenApi(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

function setUpOpenApi(app: NestFastifyApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Provisio')
      .setDescription(
        'Orchestrators create API-only users for their end-users without a signup flow. ' +
          'Authenticate with the `X-API-Key` header; errors are RFC 9457 problem details.',
      )
      .setVersion('1')
      .addServer('/', 'This service (paths are relative to where the document is served)')
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A Provisio API key (pvk_…)' }, API_KEY_SCHEME)
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when the service sets one' },
        METRICS_TOKEN_SCHEME,
      )
      .build(),
  );
  declarePublicOperations(document);
  documentRateLimits(document);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', swaggerOptions: { persistAuthorization: true } });
}

/**
 * An operation without a security requirement is public (@Public()): say so with `security: []`,
 * as OpenAPI wants (and `redocly lint`'s security-defined rule checks), rather than leaving it unsaid.
 */
function declarePublicOperations(document: OpenAPIObject): void {
  for (const pathItem of Object.values(document.paths)) {
    for (const operation of Object.values(pathItem) as ({ security?: unknown[]; responses?: object } | undefined)[]) {
      if (operation?.responses && operation.security === undefined) operation.security = [];
    }
  }
}
