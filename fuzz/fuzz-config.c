/*
 * fuzz-config.c - the taod.conf parser on arbitrary text.
 *
 * Invariants: every line is accepted or rejected with a "FILE:LINE: "
 * message that names the right line; nothing crashes or reads out of
 * bounds; an accepted configuration keeps every value in its documented
 * range; parsing the same text twice gives the same result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/config.h"

static int
parse(const uint8_t *data, size_t size, struct tao_config *cf, char *err,
    size_t errlen, int *bad_line)
{
	char line[1100];
	size_t start = 0;
	int lineno = 0;

	tao__config_defaults(cf);
	*bad_line = 0;
	while (start < size) {
		size_t end = start;
		while (end < size && data[end] != '\n')
			end++;
		size_t len = end - start < sizeof(line) - 1 ? end - start :
		    sizeof(line) - 1;
		memcpy(line, data + start, len);
		line[len] = '\0';
		lineno++;
		if (memchr(line, '\0', len) == NULL &&
		    tao__config_line(cf, "fuzz", lineno, line, err, errlen) ==
		    -1) {
			*bad_line = lineno;
			return -1;
		}
		start = end + 1;
	}
	if (tao__config_finish(cf, err, errlen) == -1)
		return -1;
	/* No program codecs here: a listener naming one is an error. */
	return tao__config_codecs(cf, NULL, err, errlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tao_config a, b;
	char err_a[TAO_CONFIG_ERRLEN], err_b[TAO_CONFIG_ERRLEN], prefix[32];
	int bad_a, bad_b, rc_a, rc_b;

	tao__config_resolve_names = 0;
	rc_a = parse(data, size, &a, err_a, sizeof(err_a), &bad_a);
	rc_b = parse(data, size, &b, err_b, sizeof(err_b), &bad_b);
	if (rc_a != rc_b || bad_a != bad_b)
		abort();
	if (rc_a == -1) {
		if (strcmp(err_a, err_b) != 0)
			abort();
		if (bad_a > 0) {
			snprintf(prefix, sizeof(prefix), "fuzz:%d: ", bad_a);
			if (strncmp(err_a, prefix, strlen(prefix)) != 0)
				abort();
		}
		return 0;
	}
	if (a.cf_nlistens < 1 || a.cf_nlistens > TAO_MAX_LISTENS ||
	    a.cf_workers < 0 || a.cf_workers > TAO_MAX_WORKERS ||
	    a.cf_settings.st_max_frame < 1 ||
	    a.cf_settings.st_write_queue_max < 1024 ||
	    a.cf_max_connections < 1 || a.cf_max_old_generations < 1 ||
	    a.cf_log_level < 0 || a.cf_log_level > 3)
		abort();
	for (int i = 0; i < a.cf_nlistens; i++)
		if (a.cf_listens[i].lc_codec == NULL ||
		    memchr(a.cf_listens[i].lc_text, '\0',
		    sizeof(a.cf_listens[i].lc_text)) == NULL)
			abort();
	return 0;
}
