import { Injectable, Optional } from '@nestjs/common';
import { SpendLimits } from '../common/spend-limits';
import type { Principal } from '../common/principal';
import { MeDto } from './dto/user.dto';

/**
 * `/me`: answered from the principal alone, no query. Principals come from the key cache and never
 * change (a change replaces them), so each one's answer — a MeDto as JSON — is serialized once.
 */
@Injectable()
export class MeService {
  private readonly jsonByPrincipal = new WeakMap<Principal, string>();

  constructor(@Optional() private readonly spendLimits?: SpendLimits) {}

  /**
   * The cached answer; a caller with a spend limit also gets what is spent and left of it, which
   * changes with every charge: one primary-key read of spend_limits, only for those callers.
   */
  me(principal: Principal): string | Promise<string> {
    const json = this.meJson(principal);
    const limit = principal.spendLimit;
    if (!limit || !this.spendLimits) return json;
    return this.spendLimits.currentWindow(principal).then((window) => {
      const spent = window?.spent ?? 0;
      const part = {
        units: limit.units,
        period: limit.period,
        spent,
        remaining: Math.max(0, limit.units - spent),
        resets_at: window?.resets_at ?? null,
      };
      return json.replace(/"spend_limit":null}$/, `"spend_limit":${JSON.stringify(part)}}`);
    });
  }

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
    spend_limit: null,
  };
}
