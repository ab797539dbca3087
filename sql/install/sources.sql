
-- ---------------------------------------------------------------------
-- Sources: where the service's own rows live, registered once, so that
-- quantities, reports and scheduled jobs need nothing but the days
-- ---------------------------------------------------------------------

CREATE TABLE classbill.sources (
  kind          text PRIMARY KEY CHECK (kind IN ('rooms', 'events', 'recordings', 'exports')),
  relation      regclass NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE classbill.sources IS
  'The table or view holding each kind of source row; set with classbill.register_source, which checks the columns';
SELECT pg_catalog.pg_extension_config_dump('classbill.sources', '');

-- The columns each kind must supply, and the types they may have.
CREATE FUNCTION classbill.source_columns(kind text,
  OUT column_name text, OUT types regtype[], OUT nullable boolean)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT c.col, c.types::regtype[], c.nullable
  FROM (VALUES
    ('rooms',  'room',        NULL::text[],                                          false),
    ('rooms',  'account',     '{text,varchar,bpchar}',                               false),
    ('rooms',  'mode',        '{text,varchar,bpchar,classbill.mode}',                true),
    ('rooms',  'width',       '{int2,int4,int8}',                                    false),
    ('rooms',  'height',      '{int2,int4,int8}',                                    false),
    ('events', 'room',        NULL::text[],                                          false),
    ('events', 'participant', '{text,varchar,bpchar}',                               true),
    ('events', 'event',       '{text,varchar,bpchar}',                               false),
    ('events', 'at',          '{timestamptz}',                                       false),
    ('recordings', 'room',    NULL::text[],                                          false),
    ('recordings', 'bytes',   '{int2,int4,int8}',                                    false),
    ('recordings', 'ready_at', '{timestamptz}',                                      false),
    ('recordings', 'retention', '{interval}',                                        true),
    ('recordings', 'deleted_at', '{timestamptz}',                                    true),
    ('exports', 'room',       NULL::text[],                                          false),
    ('exports', 'processed',  '{interval}',                                          false),
    ('exports', 'finished_at', '{timestamptz}',                                      false)
  ) AS c(kind, col, types, nullable)
  WHERE c.kind = $1
$$;
COMMENT ON FUNCTION classbill.source_columns(text) IS
  'The columns a source of a kind must have, with the types allowed (NULL: any type, the same in every source)';

-- Reading a source safely (SPEC 10.1) ------------------------------------------
--
-- A close reads the sources as classbill_writer, the role that may write
-- the ledger.  Reading a relation must therefore run no code its owner
-- controls.  A plain, partitioned or foreign table or a materialized view
-- runs none on SELECT, unless row-level security calls the owner's
-- functions, or a column's type (its input, output and casts) is the
-- owner's; a view runs the functions of its query as the reader.  So a
-- source is read only when:
--   * it is a table, partitioned table, foreign table, materialized view,
--     or a view owned by a trusted role (a superuser or the extension's
--     owner) whose query reads only relations that are safe in turn and
--     calls only functions trusted roles own;
--   * row-level security is off, unless the relation's owner is trusted;
--   * every column classbill reads has a type a trusted role owns
--     (PostgreSQL's own, classbill.mode, those of extensions a superuser
--     installed), or a domain over one, and is not a virtual generated
--     column.
-- register_source checks it, and every close checks it again after
-- locking the sources (ACCESS SHARE: none of it can change until the close
-- ends), so an owner who changes the source later is refused, not obeyed.

-- A role trusted with code that closes run: a superuser or the owner of
-- the extension.
CREATE FUNCTION classbill_internal.trusted_role(p_role oid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT FROM pg_roles AS r WHERE r.oid = p_role AND r.rolsuper)
         OR p_role = (SELECT e.extowner FROM pg_extension AS e WHERE e.extname = 'classbill')
$$;
COMMENT ON FUNCTION classbill_internal.trusted_role(oid) IS
  'Whether code a role owns may run in a close: a superuser, or the owner of the extension';

-- Why reading a relation as a source could run its owner's code, or
-- nothing.
CREATE FUNCTION classbill_internal.source_safety(p_kind text, p_relation regclass)
RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  problems text[] := '{}';
  r record;
  f record;
BEGIN
  -- the relation, and every relation and function a view's query reaches
  FOR r IN
    WITH RECURSIVE reach(oid) AS (
      SELECT p_relation::oid
      UNION
      -- what a view reads, and the partitions or children a table has
      SELECT n.oid
      FROM reach, LATERAL (
        SELECT d.refobjid AS oid
        FROM pg_rewrite AS w
        JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                           AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> reach.oid
        WHERE w.ev_class = reach.oid
        UNION
        SELECT i.inhrelid FROM pg_inherits AS i WHERE i.inhparent = reach.oid) AS n)
    SELECT DISTINCT c.oid, c.oid::regclass AS rel, c.relkind, c.relowner, c.relrowsecurity,
           classbill_internal.trusted_role(c.relowner) AS trusted
    FROM reach JOIN pg_class AS c ON c.oid = reach.oid
  LOOP
    IF r.relkind NOT IN ('r', 'p', 'f', 'm', 'v') THEN
      problems := problems || format('%s is not a table or a view', r.rel);
    END IF;
    IF r.relkind = 'v' AND NOT r.trusted THEN
      problems := problems || format('view %s belongs to %s, who is not trusted with code closes run (a view runs its functions as the reader)',
                                     r.rel, r.relowner::regrole);
    END IF;
    IF r.relrowsecurity AND NOT r.trusted THEN
      problems := problems || format('%s has row-level security, whose policies belong to %s', r.rel,
                                     r.relowner::regrole);
    END IF;
    -- pruning partitions runs the partition key's operator class and
    -- expressions
    IF r.relkind = 'p' AND NOT r.trusted AND EXISTS (
         SELECT FROM pg_partitioned_table AS pt
         WHERE pt.partrelid = r.oid
           AND (pt.partexprs IS NOT NULL
                OR EXISTS (SELECT FROM unnest(pt.partclass::oid[]) AS k(opc)
                           JOIN pg_opclass AS o ON o.oid = k.opc
                           WHERE NOT classbill_internal.trusted_role(o.opcowner)))) THEN
      problems := problems || format('%s is partitioned by an expression or operator class of %s', r.rel,
                                     r.relowner::regrole);
    END IF;
    IF r.relkind = 'v' THEN
      FOR f IN
        SELECT DISTINCT p.oid::regprocedure AS fn, p.proowner
        FROM pg_rewrite AS w
        JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                           AND d.refclassid = 'pg_proc'::regclass
        JOIN pg_proc AS p ON p.oid = d.refobjid
        WHERE w.ev_class = r.oid AND NOT classbill_internal.trusted_role(p.proowner)
      LOOP
        problems := problems || format('view %s calls %s, which belongs to %s', r.rel, f.fn, f.proowner::regrole);
      END LOOP;
    END IF;
  END LOOP;
  -- the columns read: types of PostgreSQL's own, stored values
  FOR r IN
    WITH RECURSIVE base(attname, gen, typ, oid, owner, basetype) AS (
      SELECT a.attname, a.attgenerated::text, a.atttypid::regtype, t.oid, t.typowner, t.typbasetype
      FROM classbill.source_columns(p_kind) AS need
      JOIN pg_attribute AS a ON a.attrelid = p_relation AND a.attname = need.column_name
                            AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type AS t ON t.oid = a.atttypid
      UNION ALL
      SELECT base.attname, base.gen, base.typ, t.oid, t.typowner, t.typbasetype
      FROM base JOIN pg_type AS t ON t.oid = base.basetype)
    SELECT b.attname, b.gen, b.typ, b.oid::regtype AS base_type, b.owner
    FROM base AS b WHERE b.basetype = 0
  LOOP
    -- a type's input, output, operators and casts are its owner's code (a
    -- domain runs none of its own on a read, and casts from it are its
    -- base type's)
    IF NOT classbill_internal.trusted_role(r.owner) THEN
      problems := problems || format('column "%s" is of type %s, which belongs to %s: its functions would run in closes',
                                     r.attname, r.typ, r.owner::regrole);
    END IF;
    IF r.gen = 'v' THEN
      problems := problems || format('column "%s" is computed when read (a virtual generated column)', r.attname);
    END IF;
  END LOOP;
  RETURN problems;
END $$;
COMMENT ON FUNCTION classbill_internal.source_safety(text, regclass) IS
  'Why reading a relation as a source could run code its owner controls with the rights of the ledger''s writer (SPEC 10.1): untrusted views or functions, row-level security of untrusted owners, column types that are not PostgreSQL''s own; empty when safe';

-- The problems of a relation as a source: columns and safety.
CREATE FUNCTION classbill_internal.source_problems(p_kind text, p_relation regclass)
RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  need record;
  have regtype;
  problems text[] := '{}';
BEGIN
  FOR need IN SELECT * FROM classbill.source_columns(p_kind) LOOP
    SELECT a.atttypid::regtype INTO have
    FROM pg_attribute AS a
    WHERE a.attrelid = p_relation AND a.attname = need.column_name AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
      problems := problems || format('column "%s" is missing', need.column_name);
    ELSIF need.types IS NOT NULL AND NOT have = ANY (need.types) THEN
      problems := problems || format('column "%s" is %s, not one of %s', need.column_name, have,
                                     array_to_string(need.types, ', '));
    END IF;
  END LOOP;
  RETURN problems || classbill_internal.source_safety(p_kind, p_relation);
END $$;
COMMENT ON FUNCTION classbill_internal.source_problems(text, regclass) IS
  'Everything that keeps a relation from being a source of a kind: missing columns, wrong types, and what would make reading it unsafe (SPEC 10.1)';

-- Before a close reads the sources: lock them so they cannot change until
-- it ends, and check them again.
CREATE FUNCTION classbill_internal.lock_sources()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s record;
  problems text[];
BEGIN
  FOR s IN SELECT x.kind, x.relation FROM classbill.sources AS x ORDER BY x.kind LOOP
    EXECUTE format('LOCK TABLE %s IN ACCESS SHARE MODE', s.relation);
    problems := classbill_internal.source_problems(s.kind, s.relation);
    IF cardinality(problems) > 0 THEN
      RAISE EXCEPTION 'the % source % can no longer be read: %', s.kind, s.relation,
                      array_to_string(problems, '; ')
        USING ERRCODE = '42501',
              DETAIL = 'It changed since it was registered; nothing of this close was written.',
              HINT = 'Undo the change, or register a source classbill can read safely (docs/security.md).';
    END IF;
  END LOOP;
END $$;
COMMENT ON FUNCTION classbill_internal.lock_sources() IS
  'Lock every registered source for the rest of the close and refuse it if it cannot be read safely (SPEC 10.1)';

CREATE FUNCTION classbill.register_source(kind text, relation regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  have regtype;
  problems text[];
  nsp regnamespace;
  other record;
  other_room regtype;
  unsafe boolean;
BEGIN
  IF register_source.kind IS NULL
     OR register_source.kind NOT IN ('rooms', 'events', 'recordings', 'exports') THEN
    RAISE EXCEPTION 'unknown source kind "%"', register_source.kind
      USING ERRCODE = '22023', HINT = 'Source kinds are rooms, events, recordings and exports.';
  END IF;
  IF register_source.relation IS NULL THEN
    RAISE EXCEPTION 'the % source must name a table or view, not NULL', register_source.kind
      USING ERRCODE = '22004';
  END IF;
  problems := classbill_internal.source_problems(register_source.kind, register_source.relation);
  unsafe := cardinality(classbill_internal.source_safety(register_source.kind, register_source.relation)) > 0;
  IF cardinality(problems) > 0 THEN
    RAISE EXCEPTION '% cannot be the % source: %', relation, register_source.kind,
                    array_to_string(problems, '; ')
      USING ERRCODE = CASE WHEN unsafe THEN '42501' ELSE '42804' END,
            HINT = CASE WHEN unsafe
                        THEN 'A close reads the sources as classbill_writer: register a table without row-level security, or a view a superuser owns, whose columns have types a superuser owns (SPEC 10.1; docs/security.md).'
                        ELSE format('The %s source needs the columns %s.', register_source.kind,
                                    (SELECT string_agg(c.column_name, ', ')
                                     FROM classbill.source_columns(register_source.kind) AS c)) END;
  END IF;

  -- the sources are joined on room: one type for all of them
  SELECT a.atttypid::regtype INTO have FROM pg_attribute AS a
  WHERE a.attrelid = relation AND a.attname = 'room';
  FOR other IN SELECT s.kind, s.relation FROM classbill.sources AS s
               WHERE s.kind <> register_source.kind LOOP
    SELECT a.atttypid::regtype INTO other_room FROM pg_attribute AS a
    WHERE a.attrelid = other.relation AND a.attname = 'room';
    IF have IS DISTINCT FROM other_room THEN
      RAISE EXCEPTION 'column "room" of % is %, but room of % (the % source) is %',
                      relation, have, other.relation, other.kind, other_room
        USING ERRCODE = '42804', HINT = 'The sources are joined on room: give them one type.';
    END IF;
  END LOOP;

  -- closes read the sources as classbill_writer: let it read this one
  SELECT c.relnamespace::regnamespace INTO nsp FROM pg_class AS c WHERE c.oid = register_source.relation;
  IF NOT has_schema_privilege('classbill_writer', nsp, 'USAGE') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO classbill_writer', nsp);
    RAISE NOTICE 'granted USAGE on schema % to classbill_writer, which closes run as', nsp;
  END IF;
  IF NOT has_table_privilege('classbill_writer', register_source.relation, 'SELECT') THEN
    EXECUTE format('GRANT SELECT ON %s TO classbill_writer', register_source.relation);
    RAISE NOTICE 'granted SELECT on % to classbill_writer, which closes run as', register_source.relation;
  END IF;
  IF NOT has_schema_privilege('classbill_writer', nsp, 'USAGE')
     OR NOT has_table_privilege('classbill_writer', register_source.relation, 'SELECT') THEN
    RAISE EXCEPTION 'classbill_writer cannot read %, and you cannot let it', register_source.relation
      USING ERRCODE = '42501',
            HINT = format('Have the owners run: GRANT USAGE ON SCHEMA %s TO classbill_writer; GRANT SELECT ON %s TO classbill_writer;',
                          nsp, register_source.relation);
  END IF;

  INSERT INTO classbill.sources AS s (kind, relation)
  VALUES (register_source.kind, register_source.relation)
  ON CONFLICT ON CONSTRAINT sources_pkey
  DO UPDATE SET relation = EXCLUDED.relation, registered_at = now();
END $$;
COMMENT ON FUNCTION classbill.register_source(text, regclass) IS
  'Tell classbill where rooms (room, account, mode, width, height), events (room, participant, event, at), recordings (room, bytes, ready_at, retention, deleted_at) or exports (room, processed, finished_at) live; a missing column, a wrong type, or a relation closes could not read without running its owner''s code (SPEC 10.1) is an error naming it';

CREATE FUNCTION classbill.source(kind text) RETURNS regclass
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  rel regclass;
BEGIN
  SELECT s.relation INTO rel FROM classbill.sources AS s WHERE s.kind = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no % source is registered', $1
      USING ERRCODE = '55000',
            HINT = format('Register one: SELECT classbill.register_source(%L, ''your_table'');', $1);
  END IF;
  RETURN rel;
END $$;
COMMENT ON FUNCTION classbill.source(text) IS
  'The relation registered for a kind of source rows; an error telling what to run if there is none';

-- The first instant of billing day d, in the billing time zone.
CREATE FUNCTION classbill.day_start(day date) RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT day_start.day::timestamp AT TIME ZONE classbill.billing_timezone() $$;
COMMENT ON FUNCTION classbill.day_start(date) IS
  'Local midnight starting a billing day in classbill.billing_timezone (SPEC 0)';

CREATE FUNCTION classbill_internal.missing_room(room text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'room % has events but no row in the rooms source %', room, classbill.source('rooms')
    USING ERRCODE = '23503',
          HINT = 'Every room with events needs its account, mode and resolution; nothing is billed to no one.';
END $$;
COMMENT ON FUNCTION classbill_internal.missing_room(text) IS
  'Raises the error for events of a room the rooms source does not know (kept for 1.1 callers)';

-- Arguments -------------------------------------------------------------------

CREATE FUNCTION classbill_internal.check_period(p_from date, p_to date)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_from IS NULL OR p_to IS NULL OR NOT isfinite(p_from) OR NOT isfinite(p_to) OR p_from >= p_to THEN
    RAISE EXCEPTION 'the period [%, %) is not a range of billing days',
                    coalesce(p_from::text, 'NULL'), coalesce(p_to::text, 'NULL')
      USING ERRCODE = '22023',
            HINT = 'Give the first day and the day after the last, the first before the second: [''2026-11-01'', ''2026-12-01'') is November.';
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.check_period(date, date) IS
  'Refuse a period of billing days that is NULL, infinite, empty or reversed';

-- An account argument: NULL (every account) where p_required is false,
-- else one of classbill.accounts.
CREATE FUNCTION classbill_internal.check_account(p_account text, p_required boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_account IS NULL THEN
    IF p_required THEN
      RAISE EXCEPTION 'an account is needed, not NULL'
        USING ERRCODE = '22004', HINT = 'Name an account of classbill.accounts.';
    END IF;
  ELSIF NOT EXISTS (SELECT FROM classbill.accounts AS a WHERE a.account = p_account) THEN
    RAISE EXCEPTION 'account "%" is not in classbill.accounts', p_account
      USING ERRCODE = '22023',
            HINT = CASE WHEN p_required THEN 'Name an account of classbill.accounts.'
                        ELSE 'Name an account of classbill.accounts, or NULL for every account.' END;
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.check_account(text, boolean) IS
  'Refuse an account argument that is not in classbill.accounts (or NULL where one is needed), alike in every function';

-- A period and an account argument checked, as a value (for DECLARE).
CREATE FUNCTION classbill_internal.checked_period(p_from date, p_to date, p_account text)
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM classbill_internal.check_period(p_from, p_to);
  PERFORM classbill_internal.check_account(p_account);
  RETURN true;
END $$;
COMMENT ON FUNCTION classbill_internal.checked_period(date, date, text) IS
  'check_period and check_account in one call that returns true, for a declaration';

-- A window of days: 1 or more.
CREATE FUNCTION classbill_internal.check_window(p_days integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_days IS NULL OR p_days < 1 THEN
    RAISE EXCEPTION 'a window of % days is empty', coalesce(p_days::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Give 1 or more days (30: the last 30 days).';
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.check_window(integer) IS
  'Refuse a window of days that is NULL, zero or negative';

-- A day argument: a finite date.
CREATE FUNCTION classbill_internal.check_as_of(p_day date, p_what text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_day IS NULL OR NOT isfinite(p_day) THEN
    RAISE EXCEPTION '% must be a billing day, not %', p_what, coalesce(p_day::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.check_as_of(date, text) IS
  'Refuse a day argument that is NULL or infinite, naming it';

-- Reading the sources -----------------------------------------------------------
--
-- What a room bills comes from two sources: its event rows, all of them,
-- and its one row in the rooms source.  classbill_internal.room_results
-- reads both for a set of rooms and checks them as it goes: every event
-- row through classbill_internal.event_problem (the checks room_usage
-- makes, SPEC 8.1), every room for exactly one rooms row with a known
-- account, a picture size and a mode classbill knows (SPEC 8.2).  A room
-- with a problem comes back with the problem instead of a usage: the
-- report functions raise it as an error naming the room, the account and
-- the source; a close holds the account back and records it (SPEC 7.5).

CREATE TYPE classbill_internal.room_result AS (
  room          text,
  account       text,
  accounts      text[],
  tier          classbill.tier,
  declared_mode classbill.mode,
  usage         classbill.usage,
  source        text,
  problem       text,
  detail        text,
  room_digest   bytea
);
COMMENT ON TYPE classbill_internal.room_result IS
  'A room as the sources give it: its account (all of them when it is listed more than once), tier, declared mode and usage, or the first problem found in its rows (source, problem, detail); room_digest fingerprints its rooms rows';

-- The query of classbill_internal.room_result rows for the rooms of
-- p_set, a set of the events source's room values written to follow
-- "room" ("IN (SELECT ...)", "= ANY (...)"), with $1, $2 the instants of a
-- period and $3 a close; $4 is the billing time zone the usage must be
-- built in, $5 whether the rooms' accounts must be in classbill.accounts
-- (billing) or not (reports).  One pass over the rooms' events, one over
-- their rooms rows.
-- Whether the rooms source cannot list a room twice: a table with a
-- unique index on room alone (valid, not deferred, not partial).  The
-- queries of closes then read one rooms row per room without counting.
CREATE FUNCTION classbill_internal.rooms_unique()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (
    SELECT FROM pg_index AS i
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attname = 'room'
    WHERE i.indrelid = classbill.source('rooms') AND i.indisunique AND i.indisvalid AND i.indimmediate
      AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum)
$$;
COMMENT ON FUNCTION classbill_internal.rooms_unique() IS
  'Whether the rooms source has a unique index on room alone, so that no room can be listed twice (SPEC 8.2)';

-- The rooms rows of a set of rooms, one row per room: n, the rows listed;
-- accounts, account, no_account, mode, width, height, dg (their digest).
CREATE FUNCTION classbill_internal.room_rows_sql(p_where text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN classbill_internal.rooms_unique() THEN format($q$
      SELECT y.room, 1::bigint AS n,
             CASE WHEN y.account IS NOT NULL THEN ARRAY[y.account::text] END AS accounts,
             y.account::text AS account, y.account IS NULL AS no_account, y.mode::text AS mode,
             y.width::bigint AS width, y.height::bigint AS height,
             classbill_internal.row_digest(y.account::text, y.mode::text, y.width::bigint, y.height::bigint) AS dg
      FROM %1$s AS y WHERE y.room %2$s $q$, classbill.source('rooms'), p_where)
  ELSE format($q$
      SELECT y.room, count(*) AS n,
             array_agg(y.account::text) FILTER (WHERE y.account IS NOT NULL) AS accounts,
             min(y.account::text) AS account,
             bool_or(y.account IS NULL) AS no_account,
             min(y.mode::text) AS mode,
             min(y.width::bigint) AS width, min(y.height::bigint) AS height,
             classbill_internal.digest_total(
               classbill_internal.row_digest(y.account::text, y.mode::text, y.width::bigint, y.height::bigint)) AS dg
      FROM %1$s AS y WHERE y.room %2$s
      GROUP BY y.room $q$, classbill.source('rooms'), p_where) END
$$;
COMMENT ON FUNCTION classbill_internal.room_rows_sql(text) IS
  'SQL of the rooms rows of the rooms matching a condition on y.room, one row per room, with how many rows list it and their digest (without counting where the rooms source has a unique index on room)';

CREATE FUNCTION classbill_internal.room_results_sql(p_set text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format($q$
    SELECT u.room::text AS room, r.account, r.accounts,
           CASE WHEN r.width BETWEEN 1 AND 2147483647 AND r.height BETWEEN 1 AND 2147483647
                THEN classbill.tier(r.width::integer, r.height::integer) END AS tier,
           CASE WHEN r.mode IN ('1v1', '1vn') THEN r.mode::classbill.mode END AS declared_mode,
           CASE WHEN p.problem IS NULL THEN u.usage END AS usage,
           CASE WHEN p.problem IS NULL THEN NULL WHEN p.problem = 7 THEN 'events' ELSE 'rooms' END AS source,
           CASE p.problem
             WHEN 1 THEN 'room has events but no row in the rooms source'
             WHEN 2 THEN format('room is listed %%s times in the rooms source', r.n)
             WHEN 3 THEN 'room has no account in the rooms source'
             WHEN 4 THEN format('account "%%s" of the room is not in classbill.accounts', r.account)
             WHEN 5 THEN format('resolution %%sx%%s of the room is not a picture size',
                                coalesce(r.width::text, 'NULL'), coalesce(r.height::text, 'NULL'))
             WHEN 6 THEN format('mode "%%s" of the room is neither 1v1 nor 1vn', r.mode)
             WHEN 7 THEN u.problem END AS problem,
           CASE p.problem
             WHEN 1 THEN 'Every room with events needs its account, mode and resolution; nothing is billed to no one.'
             WHEN 2 THEN format('Accounts: %%s. A room has exactly one row: it is billed once, to one account (SPEC 8.2).',
                                array_to_string(r.accounts, ', '))
             WHEN 3 THEN 'Give the room the account (application id) it is billed to.'
             WHEN 4 THEN 'Add the account with its plan and currency; its days are closed from the first one held back.'
             WHEN 5 THEN 'Width and height are positive numbers of pixels (SPEC 2.1).'
             WHEN 6 THEN 'Declare 1v1 or 1vn, or leave mode NULL to infer it per billing day (SPEC 3.1).'
             WHEN 7 THEN format('%%s bad event row(s) in the room; the first named here (SPEC 8.1).', u.bad) END AS detail,
           r.dg AS room_digest
    FROM (SELECT e.room,
                 classbill.in_zone(classbill.room_usage(e.participant, e.event, e.at)
                                     FILTER (WHERE e.problem IS NULL), $4) AS usage,
                 count(*) FILTER (WHERE e.problem IS NOT NULL) AS bad,
                 min(e.problem) AS problem
          FROM (SELECT x.room, x.participant::text AS participant, x.event::text AS event, x.at,
                       classbill_internal.event_problem(x.participant::text, x.event::text, x.at) AS problem
                FROM %1$s AS x WHERE x.room %3$s) AS e
          GROUP BY e.room) AS u
    LEFT JOIN (%4$s) AS r ON r.room = u.room
    LEFT JOIN classbill.accounts AS acct ON acct.account = r.account
    -- the first problem of the room, in this order (OFFSET 0: worked out once)
    CROSS JOIN LATERAL (SELECT CASE
      WHEN r.n IS NULL THEN 1
      WHEN r.n > 1 THEN 2
      WHEN r.no_account THEN 3
      WHEN $5 AND acct.account IS NULL THEN 4
      WHEN NOT (r.width BETWEEN 1 AND 2147483647 AND r.height BETWEEN 1 AND 2147483647) THEN 5
      WHEN r.mode IS NOT NULL AND r.mode NOT IN ('1v1', '1vn') THEN 6
      WHEN u.bad > 0 THEN 7 END AS problem OFFSET 0) AS p
    $q$, classbill.source('events'), classbill.source('rooms'), p_set, classbill_internal.room_rows_sql(p_set))
$$;
COMMENT ON FUNCTION classbill_internal.room_results_sql(text) IS
  'The query giving, for a set of rooms, their usage from all their events, account, tier and declared mode, each room checked (SPEC 8.1, 8.2; for billing, also that its account is in classbill.accounts): a room with a problem comes back with the problem instead of its usage';

-- The set of room_results_sql for rooms with an event in [$1, $2).
-- Events on foreign tables (shards through postgres_fdw): the rooms are
-- listed first and the list goes into the query as one constant, so that
-- every shard runs room_usage on its own rows.  PostgreSQL 15 does not
-- send the semi-join of one server to the shards.
CREATE FUNCTION classbill_internal.rooms_with_events(p_from timestamptz, p_to timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  events regclass := classbill.source('events');
  room_type text;
  rooms text;
BEGIN
  IF EXISTS (SELECT FROM pg_partition_tree(events) AS t
             JOIN pg_class AS c ON c.oid = t.relid WHERE c.relkind = 'f') THEN
    SELECT format_type(a.atttypid, a.atttypmod) INTO room_type
    FROM pg_attribute AS a WHERE a.attrelid = events AND a.attname = 'room';
    EXECUTE format('SELECT array_agg(DISTINCT a.room)::text FROM %s AS a WHERE a.at >= $1 AND a.at < $2', events)
      INTO rooms USING p_from, p_to;
    RETURN format('= ANY (%L::%s[])', coalesce(rooms, '{}'), room_type);
  END IF;
  RETURN format('IN (SELECT a.room FROM %s AS a WHERE a.at >= $1 AND a.at < $2)', events);
END $$;
COMMENT ON FUNCTION classbill_internal.rooms_with_events(timestamptz, timestamptz) IS
  'The rooms with an event in [$1, $2), written to follow "room": a semi-join, or on foreign tables the rooms as a list';

-- The error a report raises for a room's problem.
CREATE FUNCTION classbill_internal.room_error(p_room text, p_accounts text[], p_source text,
                                              p_problem text, p_detail text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'room %, account %: %', p_room,
                  coalesce(array_to_string(p_accounts, ', '), 'unknown'), p_problem
    USING ERRCODE = CASE p_source WHEN 'events' THEN '22023' ELSE '23503' END,
          DETAIL = format('In the %s source %s. %s', p_source, classbill.source(p_source), p_detail),
          HINT = 'Correct the source rows; a close holds back only the account at fault and records why in classbill.close_problems.';
END $$;
COMMENT ON FUNCTION classbill_internal.room_error(text, text[], text, text, text) IS
  'Raises the error for a room whose rows have a problem, naming the room, its account(s), the source and the problem';

-- Rooms and their days --------------------------------------------------------------

-- Every room with an event in the billing days [p_from, p_to), with its
-- usage from all its events (a room's sessions may start earlier or end
-- later than the period).
CREATE FUNCTION classbill.room_values(from_day date, to_day date)
RETURNS TABLE (room text, account text, tier classbill.tier, declared_mode classbill.mode,
               mode classbill.mode, usage classbill.usage)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t1 timestamptz;
  t2 timestamptz;
BEGIN
  PERFORM classbill_internal.check_period(from_day, to_day);
  t1 := classbill.day_start(from_day);
  t2 := classbill.day_start(to_day);
  RETURN QUERY EXECUTE format($q$
    SELECT r.room,
           CASE WHEN r.problem IS NULL THEN r.account
                ELSE classbill_internal.room_error(r.room, r.accounts, r.source, r.problem, r.detail) END,
           r.tier, r.declared_mode, classbill.room_mode(r.declared_mode, r.usage), r.usage
    FROM (%s) AS r $q$, classbill_internal.room_results_sql(classbill_internal.rooms_with_events(t1, t2)))
  USING t1, t2, NULL::bigint, classbill.billing_timezone(), false;
END $$;
COMMENT ON FUNCTION classbill.room_values(date, date) IS
  'Usage of every room with an event in the billing days [from, to), from all of its events, with its account, tier, declared mode and the mode of the whole value; a room whose rows have a problem is an error naming it (SPEC 8.1, 8.2). Billing infers modes per day: classbill.room_days';

CREATE FUNCTION classbill.room_days(from_day date, to_day date)
RETURNS TABLE (room text, account text, tier classbill.tier, declared_mode classbill.mode,
               mode classbill.mode, day date, seconds numeric, minutes bigint, participants integer)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT v.room, v.account, v.tier, v.declared_mode,
         classbill.day_mode(v.declared_mode, d.participants), d.day, d.seconds, d.minutes, d.participants
  FROM classbill.room_values(from_day, to_day) AS v,
       classbill.daily_detail(v.usage) AS d
  WHERE d.day >= from_day AND d.day < to_day
$$;
COMMENT ON FUNCTION classbill.room_days(date, date) IS
  'Per room with events in the billing days [from, to) and per day of the period with presence: its seconds, minutes, participants present and the mode it bills under that day (declared, or inferred from that day alone, SPEC 3.1)';

CREATE FUNCTION classbill.billable_days(from_day date, to_day date)
RETURNS TABLE (account text, tier classbill.tier, mode classbill.mode, day date,
               seconds numeric, minutes bigint)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.account, r.tier, r.mode, r.day, sum(r.seconds), classbill_internal.minutes_of(sum(r.seconds))::bigint
  FROM classbill.room_days(from_day, to_day) AS r
  GROUP BY r.account, r.tier, r.mode, r.day
  ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION classbill.billable_days(date, date) IS
  'Billable minutes per account, tier, mode and billing day of [from, to): the presence of the group''s rooms that day summed and rounded up once (SPEC 1.7), each room in the mode of that day (SPEC 3.1)';

CREATE FUNCTION classbill_internal.store_usage_days(p_from date, p_to date)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  other record;
  n bigint;
BEGIN
  PERFORM classbill_internal.check_period(p_from, p_to);
  PERFORM classbill.source('rooms');
  PERFORM classbill.source('events');
  PERFORM classbill_internal.lock_sources();
  -- SPEC 8.3: days stored under another zone are not replaced
  SELECT u.billing_timezone, min(u.day) AS first, max(u.day) AS last, count(*) AS rows INTO other
  FROM classbill.usage_days AS u
  WHERE u.day >= p_from AND u.day < p_to AND u.billing_timezone <> tz
  GROUP BY u.billing_timezone LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'classbill.usage_days holds % row(s) of % to % stored in billing time zone %, not %',
                    other.rows, other.first, other.last, other.billing_timezone, tz
      USING ERRCODE = '22023',
            DETAIL = 'Their days are calendar days of another zone; replacing them would move minutes between days (SPEC 8.3).',
            HINT = format('SET classbill.billing_timezone = %L, or delete those rows first if the zone really changed.',
                          other.billing_timezone);
  END IF;
  -- an account not in classbill.accounts stops the insert (its trigger names it)
  DELETE FROM classbill.usage_days AS u WHERE u.day >= p_from AND u.day < p_to;
  INSERT INTO classbill.usage_days (account, tier, mode, day, seconds, billing_timezone)
  SELECT b.account, b.tier, b.mode, b.day, b.seconds, tz FROM classbill.billable_days(p_from, p_to) AS b;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
COMMENT ON FUNCTION classbill_internal.store_usage_days(date, date) IS
  'store_usage_days as classbill_writer runs it';

CREATE FUNCTION classbill.store_usage_days(from_day date, to_day date)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT classbill_internal.as_writer('store_usage_days', from_day, to_day) $$;
COMMENT ON FUNCTION classbill.store_usage_days(date, date) IS
  'Replace the stored quantities of the billing days [from, to) with those computed from the sources; refuses days stored under another billing time zone (SPEC 8.3); returns the rows stored';

CREATE FUNCTION classbill.breaches(from_day date, to_day date)
RETURNS TABLE (kind text, account text, plan classbill.plan, room text, day date,
               at timestamptz, allowed integer, peak integer, over integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
BEGIN
  PERFORM classbill_internal.check_period(from_day, to_day);
  -- rooms over their plan's stage limit
  RETURN QUERY
  SELECT 'stage'::text, v.account, a.plan, v.room,
         (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date,
         classbill.stage_peak_at(v.usage), l.max_on_stage,
         classbill.stage_peak(v.usage), classbill.stage_peak(v.usage) - l.max_on_stage
  FROM classbill.room_values(from_day, to_day) AS v
  JOIN classbill.accounts AS a ON a.account = v.account
  CROSS JOIN LATERAL classbill.plan_limits(a.plan) AS l
  WHERE classbill.stage_peak(v.usage) > l.max_on_stage
    AND (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date >= from_day
    AND (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date < to_day;

  -- accounts over their plan's cap on participants present at once
  RETURN QUERY
  SELECT 'present'::text, pp.account, a.plan, NULL::text, pp.day, pp.at,
         l.max_present, pp.peak, pp.peak - l.max_present
  FROM classbill.present_peak_by_day(from_day, to_day) AS pp
  JOIN classbill.accounts AS a ON a.account = pp.account
  CROSS JOIN LATERAL classbill.plan_limits(a.plan) AS l
  WHERE l.max_present IS NOT NULL AND pp.peak > l.max_present;
END $$;
COMMENT ON FUNCTION classbill.breaches(date, date) IS
  'Every plan-limit breach of the billing days [from, to) (SPEC 3.6): rooms with more on stage than their plan allows, and per day the prepaid accounts with more present at once than their cap; each with when and how far. Breaches never change the bill';
