/*
 * chat.c - see chat.h.
 */
#include <stdio.h>
#include <string.h>

#include "tests/lib/chat.h"

static int
welcome_tlv(struct th_client *c, int timeout_ms)
{
	struct th_frame f;
	char text[64];
	unsigned long long n;

	if (th_client_expect(c, 3, &f, timeout_ms) != 1 ||
	    f.len >= sizeof(text))
		return -1;
	memcpy(text, f.data, f.len);
	text[f.len] = '\0';
	if (sscanf(text, "netid=%llu worker=%d", &n, &c->tag) != 2)
		return -1;
	c->netid = n;
	return 0;
}

static int
welcome_line(struct th_client *c, int timeout_ms)
{
	char line[256];
	unsigned long long n;

	if (th_client_next_line(c, line, sizeof(line), timeout_ms) != 1 ||
	    sscanf(line, "* welcome, you are %llu (worker %d)", &n,
	    &c->tag) != 2)
		return -1;
	c->netid = n;
	return 0;
}

int
th_chat_welcome(struct th_client *c, int line, int timeout_ms)
{
	return line ? welcome_line(c, timeout_ms) : welcome_tlv(c, timeout_ms);
}

int
th_chat_open_on(struct th_client *c, int port, int line, int want,
    int tries)
{
	for (int i = 0; i < tries; i++) {
		if (th_client_open(c, port) == -1)
			return -1;
		if (th_chat_welcome(c, line, th_ms(3000)) == 0 &&
		    (want >= 0 ? c->tag == want : c->tag != ~want))
			return 0;
		th_client_close(c);
	}
	return -1;
}
