import { Body, Controller, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems.decorator';
import { Operator } from '../common/auth.decorators';
import { AdminCreateUserDto, AdminUpdateUserDto, CreatedUserDto, UserDto, UserIdParamsDto } from './dto/user.dto';
import { UsersService } from './users.service';

const PUBLIC_MAILBOX_PROVISIONER = 'The provisioner flag on a public mailbox domain.';

@ApiTags('admin')
@Operator()
@ApiProblems({ 400: 'Invalid request.' })
@Controller('api/v1/admin')
export class AdminUsersController {
  constructor(private readonly users: UsersService) {}

  /** Creates a user of any domain, with an API key. */
  @Post('users')
  @ApiProblems({
    409: 'A user with this email exists; `existing_user_id` names it.',
    422: PUBLIC_MAILBOX_PROVISIONER,
  })
  create(@Body() dto: AdminCreateUserDto): Promise<CreatedUserDto> {
    return this.users.adminCreate(dto);
  }

  /** Sets a user's provisioner flag or status. */
  @Patch('users/:id')
  @ApiProblems({
    404: 'No such user.',
    409: 'The user belongs to a pending provision.',
    422: PUBLIC_MAILBOX_PROVISIONER,
  })
  update(@Param() params: UserIdParamsDto, @Body() dto: AdminUpdateUserDto): Promise<UserDto> {
    return this.users.adminUpdate(params.id, dto);
  }
}
