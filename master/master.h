/*
 * master.h - the supervising process: worker slots, generations, the
 * control socket.  The master never touches client traffic.
 *
 * Files: master.c (the loop, signals, reaping, deadlines, stop),
 * watch.c (what epoll_data points to), proc.c (spawn, child set-up,
 * privilege drop), relay.c (the channels to the workers: queued,
 * non-blocking sends, connection hand-over), reload.c, control.c.
 */
#ifndef TAO_MASTER_MASTER_H
#define TAO_MASTER_MASTER_H

#include <sys/types.h>
#include <sys/queue.h>
#include <signal.h>
#include <stdint.h>

#include "master/config.h"
#include "master/listeners.h"
#include "master/server.h"
#include "proto/channel.h"
#include "worker/entry.h"
#include "shm/stats.h"

struct tao_master;

/*
 * What epoll_data points to in the master.  One epoll_wait batch may hold
 * an event for an object that an earlier event of the same batch closed
 * (several workers reaped by one SIGCHLD, a control client answered by a
 * reload that finished): so nothing is freed at once.  tao__watch_kill()
 * deregisters and closes the fd, marks the watch dead and queues it; the
 * loop skips events whose watch is dead and frees the queue after the
 * batch (tao__watch_reap), when no event can point to it any more.
 *
 *	epoll_wait -> [ev ev ev] --dispatch--> w_fn   (skipped if w_dead)
 *	                                  \--> kill: DEL, close, w_dead,
 *	                                       onto m_dead
 *	end of batch: free(w_owner) for every watch on m_dead
 */
struct tao_watch;
typedef void tao_watch_fn(struct tao_master *, struct tao_watch *,
    uint32_t events);

struct tao_watch {
	int			 w_fd;
	int			 w_dead;
	uint32_t		 w_events;	/* registered mask, 0 = none */
	tao_watch_fn		*w_fn;
	void			*w_owner;	/* free()d after the batch;
						 * NULL: not heap memory */
	SLIST_ENTRY(tao_watch)	 w_dead_entry;
};

SLIST_HEAD(tao_watch_list, tao_watch);

/* 0, or -1 with errno (the fd is left open). */
int	tao__watch_add(struct tao_master *, struct tao_watch *, int fd,
	    uint32_t events, tao_watch_fn *, void *owner);
/* Change the mask; 0 stops polling (EPOLL_CTL_DEL). */
void	tao__watch_mod(struct tao_master *, struct tao_watch *,
	    uint32_t events);
/* Deregister, close the fd, free the owner after the batch.  Idempotent. */
void	tao__watch_kill(struct tao_master *, struct tao_watch *);
void	tao__watch_reap(struct tao_master *);

enum tao_proc_state {
	TAO_PROC_STARTING = 0,	/* forked, READY not yet received */
	TAO_PROC_SERVING,
	TAO_PROC_DRAINING,	/* told to stop accepting and finish */
};

/* A record waiting for room in a worker's channel (relay.c). */
struct tao_chan_out {
	struct tao_chan_msg	 o_msg;
	int			 o_fd;		/* owned; -1 none */
};

/* At most this many records wait per worker; a connection handed over
 * beyond it is closed (and logged).  The relay does not get there: it
 * stops taking connections from old workers while the worker they go
 * to has TAO_CHAN_QUEUE_HIGH records waiting (relay.c). */
#define TAO_CHAN_QUEUE_MAX	4096
#define TAO_CHAN_QUEUE_HIGH	256

struct tao_chan_queue {
	struct tao_chan_out	*q_items;	/* ring of q_cap */
	unsigned		 q_head, q_len, q_cap;
	unsigned		 q_limit;	/* 0: TAO_CHAN_QUEUE_MAX */
};

