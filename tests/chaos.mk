# tests/chaos.mk - `make chaos`: the chaos test (t160-chaos) for longer.
#
# Under `make check` t160 runs a short schedule (10 s); this target runs
# it for CHAOS_SECONDS (default 60) with the seed CHAOS_SEED (default:
# drawn from the clock, printed first, so a failure can be replayed).
# SAN=asan runs the ASan+UBSan build (build/asan):
#
#	make chaos
#	make chaos SAN=asan CHAOS_SECONDS=120
#	make chaos CHAOS_SEED=12345

CHAOS_SECONDS	?= 60
CHAOS_SEED	?=

.PHONY: chaos
chaos: all
	TAO_BUILD=$(CURDIR)/$(BUILD) CHAOS_SECONDS=$(CHAOS_SECONDS) \
	    CHAOS_SEED=$(CHAOS_SEED) prove -v -e '' $(BUILD)/tests/t160-chaos.t
