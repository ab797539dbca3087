-- SPEC 1.8 (and 1.2 stage events): the largest number present at one
-- instant, presence half-open [start, end).
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';

CREATE TABLE ev (c int, p text, e text, t timestamptz);

-- SPEC 1.8: a hand-over at one instant never counts two people.  A
-- 09:00-10:00, B 10:00-11:00: peak 1.
INSERT INTO ev VALUES
  (1, 'A', 'join', '2026-11-02 09:00+08'), (1, 'A', 'leave', '2026-11-02 10:00+08'),
  (1, 'B', 'join', '2026-11-02 10:00+08'), (1, 'B', 'leave', '2026-11-02 11:00+08');
-- SPEC 1.8: overlap by one microsecond counts.  A 09:00-10:00:00.000001,
-- B from 10:00: peak 2.
INSERT INTO ev VALUES
  (2, 'A', 'join', '2026-11-02 09:00+08'), (2, 'A', 'leave', '2026-11-02 10:00:00.000001+08'),
  (2, 'B', 'join', '2026-11-02 10:00+08'), (2, 'B', 'leave', '2026-11-02 11:00+08');
-- SPEC 1.8: a zero-length presence never counts.  A 09:00-10:00; B joins
-- and leaves at 09:30 (the leave goes first, so B's join opens a session
-- closed at its own instant by SPEC 1.5): peak 1.
INSERT INTO ev VALUES
  (3, 'A', 'join', '2026-11-02 09:00+08'), (3, 'A', 'leave', '2026-11-02 10:00+08'),
  (3, 'B', 'join', '2026-11-02 09:30+08'), (3, 'B', 'leave', '2026-11-02 09:30+08');
-- SPEC 1.8: five people, at most three at once.  A 09:00-12:00, B
-- 09:00-10:00, C 09:30-11:00, D 10:00-10:30 (B's leave and D's join at
-- 10:00: A, C, D = 3), E 11:00-12:00 (A, E = 2).  Peak 3.
INSERT INTO ev VALUES
  (4, 'A', 'join', '2026-11-02 09:00+08'), (4, 'A', 'leave', '2026-11-02 12:00+08'),
  (4, 'B', 'join', '2026-11-02 09:00+08'), (4, 'B', 'leave', '2026-11-02 10:00+08'),
  (4, 'C', 'join', '2026-11-02 09:30+08'), (4, 'C', 'leave', '2026-11-02 11:00+08'),
  (4, 'D', 'join', '2026-11-02 10:00+08'), (4, 'D', 'leave', '2026-11-02 10:30+08'),
  (4, 'E', 'join', '2026-11-02 11:00+08'), (4, 'E', 'leave', '2026-11-02 12:00+08');
-- SPEC 1.8 with 1.5: an end closes everyone; those who join at the end's
-- instant start afresh.  A, B 09:00 - end 10:00; C joins 10:00: peak 2.
INSERT INTO ev VALUES
  (5, 'A', 'join', '2026-11-02 09:00+08'), (5, 'B', 'join', '2026-11-02 09:00+08'),
  (5, NULL, 'end', '2026-11-02 10:00+08'), (5, 'C', 'join', '2026-11-02 10:00+08'),
  (5, 'C', 'leave', '2026-11-02 10:30+08');

-- SPEC 1.2 stage: up and down, measured like 1.8.
-- A, B, C join 09:00.  A stage_up 09:00 (same instant as the join, after
-- it: counts), B stage_up 09:10, A stage_down 09:20 and C stage_up 09:20
-- (down before up: A, B then B, C = 2), B leaves 09:30 (leaving takes B
-- off stage), C stage_down 09:40.  Stage peak 2, peak 3.
INSERT INTO ev VALUES
  (6, 'A', 'join', '2026-11-02 09:00+08'), (6, 'B', 'join', '2026-11-02 09:00+08'),
  (6, 'C', 'join', '2026-11-02 09:00+08'), (6, 'A', 'stage_up', '2026-11-02 09:00+08'),
  (6, 'B', 'stage_up', '2026-11-02 09:10+08'), (6, 'A', 'stage_down', '2026-11-02 09:20+08'),
  (6, 'C', 'stage_up', '2026-11-02 09:20+08'), (6, 'B', 'leave', '2026-11-02 09:30+08'),
  (6, 'C', 'stage_down', '2026-11-02 09:40+08'), (6, 'A', 'leave', '2026-11-02 10:00+08'),
  (6, 'C', 'leave', '2026-11-02 10:00+08');
