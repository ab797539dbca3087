
-- ---------------------------------------------------------------------
-- classbill 1.1 -> 1.2, last part (sql/upgrade/1.1--1.2-after.sql): the
-- rows 1.1 has, in 1.2's terms.
-- ---------------------------------------------------------------------

-- The packs the ledger has seen: those bought by their account's last
-- closed day (1.1 billed them then, or drew from them from before the
-- ledger began).  Later ones are billed by the next close as 1.1 would.
INSERT INTO classbill.ledger_packs (close_id, pack_id)
SELECT (SELECT max(c.close_id) FROM classbill.closes AS c), k.pack_id
FROM classbill.packs AS k
JOIN (SELECT d.account, max(d.day) AS last FROM classbill.closed_days AS d GROUP BY d.account) AS a
  ON a.account = k.account
WHERE (k.purchased_at AT TIME ZONE coalesce((SELECT c.billing_timezone FROM classbill.closes AS c
                                             ORDER BY c.close_id DESC LIMIT 1),
                                            classbill.billing_timezone()))::date <= a.last;

-- The lines 1.1 wrote, chained in line order (SPEC 10.5), and the head
ALTER TABLE classbill.ledger DISABLE TRIGGER append_only;
SELECT classbill_internal.chain_ledger();
ALTER TABLE classbill.ledger ENABLE TRIGGER append_only;
INSERT INTO classbill.ledger_heads (close_id, line_id, hash)
SELECT l.close_id, l.line_id, l.hash FROM classbill.ledger AS l ORDER BY l.line_id DESC LIMIT 1;

-- A ledger with lines is kept from DROP EXTENSION (the view is made here,
-- in the update, so it would be part of the extension: it is taken out)
DO $$
BEGIN
  IF EXISTS (SELECT FROM classbill.ledger) THEN
    PERFORM classbill_internal.keep_ledger();
    ALTER EXTENSION classbill DROP VIEW classbill_internal.ledger_kept;
  END IF;
END $$;

-- Closes read the sources as classbill_writer now: let it read those
-- registered, and say which ones a close would refuse (SPEC 10.1)
DO $$
DECLARE
  s record;
  nsp regnamespace;
  problems text[];
BEGIN
  FOR s IN SELECT x.kind, x.relation FROM classbill.sources AS x ORDER BY x.kind LOOP
    SELECT c.relnamespace::regnamespace INTO nsp FROM pg_class AS c WHERE c.oid = s.relation;
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO classbill_writer', nsp);
    EXECUTE format('GRANT SELECT ON %s TO classbill_writer', s.relation);
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'classbill_owner') THEN
      EXECUTE format('REVOKE SELECT ON %s FROM classbill_owner', s.relation);
    END IF;
    problems := classbill_internal.source_problems(s.kind, s.relation);
    IF cardinality(problems) > 0 THEN
      RAISE WARNING 'the % source % cannot be read by closes of 1.2: %', s.kind, s.relation,
                    array_to_string(problems, '; ')
        USING HINT = 'Correct it or register another source before the next close (docs/security.md).';
    END IF;
  END LOOP;
END $$;

-- Everything of classbill is its owner's (SPEC 10.2)
DO $$
DECLARE
  owner regrole := (SELECT e.extowner::regrole FROM pg_extension AS e WHERE e.extname = 'classbill');
  o record;
BEGIN
  FOR o IN
    SELECT d.classid, d.objid FROM pg_depend AS d
    JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'classbill'
    WHERE d.deptype = 'e'
  LOOP
    IF o.classid = 'pg_proc'::regclass
       AND (SELECT p.proowner FROM pg_proc AS p WHERE p.oid = o.objid) <> owner THEN
      EXECUTE format('ALTER ROUTINE %s OWNER TO %s', o.objid::regprocedure, owner);
    ELSIF o.classid = 'pg_class'::regclass
          AND (SELECT c.relowner FROM pg_class AS c WHERE c.oid = o.objid) <> owner
          AND (SELECT c.relkind FROM pg_class AS c WHERE c.oid = o.objid) IN ('r', 'v', 'p') THEN
      EXECUTE format('ALTER TABLE %s OWNER TO %s', o.objid::regclass, owner);
    ELSIF o.classid = 'pg_type'::regclass
          AND (SELECT t.typowner FROM pg_type AS t WHERE t.oid = o.objid) <> owner
          AND (SELECT t.typtype FROM pg_type AS t WHERE t.oid = o.objid) IN ('e', 'b', 'c')
          AND (SELECT t.typrelid FROM pg_type AS t WHERE t.oid = o.objid) = 0 THEN
      EXECUTE format('ALTER TYPE %s OWNER TO %s', o.objid::regtype, owner);
    END IF;
  END LOOP;
END $$;
