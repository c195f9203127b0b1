/* sl_engine.c - the data path: parse, classify, look up, police and act on a burst, against
 * the policy snapshot current at the start of the burst. */
#include <urcu-qsbr.h>
#include "sl_engine_int.h"
#include "sl_mark.h"
#include "sl_parse.h"
#include <string.h>

/*
 * The burst entry points are built twice on x86-64, for the baseline and for x86-64-v3
 * (AVX2, BMI2: three-operand vector and shift forms, about 12 instructions per packet fewer),
 * and the loader picks one for the CPU once (an ifunc, as DPDK's own per-CPU variants do).
 */
#if defined(__x86_64__) && defined(__has_attribute) && !defined(__clang__)
/* gcc only: clang 14 takes target_clones("arch=...") but emits no symbol for it */
#if __has_attribute(target_clones) && !defined(SL_NO_CLONES)
#define SL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef SL_CLONES
#define SL_CLONES
#endif

static inline void count(struct sl_pktbytes *c, uint32_t len)
{
	c->packets++;
	c->bytes += len;
}

/* What a frame of len bytes takes from a bucket: its bits when per_byte, else 1 packet. */
static inline uint64_t cost_of(int per_byte, uint32_t len)
{
	return per_byte ? (uint64_t)(len < SL_COST_MAX_BYTES ? len : SL_COST_MAX_BYTES) * 8 : 1;
}

static inline uint64_t cost_units(const struct sl_prof *p, uint32_t len)
{
	return cost_of(p->bytes, len);
}

/*
 * Several lcores, one packet: take from every bucket with a CAS each, each keeping at least its
 * floor (0 but for exceed: shape); if a later bucket is short, give back what the earlier ones
 * gave (all or nothing). wait (shaped profiles, else NULL): the frame's wait, the longest of
 * the buckets' debts after the take.
 */
static int police_atomic(const struct sl_prof *p, struct sl_tb_state *st, uint64_t now,
			 uint64_t units, uint64_t *wait)
{
	if (wait)
		*wait = 0;
	for (unsigned b = 0; b < p->nb; b++) {
		uint64_t c = units << p->tb[b].shift, seen;

		if (!sl_tb_take_shared(&p->tb[b], &st[b], now, c + p->floor[b], c,
				       wait ? &seen : NULL)) {
			while (b--)
				sl_tb_give_back(&p->tb[b], &st[b], units << p->tb[b].shift);
			if (wait)
				*wait = 0;
			return 0;
		}
		if (wait) {
			uint64_t w = sl_tb_shape_wait(&p->tb[b], seen - c);

			*wait = w > *wait ? w : *wait;
		}
	}
	return 1;
}

static inline __attribute__((always_inline)) int
police(int multi, const struct sl_prof *p, struct sl_tb_state *st, uint64_t now, uint32_t len)
{
	if (multi)
		return police_atomic(p, st, now, cost_units(p, len), NULL);
	if (p->nb == 1)	/* the common profile: one bucket, the loop unrolled away */
		return sl_tb_take_state(p->tb, 1, st, now, cost_units(p, len));
	return sl_tb_take_state(p->tb, p->nb, st, now, cost_units(p, len));
}

static inline struct sl_tb_state load_state(const struct sl_tb_state *s)
{
	return (struct sl_tb_state){__atomic_load_n(&s->last, __ATOMIC_RELAXED),
				    __atomic_load_n(&s->tokens, __ATOMIC_RELAXED)};
}

/*
 * Several lcores, shared tenant: decide every packet of tenant t in this burst (from index
 * `first` on) against one snapshot of its buckets, in order, then publish with one CAS per
 * bucket; retry on contention. One atomic per bucket per burst, never one per packet, and
 * the decisions are exactly those of the packets arriving one after the other at `now`.
 */
