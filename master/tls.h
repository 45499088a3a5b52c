/*
 * tls.h - the server's TLS context, built by the master before fork.
 *
 * One SSL_CTX per generation: the master loads tls_cert, tls_key and
 * tls_client_ca into it, then forks the generation's workers, which
 * inherit it and create one SSL per accepted connection from it
 * (worker/tls.c).  Because the context is created once, before fork,
 * every worker of a generation holds the same session ticket keys
 * (OpenSSL draws them in SSL_CTX_new), so a session issued by one worker
 * resumes on any other.  A reload builds a new context for the new
 * generation; the old workers keep the copy they inherited.
 */
#ifndef TAO_MASTER_TLS_H
#define TAO_MASTER_TLS_H

#include <stddef.h>

struct ssl_ctx_st;
struct tao_config;

/* Does the configuration have a tls listener (and so need a context)? */
int	tao__mtls_needed(const struct tao_config *);
/*
 * The server context for cf: TLS 1.2 and 1.3, OpenSSL's default ciphers,
 * the certificate chain and key (checked to match), client certificates
 * required and verified if tls_client_ca is set.  NULL with a message
 * naming the file at fault ("CONF: tls_key PATH: ...") in err.
 */
struct ssl_ctx_st *tao__mtls_ctx_new(const struct tao_config *, char *err,
	    size_t errlen);
void	tao__mtls_ctx_free(struct ssl_ctx_st *);
/* taod -t: build the context if one is needed and free it; 0 or -1. */
int	tao__mtls_check(const struct tao_config *, char *err, size_t errlen);

#endif
