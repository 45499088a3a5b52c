/*
 * t010-proto-tlv - the TLV codec: Go Tao's byte layout, decoding across every
 * way a stream can be cut into reads, frame size limits, garbage.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tao.h"
#include "proto/codec.h"
#include "tap.h"

#define SMALL_MAX	4096
#define MAX_FRAMES	64
#define MAX_CUTS	64

struct want {
	int32_t		 type;
	size_t		 len;
	uint8_t		 fill;		/* payload[i] = fill + i */
};

/* The frames of the stream used by the split tests. */
static const struct want frames[] = {
	{ 1,		5,		'a' },
	{ TAO_TYPE_HEARTBEAT, 0,	0 },
	{ -7,		1,		'x' },
	{ INT32_MIN,	3000,		0x80 },
	{ INT32_MAX,	0,		0 },
	{ 42,		SMALL_MAX,	0 },	/* exactly max_frame */
	{ 2,		2,		0xfe },
};
#define NFRAMES		(sizeof(frames) / sizeof(frames[0]))
/* After the frames: the first bytes of one more, which stay unconsumed. */
#define TRAILER		11

struct got {
	int32_t		 type;
	size_t		 off;		/* payload offset in the stream */
	size_t		 len;
};

static uint8_t	*stream;
static size_t	 stream_len;
static char	 why[256];

static uint64_t	 rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t
append(uint8_t *p, int32_t type, size_t len, uint8_t fill)
{
	uint8_t tail[TAO_CODEC_MAX_TAIL];
	size_t hl, tl, i;

	tao_codec_tlv.encode(type, len, p, &hl, tail, &tl);
	for (i = 0; i < len; i++)
		p[hl + i] = (uint8_t)(fill + i);
	return hl + len + tl;
}

static void
build_stream(void)
{
	size_t i, cap = TRAILER;

	for (i = 0; i < NFRAMES; i++)
		cap += TAO_TLV_HEADER_LEN + frames[i].len;
	if ((stream = malloc(cap)) == NULL)
		bail("malloc");
	for (i = 0; i < NFRAMES; i++)
		stream_len += append(stream + stream_len, frames[i].type,
		    frames[i].len, frames[i].fill);
	/* A header announcing 100 bytes, and 3 of them. */
	append(stream + stream_len, 9, 0, 0);
	stream[stream_len + 4] = 100;
	memset(stream + stream_len + 8, 'z', 3);
	stream_len += TRAILER;
}

/*
 * Feed stream[0..n) to the codec in pieces ending at cuts[] (the last cut
 * is n), as a worker does: append each piece to the unconsumed rest, decode
 * until AGAIN, drop what was consumed.  Returns the number of frames put in
 * got[], -1 on a decode error, -2 when the codec breaks its contract (why[]
 * says how).  *rest is what stayed unconsumed.
 */
static int
feed(const uint8_t *s, size_t max_frame, const size_t *cuts, size_t ncuts,
    struct got *got, size_t *rest)
{
	struct tao_frame f;
	uint64_t state = 0;
	size_t have = 0, consumed = 0, from = 0, used, i;
	uint8_t *rb;
	int n = 0, r;

	if ((rb = malloc(cuts[ncuts - 1] + 1)) == NULL)
		bail("malloc");
	for (i = 0; i < ncuts; from = cuts[i++]) {
		memcpy(rb + have, s + from, cuts[i] - from);
		have += cuts[i] - from;
		while ((r = tao_codec_tlv.decode(rb, have, max_frame, &state,
		    &f, &used)) == TAO_DECODE_FRAME) {
			if (used > have || used != TAO_TLV_HEADER_LEN + f.len ||
			    f.payload != rb + TAO_TLV_HEADER_LEN) {
				snprintf(why, sizeof(why), "bad frame: used %zu"
				    " have %zu len %zu", used, have, f.len);
				n = -2;
				goto out;
			}
			if (n == MAX_FRAMES)
				bail("too many frames");
			got[n].type = f.type;
			got[n].off = consumed + TAO_TLV_HEADER_LEN;
			got[n++].len = f.len;
			memmove(rb, rb + used, have - used);
			have -= used;
			consumed += used;
		}
		if (r == TAO_DECODE_ERROR) {
			n = -1;
			goto out;
		}
		if (used != 0 && (used <= have || (have >= TAO_TLV_HEADER_LEN &&
		    used != TAO_TLV_HEADER_LEN + (rb[4] | rb[5] << 8 |
		    rb[6] << 16 | (size_t)rb[7] << 24)))) {
			snprintf(why, sizeof(why), "AGAIN with used %zu, "
			    "have %zu", used, have);
			n = -2;
			goto out;
		}
	}
	*rest = have;
out:
	free(rb);
	return n;
}

