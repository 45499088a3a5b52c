/*
 * t011-proto-line - the line codec: "\n" and "\r\n" endings, decoding across
 * every way a stream can be cut into reads, the max_frame limit enforced
 * before the newline arrives, and the scan state that keeps it linear.
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
	const char	*text;		/* NULL: `len` bytes of `fill` */
	size_t		 len;
	char		 fill;
	const char	*end;		/* "\n" or "\r\n" */
};

static const struct want lines[] = {
	{ "hello",	5,	0,	"\n" },
	{ "",		0,	0,	"\n" },		/* empty line */
	{ "x",		1,	0,	"\r\n" },
	{ NULL,		3000,	'a',	"\n" },
	{ "mid\rdle",	7,	0,	"\r\n" },	/* inner '\r' stays */
	{ "",		0,	0,	"\r\n" },
	{ "cr\r",	3,	0,	"\r\n" },	/* "cr\r\r\n" */
	{ "\0\377\t",	3,	0,	"\n" },		/* binary bytes */
	{ NULL,		SMALL_MAX, 'b',	"\r\n" },	/* exactly max_frame */
	{ NULL,		SMALL_MAX, 'c',	"\n" },
};
#define NLINES		(sizeof(lines) / sizeof(lines[0]))
/* After the lines: an unfinished one, which stays unconsumed. */
#define TRAILER		"partial\r"

struct got {
	size_t		 off;		/* payload offset in the stream */
	size_t		 len;
};

static uint8_t	*stream;
static size_t	 stream_len;
static size_t	 offsets[NLINES];	/* where each line's text starts */
static char	 why[256];

static uint64_t	 rng = 0x2545f4914f6cdd1dULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
build_stream(void)
{
	size_t i, cap = sizeof(TRAILER);

	for (i = 0; i < NLINES; i++)
		cap += lines[i].len + 2;
	if ((stream = malloc(cap)) == NULL)
		bail("malloc");
	for (i = 0; i < NLINES; i++) {
		offsets[i] = stream_len;
		if (lines[i].text != NULL)
			memcpy(stream + stream_len, lines[i].text, lines[i].len);
		else
			memset(stream + stream_len, lines[i].fill, lines[i].len);
		stream_len += lines[i].len;
		memcpy(stream + stream_len, lines[i].end, strlen(lines[i].end));
		stream_len += strlen(lines[i].end);
	}
	memcpy(stream + stream_len, TRAILER, strlen(TRAILER));
	stream_len += strlen(TRAILER);
}

/*
 * Feed s[0..cuts[ncuts-1]) to the codec in pieces ending at cuts[], as a
 * worker does: append each piece to the unconsumed rest, decode until
 * AGAIN, drop what was consumed.  Returns the number of frames put in got[]
 * (at most maxgot are kept), -1 on a decode error, -2 when the codec breaks
 * its contract (why[] says how).  *rest is what stayed unconsumed.
 */
static int
feed(const uint8_t *s, size_t max_frame, const size_t *cuts, size_t ncuts,
    struct got *got, size_t maxgot, size_t *rest)
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
		while ((r = tao_codec_line.decode(rb, have, max_frame, &state,
		    &f, &used)) == TAO_DECODE_FRAME) {
			if (used > have || f.payload != rb ||
			    f.type != TAO_TYPE_LINE || state != 0 ||
			    rb[used - 1] != '\n' ||
			    memchr(rb, '\n', f.len) != NULL) {
				snprintf(why, sizeof(why), "bad frame: used %zu"
				    " have %zu len %zu", used, have, f.len);
				n = -2;
				goto out;
			}
			if ((size_t)n < maxgot) {
				got[n].off = consumed;
				got[n].len = f.len;
			}
			n++;
			memmove(rb, rb + used, have - used);
			have -= used;
			consumed += used;
		}
		if (r == TAO_DECODE_ERROR) {
			n = state == 0 ? -1 : -2;
			snprintf(why, sizeof(why), "decode error");
			goto out;
		}
		if (used != 0 || state != have) {
			snprintf(why, sizeof(why), "AGAIN with used %zu, state "
			    "%llu, have %zu", used, (unsigned long long)state,
			    have);
			n = -2;
			goto out;
		}
	}
	*rest = have;
