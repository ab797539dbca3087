-- SPEC 10.1 to 10.6: attacks on the ledger, each of which did harm in
-- 1.1 and must now do none.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET classbill.billing_timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

-- mallory owns the service's tables and holds no classbill role; ops
-- closes days; analyst reads; portal is a school's portal, limited to
-- school a's account.
CREATE ROLE regress_mallory LOGIN;
SELECT coalesce(max(audit_id), 0) AS audit_start FROM classbill.audit \gset
CREATE ROLE regress_ops LOGIN IN ROLE classbill_operator;
CREATE ROLE regress_analyst LOGIN IN ROLE classbill_reader;
CREATE ROLE regress_school_a NOLOGIN;
CREATE ROLE regress_portal LOGIN IN ROLE classbill_account_reader, regress_school_a;

CREATE SCHEMA regress_m AUTHORIZATION regress_mallory;
SET ROLE regress_mallory;
CREATE TABLE regress_m.rooms (room int, account text, mode text, width int, height int);
CREATE TABLE regress_m.events (room int, participant text, event text, at timestamptz);
-- what mallory's code managed to do, if it ever runs
CREATE TABLE regress_m.loot (what text);
GRANT INSERT ON regress_m.loot TO PUBLIC;
GRANT USAGE ON SCHEMA regress_m TO PUBLIC;
CREATE FUNCTION regress_m.spy(int) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO regress_m.loot VALUES ('ran as ' || current_user);
  BEGIN
    INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, amount, currency)
    VALUES (1, 'a', '2026-11-01', 'usage', 1, 'minute', -999.99, 'CNY');
    INSERT INTO regress_m.loot VALUES ('wrote a ledger line');
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  BEGIN
    ALTER PROCEDURE classbill.close_yesterday() SECURITY INVOKER SET search_path = regress_m;
    INSERT INTO regress_m.loot VALUES ('altered close_yesterday');
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN true;
END $$;
-- 480p 1v1: room 1 of school a, room 2 of school b; a 30-minute lesson
-- in each, every day of 11-01..11-04.
INSERT INTO regress_m.rooms VALUES (1, 'a', '1v1', 640, 480), (2, 'b', '1v1', 640, 480);
INSERT INTO regress_m.events
SELECT r, 'T' || r, e.kind, ((date '2026-11-01' + d) + time '10:00' + e.off) AT TIME ZONE 'Asia/Shanghai'
FROM generate_series(1, 2) AS r, generate_series(0, 3) AS d,
     (VALUES ('join', interval '0'), ('leave', interval '30 minutes')) AS e(kind, off);
RESET ROLE;

SET client_min_messages = warning;
SELECT classbill.register_source('rooms', 'regress_m.rooms');
SELECT classbill.register_source('events', 'regress_m.events');
RESET client_min_messages;
INSERT INTO classbill.accounts VALUES ('a', 'postpaid', 'CNY', 'School A'), ('b', 'postpaid', 'CNY', 'School B');
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-01-01', 0.05);
SET ROLE regress_ops;
CALL classbill.close_day('2026-11-01');
RESET ROLE;

-- 10.1, attack 1: row-level security whose policy calls mallory's
-- function.  In 1.1 the close ran it as classbill_owner: it wrote a line
-- of -999.99 and made close_yesterday run with her search_path.  Now
-- the close refuses the source before reading a row of it.
SET ROLE regress_mallory;
ALTER TABLE regress_m.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY spy ON regress_m.events USING (regress_m.spy(room));
RESET ROLE;
SET ROLE regress_ops;
CALL classbill.close_day('2026-11-02');
RESET ROLE;
SELECT * FROM regress_m.loot;
SELECT count(*) AS negative_lines FROM classbill.ledger WHERE amount < 0;
SELECT prosecdef, proconfig FROM pg_proc WHERE oid = 'classbill.close_yesterday()'::regprocedure;
-- and it cannot be registered so
SELECT classbill.register_source('events', 'regress_m.events');
-- had her code run anyway, it would have run as classbill_writer, which
-- owns nothing: it can alter no code and write nothing but the ledger
SET ROLE classbill_writer;
ALTER PROCEDURE classbill.close_yesterday() SECURITY INVOKER;
CREATE FUNCTION classbill.x() RETURNS int LANGUAGE sql AS 'SELECT 1';
UPDATE classbill.rates SET price = 0;
INSERT INTO classbill.audit (session_user_name, role_name, table_name, operation) VALUES ('x', 'x', 'x', 'x');
RESET ROLE;
SET ROLE regress_mallory;
DROP POLICY spy ON regress_m.events;
ALTER TABLE regress_m.events DISABLE ROW LEVEL SECURITY;
RESET ROLE;

