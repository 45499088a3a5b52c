/*
 * t290-netmap.c - the worker's netid -> connection map (worker/netmap.c)
 * against a plain array, through growth and backward-shift deletions.
 *
 * The map keeps only connection pointers and reads the key through them
 * (c_netid), so a wrong shift or a lost slot shows up as a lookup that
 * finds nothing or the wrong connection.  Netids are chosen to collide:
 * many share low bits, the way netids of one islot and consecutive rows
 * do.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
#include "worker/conn.h"
#include "worker/netmap.h"

#define N	5000

static struct tao_conn	conns[N];
static int		in_map[N];

/* Every connection found where it should be, nothing where it is not. */
static int
consistent(const struct tao_netmap *m, size_t *count)
{
	size_t n = 0;

	for (int i = 0; i < N; i++) {
		struct tao_conn *c = tao__netmap_get(m, conns[i].c_netid);

		if (in_map[i] ? c != &conns[i] : c != NULL) {
			diag("netid %llu: got %p, want %p",
			    (unsigned long long)conns[i].c_netid, (void *)c,
			    in_map[i] ? (void *)&conns[i] : NULL);
			return 0;
		}
		n += in_map[i] != 0;
	}
	*count = n;
	return m->nm_count == n;
}

int
main(void)
{
	struct tao_netmap m = { 0 };
	unsigned seed = 17;
	size_t count;
	int i, k, bad = 0;

	plan(7);
	for (i = 0; i < N; i++)
		conns[i].c_netid = ((uint64_t)(i % 7) << 40) | (uint64_t)(i + 1);
	for (i = 0; i < N; i++) {
		if (tao__netmap_put(&m, conns[i].c_netid, &conns[i]) == -1)
			bad++;
		in_map[i] = 1;
	}
	ok(bad == 0, "%d puts", N);
	ok(consistent(&m, &count) && count == N, "all found");
	ok(m.nm_count * 4 <= m.nm_cap * 3, "at most 3/4 full (%zu of %zu)",
	    m.nm_count, m.nm_cap);
	ok(tao__netmap_get(&m, 0) == NULL &&
	    tao__netmap_get(&m, UINT64_C(1) << 60) == NULL,
	    "absent netids not found");
	/* Random deletions and re-insertions, checked as they go. */
	for (k = 0; k < 20000 && !bad; k++) {
		i = (int)(rand_r(&seed) % N);
		if (in_map[i])
			tao__netmap_del(&m, conns[i].c_netid);
		else if (tao__netmap_put(&m, conns[i].c_netid, &conns[i]) == -1)
			bad++;
		in_map[i] = !in_map[i];
		if (k % 1000 == 0 && !consistent(&m, &count))
			bad++;
	}
	ok(bad == 0 && consistent(&m, &count), "20000 random deletions and "
	    "insertions (%zu left)", count);
	tao__netmap_del(&m, UINT64_C(1) << 60);	/* absent: no effect */
	ok(consistent(&m, &count), "deleting an absent netid changes nothing");
	for (i = 0; i < N; i++)
		if (in_map[i]) {
			tao__netmap_del(&m, conns[i].c_netid);
			in_map[i] = 0;
		}
	ok(consistent(&m, &count) && count == 0 && m.nm_count == 0,
	    "empty after deleting all");
	tao__netmap_free(&m);
	return done_testing();
}
