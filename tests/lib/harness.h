/*
 * harness.h - what the daemon integration tests share: run taod from a
 * config text in a temp dir, talk to it (TLV frames, taoctl), watch its
 * processes, and clean every process and file up however the test ends.
 *
 *	int main(void) {
 *		struct th_daemon *d;
 *
 *		th_init("t040-echo-basic", 60);	(time limit, seconds)
 *		if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"))
 *		    == NULL)
 *			bail("taod did not start");
 *		... d->port[0] ...
 *		return th_exit(done_testing());
 *	}
 *
 * Every wait is a bounded poll; pass the nominal time in milliseconds
 * through th_ms(), which scales it by TAO_TEST_TIMEOUT_SCALE (default 1)
 * and by 3 more when TAO_BUILD names an ASan build (".../asan"), 5 for
 * a TSan one (".../tsan").  That
 * is the tests' only time-scale variable: kids.c and the unit tests use
 * th_timeout_scale() too.  Lower bounds ("not closed before 350 ms") are
 * never scaled.
 *
 * Files: harness.c (init, cleanup, processes, taod), harness-ctl.c
 * (taoctl and its output), harness-net.c (sockets, frames, payloads),
 * harness-client.c (buffered non-blocking clients), harness-load.c (many echo connections driven from a thread; a connect
 * storm).
 */
#ifndef TAO_TESTS_HARNESS_H
#define TAO_TESTS_HARNESS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define TH_MAX_PORTS	8
#define TH_MAX_SLOTS	32
#define TH_HEADER	8		/* int32 type | uint32 length */

/* ---- harness.c ------------------------------------------------------ */

/*
 * Call first.  Makes the test's temp dir, seeds th_rand() (TAO_TEST_SEED
 * or the clock; the seed is printed), ignores SIGPIPE, makes this process
 * a child subreaper (so workers orphaned by a dead master stay ours to
 * kill) and arms alarm(limit_s, scaled).  SIGALRM, SIGINT, SIGTERM and
 * SIGHUP end the test with "Bail out!", the daemon logs, every process
 * it started killed by pid and the temp dir removed; so does an exit()
 * without th_exit() (bail()), through atexit.
 */
void		 th_init(const char *name, int limit_s);
/* Dump every daemon log if rc != 0, kill what is left, remove the temp
 * dir; returns rc, so: return th_exit(done_testing()); */
int		 th_exit(int rc);
int		 th_ms(int nominal_ms);		/* scaled timeout */
double		 th_timeout_scale(void);	/* the factor; no th_init needed */
int		 th_sanitized(void);		/* TAO_BUILD is .../asan */
double		 th_now_ms(void);		/* CLOCK_MONOTONIC */
void		 th_sleep_ms(int ms);
const char	*th_dir(void);			/* the test's temp dir */
const char	*th_bin(const char *name);	/* "$TAO_BUILD/name" */
uint32_t	 th_rand(void);			/* main thread only */

/*
 * Run argv[0] (searched in PATH) with stdin /dev/null and stdout+stderr
 * captured into out (NUL-terminated, truncated to outlen).  Returns the
 * exit code, 128 + signal if killed, -1 if it could not run or did not
 * finish within timeout_ms (it is then killed).
 */
int		 th_run(char *out, size_t outlen, int timeout_ms,
		    const char *const argv[]);

struct th_daemon {
	pid_t		 pid;		/* the master; -1 once reaped */
	int		 status;	/* th_run-style code once reaped */
	char		 dir[200];	/* fresh dir: config, log, socket */
	char		 conf[256];
	char		 log[256];
	char		 ctl[256];	/* control socket */
	int		 port[TH_MAX_PORTS];	/* in "listening on" order */
	int		 nports;
};

/*
 * Write config (every "@DIR@" replaced by d->dir; "control @DIR@/ctl.sock"
 * added if the text has no control line) and run `taod -c` with stdout
 * and stderr into d->log.  Waits for "serving with"; returns NULL (with
 * the log as diag) if taod exits or does not serve in time.
 */
