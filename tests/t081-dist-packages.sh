#!/bin/sh
# t081-dist-packages - `make deb` and `make rpm` build the three packages of the
# issue with the right contents: files per package, dependencies computed
# from the binaries (libbsd0, libssl3, libjemalloc2), /etc/taod/taod.conf
# as a conffile, the maintainer scripts, and no lintian error.
#
# Slow (two package builds, lintian): about 30 s on an idle 2-core machine.
# It uses only its own temporary directories, no port and no process that
# outlives it, so prove -j may run it beside the other tests.  The package
# builds do not run the test suite, and inside one (TAO_PACKAGE_BUILD) this
# test skips itself, so a package build never recurses.

top=$(cd "$(dirname "$0")/.." && pwd)
build=${TAO_BUILD:-build}

if [ -n "${TAO_PACKAGE_BUILD:-}" ]; then
	echo "1..0 # SKIP inside a package build"
	exit 0
fi
case $build in
*/asan)
	echo "1..0 # SKIP packages use release flags; make check runs this test"
	exit 0
	;;
esac
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian \
    fakeroot:fakeroot; do
	if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
		echo "Bail out! ${tool%%:*} is not installed (package ${tool#*:}; make deps installs it)"
		exit 1
	fi
done

n=0
failed=0
check() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"
	else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
same_list() {
	if [ "$1" = "$2" ]; then return 0; fi
	diag "want:" "$1" "got:" "$2"
	return 1
}
# has_all "LIST" WORD...: every word appears in the comma-separated list
# as a package name (before any version).
has_all() {
	names=$(printf '%s\n' "$1" | tr ',|' '\n\n' | sed 's/^ *//; s/[ (].*//')
	shift
	for w; do
		printf '%s\n' "$names" | grep -qx "$w" || return 1
	done
	return 0
}

tmp=$(mktemp -d /tmp/tao-t081.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

# No jobserver or overrides from a `make check` above us; no -dbgsym
# packages, which only cost time here.
pmake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" \
	    --no-print-directory PKG_WORKDIR="$tmp/work" PKG_OUTDIR="$tmp/out" \
	    DEB_BUILD_OPTIONS=noautodbgsym "$@" >"$tmp/make-$1.log" 2>&1
	rc=$?
	[ $rc -ne 0 ] && diag "make $1: exit $rc" "$(tail -n 25 "$tmp/make-$1.log")"
	return $rc
}
# The files and links of a .deb, without directories.
deb_files() {
	dpkg-deb -c "$1" | grep -v '^d' | awk '{ print $6 }' | sed 's|^\.||' | sort
}

