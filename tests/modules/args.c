/*
 * args.c - a test module (t232): answers every frame with the words of
 * its app line, "argc=N a b c", and refuses the argument "fail".
 */
#include <stdio.h>
#include <string.h>

#include <tao.h>

static char	words[256];
static size_t	wlen;

static void
reply(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, words, wlen);
}

static int
init(struct tao_server *s, int argc, char **argv)
{
	int n = snprintf(words, sizeof(words), "argc=%d", argc);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "fail") == 0)
			return TAO_EINVAL;
		n += snprintf(words + n, sizeof(words) - (size_t)n, " %s",
		    argv[i]);
	}
	wlen = (size_t)n;
	return tao_server_on_message(s, reply, NULL);
}

TAO_MODULE("args", init);