struct th_daemon *th_daemon_start(const char *config);
/* The same with another taod binary (a copy the test may replace:
 * binary upgrades). */
struct th_daemon *th_daemon_start_bin(const char *bin, const char *config);
/* Copy src to dst (written aside, then renamed over it, as a package
 * manager does) with mode; 0 or -1. */
int		 th_copy_file(const char *src, const char *dst, int mode);
/*
 * The same for a server the test builds with libtao: the config is
 * written as above, then a forked child (stdout and stderr into d->log,
 * default signals, none of this test's clean-up) exits with
 * run(d->conf, arg), which typically makes a tao_server, reads conf with
 * tao_server_config, registers its callbacks and returns
 * tao_server_run(s) < 0.
 */
struct th_daemon *th_daemon_fork(const char *config,
		    int (*run)(const char *conf, void *arg), void *arg);
/* Rewrite d->conf the same way (for reloads); 0 or -1. */
int		 th_daemon_config(struct th_daemon *d, const char *config);
/* Reap the master within timeout_ms; its status, or -1 on timeout. */
int		 th_daemon_wait(struct th_daemon *d, int timeout_ms);
/* SIGTERM, wait; SIGKILL (master and children) if that takes too long. */
int		 th_daemon_stop(struct th_daemon *d);
/* 1 if d's log holds an ASan, LSan or UBSan report. */
int		 th_daemon_sanitizer_report(struct th_daemon *d);
/* th_daemon_stop, but -1 also when the log holds a sanitizer report (a
 * worker that died of one is respawned, so the exit code hides it). */
int		 th_daemon_stop_clean(struct th_daemon *d);
/* Wait until needle occurs count times in the log: 0, or -1 on timeout. */
int		 th_daemon_wait_log(struct th_daemon *d, const char *needle,
		    int count, int timeout_ms);
int		 th_daemon_log_count(struct th_daemon *d, const char *needle);
void		 th_daemon_dump_log(struct th_daemon *d);	/* as diag */

/* ---- harness-ctl.c -------------------------------------------------- */

/* taoctl -s d->ctl ARGS... (NULL-terminated); th_run's return value. */
int		 th_ctl(struct th_daemon *d, char *out, size_t outlen, ...)
		    __attribute__((sentinel));

struct th_slot {
	int		 slot;
	pid_t		 pid;
	int		 generation;
	char		 state[16];
	int		 connections;
	int		 restarts;
};

struct th_status {
	pid_t		 pid;
	int		 generation;
	int		 workers;
	int		 nslots;	/* rows of the table, old ones too */
	struct th_slot	 slot[TH_MAX_SLOTS];
};

/* taoctl status, parsed; 0 or -1. */
int		 th_status(struct th_daemon *d, struct th_status *st);
/* Rows of st whose state is "serving"; the newest generation's pid of a
 * slot in *pid (if pid is not NULL). */
int		 th_status_serving(const struct th_status *st, int slot,
		    pid_t *pid);

/* taoctl reload, tried again (every 20 ms, up to 10 s scaled) while
 * it fails because old generations are still draining; its exit code,
 * output in out.  *waits (if not NULL) counts the retries. */
int		 th_reload_retry(struct th_daemon *d, char *out,
		    size_t outlen, int *waits);
/* Wait (up to timeout_ms) until slots 0..n-1 all serve; their newest
 * pids in pid[] (n at most TH_MAX_SLOTS).  0 or -1. */
int		 th_wait_serving(struct th_daemon *d, int n, pid_t *pid,
		    int timeout_ms);

/* The newest serving pid of slot in `taoctl status`, or -1. */
pid_t		 th_worker_pid(struct th_daemon *d, int slot);
/* Wait until slot serves with a pid other than old: the new pid, or -1
 * on timeout. */
pid_t		 th_wait_respawn(struct th_daemon *d, int slot, pid_t old,
		    int timeout_ms);

