/* sl_engine.c - the data path (parse, classify, look up, police, act on a burst) and the
 * engine's construction from a validated config. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>
#include "sl_classify.h"
#include "sl_engine.h"
#include "sl_mark.h"
#include "sl_parse.h"
#include "sl_table.h"
#include "sl_tb.h"

#define SL_DEFAULT_MAX_KEYS (1ull << 20)
#define SL_COST_MAX_BYTES 65535u

/* Compiled profile: read-only on the data path. */
struct sl_prof {
	struct sl_tb_params tb[SL_MAX_BUCKETS];
	uint64_t full[SL_MAX_BUCKETS];	/* tokens of a full bucket set */
	struct sl_table *table;		/* dedicated only */
	uint64_t evict_ticks;		/* dedicated: idle + time to refill completely */
	uint64_t evict_cursor;		/* control thread: next index bucket to scan */
	uint8_t nb;
	uint8_t mode;
	uint8_t key;
	uint8_t bytes;			/* 1: cost = frame bytes * 8 bits; 0: cost = 1 packet */
	uint8_t exceed;
	uint8_t dscp;
	uint8_t when_full;
	char name[SL_NAME_MAX];
} __attribute__((aligned(64)));

/* Mutable buckets of a shared tenant (and the overflow set of a dedicated one). */
struct sl_tstate {
	struct sl_tb_state st[SL_MAX_BUCKETS];
} __attribute__((aligned(64)));

struct sl_tenant_rt {
	const struct sl_prof *prof;
	char name[SL_NAME_MAX];
};

struct sl_lcore {
	struct sl_engine *e;
	struct sl_counts *tc;			/* per tenant */
	struct sl_table_cache *cache;		/* per profile */
	struct sl_pktbytes total, unmatched, malformed, dropped;
	/* burst scratch */
	struct sl_pkt pkt[SL_BURST_MAX];
	struct sl_key key[SL_BURST_MAX];
	uint64_t hash[SL_BURST_MAX];
	uint64_t hint[SL_BURST_MAX];
	uint16_t tenant[SL_BURST_MAX];
	int8_t shared_ok[SL_BURST_MAX];		/* several lcores: decided per burst */
} __attribute__((aligned(64)));

struct sl_engine {
	struct sl_classifier cls;
	unsigned nb_profiles;
	unsigned nb_tenants;
	struct sl_prof *prof;
	struct sl_tenant_rt *tenant;
	struct sl_tstate *shared;		/* per tenant */
	struct sl_tstate *overflow;		/* per tenant: when-full: shared */
	uint64_t *evicted;			/* per tenant, written by the control thread */
	uint8_t unmatched;			/* SL_ACT_PASS or SL_ACT_DROP */
	uint8_t multi;				/* more than one lcore: atomic bucket updates */
	unsigned nb_lcores;
	struct sl_lcore *lc;
	uint64_t hz;
	struct sl_hash_secret secret;
};

/* ---------------------------------------------------------------- data path */

static inline void count(struct sl_pktbytes *c, uint32_t len)
{
	c->packets++;
	c->bytes += len;
}

static inline uint64_t cost_units(const struct sl_prof *p, uint32_t len)
{
	return p->bytes ? (uint64_t)(len < SL_COST_MAX_BYTES ? len : SL_COST_MAX_BYTES) * 8 : 1;
}

/*
 * Several lcores, one packet: take from every bucket with a CAS each; if a later bucket is
 * short, give back what the earlier ones gave (all or nothing).
 */
static int police_atomic(const struct sl_prof *p, struct sl_tb_state *st, uint64_t now,
			 uint64_t units)
{
	for (unsigned b = 0; b < p->nb; b++) {
		uint64_t c = units << p->tb[b].shift;

		if (!sl_tb_take_shared(&p->tb[b], &st[b], now, c, c, NULL)) {
			while (b--)
				sl_tb_give_back(&p->tb[b], &st[b], units << p->tb[b].shift);
			return 0;
		}
	}
	return 1;
}

static inline int police(const struct sl_engine *e, const struct sl_prof *p,
			 struct sl_tb_state *st, uint64_t now, uint32_t len)
{
	if (e->multi)
		return police_atomic(p, st, now, cost_units(p, len));
	return sl_tb_take_state(p->tb, p->nb, st, now, cost_units(p, len));
}

