import { effectiveProvisionStatus, placeholderEmail } from './provision-status';

describe('effectiveProvisionStatus', () => {
  const now = new Date('2026-11-23T12:00:00.000Z');
  const later = new Date('2026-11-23T12:00:00.001Z');
  const earlier = new Date('2026-11-23T11:59:59.999Z');

  it('keeps a pending provision pending before expires_at', () => {
    expect(effectiveProvisionStatus('pending', later, now)).toBe('pending');
  });

  it('reports a pending provision expired at the expiry instant and after, before the job ran', () => {
    expect(effectiveProvisionStatus('pending', now, now)).toBe('expired');
    expect(effectiveProvisionStatus('pending', earlier, now)).toBe('expired');
  });

  it.each(['claimed', 'cancelled', 'expired'] as const)('leaves a final status (%s) as it is', (status) => {
    expect(effectiveProvisionStatus(status, earlier, now)).toBe(status);
    expect(effectiveProvisionStatus(status, later, now)).toBe(status);
  });
});

describe('placeholderEmail', () => {
  it('uses the first 12 hex digits of the provision id on the organization domain', () => {
    expect(placeholderEmail('3F2A9C1B-7D4E-4a5b-8c6d-0123456789ab', 'Orchestrator.com')).toBe(
      'provisioned-3f2a9c1b7d4e@orchestrator.com',
    );
  });
});
