/*
 * rundir.c - create the directory of the control socket and the pidfile
 * when it is missing (/run/taod on a machine without systemd, where no
 * RuntimeDirectory= made it).  Only the last component is created: a
 * missing /run would be a deeper problem than ours to fix.
 */
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>

#include "master/rundir.h"
#include "core/log.h"

int
tao__rundir_ensure(const char *path)
{
	char copy[PATH_MAX], *dir;

	if (strlcpy(copy, path, sizeof(copy)) >= sizeof(copy))
		return 0;	/* the caller reports the long path */
	dir = dirname(copy);
	if (mkdir(dir, 0755) == 0) {
		log_info("created %s", dir);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	log_warn("mkdir %s", dir);
	return -1;
}
