/*
 * codec-check.h - the harness shared by the codec fuzz targets.
 *
 * A target names its codec and a function that checks one decode call
 * against what that codec must do; codec_check_run() does the rest (see
 * codec-check.c for the input layout and the generic invariants).
 */
#ifndef TAO_FUZZ_CODEC_CHECK_H
#define TAO_FUZZ_CODEC_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "tao.h"

/* Stop the fuzzer (abort) when an invariant fails. */
#define CHECK(cond)	((cond) ? (void)0 :				\
			    codec_check_fail(#cond, __FILE__, __LINE__))

struct codec_check {
	const struct tao_codec	*codec;
	/*
	 * Called after every decode of buf[0..len) with what it returned
	 * (r, *frame when r is TAO_DECODE_OK, used, and the state after
	 * the call).  With `deep` set it may spend O(len) on an independent
	 * oracle; without, it must stay O(1) plus O(frame length).
	 */
	void	(*check)(const uint8_t *buf, size_t len, size_t max_frame,
		    int r, const struct tao_frame *frame, size_t used,
		    uint64_t state, int deep);
};

int	codec_check_run(const struct codec_check *, const uint8_t *data,
	    size_t size);
void	codec_check_fail(const char *what, const char *file, int line)
	    __attribute__((__noreturn__));

#endif /* TAO_FUZZ_CODEC_CHECK_H */
