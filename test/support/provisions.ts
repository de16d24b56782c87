import { TestApp } from './app';

export interface CreatedProvision {
  id: string;
  user_id: string;
  email: string;
  role: string;
  skip_onboarding: boolean;
  api_key: string;
  claim_url: string;
  expires_at: string;
  status: string;
  organization_id: string;
  [field: string]: unknown;
}

/** Provisioner creates a claimable provision (201 asserted). */
export async function createProvision(t: TestApp, provisionerKey: string, body: object = {}): Promise<CreatedProvision> {
  const res = await t.http().post('/api/v1/provisions').set('X-API-Key', provisionerKey).send(body);
  if (res.status !== 201) throw new Error(`create provision: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as CreatedProvision;
}

/** The claim token at the end of a claim URL. */
export function tokenOf(provision: { claim_url: string }): string {
  return provision.claim_url.slice(provision.claim_url.lastIndexOf('/') + 1);
}
