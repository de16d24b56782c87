import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import { ApiProblems } from './api-problems.decorator';
import type { Principal } from './principal';

/** Name of the OpenAPI security scheme for the X-API-Key header. */
export const API_KEY_SCHEME = 'api_key';
export const API_KEY_HEADER = 'x-api-key';

/**
 * Who may call a route, read by the global guards:
 * - `public`: no key needed;
 * - `optional`: a key is used when sent (and must then be valid);
 * - `any`: any valid key;
 * - `org_manager`: an owner or admin of the organization, or a provisioner;
 * - `provisioner`, `operator`: the user holds that flag.
 * Each against the caller's effective rights (common/authorization/access-policy): a restricted
 * key or a pending provision's key is a plain member whatever its user's role and flags.
 */
export type Access = 'public' | 'optional' | 'any' | 'org_manager' | 'provisioner' | 'operator';
export const ACCESS_METADATA = 'provisio:access';

/** Routes without this decorator need a valid key: secure by default. */
export const Public = () => SetMetadata(ACCESS_METADATA, 'public' satisfies Access);

/** Auth requirement and its OpenAPI security note, declared together. */
export function ApiKeyAuth(access: Exclude<Access, 'public'> = 'any') {
  const decorators = [
    SetMetadata(ACCESS_METADATA, access),
    ApiSecurity(API_KEY_SCHEME),
    ApiProblems({
      401: 'Missing, unknown, revoked or expired API key.',
      ...(access !== 'any' && access !== 'optional' ? { 403: forbiddenText[access] } : {}),
    }),
  ];
  if (access === 'optional') decorators.push(ApiSecurity({}));
  return applyDecorators(...decorators);
}

const forbiddenText: Record<'org_manager' | 'provisioner' | 'operator', string> = {
  org_manager:
    'The key is valid but belongs to neither an owner/admin of the organization nor a provisioner, or it is a ' +
    "restricted key or a pending provision's key (those act as a plain member); or, acting on a user, you do not " +
    'outrank it.',
  provisioner: 'The key is valid but its user is not a provisioner, or the key is restricted.',
  operator: 'The key is valid but its user is not an operator, or the key is restricted.',
};

export const Provisioner = () => ApiKeyAuth('provisioner');
export const Operator = () => ApiKeyAuth('operator');
export const OrgManager = () => ApiKeyAuth('org_manager');
export const OptionalApiKey = () => ApiKeyAuth('optional');

export interface RequestWithPrincipal {
  principal?: Principal;
  headers: Record<string, string | string[] | undefined>;
}

/** The verified caller. On `optional` routes it is undefined when no key was sent. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Principal | undefined =>
    ctx.switchToHttp().getRequest<RequestWithPrincipal>().principal,
);
