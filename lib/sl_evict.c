/* sl_evict.c - idle-key eviction of dedicated profiles: unlink keys that are full and
 * untouched, reuse their entries after an RCU grace period. Control thread. */
#include <urcu-qsbr.h>
#include "sl_engine_int.h"

struct evict_arg {
	const struct sl_prof *p;
	uint64_t now;
};

/* Every bucket untouched for idle + time to fill: full now, and full if recreated. */
static int key_expired(const struct sl_entry *en, void *arg)
{
	const struct evict_arg *a = arg;

	for (unsigned b = 0; b < a->p->nb; b++) {
		uint64_t last = __atomic_load_n(&en->st[b].last, __ATOMIC_RELAXED);

		if ((int64_t)(a->now - last) < (int64_t)a->p->evict_ticks)
			return 0;
	}
	return 1;
}

#define SL_EVICT_BATCH 4096

/* Scan up to budget buckets of one table from its cursor; returns keys evicted. */
static uint64_t evict_table(const struct sl_policy *pol, const struct sl_prof *p, uint64_t now,
			    uint64_t budget, uint32_t *idx)
{
	struct sl_profile_state *ps = p->ps;
	struct evict_arg a = {p, now};
	uint64_t nb = sl_table_nb_buckets(ps->table), total = 0;
	uint64_t todo = budget && budget < nb ? budget : nb;

	while (todo) {
		uint64_t from = ps->evict_cursor, next, scanned;
		uint32_t n = sl_table_unlink(ps->table, from, todo, key_expired, &a, idx,
					     SL_EVICT_BATCH, &next);

		for (uint32_t k = 0; k < n; k++) {
			struct sl_tenant_state *ts =
				sl_policy_tenant_by_uid(pol, sl_table_entry_at(ps->table, idx[k])->key.tenant);

			if (ts)	/* else: a key of a tenant removed by a reload */
				ts->evicted++;
		}
		if (n) {
			/* no lcore holds these entries any more: within a read-side section
			 * through the grace period, across sections because the unlink count
			 * changed and pipelined bursts probe again (sl_table_count_unlinks) */
			synchronize_rcu();
			sl_table_release(ps->table, idx, n);
		}
		total += n;
		scanned = next ? next - from : nb - from;
		todo -= scanned < todo ? scanned : todo;
		ps->evict_cursor = next;
	}
	return total;
}

uint64_t sl_engine_maintain(struct sl_engine *e, uint64_t now, uint64_t budget)
{
	static __thread uint32_t idx[SL_EVICT_BATCH];
	const struct sl_policy *pol;
	uint64_t total = 0;

	pthread_mutex_lock(&e->ctl);
	pol = e->pol;
	for (unsigned i = 0; i < pol->nb_profiles; i++) {
		if (pol->prof[i].ps)
			total += evict_table(pol, &pol->prof[i], now, budget, idx);
		if (pol->prof[i].fs)
			sl_flow_sweep(pol->prof[i].fs->t, &pol->prof[i].fp, now, budget, NULL, NULL);
	}
	pthread_mutex_unlock(&e->ctl);
	return total;
}
