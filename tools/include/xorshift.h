/* SPDX-License-Identifier: MIT */
/*
 * xorshift64*: the one small, fast pseudo-random generator the test
 * programs and benchmark workloads share (never rand(): it locks and is
 * slow).  The state must not be zero.
 */
#ifndef _TOOLS_XORSHIFT_H
#define _TOOLS_XORSHIFT_H

#include <stdint.h>

static inline uint64_t xorshift64s_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif /* _TOOLS_XORSHIFT_H */
