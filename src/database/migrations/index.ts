import type { MigrationInterface } from 'typeorm';
import { InitialSchema1795434712884 } from './1795434712884-InitialSchema';
import { Provisions1795435625645 } from './1795435625645-Provisions';
import { Billing1795435626831 } from './1795435626831-Billing';
import { CreditPools1795500110000 } from './1795500110000-CreditPools';
import { ApiKeyScope1795500200000 } from './1795500200000-ApiKeyScope';
import { IdempotencyKeysPerUser1795500310000 } from './1795500310000-IdempotencyKeysPerUser';
import { LedgerKeepsSpender1795500320000 } from './1795500320000-LedgerKeepsSpender';
import { UserExternalId1795500400000 } from './1795500400000-UserExternalId';
import { SpendControls1795500500000 } from './1795500500000-SpendControls';

/** Every migration, in order. `npm run migration:generate` writes a new file; add it here. */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  InitialSchema1795434712884,
  Provisions1795435625645,
  Billing1795435626831,
  CreditPools1795500110000,
  ApiKeyScope1795500200000,
  IdempotencyKeysPerUser1795500310000,
  LedgerKeepsSpender1795500320000,
  UserExternalId1795500400000,
  SpendControls1795500500000,
];