static void police_shared_burst(struct sl_slot *lc, const struct sl_prof *p,
				struct sl_tb_state *st, uint32_t t, unsigned first, unsigned n,
				const uint32_t len[], uint64_t now)
{
	struct sl_tb_state old[SL_MAX_BUCKETS];
	uint64_t v[SL_MAX_BUCKETS], take[SL_MAX_BUCKETS];

	for (unsigned b = 0; b < p->nb; b++)
		old[b] = load_state(&st[b]);
	for (;;) {
		unsigned b;

		for (b = 0; b < p->nb; b++) {
			v[b] = sl_tb_refill(&p->tb[b], old[b].tokens, sl_tb_elapsed(now, old[b].last));
			take[b] = 0;
		}
		for (unsigned i = first; i < n; i++) {
			uint64_t u;
			int ok = 1;

			if (lc->tenant[i] != t || lc->fref[i])
				continue;
			u = cost_units(p, len[i]);
			for (b = 0; b < p->nb; b++)
				ok &= v[b] >= (u << p->tb[b].shift) + p->floor[b];
			lc->wait[i] = 0;
			for (b = 0; ok && b < p->nb; b++) {
				v[b] -= u << p->tb[b].shift;
				take[b] += u << p->tb[b].shift;
				if (p->shape) {
					uint64_t w = sl_tb_shape_wait(&p->tb[b], v[b]);

					lc->wait[i] = w > lc->wait[i] ? w : lc->wait[i];
				}
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
			old[b] = load_state(&st[b]);
		}
	}
}

/* Several lcores: decide the shared tenants' packets of the burst, one group per tenant. */
static void police_shared_bursts(struct sl_slot *lc, const struct sl_policy *pol,
				 const uint32_t len[], unsigned n, uint64_t now)
{
	for (unsigned i = 0; i < n; i++)
		lc->shared_ok[i] = -2;	/* not decided yet */
	for (unsigned i = 0; i < n; i++) {
		uint32_t t = lc->tenant[i];

		if (t != SL_NO_TENANT && lc->shared_ok[i] == -2 &&
		    pol->tenant[t].prof->mode == SL_MODE_SHARED && !pol->tenant[t].prof->fair)
			police_shared_burst(lc, pol->tenant[t].prof, pol->tenant[t].ts->st, t, i, n,
					    len, now);
	}
}

/*
 * A key not confirmed by stage 2's candidate: the table's slow path (find or insert). A new
 * key first takes a place in its tenant's quota (the account counts every live key of the
 * uid; a place is given back when the key turns out to exist or the table has no room), so a
 * quota is exact across lcores. NULL: refused, counted as quota_full or table_full.
 */
static __attribute__((noinline)) struct sl_entry *
lookup_slow(const struct sl_lcore *l, struct sl_slot *lc, const struct sl_ptenant *pt,
	    unsigned i, uint64_t now, struct sl_counts *c)
{
	const struct sl_prof *p = pt->prof;
	int64_t *n = &pt->ts->acct->n;
	struct sl_entry *en;
	int created = 0;

	if (p->quota) {
		en = sl_table_find(lc->tab[i], &lc->key[i], lc->hash[i]);
		if (en)
			return en;
		if (__atomic_fetch_add(n, 1, __ATOMIC_RELAXED) >= (int64_t)p->quota) {
			__atomic_fetch_sub(n, 1, __ATOMIC_RELAXED);
			c->quota_full++;
			return NULL;
		}
	}
	en = sl_table_lookup_slow(lc->tab[i], &l->e->kcache[l->id], &lc->key[i], lc->hash[i], now,
				  p->full, p->nb, &created);
	if (created) {
		c->keys_created++;
		if (!p->quota)
			__atomic_fetch_add(n, 1, __ATOMIC_RELAXED);
	} else {
		if (p->quota)
			__atomic_fetch_sub(n, 1, __ATOMIC_RELAXED);
		c->table_full += en == NULL;
	}
	return en;
}

/* A dedicated key refused a table entry (its tenant's quota or the key budget is taken): the
 * profile's when-full choice. */
static __attribute__((noinline)) int refused(const struct sl_ptenant *pt, uint64_t now,
					     uint32_t len, int multi)
{
	const struct sl_prof *p = pt->prof;

	switch (p->when_full) {
	case SL_FULL_PASS:
		return 1;
	case SL_FULL_DROP:
		return -1;
	default:
		return multi ? police(1, p, pt->ts->ovf, now, len)
			     : police(0, p, pt->ts->ovf, now, len);
	}
}

/* The entry of frame i's key: stage 2's candidate when its key is confirmed, else found or
 * inserted by the slow path; NULL when the table has no room. */
static inline __attribute__((always_inline)) struct sl_entry *
entry_of(const struct sl_lcore *l, struct sl_slot *lc, const struct sl_ptenant *pt, unsigned i,
	 uint64_t now, struct sl_counts *c)
{
	struct sl_entry *en = lc->ent[i];

	if (__builtin_expect(!en || !sl_key_eq(&en->key, &lc->key[i]), 0))
		en = lookup_slow(l, lc, pt, i, now, c);
	return en;
}

/*
 * exceed: shape: take from every bucket if each keeps at least its floor; the frame's wait in
 * *wait (0: it leaves at once). Returns 1 taken, 0 not (it would wait too long: shape drop).
 */
static int police_shape(int multi, const struct sl_prof *p, struct sl_tb_state *st,
			uint64_t now, uint32_t len, uint64_t *wait)
{
	uint64_t units = cost_units(p, len);

	if (!multi)
		return sl_tb_shape_state(p->tb, p->floor, p->nb, st, now, units, wait);
	return police_atomic(p, st, now, units, wait);
}

/* A frame's flow: its addresses, ports and protocol, hashed (the worker ring's choice too). */
static inline uint64_t flow_hash_of(const struct sl_pkt *pk)
{
	const sl_u64_alias *s = (const sl_u64_alias *)pk->src, *t = (const sl_u64_alias *)pk->dst;

	return (s[0] ^ s[1] ^ t[0] ^ t[1] ^ ((uint64_t)pk->sport << 16 | pk->dport) ^
		(uint64_t)pk->proto << 40) * 0x9e3779b97f4a7c15ull;
}

/*
 * A shared tenant with fair: flows (sl_fair.h): a frame whose flow would hold more than its
 * share of the queue is dropped before the buckets are asked (*fair_drop = 1); one that is
 * taken and waits is noted in its flow's slot. Decided frame by frame, on several lcores too.
 */
static __attribute__((noinline)) int
police_fair(int multi, const struct sl_prof *p, struct sl_tenant_state *ts,
	    const struct sl_pkt *pk, uint64_t now, uint32_t len, uint64_t *wait, int *fair_drop)
{
	struct sl_fair_look fl;
	uint64_t units = cost_units(p, len);
	int r;

	*wait = 0;
	sl_fair_look(ts->fair, flow_hash_of(pk), now, p->fair_q, p->fair_hold, &fl);
	*fair_drop = !sl_fair_admit(&fl, units);
	if (*fair_drop)
		return 0;
	r = police_shape(multi, p, ts->st, now, len, wait);
	if (r && *wait)
		sl_fair_note(ts->fair, &fl, now, now + *wait, units);
	return r;
}

/*
 * decide() for a profile with exceed: shape: as a policer, but the buckets may owe up to
 * max-delay's worth and the frame's wait goes to lc->wait[i]; counts frames that wait
 * (shaped_*) and frames that would wait too long or over their flow's share (shape_drops,
 * fair_drops).
 */
static __attribute__((noinline)) int
decide_shape(const struct sl_lcore *l, struct sl_slot *lc, const struct sl_ptenant *pt,
	     unsigned i, uint64_t now, uint32_t len, struct sl_counts *c, int multi)
{
	const struct sl_prof *p = pt->prof;
	struct sl_tb_state *st = pt->ts->st;
	int r, fair_drop = 0;

	if (lc->tab[i]) {
		struct sl_entry *en = entry_of(l, lc, pt, i, now, c);

		lc->wait[i] = 0;
		if (en)
			st = en->st;
		else if (p->when_full != SL_FULL_SHARED)	/* pass or drop, as a policer */
			return refused(pt, now, len, multi);
		else
			st = pt->ts->ovf;
		r = police_shape(multi, p, st, now, len, &lc->wait[i]);
	} else if (p->fair) {
		r = police_fair(multi, p, pt->ts, &lc->pkt[i], now, len, &lc->wait[i], &fair_drop);
	} else {
		/* several lcores: police_shared_bursts decided it and gave its wait */
		r = multi ? lc->shared_ok[i] : police_shape(0, p, st, now, len, &lc->wait[i]);
	}
	if (!r) {
		c->shape_drops++;
		c->fair_drops += (unsigned)fair_drop;
	} else if (lc->wait[i]) {
		c->shaped_packets++;
		c->shaped_bytes += len;
		sl_stats_raise(&pt->ts->shape_delay_max, lc->wait[i]);
	}
	return r;
}

/*
 * Decide one classified packet: returns 1 conform, 0 exceed, -1 refused (when-full drop).
 * multi and flows: the engine's and the policy's flags, loaded once per burst.
 */
static inline __attribute__((always_inline)) int
decide(const struct sl_lcore *l, struct sl_slot *lc, const struct sl_ptenant *pt, unsigned i,
       uint64_t now, uint32_t len, struct sl_counts *c, int multi, int flows)
{
	const struct sl_prof *p = pt->prof;
	struct sl_entry *en;

	if (flows && lc->fref[i]) {
		c->flow_refused++;
		return 0;
	}
	if (__builtin_expect(p->shape, 0))
		return decide_shape(l, lc, pt, i, now, len, c, multi);
	if (!lc->tab[i])	/* shared */
		return multi ? lc->shared_ok[i] : police(0, p, pt->ts->st, now, len);
	en = entry_of(l, lc, pt, i, now, c);
	if (en)
		return police(multi, p, en->st, now, len);
	return refused(pt, now, len, multi);
}

/* Fill the caller's view of frame i's decision. */
static void decision(const struct sl_slot *lc, const struct sl_ptenant *pt, unsigned i,
		     uint8_t v, int exceeded, uint64_t now, struct sl_decision *d)
{
	d->flow_hash = (uint32_t)(flow_hash_of(&lc->pkt[i]) >> 32);
	d->tenant = pt ? lc->tenant[i] : SL_NO_TENANT_INDEX;
	d->max_queue = pt ? pt->prof->max_queue : 0;
	d->queue_key = !pt ? 0 : pt->prof->table ? (uint32_t)lc->hash[i] : pt->ts->uid;
	d->mark = v == SL_V_FORWARD && exceeded && pt->prof->exceed == SL_ACT_MARK;
	d->dscp = pt ? pt->prof->dscp : 0;
	d->l3_off = lc->pkt[i].l3_off;
	d->depart = now + (v == SL_V_FORWARD && pt && pt->prof->shape ? lc->wait[i] : 0);
}

/*
 * The tenant last classified in a burst and its profile's fields, kept in locals across the
 * burst's packets (a burst is usually one or a few runs of one tenant): the key's vector
 * stores may alias anything in memory.
 */
struct stage_run {
	uint32_t t;
	const struct sl_ptenant *pt;
	struct sl_table *tab;
	uint32_t *slots;
	uint64_t nb_buckets;
	struct sl_key_masks km;
};

static inline struct stage_run stage_run_init(void)
{
	return (struct stage_run){SL_NO_TENANT, NULL, NULL, NULL, 0, sl_key_masks(SL_KEY_5TUPLE, 0)};
}

/*
 * Packet i of tenant t: its tenant, and for a dedicated tenant its key, hash and primary
 * index bucket, which starts loading. A new tenant's counters (and a shared tenant's buckets)
 * start loading too: with thousands of tenants they are far from the core by the time finish
 * writes them.
 */
static inline __attribute__((always_inline)) void
stage_key(struct sl_slot *s, const struct sl_policy *pol, const struct sl_hash_regs *hk,
	  struct stage_run *r, unsigned i, uint32_t t, unsigned id)
{
	if (t != r->t) {
		r->t = t;
		r->pt = t != SL_NO_TENANT ? &pol->tenant[t] : NULL;
		r->tab = r->pt ? r->pt->prof->table : NULL;
		if (r->pt) {
			__builtin_prefetch(&r->pt->ts->lc[id], 1, SL_TABLE_LOCALITY);
			if (!r->tab)
				__builtin_prefetch(r->pt->ts->st, 1, SL_TABLE_LOCALITY);
		}
		if (r->tab) {
			r->km = sl_key_masks((enum sl_keykind)r->pt->prof->key, r->pt->uid);
			r->slots = r->tab->slots;
			r->nb_buckets = r->tab->nb_buckets;
		}
	}
	s->tenant[i] = t;
	s->pt[i] = r->pt;
	s->tab[i] = r->tab;
	if (r->tab) {
		uint64_t h;
		const uint32_t *b;

		sl_key_make_masked(&s->key[i], &s->pkt[i], &r->km);
		h = sl_hash_with(hk, &s->key[i]);
		b = sl_table_bucket_in(r->slots, r->nb_buckets, h);
		s->hash[i] = h;
		s->bkt[i] = b;
		__builtin_prefetch(b, 0, SL_TABLE_LOCALITY);
	}
}

/*
 * The packets of mask slow (bit i: packet i), which the fast parser did not take: the
 * complete parser, then classify in a loop of its own. The classifier's loads of a packet
 * right after that parser's narrower stores to it would stall on store forwarding (about 30
 * cycles per frame, measured on 802.1Q-tagged traffic before the fast parser took it:
 * perf/RESULTS.md).
 */
static __attribute__((noinline)) void
stage_slow(struct sl_slot *s, const struct sl_policy *pol, const struct sl_hash_secret *secret,
	   uint8_t *const data[], const uint32_t caplen[], uint64_t slow, unsigned id)
{
	struct sl_hash_regs hk = sl_hash_load(secret);
	struct stage_run r = stage_run_init();

	uint64_t ok = 0;

	for (uint64_t m = slow; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);

		s->tenant[i] = SL_NO_TENANT;
		ok |= (uint64_t)(sl_parse_slow(data[i], caplen[i], &s->pkt[i]) == 0) << i;
	}
	sl_classify_burst(&pol->cls, s->pkt, ok, s->port, s->tenant);
	for (uint64_t m = slow; m; m &= m - 1)
		stage_key(s, pol, &hk, &r, (unsigned)__builtin_ctzll(m),
			  s->tenant[__builtin_ctzll(m)], id);
}