struct tao_proc {
	struct tao_watch	 p_w;		/* channel to the worker */
	pid_t			 p_pid;
	int			 p_slot;
	int			 p_islot;
	uint32_t		 p_gen;
	int			 p_cpu;		/* pinned to; -1 not */
	int			 p_state;
	int			 p_ready_killed; /* no READY in time */
	int			 p_relay_paused; /* its channel not read: the
						  * worker its connections go
						  * to is behind (relay.c) */
	uint64_t		 p_started_ms;
	struct tao_chan_queue	 p_outq;
	LIST_ENTRY(tao_proc)	 p_entry;
};

struct tao_slot {
	struct tao_proc		*sl_current;	/* serving or starting */
	unsigned		 sl_restarts;
	uint64_t		 sl_backoff_ms;
	uint64_t		 sl_respawn_at;	/* 0: none scheduled */
	int			 sl_fatal;	/* exited 2: not respawned */
};

struct tao_ctl_client;
struct tao_ctl_listener;
struct tao_metrics;
struct tao_master_hist;
struct tao_hist_snapshot;
struct tao_up_recv;
struct ssl_ctx_st;

struct tao_reload {
	int			 rl_active;
	uint32_t		 rl_gen;
	uint64_t		 rl_deadline;
	struct tao_ctl_client	*rl_waiter;
	int			 rl_old_nworkers;
	struct ssl_ctx_st	*rl_tls;	/* the new generation's */
	/* The new control socket when the reload moves it, bound but not
	 * yet polled; NULL when the path does not change. */
	struct tao_ctl_listener	*rl_ctl;
};

/* A binary upgrade, seen from either master (master/upgrade.c, the old
 * one's side; master/inherit.c, the new one's). */
struct tao_upgrade {
	/* old master */
	int			 up_active;	/* child started, no READY yet */
	int			 up_committed;	/* handing over to up_pid */
	pid_t			 up_pid;	/* 0: none, or reaped */
	struct tao_proc		*up_peer;	/* channel to the new master */
	uint64_t		 up_deadline;
	struct tao_ctl_client	*up_waiter;
	int			 up_bound_warned;
	int			 up_eof;	/* its channel closed */
	int			 up_final_sent;	/* the last totals batch */
	uint64_t		 up_netid_bound;	/* both sides */
	/* new master */
	int			 up_inherit;	/* started by an upgrade, the
						 * old master still lives */
	int			 up_taken;	/* the master now */
	int			 up_layout_ok;	/* rec= matched ours */
	struct tao_watch	 up_parent_w;	/* channel to the old master */
	int			 up_parent_fd;	/* until it is watched */
	int			 up_metrics_fd;	/* inherited, not yet used */
	struct tao_ctl_listener	*up_old_ctl;	/* inherited, another path */
	unsigned		 up_rr;
	struct tao_up_recv	*up_recv;	/* uptotals.c: totals taken */
};

/* The cluster bridge process (master/cluster.c); pid 0: none. */
struct tao_mbridge {
	pid_t			 mb_pid;
	int			 mb_islot;
	uint64_t		 mb_started_ms;
	uint64_t		 mb_backoff_ms;
	uint64_t		 mb_respawn_at;	/* 0: none scheduled */
	uint64_t		 mb_kill_at;	/* SIGKILL if still alive */
	int			 mb_term_sent;
	int			 mb_fatal;	/* exited 2: not respawned */
	unsigned		 mb_restarts;
};

