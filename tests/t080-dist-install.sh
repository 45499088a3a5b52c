#!/bin/sh
# t080-dist-install - `make install` puts exactly the expected files under
# DESTDIR/PREFIX, with the right modes, links and tao.pc; the unit and the
# sysusers file only when asked; a changed config survives; `make
# uninstall` takes everything back.  Then a program outside the tree
# (examples/echo-server.c) builds against an installed prefix with nothing
# but `pkg-config --cflags --libs tao`, and serves.
#
# The install comes from the build under test: TAO_BUILD=.../build/asan
# means `make SAN=asan install`, so the release build is not touched.

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
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

tmp=$(mktemp -d /tmp/tao-t080.XXXXXX)
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

# make in the source tree, for the build under test, without the
# jobserver and overrides of a `make check` that may be running us.
tmake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" \
	    --no-print-directory ${san:+SAN=$san} "$@" >>"$tmp/make.log" 2>&1
	rc=$?
	[ $rc -ne 0 ] && diag "make $*: exit $rc" "$(tail -n 15 "$tmp/make.log")"
	return $rc
}
# Files and links under a tree, relative, sorted (directories are shared
# with other software and are left alone by uninstall).
files() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort); }
same_list() {
	if [ "$1" = "$2" ]; then return 0; fi
	diag "want:" "$1" "got:" "$2"
	return 1
}

version=$(sed -n 's/^VERSION[[:space:]]*:=[[:space:]]*//p' "$top/GNUmakefile")
expected="/usr/local/bin/tao-bench
/usr/local/bin/taoctl
/usr/local/etc/taod/taod.conf
/usr/local/include/tao.h
/usr/local/lib/libtao.a
/usr/local/lib/libtao.so
/usr/local/lib/libtao.so.1
/usr/local/lib/libtao.so.1.0.0
/usr/local/lib/pkgconfig/tao.pc
/usr/local/sbin/taod
/usr/local/share/man/man3/tao.3
/usr/local/share/man/man5/taod.conf.5
/usr/local/share/man/man8/taoctl.8
/usr/local/share/man/man8/taod.8
/usr/local/share/tao/examples/module/greet.c
/usr/local/share/tao/examples/module/greet.conf
/usr/local/share/tao/examples/module/makefile"

# ---- DESTDIR install -------------------------------------------------------

dest=$tmp/dest
tmake install DESTDIR="$dest" PREFIX=/usr/local
check $? "make install DESTDIR=... PREFIX=/usr/local"
same_list "$expected" "$(files "$dest")"
check $? "it installs exactly the expected files"

lib=$dest/usr/local/lib
[ "$(readlink "$lib/libtao.so")" = libtao.so.1 ] &&
    [ "$(readlink "$lib/libtao.so.1")" = libtao.so.1.0.0 ]
