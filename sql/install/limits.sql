
-- ---------------------------------------------------------------------
-- Plan limits (SPEC 3.6): peaks across an account's rooms, breaches
-- ---------------------------------------------------------------------

CREATE TYPE classbill.peak_moment AS (peak integer, at timestamptz);
COMMENT ON TYPE classbill.peak_moment IS
  'A peak of participants present at once, and the first instant it was reached (NULL when the peak is 0)';

CREATE TYPE classbill.day_peak AS (day date, peak integer, at timestamptz);
COMMENT ON TYPE classbill.day_peak IS
  'A billing day''s peak of participants present at once, and the first instant of the day it was reached';

CREATE FUNCTION classbill_internal.account_peak_trans(internal, text, text, text, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_account_peak_trans'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION classbill_internal.account_peak_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_account_peak_combine'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION classbill_internal.account_peak_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_account_peak_serial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill_internal.account_peak_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_account_peak_deserial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill_internal.account_peak_final(internal)
RETURNS classbill.peak_moment
AS 'MODULE_PATHNAME', 'classbill_account_peak_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION classbill_internal.account_peak_by_day_final(internal)
RETURNS classbill.day_peak[]
AS 'MODULE_PATHNAME', 'classbill_account_daily_peaks_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE AGGREGATE classbill.account_peak(room text, participant text, event text, at timestamptz) (
  SFUNC = classbill_internal.account_peak_trans,
  STYPE = internal,
  SSPACE = 4096,
  FINALFUNC = classbill_internal.account_peak_final,
  COMBINEFUNC = classbill_internal.account_peak_combine,
  SERIALFUNC = classbill_internal.account_peak_serial,
  DESERIALFUNC = classbill_internal.account_peak_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.account_peak(text, text, text, timestamptz) IS
  'Most participants present at once across all rooms of the group (an account), each room''s sessions built as in SPEC 1, and the first instant it happened (SPEC 3.6)';

CREATE AGGREGATE classbill.account_peak_by_day(room text, participant text, event text, at timestamptz) (
  SFUNC = classbill_internal.account_peak_trans,
  STYPE = internal,
  SSPACE = 4096,
  FINALFUNC = classbill_internal.account_peak_by_day_final,
  COMBINEFUNC = classbill_internal.account_peak_combine,
  SERIALFUNC = classbill_internal.account_peak_serial,
  DESERIALFUNC = classbill_internal.account_peak_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.account_peak_by_day(text, text, text, timestamptz) IS
  'Per billing day, the most participants present at once across all rooms of the group and the first instant of the day it happened (SPEC 3.6)';

CREATE FUNCTION classbill.plan_limits(plan classbill.plan,
  OUT max_on_stage integer, OUT max_present integer)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE plan WHEN 'prepaid' THEN 8 ELSE 24 END,
         CASE plan WHEN 'prepaid' THEN 1000 END
$$;
COMMENT ON FUNCTION classbill.plan_limits(classbill.plan) IS
  'SPEC 3.6: prepaid: 8 on stage in a room, 1,000 present at once across the account; postpaid: 24 on stage, no account-wide cap (NULL)';
