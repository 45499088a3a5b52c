/*
 * clientecho.h - for the tao_client tests (t095 plaintext, t097 TLS):
 * running a loop with a time limit, and an echo exchange of n messages
 * of random sizes, a few in flight, every reply checked byte for byte
 * and in order.
 */
#ifndef TAO_TESTS_CLIENTECHO_H
#define TAO_TESTS_CLIENTECHO_H

#include <stddef.h>
#include <stdint.h>

#include <tao.h>

/* Run l until a callback stops it or ms pass: 0, or -1 on timeout. */
int	th_loop_run_for(struct tao_loop *l, int ms);

/*
 * The exchange.  Message i has type type[i], size[i] bytes of
 * th_fill(seed[i]): the first 0 bytes, the second max_size, the others
 * random up to max_size.  Every reply sends the next message; the last
 * reply stops the client's loop.
 */
struct th_cecho {
	struct tao_client *c;
	int		 n;
	int32_t		*type;
	size_t		*size;
	uint32_t	*seed;
	uint8_t		*scratch;	/* max_size bytes */
	int		 sent, got;
	int		 bad;		/* replies that were not the echo */
	int		 send_errors;	/* tao_client_send refused */
	int		 connects;	/* on_connect calls */
};

/* n messages of this type (0: each a random type 1..1000), drawn with
 * th_rand() (main thread), message by message: type, size, seed.
 * Bails out if memory runs out. */
struct th_cecho	*th_cecho_new(int n, int32_t type, size_t max_size);
/* The messages' payload bytes in all. */
long long	 th_cecho_bytes(const struct th_cecho *e);
/* Take c's on_message and on_connect. */
void		 th_cecho_attach(struct th_cecho *e, struct tao_client *c);
/* Send the next k messages (the ones in flight at the start). */
void		 th_cecho_send(struct th_cecho *e, int k);
/* Frees e, not its client. */
void		 th_cecho_free(struct th_cecho *e);

#endif
