-- One charge, as pgbench runs it: the conditional UPDATE of the one shared balance row plus the
-- ledger insert, in one transaction. Variables (-D): org_id, user_id. Run with -M prepared.
BEGIN;
UPDATE credit_pools SET balance = balance - 1, updated_at = now() WHERE organization_id = :org_id AND balance >= 1 RETURNING balance \gset
INSERT INTO credit_ledger_entries (organization_id, user_id, api_key_id, delta, reason, description, balance_after,
                                   idempotency_key, created_at)
VALUES (:org_id, :user_id, NULL, -1, 'charge', 'pgbench', :balance, NULL, clock_timestamp());
END;
