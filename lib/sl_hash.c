/* sl_hash.c - secrets of the keyed hash: random at start-up, or from a seed for tests. */
#include <errno.h>
#include <sys/random.h>
#include "sl_hash.h"

int sl_hash_seed_random(struct sl_hash_secret *s)
{
	uint8_t *p = (uint8_t *)s;
	size_t got = 0;

	while (got < sizeof(*s)) {
		ssize_t r = getrandom(p + got, sizeof(*s) - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sl_hash_seed(struct sl_hash_secret *s, uint64_t seed)
{
	for (unsigned i = 0; i < SL_HASH_WORDS; i++)
		s->k[i] = (uint32_t)splitmix64(&seed);
	s->mix = splitmix64(&seed);
}
