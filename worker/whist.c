/*
 * whist.c - the worker's side of the histograms (contract in whist.h).
 */
#include "worker/whist.h"
#include "shm/segment.h"

static void
publish(struct tao_hist_block *b, const struct tao_handler *h)
{
	struct tao_hist *s;

	if (!h->h_used || h->h_seq >= TAO_HIST_TYPES)
		return;
	s = &b->hb_handler[h->h_seq];
	atomic_store_explicit(&s->hi_type, h->h_type, memory_order_relaxed);
	atomic_store_explicit(&s->hi_used, 1, memory_order_release);
}

void
tao__whist_start(struct tao_worker *w)
{
	const struct tao_registry *r = w->w_p.wp_registry;

	w->w_hist = tao__shm_hist(w->w_p.wp_shm, (unsigned)w->w_p.wp_islot);
	for (size_t i = 0; i < TAO_REGISTRY_DIRECT; i++)
		publish(w->w_hist, &r->r_direct[i]);
	for (size_t i = 0; i < r->r_nsorted; i++)
		publish(w->w_hist, &r->r_sorted[i]);
}
