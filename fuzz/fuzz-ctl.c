/*
 * fuzz-ctl.c - both parsers of the control protocol (proto/ctl.h) on the
 * same arbitrary bytes: the master's request parser and taoctl's reply
 * head reader.
 *
 * Request invariants: a request is accepted only with our protocol
 * version and a known command; --json only where it is allowed; an
 * accepted request, written back in canonical form, parses to the same
 * request; a refusal always carries a message, and one for another
 * version names it.
 *
 * Reply invariants: the head is decided within a bounded prefix; once
 * decided, every longer input decides the same; every shorter prefix is
 * "again"; the body offset lies inside the input; a head of our version
 * is exactly TAO_CTL_REPLY_OK or TAO_CTL_REPLY_ERROR.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctl.h"

#define HEAD_MAX	32	/* no head is longer (proto/ctl.c) */

static void
check_request(const uint8_t *data, size_t size)
{
	struct tao_ctl_request req, again;
	char err[160] = "", line[TAO_CTL_MAX_REQUEST + 2];
	int n;

	if (tao__ctl_parse((const char *)data, size, &req, err,
	    sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		if (req.version != 0 && req.version != TAO_CTL_PROTO &&
		    strstr(err, "control protocol") == NULL)
			abort();
		return;
	}
	if (req.version != TAO_CTL_PROTO)
		abort();
	if (req.cmd < TAO_CTL_STOP || req.cmd > TAO_CTL_CMD_LAST)
		abort();
	if (req.json && (req.cmd == TAO_CTL_STOP || req.cmd == TAO_CTL_RELOAD ||
	    req.cmd == TAO_CTL_UPGRADE))
		abort();
	if (memmem(data, size, TAO_CTL_VERSION,
	    sizeof(TAO_CTL_VERSION) - 1) == NULL)
		abort();
	n = snprintf(line, sizeof(line), "%s %s%s\n", TAO_CTL_VERSION,
	    tao__ctl_cmd_name(req.cmd), req.json ? " --json" : "");
	if (tao__ctl_parse(line, (size_t)n, &again, err, sizeof(err)) == -1 ||
	    again.cmd != req.cmd || again.json != req.json)
		abort();
}

static void
check_reply(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct tao_ctl_reply r, p;
	size_t len;
	int rc = 0;

	/* The shortest prefix that decides. */
	for (len = 0; len <= size; len++)
		if ((rc = tao__ctl_reply_head(buf, len, &r)) != 0)
			break;
	if (rc == 0)
		return;
	if (len > HEAD_MAX || r.body > len)
		abort();
	for (size_t more = len; more <= size; more += 1 + more / 4)
		if (tao__ctl_reply_head(buf, more, &p) != rc || (rc == 1 &&
		    (p.version != r.version || p.ok != r.ok ||
		    p.body != r.body)))
			abort();
	if (rc == 1 && r.version == TAO_CTL_PROTO) {
		const char *want = r.ok ? TAO_CTL_REPLY_OK :
		    TAO_CTL_REPLY_ERROR;
		if (r.body != strlen(want) || memcmp(buf, want, r.body) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_request(data, size);
	check_reply(data, size);
	return 0;
}
