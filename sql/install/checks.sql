
-- ---------------------------------------------------------------------
-- Guard rails on the tables users fill (SPEC 3.3, 6.1, 8.4)
--
-- Each trigger names the table, the row and the bad value, and says what
-- to do instead.  What is fixed once billed stays fixed: an account's
-- currency and name, a catalog item's tier and minutes, a pack billed or
-- drawn from.
-- ---------------------------------------------------------------------

CREATE FUNCTION classbill_internal.check_currency(p_currency text, p_table text, p_row jsonb,
                                                  p_keys text[])
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM classbill.minor_unit(p_currency);
EXCEPTION WHEN invalid_parameter_value THEN
  RAISE EXCEPTION 'unknown currency "%"', p_currency
    USING ERRCODE = '22023',
          DETAIL = classbill_internal.describe(p_table, p_row, p_keys),
          HINT = 'Use an ISO 4217 code classbill knows, or add the currency to classbill.currencies with its minor unit.';
END $$;
COMMENT ON FUNCTION classbill_internal.check_currency(text, text, jsonb, text[]) IS
  'Refuse a currency classbill does not know (no minor unit), naming the row';

CREATE FUNCTION classbill_internal.check_accounts() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  keys text[] := ARRAY['account', 'plan', 'currency'];
  in_use text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    in_use := classbill_internal.account_in_use(OLD.account);
  END IF;
  IF TG_OP = 'DELETE' THEN
    IF in_use IS NOT NULL THEN
      RAISE EXCEPTION 'account "%" has %: it cannot be deleted', OLD.account, in_use
        USING ERRCODE = '55000',
              DETAIL = classbill_internal.describe('accounts', to_jsonb(OLD), keys),
              HINT = 'An account that was billed stays; set its plan, or stop its rooms.';
    END IF;
    RETURN OLD;
  END IF;
  IF NEW.account IS NULL OR NEW.account = '' OR NEW.account <> btrim(NEW.account) THEN
    RAISE EXCEPTION 'account name % is empty or has blanks around it', coalesce(quote_literal(NEW.account), 'NULL')
      USING ERRCODE = '22023',
            DETAIL = classbill_internal.describe('accounts', to_jsonb(NEW), keys),
            HINT = 'Use the account''s application id exactly as the rooms source names it.';
  END IF;
  PERFORM classbill_internal.check_currency(NEW.currency, 'accounts', to_jsonb(NEW), keys);
  IF TG_OP = 'UPDATE' AND in_use IS NOT NULL THEN
    IF NEW.account IS DISTINCT FROM OLD.account THEN
      RAISE EXCEPTION 'account "%" has %: it cannot be renamed to "%"', OLD.account, in_use, NEW.account
        USING ERRCODE = '55000',
              DETAIL = classbill_internal.describe('accounts', to_jsonb(OLD), keys),
              HINT = 'The ledger names accounts as they were billed; add a new account instead.';
    END IF;
    IF NEW.currency IS DISTINCT FROM OLD.currency THEN
      RAISE EXCEPTION 'account "%" already bills in % (it has %); it cannot change to %',
                      OLD.account, OLD.currency, in_use, NEW.currency
        USING ERRCODE = '22023',
              DETAIL = 'Mixing currencies in one account is an error (SPEC 6.1).',
              HINT = 'Open a new account for the new currency.';
    END IF;
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION classbill_internal.check_accounts() IS
  'Trigger of classbill.accounts: a non-empty name, a known currency; an account with closed days, lines, packs or stored usage keeps its name and currency and is not deleted (SPEC 6.1)';

CREATE TRIGGER check_accounts BEFORE INSERT OR UPDATE OR DELETE ON classbill.accounts
FOR EACH ROW EXECUTE FUNCTION classbill_internal.check_accounts();

-- The last billing day the ledger priced with a rate card key in the days
-- [p_from, p_to), or NULL.  Usage lines of a tier count for both modes:
-- the rates of a tier's two modes decide which one packs cover first
-- (SPEC 3.5).
CREATE FUNCTION classbill_internal.rate_billed_until(p_product classbill.product, p_tier classbill.tier,
                                                     p_currency text, p_from date, p_to date)
RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT max(coalesce(l.corrects, l.day)) FROM classbill.ledger AS l
  WHERE l.product = p_product::text AND l.currency = p_currency
    AND (p_product <> 'usage' OR l.tier = p_tier)
    AND coalesce(l.corrects, l.day) >= p_from AND coalesce(l.corrects, l.day) < p_to
$$;
COMMENT ON FUNCTION classbill_internal.rate_billed_until(classbill.product, classbill.tier, text, date, date) IS
  'The last billing day of [from, to) with closed lines a rate card key priced (usage: either mode of the tier), or NULL';

