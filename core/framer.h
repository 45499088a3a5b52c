/*
 * framer.h - the one input framer: buffering of an unfinished frame,
 * decoding through a codec, registry lookup and dispatch.  Server
 * connections (worker/conn.c) and clients (client/io.c) both use it.
 *
 * Input path of one read:
 *
 *	no unfinished frame:   read into the loop's shared buffer
 *	                       -> frames decoded in place (no copy)
 *	                       -> only a trailing partial frame is copied
 *	                          into fr_buf (tao__framer_keep)
 *	an unfinished frame:   read straight into fr_buf, grown
 *	                       geometrically towards fb_need, never to the
 *	                       size a header announces at once (a peer
 *	                       announcing 8 MiB and sending 8 bytes costs a
 *	                       few KiB)
 *	frame complete:        fr_buf is freed, so an idle peer holds no
 *	                       input buffer
 *
 * The decode loop is a static inline function taking the owner's two
 * hooks as arguments: each user passes its own static functions, the
 * compiler inlines the loop at that one call site and the hooks become
 * direct calls, so sharing the framer costs the worker's hot path no
 * indirect call per message.
 *
 * Ownership: a frame's payload points into the buffer being decoded; it
 * is valid until the deliver hook returns (and fr_buf stays allocated
 * until the owner frees it with tao__framer_free, so a message may be
 * held across a close within the same callback).
 */
#ifndef TAO_CORE_FRAMER_H
#define TAO_CORE_FRAMER_H

#include <stddef.h>
#include <stdint.h>

#include "core/registry.h"
#include "tao.h"

#define TAO_FRAMER_STEP		(64 * 1024)	/* growth of fr_buf */

/*
 * The unfinished input, allocated only while a frame is unfinished, with
 * its sizes in front so that an idle owner holds just two words:
 *
 *   fr_buf --> +--------+--------+---------+-----+----------------------+
 *              | fb_len | fb_cap | fb_need | pad | fb_data[fb_cap]      |
 *              +--------+--------+---------+-----+----------------------+
 *
 * 32 bits suffice: a frame is at most max_frame <= 1 GiB (server) or
 * UINT32_MAX (client, checked by its options) plus a header.
 */
struct tao_framer_buf {
	uint32_t	 fb_len;	/* bytes held */
	uint32_t	 fb_cap;	/* room in fb_data */
	uint32_t	 fb_need;	/* bytes the frame needs, 0 = ? */
	uint32_t	 fb_pad;	/* fb_data 16-byte aligned */
	uint8_t		 fb_data[];
};

struct tao_framer {
	struct tao_framer_buf *fr_buf;	/* unfinished input, or NULL */
	uint64_t	 fr_state;	/* the codec's state */
};

/* Bytes held, and room, for tests and diagnostics. */
static inline size_t
tao__framer_len(const struct tao_framer *fr)
{
	return fr->fr_buf != NULL ? fr->fr_buf->fb_len : 0;
}

static inline size_t
tao__framer_cap(const struct tao_framer *fr)
{
	return fr->fr_buf != NULL ? fr->fr_buf->fb_cap : 0;
}

/*
 * The owner's hooks.  ready() runs before every frame: 1 take it, 0 stop
 * here and keep the rest for later (output over its bound, closing), -1
 * the owner is gone (closed, reconnected: the framer is not touched
 * again).  deliver() gets each frame: 0 go on, -1 the owner is gone.
 */
typedef int	(*tao_framer_ready_fn)(void *owner);
typedef int	(*tao_framer_deliver_fn)(void *owner, const struct tao_frame *);

/* What tao__framer_input did (the owner acts on the negative ones). */
enum tao_framer_result {
	TAO_FRAMER_NOMEM = -3,	/* no memory to keep a partial frame */
	TAO_FRAMER_BAD	 = -2,	/* over max_frame, or garbage */
	TAO_FRAMER_GONE	 = -1,	/* a hook said the owner is gone */
	TAO_FRAMER_IDLE	 = 0,	/* every byte taken, nothing held */
	TAO_FRAMER_HELD	 = 1,	/* the same unfinished frame goes on */
	TAO_FRAMER_BEGUN = 2,	/* a new unfinished frame (or the rest of
				 * a stopped batch) is held from now */
};

/*
 * Where the next read goes: *buf, *room.  With no unfinished frame that
 * is shared[0..shared_size); else fr_buf's free end, at least `room`
 * bytes (TLS asks for a whole record).  0, or -1 (ENOMEM).
 */
