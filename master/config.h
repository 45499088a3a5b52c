/*
 * config.h - taod.conf(5): one directive per line, '#' comments.
 *
 * Parsing never exits and never prints: every error is returned as
 * "FILE:LINE: message" in the caller's buffer, so a reload can hand it back
 * to taoctl while the running generation stays untouched.
 */
#ifndef TAO_MASTER_CONFIG_H
#define TAO_MASTER_CONFIG_H

#include <sys/socket.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>

#include "tao.h"
#include "core/access.h"
#include "core/settings.h"

#define TAO_MAX_LISTENS		16
#define TAO_MAX_WORKERS		64
#define TAO_CONFIG_ERRLEN	512

struct tao_listen_conf {
	char			 lc_text[80];	/* "127.0.0.1:12345" */
	struct sockaddr_storage	 lc_addr;
	socklen_t		 lc_addrlen;
	/* NULL until tao__config_codecs() has found lc_codec_name among
	 * the server's codecs (a built-in one is set at once). */
	const struct tao_codec	*lc_codec;
	char			 lc_codec_name[32];
	int			 lc_line;	/* of the listen directive */
	int			 lc_tls;
};

/* cluster (master/config-cluster.c, cluster/bridge.c); cc_url "" = off */
struct tao_cluster_conf {
	char			 cc_url[300];		/* as written */
	char			 cc_host[256];
	int			 cc_port;
	int			 cc_db;
	char			 cc_password[256];	/* "" = no AUTH */
	char			 cc_channel[48];	/* channel prefix */
	unsigned		 cc_node_id;		/* effective */
	int			 cc_node_set;		/* node_id given */
	uint32_t		 cc_queue_max;
};

struct tao_config {
	char			 cf_file[PATH_MAX];	/* "" = built-in */
	int			 cf_workers;		/* 0 = auto */
	struct tao_listen_conf	 cf_listens[TAO_MAX_LISTENS];
	/* proxy flag and allow/deny rules of cf_listens[i] (kept apart so
	 * the listener sets, which copy tao_listen_conf, stay small) */
	struct tao_listen_access cf_access[TAO_MAX_LISTENS];
	int			 cf_nlistens;
	char			 cf_app[PATH_MAX];	/* name or module path */
	char			 cf_app_options[256];	/* "notices", "" */
	char			 cf_module_path[PATH_MAX];	/* "" = none */
	int			 cf_app_line;	/* where it was set */
	int			 cf_lineno;	/* the line being parsed */
	struct tao_settings	 cf_settings;
	uint32_t		 cf_max_connections;
	size_t			 cf_ring_size;
	int			 cf_max_old_generations;
	uint64_t		 cf_reload_timeout_ms;
	char			 cf_control[108];	/* sun_path size */
	char			 cf_pidfile[PATH_MAX];
	char			 cf_user[64];
	char			 cf_tls_cert[PATH_MAX];
	char			 cf_tls_key[PATH_MAX];
	char			 cf_tls_client_ca[PATH_MAX];
	int			 cf_log_level;
	/* metrics HOST:PORT (master/metrics.c); cf_metrics "" = off */
	char			 cf_metrics[80];
	struct sockaddr_storage	 cf_metrics_addr;
	socklen_t		 cf_metrics_addrlen;
	/* worker_cpu_affinity: off, auto, or cf_cpus[0..cf_ncpus) reused
	 * cyclically by slot (affinity.c). */
	int			 cf_cpu_affinity;	/* TAO_AFFINITY_* */
	int			 cf_cpus[TAO_MAX_WORKERS];
	int			 cf_ncpus;
	struct tao_cluster_conf	 cf_cluster;
};

enum {
	TAO_AFFINITY_OFF = 0,	/* not pinned: the master's set */
	TAO_AFFINITY_AUTO,	/* slot i: i-th allowed CPU, modulo */
	TAO_AFFINITY_LIST,
};

extern int tao__config_resolve_names;	/* 0: numeric hosts only */

void	tao__config_defaults(struct tao_config *);
/* Apply one line; 0 or -1 with "FILE:LINE: message" in err. */
int	tao__config_line(struct tao_config *, const char *file, int lineno,
	    const char *line, char *err, size_t errlen);
