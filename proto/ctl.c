/*
 * ctl.c - parsing control requests (a pure function: fuzzed).
 */
#include <stdio.h>
#include <string.h>

#include "proto/ctl.h"

static const struct {
	const char	*name;
	int		 cmd;
	int		 json_ok;
} commands[] = {
	{ "stop",	TAO_CTL_STOP,	0 },
	{ "reload",	TAO_CTL_RELOAD,	0 },
	{ "status",	TAO_CTL_STATUS,	1 },
	{ "stats",	TAO_CTL_STATS,	1 },
	{ "conns",	TAO_CTL_CONNS,	1 },
	{ "config",	TAO_CTL_CONFIG,	1 },
};

const char *
tao__ctl_cmd_name(int cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].cmd == cmd)
			return commands[i].name;
	return "?";
}

int
tao__ctl_parse(const char *buf, size_t len, struct tao_ctl_request *req,
    char *err, size_t errlen)
{
	char line[TAO_CTL_MAX_REQUEST + 1], *words[4], *save = NULL, *w;
	int n = 0;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len > TAO_CTL_MAX_REQUEST) {
		snprintf(err, errlen, "request empty or too long");
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL || memchr(buf, '\n', len) != NULL) {
		snprintf(err, errlen, "malformed request");
		return -1;
	}
	memcpy(line, buf, len);
	line[len] = '\0';
	for (w = strtok_r(line, " \t\r", &save); w != NULL;
	    w = strtok_r(NULL, " \t\r", &save)) {
		if (n == 4) {
			snprintf(err, errlen, "too many words");
			return -1;
		}
		words[n++] = w;
	}
	if (n < 2 || strcmp(words[0], TAO_CTL_VERSION) != 0) {
		snprintf(err, errlen, "unsupported protocol (want %s)",
		    TAO_CTL_VERSION);
		return -1;
	}
	memset(req, 0, sizeof(*req));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(words[1], commands[i].name) != 0)
			continue;
		req->cmd = commands[i].cmd;
		for (int j = 2; j < n; j++) {
			if (strcmp(words[j], "--json") == 0 &&
			    commands[i].json_ok)
				req->json = 1;
			else {
				snprintf(err, errlen, "%s: unexpected "
				    "argument", commands[i].name);
				return -1;
			}
		}
		return 0;
	}
	snprintf(err, errlen, "unknown command");
	return -1;
}
