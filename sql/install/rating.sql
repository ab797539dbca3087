
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

-- Checking what users fill in ------------------------------------------------
--
-- Every row written to the tables below passes a trigger that names the
-- table, the row and the bad value in its error, with a hint saying what
-- to do; the CHECK constraints behind them stop whatever a trigger
-- cannot see (a bulk load with triggers disabled).

-- A row of a table, for an error's detail: its key columns as key=value.
CREATE FUNCTION classbill_internal.describe(p_table text, p_row jsonb, p_keys text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('Row of classbill.%s: %s.', p_table,
                string_agg(format('%s=%s', k, coalesce(p_row ->> k, 'NULL')), ', ' ORDER BY o))
  FROM unnest(p_keys) WITH ORDINALITY AS x(k, o)
$$;
COMMENT ON FUNCTION classbill_internal.describe(text, jsonb, text[]) IS
  'A row for an error message: the table and the named columns as key=value';

-- A price or rate: a finite number of at most six decimals, not negative
-- (SPEC 3.3, 6.1).
CREATE FUNCTION classbill_internal.check_price(p_price numeric, p_table text, p_row jsonb,
                                               p_keys text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_price IS NULL OR p_price = 'NaN' OR p_price IN ('Infinity', '-Infinity')
     OR p_price < 0 OR scale(p_price) > 6 THEN
    RAISE EXCEPTION 'price % is not an amount classbill can bill', coalesce(p_price::text, 'NULL')
      USING ERRCODE = '22023',
            DETAIL = classbill_internal.describe(p_table, p_row, p_keys),
            HINT = 'A price is a finite number, 0 or more, with at most six decimals (SPEC 3.3, 6.1).';
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.check_price(numeric, text, jsonb, text[]) IS
  'Refuse a price that is NULL, NaN, infinite, negative or has more than six decimals, naming the row';

CREATE FUNCTION classbill_internal.check_day(p_day date, p_column text, p_table text, p_row jsonb,
                                             p_keys text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_day IS NULL OR NOT isfinite(p_day) THEN
    RAISE EXCEPTION '% % is not a billing day', p_column, coalesce(p_day::text, 'NULL')
      USING ERRCODE = '22023',
            DETAIL = classbill_internal.describe(p_table, p_row, p_keys),
            HINT = 'Give a finite date.';
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.check_day(date, text, text, jsonb, text[]) IS
  'Refuse a NULL or infinite date, naming the column and the row';

-- Has an account anything billed or to bill: stored quantities, packs,
-- closed days?  Then its currency and its name are fixed (SPEC 6.1).
CREATE FUNCTION classbill_internal.account_in_use(p_account text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE
    WHEN EXISTS (SELECT FROM classbill.closed_days AS c WHERE c.account = p_account) THEN 'closed days in the ledger'
    WHEN EXISTS (SELECT FROM classbill.ledger AS l WHERE l.account = p_account) THEN 'ledger lines'
    WHEN EXISTS (SELECT FROM classbill.packs AS k WHERE k.account = p_account) THEN 'packs'
    WHEN EXISTS (SELECT FROM classbill.usage_days AS u WHERE u.account = p_account) THEN 'stored usage'
  END
$$;
COMMENT ON FUNCTION classbill_internal.account_in_use(text) IS
  'What an account already has (closed days, ledger lines, packs, stored usage), or NULL: what fixes its currency';

-- Accounts -------------------------------------------------------------

CREATE TABLE classbill.accounts (
  account  text PRIMARY KEY CHECK (account <> '' AND account = btrim(account)),
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
  valid_from date NOT NULL CHECK (isfinite(valid_from)),
  price      numeric NOT NULL CHECK (price >= 0 AND price < 'Infinity' AND scale(price) <= 6),
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

CREATE FUNCTION classbill_internal.missing_rate(account text, product classbill.product,
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
COMMENT ON FUNCTION classbill_internal.missing_rate(text, classbill.product, classbill.mode, classbill.tier, text, date) IS
  'Raises the error for a day with no rate in effect (SPEC 3.2: never a silent zero); used by the rating functions';

-- Packs (SPEC 3.4) -------------------------------------------------------

CREATE TABLE classbill.pack_items (
  item    text PRIMARY KEY CHECK (item <> ''),
  tier    classbill.tier NOT NULL,
  minutes bigint NOT NULL CHECK (minutes > 0),
  UNIQUE (item, tier)
);
COMMENT ON TABLE classbill.pack_items IS
  'The pack catalog: prepaid packs per tier (the product sells 120,000 and 240,000 minutes); they never expire. An item''s tier and minutes are fixed once a pack of it exists (SPEC 8.4)';
SELECT pg_catalog.pg_extension_config_dump('classbill.pack_items', '');

CREATE TABLE classbill.pack_prices (
  item       text NOT NULL REFERENCES classbill.pack_items,
  currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  valid_from date NOT NULL CHECK (isfinite(valid_from)),
  price      numeric NOT NULL CHECK (price >= 0 AND price < 'Infinity' AND scale(price) <= 6),
  PRIMARY KEY (item, currency, valid_from)
);
COMMENT ON TABLE classbill.pack_prices IS
  'Effective-dated catalog prices of packs, in effect from valid_from to the next row of the item and currency';
SELECT pg_catalog.pg_extension_config_dump('classbill.pack_prices', '');

CREATE TABLE classbill.packs (
  pack_id      bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  account      text NOT NULL REFERENCES classbill.accounts,
  tier         classbill.tier NOT NULL,
  item         text NOT NULL,
  purchased_at timestamptz NOT NULL CHECK (isfinite(purchased_at)),
  FOREIGN KEY (item, tier) REFERENCES classbill.pack_items (item, tier)
);
CREATE INDEX ON classbill.packs (account, tier, purchased_at, pack_id);
COMMENT ON TABLE classbill.packs IS
  'Packs bought: each covers its tier''s usage from 00:00 of its purchase day in the billing time zone (SPEC 3.5). A pack billed or drawn from is fixed';
SELECT pg_catalog.pg_extension_config_dump('classbill.packs', '');
SELECT pg_catalog.pg_extension_config_dump('classbill.packs_pack_id_seq', '');

-- Daily quantities (SPEC 1.7, 3.1) --------------------------------------

CREATE TABLE classbill.usage_days (
  account text NOT NULL REFERENCES classbill.accounts,
  tier    classbill.tier NOT NULL,
  mode    classbill.mode NOT NULL,
  day     date NOT NULL CHECK (isfinite(day)),
  seconds numeric NOT NULL CHECK (seconds >= 0 AND seconds < 'Infinity' AND scale(seconds) <= 6),
  minutes bigint GENERATED ALWAYS AS (classbill_internal.minutes_of(seconds)) STORED,
  PRIMARY KEY (account, tier, mode, day),
  billing_timezone text NOT NULL DEFAULT classbill.billing_timezone()
);
COMMENT ON TABLE classbill.usage_days IS
  'Presence per account, tier, mode and billing day, exact to the microsecond; minutes = the day''s seconds rounded up (SPEC 1.7), in the billing time zone of billing_timezone. Filled by classbill.store_usage_days or by hand';
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
  'The mode of a whole usage value: the declared one, or 1v1 when at most 2 distinct participants took part in it, else 1vn. Billing infers the mode per billing day instead (classbill.day_mode, SPEC 3.1)';

CREATE FUNCTION classbill.day_mode(declared classbill.mode, participants integer)
RETURNS classbill.mode
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce($1, CASE WHEN $2 <= 2 THEN '1v1'::classbill.mode ELSE '1vn'::classbill.mode END)
$$;
COMMENT ON FUNCTION classbill.day_mode(classbill.mode, integer) IS
  'SPEC 3.1: a room''s mode on a billing day: the declared one, or 1v1 when at most 2 distinct participants were present that day, else 1vn';

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
CREATE FUNCTION classbill_internal.usage_lines(from_day date, to_day date, for_account text)
RETURNS SETOF classbill.line
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH q AS (
    SELECT u.account, u.tier, a.currency,
           array_agg(ROW(u.day, u.mode, u.minutes,
                         -- SPEC 3.2: a day without a rate is an error, never a zero
                         CASE WHEN r.price IS NOT NULL THEN r.price
                              ELSE classbill_internal.missing_rate(u.account, 'usage', u.mode, u.tier,
                                                          a.currency, u.day) END
                        )::classbill.drawdown_use) AS uses
    FROM classbill.usage_days AS u
    JOIN classbill.accounts AS a USING (account)
    LEFT JOIN classbill.rate_periods AS r
      ON r.product = 'usage' AND r.mode = u.mode AND r.tier = u.tier
     AND r.currency = a.currency AND u.day >= r.valid_from AND u.day < r.valid_to
    WHERE u.day < to_day AND (for_account IS NULL OR u.account = for_account) AND u.minutes > 0
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
  WHERE d.day >= from_day
$$;
COMMENT ON FUNCTION classbill_internal.usage_lines(date, date, text) IS
  'classbill.usage_lines without the checks of its arguments (from_day may be -infinity)';

CREATE FUNCTION classbill.usage_lines(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM classbill_internal.check_period(from_day, to_day);
  PERFORM classbill_internal.check_account(for_account);
  RETURN QUERY SELECT * FROM classbill_internal.usage_lines(from_day, to_day, for_account);
END $$;
COMMENT ON FUNCTION classbill.usage_lines(date, date, text) IS
  'Usage lines of the billing days [from, to): each day''s minutes drawn from packs (SPEC 3.5), the rest rated postpaid at the rate in effect that day (SPEC 3.2); a day with no rate is an error naming account, mode, tier and day';

CREATE FUNCTION classbill.pack_lines(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tz text := classbill.billing_timezone();
  missing record;
BEGIN
  PERFORM classbill_internal.check_period(from_day, to_day);
  PERFORM classbill_internal.check_account(for_account);
  SELECT k.pack_id, k.item, a.currency, (k.purchased_at AT TIME ZONE tz)::date AS day INTO missing
  FROM classbill.packs AS k JOIN classbill.accounts AS a USING (account)
  WHERE (k.purchased_at AT TIME ZONE tz)::date >= from_day AND (k.purchased_at AT TIME ZONE tz)::date < to_day
    AND (for_account IS NULL OR k.account = for_account)
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
  WHERE (k.purchased_at AT TIME ZONE tz)::date >= from_day AND (k.purchased_at AT TIME ZONE tz)::date < to_day
    AND (for_account IS NULL OR k.account = for_account);
END $$;
COMMENT ON FUNCTION classbill.pack_lines(date, date, text) IS
  'One line per pack bought in the billing days [from, to), at the catalog price in effect on its purchase day';

-- Pack balances, drawdown by day, forecast -----------------------------

CREATE FUNCTION classbill.pack_drawdown(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, tier classbill.tier, pack_id bigint, day date, minutes bigint,
               balance bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM classbill_internal.check_period(from_day, to_day);
  PERFORM classbill_internal.check_account(for_account);
  RETURN QUERY
  SELECT x.account, x.tier, x.pack_id, x.day, x.minutes, x.balance
  FROM (
    SELECT l.account, l.tier, l.pack_id, l.day, sum(l.quantity)::bigint AS minutes,
           (i.minutes - sum(sum(l.quantity)) OVER (PARTITION BY l.pack_id ORDER BY l.day))::bigint AS balance
    FROM classbill_internal.usage_lines('-infinity', to_day, for_account) AS l
    JOIN classbill.packs AS k ON k.pack_id = l.pack_id
    JOIN classbill.pack_items AS i ON i.item = k.item
    GROUP BY l.account, l.tier, l.pack_id, l.day, i.minutes) AS x
  WHERE x.day >= from_day
  ORDER BY x.account, x.tier, x.day, x.pack_id;
END $$;
COMMENT ON FUNCTION classbill.pack_drawdown(date, date, text) IS
  'Minutes each pack gave on each billing day of [from, to), and what it had left after the day';

CREATE FUNCTION classbill.pack_balances(as_of date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, tier classbill.tier, pack_id bigint, item text,
               purchased_at timestamptz, minutes bigint, used bigint, balance bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM classbill_internal.check_as_of(as_of, 'as_of');
  PERFORM classbill_internal.check_account(for_account);
  RETURN QUERY
  SELECT k.account, k.tier, k.pack_id, k.item, k.purchased_at, i.minutes,
         coalesce(u.used, 0), i.minutes - coalesce(u.used, 0)
  FROM classbill.packs AS k
  JOIN classbill.pack_items AS i ON i.item = k.item
  LEFT JOIN (SELECT l.pack_id, sum(l.quantity)::bigint AS used
             FROM classbill_internal.usage_lines('-infinity', as_of + 1, for_account) AS l
             WHERE l.pack_id IS NOT NULL GROUP BY l.pack_id) AS u ON u.pack_id = k.pack_id
  WHERE (for_account IS NULL OR k.account = for_account)
    AND (k.purchased_at AT TIME ZONE classbill.billing_timezone())::date <= as_of
  ORDER BY k.account, k.tier, k.purchased_at, k.pack_id;
END $$;
COMMENT ON FUNCTION classbill.pack_balances(date, text) IS
  'Every pack bought by the end of a billing day, with the minutes it had given and had left after that day';

CREATE FUNCTION classbill.pack_forecast(as_of date, window_days integer DEFAULT 30,
                                        for_account text DEFAULT NULL)
RETURNS TABLE (account text, tier classbill.tier, balance bigint, daily_burn numeric,
               days_left numeric, runs_out date)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM classbill_internal.check_as_of(as_of, 'as_of');
  PERFORM classbill_internal.check_window(window_days);
  PERFORM classbill_internal.check_account(for_account);
  RETURN QUERY
  SELECT b.account, b.tier, b.balance,
         round(coalesce(burn.minutes, 0) / window_days::numeric, 2),
         CASE WHEN coalesce(burn.minutes, 0) > 0
              THEN round(b.balance / (burn.minutes / window_days::numeric), 1) END,
         CASE WHEN coalesce(burn.minutes, 0) > 0
              THEN as_of + ceil(b.balance / (burn.minutes / window_days::numeric))::integer END
  FROM (SELECT pb.account, pb.tier, sum(pb.balance)::bigint AS balance
        FROM classbill.pack_balances(as_of, for_account) AS pb
        GROUP BY pb.account, pb.tier) AS b
  LEFT JOIN (SELECT u.account, u.tier, sum(u.minutes) AS minutes
             FROM classbill.usage_days AS u
             WHERE u.day > as_of - window_days AND u.day <= as_of
             GROUP BY u.account, u.tier) AS burn USING (account, tier)
  ORDER BY b.account, b.tier;
END $$;
COMMENT ON FUNCTION classbill.pack_forecast(date, integer, text) IS
  'When each account''s packs of each tier run out if the average daily minutes of the window_days days up to as_of go on (NULL when nothing was used); window_days must be 1 or more';
