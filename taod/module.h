/*
 * module.h - loading an app module (tao.h, "Modules") into taod.
 */
#ifndef TAO_TAOD_MODULE_H
#define TAO_TAOD_MODULE_H

#include <stddef.h>

#include "tao.h"

/*
 * dlopen path, check its tao_module_v1 and run its init with argv
 * (argc words, argv[argc] NULL).  0, or -1 with the reason in err ("cannot
 * load: ...", "module ABI 2, taod speaks 1 ...", "init failed: ...").
 * The module stays loaded for the life of the process.
 */
int	tao_module_load(struct tao_server *, const char *path, int argc,
	    char **argv, char *err, size_t errlen);

#endif
