/* sl_pipe_cap.h - the pure parts of worker mode (no DPDK): which worker a flow goes to, and the
 * max-queue occupancy counters that policing lcores raise at hand-off and workers lower. */
#ifndef SL_PIPE_CAP_H
#define SL_PIPE_CAP_H

#include <stdint.h>

/*
 * Occupancy counters, one uint32_t per slot (sl_pipe_slot): frames of a profile with max-queue
 * count in slot queue key & (SL_PIPE_SLOTS - 1), where the queue key (struct sl_decision) is
 * the tenant (shared profile) or the key (dedicated); two capped queue keys with the same low
 * 20 bits share one counter: each frame is still checked against its own max-queue, but
 * against the frames of both keys, so a shared slot can only drop earlier than the cap, never
 * let more than the cap sit queued (conservative). Frames of a tenant without max-queue count
 * in the tenant's own slot after those (SL_PIPE_SLOTS + tenant index mod 2^16; beyond 65,536
 * tenants two share one and the mark reads their sum), only for the high-water
 * mark: one atomic operation per burst even for a dedicated tenant of many keys. Across a
 * reload a tenant index may name another tenant while frames are queued: that slot's level
 * mixes both for as long (the counts stay exact; only the high-water mark can blur). Frames
 * of no tenant take no slot (SL_PIPE_NO_SLOT). 2^20 + 2^16 slots: 4.25 MiB.
 *
 * Memory order: the counters are plain counts, relaxed atomics. A frame's increment happens
 * before its ring enqueue (release) and the dequeue (acquire) happens before its decrement,
 * so the decrement follows the increment in the counter's modification order: no underflow.
 */
#define SL_PIPE_SLOT_BITS 20
#define SL_PIPE_SLOTS (1u << SL_PIPE_SLOT_BITS)	/* of capped queue keys */
#define SL_PIPE_TENANT_SLOTS 65536u	/* high-water marks by tenant index mod 2^16 */
#define SL_PIPE_COUNTERS (SL_PIPE_SLOTS + SL_PIPE_TENANT_SLOTS)
#define SL_PIPE_NO_SLOT UINT32_MAX
#define SL_PIPE_GROUP_MAX 64	/* distinct (slot, tenant, cap) of one burst: <= frames */

/* Counter of a frame of tenant index `tenant` (not SL_NO_TENANT_INDEX) from its decision. */
static inline uint32_t sl_pipe_slot(uint32_t queue_key, uint32_t tenant, uint32_t max_queue)
{
	return max_queue ? queue_key & (SL_PIPE_SLOTS - 1)
			 : SL_PIPE_SLOTS + (tenant & (SL_PIPE_TENANT_SLOTS - 1));
}

/*
 * Worker (0..nbw-1) of a flow hash, nbw >= 1: multiply-shift instead of a division; equal
 * hashes always give the same worker, so a flow keeps one ring and one TX queue (its order).
 */
static inline unsigned sl_pipe_worker(uint32_t flow_hash, unsigned nbw)
{
	return (unsigned)(((uint64_t)flow_hash * nbw) >> 32);
}

/*
 * Take up to `want` places in counter *occ under cap max (0 = no cap: all taken, only counted).
 * Returns how many were taken (0..want); *level = the count right after (what the high-water
 * mark sees). Any thread; lock-free (a CAS loop when capped).
 */
static inline uint32_t sl_pipe_admit(uint32_t *occ, uint32_t want, uint32_t max, uint32_t *level)
{
	uint32_t cur, take;

	if (!max) {
		*level = __atomic_add_fetch(occ, want, __ATOMIC_RELAXED);
		return want;
	}
	cur = __atomic_load_n(occ, __ATOMIC_RELAXED);
	do {
		if (cur >= max) {
			*level = cur;
			return 0;
		}
		take = max - cur < want ? max - cur : want;
	} while (!__atomic_compare_exchange_n(occ, &cur, cur + take, 1, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	*level = cur + take;
	return take;
}

/*
 * Give back the places of n frames whose slots are slot[0..n-1] (SL_PIPE_NO_SLOT skipped):
 * one atomic subtraction per run of equal slots, so a burst of one tenant costs one.
 */
static inline void sl_pipe_release(uint32_t *occ, const uint32_t slot[], unsigned n)
{
	unsigned i = 0;

	while (i < n) {
		uint32_t s = slot[i], run = 1;

		while (i + run < n && slot[i + run] == s)
			run++;
		if (s != SL_PIPE_NO_SLOT)
			__atomic_sub_fetch(&occ[s], run, __ATOMIC_RELAXED);
		i += run;
	}
}

/*
 * The distinct (slot, tenant, cap) of one burst, so that each costs one atomic operation per
 * burst instead of one per frame. want[] counts frames, then holds what was admitted.
 * Owned by one policing lcore for the duration of a burst.
 */
struct sl_pipe_group {
	unsigned n;
	unsigned last;			/* the entry found last: bursts are runs of one tenant */
	uint32_t slot[SL_PIPE_GROUP_MAX];
	uint32_t max[SL_PIPE_GROUP_MAX];
	uint32_t want[SL_PIPE_GROUP_MAX];
	uint32_t tenant[SL_PIPE_GROUP_MAX];
};

static inline void sl_pipe_group_reset(struct sl_pipe_group *g)
{
	g->n = 0;
	g->last = 0;
}

/* Count one frame of (slot, tenant, max); returns its entry. At most SL_PIPE_GROUP_MAX calls. */
static inline unsigned sl_pipe_group_add(struct sl_pipe_group *g, uint32_t slot, uint32_t tenant,
					 uint32_t max)
{
	unsigned k = g->last;

	if (k < g->n && g->slot[k] == slot && g->tenant[k] == tenant && g->max[k] == max) {
		g->want[k]++;
		return k;
	}
	for (k = 0; k < g->n; k++)
		if (g->slot[k] == slot && g->tenant[k] == tenant && g->max[k] == max)
			break;
	if (k == g->n) {
		g->slot[k] = slot;
		g->tenant[k] = tenant;
		g->max[k] = max;
		g->want[k] = 0;
		g->n++;
	}
	g->want[k]++;
	g->last = k;
	return k;
}

#endif
