import { redactSecrets } from './redact';

describe('redactSecrets', () => {
  it('removes claim tokens and API keys from URLs', () => {
    const token = 'pvc_' + 'Ab1'.repeat(10) + 'Zz';
    expect(redactSecrets(`/claim/${token}`)).toBe('/claim/pvc_[redacted]');
    expect(redactSecrets(`/api/v1/claims/${token}?x=1`)).toBe('/api/v1/claims/pvc_[redacted]?x=1');
    expect(redactSecrets('/x?key=pvk_' + 'q'.repeat(38))).toBe('/x?key=pvk_[redacted]');
  });

  it('leaves other text alone', () => {
    expect(redactSecrets('/api/v1/provisions/3f2a9c1b-7d4e-4a5b-8c6d-0123456789ab')).toBe(
      '/api/v1/provisions/3f2a9c1b-7d4e-4a5b-8c6d-0123456789ab',
    );
  });
});
