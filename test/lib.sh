# test/lib.sh: shared by test/demo.sh, test/check.sh and test/bench.sh.
#
# Installs what is missing (as root, from Debian's packages), builds and
# installs classbill, and starts a throwaway PostgreSQL cluster that
# lives in a temporary directory and is stopped when the script exits.
# Nothing here relies on a server or cluster the machine already has.
#
# PG_MAJOR picks the PostgreSQL major version, from Debian's packages of
# the release the machine runs: 15 (the default, Debian 12), 17 (Debian 13)
# or 18 (Debian sid); test/chroot.sh runs the suite in such a release.

set -euo pipefail

CB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
if ! [[ $PG_MAJOR =~ ^[0-9]+$ ]]; then
	echo "PG_MAJOR must be a PostgreSQL major version such as 15, not '$PG_MAJOR'" >&2
	exit 2
fi
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
export PG_MAJOR PG_CONFIG

cb_say() { printf '\n== %s\n' "$*"; }

# Debian packages classbill needs to build, test and run.  The server
# package carries the contrib modules (postgres_fdw) itself; Debian 12 also
# has a postgresql-contrib metapackage for its 15, later releases do not.
CB_PACKAGES=(
	build-essential
	postgresql-$PG_MAJOR
	postgresql-server-dev-$PG_MAJOR
	postgresql-client-$PG_MAJOR
	libipc-run-perl
)
# Installed where the release has them: pg_cron is packaged for 15
# (Debian 12), 17 (Debian 13) and 18 (sid); without it test/t/cron_close.sh
# fails saying so.
CB_OPTIONAL_PACKAGES=(
	postgresql-$PG_MAJOR-cron
)

cb_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

cb_install_packages() {
	local missing=() optional=() p
	for p in "${CB_PACKAGES[@]}" "$@"; do
		cb_installed "$p" || missing+=("$p")
	done
	for p in "${CB_OPTIONAL_PACKAGES[@]}"; do
		cb_installed "$p" || optional+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		[ ${#missing[@]} -eq 0 ] && return 0
		echo "missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	for p in ${optional[@]+"${optional[@]}"}; do
		if apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
			missing+=("$p")
		else
			echo "($p is not packaged for this release: not installed)"
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	cb_say "installing ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

cb_build() {
	cb_say "building and installing classbill"
	make -C "$CB_ROOT" -s PG_CONFIG="$PG_CONFIG" >/dev/null
	make -C "$CB_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# The server refuses to run as root: use the postgres account then, from
# a directory it may enter (a checkout under /root is not one).
cb_as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# cb_start_cluster [extra postgresql.conf lines...]
# Sets PGHOST, PGPORT, PGUSER, PGDATABASE for the rest of the script.
cb_start_cluster() {
	CB_TMP=$(mktemp -d /tmp/classbill.XXXXXX)
	export CB_TMP
	chmod 755 "$CB_TMP"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$CB_TMP"
	CB_PGDATA=$CB_TMP/data
	export PGHOST=$CB_TMP PGUSER=postgres PGDATABASE=postgres
	PGPORT=${CB_PORT:-$((54000 + RANDOM % 1000))}
	export PGPORT
	cb_as_server_user "$PG_BIN/initdb" -D "$CB_PGDATA" -U postgres -A trust \
		--no-sync -E UTF8 --locale=C.UTF-8 >"$CB_TMP/initdb.log"
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$CB_TMP'"
		echo "port = $PGPORT"
		echo "fsync = off"
		echo "max_worker_processes = 16"
		echo "max_parallel_workers = 8"
		local line
		for line in "$@"; do echo "$line"; done
	} | cb_as_server_user tee -a "$CB_PGDATA/postgresql.conf" >/dev/null
	trap cb_stop_cluster EXIT
	# shellcheck disable=SC2086 # CB_PG_CTL_OPTS: more pg_ctl options, split on blanks
	cb_as_server_user "$PG_BIN/pg_ctl" -D "$CB_PGDATA" -l "$CB_TMP/server.log" ${CB_PG_CTL_OPTS:-} \
		-w -s start
}

cb_stop_cluster() {
	if [ -n "${CB_PGDATA:-}" ] && [ -f "$CB_PGDATA/postmaster.pid" ]; then
		cb_as_server_user "$PG_BIN/pg_ctl" -D "$CB_PGDATA" -m immediate -w -s stop || true
	fi
	[ -n "${CB_TMP:-}" ] && [ -z "${CB_KEEP:-}" ] && rm -rf "$CB_TMP"
	return 0
}

cb_psql() {
	"$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -q "$@"
}

# Several servers on loopback, for test/t scripts (shards, Citus):
#   cb_nodes NAME BASE NODE...   makes $CB_TMP/NAME (DIR), the nodes' list
#                                (NODES) and ports BASE + 0..3999 + index,
#                                and stops every node at exit (unless
#                                CB_KEEP_NODES is set)
#   port_of NODE                 a node's port
#   cb_init_node NODE [LINE...]  initdb, then listen on 127.0.0.1 at its
#                                port, with the given postgresql.conf lines
#   cb_start_node NODE
cb_nodes() {
	local name=$1 base=$2
	shift 2
	: "${CB_TMP:=$(mktemp -d "/tmp/classbill-$name.XXXXXX")}"
	DIR=$CB_TMP/$name
	rm -rf "$DIR" && mkdir -p "$DIR" && chmod 755 "$DIR"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
	NODES=("$@")
	CB_NODES_BASE=$((base + RANDOM % 4000))
	trap '[ -n "${CB_KEEP_NODES:-}" ] || cb_stop_nodes' EXIT
}
cb_stop_nodes() {
	local n
	for n in "${NODES[@]}"; do
		[ -f "$DIR/$n/postmaster.pid" ] &&
			cb_as_server_user "$PG_BIN/pg_ctl" -D "$DIR/$n" -m immediate -w -s stop || true
	done
}
port_of() {
	local i
	for i in "${!NODES[@]}"; do
		[ "${NODES[$i]}" = "$1" ] && { echo $((CB_NODES_BASE + i)); return; }
	done
	echo "port_of: no node $1" >&2
	return 1
}
cb_init_node() {
	local n=$1
	shift
	cb_as_server_user "$PG_BIN/initdb" -D "$DIR/$n" -U postgres -A trust --no-sync -E UTF8 \
		--locale=C.UTF-8 >"$DIR/$n.initdb.log"
	{
		printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nfsync = off\n" \
			"$(port_of "$n")" "$DIR"
		printf '%s\n' "$@"
	} | cb_as_server_user tee -a "$DIR/$n/postgresql.conf" >/dev/null
}
cb_start_node() {
	cb_as_server_user "$PG_BIN/pg_ctl" -D "$DIR/$1" -l "$DIR/$1.log" -w -s start
}
