#!/bin/sh
# t201-taoctl-links - taoctl links only what it uses (issue 13 #2): its
# own objects and proto/ctl.o, never libtao or OpenSSL.
#
# The toolchain's default --as-needed drops unused libraries from the
# binary's NEEDED list, so that list alone cannot tell a clean link from
# one that merely got lucky: the link command itself (from `make -n`) is
# checked too, and the binary must define nothing of libtao's but the
# control protocol.

top=$(cd "$(dirname "$0")/.." && pwd)
build=${TAO_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
bin=$build/taoctl

for tool in readelf nm make; do
	command -v $tool >/dev/null 2>&1 ||
	    { echo "Bail out! $tool is not installed"; exit 1; }
done
[ -x "$bin" ] || { echo "Bail out! $bin is not built"; exit 1; }

n=0
failed=0
check() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"
	else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "# NEEDED: $needed"
echo "$needed" | grep -q 'libc\.so'
check $? "taoctl is dynamically linked against libc"
! echo "$needed" | grep -Eq 'libssl|libcrypto|libtao|libjemalloc'
check $? "no libssl, libcrypto, libtao or libjemalloc among NEEDED"

# Defined symbols: taoctl's own (static, so t/d/b) and the control
# protocol's tao__ctl_*; nothing else of libtao (tao_*, tao__*, log_*).
foreign=$(nm --defined-only "$bin" | awk '{ print $NF }' |
    grep -E '^(tao_|log_|fatal)' | grep -v '^tao__ctl_' | head -5 | tr '\n' ' ')
[ -z "$foreign" ]
check $? "taoctl defines no libtao symbol but tao__ctl_* ($foreign)"

# The link command, as the GNUmakefile would run it for this build.
rel=${build#"$top"/}
case $rel in
build) san= ;;
build/asan) san=asan ;;
build/valgrind) san=valgrind ;;
*) rel= ;;
esac
if [ -n "$rel" ]; then
	link=$(cd "$top" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    make -n V=1 SAN="$san" -W ctl/taoctl.c "$rel/taoctl" 2>/dev/null |
	    grep -e "-o $rel/taoctl ")
	echo "# link: $link"
	[ -n "$link" ]
	check $? "make -n shows taoctl's link command"
	! echo "$link" | grep -Eq 'libtao|-lssl|-lcrypto|-ljemalloc'
	check $? "the link command has no libtao, -lssl, -lcrypto, -ljemalloc"
	echo "$link" | grep -q 'proto/ctl\.o'
	check $? "the link command takes the control protocol from proto/ctl.o"
else
	echo "# build directory $build is outside the tree: link command not checked"
fi

echo "1..$n"
[ $failed -eq 0 ]
