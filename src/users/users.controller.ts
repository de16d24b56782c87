import { Controller, Delete, Get, Header, HttpCode, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeyAuth, CurrentPrincipal, OrgManager } from '../common/auth.decorators';
import type { Principal } from '../common/principal';
import { ProblemDto } from '../common/problem';
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
  @ApiBadRequestResponse({ type: ProblemDto, description: 'Invalid query parameters.' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListUsersQueryDto): Promise<UserPageDto> {
    return this.users.list(principal, query);
  }

  /** One user of your organization. */
  @Get('users/:id')
  @OrgManager()
  @ApiBadRequestResponse({ type: ProblemDto, description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'No such user in your organization.' })
  get(@CurrentPrincipal() principal: Principal, @Param() params: UserIdParamsDto): Promise<UserDto> {
    return this.users.get(principal, params.id);
  }

  /** Deactivates a user of your organization: status `disabled`, every key revoked at once. */
  @Delete('users/:id')
  @HttpCode(204)
  @OrgManager()
  @ApiBadRequestResponse({ type: ProblemDto, description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'No such user in your organization.' })
  @ApiConflictResponse({ type: ProblemDto, description: 'You cannot deactivate yourself.' })
  deactivate(@CurrentPrincipal() principal: Principal, @Param() params: UserIdParamsDto): Promise<void> {
    return this.users.deactivate(principal, params.id);
  }
}