/*
 * Several lcores, shared tenant: decide every packet of tenant t in this burst (from index
 * `first` on) against one snapshot of its buckets, in order, then publish with one CAS per
 * bucket; retry on contention. One atomic per bucket per burst, never one per packet, and
 * the decisions are exactly those of the packets arriving one after the other at `now`.
 */
static void police_shared_burst(struct sl_lcore *lc, const struct sl_prof *p, uint16_t t,
				unsigned first, unsigned n, const uint32_t len[], uint64_t now)
{
	struct sl_tb_state *st = lc->e->shared[t].st, old[SL_MAX_BUCKETS];
	uint64_t v[SL_MAX_BUCKETS], take[SL_MAX_BUCKETS];

	for (unsigned b = 0; b < p->nb; b++)
		old[b] = (struct sl_tb_state){__atomic_load_n(&st[b].last, __ATOMIC_RELAXED),
					      __atomic_load_n(&st[b].tokens, __ATOMIC_RELAXED)};
	for (;;) {
		unsigned b;

		for (b = 0; b < p->nb; b++) {
			v[b] = sl_tb_refill(&p->tb[b], old[b].tokens, sl_tb_elapsed(now, old[b].last));
			take[b] = 0;
		}
		for (unsigned i = first; i < n; i++) {
			uint64_t u;
			int ok = 1;

			if (lc->tenant[i] != t)
				continue;
			u = cost_units(p, len[i]);
			for (b = 0; b < p->nb; b++)
				ok &= v[b] >= u << p->tb[b].shift;
			for (b = 0; ok && b < p->nb; b++) {
				v[b] -= u << p->tb[b].shift;
				take[b] += u << p->tb[b].shift;
			}
			lc->shared_ok[i] = (int8_t)ok;
		}
		for (b = 0; b < p->nb; b++) {
			struct sl_tb_state nw = {(int64_t)(now - old[b].last) > 0 ? now : old[b].last,
						 v[b]};

			if (!sl_tb_cas(&st[b], &old[b], nw))
				break;	/* old[b] now holds the current state */
		}
		if (b == p->nb)
			return;
		while (b--) {
			sl_tb_give_back(&p->tb[b], &st[b], take[b]);
			old[b] = (struct sl_tb_state){__atomic_load_n(&st[b].last, __ATOMIC_RELAXED),
						      __atomic_load_n(&st[b].tokens, __ATOMIC_RELAXED)};
		}
	}
}

/* Decide one classified packet: returns 1 conform, 0 exceed, -1 refused (when-full drop). */
static inline int decide(struct sl_lcore *lc, unsigned i, uint64_t now, uint32_t len)
{
	struct sl_engine *e = lc->e;
	uint16_t t = lc->tenant[i];
	const struct sl_prof *p = e->tenant[t].prof;
	struct sl_entry *en;
	int created = 0;

	if (p->mode == SL_MODE_SHARED)
		return e->multi ? lc->shared_ok[i] : police(e, p, e->shared[t].st, now, len);
	en = sl_table_lookup(p->table, &lc->cache[p - e->prof], &lc->key[i], lc->hash[i],
			     lc->hint[i], now, p->full, &created);
	if (en) {
		lc->tc[t].keys_created += (uint64_t)created;
		return police(e, p, en->st, now, len);
	}
	lc->tc[t].table_full++;
	switch (p->when_full) {
	case SL_FULL_PASS:
		return 1;
	case SL_FULL_DROP:
		return -1;
	default:
		return police(e, p, e->overflow[t].st, now, len);
	}
}

/* Several lcores: decide the shared tenants' packets of the burst, one group per tenant. */
static void police_shared_bursts(struct sl_lcore *lc, const uint32_t len[], unsigned n,
				 uint64_t now)
{
	struct sl_engine *e = lc->e;

	for (unsigned i = 0; i < n; i++)
		lc->shared_ok[i] = -2;	/* not decided yet */
	for (unsigned i = 0; i < n; i++) {
		uint16_t t = lc->tenant[i];

		if (t != SL_NO_TENANT && lc->shared_ok[i] == -2 &&
		    e->tenant[t].prof->mode == SL_MODE_SHARED)
			police_shared_burst(lc, e->tenant[t].prof, t, i, n, len, now);
	}
}

