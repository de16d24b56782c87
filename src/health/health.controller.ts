import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { ApiKeyCache } from '../api-keys/api-key-cache';
import { ApiProblems } from '../common/api-problems.decorator';
import { Public } from '../common/auth.decorators';
import { NoRateLimit } from '../common/rate-limit/rate-limit.decorators';
import { GracefulShutdown } from '../common/graceful-shutdown';
import { Problems } from '../common/problem';

/** How long the readiness check waits for the database's answer. */
const DATABASE_PING_TIMEOUT_MS = 2000;

const HEALTH_BODY = {
  type: 'object',
  properties: {
    status: { type: 'string', example: 'ok' },
    info: { type: 'object', additionalProperties: true },
    error: { type: 'object', additionalProperties: true },
    details: { type: 'object', additionalProperties: true },
  },
};

/**
 * Liveness (`/health/live`: the process serves) and readiness (`/health/ready` and `/health`: the
 * database answers and the instance is not shutting down), with @nestjs/terminus. A refusal is a
 * problem in the service's own scheme (`shutting-down` or `database-unavailable`) whose `checks`
 * member holds terminus's details. The key cache listener's state is reported in the details but
 * never fails readiness: while it cannot prove it hears other instances (`verified: false`) the
 * cache keeps keys about a second, and the service stays correct.
 */
@ApiTags('health')
@Controller('health')
@NoRateLimit()
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly shutdown: GracefulShutdown,
    private readonly keyCache: ApiKeyCache,
  ) {}

  @Get()
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness (same as /health/ready)' })
  @ApiOkResponse({ description: 'Ready: the database answers and the instance is not shutting down.', schema: HEALTH_BODY })
  @ApiProblems({ 503: 'Not ready: shutting down (`shutting-down`), or the database does not answer (`database-unavailable`).' })
  check() {
    return this.readiness();
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness: 200 when the database answers and the instance is not shutting down' })
  @ApiOkResponse({ description: 'Ready: the database answers and the instance is not shutting down.', schema: HEALTH_BODY })
  @ApiProblems({ 503: 'Not ready: shutting down (`shutting-down`), or the database does not answer (`database-unavailable`).' })
  ready() {
    return this.readiness();
  }

  @Get('live')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness: 200 while the process serves, whatever the database' })
  @ApiOkResponse({ description: 'The process serves requests.', schema: HEALTH_BODY })
  live() {
    return this.health.check([() => this.indicators.check('process').up({ uptime_seconds: Math.round(process.uptime()) })]);
  }

  private async readiness(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.shuttingDown(),
        () => this.db.pingCheck('database', { timeout: DATABASE_PING_TIMEOUT_MS }),
        () => this.keyCacheListener(),
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const result = error.getResponse() as HealthCheckResult;
      const checks = { checks: result.details };
      if (this.shutdown.shuttingDown) throw Problems.shuttingDown(checks);
      throw Problems.databaseUnavailable(
        'The database does not answer; this instance cannot serve requests that need it.',
        checks,
      );
    }
  }

  private shuttingDown() {
    const session = this.indicators.check('shutdown');
    return this.shutdown.shuttingDown ? session.down({ message: 'shutting down' }) : session.up();
  }

  /** Always `up` (it never fails readiness); `verified: false` says the cache is failing closed. */
  private keyCacheListener() {
    return this.indicators.check('key_cache_listener').up({ ...this.keyCache.listenerHealth() });
  }
}
