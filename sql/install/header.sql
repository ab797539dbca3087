-- classbill install script, assembled from sql/install/*.sql by make.

\echo Use "CREATE EXTENSION classbill" to load this file. \quit

-- Steps and checks that are not the interface: functions, work tables
-- and digests of closes.  Users are not granted it; the public functions
-- of schema classbill reach it.
CREATE SCHEMA classbill_internal;
COMMENT ON SCHEMA classbill_internal IS
  'classbill''s internal steps (closes, checks, digests); not an interface, may change in any version';
