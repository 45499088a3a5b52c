/*
 * fuzz-ctl.c - the control-socket request parser on arbitrary bytes.
 *
 * Invariants: a request is accepted only with the protocol version and a
 * known command; --json only where it is allowed; an accepted request,
 * written back in canonical form, parses to the same request; a refusal
 * always carries a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctl.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tao_ctl_request req, again;
	char err[128] = "", line[TAO_CTL_MAX_REQUEST + 2];
	int n;

	if (tao__ctl_parse((const char *)data, size, &req, err,
	    sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (req.cmd < TAO_CTL_STOP || req.cmd > TAO_CTL_CONNS)
		abort();
	if (req.json && (req.cmd == TAO_CTL_STOP || req.cmd == TAO_CTL_RELOAD))
		abort();
	if (size < 7 || memmem(data, size, TAO_CTL_VERSION, 5) == NULL)
		abort();
	n = snprintf(line, sizeof(line), "%s %s%s\n", TAO_CTL_VERSION,
	    tao__ctl_cmd_name(req.cmd), req.json ? " --json" : "");
	if (tao__ctl_parse(line, (size_t)n, &again, err, sizeof(err)) == -1 ||
	    again.cmd != req.cmd || again.json != req.json)
		abort();
	return 0;
}
