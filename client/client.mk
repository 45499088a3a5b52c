# client.mk - the interactive chat client, also built as
# $(BUILD)/examples/chat-client by the GNUmakefile's examples rule, under
# the name the issue and the manual use: `build/tao-chat HOST:PORT [--tls]`.
# (client/*.c themselves are library sources: see LIB_SRCS.)

all: $(BUILD)/tao-chat

$(BUILD)/tao-chat: $(BUILD)/obj/examples/chat-client.o $(BUILD)/libtao.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libtao.a $(LIBS) $(JEMALLOC_LIBS)
