/* sl_policy.c - control path of the engine: compile a config into an immutable snapshot,
 * carry state over by name, publish under RCU, free after a grace period; counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>
#include "sl_engine_int.h"
#include "sl_units.h"

static void *zalloc(size_t size)
{
	void *p = aligned_alloc(64, (size + 63) & ~(size_t)63);

	if (p)
		memset(p, 0, size);
	return p;
}

/* ------------------------------------------------------------------ config copies */

static struct sl_config *config_dup(const struct sl_config *c)
{
	struct sl_config *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	*n = *c;
	n->path = strdup(c->path ? c->path : "<policy>");
	n->profiles = calloc(c->nb_profiles ? c->nb_profiles : 1, sizeof(*n->profiles));
	n->tenants = calloc(c->nb_tenants ? c->nb_tenants : 1, sizeof(*n->tenants));
	n->matches = calloc(c->nb_matches ? c->nb_matches : 1, sizeof(*n->matches));
	if (!n->path || !n->profiles || !n->tenants || !n->matches) {
		sl_config_free(n);
		return NULL;
	}
	/* an empty policy's arrays may be NULL: memcpy must not be given them */
	if (c->nb_profiles)
		memcpy(n->profiles, c->profiles, c->nb_profiles * sizeof(*n->profiles));
	if (c->nb_tenants)
		memcpy(n->tenants, c->tenants, c->nb_tenants * sizeof(*n->tenants));
	if (c->nb_matches)
		memcpy(n->matches, c->matches, c->nb_matches * sizeof(*n->matches));
	return n;
}

/* Same profile, ignoring where it sits in the file. */
static int profile_same(const struct sl_cfg_profile *a, const struct sl_cfg_profile *b)
{
	struct sl_cfg_profile x = *a, y = *b;

	x.line = y.line = 0;
	return memcmp(&x, &y, sizeof(x)) == 0;
}

/* Same blocks in the same order, ignoring where they sit in the file. */
static int tenant_same(const struct sl_config *ca, const struct sl_cfg_tenant *a,
		       const struct sl_config *cb, const struct sl_cfg_tenant *b)
{
	if (a->nb_match != b->nb_match ||
	    strcmp(ca->profiles[a->profile].name, cb->profiles[b->profile].name))
		return 0;
	for (unsigned i = 0; i < a->nb_match; i++) {
		struct sl_cfg_match x = *sl_cfg_tenant_match(ca, a, i);
		struct sl_cfg_match y = *sl_cfg_tenant_match(cb, b, i);

		x.line = y.line = 0;
		if (memcmp(&x, &y, sizeof(x)))
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ objects */

static void flowset_free(struct sl_flowset *fs)
{
	if (!fs)
		return;
	sl_flow_free(fs->t);
	free(fs->cache);
	free(fs);
}

/* Entries and domains of the flow table of max-flows profile cp in cfg. */
static void flows_size(const struct sl_engine *e, const struct sl_config *cfg,
		       const struct sl_cfg_profile *cp, uint64_t *entries, uint64_t *domains)
{
	uint64_t n = 0;

	for (unsigned t = 0; t < cfg->nb_tenants; t++)
		n += &cfg->profiles[cfg->tenants[t].profile] == cp;
	/* a dedicated profile's domains are its keys: at most the budget, or its quotas */
	if (cp->mode == SL_MODE_DEDICATED)
		n = cp->max_keys && cp->max_keys * n < e->key_budget ? cp->max_keys * n
								      : e->key_budget;
	else
		n = 2 * n + 64;
	if (n > SL_KEYS_MAX)
		n = SL_KEYS_MAX;
	*entries = sl_flow_entries(cp->max_flows, n);
	*domains = n < *entries ? n : *entries;
}

/* The profile's flow table: the old one when mode and key kind are unchanged, else new. */
static int compile_flows(struct sl_engine *e, const struct sl_config *cfg,
			 const struct sl_cfg_profile *cp, const struct sl_prof *op, struct sl_prof *p)
{
	struct sl_flowset *fs = op ? op->fs : NULL;
	uint64_t domains, entries;
	int r;

	if (!cp->max_flows)
		return 0;
	r = sl_flow_params_make(cp->max_flows, cp->flow_idle_ns, e->hz, &p->fp);
	if (r)
		return r;
	if (fs && fs->mode == p->mode && fs->key == p->key) {
		p->fs = fs;
		return 0;
	}
	flows_size(e, cfg, cp, &entries, &domains);
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->mode = p->mode;
	fs->key = p->key;
	fs->cache = calloc(e->nb_lcores, sizeof(*fs->cache));
	r = fs->cache ? sl_flow_create(entries, domains, &e->secret, &fs->t) : -ENOMEM;
	if (r) {
		flowset_free(fs);
		return r;
	}
	sl_flow_count_unlinks(fs->t, &e->unlinks);	/* the pipeline re-probes after one */
	p->fs = fs;
	return 0;
}

static struct sl_tenant_state *tenant_state_new(const struct sl_engine *e)
{
	return zalloc(sizeof(struct sl_tenant_state) + e->nb_lcores * sizeof(struct sl_lcounts));
}

static int uid_cmp(const void *a, const void *b)
{
	const struct sl_uid_ent *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

const struct sl_ptenant *sl_policy_tenant_of(const struct sl_policy *p, uint32_t uid)
{
	struct sl_uid_ent k = {uid, 0};
	const struct sl_uid_ent *f = bsearch(&k, p->by_uid, p->nb_tenants, sizeof(k), uid_cmp);

	return f ? &p->tenant[f->tenant] : NULL;
}

static void policy_free(struct sl_policy *p)
{
	if (!p)
		return;
	sl_classifier_free(&p->cls);
	sl_config_free(p->cfg);
	free(p->by_uid);
	free(p->tenant);
	free(p->prof);
	free(p);
}

/* ------------------------------------------------------------------ names */

/*
 * Which old tenant (profile) each new one continues, and the reverse, looked up once per
 * reload through a sorted name index: O(n log n), where a lookup per name would be O(n^2)
 * (10,000 tenants: 50M string compares, most of a second).
 */
struct sl_names {
	int *t_old;		/* new tenant -> old index, or -1 */
	int *t_new;		/* old tenant -> new index, or -1 */
	int *p_old;		/* new profile -> old index, or -1 */
	int *p_new;		/* old profile -> new index, or -1 */
};

struct name_ref {
	const char *name;
	int i;
};

static int name_ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct name_ref *)a)->name, ((const struct name_ref *)b)->name);
}

