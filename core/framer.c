/*
 * framer.c - the buffer side of the framer (framer.h): where a read goes,
 * keeping an unfinished frame, dropping what was decoded.  Called once
 * per read, never per message.
 */
#include <stdlib.h>
#include <string.h>

#include "core/framer.h"

#define KEEP_SLACK	4096	/* beyond the kept bytes, for the next read */

/* A buffer header plus cap bytes of data; NULL when out of memory.  The
 * sizes are checked by the callers: at most max_frame plus a header
 * plus a read's slack, far below 4 GiB. */
static struct tao_framer_buf *
buf_resize(struct tao_framer_buf *b, size_t cap)
{
	struct tao_framer_buf *n;

	if ((n = realloc(b, sizeof(*n) + cap)) == NULL)
		return NULL;
	n->fb_cap = (uint32_t)cap;
	return n;
}

/*
 * Make room in fr_buf for the next read, growing towards fb_need.  TLS
 * asks for room for a whole record: OpenSSL then never keeps decrypted
 * bytes we did not take, which epoll could not tell us about.
 */
static int
framer_reserve(struct tao_framer *fr, size_t room)
{
	struct tao_framer_buf *b = fr->fr_buf, *grown;
	size_t want, cap;

	if (b->fb_cap - b->fb_len >= room)
		return 0;
	want = b->fb_need > b->fb_len ? b->fb_need :
	    (size_t)b->fb_len + TAO_FRAMER_STEP;
	if (want < b->fb_len + room)
		want = b->fb_len + room;
	cap = (size_t)b->fb_cap * 2;
	if (cap < b->fb_len + TAO_FRAMER_STEP)
		cap = b->fb_len + TAO_FRAMER_STEP;
	if (cap > want)
		cap = want;
	if ((grown = buf_resize(b, cap)) == NULL)
		return -1;
	fr->fr_buf = grown;
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
	*buf = fr->fr_buf->fb_data + fr->fr_buf->fb_len;
	*avail = fr->fr_buf->fb_cap - fr->fr_buf->fb_len;
	return 0;
}

int
tao__framer_keep(struct tao_framer *fr, const uint8_t *buf, size_t len,
    size_t room, uint32_t need)
{
	struct tao_framer_buf *b;
	size_t cap = len + KEEP_SLACK;

	if (need > len && need - len < TAO_FRAMER_STEP)
		cap = need;
	if (cap < len + room)
		cap = len + room;
	if ((b = buf_resize(NULL, cap)) == NULL)
		return -1;
	memcpy(b->fb_data, buf, len);
	b->fb_len = (uint32_t)len;
	b->fb_need = need;
	b->fb_pad = 0;
	fr->fr_buf = b;
	return 0;
}

int
tao__framer_settle(struct tao_framer *fr, size_t used)
{
	struct tao_framer_buf *b = fr->fr_buf, *small;

	if (used == b->fb_len) {
		tao__framer_reset(fr);
		return TAO_FRAMER_IDLE;
	}
	if (used == 0)
		return TAO_FRAMER_HELD;
	b->fb_len -= (uint32_t)used;
	if (b->fb_cap > 2 * TAO_FRAMER_STEP && b->fb_len < b->fb_cap / 4) {
		/* A big frame is done: do not keep its buffer. */
		if ((small = buf_resize(NULL, b->fb_len +
		    TAO_FRAMER_STEP)) != NULL) {
			memcpy(small->fb_data, b->fb_data + used, b->fb_len);
			small->fb_len = b->fb_len;
			small->fb_need = b->fb_need;
			small->fb_pad = 0;
			free(b);
			fr->fr_buf = small;
			return TAO_FRAMER_BEGUN;
		}
	}
	memmove(b->fb_data, b->fb_data + used, b->fb_len);
	return TAO_FRAMER_BEGUN;
}

void
tao__framer_reset(struct tao_framer *fr)
{
	free(fr->fr_buf);
	fr->fr_buf = NULL;
}

void
tao__framer_free(struct tao_framer *fr)
{
	tao__framer_reset(fr);
	fr->fr_state = 0;
}
