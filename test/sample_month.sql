-- test/sample_month.sql: a month of a small school's online classes,
-- generated deterministically, for the demo (test/demo.sh).
--
-- Two schools teach one-to-one lessons and small classes every day of
-- November 2026 (Asia/Shanghai): Maple Academy (prepaid, with packs) and
-- Birch Tutors (postpaid).  The rows live in the service's own tables, as
-- they would in a real deployment:
--
--   school.rooms      (room, account, mode, width, height, title, starts_at)
--   school.events     (room, participant, event, at)
--   school.recordings (room, bytes, ready_at, retention, deleted_at)
--   school.exports    (room, processed, finished_at)
--
-- mode is '1v1', '1vn' or NULL (not declared).  The events include what
-- real logs contain: reconnects, heartbeats from mobile clients, stage
-- use in small classes (now and then a class puts everyone on stage, more
-- than a prepaid plan allows), a recording bot, classes closed by an "end"
-- with students still in, a few duplicated rows and stray events, and
-- late classes that run past midnight.

CREATE SCHEMA school;

CREATE TABLE school.rooms (
  room      bigint PRIMARY KEY,
  account   text NOT NULL,
  mode      text CHECK (mode IN ('1v1', '1vn')),
  width     integer NOT NULL,
  height    integer NOT NULL,
  title     text NOT NULL,
  starts_at timestamptz NOT NULL
);

CREATE TABLE school.events (
  room        bigint NOT NULL,
  participant text,
  event       text NOT NULL,
  at          timestamptz NOT NULL
);

-- Every class is recorded; the file is ready a few hours after the class
-- (a few are late, SPEC 4.1).  Maple keeps recordings 30 days, Birch 7;
-- now and then a teacher deletes one early.
CREATE TABLE school.recordings (
  room       bigint NOT NULL,
  bytes      bigint NOT NULL,
  ready_at   timestamptz NOT NULL,
  retention  interval,
  deleted_at timestamptz
);

-- Some recordings are exported to MP4 (SPEC 5.1).
CREATE TABLE school.exports (
  room        bigint NOT NULL,
  processed   interval NOT NULL,
  finished_at timestamptz NOT NULL
);

SELECT setseed(0.2026) \gset

DO $$
#variable_conflict use_variable
DECLARE
  day date;
  n int;
  room bigint := 1000;
  kind text;
  start timestamptz;
  len interval;
  stop timestamptz;
  students int;
  who text;
  j timestamptz;
  l timestamptz;
  w int; h int;
  subjects text[] := ARRAY['Maths', 'English', 'Physics', 'Piano', 'Chinese', 'Chemistry', 'Art', 'Coding'];
  s int;
  t timestamptz;
