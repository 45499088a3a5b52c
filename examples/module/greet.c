/*
 * greet.c - a complete taod app module, built outside the tao tree:
 *
 *	make                       (cc -shared -fPIC $(pkg-config --cflags tao))
 *	taod -c greet.conf         (app /path/to/greet.so Hello)
 *
 * Every type-1 frame is answered with "GREETING, PAYLOAD!", where the
 * greeting is the argument of the app line ("Hello" unless given).  The
 * module is not linked with libtao: taod provides it (tao.h, Modules).
 */
#include <stdio.h>
#include <string.h>

#include <tao.h>

#define GREET_TYPE	1

static char	greeting[64] = "Hello";

static void
greet(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	char reply[256];
	int n;

	(void)arg;
	n = snprintf(reply, sizeof(reply), "%s, %.*s!", greeting,
	    (int)(m->len < 128 ? m->len : 128), (const char *)m->data);
	tao_conn_send(c, GREET_TYPE, reply, (size_t)n);
}

/* argv[0] is the app's name or path, argv[1..] the words after it. */
static int
init(struct tao_server *s, int argc, char **argv)
{
	if (argc > 2)
		return TAO_EINVAL;	/* one greeting at most */
	if (argc == 2 && snprintf(greeting, sizeof(greeting), "%s",
	    argv[1]) >= (int)sizeof(greeting))
		return TAO_EINVAL;
	return tao_server_register(s, GREET_TYPE, NULL, greet, NULL);
}

TAO_MODULE("greet", init);