check $? "libtao.so -> libtao.so.1 -> libtao.so.1.0.0"
objdump -p "$lib/libtao.so.1.0.0" 2>/dev/null | grep -q 'SONAME *libtao\.so\.1$'
check $? "the library's soname is libtao.so.1"
modes=$(cd "$dest" && find . -type f -exec stat -c '%a %n' {} + | sort -k 2)
bad=$(printf '%s\n' "$modes" | while read -r mode path; do
	case $path in
	*/bin/* | */sbin/*) want=755 ;;
	*) want=644 ;;
	esac
	[ "$mode" = "$want" ] || echo "$path is $mode, want $want"
done)
[ -z "$bad" ]
check $? "programs are 0755, everything else 0644${bad:+ ($bad)}"

pc=$lib/pkgconfig/tao.pc
grep -qx 'prefix=/usr/local' "$pc" && grep -qx 'libdir=${prefix}/lib' "$pc" &&
    grep -qx 'includedir=${prefix}/include' "$pc" &&
    grep -qx "Version: $version" "$pc"
check $? "tao.pc: prefix, libdir, includedir and version $version"
grep -qx 'Libs: -L${libdir} -ltao' "$pc" &&
    grep -qx 'Libs.private: -lbsd -lssl -lcrypto -lhiredis -lpthread' "$pc" &&
    ! grep -q '^Requires' "$pc"
check $? "tao.pc: -ltao, private -lbsd -lssl -lcrypto -lhiredis -lpthread, no Requires"

tmake uninstall DESTDIR="$dest" PREFIX=/usr/local
check $? "make uninstall with the same DESTDIR and PREFIX"
left=$(files "$dest")
[ -z "$left" ]
check $? "removes every file it installed${left:+ (left: $(echo $left))}"

# ---- unit, sysusers, a changed config -----------------------------------------

sys="UNITDIR=/lib/systemd/system SYSUSERSDIR=/usr/lib/sysusers.d"
tmake install DESTDIR="$dest" PREFIX=/usr/local $sys
unit=$dest/lib/systemd/system/taod.service
grep -qx 'ExecStart=/usr/local/sbin/taod -c /usr/local/etc/taod/taod.conf' \
    "$unit" 2>/dev/null &&
    grep -qx 'ExecReload=/usr/local/bin/taoctl -s /run/taod/taod.sock reload' \
    "$unit" && [ -f "$dest/usr/lib/sysusers.d/taod.conf" ]
check $? "UNITDIR and SYSUSERSDIR add the unit, pointing at PREFIX, and sysusers.d/taod.conf"
conf=$dest/usr/local/etc/taod/taod.conf
echo "workers 1" >>"$conf"
tmake install DESTDIR="$dest" PREFIX=/usr/local $sys
tail -n 1 "$conf" | grep -qx "workers 1"
check $? "a reinstall keeps a locally changed taod.conf"
tmake uninstall DESTDIR="$dest" PREFIX=/usr/local $sys
left=$(files "$dest")
[ "$left" = /usr/local/etc/taod/taod.conf ]
check $? "uninstall removes the rest, the unit included, and keeps that taod.conf"

# ---- a program built against an installed prefix -----------------------------

prefix=$tmp/prefix
tmake install PREFIX="$prefix"
check $? "make install PREFIX=<temporary prefix>"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs tao 2>"$tmp/pc.err")
rc=$?
[ $rc -eq 0 ] && [ "$(echo $flags)" = "-I$prefix/include -L$prefix/lib -ltao" ]
check $? "pkg-config --cflags --libs tao: $(echo $flags)"
case $(pkg-config --cflags tao) in *bsd*) rc=1 ;; *) rc=0 ;; esac
check $rc "no libbsd overlay forced on users"

example=$top/examples/echo-server.c
if [ ! -f "$example" ]; then
	for what in "builds" "links the installed libtao.so.1" "serves" \
	    "stops"; do
		skip "echo-server $what: examples/echo-server.c is not written yet"
	done
else
	# A sanitized libtao needs the sanitizer runtime in the program too.
	sanflags=
	[ -n "$san" ] && sanflags="-fsanitize=address,undefined"
	${CC:-cc} $sanflags -o "$tmp/echo-server" "$example" $flags \
	    -Wl,-rpath,"$prefix/lib" >"$tmp/cc.log" 2>&1
	rc=$?
	check $rc "echo-server builds with only pkg-config's flags"
	[ $rc -ne 0 ] && diag "$(head -n 20 "$tmp/cc.log")"
	ldd "$tmp/echo-server" 2>/dev/null |
	    grep -q "libtao\.so\.1 => $prefix/lib/libtao\.so\.1 "
	check $? "echo-server links the installed libtao.so.1"

	# echo-server HOST:PORT serves TLV there, with its control socket
	# in the working directory.
	port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	(cd "$tmp" && exec ./echo-server "127.0.0.1:$port") \
	    >"$tmp/echo.log" 2>&1 &
	server_pid=$!
	"$python" - "$port" $((10 * scale)) >>"$tmp/echo.log" 2>&1 <<'PY'
# Connect (retrying while the server starts), send one TLV frame, expect
# it back unchanged.
import socket, struct, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
frame = struct.pack("<iI", 7, 5) + b"hello"
end = time.monotonic() + limit
while True:
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        if time.monotonic() > end:
            raise
        time.sleep(0.05)
c.sendall(frame)
got = b""
while len(got) < len(frame):
    chunk = c.recv(len(frame) - len(got))
    if not chunk:
        break
    got += chunk
sys.exit(0 if got == frame else 1)
PY
	rc=$?
	check $rc "echo-server echoes a TLV frame"
	[ $rc -ne 0 ] && diag "$(tail -n 10 "$tmp/echo.log")"
	children=$(pgrep -P "$server_pid" 2>/dev/null)
	kill -TERM "$server_pid" 2>/dev/null
	i=0
	while kill -0 "$server_pid" 2>/dev/null && [ $i -lt $((100 * scale)) ]
	do
		sleep 0.1
		i=$((i + 1))
	done
	alive=
	for pid in $server_pid $children; do
		kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
	done
	[ -z "$alive" ]
	check $? "echo-server and its workers exit on SIGTERM${alive:+ (alive:$alive)}"
fi

tmake uninstall PREFIX="$prefix"
left=$(files "$prefix")
[ -z "$left" ]
check $? "make uninstall PREFIX=<temporary prefix> leaves no file"

echo "1..$n"
[ $failed -eq 0 ]