/* Stage 1 of slot s under pol: parse, classify, keys and hashes; start loading the buckets. */
static inline __attribute__((always_inline)) void
stage(struct sl_lcore *l, struct sl_slot *s, const struct sl_policy *pol, uint16_t port,
      uint8_t *const data[], const uint32_t caplen[], unsigned n)
{
	struct sl_hash_regs hk = sl_hash_load(&l->e->secret);

	s->pol = pol;
	s->gen = pol->generation;
	s->n = n;
	s->port = port;
	s->probed = 0;
	/* frame headers of the whole burst start loading now, used from the next loop on */
	for (unsigned i = 0; i < n; i++)
		__builtin_prefetch(data[i], 0, 3);
	/*
	 * Parse, classify, key, hash and prefetch the primary index bucket in one loop, so that
	 * the buckets start loading as early as possible. A frame that the inline fast parser
	 * does not take is only marked here; stage_slow parses and classifies those.
	 */
	if (pol->cls.trivial) {
		struct stage_run r = stage_run_init();
		uint64_t slow = 0;

		for (unsigned i = 0; i < n; i++) {
			if (sl_parse_fast(data[i], caplen[i], &s->pkt[i]))
				stage_key(s, pol, &hk, &r, i, pol->cls.all, l->id);
			else
				slow |= 1ull << i;
		}
		if (slow)	/* its own copies: no address of the loop's locals escapes */
			stage_slow(s, pol, &l->e->secret, data, caplen, slow, l->id);
	} else {
		/*
		 * Many tenants: the classifier's tables and the tenants are far from the core.
		 * The burst is classified in passes that overlap its loads (sl_classify_burst),
		 * its tenants start loading, then its keys are built.
		 */
		struct stage_run r = stage_run_init();
		struct sl_cls_pend w[SL_BURST_MAX];
		uint64_t fast = 0, pending = 0, slow, m;

		for (unsigned i = 0; i < n; i++) {
			if (!sl_parse_fast(data[i], caplen[i], &s->pkt[i]))
				continue;
			fast |= 1ull << i;
			s->tenant[i] = sl_cls_begin(&pol->cls, &s->pkt[i], port, &w[i]);
			pending |= (uint64_t)(w[i].j != SL_CLS_DONE) << i;
		}
		slow = ~fast & (n == 64 ? ~0ull : (1ull << n) - 1);
		for (m = pending; m; m &= m - 1)
			sl_cls_sig(&pol->cls, &w[__builtin_ctzll(m)]);
		for (m = fast; m; m &= m - 1) {
			unsigned i = (unsigned)__builtin_ctzll(m);

			if (pending >> i & 1)
				s->tenant[i] = sl_cls_end(&pol->cls, &s->pkt[i], port, &w[i]);
			if (s->tenant[i] != SL_NO_TENANT)
				__builtin_prefetch(&pol->tenant[s->tenant[i]]);
		}
		for (m = fast; m; m &= m - 1) {
			unsigned i = (unsigned)__builtin_ctzll(m);

			stage_key(s, pol, &hk, &r, i, s->tenant[i], l->id);
		}
		if (slow)
			stage_slow(s, pol, &l->e->secret, data, caplen, slow, l->id);
	}
	/* max-flows profiles: flow keys and hashes, their index buckets prefetched */
	if (!pol->flows) {
		memset(s->fref, 0, n);	/* read by police_shared_burst */
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct sl_ptenant *pt = s->pt[i];

		s->fon[i] = pt && pt->prof->fs &&
			    sl_flow_key(&s->fkey[i], &s->pkt[i], pt->uid);
		s->fref[i] = 0;
		if (s->fon[i]) {
			s->fhash[i] = sl_flow_hash(pt->prof->fs->t, &s->fkey[i]);
			sl_flow_prefetch(pt->prof->fs->t, s->fhash[i]);
		}
	}
}

