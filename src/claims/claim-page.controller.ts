import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiGoneResponse, ApiNotFoundResponse, ApiOkResponse, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../common/auth.decorators';
import { randomBase62 } from '../common/random';
import { renderClaimPage } from './claim-page';
import { ClaimsService } from './claims.service';

const HTML = { 'text/html': { schema: { type: 'string' } } };

@ApiTags('claims')
@Controller('claim')
export class ClaimPageController {
  constructor(private readonly claims: ClaimsService) {}

  /**
   * The page a person opens from a claim link: organization, role, expiry, an email field and a
   * "Claim account" button that calls `POST /api/v1/claims/{token}`. Opening it never claims.
   */
  @Get(':token')
  @Public()
  @ApiProduces('text/html')
  @ApiParam({ name: 'token', description: 'The claim token: `pvc_` + 32 base62 characters.' })
  @ApiOkResponse({ description: 'The claim form (HTML).', content: HTML })
  @ApiNotFoundResponse({ description: 'An HTML page saying the link is not valid.', content: HTML })
  @ApiGoneResponse({ description: 'An HTML page saying the link was already claimed, expired or was cancelled.', content: HTML })
  async page(@Param('token') token: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const rendered = renderClaimPage(await this.claims.lookup(token), token, randomBase62(22));
    void reply.status(rendered.statusCode).headers(rendered.headers);
    return rendered.html;
  }
}
