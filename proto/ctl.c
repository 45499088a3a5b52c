/*
 * ctl.c - the control protocol's two parsers, the master's for a request
 * and taoctl's for the head of a reply (pure functions: fuzzed).
 */
#include <stdio.h>
#include <string.h>

#include "proto/ctl.h"

#define VERSION_MAX_DIGITS	6

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
	{ "upgrade",	TAO_CTL_UPGRADE, 0 },
};

const char *
tao__ctl_cmd_name(int cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].cmd == cmd)
			return commands[i].name;
	return "?";
}

/*
 * "TAO/<N>" at the start of buf[0, len), N decimal without a leading zero,
 * followed by a byte that is not a digit: 1 (*version, and *end = the
 * offset of that byte), 0 the bytes so far may still become one, -1 not
 * a version word.
 */
static int
version_word(const char *buf, size_t len, int *version, size_t *end)
{
	static const char tag[] = "TAO/";
	const size_t taglen = sizeof(tag) - 1;
	size_t i;
	int v = 0;

	for (i = 0; i < taglen; i++) {
		if (i == len)
			return 0;
		if (buf[i] != tag[i])
			return -1;
	}
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (i - taglen == VERSION_MAX_DIGITS ||
		    (i > taglen && buf[taglen] == '0'))
			return -1;
		v = v * 10 + (buf[i] - '0');
	}
	if (i == len)
		return 0;
	if (i == taglen)
		return -1;
	*version = v;
	*end = i;
	return 1;
}

/* The words of a request after its version: command and argument. */
static int
parse_command(char **words, int n, struct tao_ctl_request *req, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(words[0], commands[i].name) != 0)
			continue;
		req->cmd = commands[i].cmd;
		for (int j = 1; j < n; j++) {
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

/* Check the version word; 0, or -1 with the refusal in err. */
static int
check_version(const char *word, struct tao_ctl_request *req, char *err,
    size_t errlen)
{
	size_t len = strlen(word), end;

	/* Its NUL ends the number, so "again" cannot happen here. */
	if (version_word(word, len + 1, &req->version, &end) != 1 ||
	    end != len) {
		req->version = 0;
		snprintf(err, errlen, "not a control request (want \"%s "
		    "COMMAND\")", TAO_CTL_VERSION);
		return -1;
	}
	if (req->version != TAO_CTL_PROTO) {
		snprintf(err, errlen, "taod speaks control protocol %d, the "
		    "request is in protocol %d; use the taoctl of the same "
		    "release", TAO_CTL_PROTO, req->version);
		return -1;
	}
	return 0;
}

int
tao__ctl_parse(const char *buf, size_t len, struct tao_ctl_request *req,
    char *err, size_t errlen)
{
	char line[TAO_CTL_MAX_REQUEST + 1], *words[4], *save = NULL, *w;
	int n = 0;

	memset(req, 0, sizeof(*req));
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
	if (n == 0) {
		snprintf(err, errlen, "request empty or too long");
		return -1;
	}
	if (check_version(words[0], req, err, errlen) == -1)
		return -1;
	if (n < 2) {
		snprintf(err, errlen, "no command");
		return -1;
	}
	return parse_command(words + 1, n - 1, req, err, errlen);
}

/* 1 buf starts with word, 0 buf is a shorter prefix of it, -1 neither. */
static int
starts_with(const char *buf, size_t len, const char *word)
{
	size_t n = strlen(word);

	if (memcmp(buf, word, len < n ? len : n) != 0)
		return -1;
	return len >= n ? 1 : 0;
}

/* "ok\n" or "error " at buf + at. */
static int
status_word(const char *buf, size_t len, size_t at, struct tao_ctl_reply *r)
{
	int ok = starts_with(buf + at, len - at, "ok\n");
	int error = starts_with(buf + at, len - at, "error ");

	if (ok == 1 || error == 1) {
		r->ok = ok == 1;
		r->body = at + (ok == 1 ? 3 : 6);
		return 1;
	}
	return ok == 0 || error == 0 ? 0 : -1;
}

int
tao__ctl_reply_head(const char *buf, size_t len, struct tao_ctl_reply *r)
{
	size_t end = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = version_word(buf, len, &r->version, &end)) == 0)
		return 0;
	if (rc == -1) {
		/* No version word: version 1, or not a reply at all. */
		r->version = 1;
		return status_word(buf, len, 0, r);
	}
	if (r->version != TAO_CTL_PROTO) {
		r->body = end;
		return 1;
	}
	if (buf[end] != ' ')
		return -1;
	return status_word(buf, len, end + 1, r);
}