struct tao_master {
	struct tao_server	*m_server;
	struct tao_config	 m_cf;		/* the serving generation's */
	struct tao_config	 m_next_cf;	/* a reload in progress */
	struct tao_lset		 m_lset;
	int			 m_nworkers;
	struct tao_slot		 m_slots[TAO_MAX_WORKERS];
	LIST_HEAD(, tao_proc)	 m_procs;
	uint32_t		 m_gen;
	int			 m_epfd;
	struct tao_watch_list	 m_dead;	/* freed after the batch */
	struct tao_watch	 m_sig_w;
	/* The caller's signal state, restored when tao_server_run returns
	 * (setup_signals in master.c). */
	int			 m_sig_saved;
	sigset_t		 m_sig_mask;
	struct sigaction	 m_sig_pipe;
	struct tao_ctl_listener	*m_ctl;
	LIST_HEAD(, tao_ctl_client) m_clients;
	int			 m_nclients;
	int			 m_stopping;	/* 1 graceful, 2 fast */
	uint64_t		 m_stop_deadline;
	int			 m_notified_ready;
	struct pidfh		*m_pidfh;
	uint64_t		 m_started_ms;
	time_t			 m_started_wall;
	struct tao_reload	 m_reload;
	struct tao_upgrade	 m_upgrade;
	/* The serving generation's TLS context (master/tls.h), NULL without
	 * tls listeners.  Workers hold inherited copies: the master frees
	 * its own when a reload replaces it. */
	struct ssl_ctx_st	*m_tls;
	struct tao_shm		*m_shm;
	int			*m_eventfds;
	int			 m_nislots;
	uint8_t			*m_islot_used;
	struct tao_stats_snapshot m_dead_totals[TAO_MAX_WORKERS];
	struct tao_master_hist	*m_hist;	/* hist.c: dead workers' histograms */
	struct tao_mbridge	 m_bridge;
	struct tao_metrics	*m_metrics;	/* metrics.c; never NULL once
						 * set up, even when off */
	uint64_t		 m_now_ms;
};

/* control.c */
int	tao__ctl_listen(struct tao_master *, int poll);
struct tao_ctl_listener *tao__ctl_adopt(int fd, const char *path, char *err,
	    size_t errlen);
void	tao__ctl_release(struct tao_master *);
int	tao__ctl_fd(const struct tao_master *);
/* Bind the control socket at path (not yet polled); NULL after logging
 * the reason into err. */
struct tao_ctl_listener *tao__ctl_bind(const char *path, char *err,
	    size_t errlen);
/* Close l (unlinking its path only if it is still our socket). */
void	tao__ctl_unbind(struct tao_master *, struct tao_ctl_listener *);
/* Serve on l from now on, closing the current control socket. */
void	tao__ctl_switch(struct tao_master *, struct tao_ctl_listener *);
/* Queue the reply and close cl once it is written. */
void	tao__ctl_reply(struct tao_master *, struct tao_ctl_client *, int ok,
	    const char *text);
uint64_t tao__ctl_next_deadline(struct tao_master *);
void	tao__ctl_expire(struct tao_master *, uint64_t now);
void	tao__ctl_close_all(struct tao_master *);

/* proc.c */
struct tao_proc *tao__proc_spawn(struct tao_master *,
	    const struct tao_config *, int nworkers, int slot, uint32_t gen);
void	tao__proc_spawn_current(struct tao_master *, int slot);
void	tao__proc_drain(struct tao_master *, struct tao_proc *);
void	tao__proc_free(struct tao_master *, struct tao_proc *);
void	tao__proc_free_tls(struct tao_master *);
uint64_t tao__proc_ready_timeout(const struct tao_master *);

/* The next free shared-memory instance (marked used), or -1. */
int	tao__proc_alloc_islot(struct tao_master *);
/* In a forked helper that is not a worker (the cluster bridge): close
 * every inherited fd but stdio and the eventfds, restore the signal
 * mask, drop privileges.  0, or -1 (cannot switch user). */
int	tao__proc_helper_setup(struct tao_master *, const struct tao_config *);

/* cluster.c: the cluster bridge, supervised like a worker. */
void	tao__cluster_start(struct tao_master *);
/* 1 if pid was the bridge (its exit is handled), else 0. */
int	tao__cluster_reaped(struct tao_master *, pid_t, int status);
uint64_t tao__cluster_next_deadline(struct tao_master *);
void	tao__cluster_check(struct tao_master *, uint64_t now);
int	tao__cluster_running(const struct tao_master *);
/* A reload to next was checked (0, or -1 with the reason) and commits
 * (restarts the bridge if its settings change). */
