/*
 * module.c - the entry point that makes a built-in app a module too
 * (build/modules/NAME.so): compiled once per app with TAO_APP_NAME
 * ("echo") and TAO_APP_INSTALL (tao_app_echo) defined by the GNUmakefile,
 * and linked with that app's file.  The app itself does not change: the
 * module's arguments become its option string.
 */
#include <string.h>

#include "apps/apps.h"

static int
init(struct tao_server *s, int argc, char **argv)
{
	char options[256] = "";

	for (int i = 1; i < argc; i++)
		if ((i > 1 && strlcat(options, " ", sizeof(options)) >=
		    sizeof(options)) || strlcat(options, argv[i],
		    sizeof(options)) >= sizeof(options))
			return TAO_EINVAL;
	return TAO_APP_INSTALL(s, options) == -1 ? TAO_EINVAL : 0;
}

TAO_MODULE(TAO_APP_NAME, init);
