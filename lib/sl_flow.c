/* sl_flow.c - max-flows: the out-of-line path of flow decisions (new, ending, stale flows and
 * their domains' counts), the idle sweep, counts, and the control path. Rules in sl_flow.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>
#include "sl_flow.h"

/*
 * Count word of a domain entry (st[0].tokens; st[0].last = tick of its latest new flow):
 * admitted flows in bits 0..31, remembered refused flows in bits 32..62, DEAD in bit 63 once
 * the sweep retires an empty domain (no flow entry refers to it then, and none may again:
 * the data path never raises a DEAD word).
 */
#define DOM_ADMITTED 0xffffffffull
#define DOM_REFUSED_ONE (1ull << 32)
#define DOM_REFUSED_MAX ((1ull << 31) - 1)
#define DOM_DEAD (1ull << 63)

#define FLOW_BATCH 4096		/* entries unlinked per grace period */

enum take { TAKE_ADMIT, TAKE_REFUSE, TAKE_UNCOUNTED, TAKE_DEAD };

/* Internal result of the slow path: decide again with the entry another thread inserted. */
#define FLOW_RETRY 0x100

/* ------------------------------------------------------------------ control path */

int sl_flow_create(uint64_t max_entries, uint64_t max_domains, const struct sl_hash_secret *secret,
		   struct sl_flow_table **out)
{
	struct sl_flow_table *t;
	int r;

	if (!max_entries || max_entries > SL_KEYS_MAX || !max_domains || max_domains > SL_KEYS_MAX)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->batch = malloc(FLOW_BATCH * sizeof(*t->batch));
	r = t->batch ? sl_table_create(max_entries, 1, secret, &t->flows) : -ENOMEM;
	if (!r)
		r = sl_table_create(max_domains, 1, secret, &t->domains);
	if (r) {
		sl_flow_free(t);
		return r;
	}
	*out = t;
	return 0;
}

void sl_flow_free(struct sl_flow_table *t)
{
	if (!t)
		return;
	sl_table_free(t->flows);
	sl_table_free(t->domains);
	free(t->batch);
	free(t);
}

uint64_t sl_flow_bytes(uint64_t max_entries, uint64_t max_domains)
{
	return sl_table_bytes(max_entries, 1) + sl_table_bytes(max_domains, 1) +
	       sizeof(struct sl_flow_table) + FLOW_BATCH * sizeof(uint32_t);
}

uint64_t sl_flow_memory(const struct sl_flow_table *t)
{
	return sl_table_memory(t->flows) + sl_table_memory(t->domains) + sizeof(*t) +
	       FLOW_BATCH * sizeof(*t->batch);
}

uint64_t sl_flow_capacity(const struct sl_flow_table *t)
{
	return sl_table_capacity(t->flows);
}

uint64_t sl_flow_domain_capacity(const struct sl_flow_table *t)
{
	return sl_table_capacity(t->domains);
}

uint64_t sl_flow_entries(uint64_t max_flows, uint64_t domains)
{
	uint64_t n;

	if (max_flows > SL_FLOW_ENTRIES_MAX || domains > SL_FLOW_ENTRIES_MAX)
		return SL_FLOW_ENTRIES_MAX;
	n = 2 * max_flows * domains;	/* < 2^42: no overflow */
	return n < 64 ? 64 : n > SL_FLOW_ENTRIES_MAX ? SL_FLOW_ENTRIES_MAX : n;
}

int sl_flow_params_make(uint64_t max_flows, uint64_t flow_idle_ns, uint64_t hz,
			struct sl_flow_params *out)
{
	unsigned __int128 ticks;

	if (!max_flows || !flow_idle_ns || !hz)
		return -EINVAL;
	ticks = ((unsigned __int128)flow_idle_ns * hz + 999999999u) / 1000000000u;
	memset(out, 0, sizeof(*out));
	out->idle_ticks = ticks > INT64_MAX ? INT64_MAX : (uint64_t)ticks;
	out->max_flows = max_flows > UINT32_MAX ? UINT32_MAX : (uint32_t)max_flows;
	return 0;
}

/* ------------------------------------------------------------------ domains */

static uint32_t entry_index(const struct sl_table *t, const struct sl_entry *e)
{
	return (uint32_t)(((const uint8_t *)e - t->entries) >> t->entry_shift);
}

/* The counts word of a live flow's domain (its entry index is in the flow's word). */
static uint64_t *domain_word(const struct sl_flow_table *t, uint64_t flow_word)
{
	return &sl_table_entry(t->domains, (uint32_t)(flow_word & SL_FLOW_W_DOMAIN))->st[0].tokens;
}

