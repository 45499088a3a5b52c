/*
 * t265-cluster-config - the cluster directives: `taod -t` reports every
 * bad one as FILE:LINE: message and passes good ones; a reload may change
 * the Redis address, channel, password and queue (the bridge restarts
 * with them) or turn the cluster off, but not the node id, which every
 * open connection's netid carries: refused with a message saying so,
 * nothing changed.  `taoctl config` never prints the password.
 */
#include <stdio.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

static const struct bad {
	const char	*text;
	int		 line;
	const char	*what;
} bad[] = {
	{ "cluster http://127.0.0.1:6379\n", 1, "expected redis://" },
	{ "cluster redis://127.0.0.1\n", 1, "missing :PORT" },
	{ "cluster redis://127.0.0.1:0\n", 1, "bad port" },
	{ "cluster redis://127.0.0.1:70000\n", 1, "bad port" },
	{ "cluster redis://127.0.0.1:6379/x\n", 1, "bad database" },
	{ "cluster redis://:6379\n", 1, "bad host" },
	{ "cluster redis://h@st:6379\n", 1, "bad character" },
	{ "cluster\n", 1, "cluster takes 1 argument" },
	{ "# c\nnode_id 1024\n", 2, "node_id: a number from 0 to 1023" },
	{ "node_id -1\n", 1, "node_id" },
	{ "cluster_queue_max 0\n", 1, "cluster_queue_max" },
	{ "cluster_queue_max 10x\n", 1, "cluster_queue_max" },
	{ "cluster_channel bad/chan\n", 1, "cluster_channel" },
	{ "cluster_channel "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 1,
	    "cluster_channel" },
	{ "cluster_password a b\n", 1, "cluster_password takes 1 argument" },
};

static const char *good[] = {
	("cluster redis://127.0.0.1:6379/3\nnode_id 7\ncluster_channel my-app\n"
	    "cluster_password s3cret\ncluster_queue_max 50\n"),
	"cluster redis://[::1]:6380\n",
	"cluster redis://redis.example:6379\ncluster off\n",
};

static int
check(const char *text, char *out, size_t outlen)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/t.conf", th_dir());
	if ((fp = fopen(path, "w")) == NULL || fputs("listen 127.0.0.1:0 tlv\n"
	    "app echo\n", fp) == EOF || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF)
		bail("cannot write a config");
	const char *argv[] = { th_bin("taod"), "-t", "-c", path, NULL };
	return th_run(out, outlen, th_ms(10000), argv);
}

static void
config_check(void)
{
	char out[4096], want[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = check(bad[i].text, out, sizeof(out));
		/* +2: the two lines check() writes first */
		snprintf(want, sizeof(want), "t.conf:%d: ", bad[i].line + 2);
		ok(rc == 1 && strstr(out, want) != NULL &&
		    strstr(out, bad[i].what) != NULL, "taod -t refuses %.*s",
		    (int)strcspn(bad[i].text, "\n"), bad[i].text);
		if (rc != 1 || strstr(out, bad[i].what) == NULL)
			diag("rc %d: %s", rc, out);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = check(good[i], out, sizeof(out));
		ok(rc == 0, "taod -t passes good config %zu", i);
		if (rc != 0)
			diag("%s", out);
	}
}

static int
reload(struct th_daemon *d, const char *conf, char *out, size_t outlen)
{
	if (th_daemon_config(d, conf) == -1)
		return -1;
	return th_ctl(d, out, outlen, "reload", (char *)NULL);
}

static void
reloads(const struct th_redis *r)
{
	char conf[1024], out[4096];
	struct th_daemon *d;
	long long pid;
	int rc;

	if ((d = th_cluster_node(r, 5, 1, NULL, 1)) == NULL)
		bail("node did not start");
	pid = th_cluster_stat(d, "pid");
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\nlisten "
	    "127.0.0.1:0 line\napp chat notices\nworkers 1\ncluster %s\n"
	    "node_id 6\n", th_redis_url(r));
	ok(reload(d, conf, out, sizeof(out)) == 1 && strstr(out,
	    "node_id cannot change on reload") != NULL,
	    "a reload to another node_id is refused");
	diag("%s", out);
	ok(th_cluster_stat(d, "node") == 5 && th_cluster_stat(d, "pid") == pid,
	    "node 5 and its bridge unchanged");
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\nlisten "
	    "127.0.0.1:0 line\napp chat notices\nworkers 1\ncluster %s\n"
	    "node_id 5\ncluster_channel other\ncluster_password pw\n",
	    th_redis_url(r));
	ok(reload(d, conf, out, sizeof(out)) == 0, "a reload to another "
	    "channel (and a password) is accepted");
	double deadline = th_now_ms() + th_ms(5000);
	while (th_now_ms() < deadline && th_cluster_stat(d, "pid") == pid)
		th_sleep_ms(50);
	ok(th_cluster_stat(d, "pid") != pid, "the bridge was restarted");
	/* Redis has no password: AUTH is refused, logged, retried. */
	ok(th_daemon_wait_log(d, "AUTH refused", 1, th_ms(5000)) == 0,
	    "the new bridge uses the new password (Redis refuses AUTH)");
	/* The password as a value, not two letters anywhere: the paths
	 * in the output (control, under a random temporary directory)
	 * may hold "pw" by chance. */
	rc = th_ctl(d, out, sizeof(out), "config", (char *)NULL);
	if (!ok(rc == 0 && strstr(out, "cluster_channel other\n") != NULL &&
	    strstr(out, "cluster_password (set)\n") != NULL &&
	    strstr(out, " pw\n") == NULL, "taoctl config: new channel, "
	    "no password shown"))
		diag("taoctl config: exit %d:\n%s", rc, out);
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\nlisten "
	    "127.0.0.1:0 line\napp chat notices\nworkers 1\nnode_id 5\n");
	ok(reload(d, conf, out, sizeof(out)) == 0, "a reload to no cluster");
	deadline = th_now_ms() + th_ms(5000);
	while (th_now_ms() < deadline && !th_cluster_state_is(d, "off"))
		th_sleep_ms(50);
	ok(th_cluster_state_is(d, "off") && th_cluster_stat(d, "pid") == 0,
	    "cluster off, bridge gone");
	th_daemon_stop(d);
}

/* A taod started without a cluster is node 0. */
static void
enable_later(const struct th_redis *r)
{
	char conf[1024], out[4096];
	struct th_daemon *d;

	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp chat notices\n"
	    "workers 1\n")) == NULL)
		bail("taod did not start");
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\napp chat "
	    "notices\nworkers 1\ncluster %s\n", th_redis_url(r));
	ok(reload(d, conf, out, sizeof(out)) == 1 && strstr(out,
	    "set node_id explicitly") != NULL,
	    "adding a cluster with a derived node id is refused");
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\napp chat "
	    "notices\nworkers 1\ncluster %s\nnode_id 0\n", th_redis_url(r));
	ok(reload(d, conf, out, sizeof(out)) == 0 &&
	    th_cluster_wait_state(d, "up", th_ms(5000)) == 0,
	    "with node_id 0 it is accepted and the link comes up");
	th_daemon_stop(d);
}

int
main(void)
{
	struct th_redis r;

	plan((int)(sizeof(bad) / sizeof(bad[0]) + sizeof(good) /
	    sizeof(good[0])) + 10);
	th_init("t265-cluster-config", 90);
	config_check();
	if (th_redis_start(&r, 0) == -1)
		bail("redis-server did not start");
	reloads(&r);
	enable_later(&r);
	th_redis_stop(&r);
	return th_exit(done_testing());
}