/*
 * Stage 2: match signatures in the primary buckets (keys and flows), prefetch the entries.
 * The engine's unlink count is read first: finish probes again if an eviction or flow sweep
 * unlinked entries since (a candidate kept across quiescent states may be a released entry).
 */
static inline __attribute__((always_inline)) void
probe(const struct sl_lcore *l, struct sl_slot *s)
{
	unsigned n = s->n;

	s->unlinks = __atomic_load_n(&l->e->unlinks, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++) {
		const struct sl_table *tab = s->tab[i];

		if (tab)
			s->ent[i] = sl_table_probe_at(tab, s->bkt[i], s->hash[i]);
	}
	for (unsigned i = 0; s->pol->flows && i < n; i++)
		if (s->fon[i])
			s->fhint[i] = sl_flow_probe(s->pt[i]->prof->fs->t, s->fhash[i]);
	s->probed = 1;
}

/*
 * Per-tenant counts of a run of consecutive packets of one tenant, added at its end; dp: of
 * the exceeding packets, those dropped. The run's frames forwarded and bytes follow from
 * them, so the loop keeps no other sums.
 */
struct run {
	struct sl_counts *c;
	uint64_t cp, cb, ep, eb, dp;
};

static inline void run_flush(const struct run *r)
{
	r->c->conform_packets += r->cp;
	r->c->conform_bytes += r->cb;
	r->c->exceed_packets += r->ep;
	r->c->exceed_bytes += r->eb;
}

