/*
 * apps.h - the applications built into taod.  Each installs its handlers
 * on a server before it runs, using only the public API (tao.h).
 */
#ifndef TAO_APPS_H
#define TAO_APPS_H

#include "tao.h"

/* Each returns 0, or -1 if it does not know an option (a space-separated
 * list, "" for none).  taod picks one by name (taod/apps.c). */
int	tao_app_echo(struct tao_server *, const char *options);
int	tao_app_chat(struct tao_server *, const char *options);
int	tao_app_time(struct tao_server *, const char *options);
int	tao_app_pingpong(struct tao_server *, const char *options);

#endif