/* a_to_b[i] = index in b of the name of a[i] (or -1), b_to_a the reverse. Names start each
 * element (stride bytes apart) and are unique within a and within b. */
static int names_map(const char *a, unsigned n, const char *b, unsigned m, size_t stride,
		     int **a_to_b, int **b_to_a)
{
	struct name_ref *ix = malloc((m + 1) * sizeof(*ix));
	int *ab = malloc((n + 1) * sizeof(*ab)), *ba = malloc((m + 1) * sizeof(*ba));

	if (!ix || !ab || !ba) {
		free(ix);
		free(ab);
		free(ba);
		return -ENOMEM;
	}
	for (unsigned j = 0; j < m; j++) {
		ix[j] = (struct name_ref){b + j * stride, (int)j};
		ba[j] = -1;
	}
	qsort(ix, m, sizeof(*ix), name_ref_cmp);
	for (unsigned i = 0; i < n; i++) {
		struct name_ref k = {a + i * stride, 0};
		const struct name_ref *f = m ? bsearch(&k, ix, m, sizeof(*ix), name_ref_cmp) : NULL;

		ab[i] = f ? f->i : -1;
		if (f)
			ba[f->i] = (int)i;
	}
	free(ix);
	*a_to_b = ab;
	*b_to_a = ba;
	return 0;
}

static void names_free(struct sl_names *nm)
{
	free(nm->t_old);
	free(nm->t_new);
	free(nm->p_old);
	free(nm->p_new);
	memset(nm, 0, sizeof(*nm));
}

/* The maps between cfg and old (NULL: everything is new). 0 or -ENOMEM. */
static int names_build(const struct sl_config *cfg, const struct sl_policy *old,
		       struct sl_names *nm)
{
	const struct sl_config *oc = old ? old->cfg : NULL;
	int r;

	memset(nm, 0, sizeof(*nm));
	r = names_map(cfg->tenants ? cfg->tenants[0].name : NULL, cfg->nb_tenants,
		      oc && oc->nb_tenants ? oc->tenants[0].name : NULL, oc ? oc->nb_tenants : 0,
		      sizeof(struct sl_cfg_tenant), &nm->t_old, &nm->t_new);
	if (!r)
		r = names_map(cfg->profiles ? cfg->profiles[0].name : NULL, cfg->nb_profiles,
			      oc && oc->nb_profiles ? oc->profiles[0].name : NULL,
			      oc ? oc->nb_profiles : 0, sizeof(struct sl_cfg_profile), &nm->p_old,
			      &nm->p_new);
	if (r)
		names_free(nm);
	return r;
}

/* ------------------------------------------------------------------ compile */

static int compile_profile(struct sl_engine *e, const struct sl_config *cfg, unsigned i,
			   const struct sl_policy *old, const struct sl_names *nm,
			   struct sl_prof *p, struct sl_diag *d)
{
	const struct sl_cfg_profile *cp = &cfg->profiles[i];
	int oi = nm->p_old[i];
	const struct sl_prof *op = oi >= 0 ? &old->prof[oi] : NULL;
	const char *err;
	int r;

	if (cp->exceed == SL_ACT_SHAPE && !e->can_shape) {
		char field[SL_NAME_MAX + 32];

		snprintf(field, sizeof(field), "profiles.%s.exceed", cp->name);
		sl_diag_add(d, cfg->path, cp->line, field, "shape needs worker mode (--workers N): "
			    "the workers hold waiting frames in their timing wheels, and "
			    "run-to-completion lcores send at once");
		return -EINVAL;
	}
	memcpy(p->name, cp->name, sizeof(p->name));
	p->nb = (uint8_t)cp->nb_buckets;
	p->mode = (uint8_t)cp->mode;
	p->key = (uint8_t)cp->key;
	p->bytes = cp->unit == SL_UNIT_BITS;
	p->exceed = (uint8_t)cp->exceed;
	p->dscp = cp->dscp;
	p->when_full = (uint8_t)cp->when_full;
	p->max_queue = cp->max_queue > UINT32_MAX ? UINT32_MAX : (uint32_t)cp->max_queue;
	p->shape = cp->exceed == SL_ACT_SHAPE;
	p->fair = p->shape && cp->fair == SL_FAIR_FLOWS;
	p->fair_q = UINT64_MAX;
	p->fair_hold = p->fair ? (uint64_t)((unsigned __int128)cp->max_delay_ns * e->hz /
					    1000000000u)
			       : 0;
	for (unsigned b = 0; p->fair && b < cp->nb_buckets; b++) {
		uint64_t q = sl_cfg_shape_debt(cp, b);

		p->fair_q = q < p->fair_q ? q : p->fair_q;
	}
	for (unsigned b = 0; b < cp->nb_buckets; b++) {
		int hint = op && b < op->nb && op->bytes == p->bytes && op->shape == p->shape
				   ? (int)op->tb[b].shift : -1;

		p->floor[b] = 0;
		r = p->shape ? sl_tb_compile_shape(&cp->b[b], sl_cfg_shape_debt(cp, b), cp->unit,
						   e->hz, hint, &p->tb[b], &p->floor[b], &err)
			     : sl_tb_compile(&cp->b[b], cp->unit, e->hz, hint, &p->tb[b], &err);
		if (r) {
			char field[SL_NAME_MAX + 32];

			if (b)
				snprintf(field, sizeof(field), "profiles.%s.limits[%u]", cp->name, b - 1);
			else
				snprintf(field, sizeof(field), "profiles.%s.rate", cp->name);
			sl_diag_add(d, cfg->path, cp->line, field, "%s", err);
			return r;
		}
		p->full[b] = p->tb[b].burst;
	}
	r = compile_flows(e, cfg, cp, op, p);
	if (r)
		return r;
	if (cp->mode != SL_MODE_DEDICATED)
		return 0;
	p->evict_ticks = sl_tb_fill_ticks_max(p->tb, p->nb) +
			 (uint64_t)((long double)cp->idle_ns * e->hz / 1e9L);
	p->table = e->keys;
	p->quota = cp->max_keys;
	return 0;
}

