-- classbill reference implementation (test oracle), plain SQL / PL/pgSQL.
--
-- Written independently of the C code, from SPEC section 1 (and 8), so that
-- a randomized differential test can compare the two. Slow on purpose:
-- every step is a direct transcription of the rules. Depends on no
-- classbill object; only creates the schema classbill_ref.
--
--   classbill_ref.room_days(participants text[], events text[],
--                           ats timestamptz[], tz text)
--       RETURNS TABLE(day date, usec bigint, participants int)
--   classbill_ref.room_summary(p_participants text[], p_events text[],
--                              p_ats timestamptz[])
--       RETURNS TABLE(participants int, peak int, stage_peak int,
--                     events bigint, duplicate_joins bigint,
--                     orphan_leaves bigint, stray_heartbeats bigint,
--                     stray_stage bigint, unterminated bigint,
--                     peak_at timestamptz, stage_peak_at timestamptz)
--
-- (room_summary's input parameters carry a p_ prefix because PostgreSQL
-- rejects an input parameter with the same name as an output column;
-- call it positionally.)
--
-- Usage, one room per group:
--   SELECT g.room, d.*
--   FROM (SELECT room, array_agg(participant) p, array_agg(event) e,
--                array_agg(at) t
--         FROM ev GROUP BY room) g,
--        classbill_ref.room_days(g.p, g.e, g.t, 'Europe/Berlin') d;
--   (same for classbill_ref.room_summary(g.p, g.e, g.t)). The three
--   arrays must be aggregated in the same row order (plain array_agg in
--   one query level does that); the order itself does not matter.
--
-- Inputs are assumed valid (no NULL event/time, no unknown kind, NULL
-- participant only on 'end' rows): no error handling here.

CREATE SCHEMA IF NOT EXISTS classbill_ref;

-- Exact microseconds since the Unix epoch. In PostgreSQL 14+ extract()
-- returns numeric, and for a timestamptz the epoch is computed exactly
-- (microsecond count / 10^6), so multiplying by 10^6 gives an integral
-- numeric; the bigint cast is therefore exact (no float anywhere).
CREATE OR REPLACE FUNCTION classbill_ref._us(t timestamptz)
RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

-- Processing order at one instant (SPEC 1.3).
CREATE OR REPLACE FUNCTION classbill_ref._kind_rank(kind text)
RETURNS int LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT CASE lower(kind)
            WHEN 'leave'      THEN 1
            WHEN 'stage_down' THEN 2
            WHEN 'end'        THEN 3
            WHEN 'heartbeat'  THEN 4
            WHEN 'join'       THEN 5
            WHEN 'stage_up'   THEN 6
          END $$;

-- The state machine. Returns the closed sessions and stage intervals (as
-- parallel arrays, half-open [open, close)) and the oddity counters.
--
-- SPEC 1.5 closes a session that nothing closes at the participant's last
-- evidence, which the replay only learns at the end. A stage_up after that
-- instant is then a stage_up while absent (stray), so the replay is run
-- twice (see _replay): the first run finds the unterminated sessions and
-- their last evidence; the second run is given them as synthetic 'close'
-- rows, ordered right after the last join/heartbeat at that instant and
-- before any stage_up there, and is the answer.
-- Intervals with close <= open are returned as they are; all consumers
-- below only ever count instants t with open <= t < close, so they add
-- nothing (zero-length sessions, and a stage interval whose unterminated
-- session closed at last evidence before the stage_up).
CREATE OR REPLACE FUNCTION classbill_ref._process(
    p_participants text[], p_events text[], p_ats timestamptz[],
    p_close_who text[], p_close_at timestamptz[],
    OUT unterm_who text[], OUT unterm_at timestamptz[],
    OUT sess_who text[], OUT sess_open timestamptz[], OUT sess_close timestamptz[],
    OUT stage_open timestamptz[], OUT stage_close timestamptz[],
    OUT n_events bigint, OUT n_dup_joins bigint, OUT n_orphan_leaves bigint,
    OUT n_stray_heartbeats bigint, OUT n_stray_stage bigint,
    OUT n_unterminated bigint)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    r        record;
    -- per-participant state, parallel arrays indexed by position in names
    names    text[]        := '{}';
    present  boolean[]     := '{}';
    opened   timestamptz[] := '{}';   -- open time of the current session
    onstage  boolean[]     := '{}';
    staged   timestamptz[] := '{}';   -- stage_up time of the current stage interval
    lastev   timestamptz[] := '{}';   -- last join-or-heartbeat time
    i        int;
