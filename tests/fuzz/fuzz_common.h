/* fuzz_common.h - what both libFuzzer targets share: UBSan's default options, a fixed memory
 * reading (no /proc or cgroup reads per input, the same admission answers on every machine),
 * and a deterministic hash secret (the targets are linked with -Wl,--wrap=getrandom, so the
 * engine's sl_hash_seed_random draws from here: an input decides the same way in every run). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include "sl_mem.h"

/* Any undefined behaviour stops the run as a crash, with its stack; UBSAN_OPTIONS adds to this
 * (suppressions=FILE lets a run go past a known finding). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

/* A cgroup of `limit` bytes of which nothing is in use yet. */
static inline int fuzz_mem(struct sl_mem *m, uint64_t limit)
{
	m->limit = limit;
	m->used = 0;
	m->avail = limit;
	m->as_left = SL_MEM_NONE;
	m->what = "fuzz memory";
	return 0;
}

/* The engine's only getrandom call (sl_hash.c): the same secret every time. */
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags)
{
	uint64_t x = 0x5eed5eed5eed5eedull;
	uint8_t *b = buf;

	(void)flags;
	for (size_t i = 0; i < len; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = (uint8_t)(x >> 56);
	}
	return (ssize_t)len;
}

#endif