/* Tokens of bucket b of an old state in the scale of p, capped at its burst. */
static uint64_t rescale(uint64_t tokens, unsigned from, const struct sl_tb_params *p)
{
	uint64_t t = from <= p->shift ? tokens << (p->shift - from) : tokens >> (from - p->shift);

	if (from < p->shift && tokens > (p->burst >> (p->shift - from)))
		t = p->burst;
	return t < p->burst ? t : p->burst;
}

/* What a tenant's keys are made under (zero for a shared profile): sl_engine_int.h. */
static void keysig_of(const struct sl_prof *p, struct sl_keysig *k)
{
	memset(k, 0, sizeof(*k));
	if (p->mode != SL_MODE_DEDICATED)
		return;
	memcpy(k->prof, p->name, sizeof(k->prof));
	k->key = p->key;
	k->nb = p->nb;
	k->bytes = p->bytes;
	k->shape = p->shape;
	for (unsigned b = 0; b < p->nb; b++)
		k->shift[b] = (uint8_t)p->tb[b].shift;
}

/* Free a state made by a build that failed or was retired, with its key account unless the
 * state `keep` (which replaces it, or NULL) holds the same one. */
static void tenant_state_free(struct sl_tenant_state *ts, const struct sl_tenant_state *keep)
{
	if (!keep || keep->acct != ts->acct)
		free(ts->acct);
	if (!keep || keep->fair != ts->fair)
		free(ts->fair);
	free(ts);
}

/*
 * The state of tenant t in the new snapshot: the old one when its tokens are in the new
 * scales (new limits start full) and its keys stay valid, else a new one with the tokens
 * rescaled (the old one is retired after the grace period and its counters folded in). A
 * tenant whose key signature changed gets a new uid: its old keys become orphans. NULL when
 * out of memory or out of uids (2^31 in the appliance's life).
 */
static struct sl_tenant_state *tenant_state_for(struct sl_engine *e, const struct sl_prof *p,
						struct sl_tenant_state *old_ts, const char *name,
						int old_bytes, struct sl_reload_summary *sum)
{
	struct sl_tenant_state *ts;
	struct sl_keysig ks;
	int keys_kept, same;

	keysig_of(p, &ks);
	keys_kept = old_ts != NULL && !memcmp(&old_ts->ksig, &ks, sizeof(ks));
	same = keys_kept && old_bytes == p->bytes && old_ts->shaped == p->shape;
	for (unsigned b = 0; same && b < p->nb && b < old_ts->nb; b++)
		same = old_ts->shift[b] == p->tb[b].shift;
	if (same) {
		/* its flows' slots go with its tokens; a snapshot before this one never reads a
		 * new one (its profile is not fair), and the publication orders the store */
		if (p->fair && !old_ts->fair && !(old_ts->fair = zalloc(sizeof(struct sl_fair))))
			return NULL;
		for (unsigned b = old_ts->nb; b < p->nb; b++) {	/* a limit added: full */
			old_ts->st[b] = (struct sl_tb_state){0, p->tb[b].burst};
			old_ts->ovf[b] = old_ts->st[b];
			old_ts->shift[b] = (uint8_t)p->tb[b].shift;
		}
		/* a limit removed is forgotten: added back later, it starts full */
		old_ts->nb = p->nb;
		return old_ts;
	}
	ts = tenant_state_new(e);
	if (!ts)
		return NULL;
	if (p->fair && !(ts->fair = zalloc(sizeof(struct sl_fair)))) {
		tenant_state_free(ts, NULL);
		return NULL;
	}
	if (keys_kept) {
		ts->uid = old_ts->uid;
		ts->acct = old_ts->acct;
	} else {
		if (e->next_uid >= SL_UID_PAIR) {
			tenant_state_free(ts, NULL);
			return NULL;
		}
		ts->uid = e->next_uid++;
		if (p->table && sl_table_units_of(p->table->entry_shift, p->nb) > 1)
			ts->uid |= SL_UID_PAIR;
		ts->acct = p->table ? zalloc(sizeof(*ts->acct)) : NULL;
		if (p->table && !ts->acct) {
			tenant_state_free(ts, NULL);
			return NULL;
		}
		if (old_ts && old_ts->ksig.nb && sum)
			sum->states_reset++;	/* its keys restart */
	}
	ts->ksig = ks;
	ts->shaped = p->shape;
	memcpy(ts->name, name, sizeof(ts->name));
	ts->nb = p->nb;
	sl_flow_domain_tenant(&ts->fdom, ts->uid);
	sl_tb_state_fill(p->tb, p->nb, ts->st, 0);
	sl_tb_state_fill(p->tb, p->nb, ts->ovf, 0);
	for (unsigned b = 0; b < p->nb; b++)
		ts->shift[b] = (uint8_t)p->tb[b].shift;
	/* shaped tokens sit above SL_TB_SHAPE_ZERO: they carry over in the same scale only (the
	 * `same` case above); a new scale or a change to or from shaping starts full */
	if (old_ts && old_bytes == p->bytes && !old_ts->shaped && !p->shape) {
		for (unsigned b = 0; b < p->nb && b < old_ts->nb; b++) {
			ts->st[b].last = old_ts->st[b].last;
			ts->st[b].tokens = rescale(old_ts->st[b].tokens, old_ts->shift[b], &p->tb[b]);
			ts->ovf[b].last = old_ts->ovf[b].last;
			ts->ovf[b].tokens = rescale(old_ts->ovf[b].tokens, old_ts->shift[b], &p->tb[b]);
		}
	} else if (old_ts && sum && keys_kept) {
		sum->states_reset++;	/* bytes <-> packets: nothing to carry */
	}
	return ts;
}

