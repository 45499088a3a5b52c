/*
 * cluster.h - cluster test helpers: taod nodes on one private Redis
 * (lib/redis.h) running `app chat notices`, and a fan of TLV chat
 * clients spread over them that count every chat message they receive:
 * exactly once, per-sender order, from the sender's netid.
 */
#ifndef TAO_TESTS_CLUSTER_H
#define TAO_TESTS_CLUSTER_H

#include <stdint.h>

#include "tests/lib/harness.h"
#include "tests/lib/redis.h"

#define TH_FAN_MAX_SENDERS	16
#define TH_FAN_MAX_MSGS		100000

/* taod with a tlv and a line listener, `workers` workers, node_id,
 * the cluster on r and `extra` config lines; waits until the link is up
 * when up is set.  NULL (bail-worthy) on failure. */
struct th_daemon *th_cluster_node(const struct th_redis *r, int node_id,
		    int workers, const char *extra, int up);

struct th_tally {
	long	 got;			/* accepted chat messages */
	long	 dups, reorders, foreign, unexpected;
	long	 next[TH_FAN_MAX_SENDERS];	/* next seq per sender */
	long	 missed[TH_FAN_MAX_SENDERS];	/* gaps per sender */
};

struct th_fan {
	struct th_client	*c;
	struct th_tally		*t;
	int			 n;
	int			 nsenders;
	int			 sender[TH_FAN_MAX_SENDERS];	/* client index */
};

/* n clients over the nodes' tlv ports round robin (client i on node
 * i % nnodes, c[i].tag = that index), each welcomed with its netid;
 * senders spread evenly.  0, or -1 (diag) on failure. */
int	th_fan_open(struct th_fan *f, struct th_daemon **nodes, int nnodes,
	    int n, int nsenders);
void	th_fan_close(struct th_fan *f);
/* Sender s sends its message number k ("s/k"): 0 or -1. */
int	th_fan_send(struct th_fan *f, int s, int k);
/* Read for up to timeout_ms; the total of accepted messages. */
long	th_fan_drain(struct th_fan *f, int timeout_ms);
/* Drain until every client got want messages or timeout_ms passed. */
long	th_fan_wait(struct th_fan *f, long want, int timeout_ms);
/* Sums over clients (of node `node`, or all when -1). */
long	th_fan_sum(const struct th_fan *f, int node, const char *what);

#endif
