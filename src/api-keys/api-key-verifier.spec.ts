import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config';
import { ApiKeyCache } from './api-key-cache';
import { generateApiKey, hashApiKey } from './api-key-format';
import { ApiKeyUsageRecorder } from './api-key-usage';
import { ApiKeyVerifier, evaluate, KeyRecord } from './api-key-verifier';
import { ApiKeysRepository } from './api-keys.repository';

describe('ApiKeyVerifier', () => {
  it('refuses a key with a changed character before any database lookup', async () => {
    // The verifier's one dependency on the database: the repository's lookup by hash.
    const lookups: Buffer[] = [];
    const keys: Pick<ApiKeysRepository, 'findRecordByHash'> = {
      findRecordByHash: (keyHash) => (lookups.push(keyHash), Promise.resolve(null)),
    };
    const config = loadConfig({});
    // Neither the cache nor the recorder touches the data source before start-up or a flush.
    const dataSource = {} as DataSource;
    const repository = keys as ApiKeysRepository;
    const verifier = new ApiKeyVerifier(
      repository,
      new ApiKeyCache(config, dataSource),
      new ApiKeyUsageRecorder(config, dataSource, repository),
    );
    const key = generateApiKey();
    const changed = key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21);

    await expect(verifier.verify(changed)).resolves.toEqual({ valid: false, reason: 'malformed' });
    await expect(verifier.verify('not-a-key')).resolves.toEqual({ valid: false, reason: 'malformed' });
    expect(lookups).toHaveLength(0);

    await expect(verifier.verify(key)).resolves.toEqual({ valid: false, reason: 'not_found' });
    expect(lookups).toEqual([hashApiKey(key)]);
    // The unknown key is now remembered as unknown: no second lookup.
    await expect(verifier.verify(key)).resolves.toEqual({ valid: false, reason: 'not_found' });
    expect(lookups).toHaveLength(1);
  });

  describe('evaluate', () => {
    const record = (overrides: Partial<KeyRecord['principal']> = {}, revoked = false): KeyRecord => ({
      revoked,
      principal: {
        keyId: 'k',
        userId: 'u',
        email: 'a@b.com',
        organizationId: 'o',
        organizationDomain: 'b.com',
        billingOrganizationId: 'o',
        scope: 'full',
        role: 'member',
        isProvisioner: false,
        isOperator: false,
        apiOnly: true,
        status: 'active',
        externalEmail: null,
        externalId: null,
        provisionedBy: null,
        expiresAt: null,
        createdAt: new Date(0),
        ...overrides,
      },
    });
    const now = new Date('2026-01-01T00:00:00Z');

    it('accepts an active, unrevoked, non-expiring key', () => {
      expect(evaluate(record(), now).valid).toBe(true);
    });
    it('accepts a pending_claim user before expiry', () => {
      expect(evaluate(record({ status: 'pending_claim', expiresAt: new Date('2026-01-02T00:00:00Z') }), now).valid).toBe(true);
    });
    it('refuses a revoked key', () => {
      expect(evaluate(record({}, true), now)).toEqual({ valid: false, reason: 'revoked' });
    });
    it('refuses a disabled user', () => {
      expect(evaluate(record({ status: 'disabled' }), now)).toEqual({ valid: false, reason: 'user_disabled' });
    });
    it('refuses at the expiry instant, without waiting for the expiry job', () => {
      expect(evaluate(record({ expiresAt: now }), now)).toEqual({ valid: false, reason: 'expired' });
    });
  });
});