unsigned sl_process(struct sl_lcore *lc, uint8_t *const data[], const uint32_t caplen[],
		    const uint32_t len[], unsigned n, uint64_t now, uint8_t verdict[])
{
	struct sl_engine *e = lc->e;
	unsigned fwd = 0;

	/* stage 1: parse, classify, hash dedicated keys, prefetch their buckets */
	for (unsigned i = 0; i < n; i++) {
		struct sl_pkt *pk = &lc->pkt[i];
		uint16_t t = SL_NO_TENANT;

		if (sl_parse(data[i], caplen[i], pk) == 0)
			t = sl_classify(&e->cls, pk);
		lc->tenant[i] = t;
		if (t != SL_NO_TENANT && e->tenant[t].prof->table) {
			const struct sl_prof *p = e->tenant[t].prof;

			sl_key_make(&lc->key[i], pk, (enum sl_keykind)p->key, t);
			lc->hash[i] = sl_hash(&e->secret, &lc->key[i]);
			sl_table_prefetch(p->table, lc->hash[i]);
		}
	}
	/* stage 2: match signatures in the primary buckets, prefetch the entries */
	for (unsigned i = 0; i < n; i++) {
		uint16_t t = lc->tenant[i];

		lc->hint[i] = 0;
		if (t != SL_NO_TENANT && e->tenant[t].prof->table)
			lc->hint[i] = sl_table_probe(e->tenant[t].prof->table, lc->hash[i]);
	}
	if (e->multi)
		police_shared_bursts(lc, len, n, now);
	/* stage 3: police and act */
	for (unsigned i = 0; i < n; i++) {
		uint16_t t = lc->tenant[i];
		uint8_t v = SL_V_FORWARD;

		count(&lc->total, len[i]);
		if (t == SL_NO_TENANT) {
			count(lc->pkt[i].flags & SL_PKT_MALFORMED ? &lc->malformed : &lc->unmatched,
			      len[i]);
			v = e->unmatched == SL_ACT_DROP ? SL_V_DROP : SL_V_FORWARD;
		} else {
			struct sl_counts *c = &lc->tc[t];
			const struct sl_prof *p = e->tenant[t].prof;
			int r = decide(lc, i, now, len[i]);

			c->packets++;
			c->bytes += len[i];
			if (r > 0) {
				c->conform_packets++;
				c->conform_bytes += len[i];
			} else {
				c->exceed_packets++;
				c->exceed_bytes += len[i];
				if (r < 0 || p->exceed == SL_ACT_DROP)
					v = SL_V_DROP;
				else if (p->exceed == SL_ACT_MARK)
					sl_mark_dscp(data[i], caplen[i], &lc->pkt[i], p->dscp);
			}
		}
		verdict[i] = v;
		if (v == SL_V_DROP)
			count(&lc->dropped, len[i]);
		fwd += v == SL_V_FORWARD;
	}
	return fwd;
}

/* ------------------------------------------------------------- control path */

