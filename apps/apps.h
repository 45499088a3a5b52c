/*
 * apps.h - the applications built into taod.  Each installs its handlers
 * on a server before it runs.
 */
#ifndef TAO_APPS_H
#define TAO_APPS_H

#include "tao.h"

/*
 * Install the app `name` with `options`, the words after its name on the
 * `app` line joined by single spaces ("" for none).  0, or -1 with errno
 * ENOENT (no app has this name) or EINVAL (it does not take these
 * options); nothing is installed then.
 */
int		 tao_app_install(struct tao_server *, const char *name,
		    const char *options);
const char	*tao_app_names(void);	/* "echo, chat, time, ..." */

/* Each returns 0, or -1 if it does not know an option. */
int	tao_app_echo(struct tao_server *, const char *options);
int	tao_app_chat(struct tao_server *, const char *options);
int	tao_app_time(struct tao_server *, const char *options);
int	tao_app_pingpong(struct tao_server *, const char *options);

#endif