/* One counter from `taoctl stats --json` output: slot -1 is "totals".
 * Returns -1 if it is not there. */
long long	 th_stats_get(const char *json, int slot, const char *key);
/* The same, running taoctl for it. */
long long	 th_stat(struct th_daemon *d, int slot, const char *key);

struct th_conn_info {
	long long	 netid;
	int		 worker;
	pid_t		 pid;
	int		 peer_port;	/* the client's local port */
};

/* taoctl conns --json, parsed; the number of rows, or -1. */
int		 th_conns(struct th_daemon *d, struct th_conn_info *ci,
		    int max);

/* Occurrences of needle in the file at path (0 if it cannot be read). */
int		 th_file_count(const char *path, const char *needle);
/* Wait until the file holds needle: 0, or -1 on timeout. */
int		 th_wait_file(const char *path, const char *needle,
		    int timeout_ms);

/* ---- harness.c: /proc ---------------------------------------------- */

long		 th_rss_kb(pid_t pid);		/* VmRSS, -1 if gone */
long		 th_tree_rss_kb(pid_t pid);	/* pid + its children */
int		 th_children(pid_t pid, pid_t *out, int max);
int		 th_pid_alive(pid_t pid);	/* exists, not a zombie */

/* ---- harness-net.c -------------------------------------------------- */

/* Blocking TCP connect to 127.0.0.1:port with SO_RCVTIMEO/SO_SNDTIMEO of
 * th_ms(5000); close-on-exec.  fd or -1. */
int		 th_connect(int port);
int		 th_local_port(int fd);
int		 th_write_all(int fd, const void *buf, size_t len);
/*
 * Read exactly len bytes before timeout_ms: 0 done, 1 EOF first, -1 error
 * (errno; ETIMEDOUT when the time ran out).
 */
int		 th_read_exact(int fd, void *buf, size_t len, int timeout_ms);
int		 th_send_frame(int fd, int32_t type, const void *payload,
		    uint32_t len);
/* Read one frame; payload into buf (cap bytes at most, else -1 EMSGSIZE).
 * Same return values as th_read_exact. */
int		 th_recv_frame(int fd, int32_t *type, void *buf, size_t cap,
		    uint32_t *len, int timeout_ms);
/* Send one frame of len th_fill(seed) bytes, expect it back: 0 or -1. */
int		 th_echo_once(int fd, int32_t type, size_t len, uint32_t seed);
/* Probes: connect to 127.0.0.1:port, echo one frame (th_echo_once) or
 * one line (with its newline, back within 3 s x scale), close; 1 if it
 * came back, 0 if not. */
int		 th_tlv_echoes(int port, int32_t type, size_t len,
		    uint32_t seed);
int		 th_line_echoes(int port, const char *line);
/* 0 once the peer has closed (EOF or reset) within timeout_ms, reading
 * and discarding what comes first; -1 if it stays open. */
int		 th_wait_closed(int fd, int timeout_ms);

void		 th_put_header(void *dst, int32_t type, uint32_t len);
void		 th_get_header(const void *src, int32_t *type, uint32_t *len);
/* Deterministic payload bytes: the same seed gives the same bytes. */
void		 th_fill(void *buf, size_t len, uint32_t seed);
uint32_t	 th_hash(uint32_t a, uint32_t b);

/* ---- harness-client.c ---------------------------------------------- */

/* A non-blocking client connection with its own input buffer. */
struct th_client {
	int	 fd;
	int	 eof;		/* the peer closed or reset: no more input */
	int	 err;		/* errno of a reset, 0 for an orderly close */
	uint8_t	*buf;
	size_t	 off, len, cap;	/* unread bytes are buf[off..len) */
	int	 tag;		/* free for the test (e.g. the worker slot) */
	uint64_t netid;		/* free for the test */
};

/* One TLV frame; data points into the client's buffer and is valid
 * until the next read on that client. */
struct th_frame {
	int32_t		 type;
	uint32_t	 len;
	const uint8_t	*data;
};

