# bench.mk - tao-bench is split into one file per mode; the GNUmakefile's
# rule links every .o prerequisite of $(BUILD)/tao-bench, so listing the
# extra objects here is enough.
BENCH_EXTRA	:= bench/hist.c bench/net.c bench/echo.c bench/burst.c \
		   bench/idle.c bench/chat.c bench/tls.c

$(BUILD)/tao-bench: $(call obj,$(BENCH_EXTRA))

# uv-echo, the libuv reference of bench/echo.sh: built only for the
# benchmarks (`make bench`, or echo.sh builds it), never by `make` or
# `make check`, so libuv stays a benchmark-only dependency.
UV_CFLAGS	= $(shell pkg-config --cflags libuv 2>/dev/null)
UV_LIBS		= $(shell pkg-config --libs libuv 2>/dev/null || echo -luv)

$(BUILD)/obj/bench/uv-echo.o: ALL_CFLAGS += $(UV_CFLAGS)
$(BUILD)/uv-echo: $(call obj,bench/uv-echo.c)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(UV_LIBS)

bench: all $(BUILD)/uv-echo
