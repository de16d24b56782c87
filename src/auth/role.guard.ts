import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RequestWithPrincipal } from '../common/auth.decorators';
import { effectiveRights } from '../common/authorization/access-policy';
import { Problems } from '../common/problem';
import { readAccess } from './api-key.guard';

/**
 * Global authorization, after ApiKeyGuard: the route's @Provisioner()/@Operator()/@OrgManager()
 * requirement, against the caller's effective rights (a restricted key or a pending placeholder
 * is a plain member). Acting on one user or key is decided by the services, with the same policy.
 */
@Injectable()
export class RoleGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const access = readAccess(this.reflector, context);
    const principal = context.switchToHttp().getRequest<RequestWithPrincipal>().principal;
    if (access === 'public' || access === 'optional' || access === 'any') return true;
    const rights = principal ? effectiveRights(principal) : null;
    switch (access) {
      case 'provisioner':
        if (rights?.provisions) return true;
        throw Problems.forbidden(
          "This route is for provisioners: the key's user does not have the provisioner flag, or the key is restricted.",
        );
      case 'operator':
        if (rights?.operates) return true;
        throw Problems.forbidden('This route is for operators (with a key that is not restricted).');
      case 'org_manager':
        if (rights?.manages) return true;
        throw Problems.forbidden(
          "This route is for the organization's owners, admins and provisioners; a restricted key or a pending " +
            'provision acts as a plain member.',
        );
    }
  }
}
