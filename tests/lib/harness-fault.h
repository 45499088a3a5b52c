/*
 * harness-fault.h - what the fault-injection tests (t100..t119) add to
 * harness.h: /proc readings of one process (descriptors, CPU ticks,
 * VmData), the counters of `taoctl stats --json` as one array, who owns a
 * client connection, and a chat load (many TLV chat clients broadcasting
 * from a thread, every delivery counted by sender and receiver slot).
 *
 * All of it lives in harness-fault.c.
 */
#ifndef TAO_TESTS_HARNESS_FAULT_H
#define TAO_TESTS_HARNESS_FAULT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "tests/lib/harness.h"

/* ---- harness-fault.c: /proc ---------------------------------------- */

/* Entries of /proc/PID/fd, -1 if the process is gone. */
int		 th_fd_count(pid_t pid);
/* utime + stime of /proc/PID/stat in clock ticks, -1 if gone. */
long		 th_cpu_ticks(pid_t pid);
/* VmData of /proc/PID/status in KiB (what malloc reserved, touched or
 * not), -1 if gone. */
long		 th_vmdata_kb(pid_t pid);
/* The number after "key:" in /proc/PID/file (status, io), or -1. */
long long	 th_proc_field(pid_t pid, const char *file, const char *key);

/* Lines of d's log that are sanitizer reports (ASan, LSan, UBSan): call
 * it after th_daemon_stop(), when every process has written its last. */
int		 th_sanitizer_reports(struct th_daemon *d);

/* ---- harness-fault.c: counters ------------------------------------- */

/*
 * The counters of `taoctl stats --json` that must never go down (every
 * one but the connections gauge), in this order.
 */
#define TH_NCOUNTERS	12
extern const char *const th_counter_names[TH_NCOUNTERS];

/*
 * One `taoctl stats --json`, parsed: the totals and slots 0..nslots-1.
 * A counter that is missing reads -1.
 */
struct th_counters {
	long long	 total[TH_NCOUNTERS];
	long long	 total_connections;
	int		 nslots;
	long long	 slot[TH_MAX_SLOTS][TH_NCOUNTERS];
	long long	 slot_connections[TH_MAX_SLOTS];
};

/* 0, or -1 if taoctl failed (its output is printed as diag). */
int		 th_counters(struct th_daemon *d, struct th_counters *c);
/* Index of a name in th_counter_names, -1 if it is not one. */
int		 th_counter_index(const char *name);

/* ---- harness-fault.c: owners --------------------------------------- */

/* The pid that serves the client whose local port is port, in rows of
 * th_conns(); -1 if no row has it. */
pid_t		 th_conn_owner(const struct th_conn_info *ci, int n, int port);

/* ---- harness-fault.c: chat load ------------------------------------ */

/*
 * Chat load against `app chat notices` (TLV): conns clients, opened at
 * once from a thread.  Each reads its welcome (netid, worker slot),
 * then sends one type-1 message every interval_ms ("C<index>:<slot>:<seq>",
 * padded to size bytes) and reads everything the room sends.  Deliveries of the
 * load's own messages are counted per (receiving slot, sending slot).
 * A client whose socket is not taking more output (its worker stopped)
 * skips its turns instead of queueing without bound.
 */
#define TH_CHAT_SLOTS	8

struct th_chat_opts {
	int		 port;
	int		 conns;
	int		 interval_ms;	/* >= 1 */
	size_t		 size;		/* text bytes, 16..1024 */
	int		 reconnect;	/* replace a connection that broke */
};

struct th_chat_conn {
	int		 port;		/* local port, -1 while connecting */
	int		 slot;		/* from the welcome, -1 before it */
	uint64_t	 netid;
	enum th_conn_state state;	/* OPEN, CLOSED, RESET, BAD, FAILED */
	int		 err;
	int		 breaks;	/* times a connection here broke */
	long long	 sent;		/* messages wholly queued */
	long long	 received;	/* the load's messages delivered here */
	long long	 skipped;	/* turns skipped: output not draining */
};

struct th_chat_totals {
	long long	 sent;
	long long	 received;
	long long	 skipped;
	int		 closed;	/* breaks by state */
	int		 reset;
	int		 bad;		/* a frame we could not make sense of */
	int		 connect_failed;
	int		 reconnects;
	int		 open;		/* welcomed and fine at the end */
};

struct th_chat;

struct th_chat	*th_chat_start(const struct th_chat_opts *o);
/* Wait until every client has been welcomed: 0, or -1 on timeout. */
int		 th_chat_wait_ready(struct th_chat *ch, int timeout_ms);
/* Deliveries so far to clients on slot `to` of messages sent from slot
 * `from` (either may be -1: any).  Any thread may ask. */
long long	 th_chat_received(struct th_chat *ch, int to, int from);
/* Messages sent so far from clients on slot `from` (-1: any). */
long long	 th_chat_sent(struct th_chat *ch, int from);
/* Suspend or resume the sending (the thread goes on reading). */
void		 th_chat_pause(struct th_chat *ch, int paused);
/* A client's record: read it from another thread only for its port
 * and slot (plain ints), the rest after th_chat_stop(). */
const struct th_chat_conn *th_chat_conn(struct th_chat *ch, int i);
/*
 * Stop the thread (it looks at the flag at least every 20 ms), fill
 * totals.  The connections stay open for th_chat_probe() until
 * th_chat_free().
 */
void		 th_chat_stop(struct th_chat *ch, struct th_chat_totals *t);
/*
 * After th_chat_stop: the first open client broadcasts a marker; returns
 * how many open clients (the sender included) received it within
 * timeout_ms, and in *open how many there are.
 */
int		 th_chat_probe(struct th_chat *ch, int *open, int timeout_ms);
void		 th_chat_diag(const char *what, const struct th_chat_totals *t);
void		 th_chat_free(struct th_chat *ch);

#endif
