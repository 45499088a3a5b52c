/*
 * settings.h - the limits and timeouts a worker applies to its
 * connections.  Filled by the master's config parser, copied into every
 * worker at fork; a reload starts new workers with new settings.
 */
#ifndef TAO_CORE_SETTINGS_H
#define TAO_CORE_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

struct tao_settings {
	size_t		st_max_frame;		/* payload bytes, default 8 MiB */
	size_t		st_write_queue_max;	/* queued output bytes, 4 MiB */
	uint64_t	st_heartbeat_ms;	/* 0 = off; close after 2x */
	int		st_heartbeat_reply;	/* answer type-0 frames */
	uint64_t	st_idle_timeout_ms;	/* 0 = off */
	uint64_t	st_frame_timeout_ms;	/* 0 = off, default 30 000 */
	uint64_t	st_drain_timeout_ms;	/* default 10 000 */
	/* Output pending without progress this long: closed, counted as a
	 * timeout.  0 = off, default 30 000.  Also bounds a TLS handshake
	 * (TAO_TLS_HANDSHAKE_MS when 0). */
	uint64_t	st_send_timeout_ms;
	/* The pool of blocking handlers (worker/pool.h): threads per
	 * worker, default 4, and jobs queued per worker, default 1024. */
	int		st_blocking_threads;
	uint32_t	st_blocking_queue_max;
	/* Connections from one client address, all workers and listeners
	 * together (shm/iplimit.h); 0 = no limit. */
	uint32_t	st_max_conns_per_ip;
	/* Keep the latency histograms (worker/whist.h): set when the
	 * metrics listener is on, so nobody pays for what nobody reads. */
	int		st_histograms;
};

#endif