static int compile_profile(const struct sl_config *cfg, unsigned i,
			   const struct sl_engine_opts *o, struct sl_engine *e, struct sl_diag *d)
{
	const struct sl_cfg_profile *cp = &cfg->profiles[i];
	struct sl_prof *p = &e->prof[i];
	uint64_t max_keys;
	const char *err;
	int r;

	memcpy(p->name, cp->name, sizeof(p->name));
	p->nb = (uint8_t)cp->nb_buckets;
	p->mode = (uint8_t)cp->mode;
	p->key = (uint8_t)cp->key;
	p->bytes = cp->unit == SL_UNIT_BITS;
	p->exceed = (uint8_t)cp->exceed;
	p->dscp = cp->dscp;
	p->when_full = (uint8_t)cp->when_full;
	for (unsigned b = 0; b < cp->nb_buckets; b++) {
		r = sl_tb_compile(&cp->b[b], cp->unit, o->hz, &p->tb[b], &err);
		if (r) {
			char field[SL_NAME_MAX + 32];

			snprintf(field, sizeof(field), b ? "profiles.%s.limits[%u]" : "profiles.%s.rate",
				 cp->name, b - 1);
			sl_diag_add(d, cfg->path, cp->line, field, "%s", err);
			return r;
		}
		p->full[b] = p->tb[b].burst;
	}
	if (cp->mode != SL_MODE_DEDICATED)
		return 0;
	p->evict_ticks = sl_tb_fill_ticks_max(p->tb, p->nb) +
			 (uint64_t)((long double)cp->idle_ns * o->hz / 1e9L);
	max_keys = cp->max_keys ? cp->max_keys : o->max_keys ? o->max_keys : SL_DEFAULT_MAX_KEYS;
	r = sl_table_create(max_keys, p->nb, &e->secret, &p->table);
	if (r)
		sl_diag_add(d, cfg->path, cp->line, NULL,
			    "profile '%s': cannot allocate a table of %llu keys: %s", cp->name,
			    (unsigned long long)max_keys, strerror(-r));
	return r;
}

static void *zalloc(size_t n, size_t size)
{
	void *p;

	if (!n)
		n = 1;
	p = aligned_alloc(64, (n * size + 63) & ~(size_t)63);
	if (p)
		memset(p, 0, n * size);
	return p;
}

int sl_engine_create(const struct sl_config *cfg, const struct sl_engine_opts *o,
		     struct sl_engine **out, struct sl_diag *d)
{
	struct sl_engine *e;
	int r = -ENOMEM;

	if (!o->hz || !o->nb_lcores || cfg->nb_tenants >= SL_NO_TENANT) {
		sl_diag_add(d, cfg->path, 0, NULL, "engine: bad options (clock, lcores or %u tenants)",
			    cfg->nb_tenants);
		return -EINVAL;
	}
	e = zalloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->hz = o->hz;
	e->nb_profiles = cfg->nb_profiles;
	e->nb_tenants = cfg->nb_tenants;
	e->nb_lcores = o->nb_lcores;
	e->unmatched = (uint8_t)cfg->unmatched;
	e->multi = o->nb_lcores > 1;
	r = sl_hash_seed_random(&e->secret);
	if (r)
		goto fail;
	r = -ENOMEM;
	e->prof = zalloc(cfg->nb_profiles, sizeof(*e->prof));
	e->tenant = zalloc(cfg->nb_tenants, sizeof(*e->tenant));
	e->shared = zalloc(cfg->nb_tenants, sizeof(*e->shared));
	e->overflow = zalloc(cfg->nb_tenants, sizeof(*e->overflow));
	e->evicted = zalloc(cfg->nb_tenants, sizeof(*e->evicted));
	e->lc = zalloc(o->nb_lcores, sizeof(*e->lc));
	if (!e->prof || !e->tenant || !e->shared || !e->overflow || !e->evicted || !e->lc)
		goto fail;
	if (sl_classifier_build(cfg, &e->cls))
		goto fail;
	for (unsigned i = 0; i < cfg->nb_profiles; i++) {
		r = compile_profile(cfg, i, o, e, d);
		if (r)
			goto fail;
	}
	for (unsigned t = 0; t < cfg->nb_tenants; t++) {
		const struct sl_prof *p = &e->prof[cfg->tenants[t].profile];

		e->tenant[t].prof = p;
		memcpy(e->tenant[t].name, cfg->tenants[t].name, sizeof(e->tenant[t].name));
		/* buckets start full; last = 0 means "at the beginning of time" */
		sl_tb_state_fill(p->tb, p->nb, e->shared[t].st, 0);
		sl_tb_state_fill(p->tb, p->nb, e->overflow[t].st, 0);
	}
	r = -ENOMEM;
	for (unsigned l = 0; l < o->nb_lcores; l++) {
		struct sl_lcore *lc = &e->lc[l];

		lc->e = e;
		lc->tc = zalloc(cfg->nb_tenants, sizeof(*lc->tc));
		lc->cache = zalloc(cfg->nb_profiles, sizeof(*lc->cache));
		if (!lc->tc || !lc->cache)
			goto fail;
	}
	*out = e;
	return 0;
fail:
	if (r == -ENOMEM && !d->n)
		sl_diag_add(d, cfg->path, 0, NULL, "engine: out of memory");
	sl_engine_free(e);
	return r;
}