/* Connect to 127.0.0.1:port (bounded by th_ms(5000)), then non-blocking;
 * 0 or -1. */
int		 th_client_open(struct th_client *c, int port);
void		 th_client_close(struct th_client *c);
int		 th_client_local_port(const struct th_client *c);
/* Write all bytes (waits for room, bounded).  0 or -1. */
int		 th_client_write(struct th_client *c, const void *p, size_t n);
/* One TLV frame of at most 4096 payload bytes.  0 or -1. */
int		 th_client_send(struct th_client *c, int32_t type,
		    const void *p, size_t n);
/* Read what the socket has now: >0 bytes read, 0 nothing, -1 eof. */
int		 th_client_read(struct th_client *c);
/* Pop a buffered TLV frame: 1, or 0 if none is complete yet. */
int		 th_client_frame(struct th_client *c, struct th_frame *f);
/* Wait for the next frame: 1, 0 on timeout, -1 if the peer closed. */
int		 th_client_next(struct th_client *c, struct th_frame *f,
		    int timeout_ms);
/* Wait for a frame of this type, dropping others: 1, 0, -1 as above. */
int		 th_client_expect(struct th_client *c, int32_t type,
		    struct th_frame *f, int timeout_ms);
/* Pop a buffered '\n' line (without it) into out: 1 or 0. */
int		 th_client_line(struct th_client *c, char *out, size_t outlen);
/* Wait for the next line: 1, 0 on timeout, -1 if the peer closed. */
int		 th_client_next_line(struct th_client *c, char *out,
		    size_t outlen, int timeout_ms);
/* Discard input until the peer closes: 1 closed, 0 still open. */
int		 th_client_wait_closed(struct th_client *c, int timeout_ms);
/* Wait until c has n unread bytes: 1, or 0 on timeout or close. */
int		 th_client_wait_bytes(struct th_client *c, size_t n,
		    int timeout_ms);
/*
 * poll() the open clients of an array for input up to timeout_ms and
 * read from each ready one; returns how many had input or closed.
 */
int		 th_clients_poll(struct th_client *cs, int n, int timeout_ms);

/* Little-endian 64-bit values (netids in chat payloads). */
void		 th_put_le64(uint8_t *p, uint64_t v);
uint64_t	 th_get_le64(const uint8_t *p);

/* ---- harness-load.c ------------------------------------------------- */

/*
 * Echo load: conns TLV connections (opened all at once, non-blocking),
 * each keeping up to depth requests in flight: random non-zero types,
 * payloads of 0..max_size th_fill() bytes; every reply is checked byte
 * for byte and in order.  Runs in its own thread until each connection
 * has had msgs replies (msgs > 0; see th_load_wait) or until
 * th_load_stop().
 */
struct th_load_opts {
	int		 port;
	int		 conns;
	int		 depth;		/* >= 1 */
	size_t		 max_size;
	long		 msgs;		/* per connection; 0 = until stopped */
	int		 reconnect;	/* replace a connection that broke */
	int		 timeout_ms;	/* a stuck request fails after this
					 * (default th_ms(10000)) */
	uint32_t	 seed;
};

enum th_conn_state {
	TH_CONN_OPEN,		/* fine (or finished fine) */
	TH_CONN_CLOSED,		/* the server closed it (EOF) */
	TH_CONN_RESET,		/* ECONNRESET / EPIPE */
	TH_CONN_BAD,		/* a reply that was not the echo */
	TH_CONN_TIMEOUT,	/* a reply did not come in time */
	TH_CONN_FAILED		/* connect failed */
};

/* One connection's story (of the last connection in its place). */
struct th_load_conn {
	int		 port;		/* local port */
	enum th_conn_state state;
	int		 err;		/* errno of the failure */
	long long	 sent;		/* requests fully written */
	long long	 replies;	/* verified replies */
	long long	 replies_after_mark;
	int		 lost;		/* requests written, never answered */
	int		 lost_before_mark;
	int		 breaks;	/* times a connection here broke */
};