/*
 * Build the snapshot of cfg next to old (NULL at start-up). Nothing visible changes here;
 * on failure everything new is freed and old is untouched.
 */
static int policy_build(struct sl_engine *e, const struct sl_config *cfg,
			const struct sl_policy *old, const struct sl_names *nm,
			struct sl_policy **out, struct sl_reload_summary *sum, struct sl_diag *d)
{
	struct sl_policy *p = calloc(1, sizeof(*p));
	int r = -ENOMEM;

	if (!p)
		return -ENOMEM;
	p->nb_profiles = cfg->nb_profiles;
	p->nb_tenants = cfg->nb_tenants;
	p->unmatched = (uint8_t)cfg->unmatched;
	p->cfg = config_dup(cfg);
	p->prof = zalloc((cfg->nb_profiles + 1) * sizeof(*p->prof));
	p->tenant = calloc(cfg->nb_tenants + 1, sizeof(*p->tenant));
	p->by_uid = calloc(cfg->nb_tenants + 1, sizeof(*p->by_uid));
	if (!p->cfg || !p->prof || !p->tenant || !p->by_uid)
		goto fail;
	r = sl_classifier_build(cfg, &p->cls);
	if (r == -E2BIG)
		sl_diag_add(d, cfg->path, 0, "tenants", "the match blocks have more than 65535 "
			    "distinct shapes (combinations of fields and prefix lengths); use fewer");
	if (r)
		goto fail;
	for (unsigned i = 0; i < cfg->nb_profiles; i++) {
		r = compile_profile(e, cfg, i, old, nm, &p->prof[i], d);
		if (r)
			goto fail;
		p->flows |= p->prof[i].fs != NULL;
	}
	r = -ENOMEM;
	for (unsigned t = 0; t < cfg->nb_tenants; t++) {
		const struct sl_cfg_tenant *ct = &cfg->tenants[t];
		const struct sl_prof *pr = &p->prof[ct->profile];
		int ot = nm->t_old[t];
		struct sl_tenant_state *ots = ot >= 0 ? old->tenant[ot].ts : NULL;

		p->tenant[t].prof = pr;
		p->tenant[t].ts = tenant_state_for(e, pr, ots, ct->name,
						   ots ? old->tenant[ot].prof->bytes : -1, sum);
		if (!p->tenant[t].ts)
			goto fail;
		p->tenant[t].uid = p->tenant[t].ts->uid;
		p->by_uid[t] = (struct sl_uid_ent){p->tenant[t].ts->uid, t};
	}
	qsort(p->by_uid, cfg->nb_tenants, sizeof(*p->by_uid), uid_cmp);
	*out = p;
	return 0;
fail:
	if (r == -ENOMEM)
		sl_diag_add(d, cfg->path, 0, NULL, "out of memory compiling the policy");
	/* free what this build made, never what it took from old */
	for (unsigned i = 0; i < cfg->nb_profiles && p->prof; i++) {
		int oi = nm->p_old[i];

		if (p->prof[i].fs && (oi < 0 || old->prof[oi].fs != p->prof[i].fs))
			flowset_free(p->prof[i].fs);
	}
	for (unsigned t = 0; t < cfg->nb_tenants && p->tenant; t++) {
		int ot = nm->t_old[t];
		const struct sl_tenant_state *ots = ot >= 0 ? old->tenant[ot].ts : NULL;

		if (p->tenant[t].ts && p->tenant[t].ts != ots)
			tenant_state_free(p->tenant[t].ts, ots);
	}
	policy_free(p);
	return r;
}

static void counts_add(struct sl_counts *a, const struct sl_counts *b)
{
#define SL_X_ADD(n) a->n += __atomic_load_n(&b->n, __ATOMIC_RELAXED);
	SL_TENANT_COUNTERS(SL_X_ADD)
#undef SL_X_ADD
}

/* After the grace period: free what old had and new does not use; fold retired counters. */
static void policy_retire(struct sl_engine *e, struct sl_policy *old, const struct sl_policy *nw,
			  const struct sl_names *nm)
{
	for (unsigned i = 0; i < old->nb_profiles; i++) {
		int ni = nm->p_new[i];

		if (old->prof[i].fs && (ni < 0 || nw->prof[ni].fs != old->prof[i].fs))
			flowset_free(old->prof[i].fs);
	}
	for (unsigned t = 0; t < old->nb_tenants; t++) {
		struct sl_tenant_state *ts = old->tenant[t].ts;
		int nt = nm->t_new[t];

		if (nt >= 0 && nw->tenant[nt].ts == ts)
			continue;
		if (nt >= 0) {	/* replaced by a rescaled copy: its history moves over */
			struct sl_tenant_state *n = nw->tenant[nt].ts;

			counts_add(&n->base, &ts->base);
			for (unsigned l = 0; l < e->nb_lcores; l++)
				counts_add(&n->base, &ts->lc[l].c);
			n->evicted += ts->evicted;
		}
		tenant_state_free(ts, nt >= 0 ? nw->tenant[nt].ts : NULL);
	}
	policy_free(old);
}