void sl_engine_free(struct sl_engine *e)
{
	if (!e)
		return;
	for (unsigned l = 0; e->lc && l < e->nb_lcores; l++) {
		free(e->lc[l].tc);
		free(e->lc[l].cache);
	}
	for (unsigned i = 0; e->prof && i < e->nb_profiles; i++)
		sl_table_free(e->prof[i].table);
	sl_classifier_free(&e->cls);
	free(e->lc);
	free(e->evicted);
	free(e->overflow);
	free(e->shared);
	free(e->tenant);
	free(e->prof);
	free(e);
}

struct sl_lcore *sl_engine_lcore(struct sl_engine *e, unsigned i)
{
	return i < e->nb_lcores ? &e->lc[i] : NULL;
}

static void add_pb(struct sl_pktbytes *a, const struct sl_pktbytes *b)
{
	a->packets += __atomic_load_n(&b->packets, __ATOMIC_RELAXED);
	a->bytes += __atomic_load_n(&b->bytes, __ATOMIC_RELAXED);
}

int sl_engine_stats(const struct sl_engine *e, struct sl_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->t = calloc(e->nb_tenants ? e->nb_tenants : 1, sizeof(*out->t));
	if (!out->t)
		return -ENOMEM;
	out->nb_tenants = e->nb_tenants;
	for (unsigned t = 0; t < e->nb_tenants; t++) {
		struct sl_tenant_stats *ts = &out->t[t];

		memcpy(ts->name, e->tenant[t].name, sizeof(ts->name));
		memcpy(ts->profile, e->tenant[t].prof->name, sizeof(ts->profile));
	}
	for (unsigned l = 0; l < e->nb_lcores; l++) {
		const struct sl_lcore *lc = &e->lc[l];

		add_pb(&out->total, &lc->total);
		add_pb(&out->unmatched, &lc->unmatched);
		add_pb(&out->malformed, &lc->malformed);
		add_pb(&out->dropped, &lc->dropped);
		for (unsigned t = 0; t < e->nb_tenants; t++) {
#define SL_X_SUM(n) out->t[t].c.n += __atomic_load_n(&lc->tc[t].n, __ATOMIC_RELAXED);
			SL_TENANT_COUNTERS(SL_X_SUM)
#undef SL_X_SUM
		}
	}
	for (unsigned t = 0; t < e->nb_tenants; t++) {
		struct sl_tenant_stats *ts = &out->t[t];

		ts->c.keys_evicted += __atomic_load_n(&e->evicted[t], __ATOMIC_RELAXED);
		if (e->tenant[t].prof->mode == SL_MODE_DEDICATED)
			ts->keys = ts->c.keys_created - ts->c.keys_evicted;
		else
			ts->keys = ts->c.packets ? 1 : 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ eviction */

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

uint64_t sl_engine_maintain(struct sl_engine *e, uint64_t now, uint64_t budget)
{
	static __thread uint32_t idx[SL_EVICT_BATCH];
	uint64_t total = 0;

	for (unsigned i = 0; i < e->nb_profiles; i++) {
		struct sl_prof *p = &e->prof[i];
		struct evict_arg a = {p, now};
		uint64_t nb, todo;

		if (!p->table)
			continue;
		nb = sl_table_nb_buckets(p->table);
		todo = budget && budget < nb ? budget : nb;
		while (todo) {
			uint64_t from = p->evict_cursor, next, scanned;
			uint32_t n = sl_table_unlink(p->table, from, todo, key_expired, &a, idx,
						     SL_EVICT_BATCH, &next);

			for (uint32_t k = 0; k < n; k++)
				e->evicted[sl_table_entry_at(p->table, idx[k])->key.tenant]++;
			if (n) {
				synchronize_rcu();	/* no reader holds these entries any more */
				sl_table_release(p->table, idx, n);
			}
			total += n;
			scanned = next ? next - from : nb - from;
			todo -= scanned < todo ? scanned : todo;
			p->evict_cursor = next;
		}
	}
	return total;
}
