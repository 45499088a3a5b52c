/*
 * fuzz-line - libFuzzer target for the line codec (input layout: see
 * codec-check.c).  On top of the generic checks: the only normalisation
 * is "\r\n" -> "\n", payloads hold no '\n', the scan state covers exactly
 * the bytes seen (so a long line costs O(n)), and in deep mode each call
 * is compared with a naive scan for the first newline.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz/codec-check.h"
#include "proto/codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_frame(const uint8_t *buf, const struct tao_frame *f, size_t used)
{
	CHECK(f->type == TAO_TYPE_LINE);
	CHECK(memchr(f->payload, '\n', f->len) == NULL);
	CHECK(buf[used - 1] == '\n');
	if (used == f->len + 2)
		CHECK(buf[f->len] == '\r');
	else {
		/* A "\r\n" ending must have been stripped whole. */
		CHECK(used == f->len + 1);
		CHECK(f->len == 0 || buf[f->len - 1] != '\r');
	}
}

static void
line_check(const uint8_t *buf, size_t len, size_t max_frame, int r,
    const struct tao_frame *f, size_t used, uint64_t state, int deep)
{
	const uint8_t *nl;
	size_t content;

	if (r == TAO_DECODE_OK)
		check_frame(buf, f, used);
	if (r != TAO_DECODE_AGAIN)
		CHECK(state == 0);
	else {
		CHECK(used == 0);
		CHECK(state == len);
		CHECK(len == 0 || buf[len - 1] != '\n');
	}
	if (!deep)
		return;

	nl = memchr(buf, '\n', len);
	content = nl != NULL ? (size_t)(nl - buf) : len;
	if (content > 0 && buf[content - 1] == '\r')
		content--;
	if (content > max_frame)
		CHECK(r == TAO_DECODE_ERROR);
	else if (nl == NULL)
		CHECK(r == TAO_DECODE_AGAIN);
	else {
		CHECK(r == TAO_DECODE_OK);
		CHECK(f->len == content);
		CHECK(used == (size_t)(nl - buf) + 1);
	}
}

static const struct codec_check line = { &tao_codec_line, line_check };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return codec_check_run(&line, data, size);
}
