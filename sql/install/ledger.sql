
-- ---------------------------------------------------------------------
-- The ledger: closing billing days (SPEC 7)
--
-- A close writes a day's lines for every account into tables that are
-- only ever inserted into; pack balances come from them.  Each close also
-- keeps the basis it billed (seconds, byte-marks, processed time per
-- account and day) and a fingerprint of the source rows it read, so the
-- next close can see rows that arrived late for a closed day and bill the
-- difference as adjustment lines pointing at that day.
-- ---------------------------------------------------------------------

CREATE TABLE classbill.closes (
  close_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  day              date NOT NULL,
  billing_timezone text NOT NULL,
  closed_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  closed_by        name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE classbill.closes IS
  'One row per close: the billing day closed, the zone it was closed in, when and by whom (the session user)';

CREATE TABLE classbill.closed_days (
  account  text NOT NULL,
  day      date NOT NULL,
  close_id bigint NOT NULL REFERENCES classbill.closes,
  PRIMARY KEY (account, day)
);
COMMENT ON TABLE classbill.closed_days IS
  'Which account''s which billing day is closed, and by which close; a closed day never changes (SPEC 7.2)';

CREATE TABLE classbill.ledger (
  line_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  close_id   bigint NOT NULL REFERENCES classbill.closes,
  account    text NOT NULL,
  day        date NOT NULL,
  corrects   date,
  product    text NOT NULL,
  tier       classbill.tier,
  mode       classbill.mode,
  pack_id    bigint,
  item       text,
  quantity   numeric NOT NULL,
  unit       text NOT NULL,
  unit_price numeric,
  amount     numeric NOT NULL,
  currency   text NOT NULL,
  CHECK (corrects IS NULL OR corrects < day)
);
CREATE INDEX ON classbill.ledger (account, day);
CREATE INDEX ON classbill.ledger (pack_id) WHERE pack_id IS NOT NULL;
COMMENT ON TABLE classbill.ledger IS
  'Closed lines: a day''s usage (covered by a pack, or overage), packs bought, storage and export, exact; adjustment lines bill late data for the day in corrects (SPEC 7.2). Never updated or deleted';

-- What each close billed, per account and day, to compare later rows with.
CREATE TABLE classbill.ledger_usage (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  account  text NOT NULL,
  tier     classbill.tier NOT NULL,
  mode     classbill.mode NOT NULL,
  day      date NOT NULL,
  seconds  numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_usage (account, day);
COMMENT ON TABLE classbill.ledger_usage IS
  'The presence a close billed for an account, tier, mode and day; the latest row of a key is what is billed now';

CREATE TABLE classbill.ledger_storage (
  close_id   bigint NOT NULL REFERENCES classbill.closes,
  account    text NOT NULL,
  day        date NOT NULL,
  marks      integer NOT NULL,
  byte_marks numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_storage (account, day);
COMMENT ON TABLE classbill.ledger_storage IS
  'The storage a close billed for an account and day (SPEC 4.2)';

CREATE TABLE classbill.ledger_exports (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  account  text NOT NULL,
  day      date NOT NULL,
  seconds  numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_exports (account, day);
COMMENT ON TABLE classbill.ledger_exports IS
  'The export processing time a close billed for an account and day (SPEC 5.1)';

CREATE TABLE classbill.ledger_rooms (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  account  text NOT NULL,
  day      date NOT NULL,
  tier     classbill.tier NOT NULL,
  mode     classbill.mode NOT NULL,
  room     text NOT NULL,
  seconds  numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_rooms (account, day, tier, mode);
COMMENT ON TABLE classbill.ledger_rooms IS
  'The rooms behind each closed usage quantity, with their presence that day (SPEC 7.3)';

CREATE TABLE classbill.ledger_fingerprints (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  source   text NOT NULL,
  day      date NOT NULL,
  rows     bigint NOT NULL,
  checksum numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_fingerprints (source, day);
COMMENT ON TABLE classbill.ledger_fingerprints IS
  'Count and checksum of the source rows of a day as a close read them; a later difference means rows arrived late';

SELECT pg_catalog.pg_extension_config_dump('classbill.closes', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.closes_close_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.closed_days', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_line_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_usage', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_storage', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_exports', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_rooms', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_fingerprints', '');

-- Closed means closed: no update, no delete, no truncate, for anyone who
-- goes through the table (SPEC 7.2).
CREATE FUNCTION classbill.ledger_is_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'classbill.% is append-only: closed lines never change', TG_TABLE_NAME
    USING ERRCODE = '55000',
          HINT = 'Late data is billed as adjustment lines by the next close.';
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['closes', 'closed_days', 'ledger', 'ledger_usage', 'ledger_storage',
                           'ledger_exports', 'ledger_rooms', 'ledger_fingerprints'] LOOP
    EXECUTE format('CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.%I
                    FOR EACH ROW EXECUTE FUNCTION classbill.ledger_is_append_only()', t);
    EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.%I
                    FOR EACH STATEMENT EXECUTE FUNCTION classbill.ledger_is_append_only()', t);
  END LOOP;
END $$;

-- Settings -----------------------------------------------------------------

CREATE FUNCTION classbill.recheck_days() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(nullif(current_setting('classbill.recheck_days', true), '')::integer, 7) $$;
COMMENT ON FUNCTION classbill.recheck_days() IS
  'How many closed days before the one being closed are checked for late rows (setting classbill.recheck_days, default 7)';

-- Fingerprints of source rows per day --------------------------------------

-- Count and checksum per billing day of [p_from, p_to) of one source: a
-- row added or removed changes the count, a row corrected in place (its
-- room, participant, kind, time, size, retention, deletion or duration)
-- changes the checksum.
CREATE FUNCTION classbill.source_fingerprints(p_source text, p_from date, p_to date)
RETURNS TABLE (day date, rows bigint, checksum numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  q text;
BEGIN
  IF NOT EXISTS (SELECT FROM classbill.sources AS s WHERE s.kind = p_source) THEN
    RETURN;
  END IF;
  q := CASE p_source
    WHEN 'events' THEN
      'SELECT (x.at AT TIME ZONE $3)::date, count(*),
              coalesce(sum(extract(epoch FROM x.at)), 0)
              + coalesce(sum(hashtextextended(concat_ws(chr(31), x.room, x.participant, x.event), 0)), 0)
       FROM %s AS x WHERE x.at >= $1 AND x.at < $2 GROUP BY 1'
    WHEN 'recordings' THEN
      'SELECT (x.ready_at AT TIME ZONE $3)::date, count(*),
              coalesce(sum(x.bytes::numeric + extract(epoch FROM x.ready_at)
                           + coalesce(extract(epoch FROM x.retention), -1)
                           + coalesce(extract(epoch FROM x.deleted_at), -1)), 0)
              + coalesce(sum(hashtextextended(x.room::text, 0)), 0)
       FROM %s AS x WHERE x.ready_at >= $1 AND x.ready_at < $2 GROUP BY 1'
    WHEN 'exports' THEN
      'SELECT (x.finished_at AT TIME ZONE $3)::date, count(*),
              coalesce(sum(extract(epoch FROM x.processed) + extract(epoch FROM x.finished_at)), 0)
              + coalesce(sum(hashtextextended(x.room::text, 0)), 0)
       FROM %s AS x WHERE x.finished_at >= $1 AND x.finished_at < $2 GROUP BY 1'
  END;
  RETURN QUERY EXECUTE format(q, classbill.source(p_source))
  USING classbill.day_start(p_from), classbill.day_start(p_to),
        classbill.billing_timezone();
END $$;
COMMENT ON FUNCTION classbill.source_fingerprints(text, date, date) IS
  'Per billing day, the count and a checksum of a source''s rows (events by at, recordings by ready_at, exports by finished_at)';

-- What is billed now ------------------------------------------------------

CREATE VIEW classbill.billed_usage AS
SELECT DISTINCT ON (u.account, u.tier, u.mode, u.day) u.account, u.tier, u.mode, u.day, u.seconds,
       ceil(u.seconds / 60)::bigint AS minutes, u.close_id
FROM classbill.ledger_usage AS u
ORDER BY u.account, u.tier, u.mode, u.day, u.close_id DESC;
COMMENT ON VIEW classbill.billed_usage IS
  'Per account, tier, mode and closed day, the presence billed now (the latest close that billed it)';

CREATE VIEW classbill.billed_storage AS
SELECT DISTINCT ON (s.account, s.day) s.account, s.day, s.marks, s.byte_marks, s.close_id
FROM classbill.ledger_storage AS s
ORDER BY s.account, s.day, s.close_id DESC;
COMMENT ON VIEW classbill.billed_storage IS 'Per account and closed day, the storage billed now';

CREATE VIEW classbill.billed_exports AS
SELECT DISTINCT ON (e.account, e.day) e.account, e.day, e.seconds, e.close_id
FROM classbill.ledger_exports AS e
ORDER BY e.account, e.day, e.close_id DESC;
COMMENT ON VIEW classbill.billed_exports IS 'Per account and closed day, the export time billed now';

CREATE VIEW classbill.ledger_pack_balances AS
SELECT k.pack_id, k.account, k.tier, k.item, k.purchased_at, i.minutes,
       coalesce(u.used, 0)::bigint AS used, (i.minutes - coalesce(u.used, 0))::bigint AS balance
FROM classbill.packs AS k
JOIN classbill.pack_items AS i ON i.item = k.item
LEFT JOIN (SELECT l.pack_id, sum(l.quantity) AS used FROM classbill.ledger AS l
           WHERE l.product = 'usage' AND l.pack_id IS NOT NULL GROUP BY l.pack_id) AS u
  ON u.pack_id = k.pack_id;
COMMENT ON VIEW classbill.ledger_pack_balances IS
  'Every pack with the minutes closed days drew from it and what it has left: where the next close continues (SPEC 3.5, 7)';

-- The rooms with presence on a billing day, each room's usage taken from
-- all of its events.  Rooms are found by their events from the day
-- before to the day after, so a presence of a day and more is found as
-- long as its room has an event within that reach.
CREATE FUNCTION classbill.day_rooms(p_day date)
RETURNS TABLE (room text, account text, tier classbill.tier, mode classbill.mode, seconds numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT v.room, v.account, v.tier, v.mode, d.seconds
  FROM classbill.room_values(p_day - 1, p_day + 2) AS v,
       classbill.daily(v.usage) AS d
  WHERE d.day = p_day
$$;
COMMENT ON FUNCTION classbill.day_rooms(date) IS
  'Rooms with presence on a billing day, with their account, tier, mode and that day''s seconds';

-- Drawing and giving back ---------------------------------------------------

-- Lines for minutes drawn on behalf of day p_day (regular or corrected),
-- from the packs' balances in the ledger now: uses holds (account, tier,
-- mode, minutes) to draw.
CREATE FUNCTION classbill.draw(p_close bigint, p_line_day date, p_for_day date, p_corrects date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO classbill.ledger (close_id, account, day, corrects, product, tier, mode, pack_id, item,
                                quantity, unit, unit_price, amount, currency)
  SELECT p_close, q.account, p_line_day, p_corrects, 'usage', q.tier, d.mode, d.pack_id, k.item,
         d.minutes, 'minute', CASE WHEN d.pack_id IS NULL THEN d.rate ELSE 0 END, d.amount, q.currency
  FROM (SELECT w.account, w.tier, a.currency,
               array_agg(ROW(p_for_day, w.mode, w.minutes,
                             CASE WHEN r.price IS NOT NULL THEN r.price
                                  ELSE classbill.missing_rate(w.account, 'usage', w.mode, w.tier,
                                                              a.currency, p_for_day) END
                            )::classbill.drawdown_use) AS uses
        FROM cb_to_draw AS w
        JOIN classbill.accounts AS a ON a.account = w.account
        LEFT JOIN classbill.rate_periods AS r
          ON r.product = 'usage' AND r.mode = w.mode AND r.tier = w.tier AND r.currency = a.currency
         AND p_for_day >= r.valid_from AND p_for_day < r.valid_to
        WHERE w.minutes > 0
        GROUP BY w.account, w.tier, a.currency) AS q
  LEFT JOIN (SELECT b.account, b.tier,
                    array_agg(ROW(b.pack_id, b.purchased_at, b.balance)::classbill.drawdown_pack) AS packs
             FROM classbill.ledger_pack_balances AS b
             WHERE b.balance > 0 AND b.account IN (SELECT w.account FROM cb_to_draw AS w)
             GROUP BY b.account, b.tier) AS pk ON pk.account = q.account AND pk.tier = q.tier
  CROSS JOIN LATERAL classbill.drawdown(q.uses, pk.packs) WITH ORDINALITY AS d
  LEFT JOIN classbill.packs AS k ON k.pack_id = d.pack_id
  ORDER BY q.account, q.tier, d.ordinality;
END $$;
COMMENT ON FUNCTION classbill.draw(bigint, date, date, date) IS
  'Internal to close_day: draw the minutes in cb_to_draw from the packs'' ledger balances (SPEC 3.5)';

-- Minutes billed for p_day that turned out not to be there go back: first
-- off the day's overage (credited at the day's rate), then to the packs
-- that covered the day, the newest first.
CREATE FUNCTION classbill.give_back(p_close bigint, p_line_day date, p_for_day date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO classbill.ledger (close_id, account, day, corrects, product, tier, mode, pack_id, item,
                                quantity, unit, unit_price, amount, currency)
  SELECT p_close, x.account, p_line_day, p_for_day, 'usage', x.tier, x.mode, x.pack_id, x.item,
         -x.back, 'minute', x.unit_price, -x.back * x.unit_price, x.currency
  FROM (
    SELECT s.*,
           greatest(0, least(s.net, s.give - (s.before_me))) AS back
    FROM (
      SELECT g.account, g.tier, g.mode, g.minutes AS give, h.pack_id, h.item, h.net, h.unit_price, h.ord,
             h.currency,
             coalesce(sum(h.net) OVER (PARTITION BY g.account, g.tier, g.mode ORDER BY h.ord
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_me
      FROM cb_to_give AS g
      JOIN (SELECT l.account, l.tier, l.mode, l.pack_id, max(l.item) AS item,
                   sum(l.quantity) AS net,
                   CASE WHEN l.pack_id IS NULL THEN max(l.unit_price) ELSE 0 END AS unit_price,
                   max(l.currency) AS currency,
                   -- overage first, then packs newest first
                   CASE WHEN l.pack_id IS NULL THEN 0 ELSE 1 END AS kind,
                   max(k.purchased_at) AS purchased_at,
                   row_number() OVER (PARTITION BY l.account, l.tier, l.mode
                                      ORDER BY CASE WHEN l.pack_id IS NULL THEN 0 ELSE 1 END,
                                               max(k.purchased_at) DESC, l.pack_id DESC) AS ord
            FROM classbill.ledger AS l
            LEFT JOIN classbill.packs AS k ON k.pack_id = l.pack_id
            WHERE l.product = 'usage' AND coalesce(l.corrects, l.day) = p_for_day
              AND l.account IN (SELECT g2.account FROM cb_to_give AS g2)
            GROUP BY l.account, l.tier, l.mode, l.pack_id
            HAVING sum(l.quantity) > 0) AS h
        ON h.account = g.account AND h.tier = g.tier AND h.mode = g.mode) AS s) AS x
  WHERE x.back > 0
  ORDER BY x.account, x.tier, x.mode, x.ord;
END $$;
COMMENT ON FUNCTION classbill.give_back(bigint, date, date) IS
  'Internal to close_day: minutes billed for a day that late data took away come back off its overage first, then to its packs, newest first';

-- Late data ------------------------------------------------------------------

-- Compare what is billed for closed day p_day with what the sources say
-- now, for the accounts in cb_accounts; bill the differences as
-- adjustment lines of day p_line_day (SPEC 7.2).
CREATE FUNCTION classbill.adjust_day(p_close bigint, p_line_day date, p_day date,
                                     p_usage boolean, p_storage boolean, p_exports boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer := 0;
  k integer;
BEGIN
  IF p_usage THEN
    CREATE TEMP TABLE cb_now_rooms ON COMMIT DROP AS
    SELECT r.* FROM classbill.day_rooms(p_day) AS r
    WHERE r.account IN (SELECT c.account FROM cb_accounts AS c
                        JOIN classbill.closed_days AS cd ON cd.account = c.account AND cd.day = p_day);
    CREATE TEMP TABLE cb_usage_diff ON COMMIT DROP AS
    SELECT coalesce(nw.account, b.account) AS account, coalesce(nw.tier, b.tier) AS tier,
           coalesce(nw.mode, b.mode) AS mode, coalesce(nw.seconds, 0) AS seconds,
           ceil(coalesce(nw.seconds, 0) / 60)::bigint - coalesce(b.minutes, 0) AS delta
    FROM (SELECT r.account, r.tier, r.mode, sum(r.seconds) AS seconds
          FROM cb_now_rooms AS r GROUP BY 1, 2, 3) AS nw
    FULL JOIN (SELECT bu.* FROM classbill.billed_usage AS bu
               WHERE bu.day = p_day
                 AND bu.account IN (SELECT c.account FROM cb_accounts AS c
                                    JOIN classbill.closed_days AS cd
                                      ON cd.account = c.account AND cd.day = p_day)) AS b
      ON b.account = nw.account AND b.tier = nw.tier AND b.mode = nw.mode
    WHERE coalesce(nw.seconds, 0) IS DISTINCT FROM coalesce(b.seconds, 0);

    INSERT INTO classbill.ledger_usage (close_id, account, tier, mode, day, seconds)
    SELECT p_close, d.account, d.tier, d.mode, p_day, d.seconds FROM cb_usage_diff AS d;
    INSERT INTO classbill.ledger_rooms (close_id, account, day, tier, mode, room, seconds)
    SELECT p_close, r.account, p_day, r.tier, r.mode, r.room, r.seconds
    FROM cb_now_rooms AS r
    WHERE EXISTS (SELECT FROM cb_usage_diff AS d
                  WHERE d.account = r.account AND d.tier = r.tier AND d.mode = r.mode);

    CREATE TEMP TABLE cb_to_draw ON COMMIT DROP AS
    SELECT d.account, d.tier, d.mode, d.delta AS minutes FROM cb_usage_diff AS d WHERE d.delta > 0;
    PERFORM classbill.draw(p_close, p_line_day, p_day, p_day);
    CREATE TEMP TABLE cb_to_give ON COMMIT DROP AS
    SELECT d.account, d.tier, d.mode, -d.delta AS minutes FROM cb_usage_diff AS d WHERE d.delta < 0;
    PERFORM classbill.give_back(p_close, p_line_day, p_day);
    SELECT count(*) INTO k FROM cb_usage_diff WHERE delta <> 0;
    n := n + k;
    DROP TABLE cb_now_rooms, cb_usage_diff, cb_to_draw, cb_to_give;
  END IF;

  IF p_storage THEN
    CREATE TEMP TABLE cb_storage_diff ON COMMIT DROP AS
    SELECT coalesce(nw.account, b.account) AS account, coalesce(nw.marks, b.marks) AS marks,
           coalesce(nw.byte_marks, 0) AS byte_marks,
           coalesce(nw.byte_marks, 0) - coalesce(b.byte_marks, 0) AS delta
    FROM (SELECT s.* FROM classbill.storage_basis(p_day, p_day + 1) AS s
          WHERE s.account IN (SELECT c.account FROM cb_accounts AS c
                              JOIN classbill.closed_days AS cd
                                ON cd.account = c.account AND cd.day = p_day)) AS nw
    FULL JOIN (SELECT bs.* FROM classbill.billed_storage AS bs
               WHERE bs.day = p_day
                 AND bs.account IN (SELECT c.account FROM cb_accounts AS c
                                    JOIN classbill.closed_days AS cd
                                      ON cd.account = c.account AND cd.day = p_day)) AS b
      ON b.account = nw.account
    WHERE coalesce(nw.byte_marks, 0) <> coalesce(b.byte_marks, 0);
    INSERT INTO classbill.ledger_storage (close_id, account, day, marks, byte_marks)
    SELECT p_close, d.account, p_day, d.marks, d.byte_marks FROM cb_storage_diff AS d;
    INSERT INTO classbill.ledger (close_id, account, day, corrects, product, quantity, unit,
                                  unit_price, amount, currency)
    SELECT p_close, d.account, p_line_day, p_day, 'storage', classbill.gb_months(d.delta, d.marks),
           'GB-month', p.price, classbill.gb_months(d.delta, d.marks) * p.price, a.currency
    FROM cb_storage_diff AS d
    JOIN classbill.accounts AS a ON a.account = d.account
    CROSS JOIN LATERAL (SELECT classbill.price_on('storage', d.account, a.currency, p_day)) AS p(price)
    ORDER BY d.account;
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n + k;
    DROP TABLE cb_storage_diff;
  END IF;

  IF p_exports THEN
    CREATE TEMP TABLE cb_export_diff ON COMMIT DROP AS
    SELECT coalesce(nw.account, b.account) AS account, coalesce(nw.seconds, 0) AS seconds,
           ceil(coalesce(nw.seconds, 0) / 60) - ceil(coalesce(b.seconds, 0) / 60) AS delta
    FROM (SELECT e.* FROM classbill.export_basis(p_day, p_day + 1) AS e
          WHERE e.account IN (SELECT c.account FROM cb_accounts AS c
                              JOIN classbill.closed_days AS cd
                                ON cd.account = c.account AND cd.day = p_day)) AS nw
    FULL JOIN (SELECT be.* FROM classbill.billed_exports AS be
               WHERE be.day = p_day
                 AND be.account IN (SELECT c.account FROM cb_accounts AS c
                                    JOIN classbill.closed_days AS cd
                                      ON cd.account = c.account AND cd.day = p_day)) AS b
      ON b.account = nw.account
    WHERE coalesce(nw.seconds, 0) <> coalesce(b.seconds, 0);
    INSERT INTO classbill.ledger_exports (close_id, account, day, seconds)
    SELECT p_close, d.account, p_day, d.seconds FROM cb_export_diff AS d;
    INSERT INTO classbill.ledger (close_id, account, day, corrects, product, quantity, unit,
                                  unit_price, amount, currency)
    SELECT p_close, d.account, p_line_day, p_day, 'export', d.delta, 'minute', p.price,
           d.delta * p.price, a.currency
    FROM cb_export_diff AS d
    JOIN classbill.accounts AS a ON a.account = d.account
    CROSS JOIN LATERAL (SELECT classbill.price_on('export', d.account, a.currency, p_day)) AS p(price)
    WHERE d.delta <> 0
    ORDER BY d.account;
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n + k;
    DROP TABLE cb_export_diff;
  END IF;
  RETURN n;
END $$;
COMMENT ON FUNCTION classbill.adjust_day(bigint, date, date, boolean, boolean, boolean) IS
  'Internal to close_day: bill what late rows changed for a closed day as adjustment lines';

-- Closing --------------------------------------------------------------------

-- The regular lines of day p_day for the accounts in cb_accounts.
CREATE FUNCTION classbill.close_regular(p_close bigint, p_day date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
BEGIN
  -- usage: the rooms, the quantities, the drawdown (SPEC 1.7, 3.2, 3.5)
  CREATE TEMP TABLE cb_day_rooms ON COMMIT DROP AS
  SELECT r.* FROM classbill.day_rooms(p_day) AS r
  WHERE r.account IN (SELECT c.account FROM cb_accounts AS c);
  INSERT INTO classbill.ledger_rooms (close_id, account, day, tier, mode, room, seconds)
  SELECT p_close, r.account, p_day, r.tier, r.mode, r.room, r.seconds FROM cb_day_rooms AS r;
  CREATE TEMP TABLE cb_to_draw ON COMMIT DROP AS
  SELECT r.account, r.tier, r.mode, sum(r.seconds) AS seconds, ceil(sum(r.seconds) / 60)::bigint AS minutes
  FROM cb_day_rooms AS r GROUP BY r.account, r.tier, r.mode;
  INSERT INTO classbill.ledger_usage (close_id, account, tier, mode, day, seconds)
  SELECT p_close, w.account, w.tier, w.mode, p_day, w.seconds FROM cb_to_draw AS w;
  PERFORM classbill.draw(p_close, p_day, p_day, NULL);
  DROP TABLE cb_day_rooms, cb_to_draw;

  -- packs bought that day
  INSERT INTO classbill.ledger (close_id, account, day, product, tier, pack_id, item, quantity, unit,
                                unit_price, amount, currency)
  SELECT p_close, l.account, p_day, l.product, l.tier, l.pack_id, l.item, l.quantity, l.unit,
         l.unit_price, l.amount, l.currency
  FROM classbill.pack_lines(p_day, p_day + 1) AS l
  WHERE l.account IN (SELECT c.account FROM cb_accounts AS c)
  ORDER BY l.account, l.pack_id;

  -- storage and export, when their sources are registered (SPEC 4.2, 5.1)
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'recordings') THEN
    CREATE TEMP TABLE cb_storage ON COMMIT DROP AS
    SELECT s.* FROM classbill.storage_basis(p_day, p_day + 1) AS s
    WHERE s.account IN (SELECT c.account FROM cb_accounts AS c);
    INSERT INTO classbill.ledger_storage (close_id, account, day, marks, byte_marks)
    SELECT p_close, s.account, p_day, s.marks, s.byte_marks FROM cb_storage AS s;
    INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, unit_price,
                                  amount, currency)
    SELECT p_close, s.account, p_day, 'storage', classbill.gb_months(s.byte_marks, s.marks),
           'GB-month', p.price, classbill.gb_months(s.byte_marks, s.marks) * p.price, a.currency
    FROM cb_storage AS s
    JOIN classbill.accounts AS a ON a.account = s.account
    CROSS JOIN LATERAL (SELECT classbill.price_on('storage', s.account, a.currency, p_day)) AS p(price)
    ORDER BY s.account;
    DROP TABLE cb_storage;
  END IF;
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'exports') THEN
    CREATE TEMP TABLE cb_exports ON COMMIT DROP AS
    SELECT e.* FROM classbill.export_basis(p_day, p_day + 1) AS e
    WHERE e.account IN (SELECT c.account FROM cb_accounts AS c);
    INSERT INTO classbill.ledger_exports (close_id, account, day, seconds)
    SELECT p_close, e.account, p_day, e.seconds FROM cb_exports AS e;
    INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, unit_price,
                                  amount, currency)
    SELECT p_close, e.account, p_day, 'export', ceil(e.seconds / 60), 'minute', p.price,
           ceil(e.seconds / 60) * p.price, a.currency
    FROM cb_exports AS e
    JOIN classbill.accounts AS a ON a.account = e.account
    CROSS JOIN LATERAL (SELECT classbill.price_on('export', e.account, a.currency, p_day)) AS p(price)
    WHERE e.seconds > 0
    ORDER BY e.account;
    DROP TABLE cb_exports;
  END IF;
END $$;
COMMENT ON FUNCTION classbill.close_regular(bigint, date) IS
  'Internal to close_day: the regular lines of one billing day';

CREATE PROCEDURE classbill.close_day(p_day date, p_account text DEFAULT NULL)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  ledger_tz text;
  reach integer := classbill.recheck_days();
  v_close bigint;
  n_accounts integer;
  n_adjusted integer := 0;
  late record;
  d date;
  later record;
BEGIN
  -- A close must see what a close that ran while it waited wrote: each
  -- statement its own snapshot, taken after the lock below.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'classbill.close_day needs READ COMMITTED, not %',
                    upper(current_setting('transaction_isolation'))
      USING ERRCODE = '25001',
            HINT = 'Call it outside an explicit transaction, or in one begun with ISOLATION LEVEL READ COMMITTED.';
  END IF;

  -- SPEC 7.2: one close at a time; a second one waits here, then finds
  -- the day closed and says so
  PERFORM pg_advisory_xact_lock(hashtext('classbill.close_day'));

  SELECT c.billing_timezone INTO ledger_tz FROM classbill.closes AS c ORDER BY c.close_id DESC LIMIT 1;
  IF ledger_tz IS NOT NULL AND ledger_tz <> tz THEN
    RAISE EXCEPTION 'the ledger is kept in billing time zone %, but classbill.billing_timezone is %',
                    ledger_tz, tz
      USING ERRCODE = '22023',
            HINT = format('SET classbill.billing_timezone = %L before closing days.', ledger_tz);
  END IF;
  IF p_account IS NOT NULL AND NOT EXISTS (SELECT FROM classbill.accounts AS a WHERE a.account = p_account) THEN
    RAISE EXCEPTION 'account "%" is not in classbill.accounts', p_account USING ERRCODE = '22023';
  END IF;

  -- days close in order: a day after this one closed first is an error
  SELECT cd.account, max(cd.day) AS day INTO later FROM classbill.closed_days AS cd
  WHERE (p_account IS NULL OR cd.account = p_account) AND cd.day > p_day
    AND NOT EXISTS (SELECT FROM classbill.closed_days AS x WHERE x.account = cd.account AND x.day = p_day)
  GROUP BY cd.account LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'account "%" is closed up to %, after %', later.account, later.day, p_day
      USING ERRCODE = '55000',
            HINT = 'Billing days close in date order; a late change to an earlier day is billed as an adjustment.';
  END IF;

  -- days left open since an account's last close are closed first, in order
  FOR d IN
    SELECT g::date FROM generate_series(
      (SELECT min(x.last) + 1
       FROM (SELECT max(cd.day) AS last FROM classbill.closed_days AS cd
             WHERE p_account IS NULL OR cd.account = p_account
             GROUP BY cd.account) AS x),
      p_day - 1, '1 day') AS g
  LOOP
    CALL classbill.close_day(d, p_account);
  END LOOP;

  -- the accounts this day is still open for
  CREATE TEMP TABLE cb_accounts ON COMMIT DROP AS
  SELECT a.account FROM classbill.accounts AS a
  WHERE (p_account IS NULL OR a.account = p_account)
    AND NOT EXISTS (SELECT FROM classbill.closed_days AS cd WHERE cd.account = a.account AND cd.day = p_day);
  SELECT count(*) INTO n_accounts FROM cb_accounts;
  IF n_accounts = 0 THEN
    RAISE NOTICE 'billing day % is already closed%, nothing changed', p_day,
                 CASE WHEN p_account IS NULL THEN '' ELSE format(' for account "%s"', p_account) END;
    DROP TABLE cb_accounts;
    RETURN;
  END IF;

  -- closed_by: who called, not the role the close runs as
  INSERT INTO classbill.closes (day, billing_timezone, closed_by) VALUES (p_day, tz, session_user)
  RETURNING closes.close_id INTO v_close;

  -- 1. what the sources hold now, over the days a close may look at;
  --    read before anything is computed, so a row that arrives during
  --    the close is at worst seen twice, never missed
  CREATE TEMP TABLE cb_fingerprints ON COMMIT DROP AS
  SELECT s.source, f.day, f.rows, f.checksum
  FROM unnest(ARRAY['events', 'recordings', 'exports']) AS s(source),
       LATERAL classbill.source_fingerprints(s.source, p_day - reach - 1, p_day + 2) AS f;

  -- 2. late rows: days whose rows differ from what the accounts' last
  --    close read, and the closed days they can change
  FOR late IN
    WITH last_close AS (
      SELECT DISTINCT (SELECT max(cd.close_id) FROM classbill.closed_days AS cd
                       WHERE cd.account = c.account) AS close_id
      FROM cb_accounts AS c),
    seen AS (
      SELECT DISTINCT ON (lc.close_id, f.source, f.day) lc.close_id, f.source, f.day, f.rows, f.checksum
      FROM last_close AS lc
      JOIN classbill.ledger_fingerprints AS f ON f.close_id <= lc.close_id
      WHERE f.day >= p_day - reach - 1 AND f.day <= p_day + 1
      ORDER BY lc.close_id, f.source, f.day, f.close_id DESC),
    now_seen AS (
      SELECT lc.close_id, nw.source, nw.day, nw.rows, nw.checksum
      FROM last_close AS lc CROSS JOIN cb_fingerprints AS nw
      WHERE lc.close_id IS NOT NULL),
    changed AS (
      SELECT coalesce(nw.source, s.source) AS source, coalesce(nw.day, s.day) AS day
      FROM now_seen AS nw
      FULL JOIN seen AS s ON s.close_id = nw.close_id AND s.source = nw.source AND s.day = nw.day
      WHERE nw.rows IS DISTINCT FROM s.rows OR nw.checksum IS DISTINCT FROM s.checksum)
    SELECT dd.day,
           bool_or(ch.source = 'events') AS usage,
           bool_or(ch.source = 'recordings') AS storage,
           bool_or(ch.source = 'exports') AS exports
    FROM changed AS ch
    CROSS JOIN LATERAL (
      SELECT x::date AS day FROM generate_series(
        CASE ch.source WHEN 'events' THEN ch.day - 1 ELSE ch.day END,
        CASE ch.source WHEN 'events' THEN ch.day + 1 WHEN 'recordings' THEN p_day - 1 ELSE ch.day END,
        '1 day') AS x) AS dd
    WHERE dd.day < p_day AND dd.day >= p_day - reach
    GROUP BY dd.day
    ORDER BY dd.day
  LOOP
    n_adjusted := n_adjusted + classbill.adjust_day(v_close, p_day, late.day,
                                                    late.usage, late.storage, late.exports);
  END LOOP;

  -- 3. the day itself
  PERFORM classbill.close_regular(v_close, p_day);

  INSERT INTO classbill.ledger_fingerprints (close_id, source, day, rows, checksum)
  SELECT v_close, f.source, f.day, f.rows, f.checksum FROM cb_fingerprints AS f;
  INSERT INTO classbill.closed_days (account, day, close_id)
  SELECT c.account, p_day, v_close FROM cb_accounts AS c;

  RAISE NOTICE 'closed billing day % for % account(s): % line(s), % adjusted',
               p_day, n_accounts,
               (SELECT count(*) FROM classbill.ledger AS l WHERE l.close_id = v_close), n_adjusted;
  DROP TABLE cb_accounts, cb_fingerprints;
END $$;
COMMENT ON PROCEDURE classbill.close_day(date, text) IS
  'Close a billing day for every account (or one): bill late rows of recently closed days as adjustments, then write the day''s usage, pack, storage and export lines to the ledger (SPEC 7). Safe to repeat and to run twice at once; all or nothing; days left open before it are closed first';

CREATE PROCEDURE classbill.close_yesterday()
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  CALL classbill.close_day((now() AT TIME ZONE classbill.billing_timezone())::date - 1);
END $$;
COMMENT ON PROCEDURE classbill.close_yesterday() IS
  'Close yesterday, in the billing time zone: what a daily pg_cron job runs (SPEC 7.1)';
