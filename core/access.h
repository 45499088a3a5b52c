/*
 * access.h - what a listener checks before it serves a connection:
 * the PROXY protocol header and its allow/deny rules.  Filled by the
 * master's config parser (master/config-access.c), one per listen line;
 * a worker reads its generation's copy (worker/access.c, worker/proxy.c).
 * The per-address limit, max_connections_per_ip, is server-wide and lives
 * in struct tao_settings.
 */
#ifndef TAO_CORE_ACCESS_H
#define TAO_CORE_ACCESS_H

#include <stdint.h>

#include "proto/acl.h"

#define TAO_ACL_MAX_RULES	64	/* allow/deny lines per listener */
#define TAO_SHM_PER_IP_MAX	1000000	/* max_connections_per_ip */

struct tao_listen_access {
	int			la_proxy;	/* expect a PROXY header */
	int			la_nrules;
	struct tao_acl_rule	la_rules[TAO_ACL_MAX_RULES];
};

#endif
