/*
 * buf.c - growable text buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "master/buf.h"

void
tao__buf_printf(struct tao_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (b->b_failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->b_data ? b->b_data + b->b_len : NULL,
		    b->b_cap - b->b_len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->b_failed = 1;
			return;
		}
		if ((size_t)n < b->b_cap - b->b_len) {
			b->b_len += (size_t)n;
			return;
		}
		size_t cap = (b->b_cap + (size_t)n + 1) * 2;
		char *grown = realloc(b->b_data, cap);
		if (grown == NULL) {
			b->b_failed = 1;
			return;
		}
		b->b_data = grown;
		b->b_cap = cap;
	}
}

void
tao__buf_json_str(struct tao_buf *b, const char *s)
{
	tao__buf_printf(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			tao__buf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			tao__buf_printf(b, "\\u%04x", ch);
		else
			tao__buf_printf(b, "%c", ch);
	}
	tao__buf_printf(b, "\"");
}

void
tao__buf_free(struct tao_buf *b)
{
	free(b->b_data);
	b->b_data = NULL;
	b->b_len = b->b_cap = 0;
	b->b_failed = 0;
}
