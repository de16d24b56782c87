import { Controller, Delete, Get, Header, HttpCode, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { ApiKeyAuth, CurrentPrincipal, OrgManager } from '../common/auth.decorators';
import type { Principal } from '../common/principal';
import { ListUsersQueryDto, MeDto, UserDto, UserIdParamsDto, UserPageDto } from './dto/user.dto';
import { MeService } from './me.service';
import { UsersService } from './users.service';

@ApiTags('users')
@Controller('api/v1')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly meService: MeService,
  ) {}

  /** The calling key's user and organization. */
  @Get('me')
  @ApiKeyAuth()
  @ApiOkResponse({ type: MeDto, description: "The calling key's user and organization." })
  // The hottest route: its document is serialized once per cached principal and sent as it is.
  @Header('Content-Type', 'application/json; charset=utf-8')
  me(@CurrentPrincipal() principal: Principal): string {
    return this.meService.meJson(principal);
  }

  /** Users of your organization. */
  @Get('users')
  @OrgManager()
  @ApiProblems({ 400: 'Invalid query parameters.' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListUsersQueryDto): Promise<UserPageDto> {
    return this.users.list(principal, query);
  }

  /** One user of your organization. */
  @Get('users/:id')
  @OrgManager()
  @ApiProblems({ 400: 'The id is not a UUID.', 404: 'No such user in your organization.' })
  get(@CurrentPrincipal() principal: Principal, @Param() params: UserIdParamsDto): Promise<UserDto> {
    return this.users.get(principal, params.id);
  }

  /**
   * Deactivates a user of your organization, by rank (an owner deactivates admins and members, an
   * admin members, a provisioner the users it provisioned; only an operator an owner, a provisioner
   * or an operator): status `disabled`, every key revoked at once.
   */
  @Delete('users/:id')
  @HttpCode(204)
  @OrgManager()
  @ApiProblems({
    400: 'The id is not a UUID.',
    404: 'No such user in your organization.',
    409: 'You cannot deactivate yourself.',
  })
  deactivate(@CurrentPrincipal() principal: Principal, @Param() params: UserIdParamsDto): Promise<void> {
    return this.users.deactivate(principal, params.id);
  }
}
