
-- ---------------------------------------------------------------------
-- The usage type and the room_usage aggregate (SPEC 1, 9)
-- ---------------------------------------------------------------------

CREATE TYPE classbill.usage;

CREATE FUNCTION classbill.usage_in(cstring) RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_usage_in'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.usage_out(classbill.usage) RETURNS cstring
AS 'MODULE_PATHNAME', 'classbill_usage_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.usage_recv(internal) RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_usage_recv'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.usage_send(classbill.usage) RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_usage_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE classbill.usage (
  INPUT = classbill.usage_in,
  OUTPUT = classbill.usage_out,
  RECEIVE = classbill.usage_recv,
  SEND = classbill.usage_send,
  INTERNALLENGTH = VARIABLE,
  ALIGNMENT = int4,
  STORAGE = extended
);
COMMENT ON TYPE classbill.usage IS
  'Presence per billing day, participants, peaks and data-quality counts of one room or a rollup of rooms, with the billing time zone they were built in';

-- room_usage(participant, event, at)

CREATE FUNCTION classbill_internal.room_usage_trans(internal, text, text, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_room_usage_trans'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION classbill_internal.room_usage_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_room_usage_combine'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION classbill_internal.room_usage_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_room_usage_serial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill_internal.room_usage_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_room_usage_deserial'
LANGUAGE C STRICT PARALLEL SAFE;

-- STABLE, not IMMUTABLE: it reads classbill.billing_timezone
CREATE FUNCTION classbill_internal.room_usage_final(internal)
RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_room_usage_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE AGGREGATE classbill.room_usage(participant text, event text, at timestamptz) (
  SFUNC = classbill_internal.room_usage_trans,
  STYPE = internal,
  SSPACE = 1024,
  FINALFUNC = classbill_internal.room_usage_final,
  COMBINEFUNC = classbill_internal.room_usage_combine,
  SERIALFUNC = classbill_internal.room_usage_serial,
  DESERIALFUNC = classbill_internal.room_usage_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.room_usage(text, text, timestamptz) IS
  'Usage of one room from its event rows (join, leave, heartbeat, end, stage_up, stage_down), in the billing time zone (SPEC 1)';

-- The checks room_usage makes of an event row (SPEC 8.1), without the
-- error: NULL for a good row, else what the error would say.
CREATE FUNCTION classbill_internal.event_problem(participant text, event text, at timestamptz)
RETURNS text
AS 'MODULE_PATHNAME', 'classbill_event_problem'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION classbill_internal.event_problem(text, text, timestamptz) IS
  'NULL for an event row room_usage accepts, else the message and row of the error it would raise (SPEC 8.1)';

-- rollup(usage)

CREATE FUNCTION classbill_internal.rollup_trans(classbill.usage, classbill.usage)
RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_usage_rollup_trans'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE classbill.rollup(classbill.usage) (
  SFUNC = classbill_internal.rollup_trans,
  STYPE = classbill.usage,
  COMBINEFUNC = classbill_internal.rollup_trans,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.rollup(classbill.usage) IS
  'Merge usage values: day presence and participants add up, peaks take the largest; all must share one billing time zone';

-- Accessors

CREATE FUNCTION classbill.seconds(classbill.usage) RETURNS numeric
AS 'MODULE_PATHNAME', 'classbill_usage_seconds'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.seconds(classbill.usage) IS
  'Total presence in seconds, exact to the microsecond';

CREATE FUNCTION classbill.minutes(classbill.usage) RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_usage_minutes'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.minutes(classbill.usage) IS
  'Billable minutes: each billing day''s presence rounded up to a whole minute, summed over days (SPEC 1.7)';

CREATE FUNCTION classbill.daily(classbill.usage,
  OUT day date, OUT seconds numeric, OUT minutes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'classbill_usage_daily'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2;
COMMENT ON FUNCTION classbill.daily(classbill.usage) IS
  'One row per billing day with presence: the day, its exact seconds and its rounded-up minutes';

CREATE FUNCTION classbill.daily_detail(classbill.usage,
  OUT day date, OUT seconds numeric, OUT minutes bigint, OUT participants integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'classbill_usage_daily_detail'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2;
COMMENT ON FUNCTION classbill.daily_detail(classbill.usage) IS
  'classbill.daily with the participants present each day (summed over rooms in a rollup), from which SPEC 3.1 infers a room''s mode per billing day';

CREATE FUNCTION classbill.participants(classbill.usage) RETURNS integer
AS 'MODULE_PATHNAME', 'classbill_usage_participants'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.participants(classbill.usage) IS
  'Distinct participants who joined (summed over rooms in a rollup)';

CREATE FUNCTION classbill.peak(classbill.usage) RETURNS integer
AS 'MODULE_PATHNAME', 'classbill_usage_peak'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.peak(classbill.usage) IS
  'Most participants present at one instant, presence half-open (SPEC 1.8); the largest room peak in a rollup';

CREATE FUNCTION classbill.stage_peak(classbill.usage) RETURNS integer
AS 'MODULE_PATHNAME', 'classbill_usage_stage_peak'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.stage_peak(classbill.usage) IS
  'Most participants on stage at one instant (SPEC 1.2, measured as 1.8); the largest room stage peak in a rollup';

CREATE FUNCTION classbill.peak_at(classbill.usage) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'classbill_usage_peak_at'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.peak_at(classbill.usage) IS
  'First instant at which the peak was reached; NULL when nobody was present';

CREATE FUNCTION classbill.stage_peak_at(classbill.usage) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'classbill_usage_stage_peak_at'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.stage_peak_at(classbill.usage) IS
  'First instant at which the stage peak was reached; NULL when nobody was on stage';

CREATE FUNCTION classbill.rooms(classbill.usage) RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_usage_rooms'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.rooms(classbill.usage) IS
  'Number of room_usage values merged into this value (1 for a room)';

CREATE FUNCTION classbill.billing_timezone(classbill.usage) RETURNS text
AS 'MODULE_PATHNAME', 'classbill_usage_billing_timezone'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.billing_timezone(classbill.usage) IS
  'The billing time zone the value''s days belong to';

CREATE FUNCTION classbill.billing_timezone() RETURNS text
AS 'MODULE_PATHNAME', 'classbill_billing_timezone_now'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION classbill.billing_timezone() IS
  'The setting classbill.billing_timezone now; unlike current_setting() it works in a session where nothing of classbill ran yet';

CREATE FUNCTION classbill.in_billing_zone(classbill.usage) RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_usage_in_billing_zone'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.in_billing_zone(classbill.usage) IS
  'The value itself if it was built for classbill.billing_timezone as set now, else an error naming both zones (values from other nodes)';

CREATE FUNCTION classbill.in_zone(classbill.usage, zone text) RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_usage_in_zone'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.in_zone(classbill.usage, text) IS
  'The value itself if it was built for the billing time zone given, else an error naming both; the zone goes with the query to whatever node evaluates it (SPEC 9)';

-- Data-quality counters (SPEC 1.2, 1.5, 8.1)

CREATE FUNCTION classbill.events(classbill.usage) RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_usage_events'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.events(classbill.usage) IS
  'Event rows aggregated, every one of them, duplicates and oddities included';

CREATE FUNCTION classbill.duplicate_joins(classbill.usage) RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_usage_duplicate_joins'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.duplicate_joins(classbill.usage) IS
  'Joins by a participant already present: they open nothing (SPEC 1.2)';

CREATE FUNCTION classbill.orphan_leaves(classbill.usage) RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_usage_orphan_leaves'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.orphan_leaves(classbill.usage) IS
  'Leaves by a participant not present: they change nothing (SPEC 1.2)';

CREATE FUNCTION classbill.stray_heartbeats(classbill.usage) RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_usage_stray_heartbeats'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.stray_heartbeats(classbill.usage) IS
  'Heartbeats of a participant not present: they change nothing (SPEC 1.2)';

CREATE FUNCTION classbill.stray_stage_events(classbill.usage) RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_usage_stray_stage_events'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.stray_stage_events(classbill.usage) IS
  'stage_up while absent or already on stage, stage_down while not on stage: they change nothing (SPEC 1.2)';

CREATE FUNCTION classbill.unterminated_sessions(classbill.usage) RETURNS bigint
AS 'MODULE_PATHNAME', 'classbill_usage_unterminated_sessions'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.unterminated_sessions(classbill.usage) IS
  'Sessions with no leave and no later end, closed at the participant''s last join or heartbeat (SPEC 1.5)';