BEGIN
    unterm_who := '{}'; unterm_at := '{}';
    sess_who := '{}'; sess_open := '{}'; sess_close := '{}';
    stage_open := '{}'; stage_close := '{}';
    n_events := coalesce(cardinality(p_events), 0);
    n_dup_joins := 0; n_orphan_leaves := 0; n_stray_heartbeats := 0;
    n_stray_stage := 0; n_unterminated := 0;

    FOR r IN
        SELECT x.p, x.e, x.t
        FROM (SELECT u.p AS p, lower(u.e) AS e, u.t AS t,
                     classbill_ref._kind_rank(u.e)::numeric AS rk
              FROM unnest(p_participants, p_events, p_ats) AS u(p, e, t)
              UNION ALL
              SELECT c.p, 'close', c.t, 5.5
              FROM unnest(p_close_who, p_close_at) AS c(p, t)) AS x
        ORDER BY x.t, x.rk
    LOOP
        IF r.e = 'end' THEN
            -- participant ignored: close everything, everyone off stage
            FOR i IN 1 .. cardinality(names) LOOP
                IF onstage[i] THEN
                    stage_open  := stage_open  || staged[i];
                    stage_close := stage_close || r.t;
                    onstage[i] := false;
                END IF;
                IF present[i] THEN
                    sess_who   := sess_who   || names[i];
                    sess_open  := sess_open  || opened[i];
                    sess_close := sess_close || r.t;
                    present[i] := false;
                END IF;
            END LOOP;
            CONTINUE;
        END IF;

        i := array_position(names, r.p);
        IF i IS NULL THEN
            names   := names   || r.p;
            present := present || false;
            opened  := opened  || NULL::timestamptz;
            onstage := onstage || false;
            staged  := staged  || NULL::timestamptz;
            lastev  := lastev  || NULL::timestamptz;
            i := cardinality(names);
        END IF;

        IF r.e = 'join' THEN
            lastev[i] := r.t;                  -- rows come in time order
            IF present[i] THEN
                n_dup_joins := n_dup_joins + 1;
            ELSE
                present[i] := true;
                opened[i]  := r.t;
            END IF;

        ELSIF r.e = 'close' THEN
            -- synthetic: the last evidence of an unterminated session
            IF onstage[i] THEN
                stage_open  := stage_open  || staged[i];
                stage_close := stage_close || r.t;
                onstage[i] := false;
            END IF;
            sess_who   := sess_who   || names[i];
            sess_open  := sess_open  || opened[i];
            sess_close := sess_close || r.t;
            present[i] := false;
            n_unterminated := n_unterminated + 1;

        ELSIF r.e = 'leave' THEN
            IF present[i] THEN
                IF onstage[i] THEN
                    stage_open  := stage_open  || staged[i];
                    stage_close := stage_close || r.t;
                    onstage[i] := false;
                END IF;
                sess_who   := sess_who   || names[i];
                sess_open  := sess_open  || opened[i];
                sess_close := sess_close || r.t;
                present[i] := false;
            ELSE
                n_orphan_leaves := n_orphan_leaves + 1;
            END IF;

        ELSIF r.e = 'heartbeat' THEN
            -- evidence either way; a stray one can never be later than the
            -- join that opens a later session, so recording it is harmless
            lastev[i] := r.t;
            IF NOT present[i] THEN
                n_stray_heartbeats := n_stray_heartbeats + 1;
            END IF;

        ELSIF r.e = 'stage_up' THEN
            IF present[i] AND NOT onstage[i] THEN
                onstage[i] := true;
                staged[i]  := r.t;
            ELSE
                n_stray_stage := n_stray_stage + 1;
            END IF;

        ELSIF r.e = 'stage_down' THEN
            IF onstage[i] THEN
                stage_open  := stage_open  || staged[i];
                stage_close := stage_close || r.t;
                onstage[i] := false;
            ELSE
                n_stray_stage := n_stray_stage + 1;
            END IF;

        ELSE
            RAISE EXCEPTION 'classbill_ref: unknown event kind %', r.e;
        END IF;
    END LOOP;

    -- Sessions still open: close at the participant's last evidence.
    FOR i IN 1 .. cardinality(names) LOOP
        IF present[i] THEN
            IF onstage[i] THEN
                stage_open  := stage_open  || staged[i];
                stage_close := stage_close || lastev[i];
                onstage[i] := false;
            END IF;
            sess_who   := sess_who   || names[i];
            sess_open  := sess_open  || opened[i];
            sess_close := sess_close || lastev[i];
            unterm_who := unterm_who || names[i];
            unterm_at  := unterm_at  || lastev[i];
            present[i] := false;
            n_unterminated := n_unterminated + 1;
        END IF;
    END LOOP;