static void summarize(const struct sl_policy *old, const struct sl_config *cfg,
		      const struct sl_names *nm, struct sl_reload_summary *s)
{
	const struct sl_config *oc = old ? old->cfg : NULL;

	for (unsigned i = 0; i < cfg->nb_profiles; i++) {
		int oi = nm->p_old[i];

		if (oi < 0)
			s->profiles_added++;
		else if (!profile_same(&oc->profiles[oi], &cfg->profiles[i]))
			s->profiles_changed++;
	}
	for (unsigned i = 0; oc && i < oc->nb_profiles; i++)
		s->profiles_removed += nm->p_new[i] < 0;
	for (unsigned t = 0; t < cfg->nb_tenants; t++) {
		int ot = nm->t_old[t];

		if (ot < 0)
			s->tenants_added++;
		else if (!tenant_same(oc, &oc->tenants[ot], cfg, &cfg->tenants[t]))
			s->tenants_changed++;
	}
	for (unsigned t = 0; oc && t < oc->nb_tenants; t++)
		s->tenants_removed += nm->t_new[t] < 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * Bytes a snapshot of cfg may allocate next to old, counted before anything is: every tenant
 * as if its state were new, every flow table as if it were made anew, the classifier's bound,
 * the config copy and the name maps, plus an eighth for the allocator's own overhead.
 */
static uint64_t policy_need(const struct sl_engine *e, const struct sl_config *cfg,
			    const struct sl_policy *old)
{
	uint64_t nt = cfg->nb_tenants, np = cfg->nb_profiles;
	uint64_t on = old ? old->nb_tenants + old->nb_profiles : 0, b;

	b = sizeof(struct sl_policy) + (np + 1) * sizeof(struct sl_prof) +
	    (nt + 1) * (sizeof(struct sl_ptenant) + sizeof(struct sl_uid_ent));
	b += sizeof(*cfg) + np * sizeof(*cfg->profiles) + nt * sizeof(*cfg->tenants) +
	     (uint64_t)cfg->nb_matches * sizeof(*cfg->matches);
	b += sl_classifier_bytes(cfg);
	b += nt * (sizeof(struct sl_tenant_state) + e->nb_lcores * sizeof(struct sl_lcounts) +
		   sizeof(struct sl_keyacct) + 64);
	for (unsigned t = 0; t < cfg->nb_tenants; t++)	/* fair: flows: its flows' slots */
		if (cfg->profiles[cfg->tenants[t].profile].fair == SL_FAIR_FLOWS)
			b += sizeof(struct sl_fair);
	b += (nt + np + on) * (sizeof(struct name_ref) + 2 * sizeof(int));
	for (unsigned i = 0; i < cfg->nb_profiles; i++)
		if (cfg->profiles[i].max_flows) {
			uint64_t entries, domains;

			flows_size(e, cfg, &cfg->profiles[i], &entries, &domains);
			b += sl_flow_bytes(entries, domains) + e->nb_lcores * sizeof(struct sl_flow_cache);
		}
	return b + b / 8;
}

static double mb(uint64_t bytes)
{
	return (double)bytes / (1 << 20);
}

static int admit(const struct sl_engine *e, const char *path, uint64_t need, const char *what,
		 const char *fix, struct sl_diag *d)
{
	return sl_mem_admit(e->mem_probe, e->mem_arg, path, need, what, fix, d);
}

/* How cfg's dedicated tenants share the key budget (sl_engine.h). */
static void key_share(const struct sl_engine *e, const struct sl_config *cfg,
		      struct sl_key_share *k)
{
	memset(k, 0, sizeof(*k));
	k->budget = e->key_budget;
	for (unsigned t = 0; t < cfg->nb_tenants; t++) {
		const struct sl_cfg_profile *cp = &cfg->profiles[cfg->tenants[t].profile];

		if (cp->mode != SL_MODE_DEDICATED)
			continue;
		if (!cp->max_keys) {
			k->tenants_free++;
			continue;
		}
		k->tenants_quota++;
		k->quota_units += cp->max_keys * sl_table_units_of(e->keys->entry_shift,
								   cp->nb_buckets);
	}
}

/* Build, publish, wait, retire. Call with e->ctl held. */
static int reload_locked(struct sl_engine *e, const struct sl_config *cfg,
			 struct sl_reload_summary *sum, struct sl_diag *d)
{
	struct sl_reload_summary local;
	struct sl_policy *old = e->pol, *nw = NULL;
	struct sl_names nm;
	struct timespec t0;
	int r;

	if (!sum)
		sum = &local;
	memset(sum, 0, sizeof(*sum));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = admit(e, cfg->path, policy_need(e, cfg, old), old ? "the reload" : "the policy",
		  "raise the memory limit, or use fewer tenants or match blocks", d);
	if (!r) {
		r = names_build(cfg, old, &nm);
		if (r)
			sl_diag_add(d, cfg->path, 0, NULL, "out of memory compiling the policy");
		else
			r = policy_build(e, cfg, old, &nm, &nw, sum, d);
		if (r)
			names_free(&nm);
	}
	if (r) {
		e->reload_failures += old != NULL;
		sum->generation = e->generation;
		return r;
	}
	/* no failure after this point */
	summarize(old, cfg, &nm, sum);
	key_share(e, cfg, &sum->keys);
	nw->generation = ++e->generation;
	rcu_assign_pointer(e->pol, nw);
	if (old) {
		synchronize_rcu();	/* no lcore still reads old */
		policy_retire(e, old, nw, &nm);
	}
	names_free(&nm);
	sum->generation = nw->generation;
	sum->seconds = seconds_since(&t0);
	return 0;
}

/* ------------------------------------------------------------------ API */

/* The key table of `units` (64 in check mode), refused when it does not fit. */
static int keys_create(struct sl_engine *e, const struct sl_config *cfg, uint64_t units,
		       int check_only, struct sl_diag *d)
{
	uint64_t n = check_only ? 64 : units;
	char what[96];
	int r;

	e->key_budget = units;
	snprintf(what, sizeof(what), "the key table of %llu keys",
		 (unsigned long long)units);
	r = admit(e, cfg->path, sl_table_bytes(n, 1), what,
		  "give a smaller --max-keys or --key-memory", d);
	if (r)
		return r;
	e->kcache = zalloc(e->nb_lcores * sizeof(*e->kcache));
	r = e->kcache ? sl_table_create(n, 1, &e->secret, &e->keys) : -ENOMEM;
	if (r) {
		sl_diag_add(d, cfg->path, 0, NULL, "cannot allocate the key table of %llu keys: %s",
			    (unsigned long long)units, strerror(-r));
		return r;
	}
	sl_table_count_unlinks(e->keys, &e->unlinks);	/* the pipeline re-probes after one */
	return 0;
}

static int mem_read(struct sl_mem *m, void *arg)
{
	(void)arg;
	return sl_mem_read(m);
}

int sl_engine_create(const struct sl_config *cfg, const struct sl_engine_opts *o,
		     struct sl_engine **out, struct sl_diag *d)
{
	uint64_t units = o->max_keys ? o->max_keys : SL_DEFAULT_MAX_KEYS;
	struct sl_engine *e;
	int r;

	if (!o->hz || !o->nb_lcores) {
		sl_diag_add(d, cfg->path, 0, NULL, "engine: the clock and lcore count must be set");
		return -EINVAL;
	}
	if (units > SL_KEYS_MAX) {
		sl_diag_add(d, cfg->path, 0, NULL, "the key budget is at most %llu keys",
			    (unsigned long long)SL_KEYS_MAX);
		return -EINVAL;
	}
	e = zalloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->hz = o->hz;
	e->nb_lcores = o->nb_lcores;
	e->multi = o->nb_lcores > 1;
	e->can_shape = o->can_shape != 0;
	e->next_uid = 1;
	e->mem_probe = o->mem_probe ? o->mem_probe : mem_read;
	e->mem_arg = o->mem_arg;
	pthread_mutex_init(&e->ctl, NULL);
	e->lc = zalloc(o->nb_lcores * sizeof(*e->lc));
	r = e->lc ? sl_hash_seed_random(&e->secret) : -ENOMEM;
	if (r) {
		sl_diag_add(d, cfg->path, 0, NULL, "engine: %s", strerror(-r));
		sl_engine_free(e);
		return r;
	}
	for (unsigned l = 0; l < o->nb_lcores; l++) {
		e->lc[l].e = e;
		e->lc[l].id = l;
	}
	r = keys_create(e, cfg, units, o->check_only, d);
	if (!r)
		r = reload_locked(e, cfg, NULL, d);
	if (r) {
		sl_engine_free(e);
		return r;
	}
	*out = e;
	return 0;
}

void sl_engine_free(struct sl_engine *e)
{
	struct sl_policy *p;

	if (!e)
		return;
	p = e->pol;
	for (unsigned i = 0; p && i < p->nb_profiles; i++)
		flowset_free(p->prof[i].fs);
	for (unsigned t = 0; p && t < p->nb_tenants; t++)
		tenant_state_free(p->tenant[t].ts, NULL);
	policy_free(p);
	sl_table_free(e->keys);
	free(e->kcache);
	pthread_mutex_destroy(&e->ctl);
	free(e->lc);
	free(e);
}

int sl_engine_reload(struct sl_engine *e, const struct sl_config *cfg,
		     struct sl_reload_summary *sum, struct sl_diag *d)
{
	int r;

	pthread_mutex_lock(&e->ctl);
	r = reload_locked(e, cfg, sum, d);
	pthread_mutex_unlock(&e->ctl);
	return r;
}

int sl_engine_set_profile(struct sl_engine *e, const char *profile, const char *rate,
			  const char *burst, struct sl_reload_summary *sum, struct sl_diag *d)
{
	struct sl_config *c;
	struct sl_cfg_profile *p;
	const char *err = NULL;
	enum sl_unit unit;
	int i, r = -EINVAL;

	pthread_mutex_lock(&e->ctl);
	c = config_dup(e->pol->cfg);
	if (!c) {
		pthread_mutex_unlock(&e->ctl);
		return -ENOMEM;
	}
	i = sl_config_profile_index(c, profile);
	if (i < 0) {
		sl_diag_add(d, "set", 0, "profile", "unknown profile '%s'", profile);
		goto out;
	}
	p = &c->profiles[i];
	if (rate && (sl_parse_rate(rate, &unit, &p->b[0].amount, &p->b[0].per_ns, &err) ||
		     unit != p->unit)) {
		sl_diag_add(d, "set", 0, "rate", "%s", err ? err : "rate must keep the profile's kind (bits or packets)");
		goto out;
	}
	if (burst && (sl_parse_size(burst, &unit, &p->b[0].burst, &err) || unit != p->unit)) {
		sl_diag_add(d, "set", 0, "burst", "%s", err ? err : "burst must be of the rate's kind (bytes or pkt)");
		goto out;
	}
	r = reload_locked(e, c, sum, d);
out:
	pthread_mutex_unlock(&e->ctl);
	sl_config_free(c);
	return r;
}

int sl_engine_admit_file(struct sl_engine *e, const char *path, struct sl_diag *d)
{
	return sl_config_admit(path, e->mem_probe, e->mem_arg, d);
}

uint64_t sl_engine_default_keys(const struct sl_mem *m)
{
	uint64_t room = sl_mem_headroom(m), n;

	n = room == SL_MEM_NONE ? SL_DEFAULT_MAX_KEYS : room / 8 / SL_KEY_UNIT_BYTES;
	return n < (1ull << 16) ? 1ull << 16 : n > SL_DEFAULT_MAX_KEYS ? SL_DEFAULT_MAX_KEYS : n;
}

void sl_engine_reload_refused(struct sl_engine *e)
{
	pthread_mutex_lock(&e->ctl);
	e->reload_failures++;
	pthread_mutex_unlock(&e->ctl);
}

struct sl_config *sl_engine_config(struct sl_engine *e)
{
	struct sl_config *c;

	pthread_mutex_lock(&e->ctl);
	c = config_dup(e->pol->cfg);
	pthread_mutex_unlock(&e->ctl);
	return c;
}

static void add_pb(struct sl_pktbytes *a, const struct sl_pktbytes *b)
{
	a->packets += __atomic_load_n(&b->packets, __ATOMIC_RELAXED);
	a->bytes += __atomic_load_n(&b->bytes, __ATOMIC_RELAXED);
}

struct flow_sum {
	const struct sl_policy *p;
	struct sl_stats *out;
};

static void add_flows(const struct sl_key *d, uint64_t admitted, uint64_t refused, void *arg)
{
	struct flow_sum *s = arg;
	const struct sl_ptenant *pt = sl_policy_tenant_of(s->p, d->tenant);

	(void)refused;
	if (pt)
		s->out->t[pt - s->p->tenant].flows += admitted;
}

int sl_engine_stats(const struct sl_engine *ce, struct sl_stats *out)
{
	struct sl_engine *e = (struct sl_engine *)ce;	/* the lock is not part of the value */
	const struct sl_policy *p;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&e->ctl);
	p = e->pol;
	out->t = calloc(p->nb_tenants ? p->nb_tenants : 1, sizeof(*out->t));
	if (!out->t) {
		pthread_mutex_unlock(&e->ctl);
		return -ENOMEM;
	}
	out->nb_tenants = p->nb_tenants;
	out->generation = p->generation;
	out->reload_failures = e->reload_failures;
	for (unsigned l = 0; l < e->nb_lcores; l++) {
		add_pb(&out->total, &e->lc[l].total);
		add_pb(&out->unmatched, &e->lc[l].unmatched);
		add_pb(&out->malformed, &e->lc[l].malformed);
		add_pb(&out->dropped, &e->lc[l].dropped);
	}
	for (unsigned t = 0; t < p->nb_tenants; t++) {
		const struct sl_tenant_state *ts = p->tenant[t].ts;
		struct sl_tenant_stats *o = &out->t[t];

		memcpy(o->name, p->cfg->tenants[t].name, sizeof(o->name));
		memcpy(o->profile, p->tenant[t].prof->name, sizeof(o->profile));
		o->c = ts->base;
		for (unsigned l = 0; l < e->nb_lcores; l++)
			counts_add(&o->c, &ts->lc[l].c);
		o->c.keys_evicted += ts->evicted;
		o->queue_hwm = __atomic_load_n(&ts->queue_hwm, __ATOMIC_RELAXED);
		o->shape_delay_max_us = (uint64_t)((long double)__atomic_load_n(
			&ts->shape_delay_max, __ATOMIC_RELAXED) * 1e6L / (long double)e->hz + 0.5L);
		o->c.packets = o->c.conform_packets + o->c.exceed_packets;
		o->c.bytes = o->c.conform_bytes + o->c.exceed_bytes;
		if (ts->acct) {
			int64_t n = __atomic_load_n(&ts->acct->n, __ATOMIC_RELAXED);

			o->keys = n > 0 ? (uint64_t)n : 0;
		} else {
			o->keys = o->c.packets ? 1 : 0;
		}
	}
	for (unsigned i = 0; i < p->nb_profiles; i++)
		if (p->prof[i].fs)
			sl_flow_count(p->prof[i].fs->t, add_flows, &(struct flow_sum){p, out});
	pthread_mutex_unlock(&e->ctl);
	return 0;
}

