
-- ---------------------------------------------------------------------
-- Lines and statements: every product together (SPEC 6.1)
-- ---------------------------------------------------------------------

-- Storage and export lines come with their sources: an account that has
-- neither registered is billed for usage and packs alone.
CREATE FUNCTION classbill.rated_lines(from_day date, to_day date, for_account text DEFAULT NULL)
RETURNS SETOF classbill.line
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM classbill_internal.check_period(from_day, to_day);
  PERFORM classbill_internal.check_account(for_account);
  RETURN QUERY SELECT * FROM classbill.usage_lines(from_day, to_day, for_account);
  RETURN QUERY SELECT * FROM classbill.pack_lines(from_day, to_day, for_account);
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'recordings') THEN
    RETURN QUERY SELECT * FROM classbill.storage_lines(from_day, to_day, for_account);
  END IF;
  IF EXISTS (SELECT FROM classbill.sources WHERE kind = 'exports') THEN
    RETURN QUERY SELECT * FROM classbill.export_lines(from_day, to_day, for_account);
  END IF;
END $$;
COMMENT ON FUNCTION classbill.rated_lines(date, date, text) IS
  'Every rated line of the billing days [from, to), exact: usage with drawdown, packs bought, recording storage and MP4 exports (when their sources are registered)';

-- The first day of the month of a day, and the first of the next.
CREATE FUNCTION classbill_internal.month_of(p_month date, OUT first date, OUT next date)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_month IS NULL OR NOT isfinite(p_month) THEN
    RAISE EXCEPTION 'month % is not a date', coalesce(p_month::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Give any day of the month: ''2026-11-01''.';
  END IF;
  first := date_trunc('month', p_month)::date;
  next := (date_trunc('month', p_month) + interval '1 month')::date;
END $$;
COMMENT ON FUNCTION classbill_internal.month_of(date) IS
  'The first day of the month of a day and the first day of the next; an error for NULL or infinity';

-- How a quantity is shown beside its exact value: GB-months to six
-- places, minutes and packs whole.
CREATE FUNCTION classbill_internal.shown_quantity(p_quantity numeric, p_unit text)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN p_unit = 'GB-month' THEN round(p_quantity, 6) ELSE round(p_quantity, 0) END $$;
COMMENT ON FUNCTION classbill_internal.shown_quantity(numeric, text) IS
  'A quantity as people read it: GB-months to six decimal places, minutes and packs as whole numbers';

CREATE FUNCTION classbill.live_statement(in_month date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, month date, product text, tier classbill.tier,
               mode classbill.mode, quantity numeric, unit text, covered numeric,
               exact_amount numeric, amount numeric, currency text, rounded_quantity numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM classbill_internal.check_account(for_account);
  RETURN QUERY
  SELECT l.account, m.first, l.product, l.tier, l.mode,
         sum(l.quantity), min(l.unit),
         sum(l.quantity) FILTER (WHERE l.pack_id IS NOT NULL AND l.product = 'usage'),
         sum(l.amount), classbill.round_money(sum(l.amount), l.currency), l.currency,
         classbill_internal.shown_quantity(sum(l.quantity), min(l.unit))
  FROM classbill_internal.month_of(in_month) AS m,
       LATERAL classbill.rated_lines(m.first, m.next, for_account) AS l
  GROUP BY l.account, l.currency, l.product, l.tier, l.mode, m.first
  ORDER BY l.account, l.product, l.tier, l.mode;
END $$;
COMMENT ON FUNCTION classbill.live_statement(date, text) IS
  'A month''s statement lines computed now from the sources, per account, product, tier and mode: the exact sum of its days, rounded once to the currency''s minor unit, half away from zero (SPEC 6.1); a statement''s total is the sum of its rounded lines';


-- Statements of closed days (SPEC 7.1, 7.3) ----------------------------------

CREATE FUNCTION classbill.statement(in_month date, for_account text DEFAULT NULL)
RETURNS TABLE (account text, month date, product text, tier classbill.tier, mode classbill.mode,
               quantity numeric, unit text, covered numeric, adjusted numeric,
               exact_amount numeric, amount numeric, currency text,
               rounded_quantity numeric, rounded_adjusted numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM classbill_internal.check_account(for_account);
  RETURN QUERY
  SELECT l.account, m.first, l.product, l.tier, l.mode,
         sum(l.quantity), min(l.unit),
         sum(l.quantity) FILTER (WHERE l.pack_id IS NOT NULL AND l.product = 'usage'),
         sum(l.amount) FILTER (WHERE l.corrects IS NOT NULL),
         sum(l.amount), classbill.round_money(sum(l.amount), l.currency), l.currency,
         classbill_internal.shown_quantity(sum(l.quantity), min(l.unit)),
         classbill.round_money(sum(l.amount) FILTER (WHERE l.corrects IS NOT NULL), l.currency)
  FROM classbill_internal.month_of(in_month) AS m
  JOIN classbill.ledger AS l ON l.day >= m.first AND l.day < m.next
  WHERE for_account IS NULL OR l.account = for_account
  GROUP BY l.account, l.currency, l.product, l.tier, l.mode, m.first
  ORDER BY l.account, l.product, l.tier, l.mode;
END $$;
COMMENT ON FUNCTION classbill.statement(date, text) IS
  'A month''s statement from its closed days: per account, product, tier and mode, the exact sum of the ledger lines dated in the month (adjustments included; adjusted: their share), rounded once to the currency''s minor unit (amount, rounded_adjusted; SPEC 6.1, 7.1), quantities exact and as read (rounded_quantity); the total is the sum of the rounded lines';

CREATE FUNCTION classbill.statement_text(in_month date, for_account text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  m record;
  acct record;
  r record;
  out text;
  total numeric := 0;
  closed integer;
  days integer;
  currencies text[];
BEGIN
  SELECT * INTO m FROM classbill_internal.month_of(in_month);
  days := m.next - m.first;
  PERFORM classbill_internal.check_account(for_account, true);
  SELECT * INTO acct FROM classbill.accounts AS a WHERE a.account = for_account;
  -- SPEC 6.1: one account, one currency; a total of two is no total
  SELECT array_agg(DISTINCT l.currency) INTO currencies FROM classbill.ledger AS l
  WHERE l.account = for_account AND l.day >= m.first AND l.day < m.next;
  IF cardinality(currencies) > 1 THEN
    RAISE EXCEPTION 'account "%" has lines in % currencies in %: %', for_account, cardinality(currencies),
                    to_char(m.first, 'FMMonth YYYY'), array_to_string(currencies, ', ')
      USING ERRCODE = '22023', DETAIL = 'One account bills in one currency (SPEC 6.1).';
  END IF;
  SELECT count(*) INTO closed FROM classbill.closed_days AS cd
  WHERE cd.account = for_account AND cd.day >= m.first AND cd.day < m.next;

  out := format(E'Statement  %s (%s)\n', coalesce(acct.name, acct.account), acct.account)
      || format(E'Month      %s, %s plan, %s\n', to_char(m.first, 'FMMonth YYYY'), acct.plan, acct.currency)
      || format(E'Closed     %s of %s billing days (%s)\n\n', closed, days,
                classbill.billing_timezone())
      || format(E'%-8s %-5s %-4s %18s %-9s %16s %12s\n', 'product', 'tier', 'mode', 'quantity', 'unit',
                'of which packs', 'amount')
      || repeat('-', 78) || E'\n';
  FOR r IN SELECT * FROM classbill.statement(m.first, for_account) LOOP
    out := out || format(E'%-8s %-5s %-4s %18s %-9s %16s %12s\n',
                         r.product, coalesce(r.tier::text, ''), coalesce(r.mode::text, ''),
                         CASE WHEN r.unit = 'GB-month' THEN to_char(r.rounded_quantity, 'FM999G999G990D000000')
                              ELSE to_char(r.rounded_quantity, 'FM999G999G999G990') END,
                         r.unit,
                         coalesce(to_char(r.covered, 'FM999G999G999G990'), ''),
                         classbill_internal.money_text(r.amount, r.currency));
    total := total + r.amount;
  END LOOP;
  out := out || repeat('-', 78) || E'\n'
      || format(E'%-65s %12s\n', 'total ' || acct.currency, classbill_internal.money_text(total, acct.currency));
  IF EXISTS (SELECT FROM classbill.ledger AS l WHERE l.account = for_account AND l.corrects IS NOT NULL
             AND l.day >= m.first AND l.day < m.next) THEN
    out := out || E'\nIncludes adjustments for rows that arrived after their day was closed (SPEC 7.2).\n';
  END IF;
  RETURN out;
END $$;
COMMENT ON FUNCTION classbill.statement_text(date, text) IS
  'A month''s statement of an account as readable text (psql: \pset format unaligned, or SELECT ... \gx)';

-- Money as people read it: rounded to the currency's minor unit, with
-- group separators.
CREATE FUNCTION classbill_internal.money_text(p_amount numeric, p_currency text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT to_char(classbill.round_money(p_amount, p_currency),
                 'FM999G999G999G990' || CASE WHEN classbill.minor_unit(p_currency) > 0
                                             THEN 'D' || repeat('0', classbill.minor_unit(p_currency)) ELSE '' END)
$$;
COMMENT ON FUNCTION classbill_internal.money_text(numeric, text) IS
  'An amount rounded once to its currency''s minor unit and written with group separators (1,234.50; JPY 1,235)';

-- Explaining a line (SPEC 7.3) ------------------------------------------------

CREATE FUNCTION classbill_internal.explain_usage(p_line classbill.ledger)
RETURNS TABLE (what text, detail text, quantity numeric, amount numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l classbill.ledger := p_line;
  for_day date := coalesce(p_line.corrects, p_line.day);
  was numeric;
  now numeric;
BEGIN
  -- the group's presence that day, before this close and as it billed it
  SELECT u.seconds INTO was FROM classbill.ledger_usage AS u
  WHERE u.close_id < l.close_id AND u.account = l.account AND u.tier = l.tier AND u.mode = l.mode
    AND u.day = for_day
  ORDER BY u.close_id DESC LIMIT 1;
  SELECT u.seconds INTO now FROM classbill.ledger_usage AS u
  WHERE u.close_id = l.close_id AND u.account = l.account AND u.tier = l.tier AND u.mode = l.mode
    AND u.day = for_day;
  IF l.corrects IS NOT NULL THEN
    RETURN QUERY SELECT 'before'::text,
      format('%s %s presence on %s billed before: %s s, %s minutes', l.tier, l.mode, for_day,
             coalesce(was, 0), classbill_internal.minutes_of(coalesce(was, 0))),
      classbill_internal.minutes_of(coalesce(was, 0)), NULL::numeric;
    IF now IS NOT NULL THEN
      RETURN QUERY SELECT 'after'::text,
        format('%s %s presence on %s now: %s s, rounded up to %s minutes (SPEC 1.7): %s minutes %s',
               l.tier, l.mode, for_day, now, classbill_internal.minutes_of(now), abs(classbill_internal.minutes_of(now) - classbill_internal.minutes_of(coalesce(was, 0))),
               CASE WHEN classbill_internal.minutes_of(now) >= classbill_internal.minutes_of(coalesce(was, 0)) THEN 'more' ELSE 'fewer' END),
        classbill_internal.minutes_of(now), NULL::numeric;
    ELSE
      RETURN QUERY SELECT 'after'::text,
        format('the overage of %s was drawn from a pack recorded late (SPEC 7.2)', for_day),
        NULL::numeric, NULL::numeric;
    END IF;
    -- the rooms this close found changed in the group, before and after
    RETURN QUERY
    SELECT 'room'::text,
           format('room %s: %s s before, %s s now%s', r.room, coalesce(p.seconds, 0), r.seconds,
                  CASE WHEN p.account IS DISTINCT FROM r.account OR p.tier IS DISTINCT FROM r.tier
                            OR p.mode IS DISTINCT FROM r.mode
                       THEN format(' (billed before as %s %s %s)', coalesce(p.account, 'nothing'), p.tier, p.mode)
                       ELSE '' END),
           r.seconds, NULL::numeric
    FROM classbill.ledger_rooms AS r
    LEFT JOIN LATERAL (SELECT x.* FROM classbill.ledger_rooms AS x
                       WHERE x.room = r.room AND x.day = r.day AND x.close_id < r.close_id
                       ORDER BY x.close_id DESC LIMIT 1) AS p ON true
    WHERE r.close_id = l.close_id AND r.day = for_day
      AND ((r.account, r.tier, r.mode) = (l.account, l.tier, l.mode)
           OR (p.account, p.tier, p.mode) = (l.account, l.tier, l.mode))
    ORDER BY r.room;
  ELSE
    RETURN QUERY SELECT 'billed'::text,
      format('%s %s presence on %s: %s s, rounded up to %s minutes (SPEC 1.7)', l.tier, l.mode, for_day,
             coalesce(now, 0), classbill_internal.minutes_of(coalesce(now, 0))),
      classbill_internal.minutes_of(coalesce(now, 0)), NULL::numeric;
    -- the group's rooms that day as this close billed them
    RETURN QUERY
    SELECT 'room'::text, format('room %s: %s s (%s min on its own)', r.room, r.seconds, classbill_internal.minutes_of(r.seconds)),
           r.seconds, NULL::numeric
    FROM (SELECT DISTINCT ON (x.room) x.* FROM classbill.ledger_rooms AS x
          WHERE x.day = for_day AND x.close_id <= l.close_id
            AND x.room IN (SELECT y.room FROM classbill.ledger_rooms AS y
                           WHERE y.day = for_day AND y.account = l.account AND y.close_id <= l.close_id)
          ORDER BY x.room, x.close_id DESC) AS r
    WHERE (r.account, r.tier, r.mode) = (l.account, l.tier, l.mode) AND r.seconds > 0
    ORDER BY r.seconds DESC, r.room;
  END IF;
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
END $$;
COMMENT ON FUNCTION classbill_internal.explain_usage(classbill.ledger) IS
  'Step of explain: a usage line''s presence (before and after, for an adjustment), its rooms and its pack';

CREATE FUNCTION classbill_internal.explain_storage(p_line classbill.ledger)
RETURNS TABLE (what text, detail text, quantity numeric, amount numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l classbill.ledger := p_line;
  for_day date := coalesce(p_line.corrects, p_line.day);
BEGIN
  IF l.corrects IS NOT NULL THEN
    RETURN QUERY
    SELECT 'before'::text,
           format('%s billed before: %s byte-marks, %s GB-month', for_day, coalesce(s.byte_marks, 0),
                  round(classbill.gb_months(coalesce(s.byte_marks, 0), coalesce(s.marks, 288)), 9)),
           coalesce(s.byte_marks, 0), NULL::numeric
    FROM (SELECT NULL) AS dummy
    LEFT JOIN LATERAL (SELECT x.* FROM classbill.ledger_storage AS x
                       WHERE x.account = l.account AND x.day = for_day AND x.close_id < l.close_id
                       ORDER BY x.close_id DESC LIMIT 1) AS s ON true;
  END IF;
  RETURN QUERY
  SELECT CASE WHEN l.corrects IS NULL THEN 'billed' ELSE 'after' END,
         format('%s: %s byte-marks over %s marks = %s GB, %s GB-month', for_day, s.byte_marks, s.marks,
                round(s.byte_marks / (s.marks * classbill_internal.bytes_per_gb()), 6),
                round(classbill.gb_months(s.byte_marks, s.marks), 9)),
         s.byte_marks, NULL::numeric
  FROM classbill.ledger_storage AS s
  WHERE s.close_id = l.close_id AND s.account = l.account AND s.day = for_day;
END $$;
COMMENT ON FUNCTION classbill_internal.explain_storage(classbill.ledger) IS
  'Step of explain: a storage line''s byte-marks (before and after, for an adjustment)';

CREATE FUNCTION classbill_internal.explain_export(p_line classbill.ledger)
RETURNS TABLE (what text, detail text, quantity numeric, amount numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l classbill.ledger := p_line;
  for_day date := coalesce(p_line.corrects, p_line.day);
BEGIN
  IF l.corrects IS NOT NULL THEN
    RETURN QUERY
    SELECT 'before'::text,
           format('%s billed before: %s s processed, %s minutes', for_day, coalesce(e.seconds, 0),
                  classbill_internal.minutes_of(coalesce(e.seconds, 0))),
           coalesce(e.seconds, 0), NULL::numeric
    FROM (SELECT NULL) AS dummy
    LEFT JOIN LATERAL (SELECT x.* FROM classbill.ledger_exports AS x
                       WHERE x.account = l.account AND x.day = for_day AND x.close_id < l.close_id
                       ORDER BY x.close_id DESC LIMIT 1) AS e ON true;
  END IF;
  RETURN QUERY
  SELECT CASE WHEN l.corrects IS NULL THEN 'billed' ELSE 'after' END,
         format('%s: %s s processed, rounded up to %s minutes (SPEC 5.1)', for_day, e.seconds, classbill_internal.minutes_of(e.seconds)),
         e.seconds, NULL::numeric
  FROM classbill.ledger_exports AS e
  WHERE e.close_id = l.close_id AND e.account = l.account AND e.day = for_day;
END $$;
COMMENT ON FUNCTION classbill_internal.explain_export(classbill.ledger) IS
  'Step of explain: an export line''s processed time (before and after, for an adjustment)';

CREATE FUNCTION classbill_internal.explain_pack(p_line classbill.ledger)
RETURNS TABLE (what text, detail text, quantity numeric, amount numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l classbill.ledger := p_line;
  for_day date := coalesce(p_line.corrects, p_line.day);
BEGIN
  RETURN QUERY
  SELECT 'price'::text, format('catalog price of %s in %s from %s: %s', p.item, p.currency, p.valid_from,
                               classbill_internal.money_text(p.price, p.currency)),
         p.price, NULL::numeric
  FROM classbill.pack_prices AS p
  WHERE p.item = l.item AND p.currency = l.currency AND p.valid_from <= for_day
  ORDER BY p.valid_from DESC LIMIT 1;
END $$;
COMMENT ON FUNCTION classbill_internal.explain_pack(classbill.ledger) IS
  'Step of explain: a pack line''s catalog price';

CREATE FUNCTION classbill_internal.explain_rate(p_line classbill.ledger)
RETURNS TABLE (what text, detail text, quantity numeric, amount numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l classbill.ledger := p_line;
  for_day date := coalesce(p_line.corrects, p_line.day);
  rate classbill.rate_periods;
BEGIN
  IF l.product = 'usage' THEN
    SELECT * INTO rate FROM classbill.rate_periods AS rp
    WHERE rp.product = 'usage' AND rp.mode = l.mode AND rp.tier = l.tier AND rp.currency = l.currency
      AND for_day >= rp.valid_from AND for_day < rp.valid_to;
  ELSIF l.product = 'storage' THEN
    SELECT * INTO rate FROM classbill.rate_periods AS rp
    WHERE rp.product = 'storage' AND rp.currency = l.currency AND for_day >= rp.valid_from AND for_day < rp.valid_to;
  ELSIF l.product = 'export' THEN
    SELECT * INTO rate FROM classbill.rate_periods AS rp
    WHERE rp.product = 'export' AND rp.currency = l.currency AND for_day >= rp.valid_from AND for_day < rp.valid_to;
  END IF;
  IF rate.price IS NOT NULL THEN
    RETURN QUERY SELECT 'rate'::text,
      format('%s %s%s%s from %s: %s a %s', rate.product, coalesce(rate.mode::text || ' ', ''),
             coalesce(rate.tier::text || ' ', ''), rate.currency, rate.valid_from, rate.price,
             CASE rate.product WHEN 'storage' THEN 'GB-month' ELSE 'minute' END),
      rate.price, NULL::numeric;
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.explain_rate(classbill.ledger) IS
  'Step of explain: the rate in effect on the day a usage, storage or export line bills';

CREATE FUNCTION classbill.explain(line_id bigint)
RETURNS TABLE (what text, detail text, quantity numeric, amount numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l classbill.ledger;
BEGIN
  SELECT * INTO l FROM classbill.ledger AS x WHERE x.line_id = explain.line_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no ledger line %', coalesce(explain.line_id::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Line ids are classbill.ledger.line_id.';
  END IF;

  RETURN QUERY SELECT 'line'::text,
    format('%s of account %s, billing day %s%s: %s %s, %s %s',
           concat_ws(' ', l.product, l.tier, l.mode,
                     CASE WHEN l.pack_id IS NOT NULL AND l.product = 'usage' THEN format('from pack %s', l.pack_id) END),
           l.account, l.day,
           CASE WHEN l.corrects IS NULL THEN '' ELSE format(', adjusting %s for rows that changed after it closed', l.corrects) END,
           classbill_internal.shown_quantity(l.quantity, l.unit),
           l.unit || CASE WHEN abs(l.quantity) = 1 THEN '' ELSE 's' END,
           classbill_internal.money_text(l.amount, l.currency), l.currency),
    l.quantity, l.amount;

  CASE l.product
    WHEN 'usage' THEN RETURN QUERY SELECT * FROM classbill_internal.explain_usage(l);
    WHEN 'storage' THEN RETURN QUERY SELECT * FROM classbill_internal.explain_storage(l);
    WHEN 'export' THEN RETURN QUERY SELECT * FROM classbill_internal.explain_export(l);
    WHEN 'pack' THEN RETURN QUERY SELECT * FROM classbill_internal.explain_pack(l);
    ELSE NULL;
  END CASE;
  RETURN QUERY SELECT * FROM classbill_internal.explain_rate(l);
END $$;
COMMENT ON FUNCTION classbill.explain(bigint) IS
  'Explain a ledger line down to what it billed (SPEC 7.3): the day''s presence and its rooms with their minutes, the pack and its balance, the storage or export basis, the rate or price in effect; for an adjustment, what was billed before and after, and the rooms that changed';
