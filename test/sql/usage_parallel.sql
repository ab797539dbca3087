-- SPEC 1.9: the same answer serial, in parallel workers, per partition.
-- The data are generated arithmetically (no randomness), 2,000 rooms of
-- up to 8 participants with ties, duplicates, ends and strays, stored in
-- scrambled order.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';

CREATE TABLE ev (room int, p text, e text, t timestamptz);
INSERT INTO ev
SELECT room, p, e, t FROM (
  SELECT r AS room, 'p' || k AS p, x.e,
         '2026-11-02 20:00+08'::timestamptz
           + ((r * 37 + k * 101) % 300) * interval '1 minute'
           + x.off * interval '1 minute'
           + ((r * k) % 7) * interval '1 microsecond' AS t
  FROM generate_series(1, 2000) AS r,
       generate_series(1, 1 + r % 8) AS k,
       LATERAL (VALUES ('join', 0), ('heartbeat', (r + k) % 50),
                       ('leave', CASE WHEN (r + k) % 9 = 0 THEN NULL ELSE 10 + (r * k) % 400 END),
                       ('join', 20 + (r + 3 * k) % 400), ('stage_up', 1 + k % 5),
                       ('leave', 30 + (r + 5 * k) % 500)) AS x(e, off)
  WHERE x.off IS NOT NULL
  UNION ALL
  SELECT r, NULL, 'end', '2026-11-02 20:00+08'::timestamptz + (r % 600) * interval '1 minute'
  FROM generate_series(1, 2000, 3) AS r) AS s
ORDER BY md5(room::text || coalesce(p, '') || e || t::text);
ANALYZE ev;

-- serial
SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial AS
  SELECT room, classbill.room_usage(p, e, t)::text AS u FROM ev GROUP BY room;
SELECT count(*) AS rooms, sum(classbill.minutes(u::classbill.usage)) AS minutes,
       sum(classbill.events(u::classbill.usage)) AS events, (SELECT count(*) FROM ev) AS rows
FROM serial;

-- parallel workers: partial aggregation in workers, states serialized
-- and combined in the leader
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_hashagg = on;
EXPLAIN (COSTS OFF)
  SELECT room, classbill.room_usage(p, e, t) FROM ev GROUP BY room;
CREATE TABLE parallel AS
  SELECT room, classbill.room_usage(p, e, t)::text AS u FROM ev GROUP BY room;
SELECT count(*) AS differing_rooms
FROM serial FULL JOIN parallel USING (room)
WHERE serial.u IS DISTINCT FROM parallel.u;

-- the same through sort-based grouping
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
  SELECT room, classbill.room_usage(p, e, t) FROM ev GROUP BY room;
CREATE TABLE parallel_sorted AS
  SELECT room, classbill.room_usage(p, e, t)::text AS u FROM ev GROUP BY room;
SELECT count(*) AS differing_rooms
FROM serial FULL JOIN parallel_sorted USING (room)
WHERE serial.u IS DISTINCT FROM parallel_sorted.u;
RESET enable_hashagg;

-- one group over the whole table: every worker holds part of every room
-- that is not grouped; a rollup over parallel room values
EXPLAIN (COSTS OFF)
  SELECT classbill.rollup(u::classbill.usage) FROM serial;
SELECT (SELECT classbill.rollup(u::classbill.usage) FROM serial)::text =
       (SELECT classbill.rollup(u::classbill.usage) FROM parallel)::text AS same_rollup;
RESET parallel_leader_participation;

-- partitions by time: every room spans partitions, so each partition
-- aggregates partially and the states are combined
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
CREATE TABLE pev (room int, p text, e text, t timestamptz) PARTITION BY RANGE (t);
CREATE TABLE pev_a PARTITION OF pev FOR VALUES FROM (MINVALUE) TO ('2026-11-02 22:00+08');
CREATE TABLE pev_b PARTITION OF pev FOR VALUES FROM ('2026-11-02 22:00+08') TO ('2026-11-03 00:00+08');
CREATE TABLE pev_c PARTITION OF pev FOR VALUES FROM ('2026-11-03 00:00+08') TO (MAXVALUE);
INSERT INTO pev SELECT * FROM ev;
ANALYZE pev;
EXPLAIN (COSTS OFF)
  SELECT room, classbill.room_usage(p, e, t) FROM pev GROUP BY room;
SELECT count(*) AS differing_rooms
FROM serial FULL JOIN (SELECT room, classbill.room_usage(p, e, t)::text AS u
                       FROM pev GROUP BY room) AS part USING (room)
WHERE serial.u IS DISTINCT FROM part.u;

-- partitions by room: whole groups per partition
CREATE TABLE hev (room int, p text, e text, t timestamptz) PARTITION BY HASH (room);
CREATE TABLE hev_0 PARTITION OF hev FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE hev_1 PARTITION OF hev FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE hev_2 PARTITION OF hev FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO hev SELECT * FROM ev;
ANALYZE hev;
EXPLAIN (COSTS OFF)
  SELECT room, classbill.room_usage(p, e, t) FROM hev GROUP BY room;
