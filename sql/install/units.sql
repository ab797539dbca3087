
-- ---------------------------------------------------------------------
-- Units: each number billing rounds or divides by, defined once
--
-- These three are written without SET search_path (every name in them is
-- qualified), so that the planner inlines them into the queries that use
-- them on every row.
-- ---------------------------------------------------------------------

-- SPEC 1.7: presence is billed in whole minutes, rounded up once.
CREATE FUNCTION classbill_internal.minutes_of(p_seconds numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.ceil(p_seconds / 60) $$;
COMMENT ON FUNCTION classbill_internal.minutes_of(numeric) IS
  'Seconds as billed minutes: over 60, rounded up once (SPEC 1.7, 5.1); the one place the minute is defined in SQL';

-- SPEC 4.2: a GB is 2^30 bytes.
CREATE FUNCTION classbill_internal.bytes_per_gb() RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1073741824::numeric $$;
COMMENT ON FUNCTION classbill_internal.bytes_per_gb() IS
  'Bytes in a GB: 2^30 (SPEC 4.2)';

-- SPEC 4.2: a GB-month is a GB kept 30 days.
CREATE FUNCTION classbill_internal.days_per_month() RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 30::numeric $$;
COMMENT ON FUNCTION classbill_internal.days_per_month() IS
  'Days in a GB-month: 30 (SPEC 4.2)';
