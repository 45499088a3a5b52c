# packaging/packages.mk - `make deb` and `make rpm`, included by the
# GNUmakefile.  Both build from a copy of the work tree (files git tracks
# or would add, see stage-source.sh) so that a package never contains
# stray build output, and both leave their packages in $(PKG_OUTDIR):
#
#	make deb	taod, libtao1, libtao-dev (+ -dbgsym) .debs, the
#			.changes and lintian's report, lintian.txt
#	make rpm	taod, libtao, libtao-devel .rpms
#
# The package builds do not run the test suite (DEB_BUILD_OPTIONS=nocheck,
# and the spec's %check is off unless --with check): `make check` already
# runs it, includes tests/t081-dist-packages.sh which builds these packages, and
# a package build that ran it would recurse.  It also keeps `make deb`
# under a minute.
#
# PKG_WORKDIR and PKG_OUTDIR may be changed, e.g. to a temporary directory
# (tests/t081-dist-packages.sh does), so that concurrent builds do not meet.

PKG_WORKDIR	?= build/pkg
PKG_OUTDIR	?= build/packages
PKG_NAME	:= tao-$(VERSION)

pkg_work	= $(abspath $(PKG_WORKDIR))
pkg_out		= $(abspath $(PKG_OUTDIR))
# Variables given to this make (SAN=, CFLAGS=, ...) must not leak into the
# package build's own make through the environment.
pkg_env		= env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		  -u TAO_BUILD

# The version lives in three places; refuse to build a package whose
# metadata disagrees with the GNUmakefile.
define pkg_check_version
	@deb=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version \
	    2>/dev/null || sed -n '1s/.*(\(.*\)).*/\1/p' \
	    packaging/debian/changelog); \
	rpm=$$(sed -n 's/^Version:[[:space:]]*//p' packaging/rpm/tao.spec); \
	if [ "$$deb" != "$(VERSION)" ] || [ "$$rpm" != "$(VERSION)" ]; then \
		echo "packaging: VERSION is $(VERSION) but debian/changelog" \
		    "says $$deb and rpm/tao.spec $$rpm" >&2; exit 1; \
	fi
endef

deb:
	$(pkg_check_version)
	rm -rf $(pkg_work)/deb
	mkdir -p $(pkg_work)/deb $(pkg_out)
	packaging/stage-source.sh $(pkg_work)/deb/$(PKG_NAME)
	cp -R packaging/debian $(pkg_work)/deb/$(PKG_NAME)/debian
	cd $(pkg_work)/deb/$(PKG_NAME) && \
	    $(pkg_env) DEB_BUILD_OPTIONS="nocheck $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -us -uc -b -Jauto
	@# lintian reads the .changes and the .debs it names, so it runs
	@# before they move.  "E:" lines are errors and fail the build.
	lintian --fail-on error \
	    $(pkg_work)/deb/tao_$(VERSION)_*.changes \
	    >$(pkg_work)/deb/lintian.txt 2>&1; \
	    rc=$$?; cat $(pkg_work)/deb/lintian.txt; exit $$rc
	cd $(pkg_out) && rm -f taod_*.deb taod-dbgsym_*.deb libtao1_*.deb \
	    libtao1-dbgsym_*.deb libtao-dev_*.deb tao_*.changes \
	    tao_*.buildinfo lintian.txt
	mv $(pkg_work)/deb/*.deb $(pkg_work)/deb/tao_$(VERSION)_*.changes \
	    $(pkg_work)/deb/tao_$(VERSION)_*.buildinfo \
	    $(pkg_work)/deb/lintian.txt $(pkg_out)/
	@ls -1 $(pkg_out)/*.deb

rpm:
	$(pkg_check_version)
	rm -rf $(pkg_work)/rpm
	mkdir -p $(pkg_work)/rpm/SOURCES $(pkg_out)
	packaging/stage-source.sh $(pkg_work)/rpm/src/$(PKG_NAME)
	tar -C $(pkg_work)/rpm/src -czf \
	    $(pkg_work)/rpm/SOURCES/$(PKG_NAME).tar.gz $(PKG_NAME)
	$(pkg_env) rpmbuild -bb --nodeps \
	    --define '_topdir $(pkg_work)/rpm' packaging/rpm/tao.spec
	cd $(pkg_out) && rm -f taod-[0-9]*.rpm libtao-[0-9]*.rpm \
	    libtao-devel-[0-9]*.rpm taod-debuginfo-*.rpm libtao-debuginfo-*.rpm
	mv $(pkg_work)/rpm/RPMS/*/*.rpm $(pkg_out)/
	@ls -1 $(pkg_out)/*.rpm
