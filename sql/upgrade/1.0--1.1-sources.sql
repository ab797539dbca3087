
-- Closes now run as classbill_owner: let it read the sources registered
-- under 1.0, and their schemas.
DO $$
DECLARE
  src record;
BEGIN
  FOR src IN SELECT s.relation, c.relnamespace::regnamespace AS nsp
             FROM classbill.sources AS s JOIN pg_catalog.pg_class AS c ON c.oid = s.relation LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO classbill_owner', src.nsp);
    EXECUTE format('GRANT SELECT ON %s TO classbill_owner', src.relation);
  END LOOP;
END $$;