int	tao__cluster_check_reload(struct tao_master *,
	    const struct tao_config *next, char *err, size_t errlen);
void	tao__cluster_reload(struct tao_master *, const struct tao_config *next);
struct tao_buf;
void	tao__cluster_status(struct tao_master *, struct tao_buf *);
void	tao__cluster_json(struct tao_master *, struct tao_buf *);
void	tao__cluster_prometheus(struct tao_master *, struct tao_buf *);

/* relay.c */
/* Send a record on p's channel, or queue it until there is room; fd (may
 * be -1) is owned by the call.  0, or -1 when the queue is full (fd is
 * closed). */
int	tao__relay_send(struct tao_master *, struct tao_proc *, uint32_t type,
	    uint32_t arg, uint64_t value, int fd);
/* The same with a whole record (a handed-over peer with it). */
int	tao__relay_send_msg(struct tao_master *, struct tao_proc *,
	    const struct tao_chan_msg *, int fd);
/* Control records (drain, stop, hand-off): a failure kills the worker. */
void	tao__relay_ctl(struct tao_master *, struct tao_proc *, uint32_t type);
/* Read what the worker sent (READY, connections handed over), at most
 * a batch per call; the rest wakes the next iteration. */
void	tao__relay_read(struct tao_master *, struct tao_proc *);
/* The same for a worker that has exited: everything left in its
 * channel, before the channel closes with it. */
void	tao__relay_read_dead(struct tao_master *, struct tao_proc *);
void	tao__relay_clear(struct tao_proc *);
/* Read the channels of old workers again whose connections can go on
 * (after a queue drained, a worker left, a reload committed). */
void	tao__relay_resume(struct tao_master *);
/* Send what waits in p's queue (on EPOLLOUT). */
void	tao__relay_flush(struct tao_master *, struct tao_proc *);
/* A connection handed over: to a serving worker, slot's if it can. */
void	tao__relay_conn(struct tao_master *, int slot,
	    const struct tao_chan_msg *, int fd);
tao_watch_fn tao__relay_on_channel;

/* reload.c */
int	tao__master_reload(struct tao_master *, struct tao_ctl_client *,
	    char *err, size_t errlen);
void	tao__reload_check(struct tao_master *);
void	tao__reload_abort(struct tao_master *, const char *why);
int	tao__reload_gens_draining(struct tao_master *);

/* upgrade.c: the old master's side of a binary upgrade (design at the
 * top of upgrade.c).  init saves the binary's path and argv at start. */
void	tao__upgrade_init(struct tao_master *);
int	tao__master_upgrade(struct tao_master *, struct tao_ctl_client *,
	    char *err, size_t errlen);
/* A child that is not a worker was reaped: 1 if it was the new master. */
int	tao__upgrade_reaped(struct tao_master *, pid_t, int status);
uint64_t tao__upgrade_next_deadline(struct tao_master *);
void	tao__upgrade_expire(struct tao_master *, uint64_t now);
void	tao__upgrade_abort(struct tao_master *, const char *why);
/* After the commit, a connection an old worker handed over goes to the
 * new master: 1 (fd taken), or 0 (not upgrading: relay it here). */
int	tao__upgrade_relay(struct tao_master *, const struct tao_chan_msg *,
	    int fd);
/* May the old master exit now (the new one has all it was sent)? */
int	tao__upgrade_may_exit(struct tao_master *);
void	tao__upgrade_close(struct tao_master *);
/* Refuse a reload during an upgrade: 0, or -1 with the reason in err. */
int	tao__upgrade_busy(struct tao_master *, const char *what, char *err,
	    size_t errlen);

