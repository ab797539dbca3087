
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

-- Storage lines: a GB stored all day is 1/30 of a GB-month.
CREATE FUNCTION classbill.storage_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT s.account, d.day, 'storage'::text, NULL::classbill.tier, NULL::classbill.mode,
           NULL::bigint, NULL::text,
           round(d.byte_marks::numeric(1000, 30) / (d.marks * 1073741824::numeric * 30), 24),
           'GB-month'::text, p.price,
           round(d.byte_marks::numeric(1000, 30) / (d.marks * 1073741824::numeric * 30), 24) * p.price,
           a.currency
    FROM (SELECT r.account::text AS account,
                 classbill.storage_days($1, $2, f.bytes::bigint, f.ready_at, f.retention, f.deleted_at) AS days
          FROM %1$s AS f JOIN %2$s AS r ON r.room = f.room
          WHERE f.ready_at < classbill.day_start($2)
            AND (f.deleted_at IS NULL OR f.deleted_at > classbill.day_start($1))
            AND ($3 IS NULL OR r.account::text = $3)
          GROUP BY r.account) AS s
    JOIN classbill.accounts AS a ON a.account = s.account
    CROSS JOIN LATERAL unnest(s.days) AS d
    CROSS JOIN LATERAL (
      SELECT CASE WHEN rp.price IS NOT NULL THEN rp.price
                  ELSE classbill.missing_rate(s.account, 'storage', NULL, NULL, a.currency, d.day) END
      FROM (SELECT NULL::numeric) AS dummy
      LEFT JOIN classbill.rate_periods AS rp
        ON rp.product = 'storage' AND rp.currency = a.currency
       AND d.day >= rp.valid_from AND d.day < rp.valid_to) AS p(price)
    $q$, classbill.source('recordings'), classbill.source('rooms'))
  USING p_from, p_to, p_account;
END $$;
COMMENT ON FUNCTION classbill.storage_lines(date, date, text) IS
  'One storage line per account and billing day of [from, to): the day''s GB-months (daily GB / 30) at the storage price per GB-month in effect that day (SPEC 4.2); exact to 24 decimal places, rounded only on statements';

CREATE FUNCTION classbill.export_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT x.account, x.day, 'export'::text, NULL::classbill.tier, NULL::classbill.mode,
           NULL::bigint, NULL::text, x.minutes::numeric, 'minute'::text,
           p.price, x.minutes * p.price, a.currency
    FROM (SELECT r.account::text AS account,
                 (e.finished_at AT TIME ZONE current_setting('classbill.billing_timezone'))::date AS day,
                 ceil(sum(extract(epoch FROM e.processed)) / 60) AS minutes
          FROM %1$s AS e JOIN %2$s AS r ON r.room = e.room
          WHERE e.finished_at >= classbill.day_start($1) AND e.finished_at < classbill.day_start($2)
            AND ($3 IS NULL OR r.account::text = $3)
          GROUP BY 1, 2) AS x
    JOIN classbill.accounts AS a ON a.account = x.account
    CROSS JOIN LATERAL (
      SELECT CASE WHEN rp.price IS NOT NULL THEN rp.price
                  ELSE classbill.missing_rate(x.account, 'export', NULL, NULL, a.currency, x.day) END
      FROM (SELECT NULL::numeric) AS dummy
      LEFT JOIN classbill.rate_periods AS rp
        ON rp.product = 'export' AND rp.currency = a.currency
       AND x.day >= rp.valid_from AND x.day < rp.valid_to) AS p(price)
    WHERE x.minutes > 0
    $q$, classbill.source('exports'), classbill.source('rooms'))
  USING p_from, p_to, p_account;
END $$;
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
