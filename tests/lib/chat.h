/*
 * chat.h - clients of the chat app (apps/chat.c) for the tests: its
 * welcome, which says the client's netid and the worker serving it, and
 * placing a client on a chosen worker by reconnecting until the welcome
 * names it.
 */
#ifndef TAO_TESTS_CHAT_H
#define TAO_TESTS_CHAT_H

#include "tests/lib/harness.h"

/*
 * Read the welcome within timeout_ms: the TLV frame of type 3
 * "netid=N worker=W" (line 0) or the line "* welcome, you are N (worker
 * W)" (line 1).  Sets c->netid and c->tag (W); 0, or -1 if it did not
 * come or did not parse.
 */
int	th_chat_welcome(struct th_client *c, int line, int timeout_ms);
/*
 * Open c on port, reconnecting (at most tries times) until its welcome,
 * awaited 3 s x scale each time, names worker want (want >= 0) or any
 * worker but ~want (want < 0).  0, or -1.
 */
int	th_chat_open_on(struct th_client *c, int port, int line, int want,
	    int tries);

#endif
