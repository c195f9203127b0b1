/* sl_bench_base.c - the baseline an engineer would otherwise build: rte_hash (crc32c, seed 0)
 * giving a position, an array of rte_meter srTCM states indexed by it; plus memory probes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include "sl_bench.h"

/* Same contract as the sluice profile: 100 Gbit/s, 1 MB of burst, so every packet is green. */
#define BASE_CIR_BYTES 12500000000ull
#define BASE_CBS 1000000ull

uint64_t slb_heap_bytes(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st))
		return 0;
	return st.heap_allocsz_bytes;
}

int slb_base_create(struct slb_base *b, uint64_t n, int ext_table, const char *name)
{
	struct rte_meter_srtcm_params mp = { BASE_CIR_BYTES, BASE_CBS, BASE_CBS };
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = (uint32_t)(n < 8 ? 8 : n),
		.key_len = sizeof(struct sl_key),
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = ext_table ? RTE_HASH_EXTRA_FLAGS_EXT_TABLE : 0,
	};
	uint64_t heap0 = slb_heap_bytes();
	int r;

	memset(b, 0, sizeof(*b));
	r = rte_meter_srtcm_profile_config(&b->prof, &mp);
	if (r)
		return r;
	b->h = rte_hash_create(&hp);
	if (!b->h)
		return -rte_errno;
	b->m = rte_zmalloc_socket("slb_meters", hp.entries * sizeof(*b->m), RTE_CACHE_LINE_SIZE,
				  (int)rte_socket_id());
	if (!b->m) {
		rte_hash_free(b->h);
		b->h = NULL;
		return -ENOMEM;
	}
	b->n = n;
	b->heap_bytes = slb_heap_bytes() - heap0;
	return 0;
}

void slb_base_free(struct slb_base *b)
{
	rte_hash_free(b->h);
	rte_free(b->m);
	memset(b, 0, sizeof(*b));
}

uint64_t slb_time_base_insert(struct slb_job *j, uint32_t from, uint32_t to)
{
	struct slb_base *b = j->b;
	const struct sl_key *k = j->ks->k;
	uint64_t ok = 0, t0 = rte_rdtsc_precise();

	for (uint32_t i = from; i < to; i++) {
		int32_t pos = rte_hash_add_key(b->h, &k[i]);

		if (pos >= 0) {
			rte_meter_srtcm_config(&b->m[pos], &b->prof);
			ok++;
		}
	}
	t0 = rte_rdtsc_precise() - t0;
	j->ok += ok;
	return t0;
}

/*
 * Per burst: one rte_hash_lookup_bulk (it hashes, prefetches and compares in stages), a
 * prefetch of every hit's meter, then the colour-blind check of each, time read once.
 * j->ok counts green packets, j->hits lookups that found their key.
 */
uint64_t slb_time_base(struct slb_job *j, uint32_t from, uint32_t to)
{
	const struct slb_stream *s = j->s;
	struct slb_base *b = j->b;
	int32_t pos[SLB_BURST];
	uint64_t g = 0, hit = 0, t0 = rte_rdtsc_precise();

	for (uint32_t f = from; f < to; f += SLB_BURST) {
		uint64_t now;

		rte_hash_lookup_bulk(b->h, &s->bkey[f], SLB_BURST, pos);
		for (unsigned i = 0; i < SLB_BURST; i++)
			if (pos[i] >= 0)
				rte_prefetch0(&b->m[pos[i]]);
		now = rte_rdtsc();
		for (unsigned i = 0; i < SLB_BURST; i++) {
			if (pos[i] < 0)
				continue;
			hit++;
			g += rte_meter_srtcm_color_blind_check(&b->m[pos[i]], &b->prof, now,
							       s->len[i]) == RTE_COLOR_GREEN;
		}
	}
	t0 = rte_rdtsc_precise() - t0;
	j->ok += g;
	j->hits += hit;
	return t0;
}
