/*
 * t277-proxy-cost: what proto/proxy.c costs per header, printed as a
 * diag (the figure the README quotes) and bounded loosely so that a
 * parser that became quadratic or started allocating shows up:
 * v1 TCP4, v1 TCP6, v2 TCP4, v2 TCP6 with 3 TLVs, each parsed 200 000
 * times from a buffer that also holds the first frame after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "proto/proxy.h"
#include "lib/harness.h"
#include "lib/proxyhdr.h"

#define ROUNDS	200000

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void
measure(const char *what, const uint8_t *buf, size_t hlen, double bound)
{
	struct tao_proxy_hdr h;
	uint8_t all[512];
	size_t len = hlen + 8;
	int bad = 0;
	double best = 1e18;

	memcpy(all, buf, hlen);
	memset(all + hlen, 0x01, 8);	/* a frame follows */
	for (int rep = 0; rep < 3; rep++) {
		double t0 = now_ns();
		for (int i = 0; i < ROUNDS; i++) {
			bad |= tao__proxy_parse(all, len, &h) != TAO_PROXY_DONE;
			__asm__ volatile("" : : "r"(&h) : "memory");
		}
		double ns = (now_ns() - t0) / ROUNDS;
		if (ns < best)
			best = ns;
	}
	ok(!bad && h.ph_len == hlen, "%s: parsed, %zu header bytes", what,
	    hlen);
	diag("%s: %.1f ns per header", what, best);
	ok(best < bound, "  under %.0f ns", bound);
}

int
main(void)
{
	uint8_t b[512], tlv[64];
	size_t n, tl = 0;
	double bound = 2000 * th_timeout_scale();

	plan(8);
	if (strstr(getenv("TAO_BUILD") ? getenv("TAO_BUILD") : "", "asan"))
		bound *= 5;
	n = th_proxy_v1((char *)b, sizeof(b), "TCP4", "192.0.2.1",
	    "198.51.100.7", 56324, 443);
	measure("v1 TCP4", b, n, bound);
	n = th_proxy_v1((char *)b, sizeof(b), "TCP6",
	    "2001:db8:85a3::8a2e:370:7334", "2001:db8::2", 56324, 443);
	measure("v1 TCP6", b, n, bound);
	n = th_proxy_v2(b, sizeof(b), 0, 4, "192.0.2.1", "198.51.100.7",
	    56324, 443, NULL, 0);
	measure("v2 TCP4", b, n, bound);
	memcpy(tlv + tl, "\x01\x00\x02h2", 5), tl += 5;
	memcpy(tlv + tl, "\x02\x00\x0b" "example.com", 14), tl += 14;
	memcpy(tlv + tl, "\x04\x00\x05zzzzz", 8), tl += 8;
	n = th_proxy_v2(b, sizeof(b), 0, 6, "2001:db8::1", "2001:db8::2",
	    56324, 443, tlv, tl);
	measure("v2 TCP6 + 3 TLVs", b, n, bound);
	return done_testing();
}
