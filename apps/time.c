/*
 * time.c - every connection receives the server's time once a second
 * (Go Tao's timer example): a type-1 frame holding an ISO 8601 UTC time.
 */
#include <stdio.h>
#include <time.h>

#include "apps/apps.h"

#define TIME_TYPE	1

static void
tick(struct tao_conn *c, void *arg)
{
	struct timespec ts;
	struct tm tm;
	char text[64];
	size_t len;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
	len += (size_t)snprintf(text + len, sizeof(text) - len, ".%03ldZ",
	    ts.tv_nsec / 1000000);
	(void)tao_conn_send(c, TIME_TYPE, text, len);
}

static int
on_connect(struct tao_conn *c, void *arg)
{
	(void)arg;
	return tao_conn_timer_every(c, 1000, tick, NULL) < 0 ? -1 : 0;
}

static void
ignore(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)c;
	(void)m;
	(void)arg;
}

int
tao_app_time(struct tao_server *s, const char *options)
{
	if (options[0] != '\0')
		return -1;
	tao_server_on_connect(s, on_connect, NULL);
	tao_server_on_message(s, ignore, NULL);
	return 0;
}
