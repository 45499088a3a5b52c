/*
 * apps.h - taod's table of built-in applications (the apps themselves are
 * in apps/, and know nothing of this table).
 */
#ifndef TAO_TAOD_APPS_H
#define TAO_TAOD_APPS_H

#include "tao.h"

/*
 * Install the app `name` with `options`, the words after its name on the
 * `app` line joined by single spaces ("" for none).  0, or -1 with errno
 * ENOENT (no app has this name) or EINVAL (it does not take these
 * options); nothing is installed then.
 */
int		 tao_app_install(struct tao_server *, const char *name,
		    const char *options);
/* 1 if name is a built-in app. */
int		 tao_app_known(const char *name);
/* "echo, chat, time, ...": the names in the table, for messages. */
const char	*tao_app_names(void);

#endif
