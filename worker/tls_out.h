/*
 * tls_out.h - the write side of a worker's TLS connections: the records
 * of one pass are sent with one write(2).
 *
 * OpenSSL's socket BIO writes every record with its own write(2): a
 * 16 392-byte frame is two records, so two syscalls, two segments and
 * two wake-ups of the client.  Instead every SSL writes into a BIO of
 * ours that only appends to the worker's staging buffer; after each
 * SSL call (handshake, reads, writes, shutdown) the caller pushes what
 * was staged to that connection's socket in one write(2):
 *
 *	SSL_write_ex x N --> [ staging, one per worker ] --write(2)--> fd
 *	                          | what the socket did not take
 *	                          v
 *	                     [ remainder: the data of that SSL's own BIO ]
 *
 * An SSL with nothing kept writes through a BIO shared by the worker
 * (one reference per SSL, no memory of its own); what the socket does
 * not take is moved into a private BIO, swapped in as the SSL's write
 * BIO (so the remainder is found from the SSL), and goes out before
 * anything new; once drained the SSL gets the shared BIO back and the
 * private one is freed.  An idle connection holds nothing here.
 * During a handshake OpenSSL pushes its buffering BIO in front of the
 * write BIO, which sets the shared BIO's back pointer (prev_bio) to
 * that SSL's buffer; with many handshakes at once it names only the
 * last.  Harmless as OpenSSL 3.0 stands: nothing reads the back pointer
 * of a bottom (sink) BIO, and BIO_pop only clears it.
 *
 * Invariant: the staging buffer is empty between calls into tls.c, so
 * a connection never sends another's bytes: every SSL call that can
 * write is followed by tao__wtls_out_push for the same connection.
 * The read side stays OpenSSL's socket BIO (read-ahead, EOF handling).
 */
#ifndef TAO_WORKER_TLS_OUT_H
#define TAO_WORKER_TLS_OUT_H

#include <stddef.h>

struct tao_conn;
struct ssl_st;

/* Stop encrypting at this much staged output and write it: more than
 * the 16 KiB echo's two records, little to copy when the socket is full. */
#define TAO_TLS_STAGE_BATCH	(64 * 1024)

/* Attach fd (read side, socket BIO, not closed by OpenSSL) and the
 * worker's staging BIO (write side) to ssl: 0, or -1 out of memory. */
int	tao__wtls_out_attach(struct ssl_st *, int fd);
/*
 * Send c's remainder, then what its SSL calls staged: 1 all out (no
 * remainder), 0 some kept (poll EPOLLOUT and push again), -1 error
 * (errno: the socket's, or ENOMEM).  The staging buffer is empty after,
 * whatever the result.  Any byte written is progress (c_last_tx_ms).
 */
int	tao__wtls_out_push(struct tao_conn *);
/* Bytes staged by the SSL calls since the last push. */
size_t	tao__wtls_out_staged(void);
/* Ciphertext kept for ssl that its socket has not taken yet. */
size_t	tao__wtls_out_kept(const struct ssl_st *);

#endif
