/*
 * t221-acl-cidr - allow/deny rules: CIDR parsing (IPv4, IPv6, "all",
 * v4-mapped forms, every refusal), prefix boundaries at every length, and
 * first-match-wins evaluation with v4-mapped peers.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "proto/acl.h"
#include "tap.h"

static struct tao_ipaddr
ip(const char *text)
{
	struct tao_ipaddr a = { 0 };

	if (inet_pton(AF_INET, text, a.ip_bytes) == 1)
		a.ip_family = TAO_IP_V4;
	else if (inet_pton(AF_INET6, text, a.ip_bytes) == 1)
		a.ip_family = TAO_IP_V6;
	else
		bail("test address does not parse");
	return a;
}

static void
parses(const char *text, const char *formatted)
{
	struct tao_acl_rule r;
	const char *why = NULL;
	char buf[128];

	if (tao__acl_parse(text, &r, &why) == -1) {
		ok(0, "parse %s", text);
		diag("  %s", why);
		return;
	}
	r.ar_allow = TAO_ACL_ALLOW;
	is_str(tao__acl_format(&r, buf, sizeof(buf)), formatted, "parse %s",
	    text);
}

static void
refuses(const char *text, const char *why_want)
{
	struct tao_acl_rule r;
	const char *why = NULL;

	ok(tao__acl_parse(text, &r, &why) == -1 && why != NULL &&
	    strstr(why, why_want) != NULL, "refuse '%s' (%s)", text,
	    why ? why : "accepted");
}

static void
test_parse(void)
{
	parses("10.0.0.0/8", "allow 10.0.0.0/8");
	parses("192.0.2.7", "allow 192.0.2.7/32");
	parses("0.0.0.0/0", "allow 0.0.0.0/0");
	parses("2001:db8::/32", "allow 2001:db8::/32");
	parses("::1", "allow ::1/128");
	parses("::/0", "allow ::/0");
	parses("::ffff:10.0.0.0/104", "allow 10.0.0.0/8");
	parses("::ffff:192.0.2.7", "allow 192.0.2.7/32");
	parses("::ffff:0:0/96", "allow 0.0.0.0/0");
	parses("all", "allow all");

	refuses("", "not an IP");
	refuses("/8", "not an IP");
	refuses("10.0.0/8", "not an IP");
	refuses("10.0.0.256", "not an IP");
	refuses("010.0.0.0/8", "not an IP");
	refuses("example.com", "not an IP");
	refuses("10.0.0.0/33", "0..32");
	refuses("10.0.0.0/", "0..32");
	refuses("10.0.0.0/-1", "0..32");
	refuses("10.0.0.0/08", "0..32");
	refuses("10.0.0.0/8x", "0..32");
	refuses("10.0.0.0/8/8", "0..32");
	refuses("::/129", "0..128");
	refuses("10.0.0.1/8", "bits set");
	refuses("10.128.0.0/8", "bits set");
	refuses("2001:db8::1/64", "bits set");
	refuses("ALL", "not an IP");
	refuses("1111111111111111111111111111111111111111111111111111111111"
	    "1111111111", "not an IP");
}

static int
check(const char *rules, const char *peer)
{
	struct tao_acl_rule r[16];
	struct tao_ipaddr p = ip(peer);
	char copy[256], *word, *save = NULL;
	const char *why;
	size_t n = 0;

	strlcpy(copy, rules, sizeof(copy));
	for (word = strtok_r(copy, " ", &save); word != NULL;
	    word = strtok_r(NULL, " ", &save)) {
		int allow = strcmp(word, "allow") == 0;

		word = strtok_r(NULL, " ", &save);
		if (word == NULL || tao__acl_parse(word, &r[n], &why) == -1)
			bail("bad rule in test");
		r[n++].ar_allow = (uint8_t)allow;
	}
	return tao__acl_check(r, n, &p);
}

#define A	TAO_ACL_ALLOW
#define D	TAO_ACL_DENY

static void
test_check(void)
{
	static const struct {
		const char	*rules, *peer;
		int		 want;
	} c[] = {
		{ "",					"1.2.3.4",	A },
		{ "deny all",				"1.2.3.4",	D },
		{ "deny all",				"::1",		D },
		{ "allow 10.0.0.0/8 deny all",		"10.255.255.255", A },
		{ "allow 10.0.0.0/8 deny all",		"11.0.0.0",	D },
		{ "allow 10.0.0.0/8 deny all",		"9.255.255.255", D },
		{ "deny 10.1.0.0/16 allow 10.0.0.0/8 deny all", "10.1.2.3", D },
		{ "deny 10.1.0.0/16 allow 10.0.0.0/8 deny all", "10.2.2.3", A },
		/* first match wins: the later, narrower allow never runs */
		{ "deny 10.0.0.0/8 allow 10.1.0.0/16",	"10.1.2.3",	D },
		{ "deny 192.0.2.1",			"192.0.2.1",	D },
		{ "deny 192.0.2.1",			"192.0.2.2",	A },
		/* v4-mapped peers match IPv4 rules, not IPv6 ones */
		{ "allow 10.0.0.0/8 deny all",		"::ffff:10.9.9.9", A },
		{ "deny 10.0.0.0/8",			"::ffff:10.9.9.9", D },
		{ "deny ::/0",				"::ffff:10.9.9.9", A },
		{ "deny ::/0",				"10.9.9.9",	A },
		{ "deny 0.0.0.0/0",			"::1",		A },
		{ "deny 0.0.0.0/0",			"::ffff:1.1.1.1", D },
		{ "deny ::ffff:10.0.0.0/104",		"10.0.0.1",	D },
		{ "allow 2001:db8::/32 deny all",	"2001:db8:ffff::1", A },
		{ "allow 2001:db8::/32 deny all",	"2001:db9::1",	D },
		{ "allow 2001:db8::/33 deny all",	"2001:db8:8000::", D },
		{ "allow 2001:db8::/33 deny all",	"2001:db8:7fff::", A },
		{ "deny ::1 allow all",			"::1",		D },
		{ "deny ::1 allow all",			"::2",		A },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		is_int(check(c[i].rules, c[i].peer), c[i].want, "[%s] %s -> %s",
		    c[i].rules, c[i].peer, c[i].want == A ? "allow" : "deny");
}

