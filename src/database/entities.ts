import { ApiKey } from '../api-keys/entities/api-key.entity';
import { CreditPool } from '../billing/entities/credit-pool.entity';
import { LedgerEntry } from '../billing/entities/ledger-entry.entity';
import { IdempotencyKey } from '../common/idempotency/idempotency-key.entity';
import { Provision } from '../provisioning/entities/provision.entity';
import { Organization } from '../users/entities/organization.entity';
import { User } from '../users/entities/user.entity';

/**
 * Every entity, listed once, for the DataSource (migrations, the schema check, the TypeORM CLI).
 * Each module also registers its own with TypeOrmModule.forFeature for its repositories.
 */
export const ENTITIES = [Organization, User, ApiKey, Provision, CreditPool, LedgerEntry, IdempotencyKey];
