/*
 * heartbeat.c - the two heartbeat timers of an open connection: one
 * queues a TLV heartbeat every heartbeat_ms, the other closes the
 * connection as dead when no frame came for heartbeat_timeout_ms.
 */
#include <sys/types.h>

#include <stdint.h>

#include "client/client.h"
#include "proto/codec.h"
#include "core/clock.h"

static void
heartbeat_fire(void *owner, void *arg)
{
	struct tao_client *c = owner;
	uint8_t head[TAO_CODEC_MAX_HEAD], tail[TAO_CODEC_MAX_TAIL];
	size_t head_len, tail_len;

	(void)arg;
	/* Over the bound the queue is not moving: a heartbeat at its tail
	 * would not help. */
	if (c->c_state != TAO_CLIENT_OPEN ||
	    c->c_wq.q_bytes >= c->c_opts.write_queue_max)
		return;
	c->c_opts.codec->encode(TAO_TYPE_HEARTBEAT, 0, head, &head_len, tail,
	    &tail_len);
	if (tao__frames_push(&c->c_frames, head_len + tail_len) == -1)
		return;
	if (tao__wq_append(&c->c_wq, &c->c_loop->l_ev.el_pool, head, head_len,
	    NULL, 0, tail, tail_len) == -1) {
		c->c_frames.f_count--;
		return;
	}
	tao__client_flush_add(c);
}

/* heartbeat_timeout_ms: re-armed lazily from the last frame's time, so
 * receiving costs no timer operation. */
static void
dead_fire(void *owner, void *arg)
{
	struct tao_client *c = owner;
	uint64_t timeout = c->c_opts.heartbeat_timeout_ms;
	uint64_t quiet = tao__now_ms() - c->c_last_rx_ms;

	(void)arg;
	c->c_dead_timer = -1;
	if (quiet < timeout) {
		c->c_dead_timer = tao__client_timer_add(c, timeout - quiet,
		    0, dead_fire);
		return;
	}
	tao__client_fail(c, TAO_CLIENT_ERR_TIMEOUT, "no frame from %s for "
	    "%llu ms: closing it as dead", c->c_addr,
	    (unsigned long long)quiet);
}

/* On a new connection (established): arm what the options ask for. */
void
tao__client_heartbeat_start(struct tao_client *c)
{
	if (c->c_opts.heartbeat_ms > 0 && c->c_opts.codec == &tao_codec_tlv)
		c->c_heartbeat_timer = tao__client_timer_add(c,
		    c->c_opts.heartbeat_ms, c->c_opts.heartbeat_ms,
		    heartbeat_fire);
	if (c->c_opts.heartbeat_timeout_ms > 0)
		c->c_dead_timer = tao__client_timer_add(c,
		    c->c_opts.heartbeat_timeout_ms, 0, dead_fire);
}
