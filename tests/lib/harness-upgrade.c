/*
 * harness-upgrade.c - binary upgrades (master/upgrade.c) from a test:
 * `taoctl upgrade`, then follow the daemon to its new master.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

pid_t
th_upgrade(struct th_daemon *d, char *out, size_t outlen)
{
	const char *tag = "upgraded: master pid ";
	const char *at;
	pid_t pid;
	int rc;

	rc = th_ctl(d, out, outlen, "upgrade", NULL);
	if (rc != 0 || (at = strstr(out, tag)) == NULL)
		return -1;
	pid = (pid_t)atoi(at + strlen(tag));
	if (pid <= 1 || pid == d->pid)
		return -1;
	/* The old master leaves once its workers have handed over; the
	 * new one, orphaned, is re-parented to us (a child subreaper). */
	if (th_daemon_wait(d, th_ms(15000)) != 0) {
		diag("the old master did not exit 0 after the upgrade");
		return -1;
	}
	d->pid = pid;
	d->status = 0;
	return pid;
}

pid_t
th_pidfile_pid(const char *path)
{
	char buf[32] = "";
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	return buf[0] ? (pid_t)atoi(buf) : -1;
}
