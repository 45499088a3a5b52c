/*
 * ring.c - delivery of broadcast and unicast messages.
 */
#include "tao.h"
#include "worker/conn.h"
#include "worker/ring.h"
#include "worker/worker.h"

int
tao__ring_attach(struct tao_worker *w)
{
	(void)w;
	return 0;
}

void
tao__ring_detach(struct tao_worker *w)
{
	(void)w;
}

int
tao__ring_before_poll(struct tao_worker *w, int timeout)
{
	(void)w;
	return timeout;
}

void
tao__ring_after_poll(struct tao_worker *w)
{
	(void)w;
}

void
tao__ring_on_event(struct tao_worker *w)
{
	(void)w;
}

static void
deliver_local(struct tao_worker *w, uint64_t netid, int32_t type,
    const void *data, size_t len)
{
	struct tao_conn *c;

	TAILQ_FOREACH(c, &w->w_conns, c_entry)
		if (netid == 0 || c->c_netid == netid)
			(void)tao_send(c, type, data, len);
}

int
tao_broadcast(struct tao_server *s, int32_t type, const void *data,
    size_t len)
{
	struct tao_worker *w = tao__worker;

	(void)s;
	if (w == NULL)
		return TAO_ESTATE;
	deliver_local(w, 0, type, data, len);
	return 0;
}

int
tao_unicast(struct tao_server *s, uint64_t netid, int32_t type,
    const void *data, size_t len)
{
	struct tao_worker *w = tao__worker;
	struct tao_conn *c;

	(void)s;
	if (w == NULL)
		return TAO_ESTATE;
	TAILQ_FOREACH(c, &w->w_conns, c_entry)
		if (c->c_netid == netid)
			return tao_send(c, type, data, len);
	return TAO_ENOENT;
}
