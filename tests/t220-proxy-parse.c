/*
 * t220-proxy-parse - the PROXY protocol v1/v2 header parser: every valid
 * header cut at every byte is AGAIN until its last byte and DONE after it
 * (with the bytes after the header left alone), every malformed shape is
 * ERROR from the first byte that proves it and for every longer prefix,
 * the length bounds are exact, and the parser never reads past the buffer
 * (each call gets an exact-size heap copy, so ASan sees any overread).
 * Prints the parse cost per header.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/proxy.h"
#include "tap.h"

#define TRAILER		"\x16\x03\x01 client bytes"

struct valid {
	const char	*name;
	uint8_t		 bytes[TAO_PROXY_V2_MAX + 64];
	size_t		 len;
	int		 version, local;
	const char	*src, *dst;		/* NULL when local */
	unsigned	 sport, dport;
};

static struct valid	valid[32];
static size_t		nvalid;

/* Parse an exact-size heap copy of b[0..n). */
static int
parse(const uint8_t *b, size_t n, struct tao_proxy_hdr *h)
{
	uint8_t *copy = malloc(n ? n : 1);
	int r;

	if (copy == NULL)
		bail("malloc");
	memcpy(copy, b, n);
	r = tao__proxy_parse(copy, n, h);
	free(copy);
	return r;
}

static struct valid *
add(const char *name, int version, int local, const char *src,
    const char *dst, unsigned sport, unsigned dport)
{
	struct valid *v = &valid[nvalid++];

	v->name = name;
	v->version = version;
	v->local = local;
	v->src = src;
	v->dst = dst;
	v->sport = sport;
	v->dport = dport;
	return v;
}

static void
add_v1(const char *name, const char *line, int local, const char *src,
    const char *dst, unsigned sport, unsigned dport)
{
	struct valid *v = add(name, 1, local, src, dst, sport, dport);

	v->len = strlen(line);
	memcpy(v->bytes, line, v->len);
}

static const uint8_t sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* A v2 header: fixed part, address block for `fam`, then `tlv` bytes. */
static void
add_v2(const char *name, uint8_t cmd, uint8_t fam, const char *src,
    const char *dst, unsigned sport, unsigned dport, const uint8_t *tlv,
    size_t tlvlen)
{
	struct valid *v = add(name, 2, cmd == 0x20 || fam == 0x00 ||
	    fam == 0x31, NULL, NULL, sport, dport);
	uint8_t *p = v->bytes + 16;
	size_t alen = fam == 0x11 ? 12 : fam == 0x21 ? 36 :
	    fam == 0x31 ? 216 : 0;
	int af = fam == 0x11 ? AF_INET : AF_INET6;
	size_t n = fam == 0x11 ? 4 : 16;

	memcpy(v->bytes, sig, 12);
	v->bytes[12] = cmd;
	v->bytes[13] = fam;
	v->bytes[14] = (uint8_t)((alen + tlvlen) >> 8);
	v->bytes[15] = (uint8_t)(alen + tlvlen);
	memset(p, 0x5a, alen);
	if (src != NULL) {
		inet_pton(af, src, p);
		inet_pton(af, dst, p + n);
		p[2 * n] = (uint8_t)(sport >> 8);
		p[2 * n + 1] = (uint8_t)sport;
		p[2 * n + 2] = (uint8_t)(dport >> 8);
		p[2 * n + 3] = (uint8_t)dport;
		if (!v->local) {
			v->src = src;
			v->dst = dst;
		}
	}
	if (tlvlen > 0)
		memcpy(p + alen, tlv, tlvlen);
	v->len = 16 + alen + tlvlen;
}

