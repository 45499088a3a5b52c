/*
 * proxy.c - PROXY protocol v1 and v2 header parser.
 *
 * v1 is one text line, at most 107 bytes with its "\r\n":
 *
 *	PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n
 *	PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
 *	PROXY UNKNOWN[ anything]\r\n
 *
 * v2 is binary, a 16-byte fixed part and `len` more bytes:
 *
 *	+-------------- 12 -------------+-----+-----+----------+
 *	| \r\n\r\n\0\r\nQUIT\n          | ver | fam | len (BE) |
 *	+-------------------------------+-----+-----+----------+
 *	| address block (12, 36 or 216 bytes) | TLVs ...       |
 *	+-------------------------------------+----------------+
 *	ver: 0x20 LOCAL, 0x21 PROXY    fam: 0x00 UNSPEC, 0x11 TCP4,
 *	0x21 TCP6, 0x31 UNIX stream    TLV: type(1) len(2, BE) value
 *
 * Every check is made as soon as its bytes are present, so a client that
 * sends no header at all ("GET /", a TLS ClientHello) is refused on its
 * first read instead of waiting for the timeout.  TLVs are skipped, but
 * they must tile the rest of the header exactly.
 */
#include <arpa/inet.h>
#include <string.h>

#include "proto/proxy.h"

static const uint8_t v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define V2_FIXED	16
#define V2_CMD_LOCAL	0x20
#define V2_CMD_PROXY	0x21

/* ---- v1 ------------------------------------------------------------- */

/* Token classes (a range test, not strchr: this runs per byte). */
#define DIGITS		0	/* 0-9 */
#define V4CHARS		1	/* 0-9 . */
#define V6CHARS		2	/* 0-9 a-f A-F : . */

static int
in_class(uint8_t c, int cls)
{
	if ((unsigned)(c - '0') < 10)
		return 1;
	if (cls == DIGITS)
		return 0;
	if (c == '.')
		return 1;
	return cls == V6CHARS && (c == ':' || (unsigned)((c | 0x20) - 'a') < 6);
}

/*
 * A token of 1..max bytes from `set`, ended by `end`, starting at *pos.
 * DONE moves *pos past `end`.
 */
static int
v1_token(const uint8_t *b, size_t len, size_t *pos, int set,
    size_t max, uint8_t end, char *tok)
{
	size_t i, start = *pos;

	for (i = start; i < len; i++) {
		if (b[i] == end) {
			if (i == start)
				return TAO_PROXY_ERROR;
			memcpy(tok, b + start, i - start);
			tok[i - start] = '\0';
			*pos = i + 1;
			return TAO_PROXY_DONE;
		}
		if (i - start == max || !in_class(b[i], set))
			return TAO_PROXY_ERROR;
	}
	return TAO_PROXY_AGAIN;
}

/* "0".."65535", no sign, no leading zero. */
static int
v1_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (s[0] == '0' && s[1] != '\0')
		return -1;
	for (; *s != '\0'; s++)
		v = v * 10 + (unsigned long)(*s - '0');
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "PROXY UNKNOWN": ignore the rest of the line, which must still end in
 * "\r\n" within the 107 bytes. */
static int
v1_unknown(const uint8_t *b, size_t len, size_t pos, struct tao_proxy_hdr *h)
{
	for (; pos < len && pos < TAO_PROXY_V1_MAX; pos++) {
		if (b[pos] == '\n') {
			if (b[pos - 1] != '\r')
				return TAO_PROXY_ERROR;
			memset(h, 0, sizeof(*h));
			h->ph_len = pos + 1;
			h->ph_version = 1;
			h->ph_local = 1;
			return TAO_PROXY_DONE;
		}
		/* A '\r' anywhere but before the '\n' is refused. */
		if (b[pos - 1] == '\r')
			return TAO_PROXY_ERROR;
	}
	return pos == TAO_PROXY_V1_MAX ? TAO_PROXY_ERROR : TAO_PROXY_AGAIN;
}