/* uptotals.c: the old master's counters and histograms carried to the
 * new one (records: proto/channel.h).  send queues one whole batch to
 * the new master (at the commit, and again once every old worker is
 * gone); take applies one record on the new side; free drops its
 * state. */
void	tao__uptotals_send(struct tao_master *, struct tao_proc *peer);
void	tao__uptotals_take(struct tao_master *, const struct tao_chan_msg *);
void	tao__uptotals_free(struct tao_master *);
/* inherit.c: the new master's side. */
/* Before the listeners: take what $TAO_UPGRADE lists.  0 (nothing to
 * take, or taken), -1 (logged: exit). */
int	tao__upgrade_inherit(struct tao_master *);
/* After the shm segment and the epoll set exist. */
int	tao__upgrade_attach(struct tao_master *);
/* Every worker serves: READY to systemd, or to the old master. */
void	tao__upgrade_serving(struct tao_master *);
/* The inherited metrics socket if it suits cf_metrics (then ours), -1. */
int	tao__upgrade_metrics_fd(struct tao_master *);

/* proc.c: in a child, close every descriptor but stdio and keep[]. */
void	tao__proc_close_except(int *keep, int nkeep);

/* master.c */
void	tao__master_stop(struct tao_master *, int fast);
/* stats.c */
struct tao_buf;
void	tao__master_status(struct tao_master *, struct tao_buf *);
void	tao__master_stats(struct tao_master *, struct tao_buf *, int json);
void	tao__master_conns(struct tao_master *, struct tao_buf *, int json);
void	tao__master_collect_dead(struct tao_master *, struct tao_proc *);
/* Worker slots the reports show (old ones that still have totals too),
 * and one slot's counters: its dead workers' totals plus every live
 * worker of the slot, of any generation. */
int	tao__master_slots_shown(struct tao_master *);
void	tao__master_slot_counters(struct tao_master *, int slot,
	    struct tao_stats_snapshot *);

/* prom.c: GET /metrics, the Prometheus text exposition format 0.0.4. */
void	tao__master_prometheus(struct tao_master *, struct tao_buf *);

/* hist.c: latency histograms (the base of dead workers, their export). */
int	tao__master_hist_init(struct tao_master *);
void	tao__master_hist_free(struct tao_master *);
void	tao__master_hist_prepare(struct tao_master *, int islot);
void	tao__master_hist_collect(struct tao_master *, const struct tao_proc *);
/* A slot's series as a scrape shows them (v: TAO_HIST_SERIES, by type,
 * "other" last), 0; -1 without histograms. */
int	tao__master_hist_slot(struct tao_master *, int slot,
	    struct tao_hist_snapshot *v, struct tao_hist_snapshot *wq);
/* Add src into slot's base: a handler series by its type (other = 0),
 * handler "other" (1), or write-queue wait (-1). */
void	tao__master_hist_add(struct tao_master *, int slot, int other,
	    const struct tao_hist_snapshot *src);
void	tao__master_prom_hist(struct tao_master *, struct tao_buf *,
	    int nslots);

/* metrics.c: the metrics HTTP listener (contract at the top of it). */
int	tao__metrics_start(struct tao_master *);
/* A reload: bind next's address if it moved (nothing changes yet); 0, or
 * -1 with the reason in err. */
int	tao__metrics_prepare(struct tao_master *, const struct tao_config *,
	    char *err, size_t errlen);
void	tao__metrics_commit(struct tao_master *);	/* switch to it */
void	tao__metrics_unprepare(struct tao_master *);	/* drop it */
uint64_t tao__metrics_next_deadline(struct tao_master *);
void	tao__metrics_expire(struct tao_master *, uint64_t now);
void	tao__metrics_close_all(struct tao_master *);
/* Upgrade: poll the listener (new master), or close ours (old). */
int	tao__metrics_poll(struct tao_master *);
void	tao__metrics_release(struct tao_master *);
int	tao__metrics_fd(const struct tao_master *);

#endif