static void
build_valid(void)
{
	static uint8_t big[TAO_PROXY_V2_MAX];
	static const uint8_t tlvs[] = {
		0x01, 0x00, 0x02, 'h', '2',		/* ALPN */
		0x04, 0x00, 0x00,			/* NOOP, empty */
		0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0,	/* SSL, sub-TLVs */
		0xea, 0x00, 0x03, 'v', 'p', 'c',	/* AWS */
	};
	char unk[TAO_PROXY_V1_MAX + 1];
	size_t bigtlv = TAO_PROXY_V2_MAX - 16 - 36;

	add_v1("v1 TCP4", "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n",
	    0, "192.0.2.1", "198.51.100.7", 56324, 443);
	add_v1("v1 TCP4 zero ports", "PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n",
	    0, "0.0.0.0", "255.255.255.255", 0, 0);
	add_v1("v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n",
	    0, "2001:db8::1", "2001:db8::2", 1, 65535);
	add_v1("v1 TCP6 longest (104 bytes)", "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n", 0,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535, 65535);
	add_v1("v1 TCP6 v4-mapped", "PROXY TCP6 ::ffff:10.1.2.3 ::1 80 81\r\n",
	    0, "::ffff:10.1.2.3", "::1", 80, 81);
	add_v1("v1 UNKNOWN", "PROXY UNKNOWN\r\n", 1, NULL, NULL, 0, 0);
	add_v1("v1 UNKNOWN with addresses",
	    "PROXY UNKNOWN ffff:: ffff:: 1 2\r\n", 1, NULL, NULL, 0, 0);
	memset(unk, 'x', sizeof(unk));
	memcpy(unk, "PROXY UNKNOWN ", 14);
	memcpy(unk + TAO_PROXY_V1_MAX - 2, "\r\n", 3);
	add_v1("v1 UNKNOWN of exactly 107 bytes", unk, 1, NULL, NULL, 0, 0);

	add_v2("v2 PROXY TCP4", 0x21, 0x11, "192.0.2.1", "198.51.100.7",
	    56324, 443, NULL, 0);
	add_v2("v2 PROXY TCP6", 0x21, 0x21, "2001:db8::1", "2001:db8::2",
	    1, 65535, NULL, 0);
	add_v2("v2 PROXY TCP4 with TLVs", 0x21, 0x11, "10.0.0.1", "10.0.0.2",
	    1234, 5678, tlvs, sizeof(tlvs));
	add_v2("v2 LOCAL", 0x20, 0x00, NULL, NULL, 0, 0, NULL, 0);
	add_v2("v2 LOCAL with a TCP4 block", 0x20, 0x11, "1.1.1.1", "2.2.2.2",
	    1, 2, NULL, 0);
	add_v2("v2 LOCAL, unknown family, junk body", 0x20, 0x77, NULL, NULL,
	    0, 0, (const uint8_t *)"\xff\xff", 2);
	add_v2("v2 PROXY UNSPEC", 0x21, 0x00, NULL, NULL, 0, 0, tlvs, 5);
	add_v2("v2 PROXY UNIX", 0x21, 0x31, NULL, NULL, 0, 0, NULL, 0);
	/* One TLV filling the header up to exactly TAO_PROXY_V2_MAX. */
	big[0] = 0xee;
	big[1] = (uint8_t)((bigtlv - 3) >> 8);
	big[2] = (uint8_t)(bigtlv - 3);
	add_v2("v2 TCP6 of exactly TAO_PROXY_V2_MAX", 0x21, 0x21, "::1",
	    "::2", 7, 8, big, bigtlv);
}

static int
same_ip(const struct tao_ipaddr *ip, const char *text)
{
	struct tao_ipaddr want = { 0 };

	if (inet_pton(AF_INET, text, want.ip_bytes) == 1)
		want.ip_family = TAO_IP_V4;
	else if (inet_pton(AF_INET6, text, want.ip_bytes) == 1)
		want.ip_family = TAO_IP_V6;
	return memcmp(ip, &want, sizeof(want)) == 0;
}

static void
test_valid(const struct valid *v)
{
	struct tao_proxy_hdr h;
	uint8_t buf[sizeof(v->bytes) + sizeof(TRAILER)];
	size_t k, bad = 0, first_bad = 0;
	int r;

	for (k = 0; k < v->len; k++) {
		if (parse(v->bytes, k, &h) != TAO_PROXY_AGAIN && bad++ == 0)
			first_bad = k;
	}
	ok(bad == 0, "%s: every one of the %zu proper prefixes is AGAIN",
	    v->name, v->len);
	if (bad)
		diag("  %zu not AGAIN, first at %zu", bad, first_bad);

	memcpy(buf, v->bytes, v->len);
	memcpy(buf + v->len, TRAILER, sizeof(TRAILER) - 1);
	memset(&h, 0xa5, sizeof(h));
	r = parse(buf, v->len + sizeof(TRAILER) - 1, &h);
	is_int(r, TAO_PROXY_DONE, "%s + trailing bytes: DONE", v->name);
	is_int(h.ph_len, v->len, "%s: header length", v->name);
	ok(h.ph_version == v->version && h.ph_local == v->local,
	    "%s: version %d, local %d", v->name, v->version, v->local);
	if (v->src != NULL)
		ok(same_ip(&h.ph_src, v->src) && same_ip(&h.ph_dst, v->dst) &&
		    h.ph_src_port == v->sport && h.ph_dst_port == v->dport,
		    "%s: %s:%u -> %s:%u", v->name, v->src, v->sport, v->dst,
		    v->dport);
	/* Each extra byte after the header changes nothing. */
	bad = 0;
	for (k = v->len; k <= v->len + sizeof(TRAILER) - 1; k++) {
		struct tao_proxy_hdr h2;

		if (parse(buf, k, &h2) != TAO_PROXY_DONE ||
		    memcmp(&h, &h2, sizeof(h)) != 0)
			bad++;
	}
	ok(bad == 0, "%s: same result for every length past the header",
	    v->name);
}

