import { ApiKey } from '../api-keys/entities/api-key.entity';
import { LedgerEntry } from '../billing/entities/ledger-entry.entity';
import { IdempotencyKey } from '../common/idempotency/idempotency-key.entity';
import { Provision } from '../provisioning/entities/provision.entity';
import { Organization } from '../users/entities/organization.entity';
import { User } from '../users/entities/user.entity';

/** Every entity, listed once: the app and the TypeORM CLI share this list. */
export const ENTITIES = [Organization, User, ApiKey, Provision, LedgerEntry, IdempotencyKey];
