-- Least privilege: readers read, operators run the billing, nobody else
-- gets anything, closed lines cannot be touched, and nothing on a
-- caller's search_path can hijack a classbill function.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

CREATE ROLE regress_cb_reader LOGIN IN ROLE classbill_reader;
CREATE ROLE regress_cb_operator LOGIN IN ROLE classbill_operator;
CREATE ROLE regress_cb_nobody LOGIN;

-- The service's own tables, which only their owner (this superuser) and,
-- once registered, classbill_writer may read.  Account a, postpaid, 480p
-- 1v1 at 0.05: 30 minutes on 11-01 (1.50).
CREATE TABLE p_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE p_events (room int, participant text, event text, at timestamptz);
SELECT classbill.register_source('rooms', 'p_rooms');
SELECT classbill.register_source('events', 'p_events');
INSERT INTO classbill.accounts VALUES ('a', 'postpaid', 'CNY', 'A');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05);
INSERT INTO p_rooms VALUES (1, 'a', '1v1', 640, 480);
INSERT INTO p_events VALUES (1, 'x', 'join', '2026-11-01 10:00+08'), (1, 'x', 'leave', '2026-11-01 10:30+08');

-- No grant, nothing: not even the schema.
SET ROLE regress_cb_nobody;
SELECT classbill.tier(640, 480);
SELECT count(*) FROM classbill.rates;
RESET ROLE;

-- Nothing of classbill is executable by PUBLIC.
SELECT count(*) AS public_routines
FROM pg_proc AS p
WHERE p.pronamespace = 'classbill'::regnamespace
  AND has_function_privilege('public', p.oid, 'EXECUTE');

-- A reader reads everything and writes nothing.
SET ROLE regress_cb_reader;
SELECT classbill.tier(640, 480);
SELECT product, tier, price FROM classbill.rates;
UPDATE classbill.rates SET price = 0;
INSERT INTO classbill.packs (account, tier, item, purchased_at) VALUES ('a', '480p', 'x', now());
DELETE FROM classbill.accounts;
CALL classbill.close_day('2026-11-01');
SELECT classbill.store_usage_days('2026-11-01', '2026-11-02');
SELECT classbill.register_source('events', 'p_events');
RESET ROLE;

-- An operator edits the rate card and closes days; the close runs as
-- classbill_writer and reads the sources, which the operator cannot; the
-- close is recorded as the operator's.
SET ROLE regress_cb_operator;
SELECT count(*) FROM p_events;
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1vn', '480p', 'CNY', '2026-01-01', 0.03);
CALL classbill.close_day('2026-11-01');
SELECT account, day, quantity, amount FROM classbill.ledger;
SELECT closed_by FROM classbill.closes;
-- but it cannot write the ledger itself, nor run a close's parts
UPDATE classbill.ledger SET amount = 0;
INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, amount, currency)
VALUES (1, 'a', '2026-11-01', 'usage', 1, 'minute', -100, 'CNY');
DELETE FROM classbill.closed_days;
SELECT classbill_internal.draw(1, '2026-11-01', '2026-11-01', NULL);
SELECT classbill.register_source('events', 'p_events');
RESET ROLE;

-- A reader cannot change a closed line either.
SET ROLE regress_cb_reader;
UPDATE classbill.ledger SET amount = 0;
DELETE FROM classbill.ledger;
RESET ROLE;

-- Hijack attempts: the operator puts its own schema first on the
-- search_path, with functions and an operator named like ones classbill
-- uses (ceil, hashtextextended, current_setting, text =), and a table
-- named like a source.  A late 20-minute session of 11-01 arrives; the
-- close of 11-02 must bill exactly +20 minutes (1.00) as an adjustment.
CREATE SCHEMA regress_evil AUTHORIZATION regress_cb_operator;
SET ROLE regress_cb_operator;
CREATE FUNCTION regress_evil.ceil(numeric) RETURNS numeric LANGUAGE sql AS 'SELECT 0::numeric';
CREATE FUNCTION regress_evil.hashtextextended(text, bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
CREATE FUNCTION regress_evil.current_setting(text) RETURNS text LANGUAGE sql AS $$SELECT 'UTC'$$;
CREATE FUNCTION regress_evil.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.always);
CREATE TABLE regress_evil.p_events (room int, participant text, event text, at timestamptz);
SET search_path = regress_evil, public;
RESET ROLE;
INSERT INTO public.p_events VALUES (1, 'y', 'join', '2026-11-01 12:00+08'), (1, 'y', 'leave', '2026-11-01 12:20+08');
SET ROLE regress_cb_operator;
SET search_path = regress_evil, public;
CALL classbill.close_day('2026-11-02');
SELECT day, corrects, quantity, amount FROM classbill.ledger ORDER BY line_id;
SELECT product, quantity, amount FROM classbill.statement('2026-11-01');
RESET ROLE;
RESET search_path;

-- SPEC 10.2: every object of classbill is owned by the extension's
-- owner; the role closes write as owns nothing.  Only analyze_work runs
-- with its owner's rights (ANALYZE of the close's work tables), and no
-- function leaves search_path to its caller.
SELECT count(*) AS objects_not_owned_by_the_extension_owner
FROM pg_depend AS d
JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'classbill'
LEFT JOIN pg_class AS c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
LEFT JOIN pg_proc AS p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
LEFT JOIN pg_type AS t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
LEFT JOIN pg_namespace AS n ON d.classid = 'pg_namespace'::regclass AND n.oid = d.objid
WHERE d.deptype = 'e'
  AND coalesce(c.relowner, p.proowner, t.typowner, n.nspowner, e.extowner) <> e.extowner;
SELECT (SELECT count(*) FROM pg_class WHERE relowner = 'classbill_writer'::regrole)
     + (SELECT count(*) FROM pg_proc WHERE proowner = 'classbill_writer'::regrole)
     + (SELECT count(*) FROM pg_type WHERE typowner = 'classbill_writer'::regrole) AS owned_by_the_writer;
SELECT p.oid::regprocedure, p.proowner = (SELECT extowner FROM pg_extension WHERE extname = 'classbill') AS by_ext_owner,
       p.proconfig
FROM pg_proc AS p
WHERE p.pronamespace IN ('classbill'::regnamespace, 'classbill_internal'::regnamespace) AND p.prosecdef
ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT count(*) AS routines_without_pinned_search_path
FROM pg_proc AS p
WHERE p.pronamespace IN ('classbill'::regnamespace, 'classbill_internal'::regnamespace)
  AND p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))
  AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false);

-- The ledger is append-only, so the next tests get a fresh extension.
DROP EXTENSION classbill CASCADE;
CREATE EXTENSION classbill;
DROP TABLE p_rooms, p_events;
DROP SCHEMA regress_evil CASCADE;
DROP ROLE regress_cb_reader, regress_cb_operator, regress_cb_nobody;