/*
 * A malformed input: ERROR for its whole length, AGAIN for every prefix
 * shorter than `first` (the byte that proves it wrong) and ERROR for every
 * prefix from there on.
 */
static void
test_bad(const char *name, const uint8_t *b, size_t len, size_t first)
{
	struct tao_proxy_hdr h;
	size_t k, bad = 0;
	int r, want;

	for (k = 0; k <= len; k++) {
		want = k < first ? TAO_PROXY_AGAIN : TAO_PROXY_ERROR;
		if ((r = parse(b, k, &h)) != want) {
			if (bad++ == 0)
				diag("  prefix %zu: got %d, want %d", k, r,
				    want);
		}
	}
	ok(bad == 0, "malformed %s: AGAIN below byte %zu, ERROR from it on",
	    name, first);
}

/* A v1 line that is wrong at the last byte of the first occurrence of
 * `at`. */
static void
bad_v1(const char *name, const char *line, const char *at)
{
	const char *p = strstr(line, at);

	if (p == NULL)
		bail("bad_v1: marker not in line");
	test_bad(name, (const uint8_t *)line, strlen(line),
	    (size_t)(p - line) + strlen(at));
}

static void
test_bad_v1(void)
{
	char over[TAO_PROXY_V1_MAX + 2];

	bad_v1("no header (HTTP)", "GET / HTTP/1.1\r\n", "G");
	bad_v1("TLS ClientHello", "\x16\x03\x01\x02", "\x16");
	bad_v1("lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "p");
	bad_v1("no space after PROXY", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    "YT");
	bad_v1("TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "5");
	bad_v1("UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "UD");
	bad_v1("two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "4  ");
	bad_v1("octet 256", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "256 ");
	bad_v1("three octets", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "1.2.3 ");
	bad_v1("IPv6 under TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n", ":");
	bad_v1("IPv4 under TCP6", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
	    "1.2.3.4 ");
	bad_v1("16-char IPv4", "PROXY TCP4 1.2.3.4........9 5.6.7.8 1 2\r\n",
	    "9");
	bad_v1("bad IPv6", "PROXY TCP6 1::2::3 ::1 1 2\r\n", "3 ");
	bad_v1("port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
	    "65536 ");
	bad_v1("6-digit port", "PROXY TCP4 1.2.3.4 5.6.7.8 000001 2\r\n",
	    "000001");
	bad_v1("leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
	    "01 ");
	bad_v1("signed port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "-");
	bad_v1("empty port", "PROXY TCP4 1.2.3.4 5.6.7.8  2\r\n", "8  ");
	bad_v1("missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "\r");
	bad_v1("extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "2 ");
	bad_v1("trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
	    "2 ");
	bad_v1("bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "\n");
	bad_v1("CR CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r", "\r\r");
	bad_v1("UNKNOWNX", "PROXY UNKNOWNX\r\n", "NX");
	bad_v1("UNKNOWN bare LF", "PROXY UNKNOWN\n", "\n");
	bad_v1("UNKNOWN stray CR", "PROXY UNKNOWN a\rb\r\n", "\rb");
	test_bad("NUL in address", (const uint8_t *)
	    "PROXY TCP4 1.2\0003.4 5.6.7.8 1 2\r\n",
	    sizeof("PROXY TCP4 1.2\0003.4 5.6.7.8 1 2\r\n") - 1, 15);

	/* "PROXY UNKNOWN " + 92 x + "\r\n" is 108 bytes: ERROR at the 107th
	 * byte, which is not the '\n' the line needed by then. */
	memset(over, 'x', sizeof(over));
	memcpy(over, "PROXY UNKNOWN ", 14);
	memcpy(over + TAO_PROXY_V1_MAX - 1, "\r\n", 2);
	test_bad("v1 of 108 bytes", (const uint8_t *)over, TAO_PROXY_V1_MAX + 1,
	    TAO_PROXY_V1_MAX);
}

static void
v2_fixed(uint8_t *b, uint8_t cmd, uint8_t fam, size_t len)
{
	memcpy(b, sig, 12);
	b[12] = cmd;
	b[13] = fam;
	b[14] = (uint8_t)(len >> 8);
	b[15] = (uint8_t)len;
}

static void
test_bad_v2(void)
{
	static uint8_t b[16 + 65535];
	size_t i;

	for (i = 0; i < 12; i++) {
		v2_fixed(b, 0x21, 0x11, 12);
		b[i] ^= 0x40;
		test_bad(i == 0 ? "v2 signature byte 0" : i == 11 ?
		    "v2 signature byte 11" : "v2 signature byte", b, 28,
		    i == 0 && b[0] != 'P' ? 1 : i + 1);
	}
	v2_fixed(b, 0x11, 0x11, 12);
	test_bad("v2 version 1", b, 28, 13);
	v2_fixed(b, 0x31, 0x11, 12);
	test_bad("v2 version 3", b, 28, 13);
	v2_fixed(b, 0x22, 0x11, 12);
	test_bad("v2 command 2", b, 28, 13);
	v2_fixed(b, 0x21, 0x12, 12);
	test_bad("v2 UDP over IPv4", b, 28, 14);
	v2_fixed(b, 0x21, 0x22, 36);
	test_bad("v2 UDP over IPv6", b, 52, 14);
	v2_fixed(b, 0x21, 0x41, 12);
	test_bad("v2 family 4", b, 28, 14);
	v2_fixed(b, 0x21, 0x10, 12);
	test_bad("v2 INET, transport UNSPEC", b, 28, 14);
	v2_fixed(b, 0x21, 0x11, 11);
	test_bad("v2 TCP4, len 11 < address block", b, 27, 16);
	v2_fixed(b, 0x21, 0x21, 35);
	test_bad("v2 TCP6, len 35", b, 51, 16);
	v2_fixed(b, 0x21, 0x31, 215);
	test_bad("v2 UNIX, len 215", b, 231, 16);
	v2_fixed(b, 0x21, 0x11, TAO_PROXY_V2_MAX - 16 + 1);
	test_bad("v2 one byte over TAO_PROXY_V2_MAX", b, 16, 16);
	v2_fixed(b, 0x20, 0x00, 65535);
	test_bad("v2 LOCAL, len 65535", b, 16, 16);

	/* TLVs that do not tile the body: seen only at the last byte. */
	v2_fixed(b, 0x21, 0x11, 12 + 2);
	memset(b + 16, 0, 14);
	test_bad("v2 TLV header cut (2 bytes)", b, 30, 30);
	v2_fixed(b, 0x21, 0x11, 12 + 3 + 4);
	b[28] = 0x01; b[29] = 0x00; b[30] = 0x05;
	test_bad("v2 TLV longer than the body", b, 35, 35);
	v2_fixed(b, 0x21, 0x11, 12 + 3 + 4);
	b[28] = 0x01; b[29] = 0xff; b[30] = 0xff;
	test_bad("v2 TLV of length 65535", b, 35, 35);
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Cost of one whole-header parse, the worker's common case. */
static void
bench(const struct valid *v)
{
	struct tao_proxy_hdr h;
	const int n = 1000000;
	double t0, t;
	int i, done = 0;

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		__asm__ volatile("" : : "r"(v->bytes) : "memory");
		done += tao__proxy_parse(v->bytes, v->len, &h) == TAO_PROXY_DONE;
	}
	t = (now_ns() - t0) / n;
	ok(done == n, "bench %s: %.0f ns per header", v->name, t);
}

int
main(void)
{
	size_t i;

	plan(0);
	build_valid();
	for (i = 0; i < nvalid; i++)
		test_valid(&valid[i]);
	test_bad_v1();
	test_bad_v2();
	if (getenv("TAO_SKIP_BENCH") == NULL) {
		bench(&valid[0]);
		bench(&valid[3]);
		bench(&valid[8]);
		bench(&valid[10]);
	}
	return done_testing();
}