-- SPEC 1.2: an end takes everyone off stage.  A, B join and go on stage
-- at 09:00, end at 09:30, A joins again 09:30 and goes on stage 09:45:
-- stage peak 2 (09:00-09:30), 1 after.  A's stage_down after the end at
-- 09:35 is stray.
INSERT INTO ev VALUES
  (7, 'A', 'join', '2026-11-02 09:00+08'), (7, 'B', 'join', '2026-11-02 09:00+08'),
  (7, 'A', 'stage_up', '2026-11-02 09:00+08'), (7, 'B', 'stage_up', '2026-11-02 09:00+08'),
  (7, NULL, 'end', '2026-11-02 09:30+08'), (7, 'A', 'join', '2026-11-02 09:30+08'),
  (7, 'A', 'stage_down', '2026-11-02 09:35+08'), (7, 'A', 'stage_up', '2026-11-02 09:45+08'),
  (7, 'A', 'leave', '2026-11-02 10:00+08');
-- SPEC 1.8 for the stage: a hand-over of the stage at one instant counts
-- one.  A on stage 09:00-09:30, B on stage from 09:30: stage peak 1.
INSERT INTO ev VALUES
  (8, 'A', 'join', '2026-11-02 09:00+08'), (8, 'B', 'join', '2026-11-02 09:00+08'),
  (8, 'A', 'stage_up', '2026-11-02 09:00+08'), (8, 'A', 'stage_down', '2026-11-02 09:30+08'),
  (8, 'B', 'stage_up', '2026-11-02 09:30+08'), (8, 'A', 'leave', '2026-11-02 10:00+08'),
  (8, 'B', 'leave', '2026-11-02 10:00+08');
-- SPEC 1.5 with 1.2: a session closed at last evidence ends the stage
-- too.  A joins 09:00, stage_up 09:01, heartbeat 09:05, nothing more:
-- presence 09:00-09:05, stage 09:01-09:05.  B joins 09:00 only and goes
-- on stage 09:02: B's session closed at 09:00, so that stage_up is
-- stray.  Peak 1 (B's presence has no length), stage peak 1.
INSERT INTO ev VALUES
  (9, 'A', 'join', '2026-11-02 09:00+08'), (9, 'A', 'stage_up', '2026-11-02 09:01+08'),
  (9, 'A', 'heartbeat', '2026-11-02 09:05+08'),
  (9, 'B', 'join', '2026-11-02 09:00+08'), (9, 'B', 'stage_up', '2026-11-02 09:02+08');

SELECT c, classbill.peak(u) AS peak, classbill.stage_peak(u) AS stage_peak,
       classbill.participants(u) AS participants, classbill.minutes(u) AS minutes,
       classbill.stray_stage_events(u) AS stray_stage
FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev GROUP BY c) AS s
ORDER BY c;

-- When each peak was first reached (+08 local times): 1: 09:00; 2: 10:00
-- (A until 10:00:00.000001, B from 10:00); 3: 09:00; 4: A, B 09:00 (2),
-- C 09:30 (3); 5: 09:00; 6: 09:00 (3 present), stage: A 09:00, B 09:10 (2);
-- 7: 09:00 and stage 09:00; 8: 09:00 and stage 09:00; 9: 09:00 and stage
-- 09:01.
SET timezone = 'Asia/Shanghai';
SELECT c, classbill.peak(u) AS peak, classbill.peak_at(u) AS peak_at,
       classbill.stage_peak(u) AS stage_peak, classbill.stage_peak_at(u) AS stage_peak_at
FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev GROUP BY c) AS s
ORDER BY c;

-- A rollup keeps the instant of its largest peak, the earlier of equal
-- ones: cases 4 (3 at 09:30) and 6 (3 at 09:00) give 3 at 09:00; the
-- stage peak 2 of case 6 (09:10) and of case 7 (09:00) gives 09:00.
SELECT classbill.peak(r), classbill.peak_at(r), classbill.stage_peak(r), classbill.stage_peak_at(r)
FROM (SELECT classbill.rollup(u) AS r
      FROM (SELECT c, classbill.room_usage(p, e, t) AS u FROM ev GROUP BY c) AS s
      WHERE c IN (4, 6, 7)) AS x;
SET timezone = 'UTC';

DROP TABLE ev;
