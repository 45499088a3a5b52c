# tests/valgrind.mk - `make valgrind`: integration tests with taod (master
# and every worker) under valgrind's memcheck.
#
# valgrind cannot run ASan binaries and is misled by jemalloc, so this is
# a build of its own: SAN=valgrind (see the GNUmakefile) builds into
# build/valgrind with libc malloc and -O1 -g.  The tests find taod as
# $TAO_BUILD/taod, so TAO_BUILD points at build/valgrind/vg, where taod is
# a small script that execs valgrind on the real build/valgrind/taod and
# taoctl is a link to the real one (taoctl is not under test here).
# Workers are forked, not exec'd: valgrind follows them anyway, and
# --log-file=...%p gives each process its own log.  Timeouts are scaled
# by VG_SCALE.  With --quiet valgrind writes only what it reports, so the
# run fails if a test fails or if any log holds more than warnings: an
# error or a definite or possible leak (which --error-exitcode also turns
# into taod's exit code 1, failing the test that stops it).
#
#	make valgrind                     the default subset
#	make valgrind VG_TESTS='t040-echo-basic t041-echo-big'

VG_TESTS	?= t040-echo-basic t041-echo-big t044-config-errors \
		   t051-master-crash t052-master-stop t053-master-reload \
		   t060-chat-fanout t061-chat-unicast t070-conn-heartbeat
VG_SCALE	?= 10
VG_JOBS		?= 2
VG_OPTS		?= --error-exitcode=1 --leak-check=full --trace-children=yes \
		   --quiet --num-callers=30

ifeq ($(SAN),valgrind)

VG_DIR		:= $(CURDIR)/$(BUILD)/vg
VG_BINS		:= $(patsubst %,$(BUILD)/tests/%.t,$(VG_TESTS))

$(BUILD)/vg/taoctl: $(BUILD)/taoctl
	@mkdir -p $(dir $@)
	$(Q)ln -sf ../taoctl $@

# The wrapper is written on every run, so that VG_OPTS always applies.
valgrind: $(BUILD)/taod $(BUILD)/vg/taoctl $(VG_BINS)
	@command -v valgrind >/dev/null || { echo "valgrind: not installed (make deps)" >&2; exit 1; }
	@rm -rf $(VG_DIR)/logs && mkdir -p $(VG_DIR)/logs
	@printf '%s\n' '#!/bin/sh' \
	    '# written by tests/valgrind.mk: taod under valgrind' \
	    'exec valgrind $(VG_OPTS) --log-file=$(VG_DIR)/logs/taod.%p.log $(CURDIR)/$(BUILD)/taod "$$@"' \
	    > $(VG_DIR)/taod.tmp && chmod +x $(VG_DIR)/taod.tmp && \
	    mv $(VG_DIR)/taod.tmp $(VG_DIR)/taod
	@rc=0; \
	TAO_BUILD=$(VG_DIR) TAO_TEST_TIMEOUT_SCALE=$(VG_SCALE) \
	    prove -j$(VG_JOBS) -e '' $(VG_BINS) || rc=1; \
	n=$$(ls $(VG_DIR)/logs | wc -l); \
	bad=$$(for f in $(VG_DIR)/logs/*; do \
		grep -vqE '^==[0-9]+== *$$|^==[0-9]+== Warning:' $$f 2>/dev/null && echo $$f; \
	done); \
	for f in $$bad; do echo "---- $$f"; cat $$f; done; \
	if [ -n "$$bad" ]; then \
		echo "valgrind: reports in $$(echo $$bad | wc -w) of $$n process logs ($(VG_DIR)/logs)"; rc=1; \
	else \
		echo "valgrind: $$n taod processes, no error and no leak reported"; \
	fi; \
	exit $$rc

else

valgrind:
	$(MAKE) SAN=valgrind valgrind

endif
