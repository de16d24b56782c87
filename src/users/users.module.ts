import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AdminUsersController } from './admin-users.controller';
import { OperatorBootstrap } from './operator-bootstrap';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({
  imports: [ApiKeysModule],
  controllers: [UsersController, AdminUsersController],
  providers: [UsersService, OperatorBootstrap],
  exports: [UsersService],
})
export class UsersModule {}