/* act's other path: frame i exceeded (r == 0) or was refused a key (r < 0). Inline: under a
 * flood it is the common path. */
static inline __attribute__((always_inline)) uint8_t
act_exceed(struct sl_lcore *l, struct sl_slot *s, const struct sl_prof *p, struct run *run,
	   int r, unsigned i, uint8_t *const data[], const uint32_t caplen[], uint32_t ln,
	   int inplace)
{
	run->ep++;
	run->eb += ln;
	if (r < 0 || p->exceed == SL_ACT_DROP || p->exceed == SL_ACT_SHAPE) {
		run->dp++;
		count(&l->dropped, ln);
		return SL_V_DROP;
	}
	if (p->exceed == SL_ACT_MARK && inplace)
		sl_mark_dscp(data[i], caplen[i], &s->pkt[i], p->dscp);
	return SL_V_FORWARD;
}

/*
 * Act on decision r (decide's result) for frame i of profile p: count it in the run, apply a
 * mark in place when the caller takes no decisions, and give the frame's verdict.
 */
static inline __attribute__((always_inline)) uint8_t
act(struct sl_lcore *l, struct sl_slot *s, const struct sl_prof *p, struct run *run, int r,
    unsigned i, uint8_t *const data[], const uint32_t caplen[], uint32_t ln, int inplace,
    int *exceeded)
{
	if (__builtin_expect(r > 0, 1)) {
		run->cp++;
		run->cb += ln;
		return SL_V_FORWARD;
	}
	*exceeded = 1;
	return act_exceed(l, s, p, run, r, i, data, caplen, ln, inplace);
}