END $$;

-- Peak of a set of half-open intervals [a, b): max over instants t of the
-- number of intervals with a <= t < b. The maximum is attained at some
-- interval start, so it suffices to test every start. Intervals with
-- b <= a cover no instant.
CREATE OR REPLACE FUNCTION classbill_ref._peak(opens timestamptz[], closes timestamptz[])
RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(max((SELECT count(*)
                         FROM unnest($1, $2) AS x(a, b)
                         WHERE x.a <= s.a AND s.a < x.b)), 0)::int
    FROM unnest($1, $2) AS s(a, b)
$$;

-- The first instant at which that peak is reached: the earliest interval
-- start covered by as many intervals as the peak. NULL for a peak of 0.
CREATE OR REPLACE FUNCTION classbill_ref._peak_at(opens timestamptz[], closes timestamptz[])
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT min(s.a)
    FROM unnest($1, $2) AS s(a, b)
    WHERE s.a < s.b
      AND (SELECT count(*) FROM unnest($1, $2) AS x(a, b)
           WHERE x.a <= s.a AND s.a < x.b) = classbill_ref._peak($1, $2)
$$;

CREATE OR REPLACE FUNCTION classbill_ref.room_days(
    participants text[], events text[], ats timestamptz[], tz text)
RETURNS TABLE(day date, usec bigint, participants int)
LANGUAGE sql STABLE AS $$
    WITH pr AS (
        SELECT second.*
        FROM classbill_ref._process($1, $2, $3, '{}', '{}') AS first,
             classbill_ref._process($1, $2, $3, first.unterm_who,
                                    first.unterm_at) AS second
    ), sess AS (
        SELECT s.a, s.b, s.w
        FROM pr, unnest(pr.sess_open, pr.sess_close, pr.sess_who) AS s(a, b, w)
        WHERE s.b > s.a
    ), cand AS (
        -- every calendar day that could touch the session, with a day of
        -- margin on each side; days that don't overlap contribute 0
        SELECT sess.a, sess.b, sess.w,
               ((sess.a AT TIME ZONE $4)::date - 1 + g) AS d
        FROM sess,
             generate_series(0, ((sess.b AT TIME ZONE $4)::date + 1)
                                - ((sess.a AT TIME ZONE $4)::date - 1)) AS g
    ), piece AS (
        SELECT cand.d, cand.w,
               classbill_ref._us(least(cand.b,
                                       ((cand.d + 1)::timestamp AT TIME ZONE $4)))
             - classbill_ref._us(greatest(cand.a,
                                          (cand.d::timestamp AT TIME ZONE $4))) AS us
        FROM cand
    )
    -- SPEC 3.1: who was present that day, for however short a time
    SELECT piece.d, sum(piece.us)::bigint, count(DISTINCT piece.w)::int
    FROM piece
    WHERE piece.us > 0
    GROUP BY piece.d
    HAVING sum(piece.us) > 0
    ORDER BY piece.d
$$;

CREATE OR REPLACE FUNCTION classbill_ref.room_summary(
    p_participants text[], p_events text[], p_ats timestamptz[])
RETURNS TABLE(participants int, peak int, stage_peak int, events bigint,
              duplicate_joins bigint, orphan_leaves bigint,
              stray_heartbeats bigint, stray_stage bigint, unterminated bigint,
              peak_at timestamptz, stage_peak_at timestamptz)
LANGUAGE sql IMMUTABLE AS $$
    SELECT (SELECT count(DISTINCT w) FROM unnest(pr.sess_who) AS w)::int,
           classbill_ref._peak(pr.sess_open, pr.sess_close),
           classbill_ref._peak(pr.stage_open, pr.stage_close),
           pr.n_events, pr.n_dup_joins, pr.n_orphan_leaves,
           pr.n_stray_heartbeats, pr.n_stray_stage, pr.n_unterminated,
           classbill_ref._peak_at(pr.sess_open, pr.sess_close),
           classbill_ref._peak_at(pr.stage_open, pr.stage_close)
    FROM classbill_ref._process($1, $2, $3, '{}', '{}') AS first,
         classbill_ref._process($1, $2, $3, first.unterm_who,
                                first.unterm_at) AS pr
$$;