out:
	free(rb);
	return n;
}

/* Decode the stream cut at cuts[]: 0 if it gives the expected lines. */
static int
run(const size_t *cuts, size_t ncuts)
{
	struct got got[MAX_FRAMES];
	size_t rest = 0, i;
	int n;

	if ((n = feed(stream, SMALL_MAX, cuts, ncuts, got, MAX_FRAMES,
	    &rest)) < 0)
		return -1;
	if ((size_t)n != NLINES || rest != strlen(TRAILER)) {
		snprintf(why, sizeof(why), "%d lines, %zu left over", n, rest);
		return -1;
	}
	for (i = 0; i < NLINES; i++)
		if (got[i].off != offsets[i] || got[i].len != lines[i].len) {
			snprintf(why, sizeof(why), "line %zu: at %zu, %zu "
			    "bytes", i, got[i].off, got[i].len);
			return -1;
		}
	return 0;
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
	if (!ok(run(cuts, 1) == 0, "the whole stream decodes to %zu lines",
	    NLINES))
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

static uint64_t	 state;

/* One decode of a string (or of len bytes at s) with the shared state. */
static int
decode(const void *s, size_t len, size_t max_frame, struct tao_frame *f,
    size_t *used)
{
	memset(f, 0xa5, sizeof(*f));
	*used = 12345;
	return tao_codec_line.decode(s, len, max_frame, &state, f, used);
}

static int
decode_str(const char *s, struct tao_frame *f, size_t *used)
{
	state = 0;
	return decode(s, strlen(s), SMALL_MAX, f, used);
}

static int
untouched(const struct tao_frame *f)
{
	struct tao_frame sentinel;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	return memcmp(f, &sentinel, sizeof(sentinel)) == 0;
}

static void
test_endings(void)
{
	static const char hello[] = "hello\n";
	uint8_t head[TAO_CODEC_MAX_HEAD], tail[TAO_CODEC_MAX_TAIL];
	struct tao_frame f;
	size_t hl = 99, tl = 99, used;

	tao_codec_line.encode(TAO_TYPE_LINE, 5, head, &hl, tail, &tl);
	ok(hl == 0 && tl == 1 && tail[0] == '\n',
	    "encode: no head, tail \"\\n\"");

	is_int(decode_str(hello, &f, &used), TAO_DECODE_FRAME,
	    "\"hello\\n\" is a frame");
	ok(f.type == TAO_TYPE_LINE && f.len == 5 && used == 6 &&
	    f.payload == (const uint8_t *)hello,
	    "type LINE, 5 bytes, 6 used, payload points into the input");
	ok(decode_str("hello\r\n", &f, &used) == TAO_DECODE_FRAME &&
	    f.len == 5 && used == 7, "\"hello\\r\\n\": 5 bytes, 7 used");
	ok(decode_str("\n", &f, &used) == TAO_DECODE_FRAME && f.len == 0 &&
	    used == 1, "\"\\n\": an empty line");
	ok(decode_str("\r\n", &f, &used) == TAO_DECODE_FRAME && f.len == 0 &&
	    used == 2, "\"\\r\\n\": an empty line");
	ok(decode_str("a\rb\n", &f, &used) == TAO_DECODE_FRAME && f.len == 3 &&
	    memcmp(f.payload, "a\rb", 3) == 0, "an inner \\r is payload");
	ok(decode_str("ab\r\r\n", &f, &used) == TAO_DECODE_FRAME &&
	    f.len == 3 && used == 5, "\"ab\\r\\r\\n\": only one \\r stripped");
	ok(decode_str("one\ntwo\n", &f, &used) == TAO_DECODE_FRAME &&
	    f.len == 3 && used == 4, "two lines: the first one only");

	ok(decode_str("", &f, &used) == TAO_DECODE_AGAIN && used == 0 &&
	    untouched(&f), "empty input: AGAIN");
	state = 0;
	ok(decode(NULL, 0, SMALL_MAX, &f, &used) == TAO_DECODE_AGAIN &&
	    state == 0, "no buffer at all: AGAIN");
	ok(decode_str("abcd", &f, &used) == TAO_DECODE_AGAIN && used == 0 &&
	    untouched(&f), "a 4-byte fragment: AGAIN, no frame");
	ok(decode_str("\r", &f, &used) == TAO_DECODE_AGAIN && untouched(&f),
	    "a lone \\r: AGAIN");
}

static void
test_state(void)
{
	struct tao_frame f;
	size_t used;

	state = 0;
	ok(decode("abc", 3, SMALL_MAX, &f, &used) == TAO_DECODE_AGAIN &&
	    state == 3, "AGAIN remembers 3 bytes scanned");
	ok(decode("abcdef", 6, SMALL_MAX, &f, &used) == TAO_DECODE_AGAIN &&
	    state == 6, "more bytes: 6 scanned");
	ok(decode("abcdef\nxy", 9, SMALL_MAX, &f, &used) == TAO_DECODE_FRAME &&
	    f.len == 6 && used == 7 && state == 0,
	    "the newline ends the line and resets the state");

	/* White box: bytes counted in the state are not searched again. */
	state = 3;
	ok(decode("ab\ncd", 5, SMALL_MAX, &f, &used) == TAO_DECODE_AGAIN &&
	    state == 5, "scanned bytes are not scanned again");
	state = 100;
	ok(decode("ab\ncd", 5, SMALL_MAX, &f, &used) == TAO_DECODE_FRAME &&
	    f.len == 2 && state == 0, "a state beyond the input is ignored");
}

static void
test_limits(void)
{
	static uint8_t buf[SMALL_MAX + 3];
	struct tao_frame f;
	size_t used, k;
	int r;

	memset(buf, 'q', sizeof(buf));
	memcpy(buf + SMALL_MAX, "\n", 1);
	state = 0;
	ok(decode(buf, SMALL_MAX + 1, SMALL_MAX, &f, &used) ==
	    TAO_DECODE_FRAME && f.len == SMALL_MAX && used == SMALL_MAX + 1,
	    "a line of exactly max_frame decodes");
	memcpy(buf + SMALL_MAX, "\r\n", 2);
	ok(decode(buf, SMALL_MAX + 2, SMALL_MAX, &f, &used) ==
	    TAO_DECODE_FRAME && f.len == SMALL_MAX && used == SMALL_MAX + 2,
	    "... also with \\r\\n");
	ok(decode(buf, SMALL_MAX + 1, SMALL_MAX, &f, &used) ==
	    TAO_DECODE_AGAIN && state == SMALL_MAX + 1,
	    "max_frame bytes and a \\r: AGAIN (\\n may follow)");
	memset(buf, 'q', sizeof(buf));
	state = 0;
	ok(decode(buf, SMALL_MAX, SMALL_MAX, &f, &used) == TAO_DECODE_AGAIN,
	    "max_frame bytes, no newline: AGAIN");
	is_int(decode(buf, SMALL_MAX + 1, SMALL_MAX, &f, &used),
	    TAO_DECODE_ERROR, "max_frame + 1 bytes, no newline: error");
	is_int(state, 0, "... and the state is reset");
	memcpy(buf + SMALL_MAX + 1, "\n", 1);
	is_int(decode(buf, SMALL_MAX + 2, SMALL_MAX, &f, &used),
	    TAO_DECODE_ERROR, "a line of max_frame + 1: error");
	memcpy(buf + SMALL_MAX + 1, "\r", 1);
	is_int(decode(buf, SMALL_MAX + 2, SMALL_MAX, &f, &used),
	    TAO_DECODE_ERROR, "max_frame + 1 bytes then \\r: error");

	/* One byte per read: the error comes with byte max_frame + 1. */
	memset(buf, 'q', sizeof(buf));
	state = 0;
	for (k = 1; k <= sizeof(buf); k++)
		if ((r = decode(buf, k, SMALL_MAX, &f, &used)) !=
		    TAO_DECODE_AGAIN)
			break;
	ok(k == SMALL_MAX + 1 && r == TAO_DECODE_ERROR,
	    "byte by byte: error at byte %zu, without waiting for a newline",
	    k);
	state = 0;
	ok(decode("ab\n", 3, 1, &f, &used) == TAO_DECODE_ERROR && state == 0,
	    "max_frame 1 refuses \"ab\"");
	ok(decode("\r\n", 2, 0, &f, &used) == TAO_DECODE_FRAME && f.len == 0,
	    "max_frame 0 takes an empty line");
}

static void
test_big(void)
{
	size_t n = TAO_MAX_FRAME_DEFAULT, k, used;
	struct tao_frame f;
	uint8_t *buf;
	int r;

	if ((buf = malloc(n + 2)) == NULL)
		bail("malloc");
	memset(buf, 'L', n + 2);
	buf[n] = '\n';
	state = 0;
	ok(decode(buf, n + 1, n, &f, &used) == TAO_DECODE_FRAME &&
	    f.len == n && used == n + 1,
	    "an 8 MiB line decodes under the default max_frame");

	/* In 64 KiB reads: AGAIN all the way, then the frame. */
	state = 0;
	for (k = 65536; ; k += 65536)
		if ((r = decode(buf, k < n + 1 ? k : n + 1, n, &f, &used)) !=
		    TAO_DECODE_AGAIN || k > n)
			break;
	ok(r == TAO_DECODE_FRAME && f.len == n, "... also in 64 KiB reads");

	buf[n] = 'L';
	state = 0;
	is_int(decode(buf, n + 1, n, &f, &used), TAO_DECODE_ERROR,
	    "8 MiB + 1 bytes without a newline: error");
	free(buf);
}

static void
test_garbage(void)
{
	uint8_t buf[SMALL_MAX * 2];
	struct tao_frame f;
	size_t used, i, bad, k, len, nl, content;
	int r;

	for (i = 0; i < sizeof(buf); i++)
		do
			buf[i] = (uint8_t)rnd();
		while (buf[i] == '\n');
	state = 0;
	is_int(decode(buf, sizeof(buf), SMALL_MAX, &f, &used),
	    TAO_DECODE_ERROR, "8 KiB of random bytes without a newline: "
	    "error");

	/* Random bytes with newlines: the outcome must match a naive scan. */
	for (bad = 0, k = 0; k < 2000; k++) {
		len = rnd() % 64;
		for (i = 0; i < len; i++)
			buf[i] = "ab\r\n"[rnd() % 4];
		for (nl = 0; nl < len && buf[nl] != '\n'; nl++)
			;
		content = nl > 0 && buf[nl - 1] == '\r' ? nl - 1 : nl;
		state = 0;
		r = decode(buf, len, 8, &f, &used);
		if (content > 8)
			bad += r != TAO_DECODE_ERROR;
		else if (nl == len)
			bad += r != TAO_DECODE_AGAIN;
		else
			bad += r != TAO_DECODE_FRAME || f.len != content ||
			    used != nl + 1;
	}
	is_int(bad, 0, "2000 random short inputs match a naive scan");
}

static void
test_by_name(void)
{
	ok(tao__codec_by_name("line") == &tao_codec_line, "by name: line");
	ok(tao__codec_by_name("Line") == NULL, "by name: Line is unknown");
	is_str(tao_codec_line.name, "line", "the codec calls itself line");
}

int
main(void)
{
	plan(0);
	build_stream();
	test_endings();
	test_state();
	test_limits();
	test_splits();
	test_big();
	test_garbage();
	test_by_name();
	free(stream);
	return done_testing();
}