struct th_load_totals {
	long long	 sent;
	long long	 replies;
	long long	 lost;		/* written, never answered */
	long long	 lost_before_mark;
	int		 closed;	/* breaks by state */
	int		 reset;
	int		 bad;
	int		 timeout;
	int		 connect_failed;
	int		 reconnects;
	int		 open;		/* connections fine at the end */
};

struct th_load;

struct th_load	*th_load_start(const struct th_load_opts *o);
/* Replies verified so far (any thread may ask). */
long long	 th_load_replies(struct th_load *l);
/* Wait until n replies have been verified: 0, or -1 on timeout. */
int		 th_load_wait_replies(struct th_load *l, long long n,
		    int timeout_ms);
/* Connections that have opened (connect completed) so far. */
int		 th_load_connected(struct th_load *l);
/* Wait for a msgs > 0 load to finish: 0, or -1 on timeout. */
int		 th_load_wait(struct th_load *l, int timeout_ms);
/* Remember "now": requests written before it and never answered are
 * counted in lost_before_mark. */
void		 th_load_mark(struct th_load *l);
/*
 * Stop sending (if msgs was 0), wait for the replies still owed (bounded
 * by timeout_ms), join the thread, fill totals.  The connection records
 * stay readable through th_load_conn() until th_load_free().
 */
void		 th_load_stop(struct th_load *l, struct th_load_totals *t);
const struct th_load_conn *th_load_conn(struct th_load *l, int i);
void		 th_load_diag(const char *what,
		    const struct th_load_totals *t);
/*
 * Every break (the first TH_LOAD_BREAKS_MAX of them), in the order they
 * happened: which connection, its local port (to find it in taod's
 * log), how it broke, when (th_now_ms()), and what it had done.
 */
#define TH_LOAD_BREAKS_MAX	32
struct th_load_break {
	int		 conn;		/* index, as for th_load_conn() */
	int		 port;		/* local port, -1 before connect */
	enum th_conn_state state;
	int		 err;
	double		 at_ms;
	long long	 replies;	/* on this socket before it broke */
	int		 lost;		/* requests it took with it */
};
/* The breaks kept (readable after th_load_stop()); *total: all breaks. */
int		 th_load_breaks(struct th_load *l,
		    const struct th_load_break **b, int *total);
void		 th_load_free(struct th_load *l);

/*
 * Connect storm: a thread opens a connection, echoes one small frame,
 * half-closes and waits for the server's close, as fast as it can.
 */
struct th_storm_totals {
	long long	 attempts;
	long long	 ok;
	long long	 connect_failed;
	long long	 reset;		/* ECONNRESET at any step */
	long long	 no_reply;	/* closed or timed out before the echo */
	long long	 bad;		/* wrong echo */
	long long	 no_close;	/* server kept it open after our EOF */
	int		 first_err;	/* errno of the first failure */
	int		 nfail;		/* failure times kept, for ordering */
	double		 fail_at[64];	/* th_now_ms() when each began */
};

struct th_storm;

struct th_storm	*th_storm_start(int port);
long long	 th_storm_attempts(struct th_storm *s);
/* Wait until the storm has made n attempts: 0, or -1 on timeout. */
int		 th_storm_wait(struct th_storm *s, long long n, int timeout_ms);
void		 th_storm_diag(const char *what,
		    const struct th_storm_totals *t);
void		 th_storm_stop(struct th_storm *s, struct th_storm_totals *t);

/* ---- harness-upgrade.c --------------------------------------------- */

/*
 * taoctl upgrade; on success wait for the old master to exit 0 and make
 * d follow the new one: its pid, or -1 (taoctl's output in out).
 */
pid_t		 th_upgrade(struct th_daemon *d, char *out, size_t outlen);
/* The pid in a pidfile, or -1. */
pid_t		 th_pidfile_pid(const char *path);

#endif
