
-- ---------------------------------------------------------------------
-- Units: each number billing rounds or divides by, defined once, in C
-- (src/units.h), for the C and the SQL of classbill alike
-- ---------------------------------------------------------------------

-- SPEC 1.7: presence is billed in whole minutes, rounded up once.
CREATE FUNCTION classbill_internal.minutes_of(p_seconds numeric) RETURNS numeric
AS 'MODULE_PATHNAME', 'classbill_minutes_of'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill_internal.minutes_of(numeric) IS
  'Seconds as billed minutes: over 60, rounded up once, exactly (SPEC 1.7, 5.1); the one definition of the minute';

-- SPEC 4.2: a GB is 2^30 bytes.
CREATE FUNCTION classbill_internal.bytes_per_gb() RETURNS numeric
AS 'MODULE_PATHNAME', 'classbill_bytes_per_gb'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION classbill_internal.bytes_per_gb() IS
  'Bytes in a GB: 2^30 (SPEC 4.2)';

-- SPEC 4.2: a GB-month is a GB kept 30 days.
CREATE FUNCTION classbill_internal.days_per_month() RETURNS numeric
AS 'MODULE_PATHNAME', 'classbill_days_per_month'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION classbill_internal.days_per_month() IS
  'Days in a GB-month: 30 (SPEC 4.2)';
