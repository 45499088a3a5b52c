/*
 * slowstart.c - a test module (t281, t282): echoes every frame, and each
 * worker, before it says READY, sleeps as many milliseconds as the file
 * named by its app argument holds (none when the file is missing).  A
 * test writes the file to hold a reload's or an upgrade's new workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <tao.h>

static char	path[512];

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

static void
slow_start(struct tao_server *s, int slot, void *arg)
{
	struct timespec ts;
	FILE *fp = fopen(path, "re");
	long ms = 0;

	(void)s;
	(void)slot;
	(void)arg;
	if (fp == NULL)
		return;
	if (fscanf(fp, "%ld", &ms) != 1 || ms < 0 || ms > 60000)
		ms = 0;
	fclose(fp);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static int
init(struct tao_server *s, int argc, char **argv)
{
	if (argc != 2 || snprintf(path, sizeof(path), "%s", argv[1]) >=
	    (int)sizeof(path))
		return TAO_EINVAL;
	if (tao_server_on_message(s, echo, NULL) < 0)
		return TAO_EINVAL;
	return tao_server_on_worker_start(s, slow_start, NULL);
}

TAO_MODULE("slowstart", init);
