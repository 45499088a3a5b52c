# bench.mk - tao-bench is split into one file per mode; the GNUmakefile's
# rule links every .o prerequisite of $(BUILD)/tao-bench, so listing the
# extra objects here is enough.
BENCH_EXTRA	:= bench/hist.c bench/net.c bench/echo.c bench/burst.c \
		   bench/idle.c bench/chat.c bench/tls.c

$(BUILD)/tao-bench: $(call obj,$(BENCH_EXTRA))
