import { Body, Controller, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Operator } from '../common/auth.decorators';
import { ProblemDto } from '../common/problem';
import {
  AdminCreateUserDto,
  AdminUpdateUserDto,
  CreatedUserDto,
  UserDto,
  UserIdParamsDto,
} from './dto/user.dto';
import { UsersService } from './users.service';

@ApiTags('admin')
@Operator()
@ApiBadRequestResponse({ type: ProblemDto, description: 'Invalid request.' })
@Controller('api/v1/admin')
export class AdminUsersController {
  constructor(private readonly users: UsersService) {}

  /** Creates a user of any domain, with an API key. */
  @Post('users')
  @ApiConflictResponse({ type: ProblemDto, description: 'A user with this email exists; `existing_user_id` names it.' })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'The provisioner flag on a public mailbox domain.' })
  create(@Body() dto: AdminCreateUserDto): Promise<CreatedUserDto> {
    return this.users.adminCreate(dto);
  }

  /** Sets a user's provisioner flag or status. */
  @Patch('users/:id')
  @ApiNotFoundResponse({ type: ProblemDto, description: 'No such user.' })
  @ApiConflictResponse({ type: ProblemDto, description: 'The user belongs to a pending provision.' })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'The provisioner flag on a public mailbox domain.' })
  update(@Param() params: UserIdParamsDto, @Body() dto: AdminUpdateUserDto): Promise<UserDto> {
    return this.users.adminUpdate(params.id, dto);
  }
}
