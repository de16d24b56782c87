-- The create-user transaction, as pgbench runs it: select the organization, insert the user,
-- insert its key. Variables (-D): domain, prov_id. Run with -M prepared (variables become parameters).
BEGIN;
SELECT id AS org_id FROM organizations WHERE domain = :domain \gset
INSERT INTO users (email, organization_id, role, is_provisioner, is_operator, api_only, status,
                   external_email, provisioned_by, expires_at)
VALUES ('pgb-' || gen_random_uuid() || '@' || :domain, :org_id, 'member', false, false, true, 'active',
        'someone@end-user.example', :prov_id, NULL)
ON CONFLICT (email) DO NOTHING
RETURNING id AS user_id \gset
INSERT INTO api_keys (user_id, billing_organization_id, key_hash, prefix, name)
VALUES (:user_id, :org_id, sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'pvk_pgbench0', NULL)
RETURNING id, created_at;
END;