/* Read a whole file over the current values, then validate. */
int	tao__config_file(struct tao_config *, const char *path, char *err,
	    size_t errlen);
/* Checks across directives; adds the default listeners if none. */
int	tao__config_finish(struct tao_config *, char *err, size_t errlen);
struct tao_codec_set;
/*
 * Find the codec of every listener whose codec is not built in among the
 * codecs the program registered (tao_server_codec); resolved only now,
 * because the config may be read before the app (a module) registers
 * its codecs.  0, or -1 with "FILE:LINE: listen: unknown codec ..." in
 * err.  Before it, a listener's lc_codec may be NULL.
 */
int	tao__config_codecs(struct tao_config *, const struct tao_codec_set *,
	    char *err, size_t errlen);
/* Number of workers to run: cf_workers, or online CPUs for "auto". */
int	tao__config_worker_count(const struct tao_config *);
/*
 * May a running taod go from `running` to `next` by reload?  0, or -1
 * with "FILE: DIRECTIVE cannot change on reload; restart taod" in err
 * for a directive the master applies only at start-up (app,
 * module_path, control,
 * pidfile, max_connections, ring_size) or a user switch the master
 * cannot make (not root).  Shared-memory capacity is checked by the
 * master (mshm.c), which knows what the segment was sized for.
 */
int	tao__config_reload_check(const struct tao_config *running,
	    const struct tao_config *next, char *err, size_t errlen);
/* Bytes of one broadcast ring for cf_ring_size (the next power of 2). */
size_t	tao__config_ring_bytes(const struct tao_config *);

/*
 * affinity.c.  Parse the words of worker_cpu_affinity ("off", "auto", or
 * CPU numbers, each word one number or a comma-separated list); every
 * CPU must be in the calling process's allowed set.  0, or -1 with a
 * message.
 */
int	tao__config_affinity(struct tao_config *, char **words, int nwords,
	    char *msg, size_t msglen);
/* The CPU worker slot `slot` runs on, or -1 (off, or no allowed set). */
int	tao__config_worker_cpu(const struct tao_config *, int slot);
/* The directive's value as taod.conf(5) writes it, for taoctl config. */
void	tao__config_affinity_text(const struct tao_config *, char *,
	    size_t);

/*
 * config-access.c: "proxy" and "tls" after a listen address (1: it was
 * one of them), and the directives allow, deny and
 * max_connections_per_ip (the set functions of config.c's table).
 */
int	tao__config_listen_flag(struct tao_config *, const char *word);
int	tao__config_set_allow(struct tao_config *, char **argv, int argc,
	    char *msg, size_t msglen);
int	tao__config_set_deny(struct tao_config *, char **argv, int argc,
	    char *msg, size_t msglen);
int	tao__config_set_per_ip(struct tao_config *, char **argv, int argc,
	    char *msg, size_t msglen);
/* taoctl config: the listener's rules, one "allow ..." line each. */
struct tao_buf;
void	tao__config_print_access(const struct tao_config *, int listener,
	    struct tao_buf *, int json);

/*
 * config-cluster.c.  The directives not in config.c's table (cluster,
 * cluster_password, cluster_channel, cluster_queue_max, node_id): 0 or
 * -1 with "FILE:LINE: message" ("unknown directive" for a word that is
 * none of them).
 */
int	tao__config_line_more(struct tao_config *, const char *file,
	    int lineno, char **argv, int argc, char *err, size_t errlen);
/* Cluster defaults (in tao__config_defaults) and checks across
 * directives (in tao__config_finish): the node id derived from the host
 * name and the first listen port when node_id is not given. */
void	tao__config_cluster_defaults(struct tao_config *);
int	tao__config_cluster_finish(struct tao_config *, char *err,
	    size_t errlen);

struct tao_buf;
/*
 * `taoctl config`: the effective configuration, every directive once in
 * the order of taod.conf(5), one per line in its syntax (listeners with
 * their resolved port, codec and tls flag; "workers" as the number that
 * runs; unset paths as "# DIRECTIVE (none)"), or one JSON object.
 * confprint.c.
 */
void	tao__config_print(const struct tao_config *, struct tao_buf *,
	    int json);

#endif
