-- classbill install script, assembled from sql/install/*.sql by make.

\echo Use "CREATE EXTENSION classbill" to load this file. \quit

-- Steps and checks that are not the interface: functions, work tables
-- and digests of closes.  Users are not granted it; the public functions
-- of schema classbill reach it.
CREATE SCHEMA classbill_internal;
COMMENT ON SCHEMA classbill_internal IS
  'classbill''s internal steps (closes, checks, digests); not an interface, may change in any version';

-- The roles of classbill (privileges.sql says what each may do), created
-- when missing: they belong to the cluster and outlive DROP EXTENSION.
-- Policies and grants of the install name them, so they come first.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_reader') THEN
    CREATE ROLE classbill_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_operator') THEN
    CREATE ROLE classbill_operator NOLOGIN IN ROLE classbill_reader;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_account_reader') THEN
    CREATE ROLE classbill_account_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_writer') THEN
    CREATE ROLE classbill_writer NOLOGIN;
  END IF;
END $$;
