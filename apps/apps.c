/*
 * apps.c - the table of built-in applications.
 */
#include <string.h>

#include "apps/apps.h"

static const struct {
	const char	*name;
	void		(*install)(struct tao_server *);
} apps[] = {
	{ "echo",	tao_app_echo },
	{ "chat",	tao_app_chat },
	{ "time",	tao_app_time },
};

int
tao_app_install(struct tao_server *s, const char *name)
{
	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		if (strcmp(apps[i].name, name) == 0) {
			apps[i].install(s);
			return 0;
		}
	return -1;
}

const char *
tao_app_names(void)
{
	return "echo, chat, time";
}
