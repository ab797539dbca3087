
-- ---------------------------------------------------------------------
-- Recording storage and MP4 export (SPEC 4, 5)
-- ---------------------------------------------------------------------

CREATE TYPE classbill.storage_day AS (day date, marks integer, byte_marks numeric);
COMMENT ON TYPE classbill.storage_day IS
  'A billing day''s storage: its 5-minute marks (288, or 276 or 300 on DST days) and the bytes stored at them, summed (SPEC 4.2)';

CREATE FUNCTION classbill_internal.storage_trans(internal, date, date, bigint, timestamptz, interval, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_trans'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION classbill_internal.storage_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_combine'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION classbill_internal.storage_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_storage_serial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill_internal.storage_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_deserial'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION classbill_internal.storage_final(internal)
RETURNS classbill.storage_day[]
AS 'MODULE_PATHNAME', 'classbill_storage_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE AGGREGATE classbill.storage_days(from_day date, to_day date, bytes bigint,
                                        ready_at timestamptz, retention interval,
                                        deleted_at timestamptz) (
  SFUNC = classbill_internal.storage_trans,
  STYPE = internal,
  SSPACE = 2048,
  FINALFUNC = classbill_internal.storage_final,
  COMBINEFUNC = classbill_internal.storage_combine,
  SERIALFUNC = classbill_internal.storage_serial,
  DESERIALFUNC = classbill_internal.storage_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.storage_days(date, date, bigint, timestamptz, interval, timestamptz) IS
  'Byte-marks per billing day of [from, to) of a group of recordings, each stored over [ready_at, min(ready_at + retention, deleted_at)), sampled every 5 minutes as the object store does (SPEC 4.2); retention is elapsed time (a month = 30 days)';

CREATE FUNCTION classbill.storage_gb(day classbill.storage_day) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT round((storage_gb.day).byte_marks::numeric(1000, 40) / ((storage_gb.day).marks * classbill_internal.bytes_per_gb()), 30) $$;
COMMENT ON FUNCTION classbill.storage_gb(classbill.storage_day) IS
  'A day''s GB: the mean of its samples over 2^30 bytes (SPEC 4.2), to 30 decimal places';

-- What storage and export bill, per account and billing day, read from
-- the sources and checked (SPEC 8.2): the bases lines are priced from,
-- and that closes keep (ledger.sql).  A recording or export row with a
-- problem, and one whose room the rooms source does not give exactly one
-- account, is not billed: it comes back as a problem row (what = 'problem'),
-- which the reports raise and closes record.

CREATE TYPE classbill_internal.basis_row AS (
  what       text,
  account    text,
  day        date,
  marks      integer,
  byte_marks numeric,
  seconds    numeric,
  room       text,
  problem    text,
  detail     text
);
COMMENT ON TYPE classbill_internal.basis_row IS
  'A storage or export basis of an account and day (what = storage or export), or a source row that cannot be billed (what = problem), with its room, account when known, problem and the row';

-- The rooms of a set of storage or export rows, for their accounts: the
-- account when the room has exactly one rooms row with a known account.
CREATE FUNCTION classbill_internal.room_accounts_sql(p_rooms text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN classbill_internal.rooms_unique() THEN format($q$
    SELECT y.room, 1::bigint AS n, y.account::text AS account,
           y.account IS NOT NULL AND a.account IS NULL AS unknown
    FROM %2$s AS y
    LEFT JOIN classbill.accounts AS a ON a.account = y.account::text
    WHERE y.room IN (%1$s) $q$, p_rooms, classbill.source('rooms'))
  ELSE format($q$
    SELECT y.room, count(*) AS n, min(y.account::text) AS account,
           bool_or(y.account IS NOT NULL AND a.account IS NULL) AS unknown
    FROM %2$s AS y
    LEFT JOIN classbill.accounts AS a ON a.account = y.account::text
    WHERE y.room IN (%1$s)
    GROUP BY y.room $q$, p_rooms, classbill.source('rooms')) END
$$;
COMMENT ON FUNCTION classbill_internal.room_accounts_sql(text) IS
  'SQL giving, for the rooms of a query, how many rooms rows each has and their account (without counting where the rooms source has a unique index on room)';

-- Why a storage or export row of the rooms r has no account to bill, or
-- NULL: an expression over r.n, r.account and r.unknown, written into the
-- queries (a function call per row costs more than the rest of the row).
CREATE FUNCTION classbill_internal.room_account_problem_sql()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT $e$CASE WHEN r.n IS NULL THEN 'its room is not in the rooms source'
              WHEN r.n > 1 THEN format('its room is listed %s times in the rooms source', r.n)
              WHEN r.account IS NULL THEN 'its room has no account in the rooms source'
              WHEN r.unknown THEN format('account "%s" of its room is not in classbill.accounts', r.account) END$e$
$$;
COMMENT ON FUNCTION classbill_internal.room_account_problem_sql() IS
  'SQL of the reason a storage or export row has no account to bill, or NULL, over the rooms r of room_accounts_sql';

CREATE FUNCTION classbill_internal.storage_results(p_from date, p_to date, p_account text)
RETURNS SETOF classbill_internal.basis_row
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- the arguments first, before the sources are looked up
  checked boolean := classbill_internal.checked_period(p_from, p_to, p_account);
  recs text := format($q$
    SELECT x.room, x.bytes::bigint AS bytes, x.ready_at, x.retention, x.deleted_at,
           CASE WHEN x.ready_at IS NULL THEN 'recording ready time is NULL'
                WHEN NOT isfinite(x.ready_at) THEN format('recording ready time %%s is not an instant', x.ready_at)
                WHEN x.bytes IS NULL THEN 'recording size is NULL'
                WHEN x.bytes < 0 THEN format('recording size %%s bytes is negative', x.bytes)
                WHEN x.retention < interval '0' THEN format('recording retention %%s is negative', x.retention)
                WHEN x.deleted_at < x.ready_at THEN format('recording deleted at %%s, before it was ready', x.deleted_at)
           END AS problem
    FROM %1$s AS x
    WHERE x.ready_at < $2 AND (x.deleted_at IS NULL OR x.deleted_at > $1)
      AND (x.retention IS NULL OR x.retention < interval '0' OR x.ready_at + x.retention > $1)
    UNION ALL
    SELECT x.room, x.bytes::bigint, x.ready_at, x.retention, x.deleted_at, 'recording ready time is NULL'
    FROM %1$s AS x WHERE x.ready_at IS NULL $q$, classbill.source('recordings'));
BEGIN
  PERFORM classbill_internal.check_period(p_from, p_to);
  RETURN QUERY EXECUTE format($q$
    WITH f AS MATERIALIZED (%1$s),
    r AS (%2$s),
    g AS (
      SELECT f.*, r.account,
             coalesce(f.problem, %3$s) AS why
      FROM f LEFT JOIN r USING (room)
      WHERE $3 IS NULL OR r.account = $3)
    SELECT 'storage', s.account, d.day, d.marks, d.byte_marks, NULL::numeric, NULL, NULL, NULL
    FROM (SELECT g.account,
                 classbill.storage_days($4, $5, g.bytes, g.ready_at, g.retention, g.deleted_at) AS days
          FROM g WHERE g.why IS NULL GROUP BY g.account) AS s
    CROSS JOIN LATERAL unnest(s.days) AS d
    UNION ALL
    SELECT 'problem', g.account, NULL, NULL, NULL, NULL, g.room::text, g.why,
           format('room %%s, bytes %%s, ready_at %%s, retention %%s, deleted_at %%s', g.room,
                  coalesce(g.bytes::text, 'NULL'), coalesce(g.ready_at::text, 'NULL'),
                  coalesce(g.retention::text, 'NULL'), coalesce(g.deleted_at::text, 'NULL'))
    FROM g WHERE g.why IS NOT NULL
    $q$, recs,
    classbill_internal.room_accounts_sql(format(
      'SELECT x.room FROM %s AS x WHERE (x.ready_at < $2 AND (x.deleted_at IS NULL OR x.deleted_at > $1)) OR x.ready_at IS NULL',
      classbill.source('recordings'))),
    classbill_internal.room_account_problem_sql())
  USING classbill.day_start(p_from), classbill.day_start(p_to), p_account, p_from, p_to;
END $$;
COMMENT ON FUNCTION classbill_internal.storage_results(date, date, text) IS
  'Storage per account and billing day of [from, to) from the recordings source (marks and byte-marks, SPEC 4.2), and every recording that cannot be billed, with why (SPEC 8.2)';

CREATE FUNCTION classbill_internal.export_results(p_from date, p_to date, p_account text)
RETURNS SETOF classbill_internal.basis_row
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- the arguments first, before the sources are looked up
  checked boolean := classbill_internal.checked_period(p_from, p_to, p_account);
  exps text := format($q$
    SELECT x.room, x.processed, x.finished_at,
           CASE WHEN x.finished_at IS NULL THEN 'export finish time is NULL'
                WHEN x.processed IS NULL THEN 'export processed time is NULL'
                WHEN x.processed < interval '0' THEN format('export processed time %%s is negative', x.processed)
           END AS problem
    FROM %1$s AS x
    WHERE (x.finished_at >= $1 AND x.finished_at < $2)
    UNION ALL
    SELECT x.room, x.processed, x.finished_at, 'export finish time is NULL'
    FROM %1$s AS x WHERE x.finished_at IS NULL $q$, classbill.source('exports'));
BEGIN
  PERFORM classbill_internal.check_period(p_from, p_to);
  RETURN QUERY EXECUTE format($q$
    WITH f AS MATERIALIZED (%1$s),
    r AS (%2$s),
    g AS (
      SELECT f.*, r.account,
             coalesce(f.problem, %3$s) AS why
      FROM f LEFT JOIN r USING (room)
      WHERE $3 IS NULL OR r.account = $3)
    SELECT 'export', g.account, (g.finished_at AT TIME ZONE $4)::date, NULL::integer, NULL::numeric,
           sum(extract(epoch FROM g.processed)), NULL, NULL, NULL
    FROM g WHERE g.why IS NULL
    GROUP BY g.account, (g.finished_at AT TIME ZONE $4)::date
    UNION ALL
    SELECT 'problem', g.account, NULL, NULL, NULL, NULL, g.room::text, g.why,
           format('room %%s, processed %%s, finished_at %%s', g.room,
                  coalesce(g.processed::text, 'NULL'), coalesce(g.finished_at::text, 'NULL'))
    FROM g WHERE g.why IS NOT NULL
    $q$, exps,
    classbill_internal.room_accounts_sql(format(
      'SELECT x.room FROM %s AS x WHERE (x.finished_at >= $1 AND x.finished_at < $2) OR x.finished_at IS NULL',
      classbill.source('exports'))),
    classbill_internal.room_account_problem_sql())
  USING classbill.day_start(p_from), classbill.day_start(p_to), p_account, classbill.billing_timezone();
END $$;
COMMENT ON FUNCTION classbill_internal.export_results(date, date, text) IS
  'Processed export seconds per account and billing day of [from, to) (the day the exports finished, SPEC 5.1), and every export that cannot be billed, with why (SPEC 8.2)';

-- The error a report raises for a storage or export row it cannot bill.
CREATE FUNCTION classbill_internal.basis_error(p_source text, b classbill_internal.basis_row)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION '% of room %, account %: %', rtrim(p_source, 's'), b.room, coalesce(b.account, 'unknown'),
                  b.problem
    USING ERRCODE = '22023',
          DETAIL = format('Row of the %s source %s: %s.', p_source, classbill.source(p_source), b.detail),
          HINT = 'Correct the source row; a close holds back only the account at fault and records why in classbill.close_problems.';
END $$;
COMMENT ON FUNCTION classbill_internal.basis_error(text, classbill_internal.basis_row) IS
  'Raises the error for a recording or export row that cannot be billed, naming the room, the account, the problem and the row';

CREATE FUNCTION classbill.storage_basis(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, marks integer, byte_marks numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.day, b.marks,
         CASE WHEN b.what = 'problem' THEN classbill_internal.basis_error('recordings', b) ELSE b.byte_marks END
  FROM classbill_internal.storage_results(from_day, to_day, for_account) AS b
  ORDER BY b.what = 'storage'
$$;
COMMENT ON FUNCTION classbill.storage_basis(date, date, text) IS
  'Storage per account and billing day of [from, to) from the recordings source: the day''s marks and byte-marks (SPEC 4.2); a recording that cannot be billed is an error naming it (SPEC 8.2)';

CREATE FUNCTION classbill.export_basis(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, seconds numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.day,
         CASE WHEN b.what = 'problem' THEN classbill_internal.basis_error('exports', b) ELSE b.seconds END
  FROM classbill_internal.export_results(from_day, to_day, for_account) AS b
  ORDER BY b.what = 'export'
$$;
COMMENT ON FUNCTION classbill.export_basis(date, date, text) IS
  'Processed export time in seconds per account and billing day (the day the exports finished) of [from, to); an export that cannot be billed is an error naming it (SPEC 8.2)';

-- SPEC 6.1: a quantity is never rounded before its price multiplies it.
-- A day's GB-months are byte-marks / (marks x 2^30 x 30); its amount is
-- byte-marks x price over the same, one division, kept to 30 decimal
-- places (the denominator's factors 3 make most amounts non-terminating
-- decimals; a month of them is off the exact sum by less than 1e-28).
CREATE FUNCTION classbill.gb_months(byte_marks numeric, marks integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT round(byte_marks::numeric(1000, 40) / (marks * classbill_internal.bytes_per_gb() * classbill_internal.days_per_month()), 30) $$;
COMMENT ON FUNCTION classbill.gb_months(numeric, integer) IS
  'A day''s storage in GB-months: its mean GB (byte-marks / marks / 2^30) over 30, to 30 decimal places (SPEC 4.2); informative, amounts are priced from the byte-marks';

CREATE FUNCTION classbill_internal.storage_amount(p_byte_marks numeric, p_marks integer, p_price numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT round((p_byte_marks * p_price)::numeric(1000, 40) / (p_marks * classbill_internal.bytes_per_gb() * classbill_internal.days_per_month()), 30) $$;
COMMENT ON FUNCTION classbill_internal.storage_amount(numeric, integer, numeric) IS
  'A day''s storage charge: byte-marks x price per GB-month / (marks x 2^30 x 30), one division, to 30 decimal places: no quantity is rounded before its price (SPEC 6.1)';

-- The price in effect on a day for a rate card key without mode and
-- tier, or the error naming account, product and day (SPEC 3.2).
CREATE FUNCTION classbill_internal.prices_on(p_product classbill.product, p_day date)
RETURNS TABLE (currency text, price numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT rp.currency, rp.price FROM classbill.rate_periods AS rp
  WHERE rp.product = p_product AND rp.mode IS NULL AND p_day >= rp.valid_from AND p_day < rp.valid_to
$$;
COMMENT ON FUNCTION classbill_internal.prices_on(classbill.product, date) IS
  'The storage or export prices in effect on a day, one per currency that has one (a close joins them once for all its lines)';

CREATE FUNCTION classbill_internal.price_on(p_product classbill.product, p_account text,
                                   p_currency text, p_day date)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(
    (SELECT p.price FROM classbill_internal.prices_on(p_product, p_day) AS p WHERE p.currency = p_currency),
    classbill_internal.missing_rate(p_account, p_product, NULL, NULL, p_currency, p_day))
$$;
COMMENT ON FUNCTION classbill_internal.price_on(classbill.product, text, text, date) IS
  'The storage or export price in effect on a day in a currency; a missing one is an error naming account, product and day';

CREATE FUNCTION classbill.storage_lines(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.day, 'storage', NULL::classbill.tier, NULL::classbill.mode, NULL::bigint,
         NULL::text, classbill.gb_months(b.byte_marks, b.marks), 'GB-month', p.price,
         classbill_internal.storage_amount(b.byte_marks, b.marks, p.price), a.currency
  FROM classbill.storage_basis(from_day, to_day, for_account) AS b
  JOIN classbill.accounts AS a ON a.account = b.account
  CROSS JOIN LATERAL (SELECT classbill_internal.price_on('storage', b.account, a.currency, b.day)) AS p(price)
$$;
COMMENT ON FUNCTION classbill.storage_lines(date, date, text) IS
  'One storage line per account and billing day of [from, to): the day''s GB-months (daily GB / 30) at the storage price per GB-month in effect that day (SPEC 4.2); the amount is priced from the byte-marks, exact to 30 decimal places, rounded only on statements (SPEC 6.1)';

CREATE FUNCTION classbill.export_lines(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.day, 'export', NULL::classbill.tier, NULL::classbill.mode, NULL::bigint,
         NULL::text, classbill_internal.minutes_of(b.seconds), 'minute', p.price, classbill_internal.minutes_of(b.seconds) * p.price,
         a.currency
  FROM classbill.export_basis(from_day, to_day, for_account) AS b
  JOIN classbill.accounts AS a ON a.account = b.account
  CROSS JOIN LATERAL (SELECT classbill_internal.price_on('export', b.account, a.currency, b.day)) AS p(price)
  WHERE b.seconds > 0
$$;
COMMENT ON FUNCTION classbill.export_lines(date, date, text) IS
  'One export line per account and billing day of [from, to) on which exports finished: their processed time summed and rounded up to whole minutes, at the export rate in effect that day (SPEC 5.1)';

CREATE FUNCTION classbill.late_recordings(from_day date, to_day date)
RETURNS TABLE (room text, account text, class_end timestamptz, ready_at timestamptz,
               late_by interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM classbill_internal.check_period(from_day, to_day);
  RETURN QUERY EXECUTE format($q$
    SELECT f.room::text, r.account::text, c.class_end, f.ready_at,
           f.ready_at - (c.class_end + interval '24 hours')
    FROM %1$s AS f
    JOIN %2$s AS r ON r.room = f.room
    JOIN (SELECT e.room, max(e.at) AS class_end FROM %3$s AS e
          WHERE e.room IN (SELECT x.room FROM %1$s AS x
                           WHERE x.ready_at >= $1 AND x.ready_at < $2)
          GROUP BY e.room) AS c ON c.room = f.room
    WHERE f.ready_at >= $1 AND f.ready_at < $2
      AND f.ready_at > c.class_end + interval '24 hours'
    ORDER BY f.ready_at
    $q$, classbill.source('recordings'), classbill.source('rooms'), classbill.source('events'))
  USING classbill.day_start(from_day), classbill.day_start(to_day);
END $$;
COMMENT ON FUNCTION classbill.late_recordings(date, date) IS
  'Recordings that became ready in the billing days [from, to) more than 24 hours after their class ended (its last event): allowed, and reported (SPEC 4.1)';
