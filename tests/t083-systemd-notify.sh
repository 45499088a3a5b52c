#!/bin/sh
# t083-systemd-notify - taod speaks systemd's notify protocol (the unit is
# Type=notify): READY=1 once its workers serve, RELOADING=1 (with
# MONOTONIC_USEC) then READY=1 around `taoctl reload`, STOPPING=1 on
# `taoctl stop`, in that order and nothing of the kind in between.
#
# The test plays the service manager: a python3 datagram socket stands in
# for systemd's and logs every datagram as one line.  Waits are bounded
# polls scaled by TAO_TEST_TIMEOUT_SCALE; every process it starts is
# killed by pid on the way out.

top=$(cd "$(dirname "$0")/.." && pwd)
build=${TAO_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
scale=${TAO_TEST_TIMEOUT_SCALE:-1}
python=$(command -v /usr/bin/python3 python3 | head -n 1)

n=0
failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if [ "$1" -eq 0 ]; then pass "$2"; else fail "$2"; fi; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

[ -n "$python" ] || { echo "Bail out! python3 is not installed (make deps installs it)"; exit 1; }
for f in taod taoctl; do
	[ -x "$build/$f" ] || { echo "Bail out! $build/$f is not built"; exit 1; }
done

tmp=$(mktemp -d /tmp/tao-t083.XXXXXX)
taod_pid=
listener_pid=
workers=

cleanup() {
	if [ -n "$taod_pid" ] && kill -0 "$taod_pid" 2>/dev/null; then
		workers="$workers $(pgrep -P "$taod_pid" 2>/dev/null)"
		kill -TERM "$taod_pid" 2>/dev/null
		i=0
		while kill -0 "$taod_pid" 2>/dev/null && [ $i -lt 30 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$taod_pid" 2>/dev/null
	fi
	for pid in $workers; do kill -KILL "$pid" 2>/dev/null; done
	[ -n "$listener_pid" ] && kill -TERM "$listener_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Centiseconds since boot, without forking (the machine may be loaded).
now_cs() {
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}

# wait_until SECONDS COMMAND...: poll every 50 ms until COMMAND succeeds
# or SECONDS (times TAO_TEST_TIMEOUT_SCALE) pass; 0 if it succeeded.
wait_until() {
	deadline=$(($(now_cs) + $1 * 100 * scale))
	shift
	until "$@"; do
		[ "$(now_cs)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
	return 0
}

# The assignments we care about, in the order they arrived.
events() {
	tr ' ' '\n' <"$tmp/notify.log" | grep -E '^(READY|RELOADING|STOPPING)=1$' |
	    tr '\n' ' ' | sed 's/ $//'
}
events_are() { [ "$(events)" = "$1" ]; }
taod_alive() { kill -0 "$taod_pid" 2>/dev/null; }
# Wait for exactly these events, giving up early if taod died.
events_become() {
	want=$2
	wait_until "$1" eval 'events_are "$want" || ! taod_alive'
	events_are "$want"
}

cat >"$tmp/manager.py" <<'PY'
# The service manager's side of sd_notify: one line per datagram.
import os, socket, sys, time
path, log, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.1)
open(path + ".ready", "w").close()
end = time.monotonic() + limit
with open(log, "a") as f:
    while time.monotonic() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        f.write(data.decode(errors="replace").replace("\n", " ") + "\n")
        f.flush()
PY

cat >"$tmp/echo.py" <<'PY'
# Send one TLV frame (int32 LE type, uint32 LE length, payload) and
# expect the same frame back.
import socket, struct, sys
frame = struct.pack("<iI", 7, 5) + b"hello"
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
c.sendall(frame)
got = b""
while len(got) < len(frame):
    chunk = c.recv(len(frame) - len(got))
    if not chunk:
        break
    got += chunk
sys.exit(0 if got == frame else 1)
PY

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/taod.conf" <<CONF
workers 2
listen 127.0.0.1:$port tlv
app echo
control $tmp/taod.sock
pidfile $tmp/taod.pid
drain_timeout_ms 2000
CONF

echo "1..12"
: >"$tmp/notify.log"
"$python" "$tmp/manager.py" "$tmp/notify.sock" "$tmp/notify.log" \
    $((300 * scale)) &
listener_pid=$!
wait_until 10 test -e "$tmp/notify.sock.ready" ||
    { echo "Bail out! the python3 notify listener did not start"; exit 1; }

NOTIFY_SOCKET=$tmp/notify.sock "$build/taod" -c "$tmp/taod.conf" \
    2>"$tmp/taod.log" &
taod_pid=$!

events_become 20 "READY=1"
check $? "READY=1 after start"
# Sent when the workers serve, so a client must get through at once.
"$python" "$tmp/echo.py" "$port" 2>>"$tmp/echo.err"
check $? "a client is served as soon as READY=1 has arrived"
workers=$(pgrep -P "$taod_pid" 2>/dev/null)

timeout $((30 * scale)) "$build/taoctl" -s "$tmp/taod.sock" reload \
    >"$tmp/reload.out" 2>&1
check $? "taoctl reload succeeds"
events_become 10 "READY=1 RELOADING=1 READY=1"
check $? "RELOADING=1 then READY=1 around the reload"
grep -Eq '^RELOADING=1 (.* )?MONOTONIC_USEC=[0-9]+( |$)' "$tmp/notify.log"
check $? "RELOADING=1 carries MONOTONIC_USEC"
"$python" "$tmp/echo.py" "$port" 2>>"$tmp/echo.err"
check $? "the new generation serves"
workers="$workers $(pgrep -P "$taod_pid" 2>/dev/null)"

timeout $((30 * scale)) "$build/taoctl" -s "$tmp/taod.sock" stop \
    >"$tmp/stop.out" 2>&1
check $? "taoctl stop succeeds"
events_become 10 "READY=1 RELOADING=1 READY=1 STOPPING=1"
check $? "STOPPING=1 on stop"
wait_until 20 eval '! taod_alive'
check $? "taod exits"
wait "$taod_pid"
check $? "with status 0"
taod_pid=
alive=
for pid in $workers; do
	kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
done
[ -z "$alive" ]
check $? "no worker is left (had:$(echo $workers))"
events_are "READY=1 RELOADING=1 READY=1 STOPPING=1"
check $? "nothing else arrived: $(events)"

if [ $failed -ne 0 ]; then
	diag "datagrams received:"
	diag "$(cat "$tmp/notify.log")"
	diag "taod's log:"
	diag "$(tail -n 30 "$tmp/taod.log")"
	diag "taoctl: $(cat "$tmp/reload.out" "$tmp/stop.out" 2>/dev/null)"
	diag "echo client: $(tail -n 3 "$tmp/echo.err" 2>/dev/null)"
fi
[ $failed -eq 0 ]
