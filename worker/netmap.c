/*
 * netmap.c - netid -> connection hash (see netmap.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "worker/conn.h"
#include "worker/netmap.h"

#define KEY(c)	((c)->c_netid)

static size_t
slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= UINT64_C(0xff51afd7ed558ccd);	/* murmur3 finaliser */
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

static int
grow(struct tao_netmap *m)
{
	size_t cap = m->nm_cap ? m->nm_cap * 2 : 64;
	struct tao_conn **vals = calloc(cap, sizeof(*vals));

	if (vals == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < m->nm_cap; i++) {
		if (m->nm_vals[i] == NULL)
			continue;
		size_t j = slot_of(KEY(m->nm_vals[i]), cap);
		while (vals[j] != NULL)
			j = (j + 1) & (cap - 1);
		vals[j] = m->nm_vals[i];
	}
	free(m->nm_vals);
	m->nm_vals = vals;
	m->nm_cap = cap;
	return 0;
}

int
tao__netmap_put(struct tao_netmap *m, uint64_t netid, struct tao_conn *c)
{
	size_t i;

	if (netid != KEY(c)) {
		errno = EINVAL;
		return -1;
	}
	if ((m->nm_count + 1) * 4 > m->nm_cap * 3 && grow(m) == -1)
		return -1;
	i = slot_of(netid, m->nm_cap);
	while (m->nm_vals[i] != NULL && KEY(m->nm_vals[i]) != netid)
		i = (i + 1) & (m->nm_cap - 1);
	if (m->nm_vals[i] == NULL)
		m->nm_count++;
	m->nm_vals[i] = c;
	return 0;
}

struct tao_conn *
tao__netmap_get(const struct tao_netmap *m, uint64_t netid)
{
	size_t i;

	if (m->nm_cap == 0 || netid == 0)
		return NULL;
	for (i = slot_of(netid, m->nm_cap); m->nm_vals[i] != NULL;
	    i = (i + 1) & (m->nm_cap - 1))
		if (KEY(m->nm_vals[i]) == netid)
			return m->nm_vals[i];
	return NULL;
}

void
tao__netmap_del(struct tao_netmap *m, uint64_t netid)
{
	size_t i, j, home, mask = m->nm_cap - 1;

	if (m->nm_cap == 0)
		return;
	for (i = slot_of(netid, m->nm_cap);; i = (i + 1) & mask) {
		if (m->nm_vals[i] == NULL)
			return;
		if (KEY(m->nm_vals[i]) == netid)
			break;
	}
	/* Backward shift: pull later entries of the cluster into the hole
	 * when their home slot does not lie between the hole and them. */
	for (j = i;;) {
		m->nm_vals[i] = NULL;
		for (;;) {
			j = (j + 1) & mask;
			if (m->nm_vals[j] == NULL) {
				m->nm_count--;
				return;
			}
			home = slot_of(KEY(m->nm_vals[j]), m->nm_cap);
			if (i <= j ? (home <= i || home > j) :
			    (home <= i && home > j))
				break;
		}
		m->nm_vals[i] = m->nm_vals[j];
		i = j;
	}
}

void
tao__netmap_free(struct tao_netmap *m)
{
	free(m->nm_vals);
	m->nm_vals = NULL;
	m->nm_cap = m->nm_count = 0;
}
