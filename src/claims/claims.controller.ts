import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { CurrentPrincipal, OptionalApiKey } from '../common/auth.decorators';
import type { Principal } from '../common/principal';
import { ClaimsService } from './claims.service';
import { ClaimDto, ClaimPreviewDto, ClaimResultDto } from './dto/claim.dto';

const TOKEN_PARAM = { name: 'token', description: 'The claim token from the claim link: `pvc_` + 32 base62 characters.' };

@ApiTags('claims')
@Controller('api/v1/claims')
export class ClaimsController {
  constructor(private readonly claims: ClaimsService) {}

  /**
   * What a claim link offers. Reading never claims. Sent with the full `X-API-Key` of an active
   * user, it also answers `transfer`: what a claim with that key would do (a dry run).
   */
  @Get(':token')
  @OptionalApiKey()
  @ApiParam(TOKEN_PARAM)
  @ApiProblems({
    404: 'Unknown (or malformed) token.',
    410: 'The provision was claimed, expired or cancelled; `provision_status` says which.',
  })
  preview(@Param('token') token: string, @CurrentPrincipal() principal: Principal | undefined): Promise<ClaimPreviewDto> {
    return this.claims.preview(token, principal);
  }

  /**
   * Claims the provisioned account, once. Without `X-API-Key` the provisioned user becomes yours
   * (status `active`, `external_email` = `email`) and keeps its key. With the `X-API-Key` of an
   * existing active account, the provisioned keys move to that account as `restricted` keys (they
   * act as a plain member there and still spend the provisioning organization's credits) and the
   * provisioned user is deleted.
   */
  @Post(':token')
  @HttpCode(200)
  @OptionalApiKey()
  @ApiParam(TOKEN_PARAM)
  @ApiOkResponse({ type: ClaimResultDto, description: 'Claimed.' })
  @ApiProblems({
    400: 'Invalid email or body.',
    403: 'The X-API-Key is a restricted key; it cannot receive a claim.',
    404: 'Unknown (or malformed) token.',
    409:
      'The receiving account is not active, is the provisioned account itself, or the provisioned account was deactivated. ' +
      'Nothing changed; the link stays usable.',
    410: 'Already claimed, expired or cancelled; `provision_status` says which.',
  })
  claim(
    @Param('token') token: string,
    @Body() dto: ClaimDto,
    @CurrentPrincipal() principal: Principal | undefined,
  ): Promise<ClaimResultDto> {
    return this.claims.claim(token, dto, principal);
  }
}