-- 10.1, attack 2: a source column of mallory's own type, with a cast to
-- text of her own.  Refused at the close and at registration.
SET ROLE regress_mallory;
CREATE TYPE regress_m.room_id AS ENUM ('1', '2');
CREATE FUNCTION regress_m.room_text(regress_m.room_id) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  PERFORM regress_m.spy(1);
  RETURN format('%s', $1);
END $$;
CREATE CAST (regress_m.room_id AS text) WITH FUNCTION regress_m.room_text(regress_m.room_id);
ALTER TABLE regress_m.rooms ALTER COLUMN room TYPE regress_m.room_id USING room::text::regress_m.room_id;
ALTER TABLE regress_m.events ALTER COLUMN room TYPE regress_m.room_id USING room::text::regress_m.room_id;
RESET ROLE;
SET ROLE regress_ops;
CALL classbill.close_day('2026-11-02');
RESET ROLE;
SELECT classbill.register_source('rooms', 'regress_m.rooms');
SELECT * FROM regress_m.loot;
-- a view of mallory's over the same rows is refused too: a view runs its
-- functions as its reader
SET ROLE regress_mallory;
CREATE VIEW regress_m.events_v AS SELECT room::text::int AS room, participant, event, at FROM regress_m.events;
RESET ROLE;
SELECT classbill.register_source('events', 'regress_m.events_v');
-- a domain over a type of PostgreSQL's runs none of her code on a read:
-- accepted
SET ROLE regress_mallory;
DROP VIEW regress_m.events_v;
CREATE DOMAIN regress_m.room_no AS int CHECK (VALUE > 0);
ALTER TABLE regress_m.rooms ALTER COLUMN room TYPE regress_m.room_no USING room::text::int;
ALTER TABLE regress_m.events ALTER COLUMN room TYPE regress_m.room_no USING room::text::int;
RESET ROLE;
SET ROLE regress_ops;
CALL classbill.close_day('2026-11-02');
RESET ROLE;

-- 10.3, attack 3: blocking every close.  1.1 serialized closes on a
-- well-known advisory lock key anyone could hold.  Closes take no
-- advisory lock now, and the table lock they take is one only the writer
-- may take.
SET ROLE regress_mallory;
BEGIN;
LOCK TABLE classbill_internal.close_lock IN ACCESS SHARE MODE;
ROLLBACK;
RESET ROLE;
SET ROLE regress_analyst;
BEGIN;
LOCK TABLE classbill_internal.close_lock IN ACCESS SHARE MODE;
ROLLBACK;
RESET ROLE;
SET ROLE regress_ops;
BEGIN;
LOCK TABLE classbill_internal.close_lock IN EXCLUSIVE MODE;
ROLLBACK;
BEGIN;
CALL classbill.close_day('2026-11-03');
SELECT locktype, mode FROM pg_locks
WHERE pid = pg_backend_pid() AND (locktype = 'advisory'
      OR (locktype = 'relation' AND relation = 'classbill_internal.close_lock'::regclass));
COMMIT;
RESET ROLE;