version=$(sed -n 's/^VERSION[[:space:]]*:=[[:space:]]*//p' "$top/GNUmakefile")
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg --print-architecture)
out=$tmp/out
start=$(date +%s)
case $build in /*) ;; *) build=$top/$build ;; esac

# ---- Debian ------------------------------------------------------------------

pmake deb
check $? "make deb"
for p in taod libtao1 libtao-dev; do
	[ -f "$out/${p}_${version}_$arch.deb" ] || { diag "no $p .deb"; false; } ||
	    break
done
check $? "it builds taod, libtao1 and libtao-dev $version"

same_list "/etc/taod/taod.conf
/lib/systemd/system/taod.service
/usr/bin/tao-bench
/usr/bin/taoctl
/usr/lib/sysusers.d/taod.conf
/usr/sbin/taod
/usr/share/doc/taod/changelog.gz
/usr/share/doc/taod/copyright
/usr/share/lintian/overrides/taod
/usr/share/man/man5/taod.conf.5.gz
/usr/share/man/man8/taoctl.8.gz
/usr/share/man/man8/taod.8.gz" "$(deb_files "$out/taod_${version}_$arch.deb")"
check $? "taod: daemon, taoctl, tao-bench, config, unit, sysusers, man pages"
same_list "/usr/lib/$ma/libtao.so.1
/usr/lib/$ma/libtao.so.1.0.0
/usr/share/doc/libtao1/changelog.gz
/usr/share/doc/libtao1/copyright" "$(deb_files "$out/libtao1_${version}_$arch.deb")"
check $? "libtao1: the shared library and its soname link"
same_list "/usr/include/tao.h
/usr/lib/$ma/libtao.a
/usr/lib/$ma/libtao.so
/usr/lib/$ma/pkgconfig/tao.pc
/usr/share/doc/libtao-dev/changelog.gz
/usr/share/doc/libtao-dev/copyright
/usr/share/man/man3/tao.3.gz
/usr/share/tao/examples/module/greet.c
/usr/share/tao/examples/module/greet.conf
/usr/share/tao/examples/module/makefile" "$(deb_files "$out/libtao-dev_${version}_$arch.deb")"
check $? "libtao-dev: header, static library, dev link, tao.pc, tao(3)"

deps=$(dpkg-deb -f "$out/taod_${version}_$arch.deb" Depends)
has_all "$deps" libbsd0 libjemalloc2
check $? "taod Depends on libbsd0 and libjemalloc2 ($deps)"
has_all "$deps" libssl3
check $? "taod Depends on libssl3"
deps=$(dpkg-deb -f "$out/libtao1_${version}_$arch.deb" Depends)
has_all "$deps" libbsd0 && ! has_all "$deps" libjemalloc2
check $? "libtao1 Depends on libbsd0, not on jemalloc ($deps)"
has_all "$deps" libssl3
check $? "libtao1 Depends on libssl3"
deps=$(dpkg-deb -f "$out/libtao-dev_${version}_$arch.deb" Depends)
printf '%s\n' "$deps" | grep -q "libtao1 (= $version)"
check $? "libtao-dev Depends on libtao1 (= $version)"

dpkg-deb -e "$out/taod_${version}_$arch.deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles" 2>/dev/null)" = /etc/taod/taod.conf ]
check $? "/etc/taod/taod.conf is taod's conffile"
grep -q 'systemd-sysusers' "$tmp/control/postinst" &&
    grep -q 'useradd --system' "$tmp/control/postinst" &&
    grep -q "deb-systemd-helper enable 'taod.service'" "$tmp/control/postinst"
check $? "postinst: sysusers, a useradd fallback, and enables the unit"
grep -q "deb-systemd-invoke stop 'taod.service'" "$tmp/control/prerm" &&
    grep -q 'taoctl -s "$control" stop' "$tmp/control/prerm"
check $? "prerm stops taod with systemd and without"
for s in postinst prerm; do sh -n "$tmp/control/$s" || break; done
check $? "the maintainer scripts are valid sh"

errors=$(grep '^E:' "$out/lintian.txt")
[ -f "$out/lintian.txt" ] && [ -z "$errors" ]
check $? "lintian reports no error"
[ -n "$errors" ] && diag "$errors"
warnings=$(grep '^W:' "$out/lintian.txt")
[ -n "$warnings" ] && diag "lintian warnings:" "$warnings"

# ---- RPM ------------------------------------------------------------------------

rpm_files() {
	rpm -qpl "$1" 2>/dev/null | grep -v '^/usr/lib/\.build-id' |
	    sed 's/\.gz$//' | sort
}
if ! command -v rpmbuild >/dev/null 2>&1; then
	check 1 "rpmbuild is installed (package rpm; make deps installs it)"
else
	pmake rpm
	check $? "make rpm"
	rel=$(sed -n 's/^Release:[[:space:]]*//p' "$top/packaging/rpm/tao.spec")
	rpmarch=$(rpm --eval '%{_arch}')
	rpmlib=$(rpm --eval '%{_libdir}')
	r() { echo "$out/$1-$version-$rel.$rpmarch.rpm"; }
	same_list "/etc/taod
/etc/taod/taod.conf
/usr/bin/tao-bench
/usr/bin/taoctl
/usr/lib/systemd/system/taod.service
/usr/lib/sysusers.d/taod.conf
/usr/sbin/taod
/usr/share/man/man5/taod.conf.5
/usr/share/man/man8/taoctl.8
/usr/share/man/man8/taod.8" "$(rpm_files "$(r taod)")"
	check $? "rpm taod: daemon, taoctl, tao-bench, config, unit, sysusers, man pages"
	same_list "$rpmlib/libtao.so.1
$rpmlib/libtao.so.1.0.0" "$(rpm_files "$(r libtao)")"
	check $? "rpm libtao: the shared library and its soname link"
	same_list "/usr/include/tao.h
$rpmlib/libtao.a
$rpmlib/libtao.so
$rpmlib/pkgconfig/tao.pc
/usr/share/man/man3/tao.3
/usr/share/tao/examples/module/greet.c
/usr/share/tao/examples/module/greet.conf
/usr/share/tao/examples/module/makefile" "$(rpm_files "$(r libtao-devel)")"
	check $? "rpm libtao-devel: header, static library, dev link, tao.pc, tao(3)"
	[ "$(rpm -qp --configfiles "$(r taod)" 2>/dev/null)" = /etc/taod/taod.conf ]
	check $? "rpm taod: /etc/taod/taod.conf is %config"
	reqs=$(rpm -qpR "$(r taod)" 2>/dev/null)
	printf '%s\n' "$reqs" | grep -q '^libbsd\.so\.0()' &&
	    printf '%s\n' "$reqs" | grep -q '^libjemalloc\.so\.2()'
	check $? "rpm taod requires libbsd.so.0 and libjemalloc.so.2"
	printf '%s\n' "$reqs" | grep -q '^libssl\.so\.3()'
	check $? "rpm taod requires libssl.so.3"
fi

diag "package builds took $(($(date +%s) - start)) s"
echo "1..$n"
[ $failed -eq 0 ]
