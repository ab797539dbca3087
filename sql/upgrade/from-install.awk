# The 1.2 install script as part of the 1.1 -> 1.2 upgrade script: the
# objects 1.1 already has are left out (their types and tables stay, with
# their rows; sql/upgrade/1.1--1.2-before.sql gives the tables their 1.2
# shape), and functions, procedures, aggregates, views and triggers are
# created or replaced.
BEGIN {
	kept_types = "^CREATE TYPE classbill\\.(mode|plan|product|tier|usage|line|drawdown_use|drawdown_pack|peak_moment|day_peak|storage_day|pack_choice)[ ;]"
	kept_tables = "(currencies|accounts|rates|pack_items|pack_prices|packs|usage_days|sources|closes|closed_days|ledger|ledger_usage|ledger_storage|ledger_exports|ledger_rooms)"
}
/^\\echo / { next }
/^CREATE SCHEMA classbill_internal;/ { next }
$0 ~ kept_types || $0 ~ ("^CREATE TABLE classbill\\." kept_tables " \\(") || $0 ~ ("^CREATE INDEX ON classbill\\." kept_tables " ") {
	skipping = 1
}
skipping {
	if ($0 ~ /;[[:space:]]*$/) skipping = 0
	next
}
{
	sub(/^CREATE FUNCTION /, "CREATE OR REPLACE FUNCTION ")
	sub(/^CREATE PROCEDURE /, "CREATE OR REPLACE PROCEDURE ")
	sub(/^CREATE AGGREGATE /, "CREATE OR REPLACE AGGREGATE ")
	sub(/^CREATE VIEW /, "CREATE OR REPLACE VIEW ")
	gsub(/CREATE TRIGGER /, "CREATE OR REPLACE TRIGGER ")
	print
}
