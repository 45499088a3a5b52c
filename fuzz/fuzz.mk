# fuzz/fuzz.mk - libFuzzer targets, included by the GNUmakefile.
#
#	make fuzz [FUZZ_TIME=10]	build, then run every target FUZZ_TIME s
#	make fuzz-NAME			build and run one target
#	make fuzz-build			build only
#
# Target NAME is fuzz/fuzz-NAME.c, which defines LLVMFuzzerTestOneInput and
# aborts when an invariant fails.  Adding one is one line: append NAME to
# FUZZ_TARGETS below.
#
# Every target links build/fuzz/libtao-fuzz.a, made of FUZZ_LIB_SRCS
# (proto/*.c and the codec harness); the linker takes only what the target
# uses, so sources another target needs go there too (FUZZ_LIB_SRCS +=
# master/config.c).  Sources that must be linked whole go in FUZZ_SRCS_NAME.
# Optional per target, set before the rules below: FUZZ_MAX_LEN_NAME
# (default FUZZ_MAX_LEN).  A dictionary fuzz/NAME.dict is used if present.
#
# A run starts from build/fuzz/corpus/NAME/, a copy of the committed seeds
# in fuzz/corpus/NAME/ that also keeps what earlier runs found (see
# fuzz/seeds.sh for how the seeds were made).  Crashes are written to
# build/fuzz/artifacts/NAME-*; replay one with `build/fuzz/fuzz-NAME FILE`.
# A crash or a failed invariant makes `make fuzz` exit non-zero.
#
# The compiler is always clang (libFuzzer): FUZZ_CC.  Only FUZZ_* variables
# are defined here; the rest of the build is the GNUmakefile's.

FUZZ_TARGETS	:= tlv line config ctl proxy varint clmsg
FUZZ_SRCS_varint := examples/codec/varint.c
FUZZ_MAX_LEN_proxy := 4200

FUZZ_CC		?= clang
FUZZ_TIME	?= 10
FUZZ_MAX_LEN	?= 4096
FUZZ_ARGS	?=
FUZZ_DIR	:= build/fuzz
FUZZ_LIB_SRCS	:= $(sort $(wildcard proto/*.c)) fuzz/codec-check.c \
		   master/config.c master/config-reload.c master/config-cluster.c \
		   master/affinity.c core/log.c master/config-access.c master/buf.c

# Recursive (=) so that pkg-config runs only when something is fuzzed.
FUZZ_CFLAGS	?= -std=gnu11 -D_GNU_SOURCE -I. -Iinclude \
		   $(shell pkg-config --cflags libbsd-overlay) -g -O1
FUZZ_WARN	:= -Wall -Wextra -Werror -Werror=implicit-function-declaration
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		   -fno-omit-frame-pointer
FUZZ_LIBS	= $(shell pkg-config --libs libbsd-overlay)

fuzz_obj	= $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libtao-fuzz.a: $(call fuzz_obj,$(FUZZ_LIB_SRCS))
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# $(1) = NAME
define fuzz_target
$(FUZZ_DIR)/fuzz-$(1): $(call fuzz_obj,fuzz/fuzz-$(1).c $(FUZZ_SRCS_$(1))) \
		$(FUZZ_DIR)/libtao-fuzz.a
	@$$(if $$(Q),echo "  LINK    $$@")
	$$(Q)$$(FUZZ_CC) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $$(FUZZ_LIBS)

.PHONY: fuzz-$(1)
fuzz-$(1): $(FUZZ_DIR)/fuzz-$(1)
	@mkdir -p $(FUZZ_DIR)/corpus/$(1) $(FUZZ_DIR)/artifacts
	$(if $(wildcard fuzz/corpus/$(1)/*),$$(Q)cp -u fuzz/corpus/$(1)/* \
		$(FUZZ_DIR)/corpus/$(1)/)
	$$(Q)$(FUZZ_DIR)/fuzz-$(1) -max_total_time=$$(FUZZ_TIME) \
		-max_len=$$(or $$(FUZZ_MAX_LEN_$(1)),$$(FUZZ_MAX_LEN)) \
		$(if $(wildcard fuzz/$(1).dict),-dict=fuzz/$(1).dict) \
		-timeout=30 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)- \
		$$(FUZZ_ARGS) $(FUZZ_DIR)/corpus/$(1)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(t))))

.PHONY: fuzz-build
fuzz-build: $(addprefix $(FUZZ_DIR)/fuzz-,$(FUZZ_TARGETS))
fuzz: $(addprefix fuzz-,$(FUZZ_TARGETS))

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