SELECT count(*) AS differing_rooms
FROM serial FULL JOIN (SELECT room, classbill.room_usage(p, e, t)::text AS u
                       FROM hev GROUP BY room) AS part USING (room)
WHERE serial.u IS DISTINCT FROM part.u;

-- partitions and parallel workers together
SET max_parallel_workers_per_gather = 2;
SELECT count(*) AS differing_rooms
FROM serial FULL JOIN (SELECT room, classbill.room_usage(p, e, t)::text AS u
                       FROM pev GROUP BY room) AS part USING (room)
WHERE serial.u IS DISTINCT FROM part.u;

-- SPEC 7.2 with 1.9: a close reads the digests of its window through
-- classbill_internal.rows_of (a RETURN QUERY, which may have workers,
-- where INSERT ... SELECT may not); partial digests, of workers or of
-- partitions, combine to exactly the serial ones.  Two billing days here
-- (the rows run past midnight in Asia/Shanghai).
\set dq 'SELECT d.day, d.digest FROM (SELECT classbill_internal.day_digests(x.room, x.p, x.e, x.t) AS ds FROM public.ev AS x WHERE x.t >= ''2026-11-01 16:00+00'' AND x.t < ''2026-11-04 16:00+00'') AS q, unnest(q.ds) AS d'
SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial_digests AS
  SELECT * FROM classbill_internal.rows_of(:'dq', NULL::classbill_internal.day_digest);
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) :dq;
SELECT count(*) AS days, count(*) FILTER (WHERE s.digest IS DISTINCT FROM p.digest) AS differing_days
FROM classbill_internal.rows_of(:'dq', NULL::classbill_internal.day_digest) AS p
FULL JOIN serial_digests AS s USING (day);
-- per partition, combined in one process: every partition holds rows of
-- both days, so each day's digest is a sum of three partial ones
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
\set hq 'SELECT d.day, d.digest FROM (SELECT classbill_internal.day_digests(x.room, x.p, x.e, x.t) AS ds FROM public.hev AS x WHERE x.t >= ''2026-11-01 16:00+00'' AND x.t < ''2026-11-04 16:00+00'') AS q, unnest(q.ds) AS d'
EXPLAIN (COSTS OFF) :hq;
SELECT count(*) AS days, count(*) FILTER (WHERE s.digest IS DISTINCT FROM p.digest) AS differing_days
FROM classbill_internal.rows_of(:'hq', NULL::classbill_internal.day_digest) AS p
FULL JOIN serial_digests AS s USING (day);
RESET enable_partitionwise_aggregate;

-- rooms whose rows lie 16 months apart, in two partitions by time, each
-- aggregated apart in a worker: every room's two partial states keep
-- 8-byte keys counted from their own rows, and the leader's merge of the
-- sorted runs must see that the second's rows do not fit the first's
-- keys (the state then takes 12-byte events)
SET max_parallel_workers_per_gather = 0;
CREATE TABLE fev (room int, p text, e text, t timestamptz) PARTITION BY RANGE (t);
CREATE TABLE fev_a PARTITION OF fev FOR VALUES FROM (MINVALUE) TO ('2027-06-01')
  WITH (parallel_workers = 0);
CREATE TABLE fev_b PARTITION OF fev FOR VALUES FROM ('2027-06-01') TO (MAXVALUE)
  WITH (parallel_workers = 0);
INSERT INTO fev
SELECT r, 'p' || k, x.e,
       x.base + ((r * 7 + k * 13) % 90) * interval '1 minute' + x.off * interval '1 minute'
FROM generate_series(1, 300) AS r, generate_series(1, 1 + r % 5) AS k,
     LATERAL (VALUES ('join', timestamptz '2026-11-02 20:00+08', 0),
                     ('leave', timestamptz '2026-11-02 20:00+08', 20 + (r + k) % 40),
                     ('join', timestamptz '2028-03-05 09:00+08', 0),
                     ('leave', timestamptz '2028-03-05 09:00+08', 15 + (r * k) % 50)) AS x(e, base, off);
ANALYZE fev;
CREATE TABLE fserial AS
  SELECT room, classbill.room_usage(p, e, t)::text AS u FROM fev GROUP BY room;
SELECT count(*) AS rooms, sum(classbill.minutes(u::classbill.usage)) AS minutes FROM fserial;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF)
  SELECT room, classbill.room_usage(p, e, t) FROM fev GROUP BY room;
SELECT count(*) AS differing_rooms
FROM fserial FULL JOIN (SELECT room, classbill.room_usage(p, e, t)::text AS u
                        FROM fev GROUP BY room) AS par USING (room)
WHERE fserial.u IS DISTINCT FROM par.u;
RESET enable_partitionwise_aggregate;
RESET parallel_leader_participation;

DROP TABLE pev, hev, fev, fserial, serial, parallel, parallel_sorted, ev, serial_digests;
