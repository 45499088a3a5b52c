#!/bin/sh
# t086-dist-exports - libtao.so exports the public API of include/tao.h and
# nothing else: no tao__ internals, no unprefixed helpers (log_warn...),
# every function tao.h declares is there, and the soname is libtao.so.1.
# The rules live in packaging/libtao.map; this keeps a later change from
# widening the ABI silently.

top=$(cd "$(dirname "$0")/.." && pwd)
build=${TAO_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
lib=$build/libtao.so
header=$top/include/tao.h

command -v nm >/dev/null 2>&1 || { echo "Bail out! nm is not installed"; exit 1; }
[ -e "$lib" ] || { echo "Bail out! $lib is not built"; exit 1; }

n=0
failed=0
check() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"
	else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '{ print $NF }' | sort -u >"$tmp/exported"
grep -v -e '^tao_[a-z]' -e '^_init$' -e '^_fini$' "$tmp/exported" >"$tmp/foreign"
[ ! -s "$tmp/foreign" ]
check $? "only tao_* names are exported ($(wc -l <"$tmp/foreign") others:" \
    "$(head -5 "$tmp/foreign" | tr '\n' ' '))"

grep -q '^tao_[a-z]' "$tmp/exported"
check $? "the public API is exported ($(wc -l <"$tmp/exported") symbols)"

# Every tao_ name exported is one tao.h declares (no undocumented ABI) ...
grep -o '\btao_[a-z][a-z0-9_]*' "$header" | sort -u >"$tmp/declared"
comm -23 "$tmp/exported" "$tmp/declared" | grep -v -e '^_init$' -e '^_fini$' \
    >"$tmp/undeclared"
[ ! -s "$tmp/undeclared" ]
check $? "every exported name is declared in tao.h" \
    "($(head -5 "$tmp/undeclared" | tr '\n' ' '))"

# ... and every function tao.h declares is exported.
grep -o '\btao_[a-z][a-z0-9_]*(' "$header" | tr -d '(' | sort -u >"$tmp/functions"
comm -23 "$tmp/functions" "$tmp/exported" >"$tmp/missing"
[ ! -s "$tmp/missing" ]
check $? "every function of tao.h is exported" \
    "($(head -5 "$tmp/missing" | tr '\n' ' '))"

objdump -p "$lib" 2>/dev/null | grep -q 'SONAME *libtao\.so\.1$'
check $? "the soname is libtao.so.1"

echo "1..$n"
[ $failed -eq 0 ]
