/*
 * acl.c - CIDR rules and first-match evaluation (contract in acl.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/acl.h"

/* Does `ip` agree with `net` on the first `prefix` bits? */
static int
prefix_match(const uint8_t *ip, const uint8_t *net, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (memcmp(ip, net, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return ((ip[whole] ^ net[whole]) & mask) == 0;
}

static int
host_bits_zero(const uint8_t *net, unsigned prefix, unsigned bits)
{
	unsigned i;

	for (i = prefix; i < bits; i++)
		if (net[i / 8] & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

static int
parse_prefix(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int
tao__acl_parse(const char *text, struct tao_acl_rule *rule, const char **why)
{
	char addr[64];
	const char *slash;
	unsigned bits, prefix;
	size_t n;

	memset(rule, 0, sizeof(*rule));
	if (strcmp(text, "all") == 0) {
		rule->ar_any = 1;
		return 0;
	}
	slash = strchr(text, '/');
	n = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof(addr)) {
		*why = "not an IP address";
		return -1;
	}
	memcpy(addr, text, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, rule->ar_net.ip_bytes) == 1) {
		rule->ar_net.ip_family = TAO_IP_V4;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, rule->ar_net.ip_bytes) == 1) {
		rule->ar_net.ip_family = TAO_IP_V6;
		bits = 128;
	} else {
		*why = "not an IP address";
		return -1;
	}
	prefix = bits;
	if (slash != NULL && parse_prefix(slash + 1, bits, &prefix) == -1) {
		*why = bits == 32 ? "prefix length must be 0..32" :
		    "prefix length must be 0..128";
		return -1;
	}
	if (!host_bits_zero(rule->ar_net.ip_bytes, prefix, bits)) {
		*why = "address has bits set beyond the prefix length";
		return -1;
	}
	if (bits == 128 && prefix >= 96) {
		/* ::ffff:a.b.c.d/N is the IPv4 rule a.b.c.d/(N-96). */
		struct tao_ipaddr un = rule->ar_net;

		tao__ipaddr_unmap(&un);
		if (un.ip_family == TAO_IP_V4) {
			rule->ar_net = un;
			prefix -= 96;
		}
	}
	rule->ar_prefix = (uint8_t)prefix;
	return 0;
}

int
tao__acl_check(const struct tao_acl_rule *rules, size_t n,
    const struct tao_ipaddr *peer)
{
	struct tao_ipaddr ip = *peer;
	size_t i;

	tao__ipaddr_unmap(&ip);
	for (i = 0; i < n; i++) {
		const struct tao_acl_rule *r = &rules[i];

		if (r->ar_any || (r->ar_net.ip_family == ip.ip_family &&
		    prefix_match(ip.ip_bytes, r->ar_net.ip_bytes, r->ar_prefix)))
			return r->ar_allow ? TAO_ACL_ALLOW : TAO_ACL_DENY;
	}
	return TAO_ACL_ALLOW;
}

const char *
tao__acl_format(const struct tao_acl_rule *r, char *buf, size_t size)
{
	char ip[64];

	if (r->ar_any)
		snprintf(buf, size, "%s all", r->ar_allow ? "allow" : "deny");
	else
		snprintf(buf, size, "%s %s/%u", r->ar_allow ? "allow" : "deny",
		    tao__ipaddr_format(&r->ar_net, ip, sizeof(ip)),
		    (unsigned)r->ar_prefix);
	return buf;
}
