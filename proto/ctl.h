/*
 * ctl.h - the control-socket protocol between taoctl and the master.
 *
 *	request:  "TAO/1 <command> [--json]\n"	(at most 256 bytes)
 *	reply:    "ok\n" body... | "error <message>\n", then the master
 *	          closes the connection ("stop" replies when taod has exited:
 *	          the close is the answer).
 *
 * The version word lets either side refuse a protocol it does not know.
 */
#ifndef TAO_PROTO_CTL_H
#define TAO_PROTO_CTL_H

#include <stddef.h>

#define TAO_CTL_VERSION		"TAO/1"
#define TAO_CTL_MAX_REQUEST	256

enum tao_ctl_cmd {
	TAO_CTL_STOP = 1,
	TAO_CTL_RELOAD,
	TAO_CTL_STATUS,
	TAO_CTL_STATS,
	TAO_CTL_CONNS,
	TAO_CTL_CONFIG,
};

struct tao_ctl_request {
	int	cmd;
	int	json;
};

/* Parse one request line (with or without its newline).  0, or -1 with a
 * message for the client in err. */
int	tao__ctl_parse(const char *buf, size_t len, struct tao_ctl_request *,
	    char *err, size_t errlen);
const char *tao__ctl_cmd_name(int cmd);

#endif