/* The protocol word after "PROXY ": TCP4, TCP6 or UNKNOWN (a prefix of
 * one of them while the word is incomplete). */
static int
v1_proto(const uint8_t *b, size_t len, size_t *pos, int *family)
{
	static const char *const names[] = { "TCP4 ", "TCP6 ", "UNKNOWN" };
	size_t i, n, avail = len - *pos;

	for (i = 0; i < 3; i++) {
		n = strlen(names[i]);
		if (memcmp(b + *pos, names[i], avail < n ? avail : n) != 0)
			continue;
		if (avail < n)
			return TAO_PROXY_AGAIN;
		*pos += n;
		*family = i == 0 ? TAO_IP_V4 : i == 1 ? TAO_IP_V6 : TAO_IP_NONE;
		return TAO_PROXY_DONE;
	}
	return TAO_PROXY_ERROR;
}

static int
v1_addr(const uint8_t *b, size_t len, size_t *pos, int family,
    struct tao_ipaddr *ip)
{
	char tok[48];
	int r;

	if (family == TAO_IP_V4)
		r = v1_token(b, len, pos, V4CHARS, 15, ' ', tok);
	else
		r = v1_token(b, len, pos, V6CHARS, 39, ' ', tok);
	if (r != TAO_PROXY_DONE)
		return r;
	memset(ip, 0, sizeof(*ip));
	ip->ip_family = (uint8_t)family;
	if (inet_pton(family == TAO_IP_V4 ? AF_INET : AF_INET6, tok,
	    ip->ip_bytes) != 1)
		return TAO_PROXY_ERROR;
	return TAO_PROXY_DONE;
}

static int
v1_parse(const uint8_t *b, size_t len, struct tao_proxy_hdr *out)
{
	struct tao_proxy_hdr h;
	char tok[8];
	size_t pos = 6;		/* after "PROXY " */
	int family, r;

	if ((r = v1_proto(b, len, &pos, &family)) != TAO_PROXY_DONE)
		return r;
	if (family == TAO_IP_NONE) {
		if (pos == len)
			return TAO_PROXY_AGAIN;
		if (b[pos] != ' ' && b[pos] != '\r')
			return TAO_PROXY_ERROR;	/* "UNKNOWNX" */
		return v1_unknown(b, len, pos + 1, out);
	}
	memset(&h, 0, sizeof(h));
	if ((r = v1_addr(b, len, &pos, family, &h.ph_src)) != TAO_PROXY_DONE ||
	    (r = v1_addr(b, len, &pos, family, &h.ph_dst)) != TAO_PROXY_DONE)
		return r;
	if ((r = v1_token(b, len, &pos, DIGITS, 5, ' ', tok)) != TAO_PROXY_DONE)
		return r;
	if (v1_port(tok, &h.ph_src_port) == -1)
		return TAO_PROXY_ERROR;
	if ((r = v1_token(b, len, &pos, DIGITS, 5, '\r', tok)) != TAO_PROXY_DONE)
		return r;
	if (v1_port(tok, &h.ph_dst_port) == -1)
		return TAO_PROXY_ERROR;
	if (pos == len)
		return TAO_PROXY_AGAIN;
	if (b[pos] != '\n')
		return TAO_PROXY_ERROR;
	h.ph_len = pos + 1;	/* <= 104 by the token bounds */
	h.ph_version = 1;
	*out = h;
	return TAO_PROXY_DONE;
}

/* ---- v2 ------------------------------------------------------------- */

static size_t
v2_addr_len(uint8_t fam)
{
	switch (fam) {
	case 0x00:	return 0;	/* UNSPEC: no addresses */
	case 0x11:	return 12;	/* TCP over IPv4 */
	case 0x21:	return 36;	/* TCP over IPv6 */
	case 0x31:	return 216;	/* UNIX stream */
	default:	return (size_t)-1;	/* UDP, or not in the spec */
	}
}