/* The domain's entry, inserted empty if new; NULL when the domain table is full. */
static struct sl_entry *domain_get(struct sl_flow_table *t, struct sl_flow_cache *c,
				   const struct sl_key *domain, uint64_t now)
{
	static const uint64_t empty = 0;
	uint64_t hash = sl_hash(&t->domains->secret, domain);
	int created = 0;

	return sl_table_lookup_slow(t->domains, &c->domains, domain, hash, now, &empty, 1, &created);
}

/* Admitted flows of a domain now (0 for a domain without an entry or retired). */
static uint32_t domain_admitted(const struct sl_flow_table *t, const struct sl_key *domain)
{
	const struct sl_entry *d = sl_table_find(t->domains, domain,
					      sl_hash(&t->domains->secret, domain));
	uint64_t w = d ? __atomic_load_n(&d->st[0].tokens, __ATOMIC_ACQUIRE) : 0;

	return w & DOM_DEAD ? 0 : (uint32_t)(w & DOM_ADMITTED);
}

/* Count one new flow in domain d: admitted while below cap, else remembered refused. */
static enum take domain_take(struct sl_entry *d, uint32_t cap, uint64_t now)
{
	uint64_t *wp = &d->st[0].tokens, w = __atomic_load_n(wp, __ATOMIC_ACQUIRE), nw;
	uint64_t rcap = cap < DOM_REFUSED_MAX ? cap : DOM_REFUSED_MAX;
	enum take k;