-- ---------------------------------------------------------------------
-- Self-check (not executed; copy into psql after loading this file).
-- Expected output lines are marked '-- >'; all were verified on PG 15.
-- ---------------------------------------------------------------------
-- CREATE TEMP TABLE ck(c int, room text, participant text, event text, at timestamptz);
-- INSERT INTO ck VALUES
--  -- 1: A,B,C join 10:00; A leaves 10:10, B 10:20, C 10:10 (UTC)
--  (1,'r','A','join','2026-01-05 10:00+00'),(1,'r','B','join','2026-01-05 10:00+00'),
--  (1,'r','C','join','2026-01-05 10:00+00'),(1,'r','A','leave','2026-01-05 10:10+00'),
--  (1,'r','B','leave','2026-01-05 10:20+00'),(1,'r','C','leave','2026-01-05 10:10+00'),
--  -- 2: join 0, leave 10, join 10, leave 20 (given shuffled, mixed case)
--  (2,'r','A','LEAVE','2026-01-05 10:20+00'),(2,'r','A','join','2026-01-05 10:10+00'),
--  (2,'r','A','leave','2026-01-05 10:10+00'),(2,'r','A','Join','2026-01-05 10:00+00'),
--  -- 3: join 23:50, leave 00:20 next day (UTC)
--  (3,'r','A','join','2026-01-05 23:50+00'),(3,'r','A','leave','2026-01-06 00:20+00'),
--  -- 4: Berlin 2026-03-29 local midnight to 2026-03-30 local midnight
--  (4,'r','A','join','2026-03-29 00:00+01'),(4,'r','A','leave','2026-03-30 00:00+02'),
--  -- 5: New York 2026-11-01 local midnight to 2026-11-02 local midnight
--  (5,'r','A','join','2026-11-01 00:00-04'),(5,'r','A','leave','2026-11-02 00:00-05'),
--  -- 6: join 0, heartbeat 5 min, no leave
--  (6,'r','A','join','2026-01-05 10:00+00'),(6,'r','A','heartbeat','2026-01-05 10:05+00'),
--  -- 7: join 0, join 5 (dup), end 30 (NULL participant), leave 40 (orphan)
--  (7,'r','A','join','2026-01-05 10:00+00'),(7,'r','A','join','2026-01-05 10:05+00'),
--  (7,'r',NULL,'end','2026-01-05 10:30+00'),(7,'r','A','leave','2026-01-05 10:40+00'),
--  -- 8: A join 09:00, A leave 10:00, B join 10:00, B leave 11:00
--  (8,'r','A','join','2026-01-05 09:00+00'),(8,'r','A','leave','2026-01-05 10:00+00'),
--  (8,'r','B','join','2026-01-05 10:00+00'),(8,'r','B','leave','2026-01-05 11:00+00');
--
-- SELECT c, d.day, d.usec, d.usec / 1000000.0 AS sec
-- FROM (SELECT c, array_agg(participant) p, array_agg(event) e, array_agg(at) t
--       FROM ck GROUP BY c) g,
--      classbill_ref.room_days(g.p, g.e, g.t,
--          CASE g.c WHEN 4 THEN 'Europe/Berlin' WHEN 5 THEN 'America/New_York'
--                   ELSE 'UTC' END) d
-- ORDER BY c, d.day;
-- > 1 | 2026-01-05 | 2400000000  (40 min)
-- > 2 | 2026-01-05 | 1200000000  (20 min)
-- > 3 | 2026-01-05 |  600000000  (600 s)
-- > 3 | 2026-01-06 | 1200000000  (1200 s)
-- > 4 | 2026-03-29 |  82800000000  (23 h)
-- > 5 | 2026-11-01 |  90000000000  (25 h)
-- > 6 | 2026-01-05 |  300000000  (5 min)
-- > 7 | 2026-01-05 | 1800000000  (30 min)
-- > 8 | 2026-01-05 | 7200000000  (2 h)
--
-- SELECT c, s.*
-- FROM (SELECT c, array_agg(participant) p, array_agg(event) e, array_agg(at) t
--       FROM ck GROUP BY c) g,
--      classbill_ref.room_summary(g.p, g.e, g.t) s
-- ORDER BY c;
-- > c | participants | peak | stage_peak | events | dup | orphan | stray_hb | stray_stage | unterm
-- > 1 |            3 |    3 |          0 |      6 |   0 |      0 |        0 |           0 |      0
-- > 2 |            1 |    1 |          0 |      4 |   0 |      0 |        0 |           0 |      0
-- > 3 |            1 |    1 |          0 |      2 |   0 |      0 |        0 |           0 |      0
-- > 4 |            1 |    1 |          0 |      2 |   0 |      0 |        0 |           0 |      0
-- > 5 |            1 |    1 |          0 |      2 |   0 |      0 |        0 |           0 |      0
-- > 6 |            1 |    1 |          0 |      2 |   0 |      0 |        0 |           0 |      1
-- > 7 |            1 |    1 |          0 |      4 |   1 |      1 |        0 |           0 |      0
-- > 8 |            2 |    1 |          0 |      4 |   0 |      0 |        0 |           0 |      0
--
-- -- More cases (stage, strays, unterminated-on-stage, microseconds, a
-- -- multi-day span across the Berlin DST change); run after the above:
-- TRUNCATE ck;
-- INSERT INTO ck VALUES
--  -- 9: A,B join 10:00; A stage_up 10:00, B stage_up 10:05; A stage_down and
--  --    stage_up again at 10:10 (down is processed first: no stray);
--  --    B leave 10:20; end 10:30; strays: B stage_down 10:25, C stage_up
--  --    10:00 (never joined), A stage_up 10:15 (already on); C heartbeat stray
--  (9,'r','A','join','2026-01-05 10:00+00'),(9,'r','B','join','2026-01-05 10:00+00'),
--  (9,'r','A','stage_up','2026-01-05 10:00+00'),(9,'r','B','Stage_Up','2026-01-05 10:05+00'),
--  (9,'r','A','stage_down','2026-01-05 10:10+00'),(9,'r','B','leave','2026-01-05 10:20+00'),
--  (9,'r','A','stage_up','2026-01-05 10:10+00'),(9,'r',NULL,'end','2026-01-05 10:30+00'),
--  (9,'r','B','stage_down','2026-01-05 10:25+00'),(9,'r','C','stage_up','2026-01-05 10:00+00'),
--  (9,'r','A','stage_up','2026-01-05 10:15+00'),(9,'r','C','heartbeat','2026-01-05 10:01+00'),
--  -- 10: unterminated on stage. A: join 0, stage_up 1, heartbeat 5 -> session
--  --     [0,5), stage [1,5). B: join 0, stage_up 2 -> session [0,0)
--  --     closed at the join, so the stage_up at 2 is stray.
--  (10,'r','A','join','2026-01-05 10:00+00'),(10,'r','A','stage_up','2026-01-05 10:01+00'),
--  (10,'r','A','heartbeat','2026-01-05 10:05+00'),
--  (10,'r','B','join','2026-01-05 10:00+00'),(10,'r','B','stage_up','2026-01-05 10:02+00'),
--  -- 11: 2 microseconds across UTC midnight
--  (11,'r','A','join','2026-01-05 23:59:59.999999+00'),(11,'r','A','leave','2026-01-06 00:00:00.000001+00'),
--  -- 12: Europe/Berlin, 3.5 days across the spring-forward day, plus a dup join
--  (12,'r','A','join','2026-03-28 12:00:00.123456+01'),(12,'r','A','leave','2026-03-31 01:00:00.654321+02'),
--  (12,'r','A','join','2026-03-28 12:00:00.123456+01');
--
-- SELECT c, d.day, d.usec
-- FROM (SELECT c, array_agg(participant) p, array_agg(event) e, array_agg(at) t
--       FROM ck GROUP BY c) g,
--      classbill_ref.room_days(g.p, g.e, g.t,
--          CASE g.c WHEN 12 THEN 'Europe/Berlin' ELSE 'UTC' END) d
-- ORDER BY c, d.day;
-- >  9 | 2026-01-05 |  3000000000   (A 30 min + B 20 min)
-- > 10 | 2026-01-05 |   300000000
-- > 11 | 2026-01-05 |           1
-- > 11 | 2026-01-06 |           1
-- > 12 | 2026-03-28 | 43199876544
-- > 12 | 2026-03-29 | 82800000000
-- > 12 | 2026-03-30 | 86400000000
-- > 12 | 2026-03-31 |  3600654321   (sum = 216000.530865 s = leave - join)
--
-- SELECT c, s.*
-- FROM (SELECT c, array_agg(participant) p, array_agg(event) e, array_agg(at) t
--       FROM ck GROUP BY c) g,
--      classbill_ref.room_summary(g.p, g.e, g.t) s
-- ORDER BY c;
-- >  c | participants | peak | stage_peak | events | dup | orphan | stray_hb | stray_stage | unterm
-- >  9 |            2 |    2 |          2 |     12 |   0 |      0 |        1 |           3 |      0
-- > 10 |            2 |    1 |          1 |      5 |   0 |      0 |        0 |           1 |      2
-- > 11 |            1 |    1 |          0 |      2 |   0 |      0 |        0 |           0 |      0
-- > 12 |            1 |    1 |          0 |      3 |   1 |      0 |        0 |           0 |      0
