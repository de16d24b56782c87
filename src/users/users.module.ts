import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AdminUsersController } from './admin-users.controller';
import { Organization } from './entities/organization.entity';
import { User } from './entities/user.entity';
import { MeService } from './me.service';
import { OperatorBootstrap } from './operator-bootstrap';
import { OrganizationsRepository } from './organizations.repository';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([User, Organization]), ApiKeysModule],
  controllers: [UsersController, AdminUsersController],
  providers: [UsersService, UsersRepository, OrganizationsRepository, MeService, OperatorBootstrap],
  exports: [UsersService, UsersRepository, OrganizationsRepository],
})
export class UsersModule {}
