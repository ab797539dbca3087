-- SPEC 1.2, 1.5, 8.1: data-quality oddities are counted, never dropped
-- silently and never errors.  Every row is in events().
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';

CREATE TABLE ev (p text, e text, t timestamptz);
-- One room with one of each oddity, 15 rows:
--   A joins 10:00, joins again 10:05 (duplicate join 1), leaves 10:30;
--   A leaves again 10:40 (orphan leave 1);
--   B heartbeats 09:50 before joining (stray heartbeat 1), joins 10:00,
--     heartbeats 10:10 (fine), and never leaves: the end at 11:00 closes
--     B's session (SPEC 1.5), 60 minutes;
--   C goes on stage at 09:55 before joining (stray stage 1), joins 10:00,
--     stage_up 10:01, stage_up again 10:02 (stray stage 2), stage_down
--     10:03, stage_down 10:04 (stray stage 3), leaves 10:20;
--   the end at 11:00 (NULL participant).
-- Presence: A 30 + B 60 + C 20 = 110 minutes; 3 participants; no
-- unterminated session.
INSERT INTO ev VALUES
  ('A', 'join', '2026-11-02 10:00+08'), ('A', 'join', '2026-11-02 10:05+08'),
  ('A', 'leave', '2026-11-02 10:30+08'), ('A', 'leave', '2026-11-02 10:40+08'),
  ('B', 'heartbeat', '2026-11-02 09:50+08'), ('B', 'join', '2026-11-02 10:00+08'),
  ('B', 'heartbeat', '2026-11-02 10:10+08'),
  ('C', 'stage_up', '2026-11-02 09:55+08'), ('C', 'join', '2026-11-02 10:00+08'),
  ('C', 'stage_up', '2026-11-02 10:01+08'), ('C', 'stage_up', '2026-11-02 10:02+08'),
  ('C', 'stage_down', '2026-11-02 10:03+08'), ('C', 'stage_down', '2026-11-02 10:04+08'),
  ('C', 'leave', '2026-11-02 10:20+08'),
  (NULL, 'end', '2026-11-02 11:00+08');

SELECT classbill.events(u) AS events,
       classbill.duplicate_joins(u) AS duplicate_joins,
       classbill.orphan_leaves(u) AS orphan_leaves,
       classbill.stray_heartbeats(u) AS stray_heartbeats,
       classbill.stray_stage_events(u) AS stray_stage_events,
       classbill.unterminated_sessions(u) AS unterminated_sessions,
       classbill.minutes(u) AS minutes, classbill.participants(u) AS participants
FROM (SELECT classbill.room_usage(p, e, t) AS u FROM ev) AS s;

-- SPEC 1.5: the same rows without the end: B's session closes at B's last
-- evidence, 10:10 (unterminated 1): A 30 + B 10 + C 20 = 60 minutes.
SELECT classbill.minutes(u) AS minutes,
       classbill.unterminated_sessions(u) AS unterminated_sessions
FROM (SELECT classbill.room_usage(p, e, t) AS u FROM ev WHERE e <> 'end') AS s;

-- SPEC 8.1: a participant with only strays never joined: counted as
-- oddities, not as a participant.  Ghost: heartbeat, stage_down, leave =
-- 3 rows, 0 participants, 0 minutes, no days.
SELECT classbill.events(u), classbill.participants(u), classbill.minutes(u),
       classbill.stray_heartbeats(u), classbill.stray_stage_events(u),
       classbill.orphan_leaves(u), (SELECT count(*) FROM classbill.daily(u)) AS days
FROM (SELECT classbill.room_usage(p, e, t) AS u
      FROM (VALUES ('ghost', 'heartbeat', '2026-11-02 10:00+08'::timestamptz),
                   ('ghost', 'stage_down', '2026-11-02 10:01+08'),
                   ('ghost', 'leave', '2026-11-02 10:02+08')) AS v(p, e, t)) AS s;

DROP TABLE ev;
