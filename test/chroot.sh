#!/usr/bin/env bash
# test/chroot.sh: the suite against another Debian release's PostgreSQL,
# in a minimal chroot of that release.
#
#   bash test/chroot.sh RELEASE [command...]
#
#   RELEASE   trixie (PostgreSQL 17) or sid (PostgreSQL 18); bookworm
#             (PostgreSQL 15, the host's own release) for a like-for-like
#             baseline
#   command   run inside, as root, from the copy of the checkout;
#             default: bash test/check.sh (PG_MAJOR is set)
#
#   bash test/chroot.sh trixie                                  # the whole suite on 17
#   CB_ONLY=regress bash test/chroot.sh sid                     # pg_regress + isolation on 18
#   CB_ONLY="regress cancel" bash test/chroot.sh trixie         # and one test/t script
#   bash test/chroot.sh sid bash                                # a shell inside
#
# As root.  The first run makes the chroot with debootstrap --variant=minbase
# (installing debootstrap on the host if missing) from the Debian mirror the
# host's apt uses, then installs there the packages test/lib.sh names for
# that release's PostgreSQL; later runs reuse it.  Each run copies the
# checkout's work tree (tracked and untracked files, not what .gitignore
# ignores; CB_CHROOT_SOURCE=head: git archive of HEAD instead) to
# /srv/classbill inside, mounts /proc, /sys, /dev/pts and a /dev/shm tmpfs, and
# unmounts them when it ends.  The host's own PostgreSQL is not touched:
# no cluster is created or started inside except the suite's throwaway ones.
#
# Environment:
#   CB_CHROOT_DIR      where the chroot lives (default /var/tmp/classbill-chroot-RELEASE)
#   CB_CHROOT_MIRROR   Debian mirror (default: the host apt's)
#   CB_CHROOT_SOURCE   worktree (default) or head
#   PG_MAJOR           PostgreSQL major version (default: the release's)
#   CB_*               the suite's own settings (CB_ONLY=regress, CB_KEEP=1, ...)
#                      are passed in (CB_CHROOT_* are not)
set -euo pipefail

usage() {
	echo "usage: bash test/chroot.sh trixie|sid|bookworm [command...]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
RELEASE=$1
shift
case $RELEASE in
bookworm) default_major=15 ;;
trixie) default_major=17 ;;
sid) default_major=18 ;;
*) usage ;;
esac
PG_MAJOR=${PG_MAJOR:-$default_major}
[ "$(id -u)" -eq 0 ] || { echo "test/chroot.sh: run as root" >&2; exit 1; }

