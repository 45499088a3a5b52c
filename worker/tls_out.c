/*
 * tls_out.c - the staging write BIO of the worker's TLS connections and
 * the remainder kept for a socket that did not take it all (tls_out.h).
 *
 * One worker is one process and one thread for OpenSSL (blocking
 * handlers hand their sends to the loop), so the staging buffer, the
 * BIO method and the shared BIO are this process's: made at the first
 * TLS connection, kept for the worker's life (reachable, not leaked).
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "worker/conn.h"
#include "worker/tls_out.h"

/* Room for a batch plus one more record (16 KiB and its overhead):
 * the staging buffer seldom grows. */
#define STAGE_CAP	(TAO_TLS_STAGE_BATCH + 20 * 1024)

/* Ciphertext a socket did not take: r_data[r_off..r_len). */
struct tls_rem {
	size_t		 r_off, r_len, r_cap;
	uint8_t		 r_data[];
};

static struct {
	BIO_METHOD	*meth;
	BIO		*shared;	/* the write BIO of SSLs keeping nothing */
	uint8_t		*buf;
	size_t		 len, cap;
} out;

static int
stage_reserve(size_t more)
{
	size_t cap = out.cap > 0 ? out.cap : STAGE_CAP;
	uint8_t *p;

	if (more <= out.cap - out.len)
		return 0;
	while (cap - out.len < more)
		cap *= 2;
	if ((p = realloc(out.buf, cap)) == NULL)
		return -1;
	out.buf = p;
	out.cap = cap;
	return 0;
}

/* The BIO's write: append to the staging buffer, never "retry". */
static int
out_write(BIO *b, const char *data, size_t len, size_t *written)
{
	BIO_clear_retry_flags(b);
	if (stage_reserve(len) == -1) {
		errno = ENOMEM;
		return 0;
	}
	memcpy(out.buf + out.len, data, len);
	out.len += len;
	*written = len;
	return 1;
}

static long
out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	/* A flush (the end of a handshake flight) is the caller's push. */
	return cmd == BIO_CTRL_FLUSH || cmd == BIO_CTRL_DUP;
}

static int
out_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int
out_destroy(BIO *b)
{
	free(BIO_get_data(b));		/* a remainder, or NULL */
	BIO_set_data(b, NULL);
	return 1;
}

static int
out_init(void)
{
	int type = BIO_get_new_index();

	if (type == -1 || (out.meth = BIO_meth_new(type |
	    BIO_TYPE_SOURCE_SINK, "tao staging")) == NULL)
		return -1;
	if (BIO_meth_set_write_ex(out.meth, out_write) != 1 ||
	    BIO_meth_set_ctrl(out.meth, out_ctrl) != 1 ||
	    BIO_meth_set_create(out.meth, out_create) != 1 ||
	    BIO_meth_set_destroy(out.meth, out_destroy) != 1 ||
	    stage_reserve(STAGE_CAP) == -1 ||
	    (out.shared = BIO_new(out.meth)) == NULL) {
		BIO_meth_free(out.meth);
		out.meth = NULL;
		return -1;
	}
	return 0;
}

int
tao__wtls_out_attach(SSL *ssl, int fd)
{
	BIO *rbio;

	if (out.meth == NULL && out_init() == -1)
		return -1;
	if ((rbio = BIO_new_socket(fd, BIO_NOCLOSE)) == NULL)
		return -1;
	if (BIO_up_ref(out.shared) != 1) {
		BIO_free(rbio);
		return -1;
	}
	SSL_set0_rbio(ssl, rbio);		/* ssl owns both references */
	SSL_set0_wbio(ssl, out.shared);
	return 0;
}

size_t
tao__wtls_out_staged(void)
{
	return out.len;
}

static struct tls_rem *
rem_of(const SSL *ssl)
{
	BIO *b = SSL_get_wbio(ssl);

	return b == NULL || b == out.shared ? NULL : BIO_get_data(b);
}

size_t
tao__wtls_out_kept(const SSL *ssl)
{
	const struct tls_rem *r = rem_of(ssl);

	return r == NULL ? 0 : r->r_len - r->r_off;
}

/* write(2) what it takes: bytes written (0: the socket is full), -1. */
static ssize_t
write_some(struct tao_conn *c, const uint8_t *p, size_t len)
{
	ssize_t n;

	do
		n = write(c->c_io.io_fd, p, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (n > 0)
		c->c_last_tx_ms = tao__conn_stamp(
		    tao__conn_worker(c)->w_loop.el_now_ms);
	return n;
}

/* Keep p[0..len) in a private write BIO of ssl: 0 or -1 (ENOMEM). */
static int
rem_keep(SSL *ssl, const uint8_t *p, size_t len)
{
	struct tls_rem *r = malloc(sizeof(*r) + len);
	BIO *b;

	if (r == NULL || (b = BIO_new(out.meth)) == NULL) {
		free(r);
		errno = ENOMEM;
		return -1;
	}
	memcpy(r->r_data, p, len);
	r->r_off = 0;
	r->r_len = r->r_cap = len;
	BIO_set_data(b, r);
	SSL_set0_wbio(ssl, b);	/* drops ssl's reference to the shared BIO */
	return 0;
}

/* Staged bytes behind a remainder (a read's alert, a ticket). */
static int
rem_append(SSL *ssl, struct tls_rem *r)
{
	BIO *b = SSL_get_wbio(ssl);
	size_t left = r->r_len - r->r_off;

	if (out.len > r->r_cap - r->r_len) {
		memmove(r->r_data, r->r_data + r->r_off, left);
		r->r_off = 0;
		r->r_len = left;
	}
	if (out.len > r->r_cap - r->r_len) {
		if ((r = realloc(r, sizeof(*r) + left + out.len)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		r->r_cap = left + out.len;
		BIO_set_data(b, r);
	}
	memcpy(r->r_data + r->r_len, out.buf, out.len);
	r->r_len += out.len;
	return 0;
}

/* Write the remainder of ssl: 1 drained (the shared BIO is back), 0
 * some left, -1 error. */
static int
rem_drain(struct tao_conn *c, SSL *ssl, struct tls_rem *r)
{
	ssize_t n = write_some(c, r->r_data + r->r_off, r->r_len - r->r_off);

	if (n == -1)
		return -1;
	r->r_off += (size_t)n;
	if (r->r_off < r->r_len)
		return 0;
	if (BIO_up_ref(out.shared) != 1)
		return 0;		/* keep the empty one: no harm */
	SSL_set0_wbio(ssl, out.shared);	/* frees the private BIO and r */
	return 1;
}

static int
push(struct tao_conn *c, SSL *ssl)
{
	struct tls_rem *r = rem_of(ssl);
	ssize_t n;

	if (r != NULL) {
		if (out.len > 0 && rem_append(ssl, r) == -1)
			return -1;
		out.len = 0;
		return rem_drain(c, ssl, rem_of(ssl));
	}
	if (out.len == 0)
		return 1;
	if ((n = write_some(c, out.buf, out.len)) == -1)
		return -1;
	if ((size_t)n == out.len)
		return 1;
	return rem_keep(ssl, out.buf + n, out.len - (size_t)n) == -1 ? -1 : 0;
}

int
tao__wtls_out_push(struct tao_conn *c)
{
	int rc = push(c, tao__conn_tls(c));

	out.len = 0;		/* never left for another connection */
	return rc;
}
