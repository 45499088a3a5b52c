# packaging/install.mk - `make install` and `make uninstall`, included by
# the GNUmakefile.  The Debian and RPM builds use these targets too, so the
# variables follow the GNU names the packagers pass:
#
#	make install PREFIX=/usr/local DESTDIR=/tmp/stage
#	make install PREFIX=/usr SYSCONFDIR=/etc \
#	    LIBDIR=/usr/lib/x86_64-linux-gnu \
#	    UNITDIR=/lib/systemd/system SYSUSERSDIR=/usr/lib/sysusers.d
#
# The systemd unit and the sysusers.d file are installed only when UNITDIR
# and SYSUSERSDIR are given: a /usr/local install has no business in the
# system manager's directories unless asked.  An existing taod.conf is never
# overwritten, and uninstall removes it only if it is still the shipped one.

PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
MANDIR		?= $(PREFIX)/share/man
DATADIR		?= $(PREFIX)/share
# What a module author copies: a complete out-of-tree module.
MODULE_EXAMPLE	:= greet.c greet.conf makefile
MODULE_EXDIR	 = $(DATADIR)/tao/examples/module
SYSCONFDIR	?= $(PREFIX)/etc
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig
UNITDIR		?=
SYSUSERSDIR	?=

INSTALL		?= install
INSTALL_PROGRAM	?= $(INSTALL) -m 0755
INSTALL_DATA	?= $(INSTALL) -m 0644

# Installed paths written into tao.pc and the unit; ${prefix} keeps tao.pc
# relocatable (pkg-config --define-prefix) when LIBDIR is under PREFIX.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

define install_unit
	sed -e 's|/usr/sbin/taod|$(SBINDIR)/taod|' \
	    -e 's|/usr/bin/taoctl|$(BINDIR)/taoctl|' \
	    -e 's|/etc/taod/|$(SYSCONFDIR)/taod/|' \
	    packaging/taod.service > $(DESTDIR)$(UNITDIR)/taod.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/taod.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/taod.service.tmp \
	    $(DESTDIR)$(UNITDIR)/taod.service
endef

# What install builds first: everything, unless a package build, which
# runs no tests, asks for only the files installed (INSTALL_DEPS=installables).
INSTALL_DEPS	?= all
INSTALLED_BUILD	:= $(LIBRARIES) $(BUILD)/taod $(BUILD)/taoctl $(BUILD)/tao-bench

.PHONY: installables
installables: $(INSTALLED_BUILD)

install: $(INSTALL_DEPS)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SYSCONFDIR)/taod \
	    $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MODULE_EXDIR)
	$(INSTALL_PROGRAM) $(BUILD)/taod $(DESTDIR)$(SBINDIR)/taod
	$(INSTALL_PROGRAM) $(BUILD)/taoctl $(DESTDIR)$(BINDIR)/taoctl
	$(INSTALL_PROGRAM) $(BUILD)/tao-bench $(DESTDIR)$(BINDIR)/tao-bench
	$(INSTALL_DATA) $(BUILD)/$(SOFILE) $(DESTDIR)$(LIBDIR)/$(SOFILE)
	ln -sf $(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libtao.so
	$(INSTALL_DATA) $(BUILD)/libtao.a $(DESTDIR)$(LIBDIR)/libtao.a
	$(INSTALL_DATA) include/tao.h $(DESTDIR)$(INCLUDEDIR)/tao.h
	$(INSTALL_DATA) $(addprefix examples/module/,$(MODULE_EXAMPLE)) \
	    $(DESTDIR)$(MODULE_EXDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' \
	    packaging/tao.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/tao.pc.tmp
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/tao.pc.tmp
	mv -f $(DESTDIR)$(PKGCONFIGDIR)/tao.pc.tmp $(DESTDIR)$(PKGCONFIGDIR)/tao.pc
	$(INSTALL_DATA) packaging/man/tao.3 $(DESTDIR)$(MANDIR)/man3/tao.3
	$(INSTALL_DATA) packaging/man/taod.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/taod.conf.5
	$(INSTALL_DATA) packaging/man/taod.8 $(DESTDIR)$(MANDIR)/man8/taod.8
	$(INSTALL_DATA) packaging/man/taoctl.8 $(DESTDIR)$(MANDIR)/man8/taoctl.8
	@conf=$(DESTDIR)$(SYSCONFDIR)/taod/taod.conf; \
	if [ -e "$$conf" ] && ! cmp -s packaging/taod.conf "$$conf"; then \
		echo "install: keeping $$conf (changed locally);" \
		    "the shipped one is packaging/taod.conf"; \
	else \
		echo "$(INSTALL_DATA) packaging/taod.conf $$conf"; \
		$(INSTALL_DATA) packaging/taod.conf "$$conf"; \
	fi
ifneq ($(UNITDIR),)
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	$(install_unit)
endif
ifneq ($(SYSUSERSDIR),)
	$(INSTALL) -d $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL_DATA) packaging/taod.sysusers $(DESTDIR)$(SYSUSERSDIR)/taod.conf
endif

# Files only: directories such as $(PREFIX)/bin are shared with others.
# The taod/ config directory goes if it is left empty.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/taod $(DESTDIR)$(BINDIR)/taoctl \
	    $(DESTDIR)$(BINDIR)/tao-bench \
	    $(DESTDIR)$(LIBDIR)/$(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/libtao.so $(DESTDIR)$(LIBDIR)/libtao.a \
	    $(DESTDIR)$(INCLUDEDIR)/tao.h $(DESTDIR)$(PKGCONFIGDIR)/tao.pc \
	    $(DESTDIR)$(MANDIR)/man3/tao.3 \
	    $(DESTDIR)$(MANDIR)/man5/taod.conf.5 \
	    $(DESTDIR)$(MANDIR)/man8/taod.8 $(DESTDIR)$(MANDIR)/man8/taoctl.8 \
	    $(addprefix $(DESTDIR)$(MODULE_EXDIR)/,$(MODULE_EXAMPLE))
	-rmdir $(DESTDIR)$(MODULE_EXDIR) $(DESTDIR)$(DATADIR)/tao/examples \
	    $(DESTDIR)$(DATADIR)/tao 2>/dev/null
	@conf=$(DESTDIR)$(SYSCONFDIR)/taod/taod.conf; \
	if [ -e "$$conf" ] && ! cmp -s packaging/taod.conf "$$conf"; then \
		echo "uninstall: keeping $$conf (changed locally)"; \
	else \
		echo "rm -f $$conf"; rm -f "$$conf"; \
		rmdir $(DESTDIR)$(SYSCONFDIR)/taod 2>/dev/null || true; \
	fi
ifneq ($(UNITDIR),)
	rm -f $(DESTDIR)$(UNITDIR)/taod.service
endif
ifneq ($(SYSUSERSDIR),)
	rm -f $(DESTDIR)$(SYSUSERSDIR)/taod.conf
endif
