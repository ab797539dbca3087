
-- ---------------------------------------------------------------------
-- The ledger: closing billing days (SPEC 7)
--
-- A close writes a day's lines for every account into tables that are
-- only ever inserted into; pack balances come from them.  Each close also
-- keeps the basis it billed: per room and day the presence, tier and mode
-- (ledger_rooms), per group the presence (ledger_usage), per account and
-- day the storage and export time; so a later close can compare what the
-- sources say now with what was billed and bill the difference as
-- adjustment lines pointing at the day they correct (SPEC 7.2).
-- ---------------------------------------------------------------------

CREATE TABLE classbill.closes (
  close_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  day              date NOT NULL,
  billing_timezone text NOT NULL,
  closed_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  closed_by        name NOT NULL DEFAULT session_user,
  recheck_days     integer,
  watch_days       integer
);
COMMENT ON TABLE classbill.closes IS
  'One row per close: the billing day closed, the zone it was closed in, when and by whom (the session user), and the recheck and watch windows it used';

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
  CHECK (corrects IS NULL OR corrects < day),
  prev_hash  bytea,
  hash       bytea
);
CREATE INDEX ON classbill.ledger (account, day);
CREATE INDEX ON classbill.ledger (pack_id) WHERE pack_id IS NOT NULL;
COMMENT ON TABLE classbill.ledger IS
  'Closed lines: a day''s usage (covered by a pack, or overage), packs bought, storage and export, exact; adjustment lines bill late data for the day in corrects (SPEC 7.2). Never updated or deleted; each line chained to the one before by prev_hash and hash = SHA-256(prev_hash, the line) (SPEC 10.5)';

-- SPEC 10.5: every line chained to the one before it
CREATE FUNCTION classbill_internal.chain_line() RETURNS trigger
AS 'MODULE_PATHNAME', 'classbill_chain_line'
LANGUAGE C;
COMMENT ON FUNCTION classbill_internal.chain_line() IS
  'Trigger of classbill.ledger: sets a new line''s prev_hash (the hash of the line before it) and hash (SHA-256 of prev_hash and the line''s columns, SPEC 10.5)';
CREATE TRIGGER chain BEFORE INSERT ON classbill.ledger
FOR EACH ROW EXECUTE FUNCTION classbill_internal.chain_line();

-- The head of the chain after each close: removing the last lines, or a
-- close's lines, shows against it.
CREATE TABLE classbill.ledger_heads (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  line_id  bigint NOT NULL,
  hash     bytea NOT NULL
);
COMMENT ON TABLE classbill.ledger_heads IS
  'The last line of the ledger and its hash after each close that wrote lines (SPEC 10.5): verify_ledger checks each still stands';

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

-- close_id is not a foreign key here: a close writes 200,000 rows a day
-- of it for a busy service, and a close writes them only under the close
-- id it has just inserted.
CREATE TABLE classbill.ledger_rooms (
  close_id      bigint NOT NULL,
  account       text NOT NULL,
  day           date NOT NULL,
  tier          classbill.tier NOT NULL,
  mode          classbill.mode NOT NULL,
  room          text NOT NULL,
  seconds       numeric NOT NULL,
  declared_mode classbill.mode,
  participants  integer,
  room_digest   bytea
);
CREATE INDEX ON classbill.ledger_rooms (room, day);
-- rows come in close order, so days lie together: a BRIN index is enough
CREATE INDEX ON classbill.ledger_rooms USING brin (day);
COMMENT ON TABLE classbill.ledger_rooms IS
  'The rooms behind each closed usage quantity: per room and day the presence billed, its tier and mode (declared, or inferred from the participants present that day), and a digest of the room''s rows in the rooms source as billed; the latest row of a room and day is what is billed now, seconds 0 when it no longer bills (SPEC 7.2, 7.3)';

-- What a close met and did not bill: held back (the account's day stays
-- open, SPEC 7.5) or listed (a change older than the recheck window, a
-- row no account can be billed for, SPEC 7.2).
CREATE TABLE classbill.close_problems (
  problem_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  close_id   bigint NOT NULL REFERENCES classbill.closes,
  account    text,
  day        date NOT NULL,
  source     text NOT NULL,
  room       text,
  problem    text NOT NULL,
  detail     text,
  action     text NOT NULL CHECK (action IN ('held back', 'listed'))
);
CREATE INDEX ON classbill.close_problems (account, day);
CREATE INDEX ON classbill.close_problems (close_id);
COMMENT ON TABLE classbill.close_problems IS
  'One row per problem a close met (SPEC 7.2, 7.5): the close, the account (NULL when no account can be named), the day held back or changed, the source and room, what is wrong and which row; action ''held back'' (that account''s day stays open and later closes retry it) or ''listed'' (billed nowhere: a change older than the recheck window, a row of no known account)';

-- Which packs the ledger has seen: a pack recorded after its purchase day
-- was closed is found by not being here (SPEC 7.2).
CREATE TABLE classbill.ledger_packs (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  pack_id  bigint NOT NULL
);
CREATE INDEX ON classbill.ledger_packs (pack_id);
COMMENT ON TABLE classbill.ledger_packs IS
  'Each pack with the close that first saw it (billed it, or found it bought before its account''s ledger began); a pack not here and bought on a closed day was recorded late (SPEC 7.2)';

