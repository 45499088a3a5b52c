/*
 * line.c - newline-delimited text, for telnet and nc users.
 *
 * A frame is the bytes before a '\n'; a '\r' just before the '\n' belongs
 * to the terminator ("\r\n" is stripped as a whole), any other '\r' is
 * payload.  Every frame has type TAO_TYPE_LINE.  Encoding appends "\n"; the
 * payload must not contain '\n' (the codec does not escape).
 *
 * A line may arrive in many reads.  To keep the total work linear, *state
 * holds how many bytes of the unfinished line were already searched for
 * '\n'; the caller promises that the next call's buffer starts with the
 * same bytes.  *state returns to 0 with every frame and every error.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/codec.h"

static int
line_decode(const uint8_t *buf, size_t len, size_t max_frame, uint64_t *state,
    struct tao_frame *frame, size_t *used)
{
	const uint8_t *nl;
	size_t limit, scanned, content;

	*used = 0;

	/*
	 * Content longer than max_frame is an error wherever its newline
	 * is, so never look further than max_frame content bytes plus
	 * "\r\n": a peer sending megabytes without a newline costs one
	 * bounded scan.
	 */
	limit = len;
	if (max_frame <= SIZE_MAX - 2 && limit > max_frame + 2)
		limit = max_frame + 2;

	/* A state beyond the input means the caller broke the contract
	 * (or lowered max_frame): scan from the start rather than trust it. */
	scanned = 0;
	if (*state <= limit)
		scanned = (size_t)*state;

	/* No pointer arithmetic on an empty buffer: it may be NULL. */
	nl = NULL;
	if (limit > scanned)
		nl = memchr(buf + scanned, '\n', limit - scanned);
	if (nl == NULL) {
		/* A last '\r' may yet turn out to be part of "\r\n". */
		content = limit;
		if (content > 0 && buf[content - 1] == '\r')
			content--;
		if (content > max_frame) {
			*state = 0;
			return TAO_DECODE_ERROR;
		}
		*state = limit;
		return TAO_DECODE_AGAIN;
	}

	*state = 0;
	content = (size_t)(nl - buf);
	if (content > 0 && buf[content - 1] == '\r')
		content--;
	if (content > max_frame)
		return TAO_DECODE_ERROR;

	frame->type = TAO_TYPE_LINE;
	frame->payload = buf;
	frame->len = content;
	*used = (size_t)(nl - buf) + 1;
	return TAO_DECODE_OK;
}

static void
line_encode(int32_t type, size_t len, uint8_t *head, size_t *head_len,
    uint8_t *tail, size_t *tail_len)
{
	(void)type;
	(void)len;
	(void)head;
	*head_len = 0;
	tail[0] = '\n';
	*tail_len = 1;
}

const struct tao_codec tao_codec_line = {
	.name = "line",
	.decode = line_decode,
	.encode = line_encode,
};
