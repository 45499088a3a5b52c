/*
 * listeners.h - the master's listening sockets.
 *
 * For every listen address the master holds one SO_REUSEPORT socket per
 * worker slot and never closes one while the address stays configured:
 * closing a reuseport socket resets the connections queued on it.  When
 * the worker count shrinks, the surplus sockets are not closed; they are
 * dealt out to the remaining workers (slot i polls sockets i, i+n, ...),
 * so nothing queued on them is lost and no steering program is needed.
 *
 *	address A: fd[0] fd[1] fd[2] fd[3]	(4 sockets ever opened)
 *	2 workers: slot 0 polls fd[0], fd[2]; slot 1 polls fd[1], fd[3]
 */
#ifndef TAO_MASTER_LISTENERS_H
#define TAO_MASTER_LISTENERS_H

#include "master/config.h"

#define TAO_MAX_LSOCKS	(2 * TAO_MAX_LISTENS)

struct tao_lsock {
	struct tao_listen_conf	ls_conf;	/* port resolved */
	struct tao_listen_conf	ls_asked;	/* as configured (port 0?) */
	int			ls_fd[TAO_MAX_WORKERS];
	int			ls_nfd;
	int			ls_live;	/* in the current config */
	uint32_t		ls_last_gen;	/* newest generation using it */
};

struct tao_lset {
	struct tao_lsock	lset_socks[TAO_MAX_LSOCKS];
	int			lset_n;
};

/* Open what `cf` needs for `nworkers` slots, keeping existing sockets.
 * Port 0 is resolved once and written back into cf.  On failure nothing
 * that existed before changes and the error is in err. */
int	tao__lset_apply(struct tao_lset *, struct tao_config *, int nworkers,
	    uint32_t generation, char *err, size_t errlen);
/* The sockets slot `slot` of `nworkers` polls for the listeners of cf
 * (a config tao__lset_apply has resolved), with the codec and tls flag cf
 * gives each (and its proxy flag and rules, pointing into cf); returns
 * their count. */
int	tao__lset_worker_fds(const struct tao_lset *,
	    const struct tao_config *cf, int slot, int nworkers, int *fds,
	    const struct tao_codec **codecs, int *tls,
	    const struct tao_listen_access **access, int max);
/* Close sockets of addresses dropped from the config and no longer used
 * by any generation older than `oldest_gen`. */
void	tao__lset_gc(struct tao_lset *, uint32_t oldest_gen);
void	tao__lset_close_all(struct tao_lset *);
/*
 * A binary upgrade (master/upgrade.c): take over the sockets the previous
 * master opened for the address it was asked for (asked, port 0 allowed),
 * before tao__lset_apply, which then matches them to the config as it
 * matches its own.  Each fd must be a listening TCP socket of asked's
 * family bound to asked's host (and port, unless 0), all on one port.
 * 0, or -1 with the reason in err (nothing kept; the fds stay open).
 */
int	tao__lset_adopt(struct tao_lset *, const struct sockaddr_storage *asked,
	    socklen_t askedlen, const int *fds, int nfd, char *err,
	    size_t errlen);
/* Is fd one of ours (the worker keeps none it was not given)? */
int	tao__lset_owns(const struct tao_lset *, int fd);

#endif