-- 10.4, attack 4: changes nobody records.  Every change to accounts,
-- rates, the pack catalog, pack prices and packs is in classbill.audit,
-- with who made it; raising a catalog item's minutes once packs of it
-- exist is refused (it would raise every pack's balance, SPEC 8.4).
SET ROLE regress_ops;
INSERT INTO classbill.pack_items VALUES ('p120k-480', '480p', 120000);
INSERT INTO classbill.pack_prices VALUES ('p120k-480', 'CNY', '2026-01-01', 4800);
-- (a rate that priced closed days is fixed: a new rate is a new row)
UPDATE classbill.rates SET price = 0.06 WHERE product = 'usage';
INSERT INTO classbill.rates (product, mode, tier, currency, valid_from, price)
VALUES ('usage', '1v1', '480p', 'CNY', '2026-11-04', 0.07);
UPDATE classbill.rates SET price = 0.06 WHERE valid_from = '2026-11-04';
UPDATE classbill.accounts SET name = 'School A (Beijing)' WHERE account = 'a';
INSERT INTO classbill.packs (pack_id, account, tier, item, purchased_at)
VALUES (100, 'b', '480p', 'p120k-480', '2026-11-05 09:00+08');
UPDATE classbill.pack_items SET minutes = 240000 WHERE item = 'p120k-480';
DELETE FROM classbill.pack_prices WHERE item = 'p120k-480';
SELECT session_user_name = session_user AS by_this_session, role_name, table_name, operation,
       old_row ->> 'price' AS old_price, new_row ->> 'price' AS new_price,
       coalesce(new_row ->> 'name', new_row ->> 'item', new_row ->> 'pack_id') AS new
FROM classbill.audit WHERE audit_id > :audit_start AND role_name = 'regress_ops' ORDER BY audit_id;
-- the setup's changes, made as the superuser running this test, are there too
SELECT table_name, operation, count(*) FROM classbill.audit WHERE audit_id > :audit_start AND role_name <> 'regress_ops'
GROUP BY table_name, operation ORDER BY table_name, operation;
-- nobody rewrites it: not operators, not its owner
UPDATE classbill.audit SET role_name = 'someone';
DELETE FROM classbill.audit;
RESET ROLE;
DELETE FROM classbill.audit;
TRUNCATE classbill.audit;
-- and nobody forges rows of it by attaching its trigger elsewhere
SET ROLE regress_mallory;
CREATE TRIGGER forge AFTER INSERT ON regress_m.loot FOR EACH ROW EXECUTE FUNCTION classbill_internal.audit_row();
RESET ROLE;
CREATE TABLE regress_forge (x int);
CREATE TRIGGER forge AFTER INSERT ON regress_forge FOR EACH ROW EXECUTE FUNCTION classbill_internal.audit_row();
INSERT INTO regress_forge VALUES (1);
DROP TABLE regress_forge;

-- 10.6, attack 5: every reader saw every account.  The portal's role is
-- mapped to account a (through its group role), and sees a alone: in the
-- ledger, the statement, explain and the billed views.
INSERT INTO classbill.account_access VALUES ('regress_school_a', 'a');
SET ROLE regress_portal;
SELECT account, day, quantity, amount FROM classbill.ledger ORDER BY line_id;
SELECT account, product, quantity, amount FROM classbill.statement('2026-11-01');
SELECT account, count(*) FROM classbill.billed_usage GROUP BY account;
SELECT account FROM classbill.accounts;
SELECT * FROM classbill.explain((SELECT min(line_id) FROM classbill.ledger));
RESET ROLE;
SELECT min(line_id) AS b_line FROM classbill.ledger WHERE account = 'b' \gset
SET ROLE regress_portal;
SELECT * FROM classbill.explain(:b_line);
SELECT classbill.statement_text('2026-11-01', 'b');
-- it sees its own mapping, and nothing else: not the audit, the
-- sources, the live reports
SELECT * FROM classbill.account_access;
SELECT count(*) FROM classbill.audit;
SELECT count(*) FROM regress_m.events;
SELECT * FROM classbill.billable_days('2026-11-01', '2026-11-02');
INSERT INTO classbill.account_access VALUES ('regress_school_a', 'b');
RESET ROLE;
-- readers and operators still see every account
SET ROLE regress_analyst;
SELECT account, count(*) FROM classbill.ledger GROUP BY account ORDER BY account;
RESET ROLE;
-- a role granted the ledger outside classbill's roles sees no row of it
GRANT USAGE ON SCHEMA classbill TO regress_mallory;
GRANT SELECT ON classbill.ledger TO regress_mallory;
SET ROLE regress_mallory;
SELECT count(*) AS lines_seen FROM classbill.ledger;
RESET ROLE;
REVOKE SELECT ON classbill.ledger FROM regress_mallory;
REVOKE USAGE ON SCHEMA classbill FROM regress_mallory;

-- 10.2: the switch to the writer runs the two steps it knows, for
-- operators only
SET ROLE regress_ops;
SELECT classbill_internal.as_writer('DROP TABLE classbill.ledger', NULL::date, NULL::text);
RESET ROLE;
SET ROLE regress_analyst;
SELECT classbill_internal.as_writer('close_day', '2026-11-04', NULL::text);
RESET ROLE;

-- 10.5, attack 6: a superuser with triggers off (session_replication_role
-- = replica) edits, deletes, inserts and reorders closed lines.  Each is
-- found.  The ledger now: lines 1..8, two a day (a, b) for 11-01..11-04.
SET ROLE regress_ops;
CALL classbill.close_day('2026-11-04');
RESET ROLE;
SELECT line_id, account, day, amount FROM classbill.ledger ORDER BY line_id;
SELECT * FROM classbill.verify_ledger();
-- edit: line 3's amount
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE classbill.ledger SET amount = 0 WHERE line_id = 3;
SELECT * FROM classbill.verify_ledger();
ROLLBACK;
-- edit, hiding it by rewriting the line's hash with another line's
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE classbill.ledger SET amount = 0, hash = (SELECT hash FROM classbill.ledger WHERE line_id = 4) WHERE line_id = 3;
SELECT * FROM classbill.verify_ledger();
ROLLBACK;
-- delete: a line in the middle, then the last line
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM classbill.ledger WHERE line_id = 5;
SELECT * FROM classbill.verify_ledger();
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM classbill.ledger WHERE line_id = 8;
SELECT * FROM classbill.verify_ledger();
ROLLBACK;
-- delete, hiding it by linking the next line to the one before: line 6
-- now claims line 4 came before it; its hash covers the line before, so
-- line 6 is found edited
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM classbill.ledger WHERE line_id = 5;
UPDATE classbill.ledger SET prev_hash = (SELECT hash FROM classbill.ledger WHERE line_id = 4) WHERE line_id = 6;
SELECT * FROM classbill.verify_ledger();
ROLLBACK;
-- insert: a line of its own, and a copy of line 2 carrying line 2's
-- hashes
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO classbill.ledger (close_id, account, day, product, quantity, unit, amount, currency)
VALUES (1, 'a', '2026-11-01', 'usage', 1, 'minute', -999.99, 'CNY');
SELECT * FROM classbill.verify_ledger();
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO classbill.ledger (close_id, account, day, product, tier, mode, quantity, unit, unit_price, amount,
                              currency, prev_hash, hash)
OVERRIDING SYSTEM VALUE
SELECT close_id, account, day, product, tier, mode, quantity, unit, unit_price, amount, currency, prev_hash, hash
FROM classbill.ledger WHERE line_id = 2;
SELECT * FROM classbill.verify_ledger();
ROLLBACK;
-- reorder: lines 6 and 7 swap places (their ids)
BEGIN;
SET LOCAL session_replication_role = replica;
ALTER TABLE classbill.ledger ALTER COLUMN line_id SET GENERATED BY DEFAULT;
UPDATE classbill.ledger SET line_id = -6 WHERE line_id = 6;
UPDATE classbill.ledger SET line_id = 6 WHERE line_id = 7;
UPDATE classbill.ledger SET line_id = 7 WHERE line_id = -6;
SELECT * FROM classbill.verify_ledger();
ROLLBACK;
-- untouched, the ledger verifies, and closes go on chaining
SELECT count(*) AS problems FROM classbill.verify_ledger();
SELECT line_id = (SELECT max(line_id) FROM classbill.ledger) AS head_is_last, length(hash) AS hex_digits, lines
FROM classbill.ledger_head();

-- The ledger is append-only, so the next tests get a fresh extension.
DROP EXTENSION classbill CASCADE;
CREATE EXTENSION classbill;
DROP SCHEMA regress_m CASCADE;
DROP ROLE regress_mallory, regress_ops, regress_analyst, regress_portal, regress_school_a;
