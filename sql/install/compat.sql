
-- ---------------------------------------------------------------------
-- Names of 1.1 kept for one version (removed in 1.3)
--
-- 1.2 names its functions by one scheme (README: "Names"): what reads
-- the sources now says live_, what reads the ledger does not; names that
-- mean different things differ in words, not in a plural.  The old names
-- below still work, with the same arguments and results.
-- ---------------------------------------------------------------------

CREATE FUNCTION classbill.statement_lines(in_month date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, month date, product text, tier classbill.tier,
               mode classbill.mode, quantity numeric, unit text, covered numeric,
               exact_amount numeric, amount numeric, currency text, rounded_quantity numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM classbill.live_statement(in_month, for_account) $$;
COMMENT ON FUNCTION classbill.statement_lines(date, text) IS
  'Old name (1.1) of classbill.live_statement, kept for 1.2';

CREATE FUNCTION classbill.account_peaks(for_account text, from_day date, to_day date,
  OUT stage_peak integer, OUT stage_room text, OUT stage_at timestamptz,
  OUT present_peak integer, OUT present_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM classbill.peak_summary(for_account, from_day, to_day) $$;
COMMENT ON FUNCTION classbill.account_peaks(text, date, date) IS
  'Old name (1.1) of classbill.peak_summary, kept for 1.2';

CREATE FUNCTION classbill.present_peaks(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, peak integer, at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM classbill.present_peak_by_day(from_day, to_day, for_account) $$;
COMMENT ON FUNCTION classbill.present_peaks(date, date, text) IS
  'Old name (1.1) of classbill.present_peak_by_day, kept for 1.2';

CREATE AGGREGATE classbill.account_daily_peaks(room text, participant text, event text, at timestamptz) (
  SFUNC = classbill_internal.account_peak_trans,
  STYPE = internal,
  SSPACE = 4096,
  FINALFUNC = classbill_internal.account_peak_by_day_final,
  COMBINEFUNC = classbill_internal.account_peak_combine,
  SERIALFUNC = classbill_internal.account_peak_serial,
  DESERIALFUNC = classbill_internal.account_peak_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.account_daily_peaks(text, text, text, timestamptz) IS
  'Old name (1.1) of the aggregate classbill.account_peak_by_day, kept for 1.2';
