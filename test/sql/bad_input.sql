-- SPEC 8: bad input stops the query with an error that names the bad
-- value (SQLSTATE 22023, 22004 or 22008); nothing is dropped silently.
-- After each error, psql's LAST_ERROR_SQLSTATE shows its SQLSTATE.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

-- SPEC 8.1: an unknown event kind (22023), however it is spelled.
SELECT classbill.room_usage(p, e, t)
FROM (VALUES ('A', 'join', '2026-11-02 10:00+08'::timestamptz),
             ('A', 'jion', '2026-11-02 10:05+08')) AS v(p, e, t);
\echo :LAST_ERROR_SQLSTATE
SELECT classbill.room_usage('A', '', '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE
SELECT classbill.room_usage('A', ' join', '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE

-- SPEC 8.1: a NULL event (22004).
SELECT classbill.room_usage('A', NULL, '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE

-- SPEC 8.1: a NULL time (22004).
SELECT classbill.room_usage('A', 'leave', NULL);
\echo :LAST_ERROR_SQLSTATE

-- SPEC 8.1: a NULL participant on every participant event (22004).
SELECT classbill.room_usage(NULL, 'join', '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE
SELECT classbill.room_usage(NULL, 'leave', '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE
SELECT classbill.room_usage(NULL, 'heartbeat', '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE
SELECT classbill.room_usage(NULL, 'stage_up', '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE
SELECT classbill.room_usage(NULL, 'stage_down', '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE
-- ... but not on "end" (SPEC 1.2): no error, the row is counted.
SELECT classbill.events(classbill.room_usage(NULL, 'end', '2026-11-02 10:00+08'));

-- SPEC 8.1: infinite times (22008).
SELECT classbill.room_usage('A', 'join', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT classbill.room_usage('A', 'join', '-infinity');
\echo :LAST_ERROR_SQLSTATE
-- Times outside 1900-01-01 .. 2299-12-31 UTC (22008).
SELECT classbill.room_usage('A', 'join', '1899-12-31 23:59:59.999999+00');
\echo :LAST_ERROR_SQLSTATE
SELECT classbill.room_usage('A', 'join', '2300-01-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- Times near the edges are accepted (UTC billing days): A 0.999999 s
-- on 2299-12-31, B 1 us on 1900-01-01: 1 + 1 minutes, 1.000000 s.
SET classbill.billing_timezone = 'UTC';
SELECT classbill.minutes(u), classbill.seconds(u), d.day
FROM (SELECT classbill.room_usage(p, e, t) AS u
      FROM (VALUES ('A', 'join', '2299-12-31 23:59:59+00'::timestamptz),
                   ('A', 'leave', '2299-12-31 23:59:59.999999+00'),
                   ('B', 'join', '1900-01-01 00:00+00'),
                   ('B', 'leave', '1900-01-01 00:00:00.000001+00')) AS v(p, e, t)) AS s,
     classbill.daily(s.u) AS d;
SET classbill.billing_timezone = 'Asia/Shanghai';

-- A bad row anywhere stops the whole query, also when grouped.
SELECT room, classbill.room_usage(p, e, t)
FROM (VALUES (1, 'A', 'join', '2026-11-02 10:00+08'::timestamptz),
             (2, 'B', 'join', '2026-11-02 10:00+08'),
             (2, 'B', 'quit', '2026-11-02 10:30+08')) AS v(room, p, e, t)
GROUP BY room;
\echo :LAST_ERROR_SQLSTATE

-- Long values are cut short in the message.
SELECT classbill.room_usage(repeat('p', 1000), repeat('x', 1000), '2026-11-02 10:00+08');
\echo :LAST_ERROR_SQLSTATE

-- SPEC 2.1 / 8: non-positive resolutions (22023).
SELECT classbill.tier(0, 0);
\echo :LAST_ERROR_SQLSTATE

-- The billing time zone must be a zone PostgreSQL knows (22023); the
-- setting keeps its value.
SET classbill.billing_timezone = 'Mars/Olympus_Mons';
\echo :LAST_ERROR_SQLSTATE
SET classbill.billing_timezone = '';
\echo :LAST_ERROR_SQLSTATE
SHOW classbill.billing_timezone;
