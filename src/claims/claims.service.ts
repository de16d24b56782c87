import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { parseEmailAddress } from '../common/email';
import type { Principal } from '../common/principal';
import { ProblemException, Problems } from '../common/problem';
import { queryRows } from '../database/query-rows';
import { hashClaimToken, isWellFormedClaimToken } from '../provisioning/claim-token';
import { effectiveProvisionStatus, ProvisionRole, ProvisionStatus } from '../provisioning/provision-status';
import { UsersService } from '../users/users.service';
import { ClaimDto, ClaimPreviewDto, ClaimResultDto } from './dto/claim.dto';

/** What a claim token points at, for the preview and the claim page. */
export type ClaimLookup = { found: false } | { found: true; preview: ClaimPreviewDto };

interface ProvisionByToken {
  id: string;
  domain: string;
  role: ProvisionRole;
  status: ProvisionStatus;
  expires_at: Date;
}

@Injectable()
export class ClaimsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly apiKeys: ApiKeysService,
  ) {}

  /** The provision behind a token, with its effective status; `found: false` for unknown or malformed tokens. */
  async lookup(token: string, now = new Date()): Promise<ClaimLookup> {
    if (!isWellFormedClaimToken(token)) return { found: false };
    const row = await this.findByToken(this.dataSource.manager, token);
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
      const claimed = await queryRows<{ id: string; user_id: string | null; domain: string; claimed_at: Date }>(
        manager,
        `UPDATE provisions p
            SET status = 'claimed', claimed_at = now(), claimed_email = $2, updated_at = now()
           FROM organizations o
          WHERE p.claim_token_hash = $1 AND p.status = 'pending' AND p.expires_at > $3 AND o.id = p.organization_id
          RETURNING p.id, p.user_id, o.domain, p.claimed_at`,
        [hashClaimToken(token), claimedEmail, now],
      );
      if (claimed.length === 0) {
        const row = await this.findByToken(manager, token);
        if (!row) throw unknownToken();
        throw Problems.claimLinkGone(effectiveProvisionStatus(row.status, row.expires_at, now));
      }
      const provision = claimed[0];
      const placeholder = provision.user_id ? await this.lockUser(manager, provision.user_id) : null;
      if (!placeholder || placeholder.status !== 'pending_claim') {
        throw Problems.provisionUserDisabled();
      }

      let outcome: ClaimResultDto['outcome'];
      let holder: { id: string; email: string };
      let movedKeys = 0;
      if (!principal) {
        await this.users.activateClaimedUser(manager, placeholder.id, claimedEmail);
        outcome = 'activated';
        holder = placeholder;
      } else {
        if (principal.userId === placeholder.id) {
          throw Problems.claimIntoItself();
        }
        const target = await this.lockUser(manager, principal.userId);
        if (!target || target.status !== 'active') {
          throw Problems.claimantNotActive();
        }
        movedKeys = (await this.apiKeys.moveAllToUser(manager, placeholder.id, target.id)).length;
        await this.users.deletePlaceholderUsers(manager, [placeholder.id]);
        outcome = 'transferred';
        holder = target;
      }
      await manager.query(`UPDATE provisions SET claimed_by_user_id = $2 WHERE id = $1`, [provision.id, holder.id]);
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

  private async findByToken(manager: EntityManager, token: string): Promise<ProvisionByToken | null> {
    const rows: ProvisionByToken[] = await manager.query(
      `SELECT p.id, o.domain, p.role, p.status, p.expires_at
         FROM provisions p JOIN organizations o ON o.id = p.organization_id
        WHERE p.claim_token_hash = $1`,
      [hashClaimToken(token)],
    );
    return rows[0] ?? null;
  }

  private async lockUser(manager: EntityManager, id: string): Promise<{ id: string; email: string; status: string } | null> {
    const rows: { id: string; email: string; status: string }[] = await manager.query(
      `SELECT id, email, status FROM users WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return rows[0] ?? null;
  }
}

function unknownToken(): ProblemException {
  return Problems.notFound('This claim link is not known.');
}
