/*
 * cluster.c - cluster test helpers (tests/lib/cluster.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

struct th_daemon *
th_cluster_node(const struct th_redis *r, int node_id, int workers,
    const char *extra, int up)
{
	char conf[2048];
	struct th_daemon *d;

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\n"
	    "listen 127.0.0.1:0 line\napp chat notices\nworkers %d\n"
	    "cluster %s\nnode_id %d\n%s", workers, th_redis_url(r), node_id,
	    extra != NULL ? extra : "");
	if ((d = th_daemon_start(conf)) == NULL)
		return NULL;
	if (up && th_cluster_wait_state(d, "up", th_ms(5000)) == -1) {
		diag("node %d: cluster link not up", node_id);
		th_daemon_dump_log(d);
		return NULL;
	}
	return d;
}

static int
welcome(struct th_client *c)
{
	struct th_frame fr;
	char text[64];
	unsigned long long id;
	int w;

	if (th_client_expect(c, 3, &fr, th_ms(5000)) != 1 ||
	    fr.len >= sizeof(text))
		return -1;
	memcpy(text, fr.data, fr.len);
	text[fr.len] = '\0';
	if (sscanf(text, "netid=%llu worker=%d", &id, &w) != 2)
		return -1;
	c->netid = id;
	return 0;
}

int
th_fan_open(struct th_fan *f, struct th_daemon **nodes, int nnodes, int n,
    int nsenders)
{
	memset(f, 0, sizeof(*f));
	if (nsenders > TH_FAN_MAX_SENDERS || nsenders > n ||
	    (f->c = calloc((size_t)n, sizeof(*f->c))) == NULL ||
	    (f->t = calloc((size_t)n, sizeof(*f->t))) == NULL)
		return -1;
	f->n = n;
	f->nsenders = nsenders;
	for (int i = 0; i < n; i++) {
		f->c[i].fd = -1;
		if (th_client_open(&f->c[i], nodes[i % nnodes]->port[0]) ==
		    -1 || welcome(&f->c[i]) == -1) {
			diag("client %d on node index %d: no welcome", i,
			    i % nnodes);
			return -1;
		}
		f->c[i].tag = i % nnodes;	/* open clears it */
	}
	for (int s = 0; s < nsenders; s++)
		f->sender[s] = s * (n / nsenders) + s % nnodes;
	for (int s = 0; s < nsenders; s++)
		if (f->sender[s] >= n)
			f->sender[s] = s;
	return 0;
}

void
th_fan_close(struct th_fan *f)
{
	for (int i = 0; f->c != NULL && i < f->n; i++)
		th_client_close(&f->c[i]);
	free(f->c);
	free(f->t);
	f->c = NULL;
	f->t = NULL;
}

int
th_fan_send(struct th_fan *f, int s, int k)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d/%d", s, k);

	return th_client_send(&f->c[f->sender[s]], 1, text, (size_t)n);
}

static void
account(const struct th_fan *f, struct th_tally *t, const struct th_frame *fr)
{
	char text[32];
	int s, k;

	if (fr->type == 4)
		return;		/* presence */
	size_t n;

	if (fr->type != 1 || fr->len < 8) {
		t->unexpected++;
		return;
	}
	/* "s/k", possibly followed by filler */
	n = fr->len - 8 < sizeof(text) - 1 ? fr->len - 8 : sizeof(text) - 1;
	memcpy(text, fr->data + 8, n);
	text[n] = '\0';
	if (sscanf(text, "%d/%d", &s, &k) != 2 || s < 0 || s >= f->nsenders ||
	    k < 0 || k >= TH_FAN_MAX_MSGS) {
		t->unexpected++;
		return;
	}
	if (th_get_le64(fr->data) != f->c[f->sender[s]].netid)
		t->foreign++;
	if (k < t->next[s]) {
		t->dups++;
		return;
	}
	if (k > t->next[s]) {
		t->reorders++;
		t->missed[s] += k - t->next[s];
	}
	t->next[s] = k + 1;
	t->got++;
}

long
th_fan_drain(struct th_fan *f, int timeout_ms)
{
	struct th_frame fr;
	long total = 0;

	(void)th_clients_poll(f->c, f->n, timeout_ms);
	for (int i = 0; i < f->n; i++) {
		while (th_client_frame(&f->c[i], &fr))
			account(f, &f->t[i], &fr);
		total += f->t[i].got;
	}
	return total;
}

long
th_fan_wait(struct th_fan *f, long want, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;
	long total = th_fan_drain(f, 0);

	while (total < want * f->n && th_now_ms() < deadline)
		total = th_fan_drain(f, 50);
	return total;
}

long
th_fan_sum(const struct th_fan *f, int node, const char *what)
{
	long sum = 0;

	for (int i = 0; i < f->n; i++) {
		const struct th_tally *t = &f->t[i];
		if (node >= 0 && f->c[i].tag != node)
			continue;
		if (strcmp(what, "got") == 0)
			sum += t->got;
		else if (strcmp(what, "dups") == 0)
			sum += t->dups;
		else if (strcmp(what, "reorders") == 0)
			sum += t->reorders;
		else if (strcmp(what, "foreign") == 0)
			sum += t->foreign;
		else if (strcmp(what, "unexpected") == 0)
			sum += t->unexpected;
		else if (strcmp(what, "missed") == 0)
			for (int s = 0; s < f->nsenders; s++)
				sum += t->missed[s];
	}
	return sum;
}
