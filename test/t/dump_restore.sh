#!/usr/bin/env bash
# Stored usage values survive pg_dump and restore (SPEC 9: the usage
# type's text form), and binary COPY out and in (its send/receive form),
# unchanged to the byte.
source "$(dirname "$0")/../lib.sh"

SRC=cb_dump_src
DST=cb_dump_dst
cb_psql -d postgres -c "DROP DATABASE IF EXISTS $SRC" -c "DROP DATABASE IF EXISTS $DST" \
	-c "CREATE DATABASE $SRC" -c "CREATE DATABASE $DST"

# A table of room values and their rollups, built in two billing zones.
cb_psql -d $SRC <<'SQL'
CREATE EXTENSION classbill;
CREATE TABLE ev (room int, account text, p text, e text, t timestamptz);
INSERT INTO ev
SELECT r, 'acct' || (r % 7), 'p' || k, x.e,
       '2026-11-01 00:00+00'::timestamptz + (r % 30) * interval '1 day'
         + ((r * 37 + k * 11) % 1440) * interval '1 minute'
         + x.off * interval '1 second' + (r * k % 1000) * interval '1 microsecond'
FROM generate_series(1, 500) AS r, generate_series(1, 1 + r % 6) AS k,
     LATERAL (VALUES ('join', 0), ('stage_up', 30), ('heartbeat', 600),
                     ('leave', 300 + (r * k) % 5000)) AS x(e, off);
INSERT INTO ev SELECT r, 'acct' || (r % 7), NULL, 'end', '2026-11-01 12:00+00'::timestamptz + r * interval '1 hour'
FROM generate_series(1, 500, 4) AS r;

CREATE TABLE stored (kind text, key text, zone text, u classbill.usage);
SET classbill.billing_timezone = 'Asia/Shanghai';
INSERT INTO stored SELECT 'room', room::text, 'Asia/Shanghai', classbill.room_usage(p, e, t) FROM ev GROUP BY room;
SET classbill.billing_timezone = 'America/New_York';
INSERT INTO stored SELECT 'room', room::text, 'America/New_York', classbill.room_usage(p, e, t) FROM ev GROUP BY room;
INSERT INTO stored
  SELECT 'account', account, zone, classbill.rollup(s.u)
  FROM stored AS s JOIN (SELECT DISTINCT room::text AS key, account FROM ev) AS a USING (key)
  WHERE kind = 'room' GROUP BY account, zone;
SQL

"$PG_BIN/pg_dump" -d $SRC -Fc -f "$CB_TMP/dump.fc"
"$PG_BIN/pg_restore" -d $DST "$CB_TMP/dump.fc"

fingerprint() {
	cb_psql -d "$1" -At -c "
	  SELECT count(*), md5(string_agg(kind || key || zone || u::text || encode(classbill.usage_send(u), 'hex'), '|'
	                                  ORDER BY kind, key, zone)),
	         sum(classbill.minutes(u)), sum(classbill.seconds(u))
	  FROM stored"
}
before=$(fingerprint $SRC)
after=$(fingerprint $DST)
echo "source:   $before"
echo "restored: $after"
[ "$before" = "$after" ] || { echo "pg_dump/restore changed stored usage values"; exit 1; }
# 1000 rooms + 7 accounts in two zones = 1014 rows
[ "${before%%|*}" = 1014 ] || { echo "expected 1014 stored values"; exit 1; }

# Binary COPY: send on the way out, receive (with its checks) on the way in.
cb_psql -d $DST -c "CREATE TABLE copied (LIKE stored)"
cb_psql -d $SRC -c "COPY stored TO STDOUT (FORMAT binary)" >"$CB_TMP/stored.bin"
cb_psql -d $DST -c "COPY copied FROM STDIN (FORMAT binary)" <"$CB_TMP/stored.bin"
copied=$(cb_psql -d $DST -At -c "
	  SELECT count(*), md5(string_agg(kind || key || zone || u::text || encode(classbill.usage_send(u), 'hex'), '|'
	                                  ORDER BY kind, key, zone)),
	         sum(classbill.minutes(u)), sum(classbill.seconds(u))
	  FROM copied")
echo "binary:   $copied"
[ "$before" = "$copied" ] || { echo "binary COPY changed stored usage values"; exit 1; }

# A forged binary value is refused with a clear error, not stored.
# Keep the first row of the binary COPY file only, with the day count of
# its usage value (the last column) raised by one.
perl -e '
	local $/; open(my $in, "<:raw", $ARGV[0]) or die; my $d = <$in>;
	my $pos = 11 + 4 + 4;                       # signature, flags, extension
	my $out = substr($d, 0, $pos);
	my $ncols = unpack("s>", substr($d, $pos, 2));
	$out .= substr($d, $pos, 2); $pos += 2;
	for my $i (1 .. $ncols) {
		my $len = unpack("l>", substr($d, $pos, 4));
		my $field = substr($d, $pos + 4, $len);
		substr($field, 7, 1) = chr(ord(substr($field, 7, 1)) + 1) if $i == $ncols;
		$out .= pack("l>", $len) . $field; $pos += 4 + $len;
	}
	$out .= pack("s>", -1);
	open(my $o, ">:raw", $ARGV[1]) or die; print $o $out;
' "$CB_TMP/stored.bin" "$CB_TMP/forged.bin"
if cb_psql -d $DST -c "COPY copied FROM STDIN (FORMAT binary)" <"$CB_TMP/forged.bin" 2>"$CB_TMP/forged.err"; then
	echo "a forged binary value was accepted"
	exit 1
fi
cat "$CB_TMP/forged.err"
grep -q 'invalid classbill.usage value: length does not match the number of days' "$CB_TMP/forged.err"

cb_psql -d postgres -c "DROP DATABASE $SRC" -c "DROP DATABASE $DST"
echo "dump/restore and binary COPY keep every usage value"
