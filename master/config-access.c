/*
 * config-access.c - the access directives of taod.conf(5):
 *
 *	listen 0.0.0.0:7000 tlv proxy	a PROXY v1/v2 header first
 *	allow 10.0.0.0/8		rules of the listen line above,
 *	allow 2001:db8::/32		first match wins; none matching:
 *	deny all			allowed (nginx's semantics)
 *	max_connections_per_ip 50	server-wide, 0 = off
 *
 * allow and deny belong to the listen line before them, so each listener
 * has its own list; one before any listen line is an error (it would
 * silently apply to nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/buf.h"
#include "master/config.h"
#include "proto/acl.h"

int
tao__config_listen_flag(struct tao_config *cf, const char *word)
{
	if (strcmp(word, "tls") == 0)
		cf->cf_listens[cf->cf_nlistens].lc_tls = 1;
	else if (strcmp(word, "proxy") == 0)
		cf->cf_access[cf->cf_nlistens].la_proxy = 1;
	else
		return 0;
	return 1;
}

static int
add_rule(struct tao_config *cf, const char *name, int allow,
    const char *text, char *msg, size_t msglen)
{
	struct tao_listen_access *la;
	struct tao_acl_rule rule;
	const char *why;

	if (cf->cf_nlistens == 0) {
		snprintf(msg, msglen, "%s: no listen line above it (rules "
		    "belong to the listen line they follow)", name);
		return -1;
	}
	la = &cf->cf_access[cf->cf_nlistens - 1];
	if (la->la_nrules == TAO_ACL_MAX_RULES) {
		snprintf(msg, msglen, "%s: at most %d allow/deny lines per "
		    "listener", name, TAO_ACL_MAX_RULES);
		return -1;
	}
	if (tao__acl_parse(text, &rule, &why) == -1) {
		snprintf(msg, msglen, "%s: '%s': %s", name, text, why);
		return -1;
	}
	rule.ar_allow = allow ? TAO_ACL_ALLOW : TAO_ACL_DENY;
	la->la_rules[la->la_nrules++] = rule;
	return 0;
}

int
tao__config_set_allow(struct tao_config *cf, char **argv, int argc,
    char *msg, size_t msglen)
{
	(void)argc;
	return add_rule(cf, "allow", 1, argv[1], msg, msglen);
}

int
tao__config_set_deny(struct tao_config *cf, char **argv, int argc,
    char *msg, size_t msglen)
{
	(void)argc;
	return add_rule(cf, "deny", 0, argv[1], msg, msglen);
}

int
tao__config_set_per_ip(struct tao_config *cf, char **argv, int argc,
    char *msg, size_t msglen)
{
	unsigned long long v;
	char *end;

	(void)argc;
	if (argv[1][0] < '0' || argv[1][0] > '9' ||
	    (v = strtoull(argv[1], &end, 10), *end != '\0') ||
	    v > TAO_SHM_PER_IP_MAX) {
		snprintf(msg, msglen, "max_connections_per_ip: want a number "
		    "from 0 (off) to %u, not '%s'", TAO_SHM_PER_IP_MAX,
		    argv[1]);
		return -1;
	}
	cf->cf_settings.st_max_conns_per_ip = (uint32_t)v;
	return 0;
}

void
tao__config_print_access(const struct tao_config *cf, int listener,
    struct tao_buf *b, int json)
{
	const struct tao_listen_access *la = &cf->cf_access[listener];
	char text[80];

	if (json)
		tao__buf_printf(b, ",\"proxy\":%s,\"rules\":[",
		    la->la_proxy ? "true" : "false");
	for (int i = 0; i < la->la_nrules; i++) {
		tao__acl_format(&la->la_rules[i], text, sizeof(text));
		if (json) {
			tao__buf_printf(b, "%s", i ? "," : "");
			tao__buf_json_str(b, text);
		} else
			tao__buf_printf(b, "%s\n", text);
	}
	if (json)
		tao__buf_printf(b, "]");
}
