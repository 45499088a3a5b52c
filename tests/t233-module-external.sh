#!/bin/sh
# t233-module-external - issue 16: the out-of-tree module of
# examples/module/ builds against a `make install DESTDIR=` tree with
# nothing but its makefile and `pkg-config --cflags tao` (the installed
# copy in share/tao/examples/module/), without -ltao, and the installed
# taod loads it with its argument and serves it; taod -t refuses the same
# module with a bad argument, with FILE:LINE.

top=$(cd "$(dirname "$0")/.." && pwd)
build=${TAO_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
case $build in */asan) san=asan ;; *) san= ;; esac
scale=${TAO_TEST_TIMEOUT_SCALE:-1}
python=$(command -v /usr/bin/python3 python3 | head -n 1)

n=0
failed=0
check() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"
	else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

tmp=$(mktemp -d /tmp/tao-t233.XXXXXX)
server_pid=
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		children=$(pgrep -P "$server_pid" 2>/dev/null)
		kill -KILL "$server_pid" $children 2>/dev/null
	fi
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

dest=$tmp/dest
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" --no-print-directory \
    ${san:+SAN=$san} install DESTDIR="$dest" PREFIX=/usr/local \
    >"$tmp/make.log" 2>&1
rc=$?
check $rc "make install DESTDIR=... PREFIX=/usr/local"
[ $rc -ne 0 ] && diag "$(tail -n 15 "$tmp/make.log")"

# The installed example, copied out as a module author would.
mkdir -p "$tmp/greet"
cp "$dest/usr/local/share/tao/examples/module/"* "$tmp/greet/" 2>/dev/null
[ -f "$tmp/greet/greet.c" ] && [ -f "$tmp/greet/makefile" ]
check $? "the -dev files hold examples/module (greet.c, makefile)"

export PKG_CONFIG_PATH="$dest/usr/local/lib/pkgconfig"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tmp/greet" \
    PKG_CONFIG="pkg-config --define-prefix" CFLAGS="-O2 -Wall -Wextra -Werror" \
    >"$tmp/greet.log" 2>&1
rc=$?
check $rc "greet.so builds with its makefile and pkg-config --cflags tao"
[ $rc -ne 0 ] && diag "$(cat "$tmp/greet.log")"
cflags=$(pkg-config --define-prefix --cflags tao)
[ "$(echo $cflags)" = "-I$dest/usr/local/include" ] && [ ! -e /usr/include/tao.h ] &&
    [ ! -e /usr/local/include/tao.h ]
check $? "against the installed tao.h ($cflags), the only one there is"
! objdump -p "$tmp/greet/greet.so" 2>/dev/null | grep -q 'NEEDED.*libtao'
check $? "greet.so is not linked with libtao (taod provides it)"

taod=$dest/usr/local/sbin/taod
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/bad.conf" <<EOT
workers 1
listen 127.0.0.1:$port tlv
app $tmp/greet/greet.so one two
EOT
"$taod" -t -c "$tmp/bad.conf" >"$tmp/bad.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "^$tmp/bad.conf:3: app .*init failed: invalid argument" "$tmp/bad.out"
check $? "taod -t refuses greet with two arguments, at bad.conf:3"
[ $rc -ne 1 ] && diag "$(cat "$tmp/bad.out")"

cat >"$tmp/greet.conf" <<EOT
workers 1
listen 127.0.0.1:$port tlv
app $tmp/greet/greet.so Salut
control $tmp/taod.sock
EOT
"$taod" -c "$tmp/greet.conf" >"$tmp/taod.log" 2>&1 &
server_pid=$!
"$python" - "$port" $((10 * scale)) >>"$tmp/client.log" 2>&1 <<'PY'
import socket, struct, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.monotonic() + limit
while True:
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        if time.monotonic() > end:
            raise
        time.sleep(0.05)
c.sendall(struct.pack("<iI", 1, 5) + b"world")
want = struct.pack("<iI", 1, 13) + b"Salut, world!"
got = b""
while len(got) < len(want):
    chunk = c.recv(len(want) - len(got))
    if not chunk:
        break
    got += chunk
print(got)
sys.exit(0 if got == want else 1)
PY
rc=$?
check $rc "the installed taod serves greet.so: 'Salut, world!'"
[ $rc -ne 0 ] && diag "$(cat "$tmp/client.log" "$tmp/taod.log" | tail -n 10)"
kill -TERM "$server_pid" 2>/dev/null
i=0
while kill -0 "$server_pid" 2>/dev/null && [ $i -lt $((100 * scale)) ]; do
	sleep 0.1
	i=$((i + 1))
done
! kill -0 "$server_pid" 2>/dev/null
check $? "taod stops on SIGTERM"

echo "1..$n"
[ $failed -eq 0 ]