/* Checks of the fixed part that need only the bytes present. */
static int
v2_fixed(const uint8_t *b, size_t len, size_t *total)
{
	size_t body, need;

	if (len > 12 && b[12] != V2_CMD_LOCAL && b[12] != V2_CMD_PROXY)
		return TAO_PROXY_ERROR;
	if (len > 13 && b[12] == V2_CMD_PROXY &&
	    v2_addr_len(b[13]) == (size_t)-1)
		return TAO_PROXY_ERROR;
	if (len < V2_FIXED)
		return TAO_PROXY_AGAIN;
	body = (size_t)b[14] << 8 | b[15];
	need = b[12] == V2_CMD_PROXY ? v2_addr_len(b[13]) : 0;
	if (body < need || V2_FIXED + body > TAO_PROXY_V2_MAX)
		return TAO_PROXY_ERROR;
	*total = V2_FIXED + body;
	return TAO_PROXY_DONE;
}

static int
v2_tlvs(const uint8_t *b, size_t pos, size_t end)
{
	size_t vlen;

	while (pos < end) {
		if (end - pos < 3)
			return TAO_PROXY_ERROR;
		vlen = (size_t)b[pos + 1] << 8 | b[pos + 2];
		if (vlen > end - pos - 3)
			return TAO_PROXY_ERROR;
		pos += 3 + vlen;
	}
	return TAO_PROXY_DONE;
}

static void
v2_inet(const uint8_t *b, size_t alen, struct tao_proxy_hdr *h)
{
	size_t n = alen == 12 ? 4 : 16;

	h->ph_src.ip_family = h->ph_dst.ip_family =
	    n == 4 ? TAO_IP_V4 : TAO_IP_V6;
	memcpy(h->ph_src.ip_bytes, b, n);
	memcpy(h->ph_dst.ip_bytes, b + n, n);
	h->ph_src_port = (uint16_t)(b[2 * n] << 8 | b[2 * n + 1]);
	h->ph_dst_port = (uint16_t)(b[2 * n + 2] << 8 | b[2 * n + 3]);
}

static int
v2_parse(const uint8_t *b, size_t len, struct tao_proxy_hdr *out)
{
	struct tao_proxy_hdr h;
	size_t total, alen;
	int r;

	if ((r = v2_fixed(b, len, &total)) != TAO_PROXY_DONE)
		return r;
	if (len < total)
		return TAO_PROXY_AGAIN;
	memset(&h, 0, sizeof(h));
	h.ph_len = total;
	h.ph_version = 2;
	if (b[12] == V2_CMD_LOCAL) {
		/* Health checks from the proxy itself: the spec says to
		 * discard the whole block, family and TLVs included. */
		h.ph_local = 1;
		*out = h;
		return TAO_PROXY_DONE;
	}
	alen = v2_addr_len(b[13]);
	if (v2_tlvs(b, V2_FIXED + alen, total) != TAO_PROXY_DONE)
		return TAO_PROXY_ERROR;
	if (alen == 12 || alen == 36)
		v2_inet(b + V2_FIXED, alen, &h);
	else
		h.ph_local = 1;		/* UNSPEC or UNIX: no IP peer */
	*out = h;
	return TAO_PROXY_DONE;
}

/* ---- entry ---------------------------------------------------------- */

int
tao__proxy_parse(const void *buf, size_t len, struct tao_proxy_hdr *out)
{
	const uint8_t *b = buf;
	size_t n;

	if (len == 0)
		return TAO_PROXY_AGAIN;
	if (b[0] == 'P') {
		n = len < 6 ? len : 6;
		if (memcmp(b, "PROXY ", n) != 0)
			return TAO_PROXY_ERROR;
		return len < 6 ? TAO_PROXY_AGAIN : v1_parse(b, len, out);
	}
	n = len < sizeof(v2sig) ? len : sizeof(v2sig);
	if (memcmp(b, v2sig, n) != 0)
		return TAO_PROXY_ERROR;
	return len < sizeof(v2sig) ? TAO_PROXY_AGAIN : v2_parse(b, len, out);
}