/* Give frame i its verdict v (and the caller's decision). */
static inline __attribute__((always_inline)) void
emit(const struct sl_slot *s, const struct sl_ptenant *pt, unsigned i, uint8_t v, int exceeded,
     uint64_t now, uint8_t verdict[], struct sl_decision *dec)
{
	if (dec)
		decision(s, pt, i, v, exceeded, now, &dec[i]);
	verdict[i] = v;
}

/*
 * The common run: packets i.. of tenant pt, profile p dedicated with one bucket, on one lcore,
 * no max-flows; the bucket's parameters in locals (stores to entries and counters cannot
 * alias them). per_byte is a constant in each caller. Returns the index after the run.
 */
static inline __attribute__((always_inline)) unsigned
common_run(struct sl_lcore *l, struct sl_slot *s, const struct sl_ptenant *pt,
	   const struct sl_prof *p, struct run *run, unsigned i, unsigned n,
	   uint8_t *const data[], const uint32_t caplen[], const uint32_t len[], uint64_t now,
	   uint8_t verdict[], struct sl_decision *dec, const int per_byte)
{
	const struct sl_tb_params tb = p->tb[0];

	do {
		uint32_t ln = len[i];
		struct sl_entry *en = entry_of(l, s, pt, i, now, run->c);
		int r, exceeded = 0;
		uint8_t v;

		r = __builtin_expect(en != NULL, 1)
			    ? sl_tb_take_state(&tb, 1, en->st, now, cost_of(per_byte, ln))
			    : refused(pt, now, ln, 0);
		v = act(l, s, p, run, r, i, data, caplen, ln, !dec, &exceeded);
		emit(s, pt, i, v, exceeded, now, verdict, dec);
	} while (++i < n && s->pt[i] == pt);
	return i;
}

/*
 * A run of finish whose profile is the common one (common_run), with its counts; called through
 * SL_RUNS_CALLS, a function of its own: with thousands of tenants a run is usually one frame,
 * and inside finish its counts would live on the stack. Returns the index after the run; adds
 * to *fwd, *bytes.
 */
static inline __attribute__((always_inline)) unsigned
common_runs(struct sl_lcore *l, struct sl_slot *s, unsigned i, uint8_t *const data[],
	    const uint32_t caplen[], const uint32_t len[], uint64_t now, uint8_t verdict[],
	    struct sl_decision *dec, unsigned *fwd, uint64_t *bytes)
{
	const struct sl_ptenant *pt = s->pt[i];
	const struct sl_prof *p = pt->prof;
	struct run run = {&pt->ts->lc[l->id].c, 0, 0, 0, 0, 0};
	unsigned start = i, n = s->n;

	i = p->bytes ? common_run(l, s, pt, p, &run, i, n, data, caplen, len, now, verdict, dec, 1)
		     : common_run(l, s, pt, p, &run, i, n, data, caplen, len, now, verdict, dec, 0);
	run_flush(&run);
	*fwd += (i - start) - (unsigned)run.dp;
	*bytes += run.cb + run.eb;
	return i;
}

/* The same for the runs of any other profile (decide: shared, limits, max-flows, shape). */
static inline __attribute__((always_inline)) unsigned
other_runs(struct sl_lcore *l, struct sl_slot *s, unsigned i, uint8_t *const data[],
	   const uint32_t caplen[], const uint32_t len[], uint64_t now, uint8_t verdict[],
	   struct sl_decision *dec, unsigned *fwd, uint64_t *bytes)
{
	const struct sl_ptenant *pt = s->pt[i];
	const struct sl_prof *p = pt->prof;
	const int multi = l->e->multi, flows = s->pol->flows;
	struct run run = {&pt->ts->lc[l->id].c, 0, 0, 0, 0, 0};
	unsigned start = i, n = s->n;

