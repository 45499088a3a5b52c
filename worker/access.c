/*
 * access.c - admission of a connection by its peer address: the
 * listener's allow/deny rules (proto/acl.h: first match wins, no match
 * allows), then max_connections_per_ip, counted across every worker in
 * shared memory (shm/iplimit.h) under the connection's table row, so the
 * master can give a dead worker's units back.  IPv4-mapped IPv6 peers
 * (a dual-stack [::] listener) are judged and counted as IPv4.
 */
#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "proto/acl.h"
#include "shm/iplimit.h"
#include "worker/access.h"
#include "worker/conn.h"

static void
peer_ip(const struct tao_conn *c, struct tao_ipaddr *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (c->c_peer.p_family == AF_INET) {
		ip->ip_family = TAO_IP_V4;
		memcpy(ip->ip_bytes, c->c_peer.p_addr, 4);
	} else if (c->c_peer.p_family == AF_INET6) {
		ip->ip_family = TAO_IP_V6;
		memcpy(ip->ip_bytes, c->c_peer.p_addr, 16);
		tao__ipaddr_unmap(ip);
	}
}

/* One line a second at most, with how many were not logged. */
static void
refusal_log(struct tao_conn *c, const char *what)
{
	struct tao_worker *w = tao__conn_worker(c);

	if (w->w_access_log_ms != 0 &&
	    w->w_loop.el_now_ms - w->w_access_log_ms < 1000) {
		w->w_access_quiet++;
		return;
	}
	w->w_access_log_ms = w->w_loop.el_now_ms;
	if (w->w_access_quiet > 0)
		log_warnx("refusing %s: %s (and %llu more refusals in the "
		    "last second)", tao__conn_peer(c), what,
		    (unsigned long long)w->w_access_quiet);
	else
		log_warnx("refusing %s: %s", tao__conn_peer(c), what);
	w->w_access_quiet = 0;
}

int
tao__access_admit(struct tao_conn *c)
{
	struct tao_worker *w = tao__conn_worker(c);
	const struct tao_listen_access *la = tao__conn_listener(c)->l_access;
	uint32_t limit = w->w_p.wp_settings.st_max_conns_per_ip;
	int handed = (c->c_flags & TAO_CONN_MIGRATING) != 0;
	struct tao_ipaddr ip;

	peer_ip(c, &ip);
	if (!handed && la->la_nrules > 0 && (ip.ip_family == TAO_IP_NONE ||
	    tao__acl_check(la->la_rules, (size_t)la->la_nrules, &ip) ==
	    TAO_ACL_DENY)) {
		TAO_STAT_ADD(w, DENIED, 1);
		refusal_log(c, "denied by the listener's allow/deny rules");
		return -1;
	}
	/* Without a row (only over max_connections after a reload) there is
	 * no owner record for reclaim, so it is not counted. */
	if (limit == 0 || c->c_row < 0 || ip.ip_family == TAO_IP_NONE)
		return 0;
	if (tao__iplimit_acquire(w->w_p.wp_shm, (unsigned)w->w_p.wp_islot,
	    (unsigned)c->c_row, ip.ip_family, ip.ip_bytes,
	    handed ? 0 : limit) == -1) {
		if (handed)
			return 0;	/* table full: served, uncounted */
		TAO_STAT_ADD(w, REFUSED, 1);
		refusal_log(c, errno == EAGAIN ? "max_connections_per_ip "
		    "reached" : "per-address table full");
		return -1;
	}
	c->c_flags |= TAO_CONN_IPHELD;
	return 0;
}

void
tao__access_release(struct tao_conn *c)
{
	struct tao_worker *w = tao__conn_worker(c);

	if (!(c->c_flags & TAO_CONN_IPHELD) || c->c_row < 0)
		return;
	c->c_flags &= ~TAO_CONN_IPHELD;
	tao__iplimit_release(w->w_p.wp_shm, (unsigned)w->w_p.wp_islot,
	    (unsigned)c->c_row);
}
