/* badabi.c - a test module (t232) built for a module ABI taod does not
 * speak: it must be refused before its init runs. */
#include <stdlib.h>

#include <tao.h>

static int
init(struct tao_server *s, int argc, char **argv)
{
	(void)s;
	(void)argc;
	(void)argv;
	abort();
}

const struct tao_module tao_module_v1 = { TAO_MODULE_ABI + 1, "badabi",
    init };
