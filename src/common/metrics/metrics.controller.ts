import { Controller, Get, Header, Headers, Res } from '@nestjs/common';
import { ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { Public } from '../auth.decorators';
import { ApiProblems } from '../api-problems.decorator';
import { Problems } from '../problem';
import { NoRateLimit } from '../rate-limit/rate-limit.decorators';
import { MetricsService } from './metrics.service';

/** Name of the OpenAPI security scheme for METRICS_TOKEN. */
export const METRICS_TOKEN_SCHEME = 'metrics_token';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  private readonly tokenDigest: Buffer | null;

  constructor(
    private readonly metrics: MetricsService,
    config: AppConfig,
  ) {
    this.tokenDigest = config.metricsToken ? digest(config.metricsToken) : null;
  }

  /** Prometheus metrics (text format). With METRICS_TOKEN set, send `Authorization: Bearer <token>`. */
  @Get()
  @Public()
  @NoRateLimit()
  @ApiSecurity({})
  @ApiSecurity(METRICS_TOKEN_SCHEME)
  @ApiOkResponse({
    description: 'Prometheus text exposition format 0.0.4.',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiProblems({ 401: 'METRICS_TOKEN is set and the bearer token is missing or wrong.' })
  @Header('Cache-Control', 'no-store')
  async scrape(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (this.tokenDigest && !this.authorized(authorization)) {
      void reply.header('WWW-Authenticate', 'Bearer realm="metrics"');
      throw Problems.unauthorized('GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`.');
    }
    void reply.header('Content-Type', this.metrics.contentType);
    return this.metrics.metrics();
  }

  /** Constant time: both sides are compared as SHA-256 digests, whatever their lengths. */
  private authorized(header: string | undefined): boolean {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    return match !== null && timingSafeEqual(digest(match[1]), this.tokenDigest!);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
