import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal';
import { MeDto } from './dto/user.dto';

/**
 * `/me`: answered from the principal alone, no query. Principals come from the key cache and never
 * change (a change replaces them), so each one's answer — a MeDto as JSON — is serialized once.
 */
@Injectable()
export class MeService {
  private readonly jsonByPrincipal = new WeakMap<Principal, string>();

  meJson(principal: Principal): string {
    let json = this.jsonByPrincipal.get(principal);
    if (json === undefined) this.jsonByPrincipal.set(principal, (json = JSON.stringify(buildMe(principal))));
    return json;
  }
}

function buildMe(principal: Principal): MeDto {
  return {
    id: principal.userId,
    email: principal.email,
    organization_id: principal.organizationId,
    role: principal.role,
    is_provisioner: principal.isProvisioner,
    is_operator: principal.isOperator,
    api_only: principal.apiOnly,
    status: principal.status,
    external_email: principal.externalEmail,
    external_id: principal.externalId,
    provisioned_by: principal.provisionedBy,
    expires_at: principal.expiresAt?.toISOString() ?? null,
    created_at: principal.createdAt.toISOString(),
    organization: { id: principal.organizationId, domain: principal.organizationDomain },
    billing_organization_id: principal.billingOrganizationId,
    scope: principal.scope,
  };
}
