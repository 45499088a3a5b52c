/*
 * master.h - the supervising process: worker slots, generations, the
 * control socket.  The master never touches client traffic.
 */
#ifndef TAO_MASTER_MASTER_H
#define TAO_MASTER_MASTER_H

#include <sys/types.h>
#include <sys/queue.h>
#include <stdint.h>

#include "master/config.h"
#include "master/listeners.h"
#include "master/server.h"
#include "worker/worker.h"

enum tao_proc_state {
	TAO_PROC_STARTING = 0,	/* forked, READY not yet received */
	TAO_PROC_SERVING,
	TAO_PROC_DRAINING,	/* told to stop accepting and finish */
};

struct tao_proc {
	struct tao_io		 p_io;		/* channel to the worker */
	pid_t			 p_pid;
	int			 p_slot;
	int			 p_islot;
	uint32_t		 p_gen;
	int			 p_state;
	uint64_t		 p_started_ms;
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
struct ssl_ctx_st;

struct tao_reload {
	int			 rl_active;
	uint32_t		 rl_gen;
	uint64_t		 rl_deadline;
	struct tao_ctl_client	*rl_waiter;
	int			 rl_old_nworkers;
	struct ssl_ctx_st	*rl_tls;	/* the new generation's */
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
	struct tao_io		 m_sig_io;
	struct tao_io		 m_ctl_io;
	LIST_HEAD(, tao_ctl_client) m_clients;
	int			 m_stopping;	/* 1 graceful, 2 fast */
	uint64_t		 m_stop_deadline;
	struct tao_ctl_client	*m_stop_waiters[16];
	int			 m_nstop_waiters;
	int			 m_notified_ready;
	struct pidfh		*m_pidfh;
	uint64_t		 m_started_ms;
	time_t			 m_started_wall;
	struct tao_reload	 m_reload;
	/* The serving generation's TLS context (master/tls.h), NULL without
	 * tls listeners.  Workers hold inherited copies: the master frees
	 * its own when a reload replaces it. */
	struct ssl_ctx_st	*m_tls;
	struct tao_shm		*m_shm;
	int			*m_eventfds;
	int			 m_nislots;
	uint8_t			*m_islot_used;
	struct tao_stats_snapshot m_dead_totals[TAO_MAX_WORKERS];
	uint64_t		 m_now_ms;
};

/* control.c */
int	tao__ctl_listen(struct tao_master *);
void	tao__ctl_on_accept(struct tao_master *);
void	tao__ctl_on_client(struct tao_master *, struct tao_io *);
void	tao__ctl_reply(struct tao_master *, struct tao_ctl_client *, int ok,
	    const char *text);
void	tao__ctl_close_all(struct tao_master *);

/* master.c, for control.c */
int	tao__master_reload(struct tao_master *, struct tao_ctl_client *,
	    char *err, size_t errlen);
void	tao__master_stop(struct tao_master *, int fast);
/* stats.c */
struct tao_buf;
void	tao__master_status(struct tao_master *, struct tao_buf *);
void	tao__master_stats(struct tao_master *, struct tao_buf *, int json);
void	tao__master_conns(struct tao_master *, struct tao_buf *, int json);
void	tao__master_collect_dead(struct tao_master *, struct tao_proc *);

#endif
