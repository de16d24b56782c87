import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RequestWithPrincipal } from '../common/auth.decorators';
import { canManageOrganization } from '../common/principal';
import { Problems } from '../common/problem';
import { readAccess } from './api-key.guard';

/** Global authorization, after ApiKeyGuard: the route's @Provisioner()/@Operator()/@OrgManager() requirement. */
@Injectable()
export class RoleGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const access = readAccess(this.reflector, context);
    const principal = context.switchToHttp().getRequest<RequestWithPrincipal>().principal;
    switch (access) {
      case 'public':
      case 'optional':
      case 'any':
        return true;
      case 'provisioner':
        if (principal?.isProvisioner) return true;
        throw Problems.forbidden("This route is for provisioners: the key's user does not have the provisioner flag.");
      case 'operator':
        if (principal?.isOperator) return true;
        throw Problems.forbidden('This route is for operators.');
      case 'org_manager':
        if (principal && canManageOrganization(principal)) return true;
        throw Problems.forbidden("This route is for the organization's owners, admins and provisioners.");
    }
  }
}
