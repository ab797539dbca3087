-- The 1.2 interface: one naming scheme, documented parameter names that
-- work in named calls, a comment on every column, the same errors for the
-- same argument mistakes everywhere, and the old names of 1.1 still
-- working.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

-- Every parameter of a public function has one of the documented names
-- (README, "Reference"): no p_ prefixes, no one-letter names.
SELECT DISTINCT n AS parameter
FROM pg_proc AS p, unnest(p.proargnames, coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[cardinality(p.proargnames)])))
                   AS a(n, m)
WHERE p.pronamespace = 'classbill'::regnamespace AND p.proargnames IS NOT NULL AND m IN ('i', 'b') AND n <> ''
ORDER BY 1;

-- No column of a table, view or function result is a reserved word that
-- would have to be quoted.
SELECT c.relname, a.attname
FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
JOIN pg_get_keywords() AS k ON k.word = a.attname AND k.catcode = 'R'
WHERE c.relnamespace = 'classbill'::regnamespace AND a.attnum > 0
UNION ALL
SELECT p.proname, n
FROM pg_proc AS p, unnest(p.proargnames) AS n
JOIN pg_get_keywords() AS k ON k.word = n AND k.catcode = 'R'
WHERE p.pronamespace = 'classbill'::regnamespace;

-- Every column of classbill's tables and views says what it holds.
SELECT c.relname, a.attname AS uncommented
FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'classbill'::regnamespace AND c.relkind IN ('r', 'v', 'p')
  AND col_description(c.oid, a.attnum) IS NULL;
-- and every function, table, view and type of both schemas has a comment
SELECT p.oid::regprocedure::text AS uncommented FROM pg_proc AS p
WHERE p.pronamespace IN ('classbill'::regnamespace, 'classbill_internal'::regnamespace)
  AND obj_description(p.oid, 'pg_proc') IS NULL
  AND p.proname !~ '_(trans|combine|serial|deserial|final|in|out|recv|send)$'
UNION ALL
SELECT c.oid::regclass::text FROM pg_class AS c
WHERE c.relnamespace IN ('classbill'::regnamespace, 'classbill_internal'::regnamespace)
  AND c.relkind IN ('r', 'v', 'p') AND obj_description(c.oid, 'pg_class') IS NULL;

-- Argument mistakes are the same error in every function: a reversed,
-- empty or infinite period (22023), an account not in classbill.accounts
-- (22023), a NULL account where one is needed (22004), a window of no
-- days (22023); the arguments are checked before anything is read, so
-- the error is the same with or without sources.  Every public function
-- taking one of these arguments is called here by name.
INSERT INTO classbill.accounts VALUES ('a', 'postpaid', 'CNY', 'A');
CREATE TEMP TABLE calls AS
SELECT p.proname, p.prokind,
       (SELECT array_agg(n ORDER BY o)
        FROM unnest(p.proargnames, coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[cardinality(p.proargnames)])))
             WITH ORDINALITY AS a(n, m, o) WHERE m IN ('i', 'b')) AS ins
FROM pg_proc AS p
WHERE p.pronamespace = 'classbill'::regnamespace AND p.prokind IN ('f', 'p') AND p.proargnames IS NOT NULL;
CREATE TEMP TABLE mistakes (fn text, mistake text, sqlstate text, message text);
DO $$
DECLARE
  c record; n text; v text; mistake text; args text[]; st text; msg text;
BEGIN
  FOR c IN SELECT * FROM calls
           WHERE ins && ARRAY['from_day', 'for_account', 'window_days'] ORDER BY proname LOOP
    FOREACH mistake IN ARRAY ARRAY['reversed period', 'infinite period', 'unknown account', 'NULL account',
                                   'no days'] LOOP
      CONTINUE WHEN mistake LIKE '%period' AND NOT 'from_day' = ANY (c.ins);
      CONTINUE WHEN mistake LIKE '%account' AND NOT 'for_account' = ANY (c.ins);
      CONTINUE WHEN mistake = 'no days' AND NOT 'window_days' = ANY (c.ins);
      args := '{}';
      FOREACH n IN ARRAY c.ins LOOP
        v := CASE n
          WHEN 'from_day' THEN CASE mistake WHEN 'reversed period' THEN '''2026-11-05'''
                                            WHEN 'infinite period' THEN '''-infinity''' ELSE '''2026-11-01''' END
          WHEN 'to_day' THEN '''2026-11-03'''
          WHEN 'for_account' THEN CASE mistake WHEN 'unknown account' THEN '''nobody'''
                                               WHEN 'NULL account' THEN 'NULL::text' ELSE '''a''' END
          WHEN 'as_of' THEN '''2026-11-05'''
          WHEN 'in_month' THEN '''2026-11-01'''
          WHEN 'window_days' THEN CASE mistake WHEN 'no days' THEN '0' ELSE '30' END
          WHEN 'growth' THEN '1'
          WHEN 'for_tier' THEN '''480p'''
          WHEN 'day' THEN '''2026-11-01'''
          ELSE 'NULL' END;
        args := args || format('%s => %s', n, v);
      END LOOP;
      BEGIN
        EXECUTE CASE WHEN c.prokind = 'p' THEN 'CALL ' ELSE 'SELECT count(*) FROM ' END
                || format('classbill.%I(%s)', c.proname, array_to_string(args, ', '));
        INSERT INTO mistakes VALUES (c.proname, mistake, NULL, 'no error');
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        INSERT INTO mistakes VALUES (c.proname, mistake, st, msg);
      END;
    END LOOP;
  END LOOP;
