/*
 * module.c - app modules: dlopen, the versioned entry point, init.
 *
 * Runs in the master before the first fork, so every worker inherits the
 * loaded module and whatever its init registered.  RTLD_NOW: a module
 * with a symbol taod lacks fails here, at `taod -t`, and not in a worker
 * at its first message.  The module's calls into libtao resolve to taod's
 * own copy, which taod exports for that (GNUmakefile: taod.dynlist).
 */
#include <dlfcn.h>
#include <stdio.h>

#include "taod/module.h"

int
tao_module_load(struct tao_server *s, const char *path, int argc,
    char **argv, char *err, size_t errlen)
{
	const struct tao_module *m;
	void *handle;
	int rc;

	if ((handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "cannot load: %s", dlerror());
		return -1;
	}
	if ((m = dlsym(handle, "tao_module_v1")) == NULL) {
		snprintf(err, errlen, "no tao_module_v1 symbol (not a tao "
		    "module, or one for another major version)");
		goto fail;
	}
	if (m->abi != TAO_MODULE_ABI) {
		snprintf(err, errlen, "built for module ABI %u, this taod "
		    "speaks ABI %u; rebuild it against this libtao",
		    (unsigned)m->abi, (unsigned)TAO_MODULE_ABI);
		goto fail;
	}
	if (m->init == NULL) {
		snprintf(err, errlen, "module %s has no init",
		    m->name != NULL ? m->name : "?");
		goto fail;
	}
	/* From here on the module stays mapped, also when init fails: it
	 * may have registered some of its functions before failing. */
	if ((rc = m->init(s, argc, argv)) < 0) {
		snprintf(err, errlen, "module %s: init failed: %s",
		    m->name != NULL ? m->name : "?", tao_strerror(rc));
		return -1;
	}
	return 0;
fail:
	dlclose(handle);	/* nothing of it was registered */
	return -1;
}
