import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyVerifier, KeyRefusal } from '../api-keys/api-key-verifier';
import { Access, ACCESS_METADATA, API_KEY_HEADER, RequestWithPrincipal } from '../common/auth.decorators';
import { Problems } from '../common/problem';

const refusalText: Record<KeyRefusal, string> = {
  malformed: 'The API key is not a valid Provisio key.',
  not_found: 'The API key is not known.',
  revoked: 'The API key has been revoked.',
  user_disabled: "The API key's user is disabled.",
  expired: "The API key's provision has expired.",
};

/** Global authentication: resolves X-API-Key to a principal on the request, or answers 401. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = readAccess(this.reflector, context);
    if (access === 'public') return true;
    const request = context.switchToHttp().getRequest<RequestWithPrincipal>();
    const header = request.headers[API_KEY_HEADER];
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined || key === '') {
      if (access === 'optional') return true;
      throw Problems.unauthorized('The X-API-Key header is required.');
    }
    const result = await this.verifier.verify(key.trim());
    if (!result.valid) throw Problems.unauthorized(refusalText[result.reason]);
    request.principal = result.principal;
    return true;
  }
}

/** Route metadata never changes after start-up: read once per handler, for both guards. */
const accessByHandler = new WeakMap<object, Access>();

export function readAccess(reflector: Reflector, context: ExecutionContext): Access {
  const handler = context.getHandler();
  let access = accessByHandler.get(handler);
  if (access === undefined) {
    access = reflector.getAllAndOverride<Access | undefined>(ACCESS_METADATA, [handler, context.getClass()]) ?? 'any';
    accessByHandler.set(handler, access);
  }
  return access;
}
