/*
 * codec-check.c - decode a fuzzed stream three ways and insist they agree.
 *
 * Input layout:
 *
 *	+-------+-----+----------------------------+
 *	| knobs | cut | stream ...                 |
 *	+-------+-----+----------------------------+
 *	knobs bits 0-2: max_frame, one of max_frames[] below
 *	knobs bits 3-7: read size of pass 3, 1..32 bytes
 *	cut:            pass 2 splits the stream at cut/255 of its length
 *
 * Pass 1 decodes the stream in one piece, pass 2 in two, pass 3 in small
 * reads, each as a worker does: append the new bytes to what is left
 * unconsumed, decode until AGAIN, drop the consumed bytes, keep the state.
 * The bytes past what a decode call may read are poisoned, so ASan catches
 * a codec that peeks beyond its input.  Every call must honour tao.h's
 * contract and the codec's own check; the passes must yield the same frames
 * and end the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include "fuzz/codec-check.h"
#include "proto/codec.h"

#define MAX_STREAM	65536

static const size_t max_frames[8] = {
	0, 1, 5, 8, 64, 255, 4096, TAO_MAX_FRAME_DEFAULT,
};

struct seen {
	int32_t		 type;
	size_t		 off;		/* payload offset in the stream */
	size_t		 len;
	size_t		 used;
};

struct pass {
	struct seen	 frames[MAX_STREAM + 1];
	size_t		 nframes;
	size_t		 consumed;	/* stream bytes the frames span */
	int		 end;		/* TAO_DECODE_AGAIN or _ERROR */
};

static struct pass	 passes[3];

void
codec_check_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
	abort();
}

/* What every codec owes its caller, whatever its format. */
static void
check_contract(const struct tao_codec *c, const uint8_t *buf, size_t len,
    size_t max_frame, int r, const struct tao_frame *f, size_t used)
{
	uint8_t head[TAO_CODEC_MAX_HEAD], tail[TAO_CODEC_MAX_TAIL];
	size_t hl = 0, tl = 0;

	CHECK(r == TAO_DECODE_OK || r == TAO_DECODE_AGAIN ||
	    r == TAO_DECODE_ERROR);
	if (r == TAO_DECODE_AGAIN)
		CHECK(used == 0 || used > len);
	if (r != TAO_DECODE_OK)
		return;

	CHECK(used > 0 && used <= len);
	CHECK(f->len <= max_frame);
	CHECK(f->payload >= buf && f->len <= used &&
	    (size_t)(f->payload - buf) <= used - f->len);

	/* Re-encoding gives back the bytes the frame came from; a codec may
	 * have normalised them, which its own check judges. */
	c->encode(f->type, f->len, head, &hl, tail, &tl);
	CHECK(hl <= TAO_CODEC_MAX_HEAD && tl <= TAO_CODEC_MAX_TAIL);
	CHECK(hl + f->len + tl <= used);
	CHECK(memcmp(buf, head, hl) == 0);
	CHECK(f->payload == buf + hl);
	CHECK(memcmp(buf + used - tl, tail, tl) == 0);
}

/*
 * Feed stream[0..n) in pieces ending at cuts[] (the last one is n).  Only
 * rb[0..have) is addressable at any time: bytes are unpoisoned as they are
 * appended and poisoned again as consumed bytes are shifted out, so a
 * codec that reads past its input trips ASan, at O(n) cost per pass.
 */
static void
decode_pass(const struct codec_check *cc, const uint8_t *stream, size_t n,
    size_t max_frame, const size_t *cuts, size_t ncuts, int deep,
    struct pass *p)
{
	struct tao_frame f;
	uint64_t state = 0;
	size_t have = 0, from = 0, used, i;
	uint8_t one, *rb;
	int r = TAO_DECODE_AGAIN;

	/* Exactly n bytes, so ASan also knows where the allocation ends. */
	rb = n > 0 ? malloc(n) : &one;
	CHECK(rb != NULL);
	ASAN_POISON_MEMORY_REGION(rb, n);
	p->nframes = p->consumed = 0;
	for (i = 0; i < ncuts && r != TAO_DECODE_ERROR; from = cuts[i++]) {
		ASAN_UNPOISON_MEMORY_REGION(rb + have, cuts[i] - from);
		memcpy(rb + have, stream + from, cuts[i] - from);
		have += cuts[i] - from;
		for (;;) {
			r = cc->codec->decode(rb, have, max_frame, &state, &f,
			    &used);
			check_contract(cc->codec, rb, have, max_frame, r, &f,
			    used);
			cc->check(rb, have, max_frame, r, &f, used, state,
			    deep);
			if (r != TAO_DECODE_OK)
				break;
			CHECK(p->nframes <= MAX_STREAM);
			p->frames[p->nframes].type = f.type;
			p->frames[p->nframes].off = p->consumed +
			    (size_t)(f.payload - rb);
			p->frames[p->nframes].len = f.len;
			p->frames[p->nframes++].used = used;
			CHECK(memcmp(f.payload, stream + p->consumed +
			    (size_t)(f.payload - rb), f.len) == 0);
			memmove(rb, rb + used, have - used);
			ASAN_POISON_MEMORY_REGION(rb + have - used, used);
			have -= used;
			p->consumed += used;
		}
	}
	p->end = r;
	if (r == TAO_DECODE_AGAIN)
		CHECK(p->consumed + have == n);
	ASAN_UNPOISON_MEMORY_REGION(rb, n);
	if (n > 0)
		free(rb);
}

static void
same_pass(const struct pass *a, const struct pass *b)
{
	size_t i;

	CHECK(a->end == b->end);
	CHECK(a->nframes == b->nframes);
	CHECK(a->consumed == b->consumed);
	for (i = 0; i < a->nframes; i++) {
		CHECK(a->frames[i].type == b->frames[i].type);
		CHECK(a->frames[i].off == b->frames[i].off);
		CHECK(a->frames[i].len == b->frames[i].len);
		CHECK(a->frames[i].used == b->frames[i].used);
	}
}

int
codec_check_run(const struct codec_check *cc, const uint8_t *data,
    size_t size)
{
	static size_t cuts[MAX_STREAM + 1];
	const uint8_t *stream = data + 2;
	size_t n, max_frame, step, ncuts, at;

	if (size < 2 || size - 2 > MAX_STREAM)
		return 0;
	n = size - 2;
	max_frame = max_frames[data[0] & 7];
	step = (size_t)(data[0] >> 3) + 1;

	cuts[0] = n;
	decode_pass(cc, stream, n, max_frame, cuts, 1, 1, &passes[0]);

	cuts[0] = n * data[1] / 255;
	cuts[1] = n;
	decode_pass(cc, stream, n, max_frame, cuts, 2, 1, &passes[1]);
	same_pass(&passes[0], &passes[1]);

	for (ncuts = 0, at = step; at < n; at += step)
		cuts[ncuts++] = at;
	cuts[ncuts++] = n;
	decode_pass(cc, stream, n, max_frame, cuts, ncuts, 0, &passes[2]);
	same_pass(&passes[0], &passes[2]);
	return 0;
}
