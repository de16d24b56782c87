import { Injectable } from '@nestjs/common';
import { parseEmailAddress } from '../common/email';

export type EmailMapping = { ok: true; email: string; externalEmail: string } | { ok: false; reason: string };

/**
 * Places an end-user's address under the provisioner's domain:
 * `alice@alice-startup.com` for `orchestrator.com` becomes `alice@orchestrator.com`.
 * The local part is kept (lower-cased, `+tags` kept); an address already on the domain is kept.
 */
@Injectable()
export class EmailDomainMapper {
  map(requested: string, provisionerDomain: string): EmailMapping {
    const parsed = parseEmailAddress(requested);
    if (!parsed.ok) return parsed;
    const email = `${parsed.address.local}@${provisionerDomain.toLowerCase()}`;
    return { ok: true, email, externalEmail: requested.trim() };
  }
}
