/* test_rng.h - test-only deterministic random numbers (splitmix64): the same sequence on every
 * platform for a given seed, so generated inputs and their expected results are repeatable. */
#ifndef TEST_RNG_H
#define TEST_RNG_H

#include <stdint.h>

/* Next value of the sequence whose state is *s (any start value is a seed). */
static inline uint64_t test_rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
