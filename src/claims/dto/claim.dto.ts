import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { PROVISION_ROLES, PROVISION_STATUSES } from '../../provisioning/provision-status';
import type { ProvisionRole, ProvisionStatus } from '../../provisioning/provision-status';

/** What a claim sent with the same X-API-Key would do (a dry run: nothing changes). */
export class ClaimTransferPreviewDto {
  /** The account that would receive the provisioned keys (the X-API-Key's user). */
  into_user_id: string;
  into_email: string;
  /** How many keys would move; they become `restricted` keys of that account. */
  keys: number;
  /** The domain of the organization whose credit pool the moved keys would keep spending. */
  billing_organization: string;
  @ApiProperty({ enum: ['restricted'] })
  scope: 'restricted';
}

export class ClaimPreviewDto {
  /** The domain of the organization that provisioned the account. */
  @ApiProperty({ example: 'orchestrator.com' })
  organization: string;
  @ApiProperty({ enum: PROVISION_ROLES })
  role: ProvisionRole;
  /** Until when the link can be claimed. */
  expires_at: string;
  /** Always `pending` here: any other status answers 410. */
  @ApiProperty({ enum: PROVISION_STATUSES, example: 'pending' })
  status: ProvisionStatus;
  /**
   * Only when sent with the full key of an active user other than the provisioned one: what a
   * claim with that key would do.
   */
  transfer?: ClaimTransferPreviewDto;
}

export class ClaimDto {
  /** Your real email address. */
  @IsString()
  @MaxLength(320)
  email: string;
}

export class ClaimResultDto {
  provision_id: string;
  @ApiProperty({ enum: ['claimed'] })
  status: 'claimed';
  /**
   * `activated`: the provisioned user is now yours (status `active`) and keeps its key;
   * `transferred`: its keys moved to the account of the X-API-Key you sent, and it was deleted.
   */
  @ApiProperty({ enum: ['activated', 'transferred'] })
  outcome: 'activated' | 'transferred';
  /** The account that holds the provisioned keys now. */
  user_id: string;
  /** That account's address. */
  email: string;
  /** The domain of the organization whose credit pool the provisioned keys keep spending. */
  organization: string;
  /** How many keys moved (0 when activated). */
  moved_keys: number;
  claimed_at: string;
}
