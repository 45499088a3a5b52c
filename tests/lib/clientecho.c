/*
 * clientecho.c - see clientecho.h.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/clientecho.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

static void
run_timeout(struct tao_loop *l, void *arg)
{
	*(int *)arg = 1;
	tao_loop_stop(l);
}

int
th_loop_run_for(struct tao_loop *l, int ms)
{
	int timed_out = 0;
	int64_t id = tao_loop_run_after(l, (uint64_t)ms, run_timeout,
	    &timed_out);

	if (id < 0)
		bail("tao_loop_run_after");
	if (tao_loop_run(l) < 0)
		bail("tao_loop_run");
	if (!timed_out)
		(void)tao_loop_timer_cancel(l, id);
	return timed_out ? -1 : 0;
}

struct th_cecho *
th_cecho_new(int n, int32_t type, size_t max_size)
{
	struct th_cecho *e = calloc(1, sizeof(*e));

	if (e == NULL || (e->type = calloc((size_t)n, sizeof(*e->type))) ==
	    NULL || (e->size = calloc((size_t)n, sizeof(*e->size))) == NULL ||
	    (e->seed = calloc((size_t)n, sizeof(*e->seed))) == NULL ||
	    (e->scratch = malloc(max_size)) == NULL)
		bail("malloc");
	e->n = n;
	for (int i = 0; i < n; i++) {
		e->type[i] = type != 0 ? type : (int32_t)(th_rand() % 1000) +
		    1;
		e->size[i] = i == 0 ? 0 : i == 1 ? max_size :
		    th_rand() % (max_size + 1);
		e->seed[i] = th_rand();
	}
	return e;
}

long long
th_cecho_bytes(const struct th_cecho *e)
{
	long long total = 0;

	for (int i = 0; i < e->n; i++)
		total += (long long)e->size[i];
	return total;
}

static void
send_next(struct th_cecho *e)
{
	int i = e->sent;

	th_fill(e->scratch, e->size[i], e->seed[i]);
	if (tao_client_send(e->c, e->type[i], e->scratch, e->size[i]) != 0)
		e->send_errors++;
	e->sent++;
}

static void
on_reply(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct th_cecho *e = arg;
	int i = e->got++;

	if (i >= e->sent || m->type != e->type[i] || m->len != e->size[i])
		e->bad++;
	else {
		th_fill(e->scratch, m->len, e->seed[i]);
		if (m->len > 0 && memcmp(e->scratch, m->data, m->len) != 0)
			e->bad++;
	}
	if (e->sent < e->n)
		send_next(e);
	if (e->got == e->n)
		tao_loop_stop(tao_client_loop(c));
}

static void
on_connect(struct tao_client *c, void *arg)
{
	(void)c;
	((struct th_cecho *)arg)->connects++;
}

void
th_cecho_attach(struct th_cecho *e, struct tao_client *c)
{
	e->c = c;
	tao_client_on_message(c, on_reply, e);
	tao_client_on_connect(c, on_connect, e);
}

void
th_cecho_send(struct th_cecho *e, int k)
{
	for (int i = 0; i < k && e->sent < e->n; i++)
		send_next(e);
}

void
th_cecho_free(struct th_cecho *e)
{
	if (e == NULL)
		return;
	free(e->type);
	free(e->size);
	free(e->seed);
	free(e->scratch);
	free(e);
}
