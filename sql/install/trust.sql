
-- ---------------------------------------------------------------------
-- Trust: the audit trail and per-account access (SPEC 10.4, 10.6)
-- ---------------------------------------------------------------------

-- The audit trail (SPEC 10.4) ---------------------------------------------

CREATE TABLE classbill.audit (
  audit_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at                timestamptz NOT NULL DEFAULT clock_timestamp(),
  session_user_name name NOT NULL,
  role_name         name NOT NULL,
  table_name        text NOT NULL,
  operation         text NOT NULL,
  old_row           jsonb,
  new_row           jsonb
);
CREATE INDEX ON classbill.audit (table_name, at);
COMMENT ON TABLE classbill.audit IS
  'Every change to accounts, rates, the pack catalog, pack prices, packs, currencies, sources and account access (SPEC 10.4): when, who (the session''s user and the role it acted as), which table, the operation, the row before and after. Append-only; written only by its triggers';
SELECT pg_catalog.pg_extension_config_dump('classbill.audit', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.audit_audit_id_seq', '');

CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.audit
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.audit
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();

CREATE FUNCTION classbill_internal.audit_row() RETURNS trigger
AS 'MODULE_PATHNAME', 'classbill_audit_row'
LANGUAGE C;
COMMENT ON FUNCTION classbill_internal.audit_row() IS
  'Trigger of the tables billing data lives in: appends who changed what to classbill.audit, as the extension''s owner, with the user and role that made the change (SPEC 10.4)';

-- Who may read which account's rows (SPEC 10.6) ----------------------------

CREATE TABLE classbill.account_access (
  role    name NOT NULL,
  account text NOT NULL REFERENCES classbill.accounts,
  PRIMARY KEY (role, account)
);
COMMENT ON TABLE classbill.account_access IS
  'Which roles see which accounts: a member of classbill_account_reader sees in the ledger, statements and reports only the rows of the accounts its roles are mapped to here (SPEC 10.6)';
SELECT pg_catalog.pg_extension_config_dump('classbill.account_access', '');
CREATE FUNCTION classbill_internal.check_account_access() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles AS r WHERE r.rolname = NEW.role) THEN
    RAISE EXCEPTION 'role "%" does not exist', NEW.role
      USING ERRCODE = '42704',
            DETAIL = classbill_internal.describe('account_access', to_jsonb(NEW), ARRAY['role', 'account']),
            HINT = 'Map a role of this cluster (CREATE ROLE first), usually one a portal''s login roles are members of.';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION classbill_internal.check_account_access() IS
  'Trigger of classbill.account_access: the role mapped must exist';
CREATE TRIGGER check_account_access BEFORE INSERT OR UPDATE ON classbill.account_access
FOR EACH ROW EXECUTE FUNCTION classbill_internal.check_account_access();

-- a role sees the mappings of the roles it has, and readers see all
ALTER TABLE classbill.account_access ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_roles ON classbill.account_access FOR SELECT
USING (EXISTS (SELECT FROM pg_catalog.pg_roles AS r
               WHERE r.rolname = account_access.role AND pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'))
       OR pg_has_role(current_user, 'classbill_reader', 'USAGE')
       OR pg_has_role(current_user, 'classbill_writer', 'USAGE'));
CREATE POLICY operators ON classbill.account_access FOR ALL TO classbill_operator USING (true) WITH CHECK (true);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['accounts', 'rates', 'pack_items', 'pack_prices', 'packs', 'currencies', 'sources',
                           'account_access'] LOOP
    EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON classbill.%I
                    FOR EACH ROW EXECUTE FUNCTION classbill_internal.audit_row()', t);
    EXECUTE format('CREATE TRIGGER audit_truncate AFTER TRUNCATE ON classbill.%I
                    FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.audit_row()', t);
  END LOOP;
END $$;

-- The accounts the current role may see as a reader of accounts: those
-- mapped to its roles.
CREATE FUNCTION classbill_internal.visible_accounts()
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(array_agg(x.account), '{}') FROM classbill.account_access AS x
  JOIN pg_roles AS r ON r.rolname = x.role
  WHERE pg_has_role(current_user, r.oid, 'USAGE')
$$;
COMMENT ON FUNCTION classbill_internal.visible_accounts() IS
  'The accounts classbill.account_access maps to the current role''s roles: what a member of classbill_account_reader sees (SPEC 10.6)';

-- Row-level security on every table with an account.  Readers,
-- operators and the writer see every row (a policy of true, which the
-- planner drops: closes pay nothing for it); a reader of accounts sees
-- the rows of its accounts; any other role granted a table sees none.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['accounts', 'packs', 'usage_days', 'closed_days', 'ledger', 'ledger_usage',
                           'ledger_storage', 'ledger_exports', 'ledger_rooms', 'close_problems'] LOOP
    EXECUTE format('ALTER TABLE classbill.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY every_account ON classbill.%I TO classbill_reader, classbill_writer
                    USING (true) WITH CHECK (true)', t);
    EXECUTE format($p$CREATE POLICY by_account ON classbill.%I FOR SELECT TO classbill_account_reader
                      USING (account = ANY ((SELECT classbill_internal.visible_accounts())::text[]))$p$, t);
  END LOOP;
END $$;

-- Views read with the rights of who reads them, so the policies above
-- hold through them too.
ALTER VIEW classbill.rate_periods SET (security_invoker = true);
ALTER VIEW classbill.billed_usage SET (security_invoker = true);
ALTER VIEW classbill.billed_storage SET (security_invoker = true);
ALTER VIEW classbill.billed_exports SET (security_invoker = true);
ALTER VIEW classbill.billed_rooms SET (security_invoker = true);
ALTER VIEW classbill.ledger_pack_balances SET (security_invoker = true);
ALTER VIEW classbill.open_problems SET (security_invoker = true);