/* ------------------------------------------------------------------ describe */

static void print_bucket(FILE *f, const struct sl_cfg_bucket *b, enum sl_unit u)
{
	double per = (double)b->per_ns / 1e9;

	if (u == SL_UNIT_BITS)
		fprintf(f, "%.6g bit/s, burst %llu B", (double)b->amount / per,
			(unsigned long long)(b->burst / 8));
	else
		fprintf(f, "%.6g pkt/s, burst %llu pkt", (double)b->amount / per,
			(unsigned long long)b->burst);
}

static void print_prefix(FILE *f, const char *what, unsigned family, const uint8_t *a,
			 unsigned len)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf));
	fprintf(f, "%s %s/%u", what, buf, len);
}

static void print_block(FILE *f, const struct sl_cfg_match *m)
{
	if (!m->fields)
		fprintf(f, " everything");
	if (m->fields & SL_M_PORT)
		fprintf(f, " port %u", m->port);
	if (m->fields & SL_M_VLAN)
		fprintf(f, " vlan %u", m->vlan);
	if (m->fields & SL_M_INNER_VLAN)
		fprintf(f, " inner-vlan %u", m->inner_vlan);
	if (m->fields & SL_M_SRC)
		print_prefix(f, " src", m->family, m->src, m->src_len);
	if (m->fields & SL_M_DST)
		print_prefix(f, " dst", m->family, m->dst, m->dst_len);
	if (m->fields & SL_M_PROTO)
		fprintf(f, " proto %u", m->proto);
	if (m->fields & SL_M_SPORT)
		fprintf(f, " src-port %u-%u", m->sport_lo, m->sport_hi);
	if (m->fields & SL_M_DPORT)
		fprintf(f, " dst-port %u-%u", m->dport_lo, m->dport_hi);
}

