/*
 * apps.c - taod's table of built-in applications, found by the name on
 * the config's `app` line.
 */
#include <errno.h>
#include <string.h>

#include "apps/apps.h"
#include "taod/apps.h"

static const struct {
	const char	*name;
	int		(*install)(struct tao_server *, const char *);
} apps[] = {
	{ "echo",	tao_app_echo },
	{ "chat",	tao_app_chat },
	{ "time",	tao_app_time },
	{ "pingpong",	tao_app_pingpong },
};

int
tao_app_install(struct tao_server *s, const char *name, const char *options)
{
	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		if (strcmp(apps[i].name, name) == 0) {
			if (apps[i].install(s, options) == -1) {
				errno = EINVAL;
				return -1;
			}
			return 0;
		}
	errno = ENOENT;
	return -1;
}

int
tao_app_known(const char *name)
{
	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		if (strcmp(apps[i].name, name) == 0)
			return 1;
	return 0;
}

const char *
tao_app_names(void)
{
	static char names[128];

	if (names[0] == '\0')
		for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
			if (i > 0)
				strlcat(names, ", ", sizeof(names));
			strlcat(names, apps[i].name, sizeof(names));
		}
	return names;
}
