/*
 * framer.c - the buffer side of the framer (framer.h): where a read goes,
 * keeping an unfinished frame, dropping what was decoded.  Called once
 * per read, never per message.
 */
#include <stdlib.h>
#include <string.h>

#include "core/framer.h"

#define KEEP_SLACK	4096	/* beyond the kept bytes, for the next read */

/*
 * Make room in fr_buf for the next read, growing towards fr_need.  TLS
 * asks for room for a whole record: OpenSSL then never keeps decrypted
 * bytes we did not take, which epoll could not tell us about.
 */
static int
framer_reserve(struct tao_framer *fr, size_t room)
{
	size_t want, cap;
	uint8_t *grown;

	if (fr->fr_cap - fr->fr_len >= room)
		return 0;
	want = fr->fr_need > fr->fr_len ? fr->fr_need :
	    (size_t)fr->fr_len + TAO_FRAMER_STEP;
	if (want < fr->fr_len + room)
		want = fr->fr_len + room;
	cap = (size_t)fr->fr_cap * 2;
	if (cap < fr->fr_len + TAO_FRAMER_STEP)
		cap = fr->fr_len + TAO_FRAMER_STEP;
	if (cap > want)
		cap = want;
	if ((grown = realloc(fr->fr_buf, cap)) == NULL)
		return -1;
	fr->fr_buf = grown;
	fr->fr_cap = (uint32_t)cap;
	return 0;
}

int
tao__framer_buffer(struct tao_framer *fr, uint8_t *shared,
    size_t shared_size, size_t room, uint8_t **buf, size_t *avail)
{
	if (fr->fr_buf == NULL) {
		*buf = shared;
		*avail = shared_size;
		return 0;
	}
	if (framer_reserve(fr, room) == -1)
		return -1;
	*buf = fr->fr_buf + fr->fr_len;
	*avail = fr->fr_cap - fr->fr_len;
	return 0;
}

int
tao__framer_keep(struct tao_framer *fr, const uint8_t *buf, size_t len,
    size_t room)
{
	size_t cap = len + KEEP_SLACK;

	if (fr->fr_need > len && fr->fr_need - len < TAO_FRAMER_STEP)
		cap = fr->fr_need;
	if (cap < len + room)
		cap = len + room;
	if ((fr->fr_buf = malloc(cap)) == NULL)
		return -1;
	memcpy(fr->fr_buf, buf, len);
	fr->fr_len = (uint32_t)len;
	fr->fr_cap = (uint32_t)cap;
	return 0;
}

int
tao__framer_settle(struct tao_framer *fr, size_t used)
{
	if (used == fr->fr_len) {
		tao__framer_reset(fr);
		return TAO_FRAMER_IDLE;
	}
	if (used == 0)
		return TAO_FRAMER_HELD;
	fr->fr_len -= (uint32_t)used;
	if (fr->fr_cap > 2 * TAO_FRAMER_STEP && fr->fr_len < fr->fr_cap / 4) {
		/* A big frame is done: do not keep its buffer. */
		uint8_t *small = malloc(fr->fr_len + TAO_FRAMER_STEP);

		if (small != NULL) {
			memcpy(small, fr->fr_buf + used, fr->fr_len);
			free(fr->fr_buf);
			fr->fr_buf = small;
			fr->fr_cap = fr->fr_len + TAO_FRAMER_STEP;
			return TAO_FRAMER_BEGUN;
		}
	}
	memmove(fr->fr_buf, fr->fr_buf + used, fr->fr_len);
	return TAO_FRAMER_BEGUN;
}

void
tao__framer_reset(struct tao_framer *fr)
{
	free(fr->fr_buf);
	fr->fr_buf = NULL;
	fr->fr_len = fr->fr_cap = 0;
}

void
tao__framer_free(struct tao_framer *fr)
{
	tao__framer_reset(fr);
	fr->fr_need = 0;
	fr->fr_state = 0;
}
