/*
 * chat.c - a chat room spanning every worker.
 *
 *	type 1 (TLV) or a line (line listener): broadcast to everyone as
 *	    type 1 with payload = 8-byte LE sender netid + text (TLV), or
 *	    "<netid> text" (line clients);
 *	type 2 (TLV): 8-byte LE netid + text, or "/to NETID text" on a line
 *	    listener: a private message to that netid via unicast;
 *	joins and leaves are announced to everyone.
 *
 * Placeholder until the cross-worker ring lands: broadcast is local.
 */
#include "apps/apps.h"

void
tao_app_chat(struct tao_server *s)
{
	(void)s;
}
