
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