/* 0 if got[] is exactly frames[] and the trailer stayed; else why[] says. */
static int
check(int n, const struct got *got, size_t rest)
{
	size_t i, j;

	if (n == -1)
		snprintf(why, sizeof(why), "decode error");
	if (n < 0)
		return -1;
	if ((size_t)n != NFRAMES || rest != TRAILER) {
		snprintf(why, sizeof(why), "%d frames, %zu left over", n, rest);
		return -1;
	}
	for (i = 0; i < NFRAMES; i++) {
		if (got[i].type != frames[i].type ||
		    got[i].len != frames[i].len) {
			snprintf(why, sizeof(why), "frame %zu: type %d len %zu",
			    i, got[i].type, got[i].len);
			return -1;
		}
		for (j = 0; j < got[i].len; j++)
			if (stream[got[i].off + j] !=
			    (uint8_t)(frames[i].fill + j)) {
				snprintf(why, sizeof(why), "frame %zu byte %zu",
				    i, j);
				return -1;
			}
	}
	return 0;
}

/* Decode the stream cut at cuts[]: 0 if it gives the expected frames. */
static int
run(const size_t *cuts, size_t ncuts)
{
	struct got got[MAX_FRAMES];
	size_t rest = 0;
	int n;

	n = feed(stream, SMALL_MAX, cuts, ncuts, got, &rest);
	return check(n, got, rest);
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_splits(void)
{
	size_t cuts[MAX_CUTS], k, bad, i, n;
	size_t *bytewise;

	cuts[0] = stream_len;
	if (!ok(run(cuts, 1) == 0, "the whole stream decodes to %zu frames",
	    NFRAMES))
		diag("%s", why);

	for (bad = 0, k = 0; k <= stream_len; k++) {
		cuts[0] = k;
		cuts[1] = stream_len;
		if (run(cuts, 2) != 0 && bad++ == 0)
			diag("split at %zu: %s", k, why);
	}
	ok(bad == 0, "every one of %zu two-piece splits decodes the same",
	    stream_len + 1);

	if ((bytewise = malloc(stream_len * sizeof(*bytewise))) == NULL)
		bail("malloc");
	for (k = 0; k < stream_len; k++)
		bytewise[k] = k + 1;
	if (!ok(run(bytewise, stream_len) == 0,
	    "one byte per read decodes the same"))
		diag("%s", why);
	free(bytewise);

	for (bad = 0, k = 0; k < 300; k++) {
		n = 1 + rnd() % (MAX_CUTS - 1);
		for (i = 0; i < n - 1; i++)
			cuts[i] = rnd() % (stream_len + 1);
		cuts[n - 1] = stream_len;
		qsort(cuts, n, sizeof(cuts[0]), cmp_size);
		if (run(cuts, n) != 0 && bad++ == 0)
			diag("random split %zu (%zu pieces): %s", k, n, why);
	}
	ok(bad == 0, "300 random multi-piece splits decode the same");
}

static int
decode(const uint8_t *buf, size_t len, size_t max_frame,
    struct tao_frame *f, size_t *used)
{
	uint64_t state = 0;

	memset(f, 0xa5, sizeof(*f));
	*used = 12345;
	return tao_codec_tlv.decode(buf, len, max_frame, &state, f, used);
}

static int
untouched(const struct tao_frame *f)
{
	struct tao_frame sentinel;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	return memcmp(f, &sentinel, sizeof(sentinel)) == 0;
}

static void
test_layout(void)
{
	static const uint8_t hello[] = { 0x01, 0, 0, 0, 0x05, 0, 0, 0,
	    'h', 'e', 'l', 'l', 'o' };
	static const uint8_t neg[] = { 0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	static const uint8_t zero[8];
	uint8_t buf[32];
	struct tao_frame f;
	size_t hl = 99, tl = 99, used;

	tao_codec_tlv.encode(1, 5, buf, &hl, buf + 16, &tl);
	is_int(hl, 8, "encode: 8 header bytes");
	is_int(tl, 0, "encode: no trailer");
	memcpy(buf + 8, "hello", 5);
	is_blob(buf, hl + 5, hello, sizeof(hello),
	    "type 1 \"hello\" is 01 00 00 00 05 00 00 00 h e l l o");

	is_int(decode(hello, sizeof(hello), SMALL_MAX, &f, &used),
	    TAO_DECODE_FRAME, "decode the literal bytes");
	ok(f.type == 1 && f.len == 5 && used == 13, "type 1, 5 bytes, 13 used");
	ok(f.payload == hello + 8, "payload points into the input (no copy)");

	tao_codec_tlv.encode(-2, 0, buf, &hl, buf + 16, &tl);
	is_blob(buf, hl, neg, 8, "type -2 encodes as fe ff ff ff");
	ok(decode(neg, 8, SMALL_MAX, &f, &used) == TAO_DECODE_FRAME &&
	    f.type == -2 && f.len == 0 && used == 8,
	    "a negative type decodes back");

	tao_codec_tlv.encode(TAO_TYPE_HEARTBEAT, 0, buf, &hl, buf + 16, &tl);
	is_blob(buf, hl, zero, 8, "the heartbeat is 8 zeros");
	ok(decode(zero, 8, SMALL_MAX, &f, &used) == TAO_DECODE_FRAME &&
	    f.type == TAO_TYPE_HEARTBEAT && f.len == 0 && used == 8 &&
	    f.payload == zero + 8, "zero-length payload: a frame of 8 bytes");

	/* Unaligned input: the header is read byte by byte. */
	memcpy(buf + 1, hello, sizeof(hello));
	ok(decode(buf + 1, sizeof(hello), SMALL_MAX, &f, &used) ==
	    TAO_DECODE_FRAME && f.type == 1 && f.len == 5 &&
	    memcmp(f.payload, "hello", 5) == 0, "unaligned input decodes");
}

static void
test_partial(void)
{
	static uint8_t buf[TAO_TLV_HEADER_LEN + SMALL_MAX + 1];
	struct tao_frame f;
	size_t used;

	is_int(decode(buf, 0, SMALL_MAX, &f, &used), TAO_DECODE_AGAIN,
	    "empty input: AGAIN");
	is_int(decode(NULL, 0, SMALL_MAX, &f, &used), TAO_DECODE_AGAIN,
	    "no buffer at all: AGAIN");
	append(buf, 7, 100, 0);
	ok(decode(buf, 4, SMALL_MAX, &f, &used) == TAO_DECODE_AGAIN &&
	    (used == 0 || used == 8) && untouched(&f),
	    "a 4-byte header fragment: AGAIN, no frame");
	ok(decode(buf, 8, SMALL_MAX, &f, &used) == TAO_DECODE_AGAIN &&
	    used == 108 && untouched(&f),
	    "a whole header: AGAIN, used = 8 + length");
	ok(decode(buf, 107, SMALL_MAX, &f, &used) == TAO_DECODE_AGAIN &&
	    used == 108, "one byte short: still AGAIN");

	append(buf, 3, SMALL_MAX, 0);
	ok(decode(buf, sizeof(buf) - 1, SMALL_MAX, &f, &used) ==
	    TAO_DECODE_FRAME && f.len == SMALL_MAX && used == sizeof(buf) - 1,
	    "a payload of exactly max_frame decodes");
	append(buf, 3, SMALL_MAX + 1, 0);
	is_int(decode(buf, sizeof(buf), SMALL_MAX, &f, &used),
	    TAO_DECODE_ERROR, "max_frame + 1 is an error");
	is_int(decode(buf, 8, SMALL_MAX, &f, &used), TAO_DECODE_ERROR,
	    "... known from the header alone");
	is_int(decode(buf, 8, 0, &f, &used), TAO_DECODE_ERROR,
	    "max_frame 0 refuses a 1-byte payload");
	append(buf, 3, 0, 0);
	is_int(decode(buf, 8, 0, &f, &used), TAO_DECODE_FRAME,
	    "max_frame 0 takes a heartbeat");
}

static void
test_big(void)
{
	size_t n = TAO_TLV_HEADER_LEN + TAO_MAX_FRAME_DEFAULT, used;
	struct tao_frame f;
	uint8_t *buf;

	if ((buf = calloc(1, n + 1)) == NULL)
		bail("calloc");
	append(buf, 77, TAO_MAX_FRAME_DEFAULT, 1);
	ok(decode(buf, n, TAO_MAX_FRAME_DEFAULT, &f, &used) ==
	    TAO_DECODE_FRAME && f.type == 77 && f.len == TAO_MAX_FRAME_DEFAULT &&
	    used == n, "an 8 MiB frame decodes under the default max_frame");
	ok(decode(buf, n - 1, TAO_MAX_FRAME_DEFAULT, &f, &used) ==
	    TAO_DECODE_AGAIN && used == n, "... and asks for all of it first");
	append(buf, 77, TAO_MAX_FRAME_DEFAULT + 1, 1);
	is_int(decode(buf, n + 1, TAO_MAX_FRAME_DEFAULT, &f, &used),
	    TAO_DECODE_ERROR, "8 MiB + 1 is an error");
	free(buf);
}

static void
test_garbage(void)
{
	static const uint8_t ff[8] = { 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff };
	uint8_t buf[256];
	struct tao_frame f;
	size_t used, i, k, bad = 0;
	uint32_t plen;
	int r;

	is_int(decode(ff, 8, TAO_MAX_FRAME_DEFAULT, &f, &used),
	    TAO_DECODE_ERROR, "length 0xffffffff is an error");

	for (k = 0; k < 1000; k++) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)rnd();
		buf[7] |= 0x01;		/* length >= 16 MiB */
		if (decode(buf, 8 + k % 200, TAO_MAX_FRAME_DEFAULT, &f,
		    &used) != TAO_DECODE_ERROR)
			bad++;
	}
	is_int(bad, 0, "1000 random buffers with huge lengths: all errors");

	/* Random short lengths: whatever comes back must be consistent. */
	for (bad = 0, k = 0; k < 1000; k++) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)rnd();
		buf[5] = buf[6] = buf[7] = 0;
		plen = buf[4];
		r = decode(buf, k % sizeof(buf), 200, &f, &used);
		if (k % sizeof(buf) < 8)
			bad += r != TAO_DECODE_AGAIN;
		else if (plen > 200)
			bad += r != TAO_DECODE_ERROR;
		else if (8 + plen > k % sizeof(buf))
			bad += r != TAO_DECODE_AGAIN || used != 8 + plen;
		else
			bad += r != TAO_DECODE_FRAME || used != 8 + plen ||
			    f.len != plen || f.payload != buf + 8;
	}
	is_int(bad, 0, "1000 random buffers decode consistently");
}

static void
test_by_name(void)
{
	ok(tao__codec_by_name("tlv") == &tao_codec_tlv, "by name: tlv");
	ok(tao__codec_by_name("line") == &tao_codec_line, "by name: line");
	ok(tao__codec_by_name("TLV") == NULL, "by name: TLV is unknown");
	ok(tao__codec_by_name("tlv2") == NULL, "by name: tlv2 is unknown");
	ok(tao__codec_by_name("") == NULL, "by name: empty is unknown");
	ok(tao__codec_by_name(NULL) == NULL, "by name: NULL is unknown");
	is_str(tao_codec_tlv.name, "tlv", "the codec calls itself tlv");
}

int
main(void)
{
	plan(0);
	build_stream();
	test_layout();
	test_partial();
	test_splits();
	test_big();
	test_garbage();
	test_by_name();
	free(stream);
	return done_testing();
}
