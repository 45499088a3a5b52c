/*
 * fuzz-proxy.c - the PROXY protocol header parser on arbitrary bytes.
 *
 * libFuzzer hands over an exact-size buffer, so ASan catches any read past
 * it.  Invariants: DONE reports a header inside the buffer and within the
 * version's bound, the header alone parses to the same result and one
 * byte less is AGAIN; a v2 result written back gives the same address
 * block; AGAIN only below the bound, and only for a valid prefix (half of
 * it is AGAIN too); ERROR stays ERROR when a byte is added.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	((c) ? (void)0 : abort())

static int
parse_copy(const uint8_t *data, size_t n, struct tao_proxy_hdr *h)
{
	uint8_t *b = malloc(n ? n : 1);
	int r;

	CHECK(b != NULL);
	memcpy(b, data, n);
	r = tao__proxy_parse(b, n, h);
	free(b);
	return r;
}

static void
check_v2(const uint8_t *b, const struct tao_proxy_hdr *h)
{
	size_t n;

	CHECK(h->ph_len == 16 + ((size_t)b[14] << 8 | b[15]));
	CHECK(b[12] == 0x20 || b[12] == 0x21);
	if (h->ph_local)
		return;
	CHECK(b[12] == 0x21 && (b[13] == 0x11 || b[13] == 0x21));
	n = b[13] == 0x11 ? 4 : 16;
	CHECK(memcmp(b + 16, h->ph_src.ip_bytes, n) == 0);
	CHECK(memcmp(b + 16 + n, h->ph_dst.ip_bytes, n) == 0);
	CHECK(h->ph_src_port == (b[16 + 2 * n] << 8 | b[17 + 2 * n]));
	CHECK(h->ph_dst_port == (b[18 + 2 * n] << 8 | b[19 + 2 * n]));
}

static void
check_done(const uint8_t *data, size_t size, const struct tao_proxy_hdr *h)
{
	struct tao_proxy_hdr again;

	CHECK(h->ph_len >= 15 && h->ph_len <= size);
	CHECK(h->ph_version == 1 || h->ph_version == 2);
	if (h->ph_version == 1) {
		CHECK(h->ph_len <= TAO_PROXY_V1_MAX);
		CHECK(memcmp(data, "PROXY ", 6) == 0);
		CHECK(data[h->ph_len - 2] == '\r' && data[h->ph_len - 1] == '\n');
	} else {
		CHECK(h->ph_len <= TAO_PROXY_V2_MAX);
		check_v2(data, h);
	}
	if (!h->ph_local) {
		CHECK(h->ph_src.ip_family == TAO_IP_V4 ||
		    h->ph_src.ip_family == TAO_IP_V6);
		CHECK(h->ph_dst.ip_family == h->ph_src.ip_family);
	}
	memset(&again, 0, sizeof(again));
	CHECK(parse_copy(data, h->ph_len, &again) == TAO_PROXY_DONE);
	CHECK(memcmp(&again, h, sizeof(again)) == 0);
	CHECK(parse_copy(data, h->ph_len - 1, &again) == TAO_PROXY_AGAIN);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tao_proxy_hdr h;
	uint8_t *more;
	int r;

	memset(&h, 0, sizeof(h));
	r = tao__proxy_parse(data, size, &h);
	CHECK(r == TAO_PROXY_DONE || r == TAO_PROXY_AGAIN ||
	    r == TAO_PROXY_ERROR);
	if (r == TAO_PROXY_DONE)
		check_done(data, size, &h);
	else if (r == TAO_PROXY_AGAIN) {
		CHECK(size < TAO_PROXY_MAX);
		CHECK(size == 0 || data[0] != 'P' || size < TAO_PROXY_V1_MAX);
		CHECK(parse_copy(data, size / 2, &h) == TAO_PROXY_AGAIN);
	} else {
		more = malloc(size + 1);
		CHECK(more != NULL);
		memcpy(more, data, size);
		more[size] = size ? data[0] : 0;
		CHECK(tao__proxy_parse(more, size + 1, &h) == TAO_PROXY_ERROR);
		free(more);
	}
	return 0;
}