END $$;
-- one message per mistake
SELECT mistake, sqlstate, message, count(*) AS functions
FROM mistakes WHERE mistake <> 'NULL account'
GROUP BY mistake, sqlstate, message ORDER BY mistake, functions DESC, message;
-- a NULL account is every account where the account is optional (then
-- the missing sources of this database are the error), and an error
-- where one is needed
SELECT fn, sqlstate, message FROM mistakes WHERE mistake = 'NULL account' AND sqlstate IN ('22004', '22023')
ORDER BY fn;

-- Named calls with the documented names, and the old names of 1.1 giving
-- what the new ones give.  480p 1v1 at 0.05: 30 minutes on 11-01.
CREATE TABLE n_rooms (room int, account text, mode text, width int, height int);
CREATE TABLE n_events (room int, participant text, event text, at timestamptz);
SET client_min_messages = warning;
SELECT classbill.register_source('rooms', 'n_rooms');
SELECT classbill.register_source('events', 'n_events');
RESET client_min_messages;
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05);
INSERT INTO n_rooms VALUES (1, 'a', '1v1', 640, 480);
INSERT INTO n_events VALUES (1, 'x', 'join', '2026-11-01 10:00+08'), (1, 'x', 'leave', '2026-11-01 10:30+08'),
  (1, 'y', 'join', '2026-11-01 10:00+08'), (1, 'y', 'leave', '2026-11-01 10:20+08');
SELECT account, day, minutes FROM classbill.billable_days(from_day => '2026-11-01', to_day => '2026-11-02');
SELECT classbill.store_usage_days(from_day => '2026-11-01', to_day => '2026-11-02');
SELECT product, quantity, amount FROM classbill.live_statement(in_month => '2026-11-01', for_account => 'a');
SELECT (SELECT array_agg(s ORDER BY s::text) FROM classbill.live_statement('2026-11-01') AS s)
     = (SELECT array_agg(s ORDER BY s::text) FROM classbill.statement_lines('2026-11-01') AS s) AS statement_lines_same;
SELECT (SELECT array_agg(p ORDER BY p::text) FROM classbill.present_peak_by_day('2026-11-01', '2026-11-02') AS p)
     = (SELECT array_agg(p ORDER BY p::text) FROM classbill.present_peaks('2026-11-01', '2026-11-02') AS p) AS present_peaks_same;
SELECT (SELECT p FROM classbill.peak_summary(for_account => 'a', from_day => '2026-11-01', to_day => '2026-11-02') AS p)
     = (SELECT p FROM classbill.account_peaks('a', '2026-11-01', '2026-11-02') AS p) AS account_peaks_same;
SELECT (SELECT classbill.account_peak_by_day(room::text, participant, event, at) FROM n_events)::text
     = (SELECT classbill.account_daily_peaks(room::text, participant, event, at) FROM n_events)::text AS account_daily_peaks_same;
CALL classbill.close_day(day => '2026-11-01', for_account => 'a');
SELECT product, quantity, amount FROM classbill.statement(in_month => '2026-11-01', for_account => 'a');

-- SPEC 1.7, 4.2: the units SQL bills by are those of the C (src/units.h).
-- A minute rounds up once and exactly, however many digits: 0.000001 s
-- is 1 minute, 60 s 1, 60.000001 s 2, 1830 s 31.
SELECT x AS seconds, classbill_internal.minutes_of(x) AS minutes
FROM unnest('{0, 0.000001, 59.999999, 60, 60.000001, 1830, 123456789012345678901234.000001}'::numeric[]) AS x;
SELECT classbill_internal.bytes_per_gb() AS bytes_per_gb, classbill_internal.days_per_month() AS days_per_month;

-- DROP EXTENSION refuses while the ledger has lines: only CASCADE drops
-- them (1.1 dropped the whole ledger without a word)
DROP EXTENSION classbill;
SELECT count(*) AS lines_kept FROM classbill.ledger;

-- The ledger is append-only, so the next tests get a fresh extension.
DROP EXTENSION classbill CASCADE;
CREATE EXTENSION classbill;
DROP TABLE n_rooms, n_events;