BEGIN
  FOR day IN SELECT d::date FROM generate_series('2026-11-01'::date, '2026-11-30', '1 day') AS d LOOP
    FOR n IN 1 .. 8 + floor(random() * 6)::int LOOP
      room := room + 1;
      kind := CASE WHEN random() < 0.55 THEN '1v1' ELSE '1vn' END;
      -- classes from 08:00 to 21:30 local; a few start at 23:15 and
      -- cross midnight
      start := (day::timestamp + interval '8 hours'
                + floor(random() * 28) * interval '30 minutes') AT TIME ZONE 'Asia/Shanghai';
      IF random() < 0.03 THEN
        start := (day::timestamp + interval '23 hours 15 minutes') AT TIME ZONE 'Asia/Shanghai';
      END IF;
      IF kind = '1v1' THEN
        len := (25 + floor(random() * 36)::int) * interval '1 minute';
        students := 1;
        IF random() < 0.5 THEN w := 640; h := 480; ELSE w := 1280; h := 720; END IF;
      ELSE
        len := (45 + floor(random() * 46)::int) * interval '1 minute';
        students := 3 + floor(random() * 10)::int;
        CASE floor(random() * 3)::int
          WHEN 0 THEN w := 320; h := 240;
          WHEN 1 THEN w := 640; h := 480;
          ELSE w := 1280; h := 720;
        END CASE;
      END IF;
      stop := start + len;
      INSERT INTO school.rooms VALUES (
        room, CASE WHEN random() < 0.7 THEN 'maple-academy' ELSE 'birch-tutors' END,
        CASE WHEN random() < 0.85 THEN kind END,     -- some rooms declare no mode
        w, h,
        subjects[1 + floor(random() * 8)::int] || CASE kind WHEN '1v1' THEN ' lesson' ELSE ' class' END,
        start);

      -- the teacher opens the room a few minutes early and ends it
      who := 'teacher-' || (1 + floor(random() * 9)::int);
      INSERT INTO school.events VALUES (room, who, 'join', start - floor(random() * 5) * interval '1 minute');
      IF kind = '1vn' THEN
        INSERT INTO school.events VALUES (room, who, 'stage_up', start);
      END IF;

      -- the recording bot is in every small class
      IF kind = '1vn' THEN
        INSERT INTO school.events VALUES (room, 'recorder', 'join', start),
                                         (room, 'recorder', 'leave', stop);
      END IF;

      FOR s IN 1 .. students LOOP
        who := 'student-' || (100 + floor(random() * 400)::int);
        j := start + floor(random() * 4) * interval '1 minute' + random() * interval '59 seconds';
        l := stop - floor(random() * 3) * interval '1 minute' + random() * interval '59 seconds';
        INSERT INTO school.events VALUES (room, who, 'join', j);
        -- a reconnect: the app drops and joins again
        IF random() < 0.2 THEN
          t := j + random() * (l - j);
          INSERT INTO school.events VALUES (room, who, 'leave', t),
                                           (room, who, 'join', t + random() * interval '3 minutes');
        END IF;
        -- mobile clients send heartbeats every five minutes
        IF random() < 0.3 THEN
          INSERT INTO school.events
          SELECT room, who, 'heartbeat', x FROM generate_series(j + interval '5 minutes', l, interval '5 minutes') AS x;
        END IF;
        -- small classes: some students take the stage for a while; in a
        -- few classes everyone goes up for the class photo
        IF kind = '1vn' AND room % 23 = 0 THEN
          INSERT INTO school.events VALUES (room, who, 'stage_up', start + interval '30 minutes'),
                                           (room, who, 'stage_down', start + interval '33 minutes');
        ELSIF kind = '1vn' AND random() < 0.4 THEN
          t := j + random() * (l - j) / 2;
          INSERT INTO school.events VALUES (room, who, 'stage_up', t),
                                           (room, who, 'stage_down', t + random() * interval '10 minutes');
        END IF;
        -- most students leave; the others are closed by the teacher's end
        IF random() < 0.85 THEN
          INSERT INTO school.events VALUES (room, who, 'leave', least(l, stop));
        END IF;
      END LOOP;

      INSERT INTO school.events VALUES (room, NULL, 'end', stop);

      -- the recording: about 12 MB a minute at 720p, less below
      INSERT INTO school.recordings
      SELECT room, (extract(epoch FROM len) / 60 * CASE h WHEN 720 THEN 12 WHEN 480 THEN 6 ELSE 3 END
                    * 1048576)::bigint,
             stop + CASE WHEN random() < 0.04 THEN interval '26 hours' + random() * interval '10 hours'
                         ELSE interval '20 minutes' + random() * interval '5 hours' END,
             CASE WHEN a.account = 'maple-academy' THEN interval '30 days' ELSE interval '7 days' END,
             CASE WHEN random() < 0.05 THEN stop + interval '2 days' END
      FROM school.rooms AS a WHERE a.room = room;
      IF random() < 0.15 THEN
        INSERT INTO school.exports
        SELECT room, len, r.ready_at + interval '1 hour' + random() * interval '2 days'
        FROM school.recordings AS r WHERE r.room = room;
      END IF;
    END LOOP;
  END LOOP;

  -- what real logs also hold: duplicated rows, a leave nobody matched, a
  -- heartbeat after the class
  INSERT INTO school.events SELECT * FROM school.events WHERE random() < 0.01;
  INSERT INTO school.events
  SELECT e.room, e.participant, 'leave', e.at + interval '2 hours'
  FROM school.events AS e WHERE e.event = 'join' AND random() < 0.005;
  INSERT INTO school.events
  SELECT e.room, e.participant, 'heartbeat', e.at + interval '1 hour'
  FROM school.events AS e WHERE e.event = 'leave' AND random() < 0.005;
END $$;

CREATE INDEX ON school.events (room);
CREATE INDEX ON school.events (at);
ANALYZE school.rooms, school.events, school.recordings, school.exports;