	do {
		uint32_t ln = len[i];
		int exceeded = 0;
		int r = decide(l, s, pt, i, now, ln, run.c, multi, flows);
		uint8_t v = act(l, s, p, &run, r, i, data, caplen, ln, !dec, &exceeded);

		emit(s, pt, i, v, exceeded, now, verdict, dec);
	} while (++i < n && s->pt[i] == pt);
	run_flush(&run);
	*fwd += (i - start) - (unsigned)run.dp;
	*bytes += run.cb + run.eb;
	return i;
}

/* One run in a call of its own, with decisions (dec) or without (constant-folded). */
#define SL_RUNS_CALLS(fn)                                                                       \
	static __attribute__((noinline)) unsigned fn##_nodec(                                  \
		struct sl_lcore *l, struct sl_slot *s, unsigned i, uint8_t *const data[],       \
		const uint32_t caplen[], const uint32_t len[], uint64_t now, uint8_t verdict[], \
		unsigned *fwd, uint64_t *bytes)                                                 \
	{                                                                                       \
		return fn(l, s, i, data, caplen, len, now, verdict, NULL, fwd, bytes);          \
	}                                                                                       \
	static __attribute__((noinline)) unsigned fn##_dec(                                    \
		struct sl_lcore *l, struct sl_slot *s, unsigned i, uint8_t *const data[],       \
		const uint32_t caplen[], const uint32_t len[], uint64_t now, uint8_t verdict[], \
		struct sl_decision *dec, unsigned *fwd, uint64_t *bytes)                        \
	{                                                                                       \
		return fn(l, s, i, data, caplen, len, now, verdict, dec, fwd, bytes);           \
	}
SL_RUNS_CALLS(common_runs)
SL_RUNS_CALLS(other_runs)

/*
 * Stage 3: decide the flows, police and act; a tenant's packets/bytes are its conform +
 * exceed. dec == NULL: marks applied in place. Constant-folded in every caller.
 * Packets are taken in runs of one tenant (a burst is usually one run or a few): the run's
 * profile is loaded once, the common profile is policed by common_run, and the frames
 * forwarded and bytes are summed per run. Each run is a call (SL_RUNS_CALLS): in a function of
 * its own a run's sums stay in registers, where in this one, with the slot's pointers live
 * beside them, they were kept on the stack (a store and a load a frame).
 */
static inline __attribute__((always_inline)) unsigned
finish(struct sl_lcore *l, struct sl_slot *s, uint8_t *const data[], const uint32_t caplen[],
       const uint32_t len[], uint64_t now, uint8_t verdict[], struct sl_decision *dec)
{
	const struct sl_policy *pol = s->pol;
	const int multi = l->e->multi, flows = pol->flows;
	const unsigned id = l->id;
	unsigned fwd = 0, n = s->n;
	uint64_t bytes = 0;

	l->pol = pol;
	for (unsigned i = 0; flows && i < n; i++) {
		const struct sl_ptenant *pt = s->pt[i];
		const struct sl_prof *p;

		if (!s->fon[i])
			continue;
		p = pt->prof;
		s->fref[i] = !(sl_flow_check(p->fs->t, &p->fs->cache[id], &s->fkey[i],
					     s->fhash[i], s->fhint[i],
					     p->table ? &s->key[i] : &pt->ts->fdom, &p->fp, now,
					     sl_flow_tcp_flags(&s->pkt[i])) & SL_FLOW_ADMIT);
	}
	if (multi)
		police_shared_bursts(s, pol, len, n, now);
	for (unsigned i = 0; i < n;) {
		const struct sl_ptenant *pt = s->pt[i];
		const struct sl_prof *p;

		if (!pt) {
			uint32_t ln = len[i];
			uint8_t v = pol->unmatched == SL_ACT_DROP ? SL_V_DROP : SL_V_FORWARD;

			count(s->pkt[i].flags & SL_PKT_MALFORMED ? &l->malformed : &l->unmatched,
			      ln);
			bytes += ln;
			emit(s, NULL, i, v, 0, now, verdict, dec);
			if (v == SL_V_FORWARD)
				fwd++;
			else
				count(&l->dropped, ln);
			i++;
			continue;
		}
		p = pt->prof;
		if (!multi && !flows && p->table && p->nb == 1 && !p->shape)
			i = dec ? common_runs_dec(l, s, i, data, caplen, len, now, verdict, dec,
						  &fwd, &bytes)
				: common_runs_nodec(l, s, i, data, caplen, len, now, verdict, &fwd,
						    &bytes);
		else
			i = dec ? other_runs_dec(l, s, i, data, caplen, len, now, verdict, dec,
						 &fwd, &bytes)
				: other_runs_nodec(l, s, i, data, caplen, len, now, verdict, &fwd,
						   &bytes);
	}
	l->total.packets += n;
	l->total.bytes += bytes;
	s->n = 0;
	return fwd;
}

