/*
 * itest.h - helpers for the daemon integration tests (tests/t60..t79).
 *
 * A test starts taod on a config written into a fresh temporary
 * directory, learns its ports from the log, talks to it over 127.0.0.1
 * with non-blocking client sockets, asks taoctl for counters, and stops
 * everything at the end.  taod runs in a process group of its own whose
 * id is the master's pid, so one kill(-pid) reaches the master and every
 * worker it ever forked, also from the watchdog's signal handler and
 * from atexit() when a test bails out half way.
 *
 * Time: every wait is a bounded poll.  Upper bounds go through
 * itest_ms(), which multiplies by itest_scale(): 3 when TAO_BUILD names
 * an ASan build, times TAO_TEST_SCALE if that is set.  Lower bounds
 * ("not closed before 350 ms") are never scaled.
 */
#ifndef TAO_TESTS_ITEST_H
#define TAO_TESTS_ITEST_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define ITEST_MAX_PORTS	8

struct itest_taod {
	pid_t	 pid;			/* master; also its process group */
	int	 status;		/* wait status once reaped */
	int	 reaped;
	char	 dir[128];		/* temporary, removed at stop */
	char	 conf[160];
	char	 log[160];
	char	 ctl[160];		/* control socket */
	int	 ports[ITEST_MAX_PORTS];	/* as the listen lines go */
	int	 nports;
};

/* A client connection with its own input buffer. */
struct itest_conn {
	int	 fd;
	int	 eof;		/* the peer closed or reset: no more input */
	int	 err;		/* errno of a reset, 0 for an orderly close */
	uint8_t	*buf;
	size_t	 off, len, cap;	/* unread bytes are buf[off..len) */
	int	 tag;		/* free for the test (e.g. the worker slot) */
	uint64_t netid;		/* free for the test */
};

/* One TLV frame; data points into the connection's buffer and is valid
 * until the next read on that connection. */
struct itest_frame {
	int32_t		 type;
	uint32_t	 len;
	const uint8_t	*data;
};

/* ---- time ----------------------------------------------------------- */
double		 itest_scale(void);
int		 itest_ms(int ms);		/* ms * itest_scale() */
uint64_t	 itest_now_ms(void);		/* CLOCK_MONOTONIC */
double		 itest_now(void);		/* CLOCK_MONOTONIC, seconds */
void		 itest_sleep_ms(int ms);
/* Fail the whole test (kill taod, exit 255) after seconds * scale. */
void		 itest_watchdog(int seconds);

/* ---- the daemon ----------------------------------------------------- */
const char	*itest_build_dir(void);		/* TAO_BUILD or "build" */
/*
 * Write `config` (directives separated by newlines; a "control" line is
 * added) and start TAO_BUILD/taod on it; returns when the master logs
 * "serving with", with d->ports filled from the "listening on" lines.
 * 0, or -1 with a diagnostic and the log printed.
 */
int		 itest_taod_start(struct itest_taod *d, const char *config);
/*
 * SIGTERM the master, wait for it (bounded), then SIGKILL its process
 * group and remove the directory.  Returns the master's exit code, or
 * -1 if it had to be killed, died on a signal, or the log shows a
 * sanitizer report.  Safe to call twice.
 */
int		 itest_taod_stop(struct itest_taod *d);
/* 1 if the log contains `text`. */
int		 itest_taod_log_has(struct itest_taod *d, const char *text);
void		 itest_taod_log_dump(struct itest_taod *d);	/* as # lines */

/*
 * Run `taoctl -s CTL args...` (NULL-terminated), stdout into out (NUL
 * terminated, cut to outlen).  Returns taoctl's exit code or -1.
 */
int		 itest_taoctl(struct itest_taod *d, char *out, size_t outlen,
		    ...);
/* A counter of `stats --json`: slot -1 for the totals.  -1 on error. */
long long	 itest_stat(struct itest_taod *d, int slot, const char *key);
/* Worker pids by slot from `taoctl status`; returns the number found. */
int		 itest_worker_pids(struct itest_taod *d, pid_t *pids, int max);
/* Wait until `taoctl status` shows a pid other than old in slot: the new
 * pid, or 0 on timeout. */
pid_t		 itest_wait_respawn(struct itest_taod *d, int slot, pid_t old,
		    int timeout_ms);
/* `conns --json` into out; returns the number of rows, -1 on error. */
int		 itest_conns(struct itest_taod *d, char *out, size_t outlen);
/* Rows of `conns --json` text whose "pid" is pid. */
int		 itest_conns_count_pid(const char *json, pid_t pid);

/* ---- clients (itest-conn.c) ---------------------------------------- */
/* Connect to 127.0.0.1:port (blocking, bounded), then non-blocking. */
int		 itest_conn_open(struct itest_conn *c, int port);
void		 itest_conn_close(struct itest_conn *c);
int		 itest_conn_local_port(const struct itest_conn *c);
/* Write all bytes (waits for room, bounded).  0 or -1. */
int		 itest_conn_write(struct itest_conn *c, const void *p,
		    size_t n);
int		 itest_conn_send(struct itest_conn *c, int32_t type,
		    const void *p, size_t n);
/* Read what the socket has now: >0 bytes read, 0 nothing, -1 eof. */
int		 itest_conn_read(struct itest_conn *c);
/* Pop a buffered TLV frame: 1, or 0 if none is complete yet. */
int		 itest_conn_frame(struct itest_conn *c, struct itest_frame *f);
/* Wait for the next frame: 1, 0 on timeout, -1 if the peer closed. */
int		 itest_conn_next(struct itest_conn *c, struct itest_frame *f,
		    int timeout_ms);
/* Wait for a frame of this type, dropping others: 1, 0, -1 as above. */
int		 itest_conn_expect(struct itest_conn *c, int32_t type,
		    struct itest_frame *f, int timeout_ms);
/* Pop a buffered '\n' line (without it) into out: 1 or 0. */
int		 itest_conn_line(struct itest_conn *c, char *out,
		    size_t outlen);
/* Wait for the next line: 1, 0 on timeout, -1 if the peer closed. */
int		 itest_conn_next_line(struct itest_conn *c, char *out,
		    size_t outlen, int timeout_ms);
/* Discard input until the peer closes: 1 closed, 0 still open. */
int		 itest_conn_wait_closed(struct itest_conn *c, int timeout_ms);
/*
 * poll() the open connections of an array for input up to timeout_ms and
 * read from each ready one; returns how many had input or closed.
 */
int		 itest_conns_poll(struct itest_conn *cs, int n, int timeout_ms);

/* Little-endian helpers. */
void		 itest_put_le64(uint8_t *p, uint64_t v);
uint64_t	 itest_get_le64(const uint8_t *p);

#endif
