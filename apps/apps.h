/*
 * apps.h - the applications built into taod.  Each installs its handlers
 * on a server before it runs.
 */
#ifndef TAO_APPS_H
#define TAO_APPS_H

#include "tao.h"

/* 0, or -1 if no app has this name. */
int		 tao_app_install(struct tao_server *, const char *name);
const char	*tao_app_names(void);	/* "echo, chat, time" */

void	tao_app_echo(struct tao_server *);
void	tao_app_chat(struct tao_server *);
void	tao_app_time(struct tao_server *);

#endif
