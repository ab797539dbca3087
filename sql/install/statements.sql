
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
