/*
 * buf.h - a growable text buffer for control-socket replies.  A failed
 * allocation marks the buffer (b_failed) instead of failing every call.
 */
#ifndef TAO_MASTER_BUF_H
#define TAO_MASTER_BUF_H

#include <stddef.h>

struct tao_buf {
	char	*b_data;
	size_t	 b_len, b_cap;
	int	 b_failed;
};

void	tao__buf_printf(struct tao_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included. */
void	tao__buf_json_str(struct tao_buf *, const char *s);
void	tao__buf_free(struct tao_buf *);

#endif