CB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$(realpath -m "${CB_CHROOT_DIR:-/var/tmp/classbill-chroot-$RELEASE}")
[ "$DIR" != / ] || { echo "test/chroot.sh: not / as the chroot" >&2; exit 1; }
case $DIR/ in
"$CB_ROOT"/*) echo "test/chroot.sh: the chroot must live outside the checkout" >&2; exit 1 ;;
esac
say() { printf '\n== %s\n' "$*"; }
now() { date +%s; }

# The Debian mirror of the host's apt: the first enabled deb source that
# carries the host's own release (so not the security archive nor a
# third-party repository).  One-line (.list) and deb822 (.sources) files.
host_mirror() {
	local codename f
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		case $f in
		*.sources)
			awk -v want="$codename" '
				function flush() {
					if (types ~ /(^| )deb( |$)/ && enabled != "no")
						for (i = 1; i <= ns; i++) if (s[i] == want) { print uri; exit }
					types = ""; uri = ""; ns = 0; enabled = ""
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				tolower($1) == "types:" { $1 = ""; types = $0 }
				tolower($1) == "uris:" { uri = $2 }
				tolower($1) == "suites:" { ns = 0; for (i = 2; i <= NF; i++) s[++ns] = $i }
				tolower($1) == "enabled:" { enabled = tolower($2) }
				END { flush() }' "$f"
			;;
		*)
			# deb [options] uri suite components...
			sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
				awk -v want="$codename" '$1 == "deb" && $3 == want { print $2; exit }'
			;;
		esac
	done | head -1
}

MIRROR=${CB_CHROOT_MIRROR:-$(host_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}

# apt inside: sid's Release files on a mirror that is not refreshed carry
# a Valid-Until in the past; apt refuses them unless told not to check.
apt_conf() {
	case $RELEASE in
	sid) echo 'Acquire::Check-Valid-Until "false";' ;;
	esac
	echo 'APT::Install-Recommends "false";'
	echo 'Acquire::Languages "none";'
}

# One run at a time per chroot.
mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
if ! flock -n 9; then
	echo "test/chroot.sh: $DIR is in use by another run (lock $DIR.lock)" >&2
	exit 1
fi

MOUNTED=()
cleanup() {
	local pid i root
	# processes still running inside (a server a test left behind)
	for pid in /proc/[0-9]*; do
		root=$(readlink "$pid/root" 2>/dev/null) || continue
		[ "$root" = "$DIR" ] && kill -9 "${pid#/proc/}" 2>/dev/null || true
	done
	for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" || true
	done
}
trap cleanup EXIT

mount_in() {   # mount_in TARGET mount-arguments...
	local target=$DIR$1
	shift
	mkdir -p "$target"
	mountpoint -q "$target" && return 0
	mount "$@" "$target"
	MOUNTED+=("$target")
}

in_chroot() {
	chroot "$DIR" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive "$@"
}

# The checkout, copied fresh into /srv/classbill.
copy_checkout() {
	rm -rf "$DIR/srv/classbill"
	mkdir -p "$DIR/srv/classbill"
	chmod 755 "$DIR/srv/classbill"
	if [ "${CB_CHROOT_SOURCE:-worktree}" = head ]; then
		git -C "$CB_ROOT" archive --format=tar HEAD | tar -x -C "$DIR/srv/classbill"
	else
		(cd "$CB_ROOT" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar --null -T - -cf -) | tar -x -C "$DIR/srv/classbill"
	fi
}

start=$(now)
if [ ! -f "$DIR/.classbill-ready-$PG_MAJOR" ]; then
	if ! command -v debootstrap >/dev/null; then
		say "installing debootstrap on the host"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
	fi
	if [ ! -x "$DIR/usr/bin/apt-get" ] || [ ! -f "$DIR/.classbill-debootstrap" ]; then
		say "debootstrap --variant=minbase $RELEASE $DIR $MIRROR"
		# a half-made chroot: nothing may still be mounted in it
		if awk -v d="$DIR/" 'index($2 "/", d) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
			echo "test/chroot.sh: something is still mounted under $DIR; unmount it first" >&2
			exit 1
		fi
		rm -rf --one-file-system "$DIR"
		t0=$(now)
		debootstrap --variant=minbase "$RELEASE" "$DIR" "$MIRROR" >"$DIR.debootstrap.log" 2>&1 ||
			{ tail -30 "$DIR.debootstrap.log"; echo "debootstrap failed (log: $DIR.debootstrap.log)" >&2; exit 1; }
		echo "debootstrap: $(($(now) - t0)) s"
		touch "$DIR/.classbill-debootstrap"
	fi
	apt_conf >"$DIR/etc/apt/apt.conf.d/90classbill"
	echo "deb $MIRROR $RELEASE main" >"$DIR/etc/apt/sources.list"
	# Packages must not start services (a server on the host's port) nor
	# make a cluster of their own.
	printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
	chmod 755 "$DIR/usr/sbin/policy-rc.d"
	mkdir -p "$DIR/etc/postgresql-common/createcluster.d"
	echo 'create_main_cluster = false' >"$DIR/etc/postgresql-common/createcluster.d/classbill.conf"
fi
# the host's name and the mirror's address as the host resolves them
cp /etc/resolv.conf /etc/hosts "$DIR/etc/" 2>/dev/null || true

mount_in /proc -t proc proc
mount_in /sys -t sysfs sysfs
mount_in /dev/shm -t tmpfs -o mode=1777 tmpfs
mount_in /dev/pts --bind /dev/pts
copy_checkout

if [ ! -f "$DIR/.classbill-ready-$PG_MAJOR" ]; then
	say "installing PostgreSQL $PG_MAJOR and the suite's packages in the chroot"
	t0=$(now)
	in_chroot apt-get update -qq
	in_chroot env PG_MAJOR="$PG_MAJOR" bash -c 'source /srv/classbill/test/lib.sh && cb_install_packages'
	in_chroot apt-get clean
	echo "packages: $(($(now) - t0)) s"
	touch "$DIR/.classbill-ready-$PG_MAJOR"
	echo "chroot ready in $(($(now) - start)) s"
fi

[ $# -gt 0 ] || set -- bash test/check.sh
say "in $RELEASE (PostgreSQL $PG_MAJOR): $*"
t0=$(now)
# the suite's own settings (CB_ONLY, CB_KEEP, CB_DIFF_ROOMS, ...) go in
pass=(PG_MAJOR="$PG_MAJOR")
[ -n "${CI:-}" ] && pass+=(CI="$CI")
while IFS= read -r name; do
	[[ $name == CB_CHROOT_* ]] || pass+=("$name=${!name}")
done < <(compgen -e | grep '^CB_' || true)
set +e
in_chroot env "${pass[@]}" bash -c 'cd /srv/classbill && exec "$@"' chroot-run "$@"
rc=$?
set -e
echo "($RELEASE, PostgreSQL $PG_MAJOR: $(($(now) - t0)) s, exit $rc)"
exit $rc