SL_CLONES
unsigned sl_process(struct sl_lcore *lc, uint16_t port, uint8_t *const data[],
		    const uint32_t caplen[], const uint32_t len[], unsigned n, uint64_t now,
		    uint8_t verdict[])
{
	struct sl_slot *s = &lc->slot[SL_SLOTS];

	stage(lc, s, rcu_dereference(lc->e->pol), port, data, caplen, n);
	probe(lc, s);
	return finish(lc, s, data, caplen, len, now, verdict, NULL);
}

SL_CLONES
unsigned sl_process_ex(struct sl_lcore *lc, uint16_t port, uint8_t *const data[],
		       const uint32_t caplen[], const uint32_t len[], unsigned n, uint64_t now,
		       uint8_t verdict[], struct sl_decision dec[])
{
	struct sl_slot *s = &lc->slot[SL_SLOTS];

	stage(lc, s, rcu_dereference(lc->e->pol), port, data, caplen, n);
	probe(lc, s);
	return finish(lc, s, data, caplen, len, now, verdict, dec);
}

SL_CLONES
void sl_burst_stage(struct sl_lcore *lc, unsigned slot, uint16_t port, uint8_t *const data[],
		    const uint32_t caplen[], unsigned n)
{
	stage(lc, &lc->slot[slot], rcu_dereference(lc->e->pol), port, data, caplen, n);
}

/*
 * A slot staged under a snapshot that is no longer the running one may point into freed
 * memory once a quiescent state has passed: it is not touched, only its generation is
 * compared with the running snapshot's (a new snapshot may reuse the old one's address).
 */
static inline int stale(const struct sl_slot *s, const struct sl_policy *pol)
{
	return s->gen != pol->generation;
}

SL_CLONES
void sl_burst_probe(struct sl_lcore *lc, unsigned slot)
{
	struct sl_slot *s = &lc->slot[slot];

	if (!stale(s, rcu_dereference(lc->e->pol)))
		probe(lc, s);
}

SL_CLONES
unsigned sl_burst_finish(struct sl_lcore *lc, unsigned slot, uint8_t *const data[],
			 const uint32_t caplen[], const uint32_t len[], uint64_t now,
			 uint8_t verdict[], struct sl_decision dec[])
{
	const struct sl_policy *pol = rcu_dereference(lc->e->pol);
	struct sl_slot *s = &lc->slot[slot];

	if (__builtin_expect(stale(s, pol), 0))
		stage(lc, s, pol, s->port, data, caplen, s->n);	/* a reload came between */
	/* not probed yet, or probed before entries were unlinked (they may be released now) */
	if (!s->probed || __atomic_load_n(&lc->e->unlinks, __ATOMIC_ACQUIRE) != s->unlinks)
		probe(lc, s);
	if (dec)
		return finish(lc, s, data, caplen, len, now, verdict, dec);
	return finish(lc, s, data, caplen, len, now, verdict, NULL);
}

int sl_decision_mark(uint8_t *frame, uint32_t caplen, const struct sl_decision *d)
{
	struct sl_pkt p;

	if (!d->mark)
		return 0;
	/* sl_mark_dscp needs the family and the header offset only */
	memset(&p, 0, sizeof(p));
	p.l3_off = d->l3_off;
	p.flags = caplen > d->l3_off && (frame[d->l3_off] >> 4) == 6 ? SL_PKT_IPV6 : SL_PKT_IPV4;
	return sl_mark_dscp(frame, caplen, &p, d->dscp);
}

void sl_lcore_queue_drop(struct sl_lcore *lc, uint32_t tenant, uint32_t len)
{
	(void)len;
	if (lc->pol && tenant < lc->pol->nb_tenants)
		lc->pol->tenant[tenant].ts->lc[lc->id].c.queue_drops++;
}

void sl_lcore_queue_level(struct sl_lcore *lc, uint32_t tenant, uint32_t level)
{
	if (lc->pol && tenant < lc->pol->nb_tenants)
		sl_stats_raise(&lc->pol->tenant[tenant].ts->queue_hwm, level);
}

struct sl_pktbytes sl_engine_lcore_total(const struct sl_engine *e, unsigned i)
{
	struct sl_pktbytes t = {0, 0};

	if (i < e->nb_lcores) {
		t.packets = __atomic_load_n(&e->lc[i].total.packets, __ATOMIC_RELAXED);
		t.bytes = __atomic_load_n(&e->lc[i].total.bytes, __ATOMIC_RELAXED);
	}
	return t;
}

struct sl_lcore *sl_engine_lcore(struct sl_engine *e, unsigned i)
{
	return i < e->nb_lcores ? &e->lc[i] : NULL;
}
