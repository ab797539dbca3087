-- Hostile input at the SQL level: absurd sizes and counts are handled or
-- refused with an error that says what, never a crash.  (Forged binary
-- values: test/t/hostile.sh; the aggregate state readers, which SQL
-- cannot reach: the fuzzers in test/fuzz/.)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'UTC';
\set SHOW_CONTEXT never

-- A participant id of 10 MB, joining and leaving: one participant, 30
-- minutes; the name is kept once.
SELECT classbill.participants(u), classbill.minutes(u), classbill.events(u)
FROM (SELECT classbill.room_usage(p, e, t) AS u
      FROM (VALUES (repeat('x', 10000000), 'join', timestamptz '2026-11-02 10:00'),
                   (repeat('x', 10000000), 'leave', timestamptz '2026-11-02 10:30')) AS v(p, e, t)) AS s;

-- 50,000 participants with 1 kB ids in one room, each present one
-- minute: 50,000 minutes, all present at once.
SELECT classbill.participants(u), classbill.minutes(u), classbill.peak(u)
FROM (SELECT classbill.room_usage(lpad(k::text, 1000, 'p'), x.e, x.t) AS u
      FROM generate_series(1, 50000) AS k,
           (VALUES ('join', timestamptz '2026-11-02 10:00'), ('leave', timestamptz '2026-11-02 10:01')) AS x(e, t)) AS s;

-- A room whose buffer grows past 8 kB with names of odd total length
-- (1,001 participants 'q1' .. 'q1001'): the fuzzers found its participant
-- records misaligned, which test/sanitize.sh's UBSan build stops on.
-- 1,001 participants, one minute each.
SELECT classbill.participants(u), classbill.minutes(u)
FROM (SELECT classbill.room_usage('q' || k, x.e, x.t) AS u
      FROM generate_series(1, 1001) AS k,
           (VALUES ('join', timestamptz '2026-11-02 10:00'), ('leave', timestamptz '2026-11-02 10:01')) AS x(e, t)) AS s;

-- The room limit (default 100,000,000 rows; test/t/hostile.sh streams one
-- more than that): at the limit a room is billed, one row more is an
-- error naming the limit.
SET classbill.max_room_events = 1000;
SELECT classbill.events(classbill.room_usage('p', CASE WHEN k % 2 = 1 THEN 'join' ELSE 'leave' END,
                                             timestamptz '2026-11-02' + k * interval '1 second'))
FROM generate_series(1, 1000) AS k;
SELECT classbill.events(classbill.room_usage('p', CASE WHEN k % 2 = 1 THEN 'join' ELSE 'leave' END,
                                             timestamptz '2026-11-02' + k * interval '1 second'))
FROM generate_series(1, 1001) AS k;
-- the account-wide peak holds every room's rows at once: same limit per
-- room
SELECT (classbill.account_peak('r1', 'p', CASE WHEN k % 2 = 1 THEN 'join' ELSE 'leave' END,
                               timestamptz '2026-11-02' + k * interval '1 second')).peak
FROM generate_series(1, 1001) AS k;
SET classbill.max_room_events = 0;
SET classbill.max_room_events = 2000000000;
RESET classbill.max_room_events;

-- Usage text of absurd size: 100,000 days (every day from 1970 on, 60 s
-- each) reads and adds up; 100 MB of blanks is refused for what it lacks.
SELECT classbill.minutes(u), classbill.seconds(u), (SELECT count(*) FROM classbill.daily(u)) AS days
FROM (SELECT ('tz=UTC rooms=1 participants=1 peak=1 peak_at=1970-01-01T00:00:00Z stage_peak=0 stage_peak_at= events=2 '
              || 'duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='
              || string_agg(to_char(date '1970-01-01' + k, 'YYYY-MM-DD') || ':60', ',' ORDER BY k))::classbill.usage AS u
      FROM generate_series(0, 99999) AS k) AS s;
SELECT length(('tz=UTC ' || repeat(' ', 100000000))::classbill.usage::text);
-- absurd numbers
SELECT 'tz=UTC rooms=99999999999999999999 participants=0 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;
SELECT 'tz=UTC rooms=1 participants=-1 peak=0 peak_at= stage_peak=0 stage_peak_at= events=0 duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='::classbill.usage;

-- Rolling up 20,000 values of 1,000 days each stays exact.
SELECT classbill.rooms(r), classbill.minutes(r), classbill.seconds(r)
FROM (SELECT classbill.rollup(u) AS r
      FROM (SELECT ('tz=UTC rooms=1 participants=1 peak=1 peak_at=2020-01-01T00:00:00Z stage_peak=0 stage_peak_at= events=2 '
                    || 'duplicate_joins=0 orphan_leaves=0 stray_heartbeats=0 stray_stage_events=0 unterminated_sessions=0 days='
                    || (SELECT string_agg(to_char(date '2020-01-01' + d, 'YYYY-MM-DD') || ':0.000001', ',' ORDER BY d)
                        FROM generate_series(0, 999) AS d))::classbill.usage AS u
            FROM generate_series(1, 20000)) AS v) AS s;
