import { Controller, Get } from '@nestjs/common';
import { ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../common/auth.decorators';
import { ProblemDto } from '../common/problem';
import { NoRateLimit } from '../common/rate-limit/rate-limit.decorators';

@ApiTags('health')
@Controller('health')
@NoRateLimit()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
  ) {}

  /** Liveness and database readiness. */
  @Get()
  @Public()
  @HealthCheck()
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'The database does not answer.' })
  check() {
    return this.health.check([() => this.db.pingCheck('database', { timeout: 3000 })]);
  }
}
