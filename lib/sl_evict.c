/* sl_evict.c - idle-key eviction in the engine's key table: unlink keys that are full and
 * untouched, and orphans (keys of uids the running policy no longer has), reuse their entries
 * after an RCU grace period. Control thread. */
#include <urcu-qsbr.h>
#include "sl_engine_int.h"

struct evict_arg {
	const struct sl_policy *pol;
	uint64_t now;
};

/*
 * The entry's size in units when it goes: an orphan at once; a key whose every bucket has been
 * untouched for its profile's idle + time to fill (full now, and full if recreated); else 0.
 */
static int key_expired(const struct sl_entry *en, void *arg)
{
	const struct evict_arg *a = arg;
	uint32_t uid = en->key.tenant;
	const struct sl_ptenant *pt = sl_policy_tenant_of(a->pol, uid);
	int units = uid & SL_UID_PAIR ? 2 : 1;

	if (!pt)		/* an orphan */
		return units;
	for (unsigned b = 0; b < pt->prof->nb; b++) {
		uint64_t last = __atomic_load_n(&en->st[b].last, __ATOMIC_RELAXED);

		if ((int64_t)(a->now - last) < (int64_t)pt->prof->evict_ticks)
			return 0;
	}
	return units;
}

#define SL_EVICT_BATCH 4096

/* Scan up to budget index buckets from the cursor; returns keys evicted (orphans too). */
static uint64_t evict_keys(struct sl_engine *e, const struct sl_policy *pol, uint64_t now,
			   uint64_t budget, uint32_t *idx)
{
	struct evict_arg a = {pol, now};
	uint64_t nb = sl_table_nb_buckets(e->keys), total = 0;
	uint64_t todo = budget && budget < nb ? budget : nb;

	while (todo) {
		uint64_t from = e->evict_cursor, next, scanned;
		uint32_t n = sl_table_unlink(e->keys, from, todo, key_expired, &a, idx,
					     SL_EVICT_BATCH, &next);

		for (uint32_t k = 0; k < n; k++) {
			uint32_t uid = sl_table_entry_at(e->keys, idx[k] & ~SL_TABLE_PAIR)->key.tenant;
			const struct sl_ptenant *pt = sl_policy_tenant_of(pol, uid);

			if (pt) {	/* else an orphan: no account any more */
				pt->ts->evicted++;
				__atomic_fetch_sub(&pt->ts->acct->n, 1, __ATOMIC_RELAXED);
			}
		}
		if (n) {
			/* no lcore holds these entries any more: within a read-side section
			 * through the grace period, across sections because the unlink count
			 * changed and pipelined bursts probe again (sl_table_count_unlinks) */
			synchronize_rcu();
			sl_table_release(e->keys, idx, n);
		}
		total += n;
		scanned = next ? next - from : nb - from;
		todo -= scanned < todo ? scanned : todo;
		e->evict_cursor = next;
	}
	return total;
}

uint64_t sl_engine_maintain(struct sl_engine *e, uint64_t now, uint64_t budget)
{
	static __thread uint32_t idx[SL_EVICT_BATCH];
	const struct sl_policy *pol;
	uint64_t total;

	pthread_mutex_lock(&e->ctl);
	pol = e->pol;
	total = evict_keys(e, pol, now, budget, idx);
	for (unsigned i = 0; i < pol->nb_profiles; i++)
		if (pol->prof[i].fs)
			sl_flow_sweep(pol->prof[i].fs->t, &pol->prof[i].fp, now, budget, NULL, NULL);
	pthread_mutex_unlock(&e->ctl);
	return total;
}
