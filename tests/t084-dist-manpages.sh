#!/bin/sh
# t084-dist-manpages - the manuals and the shipped configuration agree with the
# daemon: every page renders through man(1) and groff without a warning,
# taod.conf(5) and packaging/taod.conf describe every directive taod
# knows, and `taod -t` accepts the shipped file with every commented
# default switched on.

top=$(cd "$(dirname "$0")/.." && pwd)
build=${TAO_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
man=$top/packaging/man
conf=$top/packaging/taod.conf

for tool in man groff; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "Bail out! $tool is not installed (packages man-db, groff-base; make deps installs them)"
		exit 1
	fi
done
[ -x "$build/taod" ] || { echo "Bail out! $build/taod is not built"; exit 1; }

n=0
failed=0
check() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"
	else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

tmp=$(mktemp -d /tmp/tao-t084.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

# Every directive of taod.conf(5): the parser's table in master/config.c.
directives="workers worker_cpu_affinity listen app module_path max_frame write_queue_max max_connections
ring_size heartbeat_ms heartbeat_reply idle_timeout_ms frame_timeout_ms
drain_timeout_ms send_timeout_ms reload_timeout_ms max_old_generations blocking_threads blocking_queue_max control pidfile user
log_level metrics tls_cert tls_key tls_client_ca allow deny
max_connections_per_ip
cluster cluster_password cluster_channel cluster_queue_max node_id"
pages="tao.3 taod.conf.5 taod.8 taoctl.8"

for page in $pages; do
	# man-db's --warnings passes -w to groff; its stderr must stay empty.
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$man/$page" \
	    >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && [ -s "$tmp/out" ]
	check $? "man -l $page renders without a warning"
	[ -s "$tmp/err" ] && diag "$(head -n 5 "$tmp/err")"
	groff -mandoc -ww -z "$man/$page" >"$tmp/err" 2>&1
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$tmp/err" ]
	check $? "groff -mandoc -ww -z $page is silent"
	[ -s "$tmp/err" ] && diag "$(head -n 5 "$tmp/err")"
done

# The parser must know exactly our list: a directive it rejects is a
# stale list, and one it accepts that is not in the list is undocumented.
missing=
for d in $directives; do
	grep -q "^\.It Ic $d\( \|$\)" "$man/taod.conf.5" || missing="$missing $d"
done
[ -z "$missing" ]
check $? "taod.conf(5) has an entry for every directive${missing:+ (missing:$missing)}"
undocumented=$(grep -o '^	{ "[a-z_]*"' "$top/master/config.c" |
    sed 's/.*"\(.*\)"/\1/' | while read -r d; do
	case " $(echo $directives) " in *" $d "*) ;; *) echo "$d" ;; esac
done)
[ -z "$undocumented" ]
check $? "master/config.c has no directive missing from the list${undocumented:+ ($(echo $undocumented))}"
nodefault=
for d in $directives; do
	[ "$d" = listen ] && continue
	# From the entry's .It line to the next .It at that level, a Default:.
	sed -n "/^\.It Ic $d\( \|$\)/,/^\.It Ic /p" "$man/taod.conf.5" |
	    grep -q '^Default' || nodefault="$nodefault $d"
done
[ -z "$nodefault" ]
check $? "every entry states its default${nodefault:+ (none for:$nodefault)}"
# tao(3)'s SYNOPSIS follows include/tao.h: one .Fn per public function.
header=$(grep -E '^[a-z].*[[:space:]*]tao_[a-z_]+\(' "$top/include/tao.h" |
    sed -E 's/.*[[:space:]*](tao_[a-z_]+)\(.*/\1/' | sort)
synopsis=$(sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$man/tao.3" |
    sed -n 's/^\.Fn \(tao_[a-z_]*\).*/\1/p' | sort)
[ -n "$header" ] && [ "$header" = "$synopsis" ]
check $? "tao(3) lists exactly the functions of tao.h ($(echo "$header" | wc -l))"
[ "$header" != "$synopsis" ] &&
    diag "$(printf '%s\n' "$header" >"$tmp/h"; printf '%s\n' "$synopsis" >"$tmp/s"; diff "$tmp/h" "$tmp/s")"
missing=
for d in $directives; do
	grep -q "^#\{0,1\}$d " "$conf" || missing="$missing $d"
done
[ -z "$missing" ]
check $? "packaging/taod.conf lists every directive${missing:+ (missing:$missing)}"

# taod -t checks that the user exists, and the package creates "taod" only
# when it is installed: check the file as this machine's user.
sed "s/^user taod\$/user $(id -un)/" "$conf" >"$tmp/taod.conf"
"$build/taod" -t -c "$tmp/taod.conf" >"$tmp/out" 2>&1
rc=$?
check $rc "taod -t accepts packaging/taod.conf (user taod as $(id -un))"
[ $rc -ne 0 ] && diag "$(cat "$tmp/out")"
for want in "user taod" "app echo" "control /run/taod/taod.sock" \
    "pidfile /run/taod/taod.pid"; do
	grep -qx "$want" "$conf" || { diag "missing: $want"; false; } || break
done
check $? "it runs echo as user taod, control and pidfile in /run/taod"
listens=$(grep '^listen ' "$conf")
[ -n "$listens" ] && ! printf '%s\n' "$listens" | grep -qv '^listen 127\.0\.0\.1:'
check $? "it listens on 127.0.0.1 only"

# Switch on every commented default ("#name value") but the TLS files and
# extra listeners, which need files and addresses of their own: the
# defaults as written must be valid values.
sed -E -e 's/^#((workers|worker_cpu_affinity|app|max_frame|write_queue_max|max_connections|ring_size|heartbeat_ms|heartbeat_reply|idle_timeout_ms|frame_timeout_ms|drain_timeout_ms|reload_timeout_ms|max_old_generations|log_level|metrics) )/\1/' \
    "$tmp/taod.conf" >"$tmp/all.conf"
"$build/taod" -t -c "$tmp/all.conf" >"$tmp/out" 2>&1
rc=$?
check $rc "taod -t accepts it with every commented default switched on"
[ $rc -ne 0 ] && diag "$(cat "$tmp/out")"

echo "1..$n"
[ $failed -eq 0 ]