int	tao__framer_buffer(struct tao_framer *, uint8_t *shared,
	    size_t shared_size, size_t room, uint8_t **buf, size_t *avail);
/* Copy buf[0..len) into fr_buf as the unfinished input, which needs
 * `need` bytes in all (0: not known); 0 or -1. */
int	tao__framer_keep(struct tao_framer *, const uint8_t *buf, size_t len,
	    size_t room, uint32_t need);
/* fr_buf[0..used) was decoded: drop it (free when all is used). */
int	tao__framer_settle(struct tao_framer *, size_t used);
/* Forget all input (a connection ends or restarts). */
void	tao__framer_reset(struct tao_framer *);
void	tao__framer_free(struct tao_framer *);

/* Decode buf[0..len): *used gets the bytes taken, *need what the
 * unfinished frame at buf + *used needs (0: none, or not known).  0 or a
 * negative enum tao_framer_result. */
static inline int
tao__framer_decode(struct tao_framer *fr, const struct tao_codec *codec,
    size_t max_frame, const uint8_t *buf, size_t len, size_t *usedp,
    uint32_t *needp, tao_framer_ready_fn ready, tao_framer_deliver_fn deliver,
    void *owner)
{
	struct tao_frame f;
	size_t off = 0, used;
	int rc;

	while (off < len) {
		if ((rc = ready(owner)) <= 0) {
			if (rc < 0)
				return TAO_FRAMER_GONE;
			break;
		}
		rc = codec->decode(buf + off, len - off, max_frame,
		    &fr->fr_state, &f, &used);
		if (rc == TAO_DECODE_AGAIN) {
			*needp = (uint32_t)used;	/* from buf + off */
			break;
		}
		if (rc != TAO_DECODE_OK)	/* _ERROR, or a bad codec */
			return TAO_FRAMER_BAD;
		off += used;
		*needp = 0;
		if (deliver(owner, &f) == -1)
			return TAO_FRAMER_GONE;
	}
	*usedp = off;
	return 0;
}

/*
 * n bytes were read into the buffer tao__framer_buffer gave (n may be 0:
 * resume decoding what fr_buf holds after a pause).  Decodes and
 * dispatches every whole frame, then keeps the unfinished rest; `room`
 * is what tao__framer_keep must leave free.
 */
static inline int
tao__framer_input(struct tao_framer *fr, const struct tao_codec *codec,
    size_t max_frame, const uint8_t *buf, size_t n, size_t room,
    tao_framer_ready_fn ready, tao_framer_deliver_fn deliver, void *owner)
{
	struct tao_framer_buf *b = fr->fr_buf;
	uint32_t need = 0;	/* no fr_buf: the last frame was whole */
	size_t used;
	int rc;

	if (b != NULL) {
		b->fb_len += (uint32_t)n;
		/* fr_buf stays allocated until the owner frees it, also if
		 * a hook closes it (see Ownership above). */
		rc = tao__framer_decode(fr, codec, max_frame, b->fb_data,
		    b->fb_len, &used, &b->fb_need, ready, deliver, owner);
		if (rc < 0)
			return rc;
		return tao__framer_settle(fr, used);
	}
	rc = tao__framer_decode(fr, codec, max_frame, buf, n, &used, &need,
	    ready, deliver, owner);
	if (rc < 0 || used == n)
		return rc;
	if (tao__framer_keep(fr, buf + used, n - used, room, need) == -1)
		return TAO_FRAMER_NOMEM;
	return TAO_FRAMER_BEGUN;
}

/*
 * Registry lookup and the handler's decode step, shared by both sides
 * (their handlers take different first arguments).  Fills m; returns 1
 * with *hp set (call its handler), 0 if no handler has the type, -1 if
 * the handler's decoder refused the payload.
 */
static inline int
tao__framer_lookup(const struct tao_registry *r, const struct tao_frame *f,
    struct tao_message *m, const struct tao_handler **hp)
{
	const struct tao_handler *h = tao__registry_find(r, f->type);

	m->type = f->type;
	m->data = f->payload;
	m->len = f->len;
	m->decoded = NULL;
	*hp = h;
	if (h == NULL)
		return 0;
	if (h->h_decode != NULL &&
	    h->h_decode(m->data, m->len, &m->decoded, h->h_arg) < 0)
		return -1;
	return 1;
}

#endif /* TAO_CORE_FRAMER_H */