-- A rate card row in effect on billed days is fixed: changing it would
-- make closed lines disagree with the rate explain shows (SPEC 7.3).
CREATE FUNCTION classbill_internal.check_rate_unbilled(p_row classbill.rates, p_skip classbill.rates, p_op text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  next_from date;
  billed date;
BEGIN
  SELECT min(r.valid_from) INTO next_from FROM classbill.rates AS r
  WHERE r.product = p_row.product AND r.mode IS NOT DISTINCT FROM p_row.mode
    AND r.tier IS NOT DISTINCT FROM p_row.tier AND r.currency = p_row.currency
    AND r.valid_from > p_row.valid_from
    AND (p_skip IS NULL OR (r.product, r.mode, r.tier, r.currency, r.valid_from)
                           IS DISTINCT FROM (p_skip.product, p_skip.mode, p_skip.tier, p_skip.currency, p_skip.valid_from));
  billed := classbill_internal.rate_billed_until(p_row.product, p_row.tier, p_row.currency, p_row.valid_from,
                                                 coalesce(next_from, 'infinity'));
  IF billed IS NOT NULL THEN
    RAISE EXCEPTION 'the % rate in effect from % priced closed lines up to %: it cannot be %',
                    concat_ws(' ', p_row.product, p_row.mode, p_row.tier, p_row.currency), p_row.valid_from, billed,
                    CASE p_op WHEN 'INSERT' THEN 'replaced from that day' WHEN 'DELETE' THEN 'deleted' ELSE 'changed' END
      USING ERRCODE = '55000',
            DETAIL = classbill_internal.describe('rates', to_jsonb(p_row),
                                                 ARRAY['product', 'mode', 'tier', 'currency', 'valid_from', 'price']),
            HINT = format('Closed days keep the rates they were billed at; add a row valid from %s or later.', billed + 1);
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.check_rate_unbilled(classbill.rates, classbill.rates, text) IS
  'Refuse a change to the rate card that would change the rate of days the ledger has priced (SPEC 3.3, 7.3)';

CREATE FUNCTION classbill_internal.check_rates() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  keys text[] := ARRAY['product', 'mode', 'tier', 'currency', 'valid_from', 'price'];
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE')
     AND (TG_OP = 'DELETE' OR (NEW.product, NEW.mode, NEW.tier, NEW.currency, NEW.valid_from, NEW.price)
                              IS DISTINCT FROM (OLD.product, OLD.mode, OLD.tier, OLD.currency, OLD.valid_from, OLD.price)) THEN
    PERFORM classbill_internal.check_rate_unbilled(OLD, NULL, TG_OP);
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  PERFORM classbill_internal.check_price(NEW.price, 'rates', to_jsonb(NEW), keys);
  PERFORM classbill_internal.check_day(NEW.valid_from, 'valid_from', 'rates', to_jsonb(NEW), keys);
  PERFORM classbill_internal.check_currency(NEW.currency, 'rates', to_jsonb(NEW), keys);
  IF (NEW.product = 'usage') IS DISTINCT FROM (NEW.mode IS NOT NULL AND NEW.tier IS NOT NULL)
     OR (NEW.product <> 'usage' AND (NEW.mode IS NOT NULL OR NEW.tier IS NOT NULL)) THEN
    RAISE EXCEPTION 'a % rate %', NEW.product,
                    CASE WHEN NEW.product = 'usage' THEN 'needs a mode and a tier'
                         ELSE 'has no mode and no tier' END
      USING ERRCODE = '22023',
            DETAIL = classbill_internal.describe('rates', to_jsonb(NEW), keys),
            HINT = 'Usage is priced per minute by mode and tier; storage per GB-month and export per minute have neither.';
  END IF;
  IF TG_OP = 'INSERT' OR (NEW.product, NEW.mode, NEW.tier, NEW.currency, NEW.valid_from, NEW.price)
                         IS DISTINCT FROM (OLD.product, OLD.mode, OLD.tier, OLD.currency, OLD.valid_from, OLD.price) THEN
    PERFORM classbill_internal.check_rate_unbilled(NEW, CASE WHEN TG_OP = 'UPDATE' THEN OLD END, TG_OP);
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION classbill_internal.check_rates() IS
  'Trigger of classbill.rates: a finite price of at most six decimals, a finite valid_from, a known currency, mode and tier for usage only (SPEC 3.3); a row that priced closed lines is fixed (SPEC 7.3)';

CREATE TRIGGER check_rates BEFORE INSERT OR UPDATE OR DELETE ON classbill.rates
FOR EACH ROW EXECUTE FUNCTION classbill_internal.check_rates();

CREATE FUNCTION classbill_internal.check_pack_items() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  keys text[] := ARRAY['item', 'tier', 'minutes'];
  packs bigint;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT count(*) INTO packs FROM classbill.packs AS k WHERE k.item = OLD.item;
    IF packs > 0 AND (TG_OP = 'DELETE' OR NEW.item IS DISTINCT FROM OLD.item
                      OR NEW.tier IS DISTINCT FROM OLD.tier OR NEW.minutes IS DISTINCT FROM OLD.minutes) THEN
      RAISE EXCEPTION 'pack item "%" has % pack(s): its name, tier and minutes are fixed', OLD.item, packs
        USING ERRCODE = '55000',
              DETAIL = classbill_internal.describe('pack_items', to_jsonb(OLD), keys),
              HINT = 'Changing them would change the balance of every pack of the item (SPEC 8.4); add a new item instead.';
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  IF NEW.minutes IS NULL OR NEW.minutes <= 0 THEN
    RAISE EXCEPTION 'pack item "%" must give minutes, not %', NEW.item, coalesce(NEW.minutes::text, 'NULL')
      USING ERRCODE = '22023',
            DETAIL = classbill_internal.describe('pack_items', to_jsonb(NEW), keys),
            HINT = 'The product sells packs of 120,000 and 240,000 minutes.';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION classbill_internal.check_pack_items() IS
  'Trigger of classbill.pack_items: minutes above 0; an item with packs keeps its name, tier and minutes (SPEC 8.4)';

CREATE TRIGGER check_pack_items BEFORE INSERT OR UPDATE OR DELETE ON classbill.pack_items
FOR EACH ROW EXECUTE FUNCTION classbill_internal.check_pack_items();

-- A catalog price in effect on the purchase day of a billed pack is fixed.
CREATE FUNCTION classbill_internal.check_pack_price_unbilled(p_row classbill.pack_prices,
                                                             p_skip classbill.pack_prices, p_op text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  next_from date;
  billed date;
BEGIN
  SELECT min(pp.valid_from) INTO next_from FROM classbill.pack_prices AS pp
  WHERE pp.item = p_row.item AND pp.currency = p_row.currency AND pp.valid_from > p_row.valid_from
    AND (p_skip IS NULL OR (pp.item, pp.currency, pp.valid_from)
                           IS DISTINCT FROM (p_skip.item, p_skip.currency, p_skip.valid_from));
  SELECT max(l.day) INTO billed FROM classbill.ledger AS l
  WHERE l.product = 'pack' AND l.item = p_row.item AND l.currency = p_row.currency
    AND l.day >= p_row.valid_from AND l.day < coalesce(next_from, 'infinity');
  IF billed IS NOT NULL THEN
    RAISE EXCEPTION 'the % price of pack item "%" in effect from % priced packs billed up to %: it cannot be %',
                    p_row.currency, p_row.item, p_row.valid_from, billed,
                    CASE p_op WHEN 'INSERT' THEN 'replaced from that day' WHEN 'DELETE' THEN 'deleted' ELSE 'changed' END
      USING ERRCODE = '55000',
            DETAIL = classbill_internal.describe('pack_prices', to_jsonb(p_row),
                                                 ARRAY['item', 'currency', 'valid_from', 'price']),
            HINT = format('Billed packs keep the price they were billed at; add a row valid from %s or later.', billed + 1);
  END IF;
END $$;
COMMENT ON FUNCTION classbill_internal.check_pack_price_unbilled(classbill.pack_prices, classbill.pack_prices, text) IS
  'Refuse a change to pack prices that would change the price of packs the ledger has billed (SPEC 7.3)';

CREATE FUNCTION classbill_internal.check_pack_prices() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  keys text[] := ARRAY['item', 'currency', 'valid_from', 'price'];
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE')
     AND (TG_OP = 'DELETE' OR (NEW.item, NEW.currency, NEW.valid_from, NEW.price)
                              IS DISTINCT FROM (OLD.item, OLD.currency, OLD.valid_from, OLD.price)) THEN
    PERFORM classbill_internal.check_pack_price_unbilled(OLD, NULL, TG_OP);
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  PERFORM classbill_internal.check_price(NEW.price, 'pack_prices', to_jsonb(NEW), keys);
  PERFORM classbill_internal.check_day(NEW.valid_from, 'valid_from', 'pack_prices', to_jsonb(NEW), keys);
  PERFORM classbill_internal.check_currency(NEW.currency, 'pack_prices', to_jsonb(NEW), keys);
  IF TG_OP = 'INSERT' OR (NEW.item, NEW.currency, NEW.valid_from, NEW.price)
                         IS DISTINCT FROM (OLD.item, OLD.currency, OLD.valid_from, OLD.price) THEN
    PERFORM classbill_internal.check_pack_price_unbilled(NEW, CASE WHEN TG_OP = 'UPDATE' THEN OLD END, TG_OP);
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION classbill_internal.check_pack_prices() IS
  'Trigger of classbill.pack_prices: a finite price of at most six decimals, a finite valid_from, a known currency; a price that priced billed packs is fixed (SPEC 7.3)';

CREATE TRIGGER check_pack_prices BEFORE INSERT OR UPDATE OR DELETE ON classbill.pack_prices
FOR EACH ROW EXECUTE FUNCTION classbill_internal.check_pack_prices();

-- What of a pack the ledger holds: its pack line or minutes drawn from it.
CREATE FUNCTION classbill_internal.pack_billed(p_pack_id bigint)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT FROM classbill.ledger AS l WHERE l.pack_id = p_pack_id)
           OR EXISTS (SELECT FROM classbill.ledger_packs AS l WHERE l.pack_id = p_pack_id) $$;
COMMENT ON FUNCTION classbill_internal.pack_billed(bigint) IS
  'Whether the ledger holds the pack: a close saw it, billed its purchase or drew minutes from it';

CREATE FUNCTION classbill_internal.check_packs() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  keys text[] := ARRAY['pack_id', 'account', 'tier', 'item', 'purchased_at'];
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND classbill_internal.pack_billed(OLD.pack_id)
     AND (TG_OP = 'DELETE' OR (NEW.pack_id, NEW.account, NEW.tier, NEW.item, NEW.purchased_at)
                              IS DISTINCT FROM (OLD.pack_id, OLD.account, OLD.tier, OLD.item, OLD.purchased_at)) THEN
    RAISE EXCEPTION 'pack % is in the ledger: it cannot be %', OLD.pack_id,
                    CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'changed' END
      USING ERRCODE = '55000',
            DETAIL = classbill_internal.describe('packs', to_jsonb(OLD), keys),
            HINT = 'A close has billed it or drawn from it; record a correction as a new pack.';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  IF NEW.purchased_at IS NULL OR NOT isfinite(NEW.purchased_at) THEN
    RAISE EXCEPTION 'pack purchase time % is not an instant', coalesce(NEW.purchased_at::text, 'NULL')
      USING ERRCODE = '22008',
            DETAIL = classbill_internal.describe('packs', to_jsonb(NEW), keys),
            HINT = 'Give the time the pack was bought, with its time zone.';
  END IF;
  IF NOT EXISTS (SELECT FROM classbill.pack_items AS i WHERE i.item = NEW.item AND i.tier = NEW.tier) THEN
    RAISE EXCEPTION 'pack item "%" is not a % pack in classbill.pack_items', NEW.item, NEW.tier
      USING ERRCODE = '23503',
            DETAIL = classbill_internal.describe('packs', to_jsonb(NEW), keys),
            HINT = 'Name an item of the catalog and its tier.';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION classbill_internal.check_packs() IS
  'Trigger of classbill.packs: a finite purchase time and an item of the pack''s tier; a pack the ledger holds is not changed or deleted';

CREATE TRIGGER check_packs BEFORE INSERT OR UPDATE OR DELETE ON classbill.packs
FOR EACH ROW EXECUTE FUNCTION classbill_internal.check_packs();

CREATE FUNCTION classbill_internal.check_usage_days() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  keys text[] := ARRAY['account', 'tier', 'mode', 'day', 'seconds'];
BEGIN
  PERFORM classbill_internal.check_day(NEW.day, 'day', 'usage_days', to_jsonb(NEW), keys);
  IF NEW.seconds IS NULL OR NEW.seconds = 'NaN' OR NEW.seconds IN ('Infinity', '-Infinity')
     OR NEW.seconds < 0 OR scale(NEW.seconds) > 6 THEN
    RAISE EXCEPTION 'seconds % are not a presence', coalesce(NEW.seconds::text, 'NULL')
      USING ERRCODE = '22023',
            DETAIL = classbill_internal.describe('usage_days', to_jsonb(NEW), keys),
            HINT = 'Presence is a finite number of seconds, 0 or more, exact to the microsecond.';
  END IF;
  IF NOT EXISTS (SELECT FROM classbill.accounts AS a WHERE a.account = NEW.account) THEN
    RAISE EXCEPTION 'account "%" is not in classbill.accounts', NEW.account
      USING ERRCODE = '23503',
            DETAIL = classbill_internal.describe('usage_days', to_jsonb(NEW), keys),
            HINT = 'Add the account with its plan and currency first.';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION classbill_internal.check_usage_days() IS
  'Trigger of classbill.usage_days: a finite day, finite seconds of at most six decimals, a known account';

CREATE TRIGGER check_usage_days BEFORE INSERT OR UPDATE ON classbill.usage_days
FOR EACH ROW EXECUTE FUNCTION classbill_internal.check_usage_days();
