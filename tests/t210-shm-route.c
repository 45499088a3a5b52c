/*
 * t210-shm-route - the pieces unicast routing and ring walks stand on:
 * the netid names its birth islot and row (and find_netid answers from
 * that row, not from a scan), the next row insert will use is known in
 * advance, a cursor told its islot skips other consumers' unicasts
 * without copying them and still counts drops exactly, and the live
 * bitmap follows assign and reclaim (wake-ups look at live islots only).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "shm/ring.h"
#include "shm/segment.h"
#include "shm/table.h"
#include "tap.h"

static struct tao_shm *
make_shm(unsigned nislots, unsigned conns, size_t ring)
{
	struct tao_shm_params p = { nislots, conns, ring };
	struct tao_shm *shm = tao__shm_create(&p);

	if (shm == NULL)
		bail("tao__shm_create");
	return shm;
}

static void
test_netid_layout(void)
{
	struct tao_shm *shm = make_shm(12, 10000, 4096);
	uint64_t a, b;
	unsigned islot = 99, row = 99;

	a = tao__shm_netid_make(shm, 5, 1234);
	b = tao__shm_netid_make(shm, 5, 1234);
	ok(a != 0 && b != 0 && a != b, "netids never 0, never repeated");
	ok(tao__shm_netid_home(shm, a, &islot, &row) == 0 && islot == 5 &&
	    row == 1234, "a netid names its birth islot and row");
	ok(tao__shm_netid_home(shm, tao__shm_netid_make(shm, 11, 9999),
	    &islot, &row) == 0 && islot == 11 && row == 9999,
	    "the largest islot and row fit");
	ok(tao__shm_netid_home(shm, tao__shm_netid_make(shm, 3, 10000),
	    &islot, &row) == -1, "a netid born without a row has no home");
	ok(tao__shm_netid_home(shm, 0, &islot, &row) == -1 &&
	    tao__shm_netid_home(shm, 77, &islot, &row) == -1,
	    "0 and a bare small number are no netids");
	tao__shm_destroy(shm);
}

static int
insert(struct tao_shm *shm, unsigned islot, uint64_t netid)
{
	struct tao_conn_row r;

	memset(&r, 0, sizeof(r));
	r.cr_netid = netid;
	return tao__table_insert(shm, islot, &r);
}

static void
test_find_by_home(void)
{
	struct tao_shm *shm = make_shm(4, 16, 4096);
	unsigned islot = 99, row = 99;
	uint64_t netid;
	int next, got, same = 1;

	for (int i = 0; i < 5; i++)
		(void)insert(shm, 3, 1000 + (uint64_t)i);
	tao__table_remove(shm, 3, 1);
	tao__table_remove(shm, 3, 3);
	for (int i = 0; i < 4; i++) {
		next = tao__table_next_free(shm, 3);
		got = insert(shm, 3, 2000 + (uint64_t)i);
		same &= next == got;
	}
	ok(same, "next_free says which row the next insert takes (free "
	    "list, then new rows)");

	next = tao__table_next_free(shm, 3);
	netid = tao__shm_netid_make(shm, 3, (unsigned)next);
	/* A stale copy of the netid earlier in scan order (islot 0): a
	 * scan would stop there, the netid's own row answers first. */
	(void)insert(shm, 0, netid);
	is_int(insert(shm, 3, netid), next, "inserted at its home row");
	ok(tao__table_find_netid(shm, netid, &islot, &row) == 0 &&
	    islot == 3 && row == (unsigned)next,
	    "find_netid answers from the row the netid names");
	tao__table_remove(shm, 3, (unsigned)next);
	ok(tao__table_find_netid(shm, netid, &islot, &row) == 0 &&
	    islot == 0, "a netid not at home (handed over) is still found");
	tao__table_remove(shm, 0, row);
	ok(tao__table_find_netid(shm, netid, &islot, &row) == -1,
	    "a closed netid is not");
	tao__shm_destroy(shm);
}

struct seen {
	int	n;
	char	what[8][8];
};

static int
collect(void *arg, const struct tao_ring_rec_hdr *h, const void *payload)
{
	struct seen *s = arg;

	if (s->n < 8) {
		memcpy(s->what[s->n], payload, h->rh_payload_len < 7 ?
		    h->rh_payload_len : 7);
		s->what[s->n][7] = '\0';
	}
	s->n++;
	return 0;
}

static void
pub(struct tao_shm *shm, int kind, unsigned dst, const char *text)
{
	struct tao_ring_rec_hdr h;

	memset(&h, 0, sizeof(h));
	h.rh_kind = (uint16_t)kind;
	h.rh_dst_islot = (uint16_t)dst;
	h.rh_dst_netid = 1;
	if (tao__ring_publish(shm, 1, &h, text, strlen(text) + 1, NULL) == -1)
		bail("publish");
}

