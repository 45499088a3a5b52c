#!/bin/sh
# t082-dist-systemd-unit - packaging/taod.service passes `systemd-analyze verify`
# with no output at all (verify exits 0 on unknown keys and bad values and
# only warns, so silence is the real check), and says what the issue asks.
#
# The unit is verified in a copy whose ExecStart and ExecReload point at the
# built binaries, since verify requires the executables to exist.

top=$(cd "$(dirname "$0")/.." && pwd)
build=${TAO_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
unit=$top/packaging/taod.service

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "Bail out! systemd-analyze is not installed (package systemd; make deps installs it)"
	exit 1
fi
for f in taod taoctl; do
	[ -x "$build/$f" ] || { echo "Bail out! $build/$f is not built"; exit 1; }
done

n=0
failed=0
check() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"
	else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# has KEY=VALUE: the unit sets exactly this (whole line).
has() { grep -qx "$1" "$unit"; }

tmp=$(mktemp -d /tmp/tao-t082.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

echo "1..16"

sed -e "s|/usr/sbin/taod|$build/taod|g" -e "s|/usr/bin/taoctl|$build/taoctl|g" \
    "$unit" >"$tmp/taod.service"
systemd-analyze verify --man=no "$tmp/taod.service" >"$tmp/out" 2>&1
rc=$?
check $rc "systemd-analyze verify exits 0"
[ ! -s "$tmp/out" ]
check $? "and prints nothing"
[ -s "$tmp/out" ] && diag "$(cat "$tmp/out")"

# The check above must be able to fail: a misspelt key only warns.
sed 's/^ExecReload=/ExecReloda=/' "$tmp/taod.service" >"$tmp/typo.service"
mv "$tmp/typo.service" "$tmp/taod.service"
systemd-analyze verify --man=no "$tmp/taod.service" >"$tmp/out" 2>&1
grep -q "ExecReloda" "$tmp/out"
check $? "a misspelt key is reported (so silence means something)"

has "Type=notify"
check $? "Type=notify"
has "ExecStart=/usr/sbin/taod -c /etc/taod/taod.conf"
check $? "ExecStart runs /usr/sbin/taod on /etc/taod/taod.conf"
has "ExecReload=/usr/bin/taoctl -s /run/taod/taod.sock reload"
check $? "ExecReload is taoctl reload on the packaged control socket"
grep -qx "control /run/taod/taod.sock" "$top/packaging/taod.conf"
check $? "which is the control socket of the packaged taod.conf"
has "RuntimeDirectory=taod"
check $? "RuntimeDirectory=taod (socket and pidfile in /run/taod)"
has "LimitNOFILE=1048576"
check $? "LimitNOFILE=1048576"
has "Restart=on-failure"
check $? "Restart=on-failure"
has "KillMode=mixed"
check $? "KillMode=mixed: SIGTERM to the master only, so workers drain"
stop_s=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$unit")
drain_ms=$(sed -n 's/^#\{0,1\}drain_timeout_ms \([0-9]*\)$/\1/p' \
    "$top/packaging/taod.conf" | tail -n 1)
[ -n "$stop_s" ] && [ -n "$drain_ms" ] && [ $((stop_s * 1000)) -gt "$drain_ms" ]
check $? "TimeoutStopSec (${stop_s}s) is above drain_timeout_ms (${drain_ms})"
for key in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
    PrivateTmp=yes; do
	has "$key" || { diag "missing $key"; false; } || break
done
check $? "NoNewPrivileges, ProtectSystem=strict, ProtectHome, PrivateTmp"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
case " $caps " in
*" CAP_NET_BIND_SERVICE "*) rc=0 ;;
*) rc=1 ;;
esac
check $rc "the bounding set keeps CAP_NET_BIND_SERVICE ($caps)"
extra=$(printf '%s\n' $caps | grep -vx -e CAP_NET_BIND_SERVICE -e CAP_SETUID \
    -e CAP_SETGID -e CAP_KILL)
[ -z "$extra" ]
check $? "and nothing beyond binding, switching user and signalling workers"
grep -q '^Documentation=.*man:taod(8)' "$unit"
check $? "Documentation=man:taod(8)"

[ $failed -eq 0 ]
