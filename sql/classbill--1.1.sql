-- classbill install script, assembled from sql/install/*.sql by make.

\echo Use "CREATE EXTENSION classbill" to load this file. \quit

-- ---------------------------------------------------------------------
-- Resolution tiers (SPEC 2)
-- ---------------------------------------------------------------------

CREATE TYPE classbill.tier AS ENUM ('240p', '480p', '720p');
COMMENT ON TYPE classbill.tier IS
  'Resolution tier by picture area: 240p up to 320x240, 480p up to 640x480, 720p above (SPEC 2.1)';

CREATE FUNCTION classbill.tier(width integer, height integer)
RETURNS classbill.tier
AS 'MODULE_PATHNAME', 'classbill_tier'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION classbill.tier(integer, integer) IS
  'Tier of a width x height resolution; both must be positive (SPEC 2.1)';

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

CREATE FUNCTION classbill.room_usage_trans(internal, text, text, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_room_usage_trans'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION classbill.room_usage_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_room_usage_combine'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION classbill.room_usage_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_room_usage_serial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.room_usage_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_room_usage_deserial'
LANGUAGE C STRICT PARALLEL SAFE;

-- STABLE, not IMMUTABLE: it reads classbill.billing_timezone
CREATE FUNCTION classbill.room_usage_final(internal)
RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_room_usage_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE AGGREGATE classbill.room_usage(participant text, event text, at timestamptz) (
  SFUNC = classbill.room_usage_trans,
  STYPE = internal,
  SSPACE = 1024,
  FINALFUNC = classbill.room_usage_final,
  COMBINEFUNC = classbill.room_usage_combine,
  SERIALFUNC = classbill.room_usage_serial,
  DESERIALFUNC = classbill.room_usage_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.room_usage(text, text, timestamptz) IS
  'Usage of one room from its event rows (join, leave, heartbeat, end, stage_up, stage_down), in the billing time zone (SPEC 1)';

-- rollup(usage)

CREATE FUNCTION classbill.rollup_trans(classbill.usage, classbill.usage)
RETURNS classbill.usage
AS 'MODULE_PATHNAME', 'classbill_usage_rollup_trans'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE classbill.rollup(classbill.usage) (
  SFUNC = classbill.rollup_trans,
  STYPE = classbill.usage,
  COMBINEFUNC = classbill.rollup_trans,
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

-- ---------------------------------------------------------------------
-- Rating: accounts, the rate card, packs, daily quantities, drawdown and
-- money (SPEC 3, 6)
-- ---------------------------------------------------------------------

CREATE TYPE classbill.mode AS ENUM ('1v1', '1vn');
COMMENT ON TYPE classbill.mode IS
  'Class mode: 1v1 (one-to-one lesson) or 1vn (one-to-many small class), SPEC 3.1';

CREATE TYPE classbill.plan AS ENUM ('postpaid', 'prepaid');
COMMENT ON TYPE classbill.plan IS
  'An account''s plan: it decides which limits apply (SPEC 3.6); packs it holds are drawn down either way (SPEC 3.4)';

CREATE TYPE classbill.product AS ENUM ('usage', 'storage', 'export');
COMMENT ON TYPE classbill.product IS
  'What a rate card row prices: usage minutes (per minute, by mode and tier), recording storage (per GB-month), MP4 export (per minute)';

-- Money ----------------------------------------------------------------

CREATE TABLE classbill.currencies (
  code       text PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
  minor_unit smallint NOT NULL CHECK (minor_unit BETWEEN 0 AND 4)
);
COMMENT ON TABLE classbill.currencies IS
  'Currencies beyond the common ISO 4217 ones classbill knows, or overriding their minor unit (decimal places of the smallest coin)';
SELECT pg_catalog.pg_extension_config_dump('classbill.currencies', '');

CREATE FUNCTION classbill.minor_unit(currency text) RETURNS smallint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d smallint;
BEGIN
  SELECT c.minor_unit INTO d FROM classbill.currencies AS c WHERE c.code = currency;
  IF FOUND THEN
    RETURN d;
  END IF;
  -- ISO 4217 minor units of common currencies
  d := CASE currency
         WHEN 'CNY' THEN 2 WHEN 'USD' THEN 2 WHEN 'EUR' THEN 2 WHEN 'GBP' THEN 2
         WHEN 'HKD' THEN 2 WHEN 'TWD' THEN 2 WHEN 'SGD' THEN 2 WHEN 'AUD' THEN 2
         WHEN 'CAD' THEN 2 WHEN 'CHF' THEN 2 WHEN 'INR' THEN 2 WHEN 'THB' THEN 2
         WHEN 'MYR' THEN 2 WHEN 'IDR' THEN 2 WHEN 'PHP' THEN 2 WHEN 'BRL' THEN 2
         WHEN 'JPY' THEN 0 WHEN 'KRW' THEN 0 WHEN 'VND' THEN 0 WHEN 'CLP' THEN 0
         WHEN 'KWD' THEN 3 WHEN 'BHD' THEN 3 WHEN 'JOD' THEN 3 WHEN 'OMR' THEN 3
       END;
  IF d IS NULL THEN
    RAISE EXCEPTION 'unknown currency "%"', currency
      USING ERRCODE = '22023',
            HINT = 'Add it to classbill.currencies with its minor unit.';
  END IF;
  RETURN d;
END $$;
COMMENT ON FUNCTION classbill.minor_unit(text) IS
  'Decimal places of a currency''s smallest unit (CNY 2, JPY 0, KWD 3...)';

CREATE FUNCTION classbill.round_money(amount numeric, currency text) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT round(amount, classbill.minor_unit(currency)) $$;
COMMENT ON FUNCTION classbill.round_money(numeric, text) IS
  'Round an exact amount once to the currency''s minor unit, half away from zero (SPEC 6.1)';

-- Accounts -------------------------------------------------------------

CREATE TABLE classbill.accounts (
  account  text PRIMARY KEY,
  plan     classbill.plan NOT NULL,
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  name     text
);
COMMENT ON TABLE classbill.accounts IS
  'Billed enterprises (one application id each), their plan and the one currency they are billed in (SPEC 6.1)';
SELECT pg_catalog.pg_extension_config_dump('classbill.accounts', '');

-- The rate card (SPEC 3.3) ----------------------------------------------

CREATE TABLE classbill.rates (
  product    classbill.product NOT NULL,
  mode       classbill.mode,
  tier       classbill.tier,
  currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  valid_from date NOT NULL,
  price      numeric NOT NULL CHECK (price >= 0 AND scale(price) <= 6),
  note       text,
  CONSTRAINT rates_key CHECK ((product = 'usage') = (mode IS NOT NULL AND tier IS NOT NULL)
                              AND (product = 'usage' OR (mode IS NULL AND tier IS NULL))),
  -- a row is in effect from valid_from until the next row of its key, so
  -- two rows of one key are in effect at once only if they start together
  CONSTRAINT rates_one_in_effect UNIQUE NULLS NOT DISTINCT (product, mode, tier, currency, valid_from)
);
COMMENT ON TABLE classbill.rates IS
  'Effective-dated rate card: usage per minute by mode and tier, storage per GB-month, export per minute; a row is in effect from valid_from (inclusive) to the next row of its key (SPEC 3.3). classbill ships no rates: the vendor publishes none';
SELECT pg_catalog.pg_extension_config_dump('classbill.rates', '');

CREATE VIEW classbill.rate_periods AS
SELECT r.product, r.mode, r.tier, r.currency, r.price, r.valid_from,
       coalesce(lead(r.valid_from) OVER (PARTITION BY r.product, r.mode, r.tier, r.currency
                                         ORDER BY r.valid_from),
                'infinity'::date) AS valid_to
FROM classbill.rates AS r;
COMMENT ON VIEW classbill.rate_periods IS
  'The rate card as periods: each row is in effect on the days [valid_from, valid_to) (SPEC 3.3)';

CREATE FUNCTION classbill.missing_rate(account text, product classbill.product,
                                       mode classbill.mode, tier classbill.tier,
                                       currency text, day date)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'no % rate for account "%"% on %', product, account,
                  CASE WHEN mode IS NULL THEN '' ELSE format(', mode %s, tier %s', mode, tier) END,
                  day
    USING ERRCODE = 'P0002',
          DETAIL = format('No row of classbill.rates for %s%s in %s is in effect on %s.',
                          product,
                          CASE WHEN mode IS NULL THEN '' ELSE format(', %s, %s', mode, tier) END,
                          currency, day),
          HINT = 'Add the rate to classbill.rates, valid from that day or earlier.';
END $$;
COMMENT ON FUNCTION classbill.missing_rate(text, classbill.product, classbill.mode, classbill.tier, text, date) IS
  'Raises the error for a day with no rate in effect (SPEC 3.2: never a silent zero); used by the rating functions';

-- Packs (SPEC 3.4) -------------------------------------------------------

CREATE TABLE classbill.pack_items (
  item    text PRIMARY KEY,
  tier    classbill.tier NOT NULL,
  minutes bigint NOT NULL CHECK (minutes > 0),
  UNIQUE (item, tier)
);
COMMENT ON TABLE classbill.pack_items IS
  'The pack catalog: prepaid packs per tier (the product sells 120,000 and 240,000 minutes); they never expire';
SELECT pg_catalog.pg_extension_config_dump('classbill.pack_items', '');

CREATE TABLE classbill.pack_prices (
  item       text NOT NULL REFERENCES classbill.pack_items ON UPDATE CASCADE,
  currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  valid_from date NOT NULL,
  price      numeric NOT NULL CHECK (price >= 0 AND scale(price) <= 6),
  PRIMARY KEY (item, currency, valid_from)
);
COMMENT ON TABLE classbill.pack_prices IS
  'Effective-dated catalog prices of packs, in effect from valid_from to the next row of the item and currency';
SELECT pg_catalog.pg_extension_config_dump('classbill.pack_prices', '');

CREATE TABLE classbill.packs (
  pack_id      bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  account      text NOT NULL REFERENCES classbill.accounts ON UPDATE CASCADE,
  tier         classbill.tier NOT NULL,
  item         text NOT NULL,
  purchased_at timestamptz NOT NULL CHECK (isfinite(purchased_at)),
  FOREIGN KEY (item, tier) REFERENCES classbill.pack_items (item, tier) ON UPDATE CASCADE
);
CREATE INDEX ON classbill.packs (account, tier, purchased_at, pack_id);
COMMENT ON TABLE classbill.packs IS
  'Packs bought: each covers its tier''s usage from 00:00 of its purchase day in the billing time zone (SPEC 3.5)';
SELECT pg_catalog.pg_extension_config_dump('classbill.packs', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.packs_pack_id_seq', '');

-- Daily quantities (SPEC 1.7, 3.1) --------------------------------------

CREATE TABLE classbill.usage_days (
  account text NOT NULL REFERENCES classbill.accounts ON UPDATE CASCADE,
  tier    classbill.tier NOT NULL,
  mode    classbill.mode NOT NULL,
  day     date NOT NULL,
  seconds numeric NOT NULL CHECK (seconds >= 0 AND scale(seconds) <= 6),
  minutes bigint GENERATED ALWAYS AS (ceil(seconds / 60)) STORED,
  PRIMARY KEY (account, tier, mode, day)
);
COMMENT ON TABLE classbill.usage_days IS
  'Presence per account, tier, mode and billing day, exact to the microsecond; minutes = the day''s seconds rounded up (SPEC 1.7). Filled by classbill.store_usage_days or by hand';
SELECT pg_catalog.pg_extension_config_dump('classbill.usage_days', '');

CREATE FUNCTION classbill.room_mode(declared classbill.mode, usage classbill.usage)
RETURNS classbill.mode
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce($1, CASE WHEN classbill.participants($2) <= 2 THEN '1v1'::classbill.mode
                           ELSE '1vn'::classbill.mode END)
$$;
COMMENT ON FUNCTION classbill.room_mode(classbill.mode, classbill.usage) IS
  'A room''s mode: the declared one, or 1v1 when at most 2 distinct participants took part, else 1vn (SPEC 3.1)';

-- Drawdown (SPEC 3.5) ---------------------------------------------------

CREATE TYPE classbill.drawdown_use AS (day date, mode classbill.mode, minutes bigint, rate numeric);
COMMENT ON TYPE classbill.drawdown_use IS
  'One day''s billable minutes of one mode, with the postpaid rate in effect that day';

CREATE TYPE classbill.drawdown_pack AS (pack_id bigint, purchased_at timestamptz, balance bigint);
COMMENT ON TYPE classbill.drawdown_pack IS
  'A pack and the minutes left in it before the first day drawn';

CREATE FUNCTION classbill.drawdown(uses classbill.drawdown_use[], packs classbill.drawdown_pack[],
  OUT day date, OUT mode classbill.mode, OUT pack_id bigint, OUT minutes bigint,
  OUT rate numeric, OUT amount numeric)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'classbill_drawdown'
LANGUAGE C STABLE PARALLEL SAFE ROWS 60;
COMMENT ON FUNCTION classbill.drawdown(classbill.drawdown_use[], classbill.drawdown_pack[]) IS
  'Draw one account''s usage of one tier from its packs (SPEC 3.5): day by day, oldest pack first, higher-rated mode first; a row per pack used (amount 0) and per overage (pack_id NULL, amount = minutes x rate)';

-- Rated lines ------------------------------------------------------------

CREATE TYPE classbill.line AS (
  account    text,
  day        date,
  product    text,
  tier       classbill.tier,
  mode       classbill.mode,
  pack_id    bigint,
  item       text,
  quantity   numeric,
  unit       text,
  unit_price numeric,
  amount     numeric,
  currency   text
);
COMMENT ON TYPE classbill.line IS
  'A rated line of one account and billing day: usage minutes covered by a pack (amount 0) or overage, a pack bought; amounts exact (SPEC 6.1)';

-- The usage lines of [p_from, p_to): quantities of all days before p_to
-- are drawn down, so packs carry their balances from the first day.
CREATE FUNCTION classbill.usage_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH q AS (
    SELECT u.account, u.tier, a.currency,
           array_agg(ROW(u.day, u.mode, u.minutes,
                         -- SPEC 3.2: a day without a rate is an error, never a zero
                         CASE WHEN r.price IS NOT NULL THEN r.price
                              ELSE classbill.missing_rate(u.account, 'usage', u.mode, u.tier,
                                                          a.currency, u.day) END
                        )::classbill.drawdown_use) AS uses
    FROM classbill.usage_days AS u
    JOIN classbill.accounts AS a USING (account)
    LEFT JOIN classbill.rate_periods AS r
      ON r.product = 'usage' AND r.mode = u.mode AND r.tier = u.tier
     AND r.currency = a.currency AND u.day >= r.valid_from AND u.day < r.valid_to
    WHERE u.day < p_to AND (p_account IS NULL OR u.account = p_account) AND u.minutes > 0
    GROUP BY u.account, u.tier, a.currency
  )
  SELECT q.account, d.day, 'usage'::text, q.tier, d.mode, d.pack_id, p.item,
         d.minutes::numeric, 'minute'::text,
         CASE WHEN d.pack_id IS NULL THEN d.rate ELSE 0 END, d.amount, q.currency
  FROM q
  CROSS JOIN LATERAL (
    SELECT array_agg(ROW(k.pack_id, k.purchased_at, i.minutes)::classbill.drawdown_pack) AS packs
    FROM classbill.packs AS k JOIN classbill.pack_items AS i USING (item, tier)
    WHERE k.account = q.account AND k.tier = q.tier) AS pk
  CROSS JOIN LATERAL classbill.drawdown(q.uses, pk.packs) AS d
  LEFT JOIN classbill.packs AS p ON p.pack_id = d.pack_id
  WHERE d.day >= p_from
$$;
COMMENT ON FUNCTION classbill.usage_lines(date, date, text) IS
  'Usage lines of the billing days [from, to): each day''s minutes drawn from packs (SPEC 3.5), the rest rated postpaid at the rate in effect that day (SPEC 3.2); a day with no rate is an error naming account, mode, tier and day';

CREATE FUNCTION classbill.pack_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  missing record;
BEGIN
  SELECT k.pack_id, k.item, a.currency, (k.purchased_at AT TIME ZONE tz)::date AS day INTO missing
  FROM classbill.packs AS k JOIN classbill.accounts AS a USING (account)
  WHERE (k.purchased_at AT TIME ZONE tz)::date >= p_from AND (k.purchased_at AT TIME ZONE tz)::date < p_to
    AND (p_account IS NULL OR k.account = p_account)
    AND NOT EXISTS (SELECT FROM classbill.pack_prices AS pp
                    WHERE pp.item = k.item AND pp.currency = a.currency
                      AND pp.valid_from <= (k.purchased_at AT TIME ZONE tz)::date)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'no price for pack item "%" in % on % (pack %)',
                    missing.item, missing.currency, missing.day, missing.pack_id
      USING ERRCODE = 'P0002',
            HINT = 'Add the price to classbill.pack_prices, valid from that day or earlier.';
  END IF;

  RETURN QUERY
  SELECT k.account, (k.purchased_at AT TIME ZONE tz)::date, 'pack'::text, k.tier,
         NULL::classbill.mode, k.pack_id, k.item, 1::numeric, 'pack'::text,
         pr.price, pr.price, a.currency
  FROM classbill.packs AS k
  JOIN classbill.accounts AS a USING (account)
  CROSS JOIN LATERAL (
    SELECT pp.price FROM classbill.pack_prices AS pp
    WHERE pp.item = k.item AND pp.currency = a.currency
      AND pp.valid_from <= (k.purchased_at AT TIME ZONE tz)::date
    ORDER BY pp.valid_from DESC LIMIT 1) AS pr
  WHERE (k.purchased_at AT TIME ZONE tz)::date >= p_from AND (k.purchased_at AT TIME ZONE tz)::date < p_to
    AND (p_account IS NULL OR k.account = p_account);
END $$;
COMMENT ON FUNCTION classbill.pack_lines(date, date, text) IS
  'One line per pack bought in the billing days [from, to), at the catalog price in effect on its purchase day';

-- Pack balances, drawdown by day, forecast -----------------------------

CREATE FUNCTION classbill.pack_drawdown(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, tier classbill.tier, pack_id bigint, day date, minutes bigint,
               balance bigint)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT x.account, x.tier, x.pack_id, x.day, x.minutes, x.balance
  FROM (
    SELECT l.account, l.tier, l.pack_id, l.day, sum(l.quantity)::bigint AS minutes,
           (i.minutes - sum(sum(l.quantity)) OVER (PARTITION BY l.pack_id ORDER BY l.day))::bigint AS balance
    FROM classbill.usage_lines('-infinity', p_to, p_account) AS l
    JOIN classbill.packs AS k ON k.pack_id = l.pack_id
    JOIN classbill.pack_items AS i ON i.item = k.item
    GROUP BY l.account, l.tier, l.pack_id, l.day, i.minutes) AS x
  WHERE x.day >= p_from
  ORDER BY x.account, x.tier, x.day, x.pack_id
$$;
COMMENT ON FUNCTION classbill.pack_drawdown(date, date, text) IS
  'Minutes each pack gave on each billing day of [from, to), and what it had left after the day';

CREATE FUNCTION classbill.pack_balances(p_as_of date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, tier classbill.tier, pack_id bigint, item text,
               purchased_at timestamptz, minutes bigint, used bigint, balance bigint)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT k.account, k.tier, k.pack_id, k.item, k.purchased_at, i.minutes,
         coalesce(u.used, 0), i.minutes - coalesce(u.used, 0)
  FROM classbill.packs AS k
  JOIN classbill.pack_items AS i ON i.item = k.item
  LEFT JOIN (SELECT l.pack_id, sum(l.quantity)::bigint AS used
             FROM classbill.usage_lines('-infinity', p_as_of + 1, p_account) AS l
             WHERE l.pack_id IS NOT NULL GROUP BY l.pack_id) AS u ON u.pack_id = k.pack_id
  WHERE (p_account IS NULL OR k.account = p_account)
    AND (k.purchased_at AT TIME ZONE classbill.billing_timezone())::date <= p_as_of
  ORDER BY k.account, k.tier, k.purchased_at, k.pack_id
$$;
COMMENT ON FUNCTION classbill.pack_balances(date, text) IS
  'Every pack bought by the end of a billing day, with the minutes it had given and had left after that day';

CREATE FUNCTION classbill.pack_forecast(p_as_of date, p_window integer DEFAULT 30,
                                        p_account text DEFAULT NULL)
RETURNS TABLE (account text, tier classbill.tier, balance bigint, daily_burn numeric,
               days_left numeric, runs_out date)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.tier, b.balance,
         round(coalesce(burn.minutes, 0) / p_window::numeric, 2),
         CASE WHEN coalesce(burn.minutes, 0) > 0
              THEN round(b.balance / (burn.minutes / p_window::numeric), 1) END,
         CASE WHEN coalesce(burn.minutes, 0) > 0
              THEN p_as_of + ceil(b.balance / (burn.minutes / p_window::numeric))::integer END
  FROM (SELECT pb.account, pb.tier, sum(pb.balance)::bigint AS balance
        FROM classbill.pack_balances(p_as_of, p_account) AS pb
        GROUP BY pb.account, pb.tier) AS b
  LEFT JOIN (SELECT u.account, u.tier, sum(u.minutes) AS minutes
             FROM classbill.usage_days AS u
             WHERE u.day > p_as_of - p_window AND u.day <= p_as_of
             GROUP BY u.account, u.tier) AS burn USING (account, tier)
  ORDER BY b.account, b.tier
$$;
COMMENT ON FUNCTION classbill.pack_forecast(date, integer, text) IS
  'When each account''s packs of each tier run out if the last p_window days'' average daily minutes go on (NULL when nothing was used)';

-- SPEC 6.1: one account bills in one currency.  Every price is looked up
-- in the account's currency, so lines cannot mix; what could mix them is
-- changing the currency of an account that already has usage or packs.
CREATE FUNCTION classbill.keep_account_currency() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.currency IS DISTINCT FROM OLD.currency
     AND (EXISTS (SELECT FROM classbill.usage_days AS u WHERE u.account = OLD.account)
          OR EXISTS (SELECT FROM classbill.packs AS k WHERE k.account = OLD.account)) THEN
    RAISE EXCEPTION 'account "%" already bills in %; it cannot change to %',
                    OLD.account, OLD.currency, NEW.currency
      USING ERRCODE = '22023',
            DETAIL = 'Mixing currencies in one account is an error (SPEC 6.1).',
            HINT = 'Open a new account for the new currency.';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER keep_currency BEFORE UPDATE OF currency ON classbill.accounts
FOR EACH ROW EXECUTE FUNCTION classbill.keep_account_currency();

-- ---------------------------------------------------------------------
-- Plan limits (SPEC 3.6): peaks across an account's rooms, breaches
-- ---------------------------------------------------------------------

CREATE TYPE classbill.peak_moment AS (peak integer, at timestamptz);
COMMENT ON TYPE classbill.peak_moment IS
  'A peak of participants present at once, and the first instant it was reached (NULL when the peak is 0)';

CREATE TYPE classbill.day_peak AS (day date, peak integer, at timestamptz);
COMMENT ON TYPE classbill.day_peak IS
  'A billing day''s peak of participants present at once, and the first instant of the day it was reached';

CREATE FUNCTION classbill.account_peak_trans(internal, text, text, text, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_account_peak_trans'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION classbill.account_peak_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_account_peak_combine'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION classbill.account_peak_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_account_peak_serial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.account_peak_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_account_peak_deserial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.account_peak_final(internal)
RETURNS classbill.peak_moment
AS 'MODULE_PATHNAME', 'classbill_account_peak_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION classbill.account_daily_peaks_final(internal)
RETURNS classbill.day_peak[]
AS 'MODULE_PATHNAME', 'classbill_account_daily_peaks_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE AGGREGATE classbill.account_peak(room text, participant text, event text, at timestamptz) (
  SFUNC = classbill.account_peak_trans,
  STYPE = internal,
  SSPACE = 4096,
  FINALFUNC = classbill.account_peak_final,
  COMBINEFUNC = classbill.account_peak_combine,
  SERIALFUNC = classbill.account_peak_serial,
  DESERIALFUNC = classbill.account_peak_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.account_peak(text, text, text, timestamptz) IS
  'Most participants present at once across all rooms of the group (an account), each room''s sessions built as in SPEC 1, and the first instant it happened (SPEC 3.6)';

CREATE AGGREGATE classbill.account_daily_peaks(room text, participant text, event text, at timestamptz) (
  SFUNC = classbill.account_peak_trans,
  STYPE = internal,
  SSPACE = 4096,
  FINALFUNC = classbill.account_daily_peaks_final,
  COMBINEFUNC = classbill.account_peak_combine,
  SERIALFUNC = classbill.account_peak_serial,
  DESERIALFUNC = classbill.account_peak_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.account_daily_peaks(text, text, text, timestamptz) IS
  'Per billing day, the most participants present at once across all rooms of the group and the first instant of the day it happened (SPEC 3.6)';

CREATE FUNCTION classbill.plan_limits(plan classbill.plan,
  OUT max_on_stage integer, OUT max_present integer)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE plan WHEN 'prepaid' THEN 8 ELSE 24 END,
         CASE plan WHEN 'prepaid' THEN 1000 END
$$;
COMMENT ON FUNCTION classbill.plan_limits(classbill.plan) IS
  'SPEC 3.6: prepaid: 8 on stage in a room, 1,000 present at once across the account; postpaid: 24 on stage, no account-wide cap (NULL)';

-- ---------------------------------------------------------------------
-- Sources: where the service's own rows live, registered once, so that
-- quantities, reports and scheduled jobs need nothing but the days
-- ---------------------------------------------------------------------

CREATE TABLE classbill.sources (
  kind          text PRIMARY KEY CHECK (kind IN ('rooms', 'events', 'recordings', 'exports')),
  relation      regclass NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE classbill.sources IS
  'The table or view holding each kind of source row; set with classbill.register_source, which checks the columns';
SELECT pg_catalog.pg_extension_config_dump('classbill.sources', '');

-- The columns each kind must supply, and the types they may have.
CREATE FUNCTION classbill.source_columns(kind text,
  OUT "column" text, OUT types regtype[], OUT nullable boolean)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT c.col, c.types::regtype[], c.nullable
  FROM (VALUES
    ('rooms',  'room',        NULL::text[],                                          false),
    ('rooms',  'account',     '{text,varchar,bpchar}',                               false),
    ('rooms',  'mode',        '{text,varchar,bpchar,classbill.mode}',                true),
    ('rooms',  'width',       '{int2,int4,int8}',                                    false),
    ('rooms',  'height',      '{int2,int4,int8}',                                    false),
    ('events', 'room',        NULL::text[],                                          false),
    ('events', 'participant', '{text,varchar,bpchar}',                               true),
    ('events', 'event',       '{text,varchar,bpchar}',                               false),
    ('events', 'at',          '{timestamptz}',                                       false),
    ('recordings', 'room',    NULL::text[],                                          false),
    ('recordings', 'bytes',   '{int2,int4,int8}',                                    false),
    ('recordings', 'ready_at', '{timestamptz}',                                      false),
    ('recordings', 'retention', '{interval}',                                        true),
    ('recordings', 'deleted_at', '{timestamptz}',                                    true),
    ('exports', 'room',       NULL::text[],                                          false),
    ('exports', 'processed',  '{interval}',                                          false),
    ('exports', 'finished_at', '{timestamptz}',                                      false)
  ) AS c(kind, col, types, nullable)
  WHERE c.kind = $1
$$;
COMMENT ON FUNCTION classbill.source_columns(text) IS
  'The columns a source of a kind must have, with the types allowed (NULL: any type, the same in every source)';

CREATE FUNCTION classbill.register_source(kind text, relation regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  need record;
  have regtype;
  problems text[] := '{}';
  nsp regnamespace;
  other record;
  other_room regtype;
BEGIN
  IF register_source.kind IS NULL
     OR register_source.kind NOT IN ('rooms', 'events', 'recordings', 'exports') THEN
    RAISE EXCEPTION 'unknown source kind "%"', register_source.kind
      USING ERRCODE = '22023', HINT = 'Source kinds are rooms, events, recordings and exports.';
  END IF;
  FOR need IN SELECT * FROM classbill.source_columns(register_source.kind) LOOP
    SELECT a.atttypid::regtype INTO have
    FROM pg_attribute AS a
    WHERE a.attrelid = relation AND a.attname = need."column" AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
      problems := problems || format('column "%s" is missing', need."column");
    ELSIF need.types IS NOT NULL AND NOT have = ANY (need.types) THEN
      problems := problems || format('column "%s" is %s, not one of %s', need."column", have,
                                     array_to_string(need.types, ', '));
    END IF;
  END LOOP;
  IF cardinality(problems) > 0 THEN
    RAISE EXCEPTION '% cannot be the % source: %', relation, register_source.kind,
                    array_to_string(problems, '; ')
      USING ERRCODE = '42804',
            HINT = format('The %s source needs the columns %s.', register_source.kind,
                          (SELECT string_agg(c."column", ', ')
                           FROM classbill.source_columns(register_source.kind) AS c));
  END IF;

  -- the sources are joined on room: one type for all of them
  SELECT a.atttypid::regtype INTO have FROM pg_attribute AS a
  WHERE a.attrelid = relation AND a.attname = 'room';
  FOR other IN SELECT s.kind, s.relation FROM classbill.sources AS s
               WHERE s.kind <> register_source.kind LOOP
    SELECT a.atttypid::regtype INTO other_room FROM pg_attribute AS a
    WHERE a.attrelid = other.relation AND a.attname = 'room';
    IF have IS DISTINCT FROM other_room THEN
      RAISE EXCEPTION 'column "room" of % is %, but room of % (the % source) is %',
                      relation, have, other.relation, other.kind, other_room
        USING ERRCODE = '42804', HINT = 'The sources are joined on room: give them one type.';
    END IF;
  END LOOP;

  -- closes read the sources with the rights of classbill_owner (they run
  -- as that role, SECURITY DEFINER): let it read this one
  SELECT c.relnamespace::regnamespace INTO nsp FROM pg_class AS c WHERE c.oid = register_source.relation;
  IF NOT has_schema_privilege('classbill_owner', nsp, 'USAGE') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO classbill_owner', nsp);
    RAISE NOTICE 'granted USAGE on schema % to classbill_owner, which closes run as', nsp;
  END IF;
  IF NOT has_table_privilege('classbill_owner', register_source.relation, 'SELECT') THEN
    EXECUTE format('GRANT SELECT ON %s TO classbill_owner', register_source.relation);
    RAISE NOTICE 'granted SELECT on % to classbill_owner, which closes run as', register_source.relation;
  END IF;
  IF NOT has_schema_privilege('classbill_owner', nsp, 'USAGE')
     OR NOT has_table_privilege('classbill_owner', register_source.relation, 'SELECT') THEN
    RAISE EXCEPTION 'classbill_owner cannot read %, and you cannot let it', register_source.relation
      USING ERRCODE = '42501',
            HINT = format('Have the owners run: GRANT USAGE ON SCHEMA %s TO classbill_owner; GRANT SELECT ON %s TO classbill_owner;',
                          nsp, register_source.relation);
  END IF;

  INSERT INTO classbill.sources AS s (kind, relation)
  VALUES (register_source.kind, register_source.relation)
  ON CONFLICT ON CONSTRAINT sources_pkey
  DO UPDATE SET relation = EXCLUDED.relation, registered_at = now();
END $$;
COMMENT ON FUNCTION classbill.register_source(text, regclass) IS
  'Tell classbill where rooms (room, account, mode, width, height), events (room, participant, event, at), recordings (room, bytes, ready_at, retention, deleted_at) or exports (room, processed, finished_at) live; a missing column or a wrong type is an error naming it';

CREATE FUNCTION classbill.source(kind text) RETURNS regclass
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  rel regclass;
BEGIN
  SELECT s.relation INTO rel FROM classbill.sources AS s WHERE s.kind = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no % source is registered', $1
      USING ERRCODE = '55000',
            HINT = format('Register one: SELECT classbill.register_source(%L, ''your_table'');', $1);
  END IF;
  RETURN rel;
END $$;
COMMENT ON FUNCTION classbill.source(text) IS
  'The relation registered for a kind of source rows; an error telling what to run if there is none';

-- The first instant of billing day d, in the billing time zone.
CREATE FUNCTION classbill.day_start(d date) RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT d::timestamp AT TIME ZONE classbill.billing_timezone() $$;
COMMENT ON FUNCTION classbill.day_start(date) IS
  'Local midnight starting a billing day in classbill.billing_timezone (SPEC 0)';

CREATE FUNCTION classbill.missing_room(room text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'room % has events but no row in the rooms source %', room, classbill.source('rooms')
    USING ERRCODE = '23503',
          HINT = 'Every room with events needs its account, mode and resolution; nothing is billed to no one.';
END $$;
COMMENT ON FUNCTION classbill.missing_room(text) IS
  'Raises the error for events of a room the rooms source does not know';

-- Every room with an event in the billing days [p_from, p_to), with its
-- usage from all its events (a room's sessions may start earlier or end
-- later than the window).
CREATE FUNCTION classbill.room_values(p_from date, p_to date)
RETURNS TABLE (room text, account text, tier classbill.tier, declared_mode classbill.mode,
               mode classbill.mode, usage classbill.usage)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  events regclass := classbill.source('events');
  which text := format('IN (SELECT a.room FROM %s AS a WHERE a.at >= $1 AND a.at < $2)', events);
  room_type text;
  rooms text;
BEGIN
  -- Events on foreign tables (shards through postgres_fdw): the rooms
  -- are listed first and the list goes into the query as one constant,
  -- so that every shard runs room_usage on its own rows.  PostgreSQL 15
  -- does not send the semi-join of one server to the shards.
  IF EXISTS (SELECT FROM pg_partition_tree(events) AS t
             JOIN pg_class AS c ON c.oid = t.relid WHERE c.relkind = 'f') THEN
    SELECT format_type(a.atttypid, a.atttypmod) INTO room_type
    FROM pg_attribute AS a WHERE a.attrelid = events AND a.attname = 'room';
    EXECUTE format('SELECT array_agg(DISTINCT a.room)::text FROM %s AS a WHERE a.at >= $1 AND a.at < $2', events)
      INTO rooms USING classbill.day_start(p_from), classbill.day_start(p_to);
    which := format('= ANY (%L::%s[])', coalesce(rooms, '{}'), room_type);
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT u.room::text,
           CASE WHEN r.room IS NULL THEN classbill.missing_room(u.room::text) ELSE r.account::text END,
           classbill.tier(r.width::integer, r.height::integer),
           r.mode::text::classbill.mode,
           classbill.room_mode(r.mode::text::classbill.mode, u.usage),
           u.usage
    FROM (SELECT e.room, classbill.in_billing_zone(classbill.room_usage(e.participant::text, e.event::text, e.at)) AS usage
          FROM %1$s AS e
          WHERE e.room %3$s
          GROUP BY e.room) AS u
    LEFT JOIN %2$s AS r ON r.room = u.room
    $q$, events, classbill.source('rooms'), which)
  USING classbill.day_start(p_from), classbill.day_start(p_to);
END $$;
COMMENT ON FUNCTION classbill.room_values(date, date) IS
  'Usage of every room with an event in the billing days [from, to), from all of its events, with its account, tier and mode (declared, or inferred by SPEC 3.1)';

CREATE FUNCTION classbill.billable_days(p_from date, p_to date)
RETURNS TABLE (account text, tier classbill.tier, mode classbill.mode, day date,
               seconds numeric, minutes bigint)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT g.account, g.tier, g.mode, d.day, d.seconds, d.minutes
  FROM (SELECT v.account, v.tier, v.mode, classbill.rollup(v.usage) AS usage
        FROM classbill.room_values(p_from, p_to) AS v
        GROUP BY v.account, v.tier, v.mode) AS g,
       classbill.daily(g.usage) AS d
  WHERE d.day >= p_from AND d.day < p_to
  ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION classbill.billable_days(date, date) IS
  'Billable minutes per account, tier, mode and billing day of [from, to): each group''s presence rolled up and rounded up per day (SPEC 1.7, 3.1)';

CREATE FUNCTION classbill.store_usage_days(p_from date, p_to date)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  unknown text;
  n bigint;
BEGIN
  CREATE TEMP TABLE classbill_billable ON COMMIT DROP AS
  SELECT * FROM classbill.billable_days(p_from, p_to);
  SELECT b.account INTO unknown FROM classbill_billable AS b
  WHERE NOT EXISTS (SELECT FROM classbill.accounts AS a WHERE a.account = b.account) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'account "%" has usage but is not in classbill.accounts', unknown
      USING ERRCODE = '23503', HINT = 'Add the account with its plan and currency.';
  END IF;
  DELETE FROM classbill.usage_days AS u WHERE u.day >= p_from AND u.day < p_to;
  INSERT INTO classbill.usage_days (account, tier, mode, day, seconds)
  SELECT b.account, b.tier, b.mode, b.day, b.seconds FROM classbill_billable AS b;
  GET DIAGNOSTICS n = ROW_COUNT;
  DROP TABLE classbill_billable;
  RETURN n;
END $$;
COMMENT ON FUNCTION classbill.store_usage_days(date, date) IS
  'Replace the stored quantities of the billing days [from, to) with those computed from the sources; returns the rows stored';

CREATE FUNCTION classbill.breaches(p_from date, p_to date)
RETURNS TABLE (kind text, account text, plan classbill.plan, room text, day date,
               at timestamptz, "limit" integer, peak integer, over integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
BEGIN
  -- rooms over their plan's stage limit
  RETURN QUERY
  SELECT 'stage'::text, v.account, a.plan, v.room,
         (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date,
         classbill.stage_peak_at(v.usage), l.max_on_stage,
         classbill.stage_peak(v.usage), classbill.stage_peak(v.usage) - l.max_on_stage
  FROM classbill.room_values(p_from, p_to) AS v
  JOIN classbill.accounts AS a ON a.account = v.account
  CROSS JOIN LATERAL classbill.plan_limits(a.plan) AS l
  WHERE classbill.stage_peak(v.usage) > l.max_on_stage
    AND (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date >= p_from
    AND (classbill.stage_peak_at(v.usage) AT TIME ZONE tz)::date < p_to;

  -- accounts over their plan's cap on participants present at once
  RETURN QUERY
  SELECT 'present'::text, pp.account, a.plan, NULL::text, pp.day, pp.at,
         l.max_present, pp.peak, pp.peak - l.max_present
  FROM classbill.present_peaks(p_from, p_to) AS pp
  JOIN classbill.accounts AS a ON a.account = pp.account
  CROSS JOIN LATERAL classbill.plan_limits(a.plan) AS l
  WHERE l.max_present IS NOT NULL AND pp.peak > l.max_present;
END $$;
COMMENT ON FUNCTION classbill.breaches(date, date) IS
  'Every plan-limit breach of the billing days [from, to) (SPEC 3.6): rooms with more on stage than their plan allows, and per day the prepaid accounts with more present at once than their cap; each with when and how far. Breaches never change the bill';

-- ---------------------------------------------------------------------
-- Recording storage and MP4 export (SPEC 4, 5)
-- ---------------------------------------------------------------------

CREATE TYPE classbill.storage_day AS (day date, marks integer, byte_marks numeric);
COMMENT ON TYPE classbill.storage_day IS
  'A billing day''s storage: its 5-minute marks (288, or 276 or 300 on DST days) and the bytes stored at them, summed (SPEC 4.2)';

CREATE FUNCTION classbill.storage_trans(internal, date, date, bigint, timestamptz, interval, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_trans'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION classbill.storage_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_combine'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION classbill.storage_serial(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'classbill_storage_serial'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.storage_deserial(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'classbill_storage_deserial'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION classbill.storage_final(internal)
RETURNS classbill.storage_day[]
AS 'MODULE_PATHNAME', 'classbill_storage_final'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE AGGREGATE classbill.storage_days(from_day date, to_day date, bytes bigint,
                                        ready_at timestamptz, retention interval,
                                        deleted_at timestamptz) (
  SFUNC = classbill.storage_trans,
  STYPE = internal,
  SSPACE = 2048,
  FINALFUNC = classbill.storage_final,
  COMBINEFUNC = classbill.storage_combine,
  SERIALFUNC = classbill.storage_serial,
  DESERIALFUNC = classbill.storage_deserial,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE classbill.storage_days(date, date, bigint, timestamptz, interval, timestamptz) IS
  'Byte-marks per billing day of [from, to) of a group of recordings, each stored over [ready_at, min(ready_at + retention, deleted_at)), sampled every 5 minutes as the object store does (SPEC 4.2); retention is elapsed time (a month = 30 days)';

CREATE FUNCTION classbill.storage_gb(s classbill.storage_day) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT round(s.byte_marks::numeric(1000, 30) / (s.marks * 1073741824::numeric), 24) $$;
COMMENT ON FUNCTION classbill.storage_gb(classbill.storage_day) IS
  'A day''s GB: the mean of its samples over 2^30 bytes (SPEC 4.2), to 24 decimal places';

-- What storage and export bill, per account and billing day: the bases
-- that lines are priced from, and that closes keep (ledger.sql).
CREATE FUNCTION classbill.storage_basis(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, marks integer, byte_marks numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT s.account, d.day, d.marks, d.byte_marks
    FROM (SELECT r.account::text AS account,
                 classbill.storage_days($1, $2, f.bytes::bigint, f.ready_at, f.retention, f.deleted_at) AS days
          FROM %1$s AS f JOIN %2$s AS r ON r.room = f.room
          WHERE f.ready_at < classbill.day_start($2)
            AND (f.deleted_at IS NULL OR f.deleted_at > classbill.day_start($1))
            AND ($3 IS NULL OR r.account::text = $3)
          GROUP BY r.account) AS s
    CROSS JOIN LATERAL unnest(s.days) AS d
    $q$, classbill.source('recordings'), classbill.source('rooms'))
  USING p_from, p_to, p_account;
END $$;
COMMENT ON FUNCTION classbill.storage_basis(date, date, text) IS
  'Storage per account and billing day of [from, to) from the recordings source: the day''s marks and byte-marks (SPEC 4.2)';

CREATE FUNCTION classbill.export_basis(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, seconds numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT r.account::text,
           (e.finished_at AT TIME ZONE classbill.billing_timezone())::date,
           sum(extract(epoch FROM e.processed))
    FROM %1$s AS e JOIN %2$s AS r ON r.room = e.room
    WHERE e.finished_at >= classbill.day_start($1) AND e.finished_at < classbill.day_start($2)
      AND ($3 IS NULL OR r.account::text = $3)
    GROUP BY 1, 2
    $q$, classbill.source('exports'), classbill.source('rooms'))
  USING p_from, p_to, p_account;
END $$;
COMMENT ON FUNCTION classbill.export_basis(date, date, text) IS
  'Processed export time in seconds per account and billing day (the day the exports finished) of [from, to)';

-- GB-months of a day's byte-marks: a GB stored all day is 1/30 GB-month.
CREATE FUNCTION classbill.gb_months(byte_marks numeric, marks integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT round(byte_marks::numeric(1000, 30) / (marks * 1073741824::numeric * 30), 24) $$;
COMMENT ON FUNCTION classbill.gb_months(numeric, integer) IS
  'A day''s storage in GB-months: its mean GB (byte-marks / marks / 2^30) over 30, to 24 decimal places (SPEC 4.2)';

-- The price in effect on a day for a rate card key without mode and
-- tier, or the error naming account, product and day (SPEC 3.2).
CREATE FUNCTION classbill.price_on(p_product classbill.product, p_account text,
                                   p_currency text, p_day date)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(
    (SELECT rp.price FROM classbill.rate_periods AS rp
     WHERE rp.product = p_product AND rp.mode IS NULL AND rp.currency = p_currency
       AND p_day >= rp.valid_from AND p_day < rp.valid_to),
    classbill.missing_rate(p_account, p_product, NULL, NULL, p_currency, p_day))
$$;
COMMENT ON FUNCTION classbill.price_on(classbill.product, text, text, date) IS
  'The storage or export price in effect on a day in a currency; a missing one is an error naming account, product and day';

CREATE FUNCTION classbill.storage_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.day, 'storage', NULL::classbill.tier, NULL::classbill.mode, NULL::bigint,
         NULL::text, classbill.gb_months(b.byte_marks, b.marks), 'GB-month', p.price,
         classbill.gb_months(b.byte_marks, b.marks) * p.price, a.currency
  FROM classbill.storage_basis(p_from, p_to, p_account) AS b
  JOIN classbill.accounts AS a ON a.account = b.account
  CROSS JOIN LATERAL (SELECT classbill.price_on('storage', b.account, a.currency, b.day)) AS p(price)
$$;
COMMENT ON FUNCTION classbill.storage_lines(date, date, text) IS
  'One storage line per account and billing day of [from, to): the day''s GB-months (daily GB / 30) at the storage price per GB-month in effect that day (SPEC 4.2); exact to 24 decimal places, rounded only on statements';

CREATE FUNCTION classbill.export_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT b.account, b.day, 'export', NULL::classbill.tier, NULL::classbill.mode, NULL::bigint,
         NULL::text, ceil(b.seconds / 60), 'minute', p.price, ceil(b.seconds / 60) * p.price,
         a.currency
  FROM classbill.export_basis(p_from, p_to, p_account) AS b
  JOIN classbill.accounts AS a ON a.account = b.account
  CROSS JOIN LATERAL (SELECT classbill.price_on('export', b.account, a.currency, b.day)) AS p(price)
  WHERE b.seconds > 0
$$;
COMMENT ON FUNCTION classbill.export_lines(date, date, text) IS
  'One export line per account and billing day of [from, to) on which exports finished: their processed time summed and rounded up to whole minutes, at the export rate in effect that day (SPEC 5.1)';

CREATE FUNCTION classbill.late_recordings(p_from date, p_to date)
RETURNS TABLE (room text, account text, class_end timestamptz, ready_at timestamptz,
               late_by interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT f.room::text, r.account::text, c.class_end, f.ready_at,
           f.ready_at - (c.class_end + interval '24 hours')
    FROM %1$s AS f
    JOIN %2$s AS r ON r.room = f.room
    JOIN (SELECT e.room, max(e.at) AS class_end FROM %3$s AS e
          WHERE e.room IN (SELECT x.room FROM %1$s AS x
                           WHERE x.ready_at >= $1 AND x.ready_at < $2)
          GROUP BY e.room) AS c ON c.room = f.room
    WHERE f.ready_at >= $1 AND f.ready_at < $2
      AND f.ready_at > c.class_end + interval '24 hours'
    ORDER BY f.ready_at
    $q$, classbill.source('recordings'), classbill.source('rooms'), classbill.source('events'))
  USING classbill.day_start(p_from), classbill.day_start(p_to);
END $$;
COMMENT ON FUNCTION classbill.late_recordings(date, date) IS
  'Recordings that became ready in the billing days [from, to) more than 24 hours after their class ended (its last event): allowed, and reported (SPEC 4.1)';

-- ---------------------------------------------------------------------
-- The ledger: closing billing days (SPEC 7)
--
-- A close writes a day's lines for every account into tables that are
-- only ever inserted into; pack balances come from them.  Each close also
-- keeps the basis it billed (seconds, byte-marks, processed time per
-- account and day) and a fingerprint of the source rows it read, so the
-- next close can see rows that arrived late for a closed day and bill the
-- difference as adjustment lines pointing at that day.
-- ---------------------------------------------------------------------

CREATE TABLE classbill.closes (
  close_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  day              date NOT NULL,
  billing_timezone text NOT NULL,
  closed_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  closed_by        name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE classbill.closes IS
  'One row per close: the billing day closed, the zone it was closed in, when and by whom (the session user)';

CREATE TABLE classbill.closed_days (
  account  text NOT NULL,
  day      date NOT NULL,
  close_id bigint NOT NULL REFERENCES classbill.closes,
  PRIMARY KEY (account, day)
);
COMMENT ON TABLE classbill.closed_days IS
  'Which account''s which billing day is closed, and by which close; a closed day never changes (SPEC 7.2)';

CREATE TABLE classbill.ledger (
  line_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  close_id   bigint NOT NULL REFERENCES classbill.closes,
  account    text NOT NULL,
  day        date NOT NULL,
  corrects   date,
  product    text NOT NULL,
  tier       classbill.tier,
  mode       classbill.mode,
  pack_id    bigint,
  item       text,
  quantity   numeric NOT NULL,
  unit       text NOT NULL,
  unit_price numeric,
  amount     numeric NOT NULL,
  currency   text NOT NULL,
  CHECK (corrects IS NULL OR corrects < day)
);
CREATE INDEX ON classbill.ledger (account, day);
CREATE INDEX ON classbill.ledger (pack_id) WHERE pack_id IS NOT NULL;
COMMENT ON TABLE classbill.ledger IS
  'Closed lines: a day''s usage (covered by a pack, or overage), packs bought, storage and export, exact; adjustment lines bill late data for the day in corrects (SPEC 7.2). Never updated or deleted';

-- What each close billed, per account and day, to compare later rows with.
CREATE TABLE classbill.ledger_usage (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  account  text NOT NULL,
  tier     classbill.tier NOT NULL,
  mode     classbill.mode NOT NULL,
  day      date NOT NULL,
  seconds  numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_usage (account, day);
COMMENT ON TABLE classbill.ledger_usage IS
  'The presence a close billed for an account, tier, mode and day; the latest row of a key is what is billed now';

CREATE TABLE classbill.ledger_storage (
  close_id   bigint NOT NULL REFERENCES classbill.closes,
  account    text NOT NULL,
  day        date NOT NULL,
  marks      integer NOT NULL,
  byte_marks numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_storage (account, day);
COMMENT ON TABLE classbill.ledger_storage IS
  'The storage a close billed for an account and day (SPEC 4.2)';

CREATE TABLE classbill.ledger_exports (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  account  text NOT NULL,
  day      date NOT NULL,
  seconds  numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_exports (account, day);
COMMENT ON TABLE classbill.ledger_exports IS
  'The export processing time a close billed for an account and day (SPEC 5.1)';

CREATE TABLE classbill.ledger_rooms (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  account  text NOT NULL,
  day      date NOT NULL,
  tier     classbill.tier NOT NULL,
  mode     classbill.mode NOT NULL,
  room     text NOT NULL,
  seconds  numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_rooms (account, day, tier, mode);
COMMENT ON TABLE classbill.ledger_rooms IS
  'The rooms behind each closed usage quantity, with their presence that day (SPEC 7.3)';

CREATE TABLE classbill.ledger_fingerprints (
  close_id bigint NOT NULL REFERENCES classbill.closes,
  source   text NOT NULL,
  day      date NOT NULL,
  rows     bigint NOT NULL,
  checksum numeric NOT NULL
);
CREATE INDEX ON classbill.ledger_fingerprints (source, day);
COMMENT ON TABLE classbill.ledger_fingerprints IS
  'Count and checksum of the source rows of a day as a close read them; a later difference means rows arrived late';

SELECT pg_catalog.pg_extension_config_dump('classbill.closes', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.closes_close_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.closed_days', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_line_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_usage', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_storage', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_exports', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_rooms', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.ledger_fingerprints', '');

-- Closed means closed: no update, no delete, no truncate, for anyone who
-- goes through the table (SPEC 7.2).
CREATE FUNCTION classbill.ledger_is_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'classbill.% is append-only: closed lines never change', TG_TABLE_NAME
    USING ERRCODE = '55000',
          HINT = 'Late data is billed as adjustment lines by the next close.';
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['closes', 'closed_days', 'ledger', 'ledger_usage', 'ledger_storage',
                           'ledger_exports', 'ledger_rooms', 'ledger_fingerprints'] LOOP
    EXECUTE format('CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON classbill.%I
                    FOR EACH ROW EXECUTE FUNCTION classbill.ledger_is_append_only()', t);
    EXECUTE format('CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON classbill.%I
                    FOR EACH STATEMENT EXECUTE FUNCTION classbill.ledger_is_append_only()', t);
  END LOOP;
END $$;

-- Settings -----------------------------------------------------------------

CREATE FUNCTION classbill.recheck_days() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(nullif(current_setting('classbill.recheck_days', true), '')::integer, 7) $$;
COMMENT ON FUNCTION classbill.recheck_days() IS
  'How many closed days before the one being closed are checked for late rows (setting classbill.recheck_days, default 7)';

-- Fingerprints of source rows per day --------------------------------------

-- Count and checksum per billing day of [p_from, p_to) of one source: a
-- row added or removed changes the count, a row corrected in place (its
-- room, participant, kind, time, size, retention, deletion or duration)
-- changes the checksum.
CREATE FUNCTION classbill.source_fingerprints(p_source text, p_from date, p_to date)
RETURNS TABLE (day date, rows bigint, checksum numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  q text;
BEGIN
  IF NOT EXISTS (SELECT FROM classbill.sources AS s WHERE s.kind = p_source) THEN
    RETURN;
  END IF;
  q := CASE p_source
    WHEN 'events' THEN
      'SELECT (x.at AT TIME ZONE $3)::date, count(*),
              coalesce(sum(extract(epoch FROM x.at)), 0)
              + coalesce(sum(hashtextextended(concat_ws(chr(31), x.room, x.participant, x.event), 0)), 0)
       FROM %s AS x WHERE x.at >= $1 AND x.at < $2 GROUP BY 1'
    WHEN 'recordings' THEN
      'SELECT (x.ready_at AT TIME ZONE $3)::date, count(*),
              coalesce(sum(x.bytes::numeric + extract(epoch FROM x.ready_at)
                           + coalesce(extract(epoch FROM x.retention), -1)
                           + coalesce(extract(epoch FROM x.deleted_at), -1)), 0)
              + coalesce(sum(hashtextextended(x.room::text, 0)), 0)
       FROM %s AS x WHERE x.ready_at >= $1 AND x.ready_at < $2 GROUP BY 1'
    WHEN 'exports' THEN
      'SELECT (x.finished_at AT TIME ZONE $3)::date, count(*),
              coalesce(sum(extract(epoch FROM x.processed) + extract(epoch FROM x.finished_at)), 0)
              + coalesce(sum(hashtextextended(x.room::text, 0)), 0)
       FROM %s AS x WHERE x.finished_at >= $1 AND x.finished_at < $2 GROUP BY 1'
  END;
  RETURN QUERY EXECUTE format(q, classbill.source(p_source))
  USING classbill.day_start(p_from), classbill.day_start(p_to),
        classbill.billing_timezone();
END $$;
COMMENT ON FUNCTION classbill.source_fingerprints(text, date, date) IS
  'Per billing day, the count and a checksum of a source''s rows (events by at, recordings by ready_at, exports by finished_at)';

-- What is billed now ------------------------------------------------------

CREATE VIEW classbill.billed_usage AS
SELECT DISTINCT ON (u.account, u.tier, u.mode, u.day) u.account, u.tier, u.mode, u.day, u.seconds,
       ceil(u.seconds / 60)::bigint AS minutes, u.close_id
FROM classbill.ledger_usage AS u
ORDER BY u.account, u.tier, u.mode, u.day, u.close_id DESC;
COMMENT ON VIEW classbill.billed_usage IS
  'Per account, tier, mode and closed day, the presence billed now (the latest close that billed it)';

CREATE VIEW classbill.billed_storage AS
SELECT DISTINCT ON (s.account, s.day) s.account, s.day, s.marks, s.byte_marks, s.close_id
FROM classbill.ledger_storage AS s
ORDER BY s.account, s.day, s.close_id DESC;
COMMENT ON VIEW classbill.billed_storage IS 'Per account and closed day, the storage billed now';

CREATE VIEW classbill.billed_exports AS
SELECT DISTINCT ON (e.account, e.day) e.account, e.day, e.seconds, e.close_id
FROM classbill.ledger_exports AS e
ORDER BY e.account, e.day, e.close_id DESC;
COMMENT ON VIEW classbill.billed_exports IS 'Per account and closed day, the export time billed now';

CREATE VIEW classbill.ledger_pack_balances AS
SELECT k.pack_id, k.account, k.tier, k.item, k.purchased_at, i.minutes,
       coalesce(u.used, 0)::bigint AS used, (i.minutes - coalesce(u.used, 0))::bigint AS balance
FROM classbill.packs AS k
JOIN classbill.pack_items AS i ON i.item = k.item
LEFT JOIN (SELECT l.pack_id, sum(l.quantity) AS used FROM classbill.ledger AS l
           WHERE l.product = 'usage' AND l.pack_id IS NOT NULL GROUP BY l.pack_id) AS u
  ON u.pack_id = k.pack_id;
COMMENT ON VIEW classbill.ledger_pack_balances IS
  'Every pack with the minutes closed days drew from it and what it has left: where the next close continues (SPEC 3.5, 7)';

-- The rooms with presence on a billing day, each room's usage taken from
-- all of its events.  Rooms are found by their events from the day
-- before to the day after, so a presence of a day and more is found as
-- long as its room has an event within that reach.
CREATE FUNCTION classbill.day_rooms(p_day date)
RETURNS TABLE (room text, account text, tier classbill.tier, mode classbill.mode, seconds numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT v.room, v.account, v.tier, v.mode, d.seconds
  FROM classbill.room_values(p_day - 1, p_day + 2) AS v,
       classbill.daily(v.usage) AS d
  WHERE d.day = p_day
$$;
COMMENT ON FUNCTION classbill.day_rooms(date) IS
  'Rooms with presence on a billing day, with their account, tier, mode and that day''s seconds';

-- Drawing and giving back ---------------------------------------------------

-- Lines for minutes drawn on behalf of day p_day (regular or corrected),
-- from the packs' balances in the ledger now: uses holds (account, tier,
-- mode, minutes) to draw.
CREATE FUNCTION classbill.draw(p_close bigint, p_line_day date, p_for_day date, p_corrects date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO classbill.ledger (close_id, account, day, corrects, product, tier, mode, pack_id, item,
                                quantity, unit, unit_price, amount, currency)
  SELECT p_close, q.account, p_line_day, p_corrects, 'usage', q.tier, d.mode, d.pack_id, k.item,
         d.minutes, 'minute', CASE WHEN d.pack_id IS NULL THEN d.rate ELSE 0 END, d.amount, q.currency
  FROM (SELECT w.account, w.tier, a.currency,
               array_agg(ROW(p_for_day, w.mode, w.minutes,
                             CASE WHEN r.price IS NOT NULL THEN r.price
                                  ELSE classbill.missing_rate(w.account, 'usage', w.mode, w.tier,
                                                              a.currency, p_for_day) END
                            )::classbill.drawdown_use) AS uses
        FROM cb_to_draw AS w
        JOIN classbill.accounts AS a ON a.account = w.account
        LEFT JOIN classbill.rate_periods AS r
          ON r.product = 'usage' AND r.mode = w.mode AND r.tier = w.tier AND r.currency = a.currency
         AND p_for_day >= r.valid_from AND p_for_day < r.valid_to
        WHERE w.minutes > 0
        GROUP BY w.account, w.tier, a.currency) AS q
  LEFT JOIN (SELECT b.account, b.tier,
                    array_agg(ROW(b.pack_id, b.purchased_at, b.balance)::classbill.drawdown_pack) AS packs
             FROM classbill.ledger_pack_balances AS b
             WHERE b.balance > 0 AND b.account IN (SELECT w.account FROM cb_to_draw AS w)
             GROUP BY b.account, b.tier) AS pk ON pk.account = q.account AND pk.tier = q.tier
  CROSS JOIN LATERAL classbill.drawdown(q.uses, pk.packs) WITH ORDINALITY AS d
  LEFT JOIN classbill.packs AS k ON k.pack_id = d.pack_id
  ORDER BY q.account, q.tier, d.ordinality;
END $$;
COMMENT ON FUNCTION classbill.draw(bigint, date, date, date) IS
  'Internal to close_day: draw the minutes in cb_to_draw from the packs'' ledger balances (SPEC 3.5)';

-- Minutes billed for p_day that turned out not to be there go back: first
-- off the day's overage (credited at the day's rate), then to the packs
-- that covered the day, the newest first.
CREATE FUNCTION classbill.give_back(p_close bigint, p_line_day date, p_for_day date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO classbill.ledger (close_id, account, day, corrects, product, tier, mode, pack_id, item,
                                quantity, unit, unit_price, amount, currency)
  SELECT p_close, x.account, p_line_day, p_for_day, 'usage', x.tier, x.mode, x.pack_id, x.item,
         -x.back, 'minute', x.unit_price, -x.back * x.unit_price, x.currency
  FROM (
    SELECT s.*,
           greatest(0, least(s.net, s.give - (s.before_me))) AS back
    FROM (
      SELECT g.account, g.tier, g.mode, g.minutes AS give, h.pack_id, h.item, h.net, h.unit_price, h.ord,
             h.currency,
             coalesce(sum(h.net) OVER (PARTITION BY g.account, g.tier, g.mode ORDER BY h.ord
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_me
      FROM cb_to_give AS g
      JOIN (SELECT l.account, l.tier, l.mode, l.pack_id, max(l.item) AS item,
                   sum(l.quantity) AS net,
                   CASE WHEN l.pack_id IS NULL THEN max(l.unit_price) ELSE 0 END AS unit_price,
                   max(l.currency) AS currency,
                   -- overage first, then packs newest first
                   CASE WHEN l.pack_id IS NULL THEN 0 ELSE 1 END AS kind,
                   max(k.purchased_at) AS purchased_at,
                   row_number() OVER (PARTITION BY l.account, l.tier, l.mode
                                      ORDER BY CASE WHEN l.pack_id IS NULL THEN 0 ELSE 1 END,
                                               max(k.purchased_at) DESC, l.pack_id DESC) AS ord
            FROM classbill.ledger AS l
            LEFT JOIN classbill.packs AS k ON k.pack_id = l.pack_id
            WHERE l.product = 'usage' AND coalesce(l.corrects, l.day) = p_for_day
              AND l.account IN (SELECT g2.account FROM cb_to_give AS g2)
            GROUP BY l.account, l.tier, l.mode, l.pack_id
            HAVING sum(l.quantity) > 0) AS h
        ON h.account = g.account AND h.tier = g.tier AND h.mode = g.mode) AS s) AS x
  WHERE x.back > 0
  ORDER BY x.account, x.tier, x.mode, x.ord;
END $$;
COMMENT ON FUNCTION classbill.give_back(bigint, date, date) IS
  'Internal to close_day: minutes billed for a day that late data took away come back off its overage first, then to its packs, newest first';

-- Late data ------------------------------------------------------------------

-- Compare what is billed for closed day p_day with what the sources say
-- now, for the accounts in cb_accounts; bill the differences as
-- adjustment lines of day p_line_day (SPEC 7.2).
CREATE FUNCTION classbill.adjust_day(p_close bigint, p_line_day date, p_day date,
                                     p_usage boolean, p_storage boolean, p_exports boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer := 0;
  k integer;
BEGIN
  IF p_usage THEN
    CREATE TEMP TABLE cb_now_rooms ON COMMIT DROP AS
    SELECT r.* FROM classbill.day_rooms(p_day) AS r
    WHERE r.account IN (SELECT c.account FROM cb_accounts AS c
                        JOIN classbill.closed_days AS cd ON cd.account = c.account AND cd.day = p_day);
    CREATE TEMP TABLE cb_usage_diff ON COMMIT DROP AS
    SELECT coalesce(nw.account, b.account) AS account, coalesce(nw.tier, b.tier) AS tier,
           coalesce(nw.mode, b.mode) AS mode, coalesce(nw.seconds, 0) AS seconds,
           ceil(coalesce(nw.seconds, 0) / 60)::bigint - coalesce(b.minutes, 0) AS delta
    FROM (SELECT r.account, r.tier, r.mode, sum(r.seconds) AS seconds
          FROM cb_now_rooms AS r GROUP BY 1, 2, 3) AS nw
    FULL JOIN (SELECT bu.* FROM classbill.billed_usage AS bu
               WHERE bu.day = p_day
                 AND bu.account IN (SELECT c.account FROM cb_accounts AS c
                                    JOIN classbill.closed_days AS cd
                                      ON cd.account = c.account AND cd.day = p_day)) AS b
      ON b.account = nw.account AND b.tier = nw.tier AND b.mode = nw.mode
    WHERE coalesce(nw.seconds, 0) IS DISTINCT FROM coalesce(b.seconds, 0);

    INSERT INTO classbill.ledger_usage (close_id, account, tier, mode, day, seconds)
    SELECT p_close, d.account, d.tier, d.mode, p_day, d.seconds FROM cb_usage_diff AS d;
    INSERT INTO classbill.ledger_rooms (close_id, account, day, tier, mode, room, seconds)
    SELECT p_close, r.account, p_day, r.tier, r.mode, r.room, r.seconds
    FROM cb_now_rooms AS r
    WHERE EXISTS (SELECT FROM cb_usage_diff AS d
                  WHERE d.account = r.account AND d.tier = r.tier AND d.mode = r.mode);

    CREATE TEMP TABLE cb_to_draw ON COMMIT DROP AS
    SELECT d.account, d.tier, d.mode, d.delta AS minutes FROM cb_usage_diff AS d WHERE d.delta > 0;
    PERFORM classbill.draw(p_close, p_line_day, p_day, p_day);
    CREATE TEMP TABLE cb_to_give ON COMMIT DROP AS
    SELECT d.account, d.tier, d.mode, -d.delta AS minutes FROM cb_usage_diff AS d WHERE d.delta < 0;
    PERFORM classbill.give_back(p_close, p_line_day, p_day);
    SELECT count(*) INTO k FROM cb_usage_diff WHERE delta <> 0;
    n := n + k;
    DROP TABLE cb_now_rooms, cb_usage_diff, cb_to_draw, cb_to_give;
  END IF;

  IF p_storage THEN
    CREATE TEMP TABLE cb_storage_diff ON COMMIT DROP AS
    SELECT coalesce(nw.account, b.account) AS account, coalesce(nw.marks, b.marks) AS marks,
           coalesce(nw.byte_marks, 0) AS byte_marks,
           coalesce(nw.byte_marks, 0) - coalesce(b.byte_marks, 0) AS delta
    FROM (SELECT s.* FROM classbill.storage_basis(p_day, p_day + 1) AS s
          WHERE s.account IN (SELECT c.account FROM cb_accounts AS c
                              JOIN classbill.closed_days AS cd
                                ON cd.account = c.account AND cd.day = p_day)) AS nw
    FULL JOIN (SELECT bs.* FROM classbill.billed_storage AS bs
               WHERE bs.day = p_day
                 AND bs.account IN (SELECT c.account FROM cb_accounts AS c
                                    JOIN classbill.closed_days AS cd
                                      ON cd.account = c.account AND cd.day = p_day)) AS b
      ON b.account = nw.account
    WHERE coalesce(nw.byte_marks, 0) <> coalesce(b.byte_marks, 0);
    INSERT INTO classbill.ledger_storage (close_id, account, day, marks, byte_marks)
    SELECT p_close, d.account, p_day, d.marks, d.byte_marks FROM cb_storage_diff AS d;
    INSERT INTO classbill.ledger (close_id, account, day, corrects, product, quantity, unit,
                                  unit_price, amount, currency)
    SELECT p_close, d.account, p_line_day, p_day, 'storage', classbill.gb_months(d.delta, d.marks),
           'GB-month', p.price, classbill.gb_months(d.delta, d.marks) * p.price, a.currency
    FROM cb_storage_diff AS d
    JOIN classbill.accounts AS a ON a.account = d.account
    CROSS JOIN LATERAL (SELECT classbill.price_on('storage', d.account, a.currency, p_day)) AS p(price)
    ORDER BY d.account;
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n + k;
    DROP TABLE cb_storage_diff;
  END IF;

  IF p_exports THEN
    CREATE TEMP TABLE cb_export_diff ON COMMIT DROP AS
    SELECT coalesce(nw.account, b.account) AS account, coalesce(nw.seconds, 0) AS seconds,
           ceil(coalesce(nw.seconds, 0) / 60) - ceil(coalesce(b.seconds, 0) / 60) AS delta
    FROM (SELECT e.* FROM classbill.export_basis(p_day, p_day + 1) AS e
          WHERE e.account IN (SELECT c.account FROM cb_accounts AS c
                              JOIN classbill.closed_days AS cd
                                ON cd.account = c.account AND cd.day = p_day)) AS nw
    FULL JOIN (SELECT be.* FROM classbill.billed_exports AS be
               WHERE be.day = p_day
                 AND be.account IN (SELECT c.account FROM cb_accounts AS c
                                    JOIN classbill.closed_days AS cd
                                      ON cd.account = c.account AND cd.day = p_day)) AS b
      ON b.account = nw.account
    WHERE coalesce(nw.seconds, 0) <> coalesce(b.seconds, 0);
    INSERT INTO classbill.ledger_exports (close_id, account, day, seconds)
    SELECT p_close, d.account, p_day, d.seconds FROM cb_export_diff AS d;
    INSERT INTO classbill.ledger (close_id, account, day, corrects, product, quantity, unit,
                                  unit_price, amount, currency)
    SELECT p_close, d.account, p_line_day, p_day, 'export', d.delta, 'minute', p.price,
           d.delta * p.price, a.currency
    FROM cb_export_diff AS d
    JOIN classbill.accounts AS a ON a.account = d.account
    CROSS JOIN LATERAL (SELECT classbill.price_on('export', d.account, a.currency, p_day)) AS p(price)
    WHERE d.delta <> 0
    ORDER BY d.account;
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n + k;
    DROP TABLE cb_export_diff;
  END IF;
  RETURN n;
END $$;
COMMENT ON FUNCTION classbill.adjust_day(bigint, date, date, boolean, boolean, boolean) IS
  'Internal to close_day: bill what late rows changed for a closed day as adjustment lines';

-- Closing --------------------------------------------------------------------

-- The regular lines of day p_day for the accounts in cb_accounts.
CREATE FUNCTION classbill.close_regular(p_close bigint, p_day date)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
BEGIN
  -- usage: the rooms, the quantities, the drawdown (SPEC 1.7, 3.2, 3.5)
  CREATE TEMP TABLE cb_day_rooms ON COMMIT DROP AS
  SELECT r.* FROM classbill.day_rooms(p_day) AS r
  WHERE r.account IN (SELECT c.account FROM cb_accounts AS c);
  INSERT INTO classbill.ledger_rooms (close_id, account, day, tier, mode, room, seconds)
  SELECT p_close, r.account, p_day, r.tier, r.mode, r.room, r.seconds FROM cb_day_rooms AS r;
  CREATE TEMP TABLE cb_to_draw ON COMMIT DROP AS
  SELECT r.account, r.tier, r.mode, sum(r.seconds) AS seconds, ceil(sum(r.seconds) / 60)::bigint AS minutes
  FROM cb_day_rooms AS r GROUP BY r.account, r.tier, r.mode;
  INSERT INTO classbill.ledger_usage (close_id, account, tier, mode, day, seconds)
  SELECT p_close, w.account, w.tier, w.mode, p_day, w.seconds FROM cb_to_draw AS w;
  PERFORM classbill.draw(p_close, p_day, p_day, NULL);
  DROP TABLE cb_day_rooms, cb_to_draw;

  -- packs bought that day
  INSERT INTO classbill.ledger (close_id, account, day, product, tier, pack_id, item, quantity, unit,
                                unit_price, amount, currency)
  SELECT p_close, l.account, p_day, l.product, l.tier, l.pack_id, l.item, l.quantity, l.unit,
         l.unit_price, l.amount, l.currency
  FROM classbill.pack_lines(p_day, p_day + 1) AS l
  WHERE l.account IN (SELECT c.account FROM cb_accounts AS c)
  ORDER BY l.account, l.pack_id;

  -- storage and export, when their sources are registered (SPEC 4.2, 5.1)
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'recordings') THEN
    CREATE TEMP TABLE cb_storage ON COMMIT DROP AS
    SELECT s.* FROM classbill.storage_basis(p_day, p_day + 1) AS s
    WHERE s.account IN (SELECT c.account FROM cb_accounts AS c);
    INSERT INTO classbill.ledger_storage (close_id, account, day, marks, byte_marks)
    SELECT p_close, s.account, p_day, s.marks, s.byte_marks FROM cb_storage AS s;
    INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, unit_price,
                                  amount, currency)
    SELECT p_close, s.account, p_day, 'storage', classbill.gb_months(s.byte_marks, s.marks),
           'GB-month', p.price, classbill.gb_months(s.byte_marks, s.marks) * p.price, a.currency
    FROM cb_storage AS s
    JOIN classbill.accounts AS a ON a.account = s.account
    CROSS JOIN LATERAL (SELECT classbill.price_on('storage', s.account, a.currency, p_day)) AS p(price)
    ORDER BY s.account;
    DROP TABLE cb_storage;
  END IF;
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'exports') THEN
    CREATE TEMP TABLE cb_exports ON COMMIT DROP AS
    SELECT e.* FROM classbill.export_basis(p_day, p_day + 1) AS e
    WHERE e.account IN (SELECT c.account FROM cb_accounts AS c);
    INSERT INTO classbill.ledger_exports (close_id, account, day, seconds)
    SELECT p_close, e.account, p_day, e.seconds FROM cb_exports AS e;
    INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, unit_price,
                                  amount, currency)
    SELECT p_close, e.account, p_day, 'export', ceil(e.seconds / 60), 'minute', p.price,
           ceil(e.seconds / 60) * p.price, a.currency
    FROM cb_exports AS e
    JOIN classbill.accounts AS a ON a.account = e.account
    CROSS JOIN LATERAL (SELECT classbill.price_on('export', e.account, a.currency, p_day)) AS p(price)
    WHERE e.seconds > 0
    ORDER BY e.account;
    DROP TABLE cb_exports;
  END IF;
END $$;
COMMENT ON FUNCTION classbill.close_regular(bigint, date) IS
  'Internal to close_day: the regular lines of one billing day';

CREATE PROCEDURE classbill.close_day(p_day date, p_account text DEFAULT NULL)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  ledger_tz text;
  reach integer := classbill.recheck_days();
  v_close bigint;
  n_accounts integer;
  n_adjusted integer := 0;
  late record;
  d date;
  later record;
BEGIN
  -- A close must see what a close that ran while it waited wrote: each
  -- statement its own snapshot, taken after the lock below.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'classbill.close_day needs READ COMMITTED, not %',
                    upper(current_setting('transaction_isolation'))
      USING ERRCODE = '25001',
            HINT = 'Call it outside an explicit transaction, or in one begun with ISOLATION LEVEL READ COMMITTED.';
  END IF;

  -- SPEC 7.2: one close at a time; a second one waits here, then finds
  -- the day closed and says so
  PERFORM pg_advisory_xact_lock(hashtext('classbill.close_day'));

  SELECT c.billing_timezone INTO ledger_tz FROM classbill.closes AS c ORDER BY c.close_id DESC LIMIT 1;
  IF ledger_tz IS NOT NULL AND ledger_tz <> tz THEN
    RAISE EXCEPTION 'the ledger is kept in billing time zone %, but classbill.billing_timezone is %',
                    ledger_tz, tz
      USING ERRCODE = '22023',
            HINT = format('SET classbill.billing_timezone = %L before closing days.', ledger_tz);
  END IF;
  IF p_account IS NOT NULL AND NOT EXISTS (SELECT FROM classbill.accounts AS a WHERE a.account = p_account) THEN
    RAISE EXCEPTION 'account "%" is not in classbill.accounts', p_account USING ERRCODE = '22023';
  END IF;

  -- days close in order: a day after this one closed first is an error
  SELECT cd.account, max(cd.day) AS day INTO later FROM classbill.closed_days AS cd
  WHERE (p_account IS NULL OR cd.account = p_account) AND cd.day > p_day
    AND NOT EXISTS (SELECT FROM classbill.closed_days AS x WHERE x.account = cd.account AND x.day = p_day)
  GROUP BY cd.account LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'account "%" is closed up to %, after %', later.account, later.day, p_day
      USING ERRCODE = '55000',
            HINT = 'Billing days close in date order; a late change to an earlier day is billed as an adjustment.';
  END IF;

  -- days left open since an account's last close are closed first, in order
  FOR d IN
    SELECT g::date FROM generate_series(
      (SELECT min(x.last) + 1
       FROM (SELECT max(cd.day) AS last FROM classbill.closed_days AS cd
             WHERE p_account IS NULL OR cd.account = p_account
             GROUP BY cd.account) AS x),
      p_day - 1, '1 day') AS g
  LOOP
    CALL classbill.close_day(d, p_account);
  END LOOP;

  -- the accounts this day is still open for
  CREATE TEMP TABLE cb_accounts ON COMMIT DROP AS
  SELECT a.account FROM classbill.accounts AS a
  WHERE (p_account IS NULL OR a.account = p_account)
    AND NOT EXISTS (SELECT FROM classbill.closed_days AS cd WHERE cd.account = a.account AND cd.day = p_day);
  SELECT count(*) INTO n_accounts FROM cb_accounts;
  IF n_accounts = 0 THEN
    RAISE NOTICE 'billing day % is already closed%, nothing changed', p_day,
                 CASE WHEN p_account IS NULL THEN '' ELSE format(' for account "%s"', p_account) END;
    DROP TABLE cb_accounts;
    RETURN;
  END IF;

  -- closed_by: who called, not the role the close runs as
  INSERT INTO classbill.closes (day, billing_timezone, closed_by) VALUES (p_day, tz, session_user)
  RETURNING closes.close_id INTO v_close;

  -- 1. what the sources hold now, over the days a close may look at;
  --    read before anything is computed, so a row that arrives during
  --    the close is at worst seen twice, never missed
  CREATE TEMP TABLE cb_fingerprints ON COMMIT DROP AS
  SELECT s.source, f.day, f.rows, f.checksum
  FROM unnest(ARRAY['events', 'recordings', 'exports']) AS s(source),
       LATERAL classbill.source_fingerprints(s.source, p_day - reach - 1, p_day + 2) AS f;

  -- 2. late rows: days whose rows differ from what the accounts' last
  --    close read, and the closed days they can change
  FOR late IN
    WITH last_close AS (
      SELECT DISTINCT (SELECT max(cd.close_id) FROM classbill.closed_days AS cd
                       WHERE cd.account = c.account) AS close_id
      FROM cb_accounts AS c),
    seen AS (
      SELECT DISTINCT ON (lc.close_id, f.source, f.day) lc.close_id, f.source, f.day, f.rows, f.checksum
      FROM last_close AS lc
      JOIN classbill.ledger_fingerprints AS f ON f.close_id <= lc.close_id
      WHERE f.day >= p_day - reach - 1 AND f.day <= p_day + 1
      ORDER BY lc.close_id, f.source, f.day, f.close_id DESC),
    now_seen AS (
      SELECT lc.close_id, nw.source, nw.day, nw.rows, nw.checksum
      FROM last_close AS lc CROSS JOIN cb_fingerprints AS nw
      WHERE lc.close_id IS NOT NULL),
    changed AS (
      SELECT coalesce(nw.source, s.source) AS source, coalesce(nw.day, s.day) AS day
      FROM now_seen AS nw
      FULL JOIN seen AS s ON s.close_id = nw.close_id AND s.source = nw.source AND s.day = nw.day
      WHERE nw.rows IS DISTINCT FROM s.rows OR nw.checksum IS DISTINCT FROM s.checksum)
    SELECT dd.day,
           bool_or(ch.source = 'events') AS usage,
           bool_or(ch.source = 'recordings') AS storage,
           bool_or(ch.source = 'exports') AS exports
    FROM changed AS ch
    CROSS JOIN LATERAL (
      SELECT x::date AS day FROM generate_series(
        CASE ch.source WHEN 'events' THEN ch.day - 1 ELSE ch.day END,
        CASE ch.source WHEN 'events' THEN ch.day + 1 WHEN 'recordings' THEN p_day - 1 ELSE ch.day END,
        '1 day') AS x) AS dd
    WHERE dd.day < p_day AND dd.day >= p_day - reach
    GROUP BY dd.day
    ORDER BY dd.day
  LOOP
    n_adjusted := n_adjusted + classbill.adjust_day(v_close, p_day, late.day,
                                                    late.usage, late.storage, late.exports);
  END LOOP;

  -- 3. the day itself
  PERFORM classbill.close_regular(v_close, p_day);

  INSERT INTO classbill.ledger_fingerprints (close_id, source, day, rows, checksum)
  SELECT v_close, f.source, f.day, f.rows, f.checksum FROM cb_fingerprints AS f;
  INSERT INTO classbill.closed_days (account, day, close_id)
  SELECT c.account, p_day, v_close FROM cb_accounts AS c;

  RAISE NOTICE 'closed billing day % for % account(s): % line(s), % adjusted',
               p_day, n_accounts,
               (SELECT count(*) FROM classbill.ledger AS l WHERE l.close_id = v_close), n_adjusted;
  DROP TABLE cb_accounts, cb_fingerprints;
END $$;
COMMENT ON PROCEDURE classbill.close_day(date, text) IS
  'Close a billing day for every account (or one): bill late rows of recently closed days as adjustments, then write the day''s usage, pack, storage and export lines to the ledger (SPEC 7). Safe to repeat and to run twice at once; all or nothing; days left open before it are closed first';

CREATE PROCEDURE classbill.close_yesterday()
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  CALL classbill.close_day((now() AT TIME ZONE classbill.billing_timezone())::date - 1);
END $$;
COMMENT ON PROCEDURE classbill.close_yesterday() IS
  'Close yesterday, in the billing time zone: what a daily pg_cron job runs (SPEC 7.1)';

-- ---------------------------------------------------------------------
-- Lines and statements: every product together (SPEC 6.1)
-- ---------------------------------------------------------------------

-- Storage and export lines come with their sources: an account that has
-- neither registered is billed for usage and packs alone.
CREATE FUNCTION classbill.rated_lines(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY SELECT * FROM classbill.usage_lines(p_from, p_to, p_account);
  RETURN QUERY SELECT * FROM classbill.pack_lines(p_from, p_to, p_account);
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'recordings') THEN
    RETURN QUERY SELECT * FROM classbill.storage_lines(p_from, p_to, p_account);
  END IF;
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'exports') THEN
    RETURN QUERY SELECT * FROM classbill.export_lines(p_from, p_to, p_account);
  END IF;
END $$;
COMMENT ON FUNCTION classbill.rated_lines(date, date, text) IS
  'Every rated line of the billing days [from, to), exact: usage with drawdown, packs bought, recording storage and MP4 exports (when their sources are registered)';

CREATE FUNCTION classbill.statement_lines(p_month date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, month date, product text, tier classbill.tier,
               mode classbill.mode, quantity numeric, unit text, covered numeric,
               exact_amount numeric, amount numeric, currency text)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT l.account, date_trunc('month', p_month)::date, l.product, l.tier, l.mode,
         sum(l.quantity), min(l.unit),
         sum(l.quantity) FILTER (WHERE l.pack_id IS NOT NULL AND l.product = 'usage'),
         sum(l.amount), classbill.round_money(sum(l.amount), l.currency), l.currency
  FROM classbill.rated_lines(date_trunc('month', p_month)::date,
                             (date_trunc('month', p_month) + interval '1 month')::date,
                             p_account) AS l
  GROUP BY l.account, l.currency, l.product, l.tier, l.mode
  ORDER BY l.account, l.product, l.tier, l.mode
$$;
COMMENT ON FUNCTION classbill.statement_lines(date, text) IS
  'A month''s statement lines per account, product, tier and mode: the exact sum of its days, rounded once to the currency''s minor unit, half away from zero (SPEC 6.1); a statement''s total is the sum of its rounded lines';


-- Statements of closed days (SPEC 7.1, 7.3) ----------------------------------

CREATE FUNCTION classbill.statement(p_month date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, month date, product text, tier classbill.tier, mode classbill.mode,
               quantity numeric, unit text, covered numeric, adjusted numeric,
               exact_amount numeric, amount numeric, currency text)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT l.account, date_trunc('month', p_month)::date, l.product, l.tier, l.mode,
         sum(l.quantity), min(l.unit),
         sum(l.quantity) FILTER (WHERE l.pack_id IS NOT NULL AND l.product = 'usage'),
         sum(l.amount) FILTER (WHERE l.corrects IS NOT NULL),
         sum(l.amount), classbill.round_money(sum(l.amount), l.currency), l.currency
  FROM classbill.ledger AS l
  WHERE l.day >= date_trunc('month', p_month)::date
    AND l.day < (date_trunc('month', p_month) + interval '1 month')::date
    AND (p_account IS NULL OR l.account = p_account)
  GROUP BY l.account, l.currency, l.product, l.tier, l.mode
  ORDER BY l.account, l.product, l.tier, l.mode
$$;
COMMENT ON FUNCTION classbill.statement(date, text) IS
  'A month''s statement from its closed days: per account, product, tier and mode, the exact sum of the ledger lines dated in the month (adjustments included), rounded once (SPEC 6.1, 7.1); the total is the sum of the rounded lines';

CREATE FUNCTION classbill.statement_text(p_month date, p_account text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  m date := date_trunc('month', p_month)::date;
  acct record;
  r record;
  out text;
  total numeric := 0;
  cur text;
  closed integer;
  days integer := ((m + interval '1 month')::date - m);
BEGIN
  SELECT * INTO acct FROM classbill.accounts AS a WHERE a.account = p_account;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account "%" is not in classbill.accounts', p_account USING ERRCODE = '22023';
  END IF;
  SELECT count(*) INTO closed FROM classbill.closed_days AS cd
  WHERE cd.account = p_account AND cd.day >= m AND cd.day < (m + interval '1 month')::date;

  out := format(E'Statement  %s (%s)\n', coalesce(acct.name, acct.account), acct.account)
      || format(E'Month      %s, %s plan, %s\n', to_char(m, 'FMMonth YYYY'), acct.plan, acct.currency)
      || format(E'Closed     %s of %s billing days (%s)\n\n', closed, days,
                classbill.billing_timezone())
      || format(E'%-8s %-5s %-4s %18s %-9s %16s %12s\n', 'product', 'tier', 'mode', 'quantity', 'unit',
                'of which packs', 'amount')
      || repeat('-', 78) || E'\n';
  FOR r IN SELECT * FROM classbill.statement(m, p_account) LOOP
    out := out || format(E'%-8s %-5s %-4s %18s %-9s %16s %12s\n',
                         r.product, coalesce(r.tier::text, ''), coalesce(r.mode::text, ''),
                         CASE WHEN r.unit = 'GB-month' THEN to_char(r.quantity, 'FM999G999G990D000000')
                              ELSE to_char(r.quantity, 'FM999G999G999G990') END,
                         r.unit,
                         coalesce(to_char(r.covered, 'FM999G999G999G990'), ''),
                         to_char(r.amount, 'FM999G999G999G990D00'));
    total := total + r.amount;
    cur := r.currency;
  END LOOP;
  out := out || repeat('-', 78) || E'\n'
      || format(E'%-65s %12s\n', 'total ' || coalesce(cur, acct.currency),
                to_char(total, 'FM999G999G999G990D00'));
  IF EXISTS (SELECT FROM classbill.ledger AS l WHERE l.account = p_account AND l.corrects IS NOT NULL
             AND l.day >= m AND l.day < (m + interval '1 month')::date) THEN
    out := out || E'\nIncludes adjustments for rows that arrived after their day was closed (SPEC 7.2).\n';
  END IF;
  RETURN out;
END $$;
COMMENT ON FUNCTION classbill.statement_text(date, text) IS
  'A month''s statement of an account as readable text (psql: \pset format unaligned, or SELECT ... \gx)';

CREATE FUNCTION classbill.explain(p_line_id bigint)
RETURNS TABLE (what text, detail text, quantity numeric, amount numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l classbill.ledger;
  for_day date;
  rate classbill.rate_periods;
BEGIN
  SELECT * INTO l FROM classbill.ledger AS x WHERE x.line_id = p_line_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no ledger line %', p_line_id USING ERRCODE = '22023';
  END IF;
  for_day := coalesce(l.corrects, l.day);

  RETURN QUERY SELECT 'line'::text,
    format('%s of account %s, billing day %s%s',
           concat_ws(' ', l.product, l.tier, l.mode,
                     CASE WHEN l.pack_id IS NOT NULL AND l.product = 'usage' THEN format('from pack %s', l.pack_id) END),
           l.account, l.day,
           CASE WHEN l.corrects IS NULL THEN '' ELSE format(', adjusting %s for rows that arrived late', l.corrects) END),
    l.quantity, l.amount;

  IF l.product = 'usage' THEN
    -- the group's presence that day, as the close that wrote the line billed it
    RETURN QUERY
    SELECT 'billed'::text,
           format('%s %s presence on %s: %s s, rounded up to %s minutes (SPEC 1.7)',
                  u.tier, u.mode, for_day, u.seconds, ceil(u.seconds / 60)),
           ceil(u.seconds / 60), NULL::numeric
    FROM classbill.ledger_usage AS u
    WHERE u.close_id = l.close_id AND u.account = l.account AND u.tier = l.tier
      AND u.mode = l.mode AND u.day = for_day;
    RETURN QUERY
    SELECT 'room'::text, format('room %s: %s s (%s min on its own)', r.room, r.seconds, ceil(r.seconds / 60)),
           r.seconds, NULL::numeric
    FROM classbill.ledger_rooms AS r
    WHERE r.close_id = (SELECT max(x.close_id) FROM classbill.ledger_rooms AS x
                        WHERE x.close_id <= l.close_id AND x.account = l.account AND x.day = for_day
                          AND x.tier = l.tier AND x.mode = l.mode)
      AND r.account = l.account AND r.day = for_day AND r.tier = l.tier AND r.mode = l.mode
    ORDER BY r.seconds DESC, r.room;
    IF l.pack_id IS NOT NULL THEN
      RETURN QUERY
      SELECT 'pack'::text,
             format('pack %s, %s (%s minutes), bought %s; %s minutes left after this line',
                    k.pack_id, k.item, i.minutes, k.purchased_at,
                    i.minutes - (SELECT sum(x.quantity) FROM classbill.ledger AS x
                                 WHERE x.pack_id = k.pack_id AND x.product = 'usage'
                                   AND x.line_id <= l.line_id)),
             i.minutes::numeric, NULL::numeric
      FROM classbill.packs AS k JOIN classbill.pack_items AS i ON i.item = k.item
      WHERE k.pack_id = l.pack_id;
    END IF;
    SELECT * INTO rate FROM classbill.rate_periods AS rp
    WHERE rp.product = 'usage' AND rp.mode = l.mode AND rp.tier = l.tier AND rp.currency = l.currency
      AND for_day >= rp.valid_from AND for_day < rp.valid_to;
  ELSIF l.product = 'storage' THEN
    RETURN QUERY
    SELECT 'billed'::text,
           format('%s: %s byte-marks over %s marks = %s GB, %s GB-month', for_day, s.byte_marks, s.marks,
                  round(s.byte_marks / (s.marks * 1073741824::numeric), 6),
                  round(classbill.gb_months(s.byte_marks, s.marks), 9)),
           s.byte_marks, NULL::numeric
    FROM classbill.ledger_storage AS s
    WHERE s.close_id = l.close_id AND s.account = l.account AND s.day = for_day;
    SELECT * INTO rate FROM classbill.rate_periods AS rp
    WHERE rp.product = 'storage' AND rp.currency = l.currency AND for_day >= rp.valid_from AND for_day < rp.valid_to;
  ELSIF l.product = 'export' THEN
    RETURN QUERY
    SELECT 'billed'::text,
           format('%s: %s s processed, rounded up to %s minutes (SPEC 5.1)', for_day, e.seconds, ceil(e.seconds / 60)),
           e.seconds, NULL::numeric
    FROM classbill.ledger_exports AS e
    WHERE e.close_id = l.close_id AND e.account = l.account AND e.day = for_day;
    SELECT * INTO rate FROM classbill.rate_periods AS rp
    WHERE rp.product = 'export' AND rp.currency = l.currency AND for_day >= rp.valid_from AND for_day < rp.valid_to;
  ELSIF l.product = 'pack' THEN
    RETURN QUERY
    SELECT 'price'::text, format('catalog price of %s in %s from %s', p.item, p.currency, p.valid_from),
           p.price, NULL::numeric
    FROM classbill.pack_prices AS p
    WHERE p.item = l.item AND p.currency = l.currency AND p.valid_from <= for_day
    ORDER BY p.valid_from DESC LIMIT 1;
  END IF;
  IF rate.price IS NOT NULL THEN
    RETURN QUERY SELECT 'rate'::text,
      format('%s %s%s%s from %s: %s a %s', rate.product, coalesce(rate.mode::text || ' ', ''),
             coalesce(rate.tier::text || ' ', ''), rate.currency, rate.valid_from, rate.price,
             CASE rate.product WHEN 'storage' THEN 'GB-month' ELSE 'minute' END),
      rate.price, NULL::numeric;
  END IF;
END $$;
COMMENT ON FUNCTION classbill.explain(bigint) IS
  'Explain a ledger line down to what it billed: the day''s presence and its rooms with their minutes, the pack and its balance, the storage or export basis, the rate or price in effect (SPEC 7.3)';

-- ---------------------------------------------------------------------
-- The plan advisor: what should this account buy?
--
-- Everything here prices a period of an account's usage (its stored
-- daily quantities) with the drawdown real bills use (classbill.drawdown,
-- SPEC 3.5): postpaid is the drawdown with no pack, a pack mix is the
-- drawdown with packs bought on the period's first day.
-- ---------------------------------------------------------------------

CREATE TYPE classbill.pack_choice AS (item text, count integer);
COMMENT ON TYPE classbill.pack_choice IS
  'So many packs of a catalog item (the item names its tier), for pricing a period with them';

-- Checks shared by the advisor's functions.
CREATE FUNCTION classbill.advisor_account(p_account text, p_from date, p_to date, p_growth numeric)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text;
BEGIN
  SELECT a.currency INTO cur FROM classbill.accounts AS a WHERE a.account = p_account;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account "%" is not in classbill.accounts', p_account USING ERRCODE = '22023';
  END IF;
  IF p_from IS NULL OR p_to IS NULL OR NOT isfinite(p_from) OR NOT isfinite(p_to) OR p_from >= p_to THEN
    RAISE EXCEPTION 'the period [%, %) is not a range of billing days', p_from, p_to
      USING ERRCODE = '22023';
  END IF;
  IF p_growth IS NULL OR p_growth < 0 THEN
    RAISE EXCEPTION 'growth factor % is not a number of times the past usage (0 or more)',
                    coalesce(p_growth::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  RETURN cur;
END $$;
COMMENT ON FUNCTION classbill.advisor_account(text, date, date, numeric) IS
  'Internal to the advisor: the account''s currency, after checking the account, the period and the growth factor';

-- An account's usage of [from, to) per tier as drawdown input: each day's
-- minutes of each mode times the growth factor, rounded up to a minute,
-- with the postpaid rate in effect that day.
CREATE FUNCTION classbill.usage_profile(p_account text, p_from date, p_to date,
                                        p_growth numeric DEFAULT 1)
RETURNS TABLE (tier classbill.tier, minutes bigint, uses classbill.drawdown_use[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill.advisor_account(p_account, p_from, p_to, p_growth);
BEGIN
  RETURN QUERY
  SELECT u.tier, sum(s.minutes)::bigint,
         array_agg(ROW(u.day, u.mode, s.minutes,
                       CASE WHEN r.price IS NOT NULL THEN r.price
                            ELSE classbill.missing_rate(p_account, 'usage', u.mode, u.tier, cur, u.day) END
                      )::classbill.drawdown_use ORDER BY u.day, u.mode)
  FROM classbill.usage_days AS u
  CROSS JOIN LATERAL (SELECT ceil(u.minutes * p_growth)::bigint AS minutes) AS s
  LEFT JOIN classbill.rate_periods AS r
    ON r.product = 'usage' AND r.mode = u.mode AND r.tier = u.tier AND r.currency = cur
   AND u.day >= r.valid_from AND u.day < r.valid_to
  WHERE u.account = p_account AND u.day >= p_from AND u.day < p_to AND s.minutes > 0
  GROUP BY u.tier
  ORDER BY u.tier;
END $$;
COMMENT ON FUNCTION classbill.usage_profile(text, date, date, numeric) IS
  'An account''s usage of the billing days [from, to) per tier, as drawdown input: each day''s minutes per mode times the growth factor, rounded up, with the rate in effect that day (from classbill.usage_days)';

-- The packs of a tier on sale on a day, at their catalog price.
CREATE FUNCTION classbill.pack_offer(p_tier classbill.tier, p_currency text, p_day date)
RETURNS TABLE (item text, minutes bigint, price numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT i.item, i.minutes, p.price
  FROM classbill.pack_items AS i
  CROSS JOIN LATERAL (
    SELECT pp.price FROM classbill.pack_prices AS pp
    WHERE pp.item = i.item AND pp.currency = p_currency AND pp.valid_from <= p_day
    ORDER BY pp.valid_from DESC LIMIT 1) AS p
  WHERE i.tier = p_tier
  ORDER BY i.minutes DESC, i.item
$$;
COMMENT ON FUNCTION classbill.pack_offer(classbill.tier, text, date) IS
  'The catalog items of a tier with a price in the currency on the day, largest first';

-- Drawdown of one tier's profile with packs bought at the start.
CREATE FUNCTION classbill.profile_drawdown(p_uses classbill.drawdown_use[],
                                           p_packs classbill.drawdown_pack[],
                                           OUT covered bigint, OUT overage bigint,
                                           OUT overage_amount numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(sum(d.minutes) FILTER (WHERE d.pack_id IS NOT NULL), 0)::bigint,
         coalesce(sum(d.minutes) FILTER (WHERE d.pack_id IS NULL), 0)::bigint,
         coalesce(sum(d.amount), 0)
  FROM classbill.drawdown(p_uses, p_packs) AS d
$$;
COMMENT ON FUNCTION classbill.profile_drawdown(classbill.drawdown_use[], classbill.drawdown_pack[]) IS
  'Minutes the packs cover, overage minutes and the overage amount of a usage profile (classbill.drawdown)';

-- Cost of history under each plan ---------------------------------------

CREATE FUNCTION classbill.plan_costs(p_account text, p_from date, p_to date,
                                     p_packs classbill.pack_choice[] DEFAULT NULL)
RETURNS TABLE (scenario text, tier classbill.tier, minutes bigint, covered bigint, overage bigint,
               usage_amount numeric, pack_amount numeric, total numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill.advisor_account(p_account, p_from, p_to, 1);
  n_days integer := p_to - p_from;
  bad record;
BEGIN
  -- as billed: the ledger when every day of the period is closed for the
  -- account, else the lines rated now
  IF (SELECT count(*) FROM classbill.closed_days AS cd
      WHERE cd.account = p_account AND cd.day >= p_from AND cd.day < p_to) = n_days THEN
    RETURN QUERY
    SELECT 'as billed (ledger)'::text, l.tier,
           sum(l.quantity) FILTER (WHERE l.product = 'usage')::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NOT NULL), 0)::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NULL), 0)::bigint,
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'usage'), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'pack'), 0),
           sum(l.amount)
    FROM classbill.ledger AS l
    WHERE l.account = p_account AND l.day >= p_from AND l.day < p_to AND l.product IN ('usage', 'pack')
    GROUP BY l.tier ORDER BY l.tier;
  ELSE
    RETURN QUERY
    SELECT 'as billed (rated now)'::text, l.tier,
           sum(l.quantity) FILTER (WHERE l.product = 'usage')::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NOT NULL), 0)::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NULL), 0)::bigint,
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'usage'), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'pack'), 0),
           sum(l.amount)
    FROM (SELECT * FROM classbill.usage_lines(p_from, p_to, p_account)
          UNION ALL SELECT * FROM classbill.pack_lines(p_from, p_to, p_account)) AS l
    GROUP BY l.tier ORDER BY l.tier;
  END IF;

  -- all postpaid: the drawdown with no pack
  RETURN QUERY
  SELECT 'postpaid'::text, p.tier, p.minutes, d.covered, d.overage, d.overage_amount, 0::numeric,
         d.overage_amount
  FROM classbill.usage_profile(p_account, p_from, p_to) AS p,
       classbill.profile_drawdown(p.uses, NULL) AS d;

  IF p_packs IS NULL THEN
    RETURN;
  END IF;

  -- prepaid with the packs given, bought on the first day at their
  -- catalog prices
  SELECT c.item, c.count INTO bad FROM unnest(p_packs) AS c
  WHERE c.count IS NULL OR c.count < 0
     OR NOT EXISTS (SELECT FROM classbill.pack_items AS i WHERE i.item = c.item) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'pack choice (%, %) names no catalog item, or a count below 0',
                    coalesce(bad.item, 'NULL'), coalesce(bad.count::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  SELECT c.item INTO bad FROM unnest(p_packs) AS c JOIN classbill.pack_items AS i USING (item)
  WHERE c.count > 0 AND NOT EXISTS (SELECT FROM classbill.pack_offer(i.tier, cur, p_from) AS o
                                    WHERE o.item = c.item) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'no price for pack item "%" in % on %', bad.item, cur, p_from
      USING ERRCODE = 'P0002',
            HINT = 'Add the price to classbill.pack_prices, valid from that day or earlier.';
  END IF;

  RETURN QUERY
  WITH chosen AS (
    SELECT i.tier, c.item, c.count, i.minutes, o.price
    FROM unnest(p_packs) AS c
    JOIN classbill.pack_items AS i USING (item)
    JOIN LATERAL classbill.pack_offer(i.tier, cur, p_from) AS o ON o.item = c.item
    WHERE c.count > 0),
  one_by_one AS (
    SELECT ch.tier, ch.minutes, ch.price, -row_number() OVER (ORDER BY ch.tier, ch.item) AS pack_id
    FROM chosen AS ch, generate_series(1, ch.count)),
  packs AS (
    SELECT b.tier,
           array_agg(ROW(b.pack_id, classbill.day_start(p_from), b.minutes)::classbill.drawdown_pack
                     ORDER BY b.pack_id DESC) AS packs,
           sum(b.price) AS amount
    FROM one_by_one AS b
    GROUP BY b.tier)
  SELECT 'prepaid with the packs given'::text, coalesce(p.tier, k.tier), coalesce(p.minutes, 0),
         coalesce(d.covered, 0), coalesce(d.overage, 0), coalesce(d.overage_amount, 0),
         coalesce(k.amount, 0), coalesce(d.overage_amount, 0) + coalesce(k.amount, 0)
  FROM classbill.usage_profile(p_account, p_from, p_to) AS p
  FULL JOIN packs AS k ON k.tier = p.tier
  LEFT JOIN LATERAL classbill.profile_drawdown(p.uses, k.packs) AS d ON true
  ORDER BY 2;
END $$;
COMMENT ON FUNCTION classbill.plan_costs(text, date, date, classbill.pack_choice[]) IS
  'What an account''s usage of [from, to) cost per tier as billed (the ledger if every day is closed, else rated now), what it would have cost all postpaid, and with the packs given bought on the first day; the same drawdown as real bills';

-- The cheapest pack mix --------------------------------------------------

-- Every pack mix worth considering for one tier of a profile: for each
-- capacity that is a multiple of the greatest common divisor of the
-- items' sizes, from none up to the first that covers everything plus
-- the largest item, the cheapest way to buy exactly that capacity
-- (unbounded knapsack, exact), and the cost of the profile with it.
-- More capacity than that never costs less: some pack could be left out.
CREATE FUNCTION classbill.pack_mixes(p_account text, p_from date, p_to date, p_tier classbill.tier,
                                     p_growth numeric DEFAULT 1)
RETURNS TABLE (packs text, pack_count integer, capacity bigint, pack_amount numeric,
               minutes bigint, covered bigint, overage bigint, overage_amount numeric, total numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill.advisor_account(p_account, p_from, p_to, p_growth);
  prof record;
  items text[];
  sizes bigint[];
  prices numeric[];
  unit bigint;
  units integer[];
  n_items integer;
  last_k integer;
  best numeric[];
  best_n integer[];
  best_mix text[];
  k integer;
  i integer;
  c numeric;
  mix integer[];
  d record;
  label text;
  j integer;
BEGIN
  SELECT p.* INTO prof FROM classbill.usage_profile(p_account, p_from, p_to, p_growth) AS p
  WHERE p.tier = p_tier;
  IF NOT FOUND THEN
    prof := ROW(p_tier, 0::bigint, NULL::classbill.drawdown_use[]);
  END IF;
  SELECT array_agg(o.item ORDER BY o.minutes DESC, o.item), array_agg(o.minutes ORDER BY o.minutes DESC, o.item),
         array_agg(o.price ORDER BY o.minutes DESC, o.item)
  INTO items, sizes, prices
  FROM classbill.pack_offer(p_tier, cur, p_from) AS o;
  n_items := coalesce(cardinality(items), 0);

  -- no packs at all
  SELECT x.* INTO d FROM classbill.profile_drawdown(prof.uses, NULL) AS x;
  packs := 'none'; pack_count := 0; capacity := 0; pack_amount := 0;
  minutes := prof.minutes; covered := d.covered; overage := d.overage;
  overage_amount := d.overage_amount; total := d.overage_amount;
  RETURN NEXT;
  IF n_items = 0 OR prof.minutes = 0 THEN
    RETURN;
  END IF;

  unit := sizes[1];
  FOR i IN 2 .. n_items LOOP
    unit := gcd(unit, sizes[i]);
  END LOOP;
  units := ARRAY(SELECT (s / unit)::integer FROM unnest(sizes) AS s);
  last_k := ((prof.minutes + unit - 1) / unit)::integer + units[1];

  -- best[k + 1]: the cheapest set of packs of exactly k units
  best := array_fill(NULL::numeric, ARRAY[last_k + 1]);
  best_n := array_fill(NULL::integer, ARRAY[last_k + 1]);
  best_mix := array_fill(NULL::text, ARRAY[last_k + 1]);
  best[1] := 0; best_n[1] := 0; best_mix[1] := array_to_string(array_fill(0, ARRAY[n_items]), ',');
  FOR k IN 1 .. last_k LOOP
    FOR i IN 1 .. n_items LOOP
      CONTINUE WHEN units[i] > k OR best[k - units[i] + 1] IS NULL;
      c := best[k - units[i] + 1] + prices[i];
      IF best[k + 1] IS NULL OR c < best[k + 1]
         OR (c = best[k + 1] AND best_n[k - units[i] + 1] + 1 < best_n[k + 1]) THEN
        best[k + 1] := c;
        best_n[k + 1] := best_n[k - units[i] + 1] + 1;
        mix := string_to_array(best_mix[k - units[i] + 1], ',')::integer[];
        mix[i] := mix[i] + 1;
        best_mix[k + 1] := array_to_string(mix, ',');
      END IF;
    END LOOP;
  END LOOP;

  FOR k IN 1 .. last_k LOOP
    CONTINUE WHEN best[k + 1] IS NULL;
    mix := string_to_array(best_mix[k + 1], ',')::integer[];
    label := NULL;
    FOR j IN 1 .. n_items LOOP
      IF mix[j] > 0 THEN
        label := concat_ws(' + ', label, format('%s x %s', mix[j], items[j]));
      END IF;
    END LOOP;
    SELECT x.* INTO d
    FROM classbill.profile_drawdown(prof.uses,
           ARRAY[ROW(0, classbill.day_start(p_from), k * unit)::classbill.drawdown_pack]) AS x;
    packs := label; pack_count := best_n[k + 1]; capacity := k * unit; pack_amount := best[k + 1];
    minutes := prof.minutes; covered := d.covered; overage := d.overage;
    overage_amount := d.overage_amount; total := best[k + 1] + d.overage_amount;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION classbill.pack_mixes(text, date, date, classbill.tier, numeric) IS
  'Every pack mix worth considering for one tier of an account''s usage of [from, to) times a growth factor: per capacity, the cheapest packs giving exactly it (exact integer search) and the cost of the period with them bought on its first day';

-- Per account and billing day of [from, to), the most participants
-- present at once across its rooms (SPEC 3.6); breaches and the advisor
-- read it.
CREATE FUNCTION classbill.present_peaks(p_from date, p_to date, p_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, peak integer, at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT p.account, d.day, d.peak, d.at
    FROM (SELECT r.account::text AS account,
                 classbill.account_daily_peaks(e.room::text, e.participant::text, e.event::text, e.at) AS days
          FROM %1$s AS e JOIN %2$s AS r ON r.room = e.room
          WHERE ($5::text IS NULL OR r.account::text = $5)
            AND e.room IN (SELECT x.room FROM %1$s AS x WHERE x.at >= $1 AND x.at < $2)
          GROUP BY r.account) AS p,
         unnest(p.days) AS d
    WHERE d.day >= $3 AND d.day < $4
    $q$, classbill.source('events'), classbill.source('rooms'))
  USING classbill.day_start(p_from), classbill.day_start(p_to), p_from, p_to, p_account;
END $$;
COMMENT ON FUNCTION classbill.present_peaks(date, date, text) IS
  'Per account (or the one given) and billing day of [from, to), the most participants present at once across its rooms and the first instant of it (SPEC 3.6)';

-- The account's peaks over a period, against the prepaid limits (SPEC 3.6).
CREATE FUNCTION classbill.account_peaks(p_account text, p_from date, p_to date,
  OUT stage_peak integer, OUT stage_room text, OUT stage_at timestamptz,
  OUT present_peak integer, OUT present_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM classbill.sources AS s WHERE s.kind = 'events')
     OR NOT EXISTS (SELECT FROM classbill.sources AS s WHERE s.kind = 'rooms') THEN
    RETURN;
  END IF;
  SELECT classbill.stage_peak(v.usage), v.room, classbill.stage_peak_at(v.usage)
  INTO stage_peak, stage_room, stage_at
  FROM classbill.room_values(p_from, p_to) AS v
  WHERE v.account = p_account
  ORDER BY classbill.stage_peak(v.usage) DESC, classbill.stage_peak_at(v.usage), v.room
  LIMIT 1;
  SELECT pp.peak, pp.at INTO present_peak, present_at
  FROM classbill.present_peaks(p_from, p_to, p_account) AS pp
  ORDER BY pp.peak DESC, pp.at LIMIT 1;
END $$;
COMMENT ON FUNCTION classbill.account_peaks(text, date, date) IS
  'The most on stage in one of the account''s rooms and the most present at once across its rooms in [from, to), with where and when (NULLs without events and rooms sources)';

-- The advice ---------------------------------------------------------------

CREATE FUNCTION classbill.plan_advice(p_account text, p_from date, p_to date,
                                      p_growth numeric DEFAULT 1)
RETURNS TABLE (tier classbill.tier, minutes bigint, postpaid numeric, packs text,
               pack_amount numeric, overage bigint, overage_amount numeric, cheapest numeric,
               saving numeric, advice text, break_even text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill.advisor_account(p_account, p_from, p_to, p_growth);
  acct record;
  lim record;
  pk record;
  t classbill.tier;
  mix record;
  m record;
  none record;
  have_best boolean;
  n_tiers integer := 0;
  sum_minutes bigint := 0;
  mean numeric;
  o record;
  prev_item text;
  prev_minutes bigint;
  prev_price numeric;
  notes text;
  sum_post numeric := 0;
  sum_best numeric := 0;
  sum_packs numeric := 0;
  billed numeric;
  blocked text;
  any_pack boolean := false;
BEGIN
  SELECT a.* INTO acct FROM classbill.accounts AS a WHERE a.account = p_account;
  SELECT l.* INTO lim FROM classbill.plan_limits('prepaid') AS l;
  SELECT x.* INTO pk FROM classbill.account_peaks(p_account, p_from, p_to) AS x;
  IF pk.stage_peak > lim.max_on_stage THEN
    blocked := format('%s on stage in room %s at %s (prepaid allows %s)', pk.stage_peak, pk.stage_room,
                      to_char(pk.stage_at AT TIME ZONE classbill.billing_timezone(), 'YYYY-MM-DD HH24:MI'),
                      lim.max_on_stage);
  END IF;
  IF pk.present_peak > lim.max_present THEN
    blocked := concat_ws('; ', blocked,
                         format('%s present at once at %s (prepaid allows %s)', pk.present_peak,
                                to_char(pk.present_at AT TIME ZONE classbill.billing_timezone(), 'YYYY-MM-DD HH24:MI'),
                                lim.max_present));
  END IF;

  FOR t IN SELECT p.tier FROM classbill.usage_profile(p_account, p_from, p_to, p_growth) AS p LOOP
    -- one search per tier: its first row is the mix of no packs; the
    -- cheapest is the lowest total, then the smaller outlay
    have_best := false;
    FOR mix IN SELECT * FROM classbill.pack_mixes(p_account, p_from, p_to, t, p_growth) LOOP
      IF mix.pack_count = 0 THEN
        none := mix;
      END IF;
      IF NOT have_best THEN
        m := mix;
        have_best := true;
      ELSIF (mix.total, mix.pack_amount, mix.capacity) < (m.total, m.pack_amount, m.capacity) THEN
        m := mix;
      END IF;
    END LOOP;
    n_tiers := n_tiers + 1;
    sum_minutes := sum_minutes + none.minutes;

    -- break-even volumes at this period's mean rate of the tier
    notes := NULL;
    mean := CASE WHEN none.minutes > 0 THEN none.total / none.minutes END;
    prev_item := NULL;
    IF mean > 0 THEN
      FOR o IN SELECT * FROM classbill.pack_offer(t, cur, p_from) ORDER BY minutes LOOP
        notes := concat_ws('; ', notes,
                           format('%s pays for itself from %s min', o.item, to_char(ceil(o.price / mean), 'FM999,999,999,999')));
        IF prev_item IS NOT NULL AND o.price > prev_price THEN
          notes := concat_ws('; ', notes,
                             format('%s beats %s plus overage from %s min', o.item, prev_item,
                                    to_char(ceil(prev_minutes + (o.price - prev_price) / mean), 'FM999,999,999,999')));
        END IF;
        prev_item := o.item; prev_minutes := o.minutes; prev_price := o.price;
      END LOOP;
      notes := notes || format(' (at %s a minute, the mean rate of these minutes)', round(mean, 6));
    END IF;

    tier := t; minutes := none.minutes; postpaid := trim_scale(none.total);
    IF blocked IS NULL AND m.pack_count > 0 AND m.total < none.total THEN
      packs := m.packs; pack_amount := trim_scale(m.pack_amount); overage := m.overage;
      overage_amount := trim_scale(m.overage_amount); cheapest := trim_scale(m.total);
      saving := trim_scale(none.total - m.total);
      advice := format('buy %s: %s instead of %s postpaid', m.packs, classbill.round_money(m.total, cur),
                       classbill.round_money(none.total, cur));
      any_pack := true;
    ELSE
      packs := NULL; pack_amount := 0; overage := none.overage;
      overage_amount := trim_scale(none.overage_amount); cheapest := trim_scale(none.total); saving := 0;
      advice := CASE
        WHEN blocked IS NOT NULL AND m.pack_count > 0 AND m.total < none.total
          THEN format('postpaid: %s would cost %s instead of %s, but prepaid does not fit this account',
                      m.packs, classbill.round_money(m.total, cur), classbill.round_money(none.total, cur))
        ELSE 'postpaid: no pack costs less than the minutes' END;
    END IF;
    break_even := notes;
    sum_post := sum_post + postpaid;
    sum_best := sum_best + cheapest;
    sum_packs := sum_packs + pack_amount;
    RETURN NEXT;
  END LOOP;

  -- the account: its plan, as billed, and the verdict
  SELECT sum(c.total) INTO billed FROM classbill.plan_costs(p_account, p_from, p_to) AS c
  WHERE c.scenario LIKE 'as billed%';
  tier := NULL; minutes := CASE WHEN n_tiers > 0 THEN sum_minutes END;
  postpaid := sum_post; packs := NULL; pack_amount := sum_packs; overage := NULL; overage_amount := NULL;
  cheapest := trim_scale(sum_best);
  postpaid := trim_scale(sum_post); pack_amount := trim_scale(sum_packs);
  saving := CASE WHEN p_growth = 1 THEN trim_scale(coalesce(billed, 0) - sum_best) END;
  advice := CASE
    WHEN blocked IS NOT NULL THEN format('postpaid: prepaid would not fit: %s', blocked)
    WHEN any_pack THEN format('prepaid with the packs above: %s instead of %s all postpaid',
                              classbill.round_money(sum_best, cur), classbill.round_money(sum_post, cur))
    ELSE 'postpaid: no pack would have saved anything' END
    || format(' (now %s%s)', acct.plan,
              CASE WHEN p_growth = 1 THEN format(', billed %s for these minutes and packs',
                                                 classbill.round_money(coalesce(billed, 0), cur))
                   ELSE format(', usage scaled by %s', p_growth) END);
  break_even := NULL;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION classbill.plan_advice(text, date, date, numeric) IS
  'Which plan and packs would have been cheapest for an account''s usage of [from, to), or for that usage times a growth factor: per tier the cheapest pack mix (exact), its cost against postpaid and the break-even volumes; then the account''s verdict, postpaid if its peaks break the prepaid limits (SPEC 3.6), and the saving against what it was billed';

-- ---------------------------------------------------------------------
-- Privileges: nothing needs a superuser at run time
--
--   classbill_reader    analysts: read every table, view and report;
--                       write nothing
--   classbill_operator  billing operators: a reader that also edits
--                       accounts, the rate card, the pack catalog and
--                       packs, stores quantities and closes days
--   classbill_owner     the role closes and store_usage_days run as
--                       (SECURITY DEFINER): reads the sources, writes
--                       the ledger; nobody logs in as it
--
-- The roles are created when missing (they belong to the cluster and
-- outlive DROP EXTENSION).  Functions are executable by these roles only,
-- not by PUBLIC; the ledger can be written only through a close.  Every
-- function pins search_path to pg_catalog, pg_temp.
-- ---------------------------------------------------------------------

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_reader') THEN
    CREATE ROLE classbill_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_operator') THEN
    CREATE ROLE classbill_operator NOLOGIN IN ROLE classbill_reader;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'classbill_owner') THEN
    CREATE ROLE classbill_owner NOLOGIN;
  END IF;
END $$;

REVOKE ALL ON ALL ROUTINES IN SCHEMA classbill FROM PUBLIC;
GRANT USAGE ON SCHEMA classbill TO classbill_reader, classbill_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA classbill TO classbill_reader, classbill_owner;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA classbill TO classbill_reader, classbill_owner;

-- what only a close (or the extension's owner) may run
REVOKE EXECUTE ON ROUTINE
  classbill.register_source(text, regclass),
  classbill.store_usage_days(date, date),
  classbill.close_day(date, text),
  classbill.close_yesterday(),
  classbill.close_regular(bigint, date),
  classbill.adjust_day(bigint, date, date, boolean, boolean, boolean),
  classbill.draw(bigint, date, date, date),
  classbill.give_back(bigint, date, date),
  classbill.ledger_is_append_only(),
  classbill.keep_account_currency()
FROM classbill_reader;

-- operators: the billing team's tables and jobs
GRANT INSERT, UPDATE, DELETE ON
  classbill.accounts, classbill.rates, classbill.pack_items, classbill.pack_prices,
  classbill.packs, classbill.usage_days
TO classbill_operator;
GRANT USAGE ON SEQUENCE classbill.packs_pack_id_seq TO classbill_operator;
GRANT EXECUTE ON ROUTINE
  classbill.store_usage_days(date, date),
  classbill.close_day(date, text),
  classbill.close_yesterday()
TO classbill_operator;

-- the role jobs run as: the ledger tables and the stored quantities
GRANT INSERT ON
  classbill.closes, classbill.closed_days, classbill.ledger, classbill.ledger_usage,
  classbill.ledger_storage, classbill.ledger_exports, classbill.ledger_rooms,
  classbill.ledger_fingerprints
TO classbill_owner;
GRANT INSERT, DELETE ON classbill.usage_days TO classbill_owner;
ALTER FUNCTION classbill.store_usage_days(date, date) OWNER TO classbill_owner;
ALTER FUNCTION classbill.store_usage_days(date, date) SECURITY DEFINER;
ALTER PROCEDURE classbill.close_day(date, text) OWNER TO classbill_owner;
ALTER PROCEDURE classbill.close_day(date, text) SECURITY DEFINER;
ALTER PROCEDURE classbill.close_yesterday() OWNER TO classbill_owner;
ALTER PROCEDURE classbill.close_yesterday() SECURITY DEFINER;