static void
test_unicast_skip(void)
{
	struct tao_shm *shm = make_shm(4, 16, 4096);
	struct tao_ring_cursor c2, c3, all;
	struct seen s2 = { 0 }, s3 = { 0 }, sa = { 0 };

	tao__ring_cursor_init(shm, 1, &c2);
	tao__ring_cursor_init(shm, 1, &c3);
	tao__ring_cursor_init(shm, 1, &all);
	tao__ring_cursor_set_self(&c2, 2);
	tao__ring_cursor_set_self(&c3, 3);
	pub(shm, TAO_RING_UNICAST, 2, "to2");
	pub(shm, TAO_RING_UNICAST, 3, "to3");
	pub(shm, TAO_RING_BROADCAST, TAO_RING_ANY_ISLOT, "all");
	pub(shm, TAO_RING_UNICAST, 3, "to3b");
	pub(shm, TAO_RING_BROADCAST, TAO_RING_ANY_ISLOT, "all2");
	is_int(tao__ring_consume(shm, 1, &c2, collect, &s2, 100), 3,
	    "consumer 2 gets 3 records");
	ok(strcmp(s2.what[0], "to2") == 0 && strcmp(s2.what[1], "all") == 0 &&
	    strcmp(s2.what[2], "all2") == 0,
	    "its unicast and the broadcasts, in order");
	is_int(tao__ring_consume(shm, 1, &c3, collect, &s3, 100), 4,
	    "consumer 3 gets its two unicasts and the broadcasts");
	is_int(tao__ring_consume(shm, 1, &all, collect, &sa, 100), 5,
	    "a cursor with no islot gets everything");
	ok(c2.rc_drops == 0 && c3.rc_drops == 0 && c2.rc_pos == all.rc_pos,
	    "skipped records are no drops; cursors end at the head");
	pub(shm, TAO_RING_UNICAST, 3, "to3c");
	pub(shm, TAO_RING_BROADCAST, TAO_RING_ANY_ISLOT, "all3");
	s2.n = 0;
	ok(tao__ring_consume(shm, 1, &c2, collect, &s2, 100) == 1 &&
	    c2.rc_drops == 0, "sequence numbers of skipped records were "
	    "accounted: the next one is no gap");
	tao__shm_destroy(shm);
}

static void
test_live_bitmap(void)
{
	struct tao_shm *shm = make_shm(70, 4, 4096);
	struct tao_ring_wake w;
	int any = 0;

	for (unsigned i = 0; i < 70; i++)
		any |= tao__shm_islot_live(shm, i);
	ok(!any, "a fresh segment has no live islot");
	tao__shm_islot_assign(shm, 2, 100, 0, 1);
	tao__shm_islot_assign(shm, 66, 101, 1, 1);
	ok(tao__shm_islot_live(shm, 2) && tao__shm_islot_live(shm, 66) &&
	    !tao__shm_islot_live(shm, 3) && !tao__shm_islot_live(shm, 65),
	    "assign sets the islot's bit (both words)");
	ok(tao__shm_live_word(shm, 0) == (UINT64_C(1) << 2) &&
	    tao__shm_live_word(shm, 1) == (UINT64_C(1) << 2),
	    "and only that bit");
	tao__ring_sleep_begin(shm, 2);
	tao__ring_sleep_begin(shm, 5);		/* not live: never looked at */
	tao__ring_sleep_begin(shm, 66);
	tao__ring_wake_clear(&w);
	tao__ring_wake_collect(shm, 0, &w);
	ok(tao__ring_wake_next(&w, 0) == 2 && tao__ring_wake_next(&w, 3) ==
	    66 && tao__ring_wake_next(&w, 67) == -1,
	    "wake-ups consider live islots only");
	tao__ring_sleep_begin(shm, 2);
	tao__ring_sleep_begin(shm, 66);
	{
		struct tao_ring_wake want, got;

		tao__ring_wake_clear(&want);
		tao__ring_wake_clear(&got);
		want.rw_bits[1] = UINT64_C(1) << 2;	/* 66 */
		tao__ring_wake_collect_set(shm, 0, &want, &got);
		ok(tao__ring_wake_next(&got, 0) == 66 &&
		    tao__ring_wake_next(&got, 67) == -1,
		    "a unicast wakes its destination only");
	}
	tao__shm_islot_reclaim(shm, 2);
	ok(!tao__shm_islot_live(shm, 2) && tao__shm_islot_live(shm, 66),
	    "reclaim clears the bit of that islot only");
	tao__shm_islot_reclaim(shm, 66);
	ok(tao__shm_live_word(shm, 0) == 0 && tao__shm_live_word(shm, 1) == 0,
	    "all clear again");
	tao__shm_destroy(shm);
}

int
main(void)
{
	plan(0);
	test_netid_layout();
	test_find_by_home();
	test_unicast_skip();
	test_live_bitmap();
	return done_testing();
}
