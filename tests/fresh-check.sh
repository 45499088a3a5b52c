#!/usr/bin/env bash
# fresh-check.sh - prove the README's promise on a machine that has nothing:
# a Debian 12 minbase root (debootstrap --variant=minbase bookworm) gets a
# clean clone of the current commit, and inside it, with chroot:
#
#   1. `make check` passes the first time (make itself is installed first,
#      as .ci/run does on a bare machine; everything else is `make deps`);
#   2. `make run` starts taod in the foreground, `taoctl status` answers,
#      a line typed with nc (netcat-openbsd, as the README says) comes back
#      through the chat app, and `taoctl stop` ends it;
#   3. the .deb packages from `make deb`, installed with apt-get into a
#      second, untouched minbase root, pull in every runtime dependency and
#      `taod -t -c /etc/taod/taod.conf` passes there; the .rpm packages
#      from `make rpm` declare the same runtime libraries.
#
# The unpacked root is cached as build/fresh/bookworm-minbase.tar, so a
# second run skips debootstrap's download.  Everything mounted is unmounted
# and every process left in a root is killed, however the script ends.
# Exit status: 0 only if every step passed.  Run as root (chroot, mount).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=$top/build/fresh
cache=$work/bookworm-minbase.tar
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
roots=()

log() { printf 'fresh-check: %s\n' "$*"; }
die() { printf 'fresh-check: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || die "debootstrap missing: run make deps"

# Kill whatever still runs inside a root, then unmount its file systems
# innermost first.  Safe to call twice.
release_root() {
	local root=$1 pid m
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		[ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] &&
		    kill -KILL "$pid" 2>/dev/null || :
	done
	for m in $(awk -v r="$root" '$2 == r || index($2, r "/") == 1 \
	    { print $2 }' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || :
	done
}

cleanup() {
	local rc=$? r
	for r in "${roots[@]}"; do release_root "$r"; done
	for r in "${roots[@]}"; do rm -rf --one-file-system "$r"; done
	[ $rc = 0 ] && log "PASS" || log "FAIL (exit $rc)"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A fresh root from the cached tarball (made by debootstrap once).
new_root() {
	local root=$1
	rm -rf --one-file-system "$root"
	mkdir -p "$root"
	roots+=("$root")
	if [ ! -s "$cache" ]; then
		log "debootstrap --variant=minbase bookworm (cached afterwards)"
		local tmp=$work/debootstrap
		release_root "$tmp"
		rm -rf --one-file-system "$tmp"
		debootstrap --variant=minbase bookworm "$tmp" "$mirror" \
		    >"$work/debootstrap.log" 2>&1 ||
		    { tail -20 "$work/debootstrap.log"; die "debootstrap failed"; }
		tar -C "$tmp" -cf "$cache.tmp" . && mv -f "$cache.tmp" "$cache"
		rm -rf --one-file-system "$tmp"
	fi
	tar -C "$root" -xf "$cache"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount --bind /dev "$root/dev"
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
	mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
}

in_root() {
	local root=$1; shift
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C.UTF-8 /bin/bash -c "$*"
}

mkdir -p "$work"
build=$work/root
new_root "$build"
git clone -q "$top" "$build/src/tao"
log "testing commit $(git -C "$build/src/tao" rev-parse --short HEAD)"

# 1. What .ci/run does on a bare machine, then the README's test command.
log "make check in the fresh root"
in_root "$build" 'set -e; export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends make >/dev/null
	cd /src/tao && make check' || die "make check failed in the fresh root"

# 2. make run in the background until taoctl answers; a chat line over nc.
log "make run in the fresh root"
in_root "$build" 'cd /src/tao
	make run >/tmp/run.log 2>&1 & run=$!
	ok=
	for i in $(seq 1 300); do
		build/taoctl status >/dev/null 2>&1 && { ok=1; break; }
		kill -0 $run 2>/dev/null || break
		sleep 0.2
	done
	[ -n "$ok" ] || { echo "taoctl status never answered"; cat /tmp/run.log; exit 1; }
	build/taoctl status
	reply=$( (printf "hello from nc\n"; sleep 1) | nc -q 1 127.0.0.1 12346 )
	echo "nc got: $reply"
	build/taoctl stop || { cat /tmp/run.log; exit 1; }
	wait $run 2>/dev/null || :
	case $reply in *"hello from nc"*) ;; *) echo "chat over nc: no echo"; exit 1;; esac
	' || die "make run / taoctl failed in the fresh root"

# 3. Packages: build them there, install the .debs into an untouched root.
log "make deb and make rpm in the fresh root"
in_root "$build" 'cd /src/tao && make deb >/tmp/deb.log 2>&1 &&
	make rpm >/tmp/rpm.log 2>&1' ||
    { tail -30 "$build/tmp/deb.log" "$build/tmp/rpm.log" 2>/dev/null
      die "make deb / make rpm failed"; }
pkgs=$build/src/tao/build/packages
ls "$pkgs"/*.deb "$pkgs"/*.rpm >/dev/null || die "no packages were built"

for r in $pkgs/*.rpm; do
	req=$(in_root "$build" "rpm -qpR /src/tao/build/packages/$(basename "$r")")
	case $(basename "$r") in
	taod-[0-9]*|tao-[0-9]*)
		for lib in libbsd.so.0 libssl.so.3 libjemalloc.so.2; do
			grep -q "^$lib" <<<"$req" ||
			    die "$(basename "$r") does not require $lib"
		done;;
	esac
done
log "rpm runtime requirements: libbsd, libssl, libjemalloc"

clean=$work/clean-root
new_root "$clean"
mkdir -p "$clean/pkgs"
cp "$pkgs"/*.deb "$clean/pkgs/"
rm -f "$clean"/pkgs/*dbgsym*
log "apt-get install of the .debs into an untouched root"
in_root "$clean" 'set -e; export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends ./pkgs/*.deb
	for p in libbsd0 libssl3 libjemalloc2; do
		dpkg-query -W -f="\${Package} \${Status}\n" $p | grep -q "install ok installed" ||
		    { echo "runtime dependency $p was not pulled in"; exit 1; }
	done
	taod -t -c /etc/taod/taod.conf
	taoctl -h >/dev/null 2>&1 || [ $? -le 2 ]
	' || die "package install or taod -t failed in the clean root"
log "packages install with their dependencies; taod -t passes"
