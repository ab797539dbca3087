
-- ---------------------------------------------------------------------
-- Recording storage and MP4 export (SPEC 4, 5)
-- ---------------------------------------------------------------------

CREATE TYPE classbill.storage_day AS (day date, marks integer, byte_marks numeric);
COMMENT ON TYPE classbill.storage_day IS
  'A billing day''s storage: its 5-minute marks (288, or 276 or 300 on DST days) and the bytes stored at them, summed (SPEC 4.2)';

CREATE FUNCTION classbill.storage_trans(internal, date, date, bigint, timestamptz, interval, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_trans'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION classbill.storage_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_combine'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION classbill.storage_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_storage_serial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.storage_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_deserial'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.storage_final(internal)
RETURNS classbill.storage_day[]
AS 'MODULE_PATHNAME', 'classbill_storage_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE AGGREGATE classbill.storage_days(from_day date, to_day date, bytes bigint,
                                        ready_at timestamptz, retention interval,
                                        deleted_at timestamptz) (
  SFUNC = classbill.storage_trans,
  STYPE = internal,
  SSPACE = 2048,
  FINALFUNC = classbill.storage_final,
  COMBINEFUNC = classbill.storage_combine,
  SERIALFUNC = classbill.storage_serial,
  DESERIALFUNC = classbill.storage_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.storage_days(date, date, bigint, timestamptz, interval, timestamptz) IS
  'Byte-marks per billing day of [from, to) of a group of recordings, each stored over [ready_at, min(ready_at + retention, deleted_at)), sampled every 5 minutes as the object store does (SPEC 4.2); retention is elapsed time (a month = 30 days)';

CREATE FUNCTION classbill.storage_gb(s classbill.storage_day) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT round(s.byte_marks::numeric(1000, 30) / (s.marks * 1073741824::numeric), 24) $$;
COMMENT ON FUNCTION classbill.storage_gb(classbill.storage_day) IS
  'A day''s GB: the mean of its samples over 2^30 bytes (SPEC 4.2), to 24 decimal places';

-- What storage and export bill, per account and billing day: the bases
-- that lines are priced from, and that closes keep (ledger.sql).
CREATE FUNCTION classbill.storage_basis(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, marks integer, byte_marks numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT s.account, d.day, d.marks, d.byte_marks
    FROM (SELECT r.account::text AS account,
                 classbill.storage_days($1, $2, f.bytes::bigint, f.ready_at, f.retention, f.deleted_at) AS days
          FROM %1$s AS f JOIN %2$s AS r ON r.room = f.room
          WHERE f.ready_at < classbill.day_start($2)
            AND (f.deleted_at IS NULL OR f.deleted_at > classbill.day_start($1))
            AND ($3 IS NULL OR r.account::text = $3)
          GROUP BY r.account) AS s
    CROSS JOIN LATERAL unnest(s.days) AS d
    $q$, classbill.source('recordings'), classbill.source('rooms'))
  USING p_from, p_to, p_account;
END $$;
COMMENT ON FUNCTION classbill.storage_basis(date, date, text) IS
  'Storage per account and billing day of [from, to) from the recordings source: the day''s marks and byte-marks (SPEC 4.2)';

CREATE FUNCTION classbill.export_basis(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, seconds numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT r.account::text,
           (e.finished_at AT TIME ZONE classbill.billing_timezone())::date,
           sum(extract(epoch FROM e.processed))
    FROM %1$s AS e JOIN %2$s AS r ON r.room = e.room
    WHERE e.finished_at >= classbill.day_start($1) AND e.finished_at < classbill.day_start($2)
      AND ($3 IS NULL OR r.account::text = $3)
    GROUP BY 1, 2
    $q$, classbill.source('exports'), classbill.source('rooms'))
  USING p_from, p_to, p_account;
END $$;
COMMENT ON FUNCTION classbill.export_basis(date, date, text) IS
  'Processed export time in seconds per account and billing day (the day the exports finished) of [from, to)';

-- GB-months of a day's byte-marks: a GB stored all day is 1/30 GB-month.
CREATE FUNCTION classbill.gb_months(byte_marks numeric, marks integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT round(byte_marks::numeric(1000, 30) / (marks * 1073741824::numeric * 30), 24) $$;
COMMENT ON FUNCTION classbill.gb_months(numeric, integer) IS
  'A day''s storage in GB-months: its mean GB (byte-marks / marks / 2^30) over 30, to 24 decimal places (SPEC 4.2)';

-- The price in effect on a day for a rate card key without mode and
-- tier, or the error naming account, product and day (SPEC 3.2).
CREATE FUNCTION classbill.price_on(p_product classbill.product, p_account text,
                                   p_currency text, p_day date)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(
    (SELECT rp.price FROM classbill.rate_periods AS rp
     WHERE rp.product = p_product AND rp.mode IS NULL AND rp.currency = p_currency
       AND p_day >= rp.valid_from AND p_day < rp.valid_to),
    classbill.missing_rate(p_account, p_product, NULL, NULL, p_currency, p_day))
$$;
COMMENT ON FUNCTION classbill.price_on(classbill.product, text, text, date) IS
  'The storage or export price in effect on a day in a currency; a missing one is an error naming account, product and day';

CREATE FUNCTION classbill.storage_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.day, 'storage', NULL::classbill.tier, NULL::classbill.mode, NULL::bigint,
         NULL::text, classbill.gb_months(b.byte_marks, b.marks), 'GB-month', p.price,
         classbill.gb_months(b.byte_marks, b.marks) * p.price, a.currency
  FROM classbill.storage_basis(p_from, p_to, p_account) AS b
  JOIN classbill.accounts AS a ON a.account = b.account
  CROSS JOIN LATERAL (SELECT classbill.price_on('storage', b.account, a.currency, b.day)) AS p(price)
$$;
COMMENT ON FUNCTION classbill.storage_lines(date, date, text) IS
  'One storage line per account and billing day of [from, to): the day''s GB-months (daily GB / 30) at the storage price per GB-month in effect that day (SPEC 4.2); exact to 24 decimal places, rounded only on statements';

CREATE FUNCTION classbill.export_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.day, 'export', NULL::classbill.tier, NULL::classbill.mode, NULL::bigint,
         NULL::text, ceil(b.seconds / 60), 'minute', p.price, ceil(b.seconds / 60) * p.price,
         a.currency
  FROM classbill.export_basis(p_from, p_to, p_account) AS b
  JOIN classbill.accounts AS a ON a.account = b.account
  CROSS JOIN LATERAL (SELECT classbill.price_on('export', b.account, a.currency, b.day)) AS p(price)
  WHERE b.seconds > 0
$$;
COMMENT ON FUNCTION classbill.export_lines(date, date, text) IS
  'One export line per account and billing day of [from, to) on which exports finished: their processed time summed and rounded up to whole minutes, at the export rate in effect that day (SPEC 5.1)';

CREATE FUNCTION classbill.late_recordings(p_from date, p_to date)
RETURNS TABLE (room text, account text, class_end timestamptz, ready_at timestamptz,
               late_by interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
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
  USING classbill.day_start(p_from), classbill.day_start(p_to);
END $$;
COMMENT ON FUNCTION classbill.late_recordings(date, date) IS
  'Recordings that became ready in the billing days [from, to) more than 24 hours after their class ended (its last event): allowed, and reported (SPEC 4.1)';