	do {
		if (w & DOM_DEAD)
			return TAKE_DEAD;
		if ((w & DOM_ADMITTED) < cap) {
			nw = w + 1;
			k = TAKE_ADMIT;
		} else if ((w >> 32) < rcap) {
			nw = w + DOM_REFUSED_ONE;
			k = TAKE_REFUSE;
		} else {
			return TAKE_UNCOUNTED;
		}
	} while (!__atomic_compare_exchange_n(wp, &w, nw, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	if ((int64_t)(now - __atomic_load_n(&d->st[0].last, __ATOMIC_RELAXED)) > 0)
		__atomic_store_n(&d->st[0].last, now, __ATOMIC_RELAXED);
	return k;
}

static void domain_untake(struct sl_entry *d, enum take k)
{
	if (k == TAKE_ADMIT || k == TAKE_REFUSE)
		__atomic_fetch_sub(&d->st[0].tokens, k == TAKE_ADMIT ? 1 : DOM_REFUSED_ONE,
				   __ATOMIC_RELEASE);
}

/* A live flow of state word w stopped counting (its caller won the CAS that ended it). */
static void domain_release(const struct sl_flow_table *t, uint64_t w)
{
	__atomic_fetch_sub(domain_word(t, w), w & SL_FLOW_W_ADMITTED ? 1 : DOM_REFUSED_ONE,
			   __ATOMIC_RELEASE);
}

/* The state word a new flow gets for take result k in domain entry d. */
static uint64_t new_word(const struct sl_flow_table *t, const struct sl_entry *d, enum take k)
{
	if (k == TAKE_UNCOUNTED)
		return SL_FLOW_W_ENDED;
	return (k == TAKE_ADMIT ? SL_FLOW_W_ADMITTED : 0) | entry_index(t->domains, d);
}

/* ------------------------------------------------------------------ the slow path */

static inline struct sl_tb_state load_state(const struct sl_tb_state *s)
{
	return (struct sl_tb_state){__atomic_load_n(&s->last, __ATOMIC_RELAXED),
				    __atomic_load_n(&s->tokens, __ATOMIC_ACQUIRE)};
}

static unsigned verdict(uint64_t w)
{
	return w & SL_FLOW_W_ADMITTED ? SL_FLOW_ADMIT : 0;
}

/* Rule 3a: a FIN or RST starting nothing: admitted iff its domain has room. */
static unsigned closing_packet(const struct sl_flow_table *t, const struct sl_key *domain,
			       const struct sl_flow_params *p)
{
	return domain_admitted(t, domain) < p->max_flows ? SL_FLOW_ADMIT : 0;
}

/* Rules 3b-c and 4 for a flow without an entry; FLOW_RETRY with *found when one appeared. */
static unsigned new_flow(struct sl_flow_table *t, struct sl_flow_cache *c,
			 const struct sl_key *flow, uint64_t hash, const struct sl_key *domain,
			 const struct sl_flow_params *p, uint64_t now, struct sl_entry **found)
{
	struct sl_entry *d = domain_get(t, c, domain, now), *e;
	uint64_t init;
	enum take k;
	int created = 0;

	if (!d)
		return SL_FLOW_FULL;
	k = domain_take(d, p->max_flows, now);
	if (k == TAKE_DEAD)
		return SL_FLOW_FULL;
	if (k == TAKE_UNCOUNTED)
		return 0;
	init = new_word(t, d, k);
	e = sl_table_lookup_slow(t->flows, &c->flows, flow, hash, now, &init, 1, &created);
	if (!e || !created) {
		domain_untake(d, k);
		*found = e;
		return e ? FLOW_RETRY : SL_FLOW_FULL;
	}
	return k == TAKE_ADMIT ? SL_FLOW_ADMIT | SL_FLOW_STARTED : 0;
}

/*
 * Rule 3 on an existing entry whose state is old (stale, or ended with a SYN): end a live
 * predecessor, then start the new flow in the same entry. Returns FLOW_RETRY (with *old
 * updated) when another thread changed the entry first.
 */
static unsigned restart_flow(struct sl_flow_table *t, struct sl_flow_cache *c, struct sl_entry *e,
			     struct sl_tb_state *old, const struct sl_key *domain,
			     const struct sl_flow_params *p, uint64_t now, uint8_t tcp,
			     unsigned *events)
{
	uint64_t w = old->tokens;
	struct sl_entry *d;
	enum take k;

	if (!(w & SL_FLOW_W_ENDED)) {	/* stale live predecessor: it ends now */
		if (!sl_tb_cas(&e->st[0], old, (struct sl_tb_state){old->last, w | SL_FLOW_W_ENDED}))
			return FLOW_RETRY;
		domain_release(t, w);
		*events |= w & SL_FLOW_W_ADMITTED ? SL_FLOW_ENDED : 0;
		old->tokens = w | SL_FLOW_W_ENDED;
	}
	if (tcp & (SL_TCP_FIN | SL_TCP_RST))
		return *events | closing_packet(t, domain, p);
	d = domain_get(t, c, domain, now);
	if (!d)
		return *events | SL_FLOW_FULL;
	k = domain_take(d, p->max_flows, now);
	if (k == TAKE_DEAD)
		return *events | SL_FLOW_FULL;
	if (!sl_tb_cas(&e->st[0], old, (struct sl_tb_state){now, new_word(t, d, k)})) {
		domain_untake(d, k);
		return FLOW_RETRY;
	}
	return *events | (k == TAKE_ADMIT ? SL_FLOW_ADMIT | SL_FLOW_STARTED : 0);
}

/* Rules 1-3 for a flow with an entry. */
static unsigned known_flow(struct sl_flow_table *t, struct sl_flow_cache *c, struct sl_entry *e,
			   const struct sl_key *domain, const struct sl_flow_params *p,
			   uint64_t now, uint8_t tcp)
{
	struct sl_tb_state old = load_state(&e->st[0]);
	unsigned events = 0;

	for (;;) {
		uint64_t w = old.tokens, last = (int64_t)(now - old.last) > 0 ? now : old.last;
		int fresh = sl_tb_elapsed(now, old.last) < p->idle_ticks;
		int closing = (tcp & (SL_TCP_FIN | SL_TCP_RST)) != 0;
		unsigned r;

		if (w & SL_FLOW_W_REMOVED)	/* the sweep is unlinking it: several threads only */
			return events | SL_FLOW_FULL;
		if (fresh && !(w & SL_FLOW_W_ENDED)) {	/* rule 1 */
			struct sl_tb_state nw = {last, closing ? w | SL_FLOW_W_ENDED : w};

			if ((nw.last == old.last && nw.tokens == w) || sl_tb_cas(&e->st[0], &old, nw)) {
				if (!closing)
					return events | verdict(w);
				domain_release(t, w);
				return events | verdict(w) |
				       (w & SL_FLOW_W_ADMITTED ? SL_FLOW_ENDED : 0);
			}
			continue;
		}
		if (fresh && (closing || !(tcp & SL_TCP_SYN))) {	/* rule 2 */
			if ((int64_t)(now - old.last) > 0)
				__atomic_store_n(&e->st[0].last, now, __ATOMIC_RELAXED);
			return events | verdict(w);
		}
		r = restart_flow(t, c, e, &old, domain, p, now, tcp, &events);	/* rule 3 */
		if (r != FLOW_RETRY)
			return r;
	}
}

unsigned sl_flow_check_slow(struct sl_flow_table *t, struct sl_flow_cache *c,
			    const struct sl_key *flow, uint64_t hash, const struct sl_key *domain,
			    const struct sl_flow_params *p, uint64_t now, uint8_t tcp_flags)
{
	struct sl_entry *e = sl_table_find(t->flows, flow, hash);

	if (!e) {
		unsigned r;

		if (tcp_flags & (SL_TCP_FIN | SL_TCP_RST))
			return closing_packet(t, domain, p);
		r = new_flow(t, c, flow, hash, domain, p, now, &e);
		if (r != FLOW_RETRY)
			return r;
	}
	return known_flow(t, c, e, domain, p, now, tcp_flags);
}

/* ------------------------------------------------------------------ sweep */

struct sweep {
	struct sl_flow_table *t;
	uint64_t now;
	uint64_t idle;
	void (*expired)(uint32_t uid, void *arg);
	void *arg;
};

/* A stale flow entry: mark it removed (ending it if live); the sweep then unlinks it. */
static int flow_stale(const struct sl_entry *ce, void *arg)
{
	struct sl_entry *e = (struct sl_entry *)ce;	/* table memory is writable */
	const struct sweep *s = arg;
	struct sl_tb_state old = load_state(&e->st[0]);
	uint64_t w;

	do {
		if (sl_tb_elapsed(s->now, old.last) < s->idle)
			return 0;
	} while (!sl_tb_cas(&e->st[0], &old, (struct sl_tb_state){old.last, old.tokens |
						SL_FLOW_W_ENDED | SL_FLOW_W_REMOVED}));
	w = old.tokens;
	if (!(w & SL_FLOW_W_ENDED)) {
		domain_release(s->t, w);
		if ((w & SL_FLOW_W_ADMITTED) && s->expired)
			s->expired(e->key.tenant, s->arg);
	}
	return 1;
}

/* An empty domain without a new flow for idle: retire it (no thread may count in it again). */
static int domain_stale(const struct sl_entry *ce, void *arg)
{
	struct sl_entry *d = (struct sl_entry *)ce;
	const struct sweep *s = arg;
	uint64_t zero = 0;

	if (sl_tb_elapsed(s->now, __atomic_load_n(&d->st[0].last, __ATOMIC_RELAXED)) < s->idle)
		return 0;
	return __atomic_compare_exchange_n(&d->st[0].tokens, &zero, DOM_DEAD, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED);
}

/* Scan up to budget buckets of one table from *cursor; returns entries removed. */
static uint64_t sweep_table(struct sl_table *tb, uint64_t *cursor, uint64_t budget,
			    int (*stale)(const struct sl_entry *, void *), struct sweep *s)
{
	uint64_t nb = sl_table_nb_buckets(tb), total = 0;
	uint64_t todo = budget && budget < nb ? budget : nb;

	while (todo) {
		uint64_t from = *cursor, next, scanned;
		uint32_t n = sl_table_unlink(tb, from, todo, stale, s, s->t->batch, FLOW_BATCH,
					     &next);

		if (n) {
			synchronize_rcu();	/* no thread holds these entries any more */
			sl_table_release(tb, s->t->batch, n);
		}
		total += n;
		scanned = next ? next - from : nb - from;
		todo -= scanned < todo ? scanned : todo;
		*cursor = next;
	}
	return total;
}

void sl_flow_count_unlinks(struct sl_flow_table *t, uint64_t *c)
{
	sl_table_count_unlinks(t->flows, c);
	sl_table_count_unlinks(t->domains, c);
}

uint64_t sl_flow_sweep(struct sl_flow_table *t, const struct sl_flow_params *p, uint64_t now,
		       uint64_t budget, void (*expired)(uint32_t uid, void *arg), void *arg)
{
	struct sweep s = {t, now, p->idle_ticks, expired, arg};
	uint64_t n = sweep_table(t->flows, &t->flow_cursor, budget, flow_stale, &s);

	sweep_table(t->domains, &t->domain_cursor, budget, domain_stale, &s);
	return n;
}

/* ------------------------------------------------------------------ counts */

struct count_arg {
	void (*fn)(const struct sl_key *, uint64_t, uint64_t, void *);
	void *arg;
};

static void count_domain(const struct sl_entry *d, void *arg)
{
	const struct count_arg *a = arg;
	uint64_t w = __atomic_load_n(&d->st[0].tokens, __ATOMIC_ACQUIRE);

	if (w && !(w & DOM_DEAD))
		a->fn(&d->key, w & DOM_ADMITTED, w >> 32, a->arg);
}

void sl_flow_count(const struct sl_flow_table *t,
		   void (*fn)(const struct sl_key *domain, uint64_t admitted, uint64_t refused,
			      void *arg),
		   void *arg)
{
	struct count_arg a = {fn, arg};

	sl_table_walk(t->domains, count_domain, &a);
}
