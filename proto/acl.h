/*
 * acl.h - allow/deny lists of CIDR blocks, first match wins.
 *
 *	allow 10.0.0.0/8
 *	allow 2001:db8::/32
 *	deny  all
 *
 * A peer is checked against the rules in order; the first rule whose block
 * contains it decides.  No rule matching means allowed, as nginx's access
 * module does: a list meant to admit only some clients ends in `deny all`.
 * IPv4 rules match IPv4 peers and IPv4-mapped IPv6 peers (::ffff:a.b.c.d,
 * what a dual-stack [::] listener reports); a rule written in mapped form
 * (::ffff:10.0.0.0/104) is an IPv4 rule.  IPv6 rules match IPv6 peers.
 *
 * The caller owns the rule array (proto/ allocates nothing).
 */
#ifndef TAO_PROTO_ACL_H
#define TAO_PROTO_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ipaddr.h"

#define TAO_ACL_DENY	0
#define TAO_ACL_ALLOW	1

struct tao_acl_rule {
	uint8_t		 ar_allow;	/* TAO_ACL_ALLOW or TAO_ACL_DENY */
	uint8_t		 ar_prefix;	/* 0..32 or 0..128 */
	uint8_t		 ar_any;	/* "all": every family */
	struct tao_ipaddr ar_net;	/* host bits are zero */
};

/*
 * Parse "A.B.C.D[/N]", "IPV6[/N]" or "all" into *rule (ar_allow is set by
 * the caller).  A bare address is a single host.  Returns 0, or -1 with a
 * static message in *why: a bad address, a bad prefix, or host bits set
 * below the prefix (10.0.0.1/8 is refused as a likely typo).
 */
int	tao__acl_parse(const char *text, struct tao_acl_rule *rule,
	    const char **why);

/* TAO_ACL_ALLOW or TAO_ACL_DENY for `peer` (which may be v4-mapped). */
int	tao__acl_check(const struct tao_acl_rule *rules, size_t n,
	    const struct tao_ipaddr *peer);

/* "allow 10.0.0.0/8" into buf, for taoctl config and reload diffs. */
const char *tao__acl_format(const struct tao_acl_rule *, char *buf,
	    size_t size);

#endif /* TAO_PROTO_ACL_H */