void sl_engine_describe_keys(const struct sl_key_share *k, FILE *f)
{
	fprintf(f, "keys: a budget of %llu keys (%.0f MB) shared by %u dedicated tenants",
		(unsigned long long)k->budget, mb(k->budget * SL_KEY_UNIT_BYTES),
		k->tenants_quota + k->tenants_free);
	if (k->tenants_quota)
		fprintf(f, "; %u with quotas adding up to %llu keys%s", k->tenants_quota,
			(unsigned long long)k->quota_units,
			k->quota_units > k->budget ? " (more than the budget: quotas are ceilings, "
						     "keys go to whoever asks first within them)"
						   : "");
	if (k->tenants_free)
		fprintf(f, "; %u without a quota, sharing %s", k->tenants_free,
			k->tenants_quota ? "what the others leave" : "all of it");
	fprintf(f, "\n");
}

void sl_engine_describe(struct sl_engine *e, FILE *f)
{
	struct sl_classifier_info ci;
	struct sl_key_share ks;
	const struct sl_policy *p;
	const struct sl_config *c;

	pthread_mutex_lock(&e->ctl);
	p = e->pol;
	c = p->cfg;
	fprintf(f, "%s: ok, generation %llu: %u profiles, %u tenants, unmatched traffic: %s\n",
		c->path, (unsigned long long)p->generation, c->nb_profiles, c->nb_tenants,
		sl_action_name(c->unmatched));
	for (unsigned i = 0; i < c->nb_profiles; i++) {
		const struct sl_cfg_profile *cp = &c->profiles[i];

		fprintf(f, "profile %s: %s", cp->name, sl_mode_name(cp->mode));
		if (cp->mode == SL_MODE_DEDICATED) {
			fprintf(f, " per %s (", sl_keykind_name(cp->key));
			if (cp->max_keys)
				fprintf(f, "at most %llu keys per tenant",
					(unsigned long long)cp->max_keys);
			else
				fprintf(f, "no key quota: the budget");
			fprintf(f, ", idle %llus, when full: %s)",
				(unsigned long long)(cp->idle_ns / 1000000000ull),
				sl_when_full_name(cp->when_full));
		}
		if (cp->max_flows)
			fprintf(f, ", max %llu flows (idle %llus)", (unsigned long long)cp->max_flows,
				(unsigned long long)(cp->flow_idle_ns / 1000000000ull));
		if (cp->max_queue)
			fprintf(f, ", max %llu frames queued", (unsigned long long)cp->max_queue);
		fprintf(f, ", exceed: %s", sl_action_name(cp->exceed));
		if (cp->exceed == SL_ACT_MARK)
			fprintf(f, " dscp %u", cp->dscp);
		if (cp->exceed == SL_ACT_SHAPE) {
			uint64_t debt = sl_cfg_shape_debt(cp, 0);

			fprintf(f, " (max-delay %.3f ms, ", (double)cp->max_delay_ns / 1e6);
			if (cp->queue)
				fprintf(f, "queue %llu %s, ", (unsigned long long)(cp->unit ==
					SL_UNIT_BITS ? cp->queue / 8 : cp->queue),
					cp->unit == SL_UNIT_BITS ? "B" : "pkt");
			fprintf(f, "up to %llu %s waiting per %s%s; worker mode)",
				(unsigned long long)(cp->unit ==
				SL_UNIT_BITS ? debt / 8 : debt), cp->unit == SL_UNIT_BITS ? "B" : "pkt",
				cp->mode == SL_MODE_DEDICATED ? "key" : "tenant",
				cp->fair == SL_FAIR_FLOWS ? ", shared fairly by its flows" : "");
		}
		fprintf(f, "\n  rate ");
		print_bucket(f, &cp->b[0], cp->unit);
		fprintf(f, "\n");
		for (unsigned b = 1; b < cp->nb_buckets; b++) {
			fprintf(f, "  limit %llu %s per %llus\n",
				(unsigned long long)(cp->unit == SL_UNIT_BITS ? cp->b[b].burst / 8
									       : cp->b[b].burst),
				cp->unit == SL_UNIT_BITS ? "B" : "pkt",
				(unsigned long long)(cp->b[b].per_ns / 1000000000ull));
		}
	}
	for (unsigned t = 0; t < c->nb_tenants; t++) {
		const struct sl_cfg_tenant *ct = &c->tenants[t];

		fprintf(f, "tenant %u %s -> %s, match:", t + 1, ct->name,
			c->profiles[ct->profile].name);
		for (unsigned b = 0; b < ct->nb_match; b++) {
			if (b)
				fprintf(f, " or");
			print_block(f, sl_cfg_tenant_match(c, ct, b));
		}
		fprintf(f, "\n");
	}
	key_share(e, c, &ks);
	sl_engine_describe_keys(&ks, f);
	sl_classifier_info(&p->cls, &ci);
	fprintf(f, "classifier: %u match blocks in %u shapes (%u distinct values, %.1f MB); a "
		"frame visits at most %u shapes, %u of them behind a prefilter\n", ci.blocks,
		ci.shapes, ci.values, (double)ci.bytes / 1e6, ci.max_probes, ci.filters);
	pthread_mutex_unlock(&e->ctl);
}