SELECT pg_catalog.pg_extension_config_dump('classbill.closes', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.closes_close_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.closed_days', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_line_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_usage', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_storage', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_exports', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_rooms', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.close_problems', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_packs', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_heads', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.close_problems_problem_id_seq', '');

-- Closed means closed: no update, no delete, no truncate, for anyone who
-- goes through the table (SPEC 7.2).
CREATE FUNCTION classbill_internal.ledger_is_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'classbill.% is append-only: closed lines never change', TG_TABLE_NAME
    USING ERRCODE = '55000',
          HINT = 'Late data is billed as adjustment lines by the next close.';
END $$;
COMMENT ON FUNCTION classbill_internal.ledger_is_append_only() IS
  'Trigger of the ledger tables: UPDATE, DELETE and TRUNCATE are refused (SPEC 7.2)';

CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.closes
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.closes
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.closed_days
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.closed_days
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.ledger
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.ledger
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.ledger_usage
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.ledger_usage
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.ledger_storage
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.ledger_storage
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.ledger_exports
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.ledger_exports
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.ledger_rooms
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.ledger_rooms
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.ledger_heads
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.ledger_heads
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.ledger_packs
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.ledger_packs
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.close_problems
FOR EACH ROW EXECUTE FUNCTION classbill_internal.ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.close_problems
FOR EACH STATEMENT EXECUTE FUNCTION classbill_internal.ledger_is_append_only();

-- Settings -----------------------------------------------------------------

CREATE FUNCTION classbill.recheck_days() RETURNS integer
AS 'MODULE_PATHNAME', 'classbill_recheck_days'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION classbill.recheck_days() IS
  'The setting classbill.recheck_days (default 7): how many closed days before the one being closed a close checks for changes and bills them as adjustments (SPEC 7.2)';

CREATE FUNCTION classbill.watch_days() RETURNS integer
AS 'MODULE_PATHNAME', 'classbill_watch_days'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION classbill.watch_days() IS
  'The setting classbill.watch_days (default 31): how many days before the recheck window a close still looks at, to list changes there in classbill.close_problems (SPEC 7.2)';

-- Tamper evidence (SPEC 10.5) ---------------------------------------------

CREATE FUNCTION classbill_internal.verify_chain(OUT line_id bigint, OUT problem text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'classbill_verify_ledger'
LANGUAGE C STABLE;
COMMENT ON FUNCTION classbill_internal.verify_chain() IS
  'Walk the ledger in line order: every line whose hash does not match its contents, or whose prev_hash does not match the line before it';

CREATE FUNCTION classbill_internal.chain_ledger()
RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_chain_ledger'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION classbill_internal.chain_ledger() IS
  'Chain the lines of a ledger written before 1.2, in line order (the upgrade from 1.1 runs it); refused once any line has a hash';

CREATE FUNCTION classbill.verify_ledger()
RETURNS TABLE (line_id bigint, problem text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT v.line_id, v.problem FROM classbill_internal.verify_chain() AS v
  UNION ALL
  SELECT h.line_id,
         CASE WHEN l.line_id IS NULL
              THEN format('removed: it was the last line after close %s', h.close_id)
              ELSE format('changed: it was the last line after close %s, with another hash', h.close_id) END
  FROM classbill.ledger_heads AS h
  LEFT JOIN classbill.ledger AS l ON l.line_id = h.line_id
  WHERE l.hash IS DISTINCT FROM h.hash
  ORDER BY 1, 2
$$;
COMMENT ON FUNCTION classbill.verify_ledger() IS
  'SPEC 10.5: one row per ledger line that was edited, removed or inserted out of turn, by anyone, superusers included, found by the hash chain and the heads closes recorded; none when the ledger is intact. A rewrite of every hash after an edit is found only against a head kept outside the database (classbill.ledger_head())';

CREATE FUNCTION classbill.ledger_head(OUT line_id bigint, OUT hash text, OUT lines bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT l.line_id, encode(l.hash, 'hex'), (SELECT count(*) FROM classbill.ledger)
  FROM classbill.ledger AS l ORDER BY l.line_id DESC LIMIT 1
$$;
COMMENT ON FUNCTION classbill.ledger_head() IS
  'The last line of the ledger and its hash (hex): keep it outside the database after each close, and a ledger rewritten from an earlier line on shows against it';

-- What is billed now ------------------------------------------------------

CREATE VIEW classbill.billed_usage AS
SELECT DISTINCT ON (u.account, u.tier, u.mode, u.day) u.account, u.tier, u.mode, u.day, u.seconds,
       classbill_internal.minutes_of(u.seconds)::bigint AS minutes, u.close_id
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

CREATE VIEW classbill.billed_rooms AS
SELECT DISTINCT ON (r.room, r.day) r.room, r.day, r.account, r.tier, r.mode, r.declared_mode,
       r.participants, r.seconds, r.close_id
FROM classbill.ledger_rooms AS r
ORDER BY r.room, r.day, r.close_id DESC;
COMMENT ON VIEW classbill.billed_rooms IS
  'Per room and closed day, the presence billed now, with its account, tier and mode; seconds 0 when the room no longer bills that day';

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

CREATE VIEW classbill.open_problems AS
SELECT p.*
FROM classbill.close_problems AS p
WHERE p.close_id = (SELECT max(c.close_id) FROM classbill.closes AS c)
   OR (p.action = 'held back'
       AND NOT EXISTS (SELECT FROM classbill.closed_days AS d WHERE d.account = p.account AND d.day = p.day)
       AND p.close_id = (SELECT max(q.close_id) FROM classbill.close_problems AS q
                         WHERE q.account = p.account AND q.day = p.day));
COMMENT ON VIEW classbill.open_problems IS
  'What needs a look now: the problems the latest close met, and for every account day still held back the problems its latest attempt met';

-- ---------------------------------------------------------------------
-- Finding what changed (SPEC 7.2)
--
-- A closed day's bill is a function of the source rows: the events of
-- its rooms (all of them), their rows in the rooms source, the
-- recordings stored and the exports finished that day, and the packs.
-- A close finds every change to them that alters a closed day, like this:
--
--   * Events.  Every close computes a digest per billing day of the
--     events source over the days it looks at (digest.c: row count and
--     two 64-bit lanes of summed row hashes, every column and the room
--     hashed), and compares each with the digest the ledger's earlier
--     closes left for that day (classbill_internal.digest_days).  A day
--     whose digest differs is read again room by room and compared with
--     the rooms' digests (digest_rooms): every room whose rows changed,
--     were added or removed, is found, and its usage is computed again
--     from all of its rows, day by day, and compared with what is billed
--     for it (billed_rooms).  A row added, removed or edited in any
--     column changes its room's digest for its day; several edits that
--     cancel in a sum of times or counts do not cancel in a sum of
--     hashes (only hash differences that sum to zero in both 64-bit
--     lanes at once could, about 2^-128 for changes not made to collide).
--     The digests left behind are only ever moved forward by what a close
--     billed: a room of an account held back keeps its old digest, so its
--     change is found again by every close until its account closes.
--   * Rooms rows.  Each billed room keeps a digest of its rooms rows as
--     billed (ledger_rooms.room_digest); every close compares it, for the
--     rooms billed in the recheck window, with the rows now, so a room
--     whose account, mode or resolution changed, or that is listed twice,
--     is computed again.
--   * Recordings and exports.  Every close computes the storage and
--     export basis of every account again for all of the recheck window
--     and compares it with what is billed: no digest is needed there.
--   * Packs.  A pack no close has seen (classbill.ledger_packs), bought
--     on a day its account had closed, is a late pack: billed, and drawn
--     from its purchase day on.
--
-- Changes to the days of the watch window, before the recheck window,
-- are found the same way (digests of events, recordings and exports) and
-- listed in classbill.close_problems, never billed.  Nothing older than
-- the watch window is looked at.
-- ---------------------------------------------------------------------

CREATE TABLE classbill_internal.close_lock ();
COMMENT ON TABLE classbill_internal.close_lock IS
  'Empty; closes take it in EXCLUSIVE mode, which only the role closes run as may (SPEC 10.3)';

-- Digests left by closes: per source and day, and per source, day and
-- room.  Unlogged: they are derived from the sources; after a crash they
-- are gone and the next close reads the whole windows again.
CREATE UNLOGGED TABLE classbill_internal.digest_days (
  source   text NOT NULL,
  day      date NOT NULL,
  digest   bytea NOT NULL,
  close_id bigint NOT NULL,
  PRIMARY KEY (source, day)
);
COMMENT ON TABLE classbill_internal.digest_days IS
  'Per source and billing day, the digest of its rows as the ledger''s closes have billed them: the sum of the rooms'' digests in digest_rooms';

CREATE UNLOGGED TABLE classbill_internal.digest_rooms (
  source   text NOT NULL,
  day      date NOT NULL,
  room     text NOT NULL,
  digest   bytea NOT NULL,
  close_id bigint NOT NULL,
  PRIMARY KEY (source, day, room)
);
COMMENT ON TABLE classbill_internal.digest_rooms IS
  'Per source, billing day and room, the digest of the room''s rows of that day as last billed';

CREATE FUNCTION classbill_internal.row_digest(VARIADIC "any") RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_row_digest'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION classbill_internal.row_digest("any") IS
  'The digest of one row made of the arguments: 1 row and two 64-bit hashes of every value and its position (NULLs included)';

CREATE FUNCTION classbill_internal.digest_plus(bytea, bytea) RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_digest_plus'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill_internal.digest_plus(bytea, bytea) IS 'The digest of two sets of rows together';

CREATE FUNCTION classbill_internal.digest_minus(bytea, bytea) RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_digest_minus'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill_internal.digest_minus(bytea, bytea) IS 'The digest of a set of rows without a subset of them';

CREATE FUNCTION classbill_internal.zero_digest() RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '\x000000000000000000000000000000000000000000000000'::bytea $$;
COMMENT ON FUNCTION classbill_internal.zero_digest() IS 'The digest of no rows';

CREATE AGGREGATE classbill_internal.digest_total(bytea) (
  SFUNC = classbill_internal.digest_plus,
  STYPE = bytea,
  INITCOND = '\x000000000000000000000000000000000000000000000000',
  COMBINEFUNC = classbill_internal.digest_plus,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill_internal.digest_total(bytea) IS 'The digest of all the rows whose digests are summed';

CREATE TYPE classbill_internal.day_digest AS (day date, digest bytea);
COMMENT ON TYPE classbill_internal.day_digest IS 'The digest of the rows of one billing day';

CREATE FUNCTION classbill_internal.day_digests_trans(internal, VARIADIC "any") RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_day_digests_trans'
LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION classbill_internal.day_digests_combine(internal, internal) RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_day_digests_combine'
LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION classbill_internal.day_digests_serial(internal) RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_day_digests_serial'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION classbill_internal.day_digests_deserial(bytea, internal) RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_day_digests_deserial'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION classbill_internal.day_digests_final(internal) RETURNS classbill_internal.day_digest[]
AS 'MODULE_PATHNAME', 'classbill_day_digests_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE AGGREGATE classbill_internal.day_digests(VARIADIC "any") (
  SFUNC = classbill_internal.day_digests_trans,
  STYPE = internal,
  FINALFUNC = classbill_internal.day_digests_final,
  COMBINEFUNC = classbill_internal.day_digests_combine,
  SERIALFUNC = classbill_internal.day_digests_serial,
  DESERIALFUNC = classbill_internal.day_digests_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill_internal.day_digests("any") IS
  'Per billing day of the last argument (a timestamptz), the digest of the rows made of all the arguments';

-- The columns of a source a digest covers, the last one the time that
-- decides the row's day.
CREATE FUNCTION classbill_internal.digest_columns(p_source text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE p_source
    WHEN 'events' THEN 'x.room, x.participant::text, x.event::text, x.at'
    WHEN 'recordings' THEN 'x.room, x.bytes::bigint, x.retention, x.deleted_at, x.ready_at'
    WHEN 'exports' THEN 'x.room, x.processed, x.finished_at'
  END
$$;
COMMENT ON FUNCTION classbill_internal.digest_columns(text) IS
  'The columns of a source that a row digest covers: every column billing reads, the time deciding the day last';

-- Work tables of a close: what a step computes for the steps after it,
-- rows keyed by the close.  They are emptied when the close ends; only a
-- close (under the close lock) writes them.

CREATE UNLOGGED TABLE classbill_internal.work_digests (
  close_id bigint NOT NULL,
  source   text NOT NULL,
  day      date NOT NULL,
  room     text NOT NULL,
  now      bytea NOT NULL,
  was      bytea NOT NULL,
  account  text
);
COMMENT ON TABLE classbill_internal.work_digests IS
  'Work of a close: the rooms whose rows of a day differ from what was billed, with the digest now and before, and for recordings and exports the room''s account now';

CREATE UNLOGGED TABLE classbill_internal.work_days (
  close_id bigint NOT NULL,
  source   text NOT NULL,
  day      date NOT NULL,
  now      bytea NOT NULL,
  was      bytea NOT NULL
);
COMMENT ON TABLE classbill_internal.work_days IS
  'Work of a close: the days whose rows of a source differ from what was billed, with the digest now and before';

CREATE UNLOGGED TABLE classbill_internal.work_rooms (
  close_id bigint NOT NULL,
  room     text NOT NULL
);
COMMENT ON TABLE classbill_internal.work_rooms IS
  'Work of a close: the rooms whose usage it computes: those with events on the day closed or the next, and those that changed';

CREATE UNLOGGED TABLE classbill_internal.work_results (
  close_id      bigint NOT NULL,
  room          text NOT NULL,
  account       text,
  accounts      text[],
  tier          classbill.tier,
  declared_mode classbill.mode,
  usage         classbill.usage,
  source        text,
  problem       text,
  detail        text,
  room_digest   bytea,
  involved      text[]
);
COMMENT ON TABLE classbill_internal.work_results IS
  'Work of a close: each room of work_rooms as the sources give it (classbill_internal.room_result), and every account its billing involves (now, and as billed)';

CREATE UNLOGGED TABLE classbill_internal.work_room_days (
  close_id      bigint NOT NULL,
  room          text NOT NULL,
  account       text NOT NULL,
  tier          classbill.tier NOT NULL,
  declared_mode classbill.mode,
  mode          classbill.mode NOT NULL,
  day           date NOT NULL,
  seconds       numeric NOT NULL,
  participants  integer NOT NULL,
  room_digest   bytea
);
COMMENT ON TABLE classbill_internal.work_room_days IS
  'Work of a close: the presence of each room of work_rooms per billing day, with the mode of that day (SPEC 3.1)';

CREATE UNLOGGED TABLE classbill_internal.work_changes (
  close_id      bigint NOT NULL,
  room          text NOT NULL,
  day           date NOT NULL,
  old_account   text,
  old_tier      classbill.tier,
  old_mode      classbill.mode,
  old_seconds   numeric NOT NULL,
  new_account   text,
  new_tier      classbill.tier,
  new_mode      classbill.mode,
  new_seconds   numeric NOT NULL,
  declared_mode classbill.mode,
  participants  integer,
  room_digest   bytea,
  new_in        boolean
);
COMMENT ON TABLE classbill_internal.work_changes IS
  'Work of a close: a room''s closed day as billed (old) and as the sources say now (new), where they differ; new_in: the new account''s ledger had begun by that day (its first closed day is not later)';

CREATE UNLOGGED TABLE classbill_internal.work_bases (
  close_id   bigint NOT NULL,
  what       text NOT NULL,
  account    text,
  day        date,
  marks      integer,
  byte_marks numeric,
  seconds    numeric,
  room       text,
  problem    text,
  detail     text
);
COMMENT ON TABLE classbill_internal.work_bases IS
  'Work of a close: the storage and export bases of its accounts over the recheck window and the day, and the rows that cannot be billed';

CREATE UNLOGGED TABLE classbill_internal.work_draws (
  close_id bigint NOT NULL,
  for_day  date NOT NULL,
  account  text NOT NULL,
  tier     classbill.tier NOT NULL,
  mode     classbill.mode NOT NULL,
  minutes  bigint NOT NULL CHECK (minutes <> 0)
);
COMMENT ON TABLE classbill_internal.work_draws IS
  'Work of a close: minutes to draw (positive) or give back (negative) for an account, tier and mode on behalf of a day';

CREATE UNLOGGED TABLE classbill_internal.work_processed (
  close_id bigint NOT NULL,
  room     text NOT NULL
);
COMMENT ON TABLE classbill_internal.work_processed IS
  'Work of a close: the changed rooms it bills, those whose accounts all close with it';

-- Their sizes matter to the planner, their value distributions hardly:
-- a small sample is enough.
DO $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT a.attrelid::regclass AS rel, a.attname FROM pg_attribute AS a
           JOIN pg_class AS t ON t.oid = a.attrelid
           WHERE t.relnamespace = 'classbill_internal'::regnamespace AND t.relname LIKE 'work\_%' AND t.relkind = 'r'
             AND a.attnum > 0 AND NOT a.attisdropped LOOP
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 10', c.rel, c.attname);
  END LOOP;
END $$;

-- The planner needs the work tables' sizes: a close analyses them once
-- filled.  Only the extension's owner may ANALYZE them, so this one fixed
-- statement runs as it; the role closes run as may only call it.
CREATE FUNCTION classbill_internal.analyze_work(p_table text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_table NOT IN ('work_days', 'work_digests', 'work_rooms', 'work_results', 'work_room_days', 'work_changes',
                     'work_bases', 'work_draws', 'work_processed') THEN
    RAISE EXCEPTION 'classbill_internal.% is not a work table of closes', p_table USING ERRCODE = '42P01';
  END IF;
  EXECUTE format('ANALYZE classbill_internal.%I', p_table);
END $$;
COMMENT ON FUNCTION classbill_internal.analyze_work(text) IS
  'ANALYZE one of the work tables of closes, so their queries are planned for their size';

-- DROP EXTENSION classbill would drop the ledger with it.  Once the
-- ledger has a line, a view outside the extension depends on it, so
-- DROP EXTENSION refuses ("other objects depend on it") unless CASCADE
-- says to drop the ledger too.  The view is made by the first close that
-- writes a line, as the extension's owner (the writer may create nothing).
CREATE FUNCTION classbill_internal.keep_ledger()
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF to_regclass('classbill_internal.ledger_kept') IS NULL THEN
    CREATE VIEW classbill_internal.ledger_kept AS SELECT count(*) AS lines FROM classbill.ledger;
    COMMENT ON VIEW classbill_internal.ledger_kept IS
      'Not part of the extension, on purpose: while it depends on the ledger, DROP EXTENSION classbill refuses unless CASCADE';
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.keep_ledger() IS
  'Make the view that keeps DROP EXTENSION from dropping a ledger with lines, unless CASCADE';

-- INSERT ... SELECT never runs in parallel, but the query of a PL/pgSQL
-- RETURN QUERY may (PostgreSQL 14 on): a close reads its big scans through
-- this, so the planner can give them workers.  p_sql is built by classbill
-- itself (values as literals, sources as regclass); p_shape gives the row
-- type.  The rows pass through a tuplestore (work_mem, then a temp file).
CREATE FUNCTION classbill_internal.rows_of(p_sql text, p_shape anyelement)
RETURNS SETOF anyelement
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE p_sql;
END $$;
COMMENT ON FUNCTION classbill_internal.rows_of(text, anyelement) IS
  'The rows of a query classbill built, in the row type of p_shape, read where the planner may use parallel workers (INSERT ... SELECT may not)';

-- Step 1: the rooms and days whose rows changed ------------------------------

-- Per source: digests of the days [p_lo, p_hi) now against those left
-- by earlier closes; the rooms of the days that differ, into
-- work_digests.
CREATE FUNCTION classbill_internal.find_changes(p_close bigint, p_lo date, p_hi date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s text;
  rel regclass;
  at_col text;
  flagged date[];
  ranges text;
BEGIN
  FOREACH s IN ARRAY ARRAY['events', 'recordings', 'exports'] LOOP
    SELECT x.relation INTO rel FROM classbill.sources AS x WHERE x.kind = s;
    CONTINUE WHEN rel IS NULL;
    at_col := CASE s WHEN 'events' THEN 'at' WHEN 'recordings' THEN 'ready_at' ELSE 'finished_at' END;

    -- days whose digest differs from the one billed; the digests are
    -- read through rows_of, so the scan of the window may have workers
    -- (the aggregate combines partial digests exactly: sums mod 2^64)
    EXECUTE $q$
      INSERT INTO classbill_internal.work_days (close_id, source, day, now, was)
      SELECT $4, $1, coalesce(n.day, b.day), coalesce(n.digest, classbill_internal.zero_digest()),
             coalesce(b.digest, classbill_internal.zero_digest())
      FROM classbill_internal.rows_of($5, NULL::classbill_internal.day_digest) AS n
      FULL JOIN (SELECT g.day, g.digest FROM classbill_internal.digest_days AS g
                 WHERE g.source = $1 AND g.day >= $2 AND g.day < $3) AS b ON b.day = n.day
      WHERE coalesce(n.digest, classbill_internal.zero_digest())
            IS DISTINCT FROM coalesce(b.digest, classbill_internal.zero_digest())
        AND coalesce(n.day, b.day) IS NOT NULL
      $q$
    USING s, p_lo, p_hi, p_close,
          format('SELECT d.day, d.digest
                  FROM (SELECT classbill_internal.day_digests(%s) AS ds
                        FROM %s AS x WHERE x.%I >= %L AND x.%I < %L) AS q,
                       unnest(q.ds) AS d',
                 classbill_internal.digest_columns(s), rel, at_col, classbill.day_start(p_lo), at_col,
                 classbill.day_start(p_hi));

    -- events: the rooms of those days whose rows differ (recordings and
    -- exports of the recheck window are read again whole by every close)
    CONTINUE WHEN s <> 'events';
    SELECT array_agg(w.day ORDER BY w.day) INTO flagged
    FROM classbill_internal.work_days AS w WHERE w.close_id = p_close AND w.source = s;
    CONTINUE WHEN flagged IS NULL;
    SELECT string_agg(format('(x.%1$I >= %2$L AND x.%1$I < %3$L)', at_col,
                             classbill.day_start(f), classbill.day_start(f + 1)), ' OR ')
    INTO ranges FROM unnest(flagged) AS f;
    EXECUTE format($q$
      INSERT INTO classbill_internal.work_digests (close_id, source, day, room, now, was)
      SELECT $1, $2, coalesce(n.day, b.day), coalesce(n.room, b.room),
             coalesce(n.digest, classbill_internal.zero_digest()),
             coalesce(b.digest, classbill_internal.zero_digest())
      FROM (SELECT q.room, d.day, d.digest
            FROM (SELECT x.room::text AS room, classbill_internal.day_digests(%1$s) AS ds
                  FROM %2$s AS x WHERE %3$s GROUP BY x.room) AS q,
                 unnest(q.ds) AS d) AS n
      FULL JOIN (SELECT g.day, g.room, g.digest FROM classbill_internal.digest_rooms AS g
                 WHERE g.source = $2 AND g.day = ANY ($3)) AS b
        ON b.day = n.day AND b.room = n.room
      WHERE coalesce(n.digest, classbill_internal.zero_digest())
            IS DISTINCT FROM coalesce(b.digest, classbill_internal.zero_digest())
      $q$, classbill_internal.digest_columns(s), rel, ranges)
    USING p_close, s, flagged;
  END LOOP;
END $$;
COMMENT ON FUNCTION classbill_internal.find_changes(bigint, date, date) IS
  'Step 1 of a close: the rooms whose events, recordings or exports of a day in [lo, hi) differ from what earlier closes billed, found by digests (SPEC 7.2), into work_digests';

-- Step 2: the rooms to compute -----------------------------------------------

CREATE FUNCTION classbill_internal.pick_rooms(p_close bigint, p_day date, p_accounts text[], p_reach integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  room_type text;
BEGIN
  SELECT format_type(a.atttypid, a.atttypmod) INTO room_type
  FROM pg_attribute AS a WHERE a.attrelid = classbill.source('rooms') AND a.attname = 'room';

  EXECUTE format($q$
    INSERT INTO classbill_internal.work_rooms (close_id, room)
    SELECT $1, r.room FROM (
      -- rooms with events on the day or the next: their presence of the day
      -- (read through rows_of: the scan may have workers)
      SELECT d.room FROM classbill_internal.rows_of($2, NULL::text) AS d(room)
      UNION
      -- rooms whose events changed
      SELECT w.room FROM classbill_internal.work_digests AS w WHERE w.close_id = $1 AND w.source = 'events'
      UNION
      -- rooms billed in the recheck window whose rooms rows changed
      SELECT b.room
      FROM (SELECT DISTINCT ON (lr.room) lr.room, lr.room_digest
            FROM classbill.ledger_rooms AS lr
            WHERE lr.day >= $3 AND lr.day < $4 AND (lr.account IN (SELECT unnest($5::text[])) OR $6)
            ORDER BY lr.room, lr.close_id DESC) AS b
      LEFT JOIN (%4$s) AS y ON y.room = b.room::%3$s
      WHERE b.room_digest IS DISTINCT FROM coalesce(y.dg, classbill_internal.zero_digest())) AS r $q$,
    classbill.source('events'), classbill.source('rooms'), room_type,
    classbill_internal.room_rows_sql(format(
      $w$IN (SELECT lr.room::%1$s FROM classbill.ledger_rooms AS lr WHERE lr.day >= $3 AND lr.day < $4)$w$, room_type)))
  USING p_close,
        format('SELECT d.room::text FROM (SELECT DISTINCT x.room FROM %s AS x WHERE x.at >= %L AND x.at < %L) AS d',
               classbill.source('events'), classbill.day_start(p_day), classbill.day_start(p_day + 2)),
        p_day - p_reach, p_day, p_accounts, cardinality(p_accounts) = (SELECT count(*) FROM classbill.accounts);
  PERFORM classbill_internal.analyze_work('work_digests');

  -- a close of a few of the accounts (one asked for, or days held back)
  -- computes only rooms of theirs, now or as billed
  IF cardinality(p_accounts) <= 100 AND cardinality(p_accounts) < (SELECT count(*) FROM classbill.accounts) THEN
    EXECUTE format($q$
      DELETE FROM classbill_internal.work_rooms AS w
      WHERE w.close_id = $1
        AND NOT EXISTS (SELECT FROM %1$s AS y WHERE y.room = w.room::%2$s
                                                AND y.account::text IN (SELECT unnest($2::text[])))
        AND NOT EXISTS (SELECT FROM classbill.ledger_rooms AS lr
                        WHERE lr.room = w.room AND lr.day >= $3 AND lr.account IN (SELECT unnest($2::text[]))) $q$,
      classbill.source('rooms'), room_type)
    USING p_close, p_accounts, p_day - p_reach - 1;
  END IF;
  PERFORM classbill_internal.analyze_work('work_rooms');
END $$;
COMMENT ON FUNCTION classbill_internal.pick_rooms(bigint, date, text[], integer) IS
  'Step 2 of a close: the rooms to compute into work_rooms: with events on the day or the next, with changed events, or billed in the recheck window with changed rooms rows';

-- Step 3: the rooms' usage per day, checked -----------------------------------

-- Each room's usage is computed where its rows are: on a partitioned or
-- sharded events source, partition by partition (postgres_fdw sends the
-- aggregation to the shards).
CREATE FUNCTION classbill_internal.read_rooms(p_close bigint, p_lo date, p_day date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_partitionwise_aggregate = on
AS $$
DECLARE
  events regclass := classbill.source('events');
  room_type text;
  which text;
  rooms text;
  bad record;
BEGIN
  SELECT format_type(a.atttypid, a.atttypmod) INTO room_type
  FROM pg_attribute AS a WHERE a.attrelid = events AND a.attname = 'room';
  -- on foreign tables the list goes as a constant, so the shards compute
  IF EXISTS (SELECT FROM pg_partition_tree(events) AS t
             JOIN pg_class AS c ON c.oid = t.relid WHERE c.relkind = 'f') THEN
    SELECT array_agg(w.room)::text INTO rooms FROM classbill_internal.work_rooms AS w WHERE w.close_id = p_close;
    which := format('= ANY (%L::%s[])', coalesce(rooms, '{}'), room_type);
  ELSE
    which := format('IN (SELECT w.room::%s FROM classbill_internal.work_rooms AS w WHERE w.close_id = $3)',
                    room_type);
  END IF;

  EXECUTE format('INSERT INTO classbill_internal.work_results SELECT $3, r.*, r.accounts FROM (%s) AS r',
                 classbill_internal.room_results_sql(which))
  USING NULL::timestamptz, NULL::timestamptz, p_close, classbill.billing_timezone(), true;
  -- SPEC 9: the zone of the session that bills decides.  The query above
  -- already refuses a value of another zone wherever it was built (the
  -- zone goes with it, a constant); this checks it again here, where the
  -- bill is computed, whatever a shard or worker did.
  SELECT w.room, classbill.billing_timezone(w.usage) AS zone INTO bad
  FROM classbill_internal.work_results AS w
  WHERE w.close_id = p_close AND w.usage IS NOT NULL
    AND classbill.billing_timezone(w.usage) <> classbill.billing_timezone()
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'the usage of room % was built for billing time zone "%", but this close bills in "%"',
                    bad.room, bad.zone, classbill.billing_timezone()
      USING ERRCODE = '22023',
            DETAIL = 'A node that computed it (a shard, a worker) uses another classbill.billing_timezone.',
            HINT = 'Set classbill.billing_timezone alike on every node (postgres_fdw: the server''s options), then close again.';
  END IF;
  -- rooms with no events left: nothing of them bills now
  INSERT INTO classbill_internal.work_results (close_id, room)
  SELECT p_close, w.room
  FROM classbill_internal.work_rooms AS w
  WHERE w.close_id = p_close
    AND NOT EXISTS (SELECT FROM classbill_internal.work_results AS x
                    WHERE x.close_id = p_close AND x.room = w.room);

  INSERT INTO classbill_internal.work_room_days (close_id, room, account, tier, declared_mode, mode, day,
                                                 seconds, participants, room_digest)
  SELECT p_close, w.room, w.account, w.tier, w.declared_mode,
         coalesce(w.declared_mode, CASE WHEN d.participants <= 2 THEN '1v1'::classbill.mode
                                        ELSE '1vn'::classbill.mode END),
         d.day, d.seconds, d.participants,
         w.room_digest
  FROM classbill_internal.work_results AS w
  CROSS JOIN LATERAL classbill.daily_detail(w.usage) AS d
  WHERE w.close_id = p_close AND w.problem IS NULL AND d.day >= p_lo AND d.day <= p_day;
  PERFORM classbill_internal.analyze_work('work_results');
  PERFORM classbill_internal.analyze_work('work_room_days');
END $$;
COMMENT ON FUNCTION classbill_internal.read_rooms(bigint, date, date) IS
  'Step 3 of a close: each room of work_rooms read from the sources and checked (classbill_internal.room_results_sql) into work_results, and its presence per day of [lo, day] with that day''s mode into work_room_days';

-- Step 4: what changed on closed days ------------------------------------------

CREATE FUNCTION classbill_internal.find_usage_changes(p_close bigint, p_lo date, p_day date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- the rooms' closed days as billed and as they are now
  INSERT INTO classbill_internal.work_changes
    (close_id, room, day, old_account, old_tier, old_mode, old_seconds, new_account, new_tier, new_mode,
     new_seconds, declared_mode, participants, room_digest, new_in)
  SELECT p_close, coalesce(n.room, o.room), coalesce(n.day, o.day),
         o.account, o.tier, o.mode, coalesce(o.seconds, 0),
         n.account, n.tier, n.mode, coalesce(n.seconds, 0), n.declared_mode, n.participants, n.room_digest,
         n.account IS NOT NULL
         AND (SELECT min(cd.day) FROM classbill.closed_days AS cd WHERE cd.account = n.account) <= n.day
  FROM (SELECT d.* FROM classbill_internal.work_room_days AS d
        WHERE d.close_id = p_close AND d.day < p_day) AS n
  FULL JOIN (
    SELECT DISTINCT ON (lr.room, lr.day) lr.room, lr.day, lr.account, lr.tier, lr.mode, lr.seconds, lr.room_digest
    FROM classbill.ledger_rooms AS lr
    JOIN classbill_internal.work_results AS w ON w.close_id = p_close AND w.room = lr.room
    WHERE lr.day >= p_lo AND lr.day < p_day AND w.problem IS NULL
    ORDER BY lr.room, lr.day, lr.close_id DESC) AS o
    ON o.room = n.room AND o.day = n.day
  WHERE (o.room IS NULL AND n.seconds > 0)
     OR (n.room IS NULL AND o.seconds > 0)
     OR (o.room IS NOT NULL AND n.room IS NOT NULL
         AND ((o.account, o.tier, o.mode, o.seconds) IS DISTINCT FROM (n.account, n.tier, n.mode, n.seconds)
              OR o.room_digest IS DISTINCT FROM n.room_digest));

  PERFORM classbill_internal.analyze_work('work_changes');

  -- every account a room's billing involves: its account now and every
  -- account it was billed to on the days looked at
  UPDATE classbill_internal.work_results AS w
  SET involved = c.involved
  FROM (SELECT c.room, array_agg(DISTINCT a ORDER BY a) AS involved
        FROM (SELECT x.room, x.old_account AS a FROM classbill_internal.work_changes AS x
              WHERE x.close_id = p_close AND x.old_account IS NOT NULL
              UNION ALL
              SELECT r.room, unnest(r.accounts) FROM classbill_internal.work_results AS r
              WHERE r.close_id = p_close
                AND r.room IN (SELECT y.room FROM classbill_internal.work_changes AS y
                               WHERE y.close_id = p_close AND y.old_account IS NOT NULL)) AS c
        GROUP BY c.room) AS c
  WHERE w.close_id = p_close AND w.room = c.room;
END $$;
COMMENT ON FUNCTION classbill_internal.find_usage_changes(bigint, date, date) IS
  'Step 4 of a close: for the rooms computed, every closed day of [lo, day) whose billed presence, account, tier, mode or rooms row differs from now, into work_changes; and the accounts each room involves';

-- Step 5: storage and export bases -----------------------------------------------

CREATE FUNCTION classbill_internal.read_bases(p_close bigint, p_from date, p_day date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'recordings') THEN
    INSERT INTO classbill_internal.work_bases
    SELECT p_close, b.* FROM classbill_internal.storage_results(p_from, p_day + 1, NULL) AS b;
  END IF;
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'exports') THEN
    INSERT INTO classbill_internal.work_bases
    SELECT p_close, b.* FROM classbill_internal.export_results(p_from, p_day + 1, NULL) AS b;
  END IF;
  PERFORM classbill_internal.analyze_work('work_bases');
END $$;
COMMENT ON FUNCTION classbill_internal.read_bases(bigint, date, date) IS
  'Step 5 of a close: storage and export per account and day of [from, day], read and checked from the sources (SPEC 4.2, 5.1, 8.2), into work_bases';

-- Packs the ledger has not seen, bought by the end of p_day, of the
-- accounts: late (bought on a day the account had closed: recorded after
-- it), and to bill (bought on p_day, or late within the account's
-- ledger; a pack bought before its account's ledger began is drawn from
-- but never billed).
CREATE FUNCTION classbill_internal.new_packs(p_day date, p_accounts text[])
RETURNS TABLE (pack_id bigint, account text, tier classbill.tier, item text, bought date, late boolean,
               to_bill boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT k.pack_id, k.account, k.tier, k.item, b.bought,
         f.first IS NOT NULL AND b.bought < p_day,
         b.bought = p_day OR (f.first IS NOT NULL AND b.bought >= f.first)
  FROM classbill.packs AS k
  CROSS JOIN LATERAL (SELECT (k.purchased_at AT TIME ZONE classbill.billing_timezone())::date AS bought) AS b
  CROSS JOIN LATERAL (SELECT min(cd.day) AS first FROM classbill.closed_days AS cd
                      WHERE cd.account = k.account) AS f
  WHERE k.account IN (SELECT unnest(p_accounts)) AND b.bought <= p_day
    AND NOT EXISTS (SELECT FROM classbill.ledger_packs AS lp WHERE lp.pack_id = k.pack_id)
$$;
COMMENT ON FUNCTION classbill_internal.new_packs(date, text[]) IS
  'Packs of the accounts bought by the end of a day that no close has seen: whether late (bought on a day the account had already closed, SPEC 7.2) and whether to bill (bought that day, or late within the account''s ledger)';

-- Step 6: problems ------------------------------------------------------------------

-- Record what the close cannot bill; returns the accounts held back.
CREATE FUNCTION classbill_internal.find_problems(p_close bigint, p_day date, p_accounts text[],
                                                 p_reach integer, p_lo date)
RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  held text[];
BEGIN
  INSERT INTO classbill.close_problems (close_id, account, day, source, room, problem, detail, action)
  SELECT p_close, x.account, p_day, x.source, x.room, x.problem, x.detail,
         CASE WHEN x.account IN (SELECT unnest(p_accounts)) THEN 'held back' ELSE 'listed' END
  FROM (
    -- rooms whose events or rooms rows cannot be billed (SPEC 8.1, 8.2)
    SELECT DISTINCT a.account, w.source, w.room, w.problem, w.detail
    FROM classbill_internal.work_results AS w
    CROSS JOIN LATERAL unnest(coalesce(
      w.accounts,
      -- no account now: the accounts it was billed to answer for it
      (SELECT array_agg(DISTINCT lr.account) FROM classbill.ledger_rooms AS lr
       WHERE lr.room = w.room AND lr.day >= p_lo),
      '{NULL}'::text[])) AS a(account)
    WHERE w.close_id = p_close AND w.problem IS NOT NULL
    UNION ALL
    -- recordings and exports that cannot be billed
    SELECT b.account, CASE WHEN b.problem LIKE 'export%' THEN 'exports' ELSE 'recordings' END,
           b.room, b.problem, b.detail
    FROM classbill_internal.work_bases AS b
    WHERE b.close_id = p_close AND b.what = 'problem'
    UNION ALL
    -- usage with no rate in effect (SPEC 3.2)
    SELECT g.account, 'rates', NULL, format('no usage rate for mode %s, tier %s in %s on %s',
                                             g.mode, g.tier, a.currency, g.day),
           'Add the rate to classbill.rates, valid from that day or earlier.'
    FROM (SELECT DISTINCT d.account, d.tier, d.mode, d.day FROM classbill_internal.work_room_days AS d
          WHERE d.close_id = p_close AND d.day = p_day
          UNION
          SELECT c.new_account, c.new_tier, c.new_mode, c.day FROM classbill_internal.work_changes AS c
          WHERE c.close_id = p_close AND c.new_account IS NOT NULL AND c.day >= p_day - p_reach) AS g
    JOIN classbill.accounts AS a ON a.account = g.account
    WHERE g.account IN (SELECT unnest(p_accounts))
      AND NOT EXISTS (SELECT FROM classbill.rate_periods AS rp
                      WHERE rp.product = 'usage' AND rp.mode = g.mode AND rp.tier = g.tier
                        AND rp.currency = a.currency AND g.day >= rp.valid_from AND g.day < rp.valid_to)
    UNION ALL
    -- storage and exports with no price in effect
    SELECT b.account, 'rates', NULL,
           format('no %s rate in %s on %s', b.what, a.currency, b.day),
           'Add the rate to classbill.rates, valid from that day or earlier.'
    FROM classbill_internal.work_bases AS b
    JOIN classbill.accounts AS a ON a.account = b.account
    WHERE b.close_id = p_close AND b.what IN ('storage', 'export') AND b.account IN (SELECT unnest(p_accounts))
      AND NOT EXISTS (SELECT FROM classbill.rate_periods AS rp
                      WHERE rp.product = b.what::classbill.product AND rp.mode IS NULL
                        AND rp.currency = a.currency AND b.day >= rp.valid_from AND b.day < rp.valid_to)
    UNION ALL
    -- packs to bill with no catalog price
    SELECT k.account, 'packs', NULL,
           format('no price for pack item "%s" in %s on %s (pack %s)', k.item, a.currency, k.bought, k.pack_id),
           'Add the price to classbill.pack_prices, valid from that day or earlier.'
    FROM classbill_internal.new_packs(p_day, p_accounts) AS k JOIN classbill.accounts AS a ON a.account = k.account
    WHERE k.to_bill
      AND NOT EXISTS (SELECT FROM classbill.pack_prices AS pp
                      WHERE pp.item = k.item AND pp.currency = a.currency AND pp.valid_from <= k.bought)
  ) AS x;

  -- a room billed on a day moving to an account whose ledger began later
  INSERT INTO classbill.close_problems (close_id, account, day, source, room, problem, detail, action)
  SELECT p_close, c.new_account, c.day, 'rooms', c.room,
         format('room %s, billed to account "%s" on %s, now belongs to account "%s", whose ledger begins later',
                c.room, c.old_account, c.day, c.new_account),
         'Not billed to either: it is billed again when both ledgers cover the day, or correct the rooms source.',
         'listed'
  FROM classbill_internal.work_changes AS c
  WHERE c.close_id = p_close AND c.day >= p_day - p_reach
    AND c.old_account IS NOT NULL AND c.new_account IS NOT NULL AND NOT c.new_in;

  -- changes older than the recheck window: listed, not billed (SPEC 7.2)
  INSERT INTO classbill.close_problems (close_id, account, day, source, room, problem, detail, action)
  SELECT p_close, coalesce(c.new_account, c.old_account), c.day, 'events', c.room,
         format('presence of room %s on %s changed from %s s to %s s after the day left the recheck window',
                c.room, c.day, c.old_seconds, c.new_seconds),
         format('Not billed: classbill.recheck_days is %s. Raise it for one close to bill it as an adjustment.',
                p_reach),
         'listed'
  FROM classbill_internal.work_changes AS c
  WHERE c.close_id = p_close AND c.day < p_day - p_reach AND (c.new_in OR c.old_account IS NOT NULL)
    AND (c.old_seconds <> c.new_seconds OR c.old_account IS DISTINCT FROM c.new_account
         OR c.old_tier IS DISTINCT FROM c.new_tier OR c.old_mode IS DISTINCT FROM c.new_mode);
  INSERT INTO classbill.close_problems (close_id, account, day, source, room, problem, detail, action)
  SELECT p_close, NULL, w.day, w.source, NULL,
         format('rows of the %s source of %s (by their %s) changed after the day left the recheck window',
                w.source, w.day, CASE w.source WHEN 'recordings' THEN 'ready time' ELSE 'finish time' END),
         format('Not billed before %s: classbill.recheck_days is %s. Raise it for one close to bill it as an adjustment.',
                p_day - p_reach, p_reach),
         'listed'
  FROM classbill_internal.work_days AS w
  WHERE w.close_id = p_close AND w.source <> 'events' AND w.day < p_day - p_reach - 1 AND w.day >= p_lo;
  INSERT INTO classbill.close_problems (close_id, account, day, source, room, problem, detail, action)
  SELECT p_close, k.account, k.bought, 'packs', NULL,
         format('pack %s was recorded after its purchase day left the recheck window', k.pack_id),
         format('Drawn from %s on; overage before that stays billed.', p_day - p_reach),
         'listed'
  FROM classbill_internal.new_packs(p_day, p_accounts) AS k
  WHERE k.late AND k.bought < p_day - p_reach;

  SELECT array_agg(DISTINCT p.account) INTO held FROM classbill.close_problems AS p
  WHERE p.close_id = p_close AND p.action = 'held back';
  RETURN coalesce(held, '{}');
END $$;
COMMENT ON FUNCTION classbill_internal.find_problems(bigint, date, text[], integer, date) IS
  'Step 6 of a close: record in classbill.close_problems every row it cannot bill (bad events or rooms rows, recordings, exports, missing rates and pack prices: that account held back, SPEC 7.5) and every change older than the recheck window (listed, SPEC 7.2); returns the accounts held back';

-- Step 7: billing ------------------------------------------------------------------------

-- Lines for minutes drawn on behalf of day p_for_day, from the packs'
-- balances in the ledger now: work_draws rows of that day with minutes
-- above 0 (SPEC 3.5).
CREATE FUNCTION classbill_internal.draw(p_close bigint, p_line_day date, p_for_day date, p_corrects date)
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
                                  ELSE classbill_internal.missing_rate(w.account, 'usage', w.mode, w.tier,
                                                              a.currency, p_for_day) END
                            )::classbill.drawdown_use) AS uses
        FROM classbill_internal.work_draws AS w
        JOIN classbill.accounts AS a ON a.account = w.account
        LEFT JOIN classbill.rate_periods AS r
          ON r.product = 'usage' AND r.mode = w.mode AND r.tier = w.tier AND r.currency = a.currency
         AND p_for_day >= r.valid_from AND p_for_day < r.valid_to
        WHERE w.close_id = p_close AND w.for_day = p_for_day AND w.minutes > 0
        GROUP BY w.account, w.tier, a.currency) AS q
  LEFT JOIN (SELECT b.account, b.tier,
                    array_agg(ROW(b.pack_id, b.purchased_at, b.balance)::classbill.drawdown_pack) AS packs
             FROM classbill.ledger_pack_balances AS b
             WHERE b.balance > 0
               AND b.account IN (SELECT w.account FROM classbill_internal.work_draws AS w
                                 WHERE w.close_id = p_close AND w.for_day = p_for_day AND w.minutes > 0)
             GROUP BY b.account, b.tier) AS pk ON pk.account = q.account AND pk.tier = q.tier
  CROSS JOIN LATERAL classbill.drawdown(q.uses, pk.packs) WITH ORDINALITY AS d
  LEFT JOIN classbill.packs AS k ON k.pack_id = d.pack_id
  ORDER BY q.account, q.tier, d.ordinality;
END $$;
COMMENT ON FUNCTION classbill_internal.draw(bigint, date, date, date) IS
  'Step of a close: draw the minutes of work_draws for a day from the packs'' ledger balances, the rest overage (SPEC 3.5)';

-- Minutes billed for p_for_day that turned out not to be there go back:
-- first off the day's overage (credited at the day's rate), then to the
-- packs that covered the day, the newest first (work_draws rows of that
-- day with minutes below 0).
CREATE FUNCTION classbill_internal.give_back(p_close bigint, p_line_day date, p_for_day date)
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
      FROM (SELECT w.account, w.tier, w.mode, -w.minutes AS minutes FROM classbill_internal.work_draws AS w
            WHERE w.close_id = p_close AND w.for_day = p_for_day AND w.minutes < 0) AS g
      JOIN (SELECT l.account, l.tier, l.mode, l.pack_id, max(l.item) AS item,
                   sum(l.quantity) AS net,
                   CASE WHEN l.pack_id IS NULL THEN max(l.unit_price) ELSE 0 END AS unit_price,
                   max(l.currency) AS currency,
                   -- overage first, then packs newest first
                   row_number() OVER (PARTITION BY l.account, l.tier, l.mode
                                      ORDER BY CASE WHEN l.pack_id IS NULL THEN 0 ELSE 1 END,
                                               max(k.purchased_at) DESC, l.pack_id DESC) AS ord
            FROM classbill.ledger AS l
            LEFT JOIN classbill.packs AS k ON k.pack_id = l.pack_id
            WHERE l.product = 'usage' AND coalesce(l.corrects, l.day) = p_for_day
              AND l.account IN (SELECT w.account FROM classbill_internal.work_draws AS w
                                WHERE w.close_id = p_close AND w.for_day = p_for_day AND w.minutes < 0)
            GROUP BY l.account, l.tier, l.mode, l.pack_id
            HAVING sum(l.quantity) > 0) AS h
        ON h.account = g.account AND h.tier = g.tier AND h.mode = g.mode) AS s) AS x
  WHERE x.back > 0
  ORDER BY x.account, x.tier, x.mode, x.ord;
END $$;
COMMENT ON FUNCTION classbill_internal.give_back(bigint, date, date) IS
  'Step of a close: minutes of work_draws a day gives back come off its overage first, then go back to its packs, newest first';

-- A closed day's usage as it is now, for the changed rooms the close
-- bills: the rooms' new rows, each changed group's presence, and the
-- minutes to draw or give back (SPEC 7.2).
CREATE FUNCTION classbill_internal.adjust_usage(p_close bigint, p_line_day date, p_for_day date)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer;
BEGIN
  INSERT INTO classbill.ledger_rooms (close_id, account, day, tier, mode, room, seconds, declared_mode,
                                      participants, room_digest)
  SELECT p_close, CASE WHEN c.new_in THEN c.new_account ELSE c.old_account END, c.day,
         CASE WHEN c.new_in THEN c.new_tier ELSE c.old_tier END,
         CASE WHEN c.new_in THEN c.new_mode ELSE c.old_mode END, c.room,
         CASE WHEN c.new_in THEN c.new_seconds ELSE 0 END, c.declared_mode, c.participants, c.room_digest
  FROM classbill_internal.work_changes AS c
  JOIN classbill_internal.work_processed AS p ON p.close_id = p_close AND p.room = c.room
  -- usage of a day before the account's ledger began is not its to bill
  WHERE c.close_id = p_close AND c.day = p_for_day AND (c.new_in OR c.old_account IS NOT NULL);

  WITH moves AS (
    SELECT c.new_account AS account, c.new_tier AS tier, c.new_mode AS mode, c.new_seconds AS seconds
    FROM classbill_internal.work_changes AS c
    JOIN classbill_internal.work_processed AS p ON p.close_id = p_close AND p.room = c.room
    WHERE c.close_id = p_close AND c.day = p_for_day AND c.new_in
    UNION ALL
    SELECT c.old_account, c.old_tier, c.old_mode, -c.old_seconds
    FROM classbill_internal.work_changes AS c
    JOIN classbill_internal.work_processed AS p ON p.close_id = p_close AND p.room = c.room
    WHERE c.close_id = p_close AND c.day = p_for_day AND c.old_account IS NOT NULL),
  groups AS (
    SELECT m.account, m.tier, m.mode, sum(m.seconds) AS delta
    FROM moves AS m GROUP BY m.account, m.tier, m.mode HAVING sum(m.seconds) <> 0),
  now AS (
    SELECT g.account, g.tier, g.mode, coalesce(b.seconds, 0) + g.delta AS seconds,
           classbill_internal.minutes_of((coalesce(b.seconds, 0) + g.delta))::bigint - coalesce(b.minutes, 0) AS minutes
    FROM groups AS g
    LEFT JOIN classbill.billed_usage AS b
      ON b.account = g.account AND b.tier = g.tier AND b.mode = g.mode AND b.day = p_for_day),
  kept AS (
    INSERT INTO classbill.ledger_usage (close_id, account, tier, mode, day, seconds)
    SELECT p_close, w.account, w.tier, w.mode, p_for_day, w.seconds FROM now AS w
    RETURNING 1)
  INSERT INTO classbill_internal.work_draws (close_id, for_day, account, tier, mode, minutes)
  SELECT p_close, p_for_day, w.account, w.tier, w.mode, w.minutes FROM now AS w WHERE w.minutes <> 0;
  GET DIAGNOSTICS n = ROW_COUNT;

  PERFORM classbill_internal.give_back(p_close, p_line_day, p_for_day);
  PERFORM classbill_internal.draw(p_close, p_line_day, p_for_day, p_for_day);
  DELETE FROM classbill_internal.work_draws WHERE close_id = p_close AND for_day = p_for_day;
  RETURN n;
END $$;
COMMENT ON FUNCTION classbill_internal.adjust_usage(bigint, date, date) IS
  'Step of a close: bill a closed day''s usage changes of the rooms in work_processed: their new ledger_rooms rows, the changed groups'' presence, minutes given back (overage first) and drawn (packs first); returns how many groups changed';

-- Late packs: a pack recorded after its purchase day was closed is drawn
-- from its purchase day on (SPEC 7.2): each closed day's overage of its
-- tier, in date order, is covered by the packs with a balance that day,
-- and the overage credited.
CREATE FUNCTION classbill_internal.cover_overage(p_close bigint, p_line_day date, p_for_day date,
                                                 p_accounts text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  n integer;
BEGIN
  WITH late AS (
    -- account and tier of packs recorded late, bought by that day
    SELECT DISTINCT k.account, k.tier FROM classbill_internal.new_packs(p_line_day, p_accounts) AS k
    WHERE k.late AND k.bought <= p_for_day),
  over AS (
    SELECT l.account, l.tier, l.mode, sum(l.quantity)::bigint AS minutes, max(l.unit_price) AS rate,
           max(l.currency) AS currency
    FROM classbill.ledger AS l JOIN late USING (account, tier)
    WHERE l.product = 'usage' AND l.pack_id IS NULL AND coalesce(l.corrects, l.day) = p_for_day
    GROUP BY l.account, l.tier, l.mode HAVING sum(l.quantity) > 0),
  drawn AS (
    SELECT q.account, q.tier, q.currency, d.*
    FROM (SELECT o.account, o.tier, max(o.currency) AS currency,
                 array_agg(ROW(p_for_day, o.mode, o.minutes, o.rate)::classbill.drawdown_use) AS uses
          FROM over AS o GROUP BY o.account, o.tier) AS q
    JOIN (SELECT b.account, b.tier,
                 array_agg(ROW(b.pack_id, b.purchased_at, b.balance)::classbill.drawdown_pack) AS packs
          FROM classbill.ledger_pack_balances AS b
          WHERE b.balance > 0 AND b.account IN (SELECT unnest(p_accounts))
          GROUP BY b.account, b.tier) AS pk ON pk.account = q.account AND pk.tier = q.tier
    CROSS JOIN LATERAL classbill.drawdown(q.uses, pk.packs) WITH ORDINALITY AS d
    WHERE d.pack_id IS NOT NULL)
  INSERT INTO classbill.ledger (close_id, account, day, corrects, product, tier, mode, pack_id, item,
                                quantity, unit, unit_price, amount, currency)
  SELECT p_close, x.account, p_line_day, p_for_day, 'usage', x.tier, x.mode, x.pack_id, x.item,
         x.quantity, 'minute', x.unit_price, x.amount, x.currency
  FROM (SELECT dr.account, dr.tier, dr.mode, dr.pack_id, k.item, dr.minutes::numeric AS quantity,
               0::numeric AS unit_price, 0::numeric AS amount, dr.currency, dr.ordinality, 0 AS credit
        FROM drawn AS dr JOIN classbill.packs AS k ON k.pack_id = dr.pack_id
        UNION ALL
        SELECT dr.account, dr.tier, dr.mode, NULL, NULL, -dr.minutes, dr.rate, -dr.minutes * dr.rate,
               dr.currency, dr.ordinality, 1
        FROM drawn AS dr) AS x
  ORDER BY x.account, x.tier, x.ordinality, x.credit;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
COMMENT ON FUNCTION classbill_internal.cover_overage(bigint, date, date, text[]) IS
  'Step of a close: a closed day''s overage of a tier with a late pack is covered by the packs with a balance that day, and credited (SPEC 7.2)';

-- A closed day's storage and export time as they are now, against what
-- is billed; lines for the differences (SPEC 7.2).
CREATE FUNCTION classbill_internal.adjust_bases(p_close bigint, p_line_day date, p_for_day date,
                                                p_accounts text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer;
  k integer;
BEGIN
  WITH nw AS (
    SELECT b.account, b.marks, b.byte_marks FROM classbill_internal.work_bases AS b
    WHERE b.close_id = p_close AND b.what = 'storage' AND b.day = p_for_day
      AND b.account IN (SELECT unnest(p_accounts))),
  was AS (
    SELECT s.account, s.marks, s.byte_marks FROM classbill.billed_storage AS s
    WHERE s.day = p_for_day AND s.account IN (SELECT unnest(p_accounts))),
  diff AS (
    SELECT coalesce(nw.account, was.account) AS account, coalesce(nw.marks, was.marks) AS marks,
           coalesce(nw.byte_marks, 0) AS byte_marks
    FROM nw FULL JOIN was USING (account)
    WHERE coalesce(nw.byte_marks, 0) <> coalesce(was.byte_marks, 0)),
  kept AS (
    INSERT INTO classbill.ledger_storage (close_id, account, day, marks, byte_marks)
    SELECT p_close, d.account, p_for_day, d.marks, d.byte_marks FROM diff AS d
    RETURNING 1),
  billed AS (
    SELECT l.account, sum(l.quantity) AS quantity, sum(l.amount) AS amount FROM classbill.ledger AS l
    WHERE l.product = 'storage' AND coalesce(l.corrects, l.day) = p_for_day
      AND l.account IN (SELECT d.account FROM diff AS d)
    GROUP BY l.account)
  INSERT INTO classbill.ledger (close_id, account, day, corrects, product, quantity, unit,
                                unit_price, amount, currency)
  SELECT p_close, d.account, p_line_day, p_for_day, 'storage',
         classbill.gb_months(d.byte_marks, d.marks) - coalesce(bl.quantity, 0), 'GB-month', p.price,
         classbill_internal.storage_amount(d.byte_marks, d.marks, p.price) - coalesce(bl.amount, 0), a.currency
  FROM diff AS d
  JOIN classbill.accounts AS a ON a.account = d.account
  LEFT JOIN billed AS bl ON bl.account = d.account
  CROSS JOIN LATERAL (SELECT classbill_internal.price_on('storage', d.account, a.currency, p_for_day)) AS p(price)
  ORDER BY d.account;
  GET DIAGNOSTICS n = ROW_COUNT;

  WITH nw AS (
    SELECT b.account, b.seconds FROM classbill_internal.work_bases AS b
    WHERE b.close_id = p_close AND b.what = 'export' AND b.day = p_for_day
      AND b.account IN (SELECT unnest(p_accounts))),
  was AS (
    SELECT e.account, e.seconds FROM classbill.billed_exports AS e
    WHERE e.day = p_for_day AND e.account IN (SELECT unnest(p_accounts))),
  diff AS (
    SELECT coalesce(nw.account, was.account) AS account, coalesce(nw.seconds, 0) AS seconds,
           classbill_internal.minutes_of(coalesce(nw.seconds, 0)) - classbill_internal.minutes_of(coalesce(was.seconds, 0)) AS delta
    FROM nw FULL JOIN was USING (account)
    WHERE coalesce(nw.seconds, 0) <> coalesce(was.seconds, 0)),
  kept AS (
    INSERT INTO classbill.ledger_exports (close_id, account, day, seconds)
    SELECT p_close, d.account, p_for_day, d.seconds FROM diff AS d
    RETURNING 1)
  INSERT INTO classbill.ledger (close_id, account, day, corrects, product, quantity, unit,
                                unit_price, amount, currency)
  SELECT p_close, d.account, p_line_day, p_for_day, 'export', d.delta, 'minute', p.price,
         d.delta * p.price, a.currency
  FROM diff AS d
  JOIN classbill.accounts AS a ON a.account = d.account
  CROSS JOIN LATERAL (SELECT classbill_internal.price_on('export', d.account, a.currency, p_for_day)) AS p(price)
  WHERE d.delta <> 0
  ORDER BY d.account;
  GET DIAGNOSTICS k = ROW_COUNT;
  RETURN n + k;
END $$;
COMMENT ON FUNCTION classbill_internal.adjust_bases(bigint, date, date, text[]) IS
  'Step of a close: a closed day''s storage and export time of the accounts as the sources say now, against what is billed; adjustment lines for the differences';

-- The regular lines of the day for the accounts.
CREATE FUNCTION classbill_internal.bill_day(p_close bigint, p_day date, p_accounts text[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- usage: the rooms, the quantities, the drawdown (SPEC 1.7, 3.1, 3.2, 3.5)
  INSERT INTO classbill.ledger_rooms (close_id, account, day, tier, mode, room, seconds, declared_mode,
                                      participants, room_digest)
  SELECT p_close, d.account, p_day, d.tier, d.mode, d.room, d.seconds, d.declared_mode, d.participants,
         d.room_digest
  FROM classbill_internal.work_room_days AS d
  WHERE d.close_id = p_close AND d.day = p_day AND d.account IN (SELECT unnest(p_accounts));

  WITH g AS (
    SELECT d.account, d.tier, d.mode, sum(d.seconds) AS seconds
    FROM classbill_internal.work_room_days AS d
    WHERE d.close_id = p_close AND d.day = p_day AND d.account IN (SELECT unnest(p_accounts))
    GROUP BY d.account, d.tier, d.mode),
  kept AS (
    INSERT INTO classbill.ledger_usage (close_id, account, tier, mode, day, seconds)
    SELECT p_close, g.account, g.tier, g.mode, p_day, g.seconds FROM g
    RETURNING 1)
  INSERT INTO classbill_internal.work_draws (close_id, for_day, account, tier, mode, minutes)
  SELECT p_close, p_day, g.account, g.tier, g.mode, classbill_internal.minutes_of(g.seconds)::bigint
  FROM g WHERE g.seconds > 0;
  PERFORM classbill_internal.analyze_work('work_draws');
  PERFORM classbill_internal.draw(p_close, p_day, p_day, NULL);
  DELETE FROM classbill_internal.work_draws WHERE close_id = p_close AND for_day = p_day;

  -- packs bought that day
  INSERT INTO classbill.ledger (close_id, account, day, product, tier, pack_id, item, quantity, unit,
                                unit_price, amount, currency)
  SELECT p_close, k.account, p_day, 'pack', k.tier, k.pack_id, k.item, 1, 'pack', pr.price, pr.price,
         a.currency
  FROM classbill_internal.new_packs(p_day, p_accounts) AS k
  JOIN classbill.accounts AS a ON a.account = k.account
  CROSS JOIN LATERAL (
    SELECT pp.price FROM classbill.pack_prices AS pp
    WHERE pp.item = k.item AND pp.currency = a.currency AND pp.valid_from <= p_day
    ORDER BY pp.valid_from DESC LIMIT 1) AS pr
  WHERE k.bought = p_day
  ORDER BY k.account, k.pack_id;

  -- storage and export (SPEC 4.2, 5.1)
  INSERT INTO classbill.ledger_storage (close_id, account, day, marks, byte_marks)
  SELECT p_close, b.account, p_day, b.marks, b.byte_marks
  FROM classbill_internal.work_bases AS b
  WHERE b.close_id = p_close AND b.what = 'storage' AND b.day = p_day
    AND b.account IN (SELECT unnest(p_accounts));
  INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, unit_price, amount, currency)
  SELECT p_close, b.account, p_day, 'storage', classbill.gb_months(b.byte_marks, b.marks),
         'GB-month', p.price, classbill_internal.storage_amount(b.byte_marks, b.marks, p.price),
         a.currency
  FROM classbill_internal.work_bases AS b
  JOIN classbill.accounts AS a ON a.account = b.account
  -- the day's price, looked up once per currency rather than once per line
  LEFT JOIN classbill_internal.prices_on('storage', p_day) AS rp ON rp.currency = a.currency
  CROSS JOIN LATERAL (SELECT coalesce(rp.price, classbill_internal.missing_rate(b.account, 'storage', NULL, NULL,
                                                                             a.currency, p_day))) AS p(price)
  WHERE b.close_id = p_close AND b.what = 'storage' AND b.day = p_day
    AND b.account IN (SELECT unnest(p_accounts))
  ORDER BY b.account;

  INSERT INTO classbill.ledger_exports (close_id, account, day, seconds)
  SELECT p_close, b.account, p_day, b.seconds
  FROM classbill_internal.work_bases AS b
  WHERE b.close_id = p_close AND b.what = 'export' AND b.day = p_day
    AND b.account IN (SELECT unnest(p_accounts));
  INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, unit_price, amount, currency)
  SELECT p_close, b.account, p_day, 'export', classbill_internal.minutes_of(b.seconds), 'minute', p.price,
         classbill_internal.minutes_of(b.seconds) * p.price, a.currency
  FROM classbill_internal.work_bases AS b
  JOIN classbill.accounts AS a ON a.account = b.account
  -- the day's price, looked up once per currency rather than once per line
  LEFT JOIN classbill_internal.prices_on('export', p_day) AS rp ON rp.currency = a.currency
  CROSS JOIN LATERAL (SELECT coalesce(rp.price, classbill_internal.missing_rate(b.account, 'export', NULL, NULL,
                                                                             a.currency, p_day))) AS p(price)
  WHERE b.close_id = p_close AND b.what = 'export' AND b.day = p_day
    AND b.account IN (SELECT unnest(p_accounts)) AND b.seconds > 0
  ORDER BY b.account;
END $$;
COMMENT ON FUNCTION classbill_internal.bill_day(bigint, date, text[]) IS
  'Step of a close: the regular lines of the day for the accounts: usage of work_room_days drawn from packs, storage and export of work_bases';

-- Everything a close bills for a set of accounts: packs bought, the
-- closed days of the recheck window as they are now, the day itself.
CREATE FUNCTION classbill_internal.bill(p_close bigint, p_day date, p_accounts text[], p_reach integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  y date;
BEGIN
  -- the changed rooms this attempt bills: every account involved closes now
  DELETE FROM classbill_internal.work_processed WHERE close_id = p_close;
  INSERT INTO classbill_internal.work_processed (close_id, room)
  SELECT DISTINCT p_close, c.room
  FROM classbill_internal.work_changes AS c
  JOIN classbill_internal.work_results AS w ON w.close_id = p_close AND w.room = c.room
  WHERE c.close_id = p_close AND c.day >= p_day - p_reach
    AND cardinality(w.involved) > 0
    AND NOT EXISTS (SELECT FROM unnest(w.involved) AS i(a) WHERE i.a NOT IN (SELECT unnest(p_accounts)))
    -- a room billed on a day moving to an account whose ledger began later
    -- waits (listed in close_problems): it could only be credited
    AND NOT EXISTS (SELECT FROM classbill_internal.work_changes AS m
                    WHERE m.close_id = p_close AND m.room = c.room AND m.day >= p_day - p_reach
                      AND m.old_account IS NOT NULL AND m.new_account IS NOT NULL AND NOT m.new_in);

  -- packs recorded after their purchase day was closed: billed now,
  -- pointing at their purchase day, before the closed days are drawn again
  INSERT INTO classbill.ledger (close_id, account, day, corrects, product, tier, pack_id, item, quantity,
                                unit, unit_price, amount, currency)
  SELECT p_close, k.account, p_day, k.bought, 'pack', k.tier, k.pack_id, k.item, 1, 'pack', pr.price, pr.price,
         a.currency
  FROM classbill_internal.new_packs(p_day, p_accounts) AS k
  JOIN classbill.accounts AS a ON a.account = k.account
  CROSS JOIN LATERAL (
    SELECT pp.price FROM classbill.pack_prices AS pp
    WHERE pp.item = k.item AND pp.currency = a.currency AND pp.valid_from <= k.bought
    ORDER BY pp.valid_from DESC LIMIT 1) AS pr
  WHERE k.late AND k.to_bill
  ORDER BY k.account, k.bought, k.pack_id;

  -- the closed days, in date order
  FOR y IN
    SELECT g::date FROM generate_series((p_day - p_reach)::timestamp, (p_day - 1)::timestamp, '1 day') AS g
  LOOP
    PERFORM classbill_internal.adjust_usage(p_close, p_day, y);
    PERFORM classbill_internal.cover_overage(p_close, p_day, y, p_accounts);
    PERFORM classbill_internal.adjust_bases(p_close, p_day, y, p_accounts);
  END LOOP;

  PERFORM classbill_internal.bill_day(p_close, p_day, p_accounts);
END $$;
COMMENT ON FUNCTION classbill_internal.bill(bigint, date, text[], integer) IS
  'Step 7 of a close: for the accounts, the packs bought, the closed days of the recheck window as the sources say now (SPEC 7.2), then the day (SPEC 7.1)';

-- SPEC 7.5: bill the accounts; when that fails, split them and try each
-- half, down to the one account at fault, which is held back with the
-- error recorded.  Returns the accounts billed.
CREATE FUNCTION classbill_internal.bill_or_hold(p_close bigint, p_day date, p_accounts text[],
                                                p_reach integer)
RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer := cardinality(p_accounts);
  msg text;
  det text;
  state text;
BEGIN
  IF n = 0 THEN
    RETURN '{}';
  END IF;
  BEGIN
    PERFORM classbill_internal.bill(p_close, p_day, p_accounts, p_reach);
    RETURN p_accounts;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
  END;
  IF n = 1 THEN
    INSERT INTO classbill.close_problems (close_id, account, day, source, room, problem, detail, action)
    VALUES (p_close, p_accounts[1], p_day, 'close', NULL, msg,
            concat_ws(' ', nullif(det, ''), format('(SQLSTATE %s)', state)), 'held back');
    RETURN '{}';
  END IF;
  RETURN classbill_internal.bill_or_hold(p_close, p_day, p_accounts[1:n / 2], p_reach)
         || classbill_internal.bill_or_hold(p_close, p_day, p_accounts[n / 2 + 1:n], p_reach);
END $$;
COMMENT ON FUNCTION classbill_internal.bill_or_hold(bigint, date, text[], integer) IS
  'Step 7 of a close, guarded: bill the accounts; on an error, bill each half apart, down to the account at fault, which is held back with the error in classbill.close_problems (SPEC 7.5); returns the accounts billed';

-- Step 8: what the close leaves behind ------------------------------------------------

CREATE FUNCTION classbill_internal.record_close(p_close bigint, p_day date, p_closed text[], p_lo date,
                                                p_lo_window date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO classbill.ledger_packs (close_id, pack_id)
  SELECT p_close, k.pack_id FROM classbill_internal.new_packs(p_day, p_closed) AS k;
  INSERT INTO classbill.ledger_heads (close_id, line_id, hash)
  SELECT p_close, l.line_id, l.hash FROM classbill.ledger AS l
  WHERE l.close_id = p_close ORDER BY l.line_id DESC LIMIT 1;
  IF FOUND AND to_regclass('classbill_internal.ledger_kept') IS NULL THEN
    PERFORM classbill_internal.keep_ledger();
  END IF;
  INSERT INTO classbill.closed_days (account, day, close_id)
  SELECT a, p_day, p_close FROM unnest(p_closed) AS a;

  -- digests move forward by what was billed: the rooms of events whose
  -- accounts all closed now; recordings and exports of the recheck window
  -- are read again whole by every close, and older days are listed once
  WITH done AS (
    SELECT w.day, w.room, w.now, w.was
    FROM classbill_internal.work_digests AS w
    LEFT JOIN classbill_internal.work_results AS r ON r.close_id = p_close AND r.room = w.room
    WHERE w.close_id = p_close AND w.source = 'events'
      AND r.close_id IS NOT NULL AND r.problem IS NULL
      -- changes listed, not billed, stay found until billed
      AND NOT EXISTS (SELECT FROM classbill_internal.work_changes AS c
                      WHERE c.close_id = p_close AND c.room = w.room
                        AND (c.day < p_lo_window OR (c.old_account IS NOT NULL AND c.new_account IS NOT NULL
                                                     AND NOT c.new_in)))
      AND CASE WHEN cardinality(r.involved) > 0
               THEN NOT EXISTS (SELECT FROM unnest(r.involved) AS i(a)
                                WHERE i.a NOT IN (SELECT unnest(p_closed)))
               -- no events now and nothing billed: nothing to bill
               ELSE r.usage IS NULL END),
  rooms AS (
    INSERT INTO classbill_internal.digest_rooms AS g (source, day, room, digest, close_id)
    SELECT 'events', d.day, d.room, d.now, p_close FROM done AS d
    ON CONFLICT (source, day, room) DO UPDATE SET digest = EXCLUDED.digest, close_id = EXCLUDED.close_id
    RETURNING 1),
  days AS (
    SELECT d.day,
           classbill_internal.digest_minus(classbill_internal.digest_total(d.now),
                                           classbill_internal.digest_total(d.was)) AS delta
    FROM done AS d GROUP BY d.day)
  INSERT INTO classbill_internal.digest_days AS g (source, day, digest, close_id)
  SELECT 'events', x.day, x.delta, p_close FROM days AS x
  ON CONFLICT (source, day) DO UPDATE
    SET digest = classbill_internal.digest_plus(g.digest, EXCLUDED.digest), close_id = EXCLUDED.close_id;
  INSERT INTO classbill_internal.digest_days AS g (source, day, digest, close_id)
  SELECT w.source, w.day, w.now, p_close FROM classbill_internal.work_days AS w
  WHERE w.close_id = p_close AND w.source <> 'events'
  ON CONFLICT (source, day) DO UPDATE SET digest = EXCLUDED.digest, close_id = EXCLUDED.close_id;

  -- digests of days no close looks at any more
  DELETE FROM classbill_internal.digest_rooms WHERE day < p_lo;
  DELETE FROM classbill_internal.digest_days WHERE day < p_lo;

  -- the close's work (closes run one at a time, under the close lock)
  TRUNCATE classbill_internal.work_days, classbill_internal.work_digests, classbill_internal.work_rooms, classbill_internal.work_results,
           classbill_internal.work_room_days, classbill_internal.work_changes, classbill_internal.work_bases,
           classbill_internal.work_draws, classbill_internal.work_processed;
END $$;
COMMENT ON FUNCTION classbill_internal.record_close(bigint, date, text[], date, date) IS
  'Step 8 of a close: the days closed, the digests moved forward by what was billed (a room of an account held back keeps its old digest, so its change is found again), digests older than the watch window dropped, the work emptied';

-- Closing --------------------------------------------------------------------------------

-- The first day a close of p_day must close for the accounts in scope:
-- the day after an account's last closed day, or for an account never
-- closed the first day a close held it back.
CREATE FUNCTION classbill_internal.next_open_days(p_day date, p_account text)
RETURNS TABLE (account text, day date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT a.account,
         coalesce((SELECT max(cd.day) + 1 FROM classbill.closed_days AS cd WHERE cd.account = a.account),
                  (SELECT min(p.day) FROM classbill.close_problems AS p WHERE p.account = a.account),
                  p_day)
  FROM classbill.accounts AS a
  WHERE p_account IS NULL OR a.account = p_account
$$;
COMMENT ON FUNCTION classbill_internal.next_open_days(date, text) IS
  'Per account in scope, the first billing day a close must close for it: the day after its last closed day, or, never closed, the first day a close met a problem of it';

-- Close one day for the accounts of the scope whose next open day it is.
CREATE FUNCTION classbill_internal.close_one(p_day date, p_account text, p_asked boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  reach integer := classbill.recheck_days();
  watch integer := classbill.watch_days();
  lo date := p_day - reach - 1 - watch;
  accounts text[];
  held text[];
  closed text[];
  v_close bigint;
  adjusted bigint;
  lines bigint;
BEGIN
  SELECT array_agg(o.account ORDER BY o.account) INTO accounts
  FROM classbill_internal.next_open_days(p_day, p_account) AS o WHERE o.day = p_day;
  IF accounts IS NULL THEN
    IF p_asked THEN
      RAISE NOTICE 'billing day % is already closed%, nothing changed', p_day,
                   CASE WHEN p_account IS NULL THEN '' ELSE format(' for account "%s"', p_account) END;
    END IF;
    RETURN;
  END IF;

  -- closed_by: who called, not the role the close runs as
  INSERT INTO classbill.closes (day, billing_timezone, closed_by, recheck_days, watch_days)
  VALUES (p_day, tz, session_user, reach, watch)
  RETURNING closes.close_id INTO v_close;

  PERFORM classbill_internal.find_changes(v_close, lo, p_day + 2);
  PERFORM classbill_internal.pick_rooms(v_close, p_day, accounts, reach);
  PERFORM classbill_internal.read_rooms(v_close, lo, p_day);
  PERFORM classbill_internal.find_usage_changes(v_close, lo, p_day);
  PERFORM classbill_internal.read_bases(v_close, p_day - reach, p_day);
  held := classbill_internal.find_problems(v_close, p_day, accounts, reach, lo);
  closed := classbill_internal.bill_or_hold(v_close, p_day,
                                            ARRAY(SELECT a FROM unnest(accounts) AS a WHERE a <> ALL (held)),
                                            reach);
  PERFORM classbill_internal.record_close(v_close, p_day, closed, lo, p_day - reach);

  SELECT count(*), count(*) FILTER (WHERE l.corrects IS NOT NULL) INTO lines, adjusted
  FROM classbill.ledger AS l WHERE l.close_id = v_close;
  held := ARRAY(SELECT unnest(accounts) EXCEPT SELECT unnest(closed) ORDER BY 1);
  IF cardinality(held) > 0 THEN
    RAISE NOTICE 'closed billing day % for % account(s): % line(s), % of them adjustments; % account(s) held back: %',
                 p_day, cardinality(closed), lines, adjusted, cardinality(held),
                 array_to_string(held[1:5], ', ') || CASE WHEN cardinality(held) > 5 THEN ', ...' ELSE '' END
      USING HINT = format('See SELECT * FROM classbill.close_problems WHERE close_id = %s; the next close tries them again.',
                          v_close);
  ELSE
    RAISE NOTICE 'closed billing day % for % account(s): % line(s), % of them adjustments',
                 p_day, cardinality(closed), lines, adjusted;
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.close_one(date, text, boolean) IS
  'Close one billing day for the accounts of the scope whose next open day it is: find what changed, read and check the rooms, storage and exports, record problems, bill (holding back the accounts at fault) and record the close';

CREATE PROCEDURE classbill_internal.close_day(p_day date, p_account text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  today date := (now() AT TIME ZONE tz)::date;
  ledger_tz text;
  first date;
  later record;
  d date;
  msg text;
  det text;
  hint text;
  state text;
BEGIN
  -- A close must see what a close that ran while it waited wrote: each
  -- statement its own snapshot, taken after the lock below.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'classbill.close_day needs READ COMMITTED, not %',
                    upper(current_setting('transaction_isolation'))
      USING ERRCODE = '25001',
            HINT = 'Call it outside an explicit transaction, or in one begun with ISOLATION LEVEL READ COMMITTED.';
  END IF;
  -- SPEC 7.4: only a day that has ended
  IF p_day IS NULL OR NOT isfinite(p_day) THEN
    RAISE EXCEPTION 'the billing day to close must be a date, not %', coalesce(p_day::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'CALL classbill.close_yesterday() closes the last day that ended.';
  END IF;
  IF p_day >= today THEN
    RAISE EXCEPTION 'billing day % has not ended yet in billing time zone % (today there is %)',
                    p_day, tz, today
      USING ERRCODE = '22023',
            DETAIL = 'A day is closed after it ends; rows still to come would not be billed (SPEC 7.4).',
            HINT = 'Close yesterday or earlier: CALL classbill.close_yesterday().';
  END IF;

  PERFORM classbill_internal.check_account(p_account);

  -- SPEC 7.2, 10.3: one close at a time; a second one waits here, then
  -- finds the day closed and says so
  LOCK TABLE classbill_internal.close_lock IN EXCLUSIVE MODE;
  -- SPEC 10.1: the sources stay as they are until the close ends, and
  -- are read only if reading them runs none of their owners' code
  PERFORM classbill.source('rooms');
  PERFORM classbill.source('events');
  PERFORM classbill_internal.lock_sources();

  SELECT c.billing_timezone INTO ledger_tz FROM classbill.closes AS c ORDER BY c.close_id DESC LIMIT 1;
  IF ledger_tz IS NOT NULL AND ledger_tz <> tz THEN
    RAISE EXCEPTION 'the ledger is kept in billing time zone %, but classbill.billing_timezone is %',
                    ledger_tz, tz
      USING ERRCODE = '22023',
            HINT = format('SET classbill.billing_timezone = %L before closing days.', ledger_tz);
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

  -- days left open (an account's days after its last close, days held
  -- back) close first, in order, each for the accounts it is open for
  SELECT min(o.day) INTO first FROM classbill_internal.next_open_days(p_day, p_account) AS o
  WHERE o.day <= p_day;
  BEGIN
    FOR d IN SELECT g::date FROM generate_series(coalesce(first, p_day)::timestamp, p_day::timestamp, '1 day') AS g LOOP
      PERFORM classbill_internal.close_one(d, p_account, d = p_day);
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    -- an error no account answers for stops the close: said once, with
    -- what it is, not with the pages of SQL it came from
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT,
                            state = RETURNED_SQLSTATE;
    RAISE EXCEPTION USING MESSAGE = format('closing billing day %s failed: %s', d, msg),
                          DETAIL = coalesce(nullif(det, ''), 'Nothing of this close was written.'),
                          HINT = coalesce(nullif(hint, ''), 'Correct what the message names and close again.'),
                          ERRCODE = state;
  END;
END $$;
COMMENT ON PROCEDURE classbill_internal.close_day(date, text) IS
  'The close, run as classbill_writer by classbill.close_day';

-- SPEC 10.2: closes write the ledger as classbill_writer, a role that
-- owns nothing, so the role that writes the ledger cannot change the code
-- that writes it.
CREATE FUNCTION classbill_internal.as_writer(p_step text, p_day date, p_account text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_as_writer'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION classbill_internal.as_writer(text, date, text) IS
  'Run the close of a day as classbill_writer (step close_day); the only way to act as that role';
CREATE FUNCTION classbill_internal.as_writer(p_step text, p_from date, p_to date)
RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_as_writer'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION classbill_internal.as_writer(text, date, date) IS
  'Store the quantities of a period as classbill_writer (step store_usage_days)';

CREATE PROCEDURE classbill.close_day(day date, for_account text DEFAULT NULL)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM classbill_internal.as_writer('close_day', close_day.day, close_day.for_account);
END $$;
COMMENT ON PROCEDURE classbill.close_day(date, text) IS
  'Close a billing day that has ended for every account (or one): bill changes to the closed days of the recheck window as adjustments, then the day''s usage, pack, storage and export lines (SPEC 7). Safe to repeat and to run twice at once; all or nothing; days left open before it close first; an account whose rows cannot be billed is held back alone and recorded in classbill.close_problems (SPEC 7.5)';

CREATE PROCEDURE classbill.close_yesterday()
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  CALL classbill.close_day((now() AT TIME ZONE classbill.billing_timezone())::date - 1);
END $$;
COMMENT ON PROCEDURE classbill.close_yesterday() IS
  'Close yesterday, in the billing time zone: what a daily pg_cron job runs (SPEC 7.1)';