/* Every prefix length: the block's first and last address match, the
 * addresses just outside do not. */
static void
test_boundaries(void)
{
	struct tao_acl_rule r;
	struct tao_ipaddr in, out;
	const char *why;
	char text[64];
	unsigned len, bad = 0, fam, bits;

	for (fam = 0; fam < 2; fam++) {
		bits = fam == 0 ? 32 : 128;
		for (len = 1; len <= bits; len++) {
			/* net = 1 bit set at position len-1; host bits 0 */
			struct tao_ipaddr net = { 0 };
			char a[64];

			net.ip_family = fam == 0 ? TAO_IP_V4 : TAO_IP_V6;
			if (fam == 1 && len > 3)	/* never v4-mapped */
				net.ip_bytes[0] = 0x20;
			net.ip_bytes[(len - 1) / 8] |=
			    (uint8_t)(0x80 >> ((len - 1) % 8));
			snprintf(text, sizeof(text), "%s/%u",
			    tao__ipaddr_format(&net, a, sizeof(a)), len);
			if (tao__acl_parse(text, &r, &why) == -1) {
				bad++;
				continue;
			}
			r.ar_allow = TAO_ACL_DENY;
			in = net;	/* last address of the block */
			for (unsigned i = len; i < bits; i++)
				in.ip_bytes[i / 8] |= (uint8_t)(0x80 >> (i % 8));
			out = net;	/* flip the last prefix bit */
			out.ip_bytes[(len - 1) / 8] ^=
			    (uint8_t)(0x80 >> ((len - 1) % 8));
			if (tao__acl_check(&r, 1, &net) != D ||
			    tao__acl_check(&r, 1, &in) != D ||
			    tao__acl_check(&r, 1, &out) != A)
				bad++;
		}
	}
	is_int(bad, 0, "every IPv4 and IPv6 prefix length: block edges in, "
	    "neighbours out");
}

int
main(void)
{
	plan(0);
	test_parse();
	test_check();
	test_boundaries();
	return done_testing();
}
