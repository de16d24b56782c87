import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { mayReceiveClaim } from '../common/authorization/access-policy';
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
    const found = await this.find(token, now);
    return found ? { found: true, preview: found.preview } : { found: false };
  }

  /**
   * Preview of a claimable provision: 404 unknown, 410 when it is no longer pending. With the full
   * key of an active user other than the placeholder, also what a claim with that key would do.
   */
  async preview(token: string, principal?: Principal): Promise<ClaimPreviewDto> {
    const found = await this.find(token, new Date());
    if (!found) throw unknownToken();
    const { preview, placeholderId } = found;
    if (preview.status !== 'pending') throw Problems.claimLinkGone(preview.status);
    if (!principal || principal.status !== 'active' || !mayReceiveClaim(principal)) return preview;
    if (placeholderId === null || placeholderId === principal.userId) return preview;
    return {
      ...preview,
      transfer: {
        into_user_id: principal.userId,
        into_email: principal.email,
        keys: await this.keys.countAll(undefined, placeholderId),
        billing_organization: preview.organization,
        scope: 'restricted',
      },
    };
  }

  private async find(token: string, now: Date): Promise<{ preview: ClaimPreviewDto; placeholderId: string | null } | null> {
    if (!isWellFormedClaimToken(token)) return null;
    const row = await this.provisions.findByTokenHash(undefined, hashClaimToken(token));
    if (!row) return null;
    return {
      placeholderId: row.user_id,
      preview: {
        organization: row.domain,
        role: row.role,
        expires_at: row.expires_at.toISOString(),
        status: effectiveProvisionStatus(row.status, row.expires_at, now),
      },
    };
  }

  /**
   * Claims a provision, once. The provision row is switched from `pending` to `claimed` by one
   * conditional UPDATE (pending and unexpired), which row-locks it: of concurrent claims exactly one
   * sees `pending`; the others wait for it and then answer 410. Everything else happens in the same
   * transaction, so a refused claim (409) leaves the provision pending.
   *
   * - Without a key: the placeholder user becomes `active`, never expires, `external_email` = email.
   * - With the full key of another active user: the provisioned keys move to that user as
   *   `restricted` keys (billed as before) and the placeholder is deleted.
   */
  async claim(token: string, dto: ClaimDto, principal: Principal | undefined): Promise<ClaimResultDto> {
    if (!isWellFormedClaimToken(token)) throw unknownToken();
    if (principal && !mayReceiveClaim(principal)) {
      throw Problems.forbidden('A restricted key cannot receive a claim; send a full key of the account, or no key.');
    }
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
