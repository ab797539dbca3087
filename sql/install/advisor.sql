
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
CREATE FUNCTION classbill_internal.advisor_account(p_account text, p_from date, p_to date, p_growth numeric)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text;
BEGIN
  PERFORM classbill_internal.check_account(p_account, true);
  PERFORM classbill_internal.check_period(p_from, p_to);
  SELECT a.currency INTO cur FROM classbill.accounts AS a WHERE a.account = p_account;
  IF p_growth IS NULL OR p_growth < 0 THEN
    RAISE EXCEPTION 'growth factor % is not a number of times the past usage (0 or more)',
                    coalesce(p_growth::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  RETURN cur;
END $$;
COMMENT ON FUNCTION classbill_internal.advisor_account(text, date, date, numeric) IS
  'Internal to the advisor: the account''s currency, after checking the account, the period and the growth factor';

-- An account's usage of [from, to) per tier as drawdown input: each day's
-- minutes of each mode times the growth factor, rounded up to a minute,
-- with the postpaid rate in effect that day.
CREATE FUNCTION classbill.usage_profile(for_account text, from_day date, to_day date,
                                        growth numeric DEFAULT 1)
RETURNS TABLE (tier classbill.tier, minutes bigint, uses classbill.drawdown_use[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill_internal.advisor_account(for_account, from_day, to_day, growth);
BEGIN
  RETURN QUERY
  SELECT u.tier, sum(s.minutes)::bigint,
         array_agg(ROW(u.day, u.mode, s.minutes,
                       CASE WHEN r.price IS NOT NULL THEN r.price
                            ELSE classbill_internal.missing_rate(for_account, 'usage', u.mode, u.tier, cur, u.day) END
                      )::classbill.drawdown_use ORDER BY u.day, u.mode)
  FROM classbill.usage_days AS u
  CROSS JOIN LATERAL (SELECT ceil(u.minutes * growth)::bigint AS minutes) AS s
  LEFT JOIN classbill.rate_periods AS r
    ON r.product = 'usage' AND r.mode = u.mode AND r.tier = u.tier AND r.currency = cur
   AND u.day >= r.valid_from AND u.day < r.valid_to
  WHERE u.account = for_account AND u.day >= from_day AND u.day < to_day AND s.minutes > 0
  GROUP BY u.tier
  ORDER BY u.tier;
END $$;
COMMENT ON FUNCTION classbill.usage_profile(text, date, date, numeric) IS
  'An account''s usage of the billing days [from, to) per tier, as drawdown input: each day''s minutes per mode times the growth factor, rounded up, with the rate in effect that day (from classbill.usage_days)';

-- The packs of a tier on sale on a day, at their catalog price.
CREATE FUNCTION classbill.pack_offer(for_tier classbill.tier, currency text, day date)
RETURNS TABLE (item text, minutes bigint, price numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT i.item, i.minutes, p.price
  FROM classbill.pack_items AS i
  CROSS JOIN LATERAL (
    SELECT pp.price FROM classbill.pack_prices AS pp
    WHERE pp.item = i.item AND pp.currency = pack_offer.currency AND pp.valid_from <= pack_offer.day
    ORDER BY pp.valid_from DESC LIMIT 1) AS p
  WHERE i.tier = for_tier
  ORDER BY i.minutes DESC, i.item
$$;
COMMENT ON FUNCTION classbill.pack_offer(classbill.tier, text, date) IS
  'The catalog items of a tier with a price in the currency on the day, largest first';

-- Drawdown of one tier's profile with packs bought at the start.
CREATE FUNCTION classbill_internal.profile_drawdown(p_uses classbill.drawdown_use[],
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
COMMENT ON FUNCTION classbill_internal.profile_drawdown(classbill.drawdown_use[], classbill.drawdown_pack[]) IS
  'Minutes the packs cover, overage minutes and the overage amount of a usage profile (classbill.drawdown)';

-- Cost of history under each plan ---------------------------------------

CREATE FUNCTION classbill.plan_costs(for_account text, from_day date, to_day date,
                                     pack_mix classbill.pack_choice[] DEFAULT NULL)
RETURNS TABLE (scenario text, tier classbill.tier, minutes bigint, covered bigint, overage bigint,
               usage_amount numeric, pack_amount numeric, total numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill_internal.advisor_account(for_account, from_day, to_day, 1);
  n_days integer := to_day - from_day;
  bad record;
BEGIN
  -- as billed: the ledger when every day of the period is closed for the
  -- account, else the lines rated now
  IF (SELECT count(*) FROM classbill.closed_days AS cd
      WHERE cd.account = for_account AND cd.day >= from_day AND cd.day < to_day) = n_days THEN
    RETURN QUERY
    SELECT 'as billed (ledger)'::text, l.tier,
           sum(l.quantity) FILTER (WHERE l.product = 'usage')::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NOT NULL), 0)::bigint,
           coalesce(sum(l.quantity) FILTER (WHERE l.product = 'usage' AND l.pack_id IS NULL), 0)::bigint,
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'usage'), 0),
           coalesce(sum(l.amount) FILTER (WHERE l.product = 'pack'), 0),
           sum(l.amount)
    FROM classbill.ledger AS l
    WHERE l.account = for_account AND l.day >= from_day AND l.day < to_day AND l.product IN ('usage', 'pack')
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
    FROM (SELECT * FROM classbill.usage_lines(from_day, to_day, for_account)
          UNION ALL SELECT * FROM classbill.pack_lines(from_day, to_day, for_account)) AS l
    GROUP BY l.tier ORDER BY l.tier;
  END IF;

  -- all postpaid: the drawdown with no pack
  RETURN QUERY
  SELECT 'postpaid'::text, p.tier, p.minutes, d.covered, d.overage, d.overage_amount, 0::numeric,
         d.overage_amount
  FROM classbill.usage_profile(for_account, from_day, to_day) AS p,
       classbill_internal.profile_drawdown(p.uses, NULL) AS d;

  IF pack_mix IS NULL THEN
    RETURN;
  END IF;

  -- prepaid with the packs given, bought on the first day at their
  -- catalog prices
  SELECT c.item, c.count INTO bad FROM unnest(pack_mix) AS c
  WHERE c.count IS NULL OR c.count < 0
     OR NOT EXISTS (SELECT FROM classbill.pack_items AS i WHERE i.item = c.item) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'pack choice (%, %) names no catalog item, or a count below 0',
                    coalesce(bad.item, 'NULL'), coalesce(bad.count::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  SELECT c.item INTO bad FROM unnest(pack_mix) AS c JOIN classbill.pack_items AS i USING (item)
  WHERE c.count > 0 AND NOT EXISTS (SELECT FROM classbill.pack_offer(i.tier, cur, from_day) AS o
                                    WHERE o.item = c.item) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'no price for pack item "%" in % on %', bad.item, cur, from_day
      USING ERRCODE = 'P0002',
            HINT = 'Add the price to classbill.pack_prices, valid from that day or earlier.';
  END IF;

  RETURN QUERY
  WITH chosen AS (
    SELECT i.tier, c.item, c.count, i.minutes, o.price
    FROM unnest(pack_mix) AS c
    JOIN classbill.pack_items AS i USING (item)
    JOIN LATERAL classbill.pack_offer(i.tier, cur, from_day) AS o ON o.item = c.item
    WHERE c.count > 0),
  one_by_one AS (
    SELECT ch.tier, ch.minutes, ch.price, -row_number() OVER (ORDER BY ch.tier, ch.item) AS pack_id
    FROM chosen AS ch, generate_series(1, ch.count)),
  packs AS (
    SELECT b.tier,
           array_agg(ROW(b.pack_id, classbill.day_start(from_day), b.minutes)::classbill.drawdown_pack
                     ORDER BY b.pack_id DESC) AS packs,
           sum(b.price) AS amount
    FROM one_by_one AS b
    GROUP BY b.tier)
  SELECT 'prepaid with the packs given'::text, coalesce(p.tier, k.tier), coalesce(p.minutes, 0),
         coalesce(d.covered, 0), coalesce(d.overage, 0), coalesce(d.overage_amount, 0),
         coalesce(k.amount, 0), coalesce(d.overage_amount, 0) + coalesce(k.amount, 0)
  FROM classbill.usage_profile(for_account, from_day, to_day) AS p
  FULL JOIN packs AS k ON k.tier = p.tier
  LEFT JOIN LATERAL classbill_internal.profile_drawdown(p.uses, k.packs) AS d ON true
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
CREATE FUNCTION classbill.pack_mixes(for_account text, from_day date, to_day date, for_tier classbill.tier,
                                     growth numeric DEFAULT 1)
RETURNS TABLE (packs text, pack_count integer, capacity bigint, pack_amount numeric,
               minutes bigint, covered bigint, overage bigint, overage_amount numeric, total numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill_internal.advisor_account(for_account, from_day, to_day, growth);
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
  SELECT p.* INTO prof FROM classbill.usage_profile(for_account, from_day, to_day, growth) AS p
  WHERE p.tier = for_tier;
  IF NOT FOUND THEN
    prof := ROW(for_tier, 0::bigint, NULL::classbill.drawdown_use[]);
  END IF;
  SELECT array_agg(o.item ORDER BY o.minutes DESC, o.item), array_agg(o.minutes ORDER BY o.minutes DESC, o.item),
         array_agg(o.price ORDER BY o.minutes DESC, o.item)
  INTO items, sizes, prices
  FROM classbill.pack_offer(for_tier, cur, from_day) AS o;
  n_items := coalesce(cardinality(items), 0);

  -- no packs at all
  SELECT x.* INTO d FROM classbill_internal.profile_drawdown(prof.uses, NULL) AS x;
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
    FROM classbill_internal.profile_drawdown(prof.uses,
           ARRAY[ROW(0, classbill.day_start(from_day), k * unit)::classbill.drawdown_pack]) AS x;
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
CREATE FUNCTION classbill.present_peak_by_day(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, day date, peak integer, at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM classbill_internal.check_period(from_day, to_day);
  PERFORM classbill_internal.check_account(for_account);
  RETURN QUERY EXECUTE format($q$
    SELECT p.account, d.day, d.peak, d.at
    FROM (SELECT r.account::text AS account,
                 classbill.account_peak_by_day(e.room::text, e.participant::text, e.event::text, e.at) AS days
          FROM %1$s AS e JOIN %2$s AS r ON r.room = e.room
          WHERE ($5::text IS NULL OR r.account::text = $5)
            AND e.room IN (SELECT x.room FROM %1$s AS x WHERE x.at >= $1 AND x.at < $2)
          GROUP BY r.account) AS p,
         unnest(p.days) AS d
    WHERE d.day >= $3 AND d.day < $4
    $q$, classbill.source('events'), classbill.source('rooms'))
  USING classbill.day_start(from_day), classbill.day_start(to_day), from_day, to_day, for_account;
END $$;
COMMENT ON FUNCTION classbill.present_peak_by_day(date, date, text) IS
  'Per account (or the one given) and billing day of [from, to), the most participants present at once across its rooms and the first instant of it (SPEC 3.6)';

-- The account's peaks over a period, against the prepaid limits (SPEC 3.6).
CREATE FUNCTION classbill.peak_summary(for_account text, from_day date, to_day date,
  OUT stage_peak integer, OUT stage_room text, OUT stage_at timestamptz,
  OUT present_peak integer, OUT present_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM classbill_internal.check_account(for_account, true);
  PERFORM classbill_internal.check_period(from_day, to_day);
  IF NOT EXISTS (SELECT FROM classbill.sources AS s WHERE s.kind = 'events')
     OR NOT EXISTS (SELECT FROM classbill.sources AS s WHERE s.kind = 'rooms') THEN
    RETURN;
  END IF;
  SELECT classbill.stage_peak(v.usage), v.room, classbill.stage_peak_at(v.usage)
  INTO stage_peak, stage_room, stage_at
  FROM classbill.room_values(from_day, to_day) AS v
  WHERE v.account = for_account
  ORDER BY classbill.stage_peak(v.usage) DESC, classbill.stage_peak_at(v.usage), v.room
  LIMIT 1;
  SELECT pp.peak, pp.at INTO present_peak, present_at
  FROM classbill.present_peak_by_day(from_day, to_day, for_account) AS pp
  ORDER BY pp.peak DESC, pp.at LIMIT 1;
END $$;
COMMENT ON FUNCTION classbill.peak_summary(text, date, date) IS
  'The most on stage in one of the account''s rooms and the most present at once across its rooms in [from, to), with where and when (NULLs without events and rooms sources)';

-- The advice ---------------------------------------------------------------

-- Steps of plan_advice ------------------------------------------------------

-- Why prepaid would not fit an account over a period (SPEC 3.6), or NULL.
CREATE FUNCTION classbill_internal.prepaid_blockers(p_account text, p_from date, p_to date)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  lim record;
  pk record;
  blocked text;
BEGIN
  SELECT l.* INTO lim FROM classbill.plan_limits('prepaid') AS l;
  SELECT x.* INTO pk FROM classbill.peak_summary(p_account, p_from, p_to) AS x;
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
  RETURN blocked;
END $$;
COMMENT ON FUNCTION classbill_internal.prepaid_blockers(text, date, date) IS
  'Step of plan_advice: the peaks that keep an account from the prepaid plan over a period (SPEC 3.6), or NULL';

-- Of the mixes pack_mixes prices for a tier: the one of no packs and the
-- cheapest (the lowest total, then the smaller outlay, then the smaller
-- capacity).
CREATE FUNCTION classbill_internal.best_mix(p_account text, p_from date, p_to date, p_tier classbill.tier,
                                            p_growth numeric,
                                            OUT minutes bigint, OUT postpaid numeric, OUT postpaid_overage bigint,
                                            OUT postpaid_overage_amount numeric,
                                            OUT packs text, OUT pack_count integer, OUT pack_amount numeric,
                                            OUT overage bigint, OUT overage_amount numeric, OUT total numeric)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH x AS MATERIALIZED (SELECT * FROM classbill.pack_mixes(p_account, p_from, p_to, p_tier, p_growth))
  SELECT n.minutes, n.total, n.overage, n.overage_amount,
         b.packs, b.pack_count, b.pack_amount, b.overage, b.overage_amount, b.total
  FROM (SELECT * FROM x WHERE x.pack_count = 0 LIMIT 1) AS n,
       (SELECT * FROM x ORDER BY x.total, x.pack_amount, x.capacity LIMIT 1) AS b
$$;
COMMENT ON FUNCTION classbill_internal.best_mix(text, date, date, classbill.tier, numeric) IS
  'Step of plan_advice: for a tier, the cost with no packs and the cheapest pack mix';

-- From how many minutes of a tier each item pays for itself, and a larger
-- item beats a smaller one plus overage, at a mean rate per minute.
CREATE FUNCTION classbill_internal.break_even(p_tier classbill.tier, p_currency text, p_day date, p_mean numeric)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o record;
  prev_item text;
  prev_minutes bigint;
  prev_price numeric;
  notes text;
BEGIN
  IF p_mean IS NULL OR p_mean <= 0 THEN
    RETURN NULL;
  END IF;
  FOR o IN SELECT * FROM classbill.pack_offer(p_tier, p_currency, p_day) ORDER BY minutes LOOP
    notes := concat_ws('; ', notes,
                       format('%s pays for itself from %s min', o.item, to_char(ceil(o.price / p_mean), 'FM999,999,999,999')));
    IF prev_item IS NOT NULL AND o.price > prev_price THEN
      notes := concat_ws('; ', notes,
                         format('%s beats %s plus overage from %s min', o.item, prev_item,
                                to_char(ceil(prev_minutes + (o.price - prev_price) / p_mean), 'FM999,999,999,999')));
    END IF;
    prev_item := o.item; prev_minutes := o.minutes; prev_price := o.price;
  END LOOP;
  RETURN notes || format(' (at %s a minute, the mean rate of these minutes)', round(p_mean, 6));
END $$;
COMMENT ON FUNCTION classbill_internal.break_even(classbill.tier, text, date, numeric) IS
  'Step of plan_advice: the break-even volumes of a tier''s pack items at a mean rate per minute';

CREATE FUNCTION classbill.plan_advice(for_account text, from_day date, to_day date,
                                      growth numeric DEFAULT 1)
RETURNS TABLE (tier classbill.tier, minutes bigint, postpaid numeric, packs text,
               pack_amount numeric, overage bigint, overage_amount numeric, cheapest numeric,
               saving numeric, advice text, break_even text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur text := classbill_internal.advisor_account(for_account, from_day, to_day, growth);
  acct classbill.accounts;
  blocked text := classbill_internal.prepaid_blockers(for_account, from_day, to_day);
  t classbill.tier;
  m record;
  n_tiers integer := 0;
  sum_minutes bigint := 0;
  sum_post numeric := 0;
  sum_best numeric := 0;
  sum_packs numeric := 0;
  billed numeric;
  any_pack boolean := false;
BEGIN
  SELECT a.* INTO acct FROM classbill.accounts AS a WHERE a.account = for_account;

  -- per tier: the cheapest mix against postpaid
  FOR t IN SELECT p.tier FROM classbill.usage_profile(for_account, from_day, to_day, growth) AS p LOOP
    m := classbill_internal.best_mix(for_account, from_day, to_day, t, growth);
    n_tiers := n_tiers + 1;
    sum_minutes := sum_minutes + m.minutes;
    tier := t; minutes := m.minutes; postpaid := trim_scale(m.postpaid);
    IF blocked IS NULL AND m.pack_count > 0 AND m.total < m.postpaid THEN
      packs := m.packs; pack_amount := trim_scale(m.pack_amount); overage := m.overage;
      overage_amount := trim_scale(m.overage_amount); cheapest := trim_scale(m.total);
      saving := trim_scale(m.postpaid - m.total);
      advice := format('buy %s: %s instead of %s postpaid', m.packs, classbill.round_money(m.total, cur),
                       classbill.round_money(m.postpaid, cur));
      any_pack := true;
    ELSE
      packs := NULL; pack_amount := 0; overage := m.postpaid_overage;
      overage_amount := trim_scale(m.postpaid_overage_amount); cheapest := trim_scale(m.postpaid); saving := 0;
      advice := CASE
        WHEN blocked IS NOT NULL AND m.pack_count > 0 AND m.total < m.postpaid
          THEN format('postpaid: %s would cost %s instead of %s, but prepaid does not fit this account',
                      m.packs, classbill.round_money(m.total, cur), classbill.round_money(m.postpaid, cur))
        ELSE 'postpaid: no pack costs less than the minutes' END;
    END IF;
    break_even := classbill_internal.break_even(t, cur, from_day,
                                                CASE WHEN m.minutes > 0 THEN m.postpaid / m.minutes END);
    sum_post := sum_post + postpaid;
    sum_best := sum_best + cheapest;
    sum_packs := sum_packs + pack_amount;
    RETURN NEXT;
  END LOOP;

  -- the account: its plan, as billed, and the verdict
  SELECT sum(c.total) INTO billed FROM classbill.plan_costs(for_account, from_day, to_day) AS c
  WHERE c.scenario LIKE 'as billed%';
  tier := NULL; minutes := CASE WHEN n_tiers > 0 THEN sum_minutes END;
  packs := NULL; overage := NULL; overage_amount := NULL;
  cheapest := trim_scale(sum_best);
  postpaid := trim_scale(sum_post); pack_amount := trim_scale(sum_packs);
  saving := CASE WHEN growth = 1 THEN trim_scale(coalesce(billed, 0) - sum_best) END;
  advice := CASE
    WHEN blocked IS NOT NULL THEN format('postpaid: prepaid would not fit: %s', blocked)
    WHEN any_pack THEN format('prepaid with the packs above: %s instead of %s all postpaid',
                              classbill.round_money(sum_best, cur), classbill.round_money(sum_post, cur))
    ELSE 'postpaid: no pack would have saved anything' END
    || format(' (now %s%s)', acct.plan,
              CASE WHEN growth = 1 THEN format(', billed %s for these minutes and packs',
                                                 classbill.round_money(coalesce(billed, 0), cur))
                   ELSE format(', usage scaled by %s', growth) END);
  break_even := NULL;
  RETURN NEXT;
END $$;
COMMENT ON FUNCTION classbill.plan_advice(text, date, date, numeric) IS
  'Which plan and packs would have been cheapest for an account''s usage of [from, to), or for that usage times a growth factor: per tier the cheapest pack mix (exact), its cost against postpaid and the break-even volumes; then the account''s verdict, postpaid if its peaks break the prepaid limits (SPEC 3.6), and the saving against what it was billed';
