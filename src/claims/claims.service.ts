import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { parseEmailAddress } from '../common/email';
import type { Principal } from '../common/principal';
import { ProblemException, Problems } from '../common/problem';
import { hashClaimToken, isWellFormedClaimToken } from '../provisioning/claim-token';
import { effectiveProvisionStatus } from '../provisioning/provision-status';
import { ProvisionsRepository } from '../provisioning/provisions.repository';
import { UsersRepository } from '../users/users.repository';
import { ClaimDto, ClaimPreviewDto, ClaimResultDto } from './dto/claim.dto';

/** What a claim token points at, for the preview and the claim page. */
export type ClaimLookup = { found: false } | { found: true; preview: ClaimPreviewDto };

@Injectable()
export class ClaimsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly provisions: ProvisionsRepository,
    private readonly users: UsersRepository,
    private readonly keys: ApiKeysRepository,
  ) {}

  /** The provision behind a token, with its effective status; `found: false` for unknown or malformed tokens. */
  async lookup(token: string, now = new Date()): Promise<ClaimLookup> {
    if (!isWellFormedClaimToken(token)) return { found: false };
    const row = await this.provisions.findByTokenHash(undefined, hashClaimToken(token));
    if (!row) return { found: false };
    return {
      found: true,
      preview: {
        organization: row.domain,
        role: row.role,
        expires_at: row.expires_at.toISOString(),
        status: effectiveProvisionStatus(row.status, row.expires_at, now),
      },
    };
  }

  /** Preview of a claimable provision: 404 unknown, 410 when it is no longer pending. */
  async preview(token: string): Promise<ClaimPreviewDto> {
    const result = await this.lookup(token);
    if (!result.found) throw unknownToken();
    if (result.preview.status !== 'pending') throw Problems.claimLinkGone(result.preview.status);
    return result.preview;
  }

  /**
   * Claims a provision, once. The provision row is switched from `pending` to `claimed` by one
   * conditional UPDATE (pending and unexpired), which row-locks it: of concurrent claims exactly one
   * sees `pending`; the others wait for it and then answer 410. Everything else happens in the same
   * transaction, so a refused claim (409) leaves the provision pending.
   *
   * - Without a key: the placeholder user becomes `active`, never expires, `external_email` = email.
   * - With the key of another active user: the provisioned keys move to that user (billed as before)
   *   and the placeholder is deleted.
   */
  async claim(token: string, dto: ClaimDto, principal: Principal | undefined): Promise<ClaimResultDto> {
    if (!isWellFormedClaimToken(token)) throw unknownToken();
    const parsed = parseEmailAddress(dto.email);
    if (!parsed.ok) throw Problems.validationFailed([{ field: 'email', message: `email ${parsed.reason}` }]);
    const claimedEmail = dto.email.trim();
    const now = new Date();

    return this.dataSource.transaction(async (manager) => {
      const provision = await this.provisions.claimPending(manager, hashClaimToken(token), claimedEmail, now);
      if (!provision) {
        const row = await this.provisions.findByTokenHash(manager, hashClaimToken(token));
        if (!row) throw unknownToken();
        throw Problems.claimLinkGone(effectiveProvisionStatus(row.status, row.expires_at, now));
      }
      const placeholder = provision.user_id ? await this.users.findForUpdate(manager, provision.user_id) : null;
      if (!placeholder || placeholder.status !== 'pending_claim') {
        throw Problems.provisionUserDisabled();
      }

      let outcome: ClaimResultDto['outcome'];
      let holder: { id: string; email: string };
      let movedKeys = 0;
      if (!principal) {
        await this.users.activateClaimed(manager, placeholder.id, claimedEmail);
        outcome = 'activated';
        holder = placeholder;
      } else {
        if (principal.userId === placeholder.id) {
          throw Problems.claimIntoItself();
        }
        const target = await this.users.findForUpdate(manager, principal.userId);
        if (!target || target.status !== 'active') {
          throw Problems.claimantNotActive();
        }
        movedKeys = (await this.keys.moveAllToUser(manager, placeholder.id, target.id)).length;
        await this.users.deletePlaceholders(manager, [placeholder.id]);
        outcome = 'transferred';
        holder = target;
      }
      await this.provisions.setClaimedBy(manager, provision.id, holder.id);
      return {
        provision_id: provision.id,
        status: 'claimed',
        outcome,
        user_id: holder.id,
        email: holder.email,
        organization: provision.domain,
        moved_keys: movedKeys,
        claimed_at: provision.claimed_at.toISOString(),
      };
    });
  }
}

function unknownToken(): ProblemException {
  return Problems.notFound('This claim link is not known.');
}
