/*
 * t055-master-user: `user NAME` makes the workers drop to that user and
 * its groups after the master (root) has bound the sockets, and they
 * still serve; the master stays root.  Needs root; skipped otherwise.
 */
#include <sys/types.h>

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "lib/harness.h"

/* Real, effective, saved and fs uid of a process, from /proc. */
static int
proc_uid(pid_t pid, long uids[4])
{
	char path[64], line[256];
	FILE *fp;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Uid: %ld %ld %ld %ld", &uids[0], &uids[1],
		    &uids[2], &uids[3]) == 4)
			found = 1;
	fclose(fp);
	return found ? 0 : -1;
}

int
main(void)
{
	struct th_daemon *d;
	struct passwd *pw;
	pid_t kids[4];
	long uids[4];
	int n, fd;

	th_init("t055-master-user", 30);
	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL)
		skip_all("needs root and a 'nobody' user");
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "user nobody\n");
	if (d == NULL)
		bail("taod did not start");
	ok(proc_uid(d->pid, uids) == 0 && uids[0] == 0 && uids[1] == 0,
	    "the master stays root");
	n = th_children(d->pid, kids, 4);
	is_int(n, 2, "two workers");
	for (int i = 0; i < n; i++) {
		ok(proc_uid(kids[i], uids) == 0 && uids[0] == (long)pw->pw_uid &&
		    uids[1] == (long)pw->pw_uid && uids[2] == (long)pw->pw_uid,
		    "worker %d runs as nobody (real, effective and saved uid)",
		    (int)kids[i]);
	}
	fd = th_connect(d->port[0]);
	ok(fd >= 0 && th_echo_once(fd, 7, 100, 1) == 0,
	    "a worker running as nobody echoes");
	if (fd >= 0)
		close(fd);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
