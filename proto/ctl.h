/*
 * ctl.h - the control-socket protocol between taoctl and the master.
 *
 * One request per connection, one reply, then the master closes:
 *
 *	request:  "TAO/<N> <command> [--json]\n"	at most 256 bytes
 *	reply:    "TAO/<N> ok\n" <body>
 *	        | "TAO/<N> error <message>\n"
 *
 * <N> is the protocol version, a decimal number (TAO_CTL_PROTO, now 2),
 * raised whenever a command, its arguments or a reply changes in a way
 * the other side cannot read.  Each side puts its own version first: the
 * master in every reply, whatever the request said, so that taoctl can
 * tell "taod speaks another version" from any other error and name both
 * numbers.  A request of another version is refused with an error reply
 * in the master's version; nothing else is done.
 *
 * Version 1 (taod 0.1.0 before this change) put no version in its
 * replies: "ok\n" <body> | "error <message>\n".  A reply that does not
 * start with "TAO/" is read as version 1, so a new taoctl still names an
 * old taod's version.
 *
 * "stop" replies "TAO/2 ok\nstopping\n" at once; the close, when taod
 * has exited, is the real answer.  Both parsers are pure functions on a
 * bounded input (fuzz/fuzz-ctl.c).
 */
#ifndef TAO_PROTO_CTL_H
#define TAO_PROTO_CTL_H

#include <stddef.h>

#define TAO_CTL_PROTO		2
#define TAO_CTL_PROTO_STR	"2"
#define TAO_CTL_VERSION		"TAO/" TAO_CTL_PROTO_STR
#define TAO_CTL_MAX_REQUEST	256

/* The first bytes of a reply, before its body or message. */
#define TAO_CTL_REPLY_OK	TAO_CTL_VERSION " ok\n"
#define TAO_CTL_REPLY_ERROR	TAO_CTL_VERSION " error "

enum tao_ctl_cmd {
	TAO_CTL_STOP = 1,
	TAO_CTL_RELOAD,
	TAO_CTL_STATUS,
	TAO_CTL_STATS,
	TAO_CTL_CONNS,
	TAO_CTL_CONFIG,
	TAO_CTL_UPGRADE,
	TAO_CTL_CMD_LAST = TAO_CTL_UPGRADE	/* keep it the last one */
};

struct tao_ctl_request {
	int	version;	/* as sent; set also when it is refused */
	int	cmd;
	int	json;
};

/*
 * Parse one request line (with or without its newline).  0, or -1 with a
 * message for the client in err (always set then).  req->version is 0
 * when the request has no version word, else the number it carries; any
 * number but TAO_CTL_PROTO is refused with a message naming both.
 */
int	tao__ctl_parse(const char *buf, size_t len, struct tao_ctl_request *,
	    char *err, size_t errlen);
const char *tao__ctl_cmd_name(int cmd);

struct tao_ctl_reply {
	int	version;	/* of the master that answered (1: unversioned) */
	int	ok;		/* 1 "ok", 0 "error"; only if version is ours */
	size_t	body;		/* offset of the body or the error message */
};

/*
 * Read the head of a reply from the first len bytes received: 1 done
 * (*reply set; when reply->version != TAO_CTL_PROTO nothing after the
 * version was read, and ok and body mean nothing), 0 again (need more
 * bytes: what came so far may still be a valid head), -1 not a reply of
 * any version.  The head is at most a few dozen bytes, so a caller can
 * call this on every read until it returns 1 or -1.
 */
int	tao__ctl_reply_head(const char *buf, size_t len, struct tao_ctl_reply *);

#endif
