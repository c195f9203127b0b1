/* sl_live.c - the live per-tenant table of the appliance and its final counters, plain text
 * with a header every time so it reads the same in a terminal and in a CI log. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "sl_live.h"

#define SL_LIVE_MIN_NAME 11	/* width of "(unmatched)" */
#define SL_LIVE_LABEL 48	/* "(4294967295 more tenants)" and then some */

/* One tenant of a top-N selection: its counts over what is ranked (interval or whole run). */
struct sl_live_pick {
	const struct sl_tenant_stats *t;
	struct sl_counts d;
};

void sl_live_init(struct sl_live *lv, FILE *out, uint64_t hz, uint64_t now)
{
	memset(lv, 0, sizeof(*lv));
	lv->out = out;
	lv->hz = hz;
	lv->start_tsc = now;
	lv->prev_tsc = now;
}

void sl_live_free(struct sl_live *lv)
{
	sl_stats_free(&lv->prev);
	free(lv->pick);
	lv->pick = NULL;
	lv->pick_cap = 0;
	free(lv->by_name);
	lv->by_name = NULL;
	lv->by_name_cap = 0;
}

static int sl_live_width(const struct sl_stats *s)
{
	size_t w = SL_LIVE_MIN_NAME;

	for (unsigned i = 0; i < s->nb_tenants; i++)
		if (strlen(s->t[i].name) > w)
			w = strlen(s->t[i].name);
	return (int)w;
}

/* Rate of a counter over dt seconds: Mbit/s of bytes, or per second. */
static double sl_mbit(uint64_t bytes, double dt)
{
	return dt > 0 ? (double)bytes * 8 / 1e6 / dt : 0;
}

static double sl_per_s(uint64_t n, double dt)
{
	return dt > 0 ? (double)n / dt : 0;
}

static void sl_live_row(FILE *f, int w, const char *name, const struct sl_counts *d,
			uint64_t keys, double dt)
{
	fprintf(f, "          %-*s %14.3f %12.0f %14.3f %12.0f %14.3f %12.0f %9" PRIu64 "\n", w,
		name, sl_mbit(d->bytes, dt), sl_per_s(d->packets, dt),
		sl_mbit(d->conform_bytes, dt), sl_per_s(d->conform_packets, dt),
		sl_mbit(d->exceed_bytes, dt), sl_per_s(d->exceed_packets, dt), keys);
}

static void sl_live_pb_row(FILE *f, int w, const char *name, const struct sl_pktbytes *cur,
			   const struct sl_pktbytes *prev, double dt)
{
	fprintf(f, "          %-*s %14.3f %12.0f %14s %12s %14s %12s %9s\n", w, name,
		sl_mbit(cur->bytes - prev->bytes, dt), sl_per_s(cur->packets - prev->packets, dt),
		"-", "-", "-", "-", "-");
}

static int sl_live_name_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct sl_tenant_stats *const *)a)->name,
		      (*(const struct sl_tenant_stats *const *)b)->name);
}

/*
 * prev's tenants sorted by name when a reload came between the ticks (tenants added, removed
 * or moved), NULL when the policy is the same one (same generation: same tenants, same order).
 * The index is lv's scratch (kept for the next reload); NULL too when it cannot grow.
 */
static const struct sl_tenant_stats **sl_live_by_name(struct sl_live *lv,
						      const struct sl_stats *cur)
{
	const struct sl_stats *prev = &lv->prev;
	const struct sl_tenant_stats **idx = lv->by_name;

	if (prev->generation == cur->generation || !prev->nb_tenants)
		return NULL;
	if (prev->nb_tenants > lv->by_name_cap) {
		idx = realloc(lv->by_name, prev->nb_tenants * sizeof(*idx));
		if (!idx)
			return NULL;
		lv->by_name = idx;
		lv->by_name_cap = prev->nb_tenants;
	}
	for (unsigned i = 0; i < prev->nb_tenants; i++)
		idx[i] = &prev->t[i];
	qsort(idx, prev->nb_tenants, sizeof(*idx), sl_live_name_cmp);
	return idx;
}

/* The previous counts of tenant i of cur: by index, or by name across a reload. */
static const struct sl_counts *sl_live_prev(const struct sl_stats *prev,
					    const struct sl_tenant_stats **by_name,
					    const struct sl_stats *cur, unsigned i)
{
	const struct sl_tenant_stats *key = &cur->t[i], **f;

	if (prev->generation == cur->generation)
		return i < prev->nb_tenants ? &prev->t[i].c : NULL;
	if (!by_name)
		return NULL;
	f = bsearch(&key, by_name, prev->nb_tenants, sizeof(*by_name), sl_live_name_cmp);
	return f ? &(*f)->c : NULL;
}

/* d = c - p counter by counter, added to sum. */
static void sl_live_delta(const struct sl_counts *c, const struct sl_counts *p,
			  struct sl_counts *d, struct sl_counts *sum)
{
	/* a tenant removed and added again restarts from 0: its delta is its count */
#define SL_X_DELTA(n) d->n = c->n >= p->n ? c->n - p->n : c->n; sum->n += d->n;
	SL_TENANT_COUNTERS(SL_X_DELTA)
#undef SL_X_DELTA
}

/* *a -= *b counter by counter (what is left of a sum once the rows shown are taken out). */
static void sl_live_sub(struct sl_counts *a, const struct sl_counts *b)
{
#define SL_X_SUB(n) a->n -= b->n;
	SL_TENANT_COUNTERS(SL_X_SUB)
#undef SL_X_SUB
}

/* Does a rank before b: more bytes, then more packets, then by name. */
static bool sl_live_before(const struct sl_live_pick *a, const struct sl_live_pick *b)
{
	int c;

	if (a->d.bytes != b->d.bytes)
		return a->d.bytes > b->d.bytes;
	if (a->d.packets != b->d.packets)
		return a->d.packets > b->d.packets;
	c = strcmp(a->t->name, b->t->name);
	return c ? c < 0 : a->t < b->t;
}

static int sl_live_rank_cmp(const void *a, const void *b)
{
	return sl_live_before(a, b) ? -1 : sl_live_before(b, a) ? 1 : 0;
}

/*
 * Offer p to h, a heap of *n picks (at most cap) whose root ranks last: h keeps the cap
 * picks that rank first of all those offered. O(log cap) when p gets in, O(1) otherwise.
 */
static void sl_live_offer(struct sl_live_pick *h, unsigned *n, unsigned cap,
			  const struct sl_live_pick *p)
{
	unsigned i;

	if (*n < cap) {
		for (i = (*n)++; i && sl_live_before(&h[(i - 1) / 2], p); i = (i - 1) / 2)
			h[i] = h[(i - 1) / 2];
		h[i] = *p;
		return;
	}
	if (!cap || !sl_live_before(p, &h[0]))
		return;
	for (i = 0;;) {
		unsigned c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && sl_live_before(&h[c], &h[c + 1]))
			c++;	/* the child that ranks last */
		if (!sl_live_before(p, &h[c]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = *p;
}

/* Room for min(top, nb) picks in *pick (grown, kept); the room there is if it cannot grow. */
static unsigned sl_live_room(struct sl_live_pick **pick, unsigned *cap, unsigned top,
			     unsigned nb)
{
	unsigned want = top < nb ? top : nb;
	struct sl_live_pick *p;

	if (want > *cap) {
		p = realloc(*pick, (size_t)want * sizeof(*p));
		if (p) {
			*pick = p;
			*cap = want;
		}
	}
	return want < *cap ? want : *cap;
}

/* The label of the row of the tenants not shown, and the name width of the rows shown. */
static int sl_live_others(char *label, size_t size, unsigned others,
			  const struct sl_live_pick *pick, unsigned n, int min)
{
	size_t w = (size_t)min;

	snprintf(label, size, "(%u more tenant%s)", others, others == 1 ? "" : "s");
	if (strlen(label) > w)
		w = strlen(label);
	for (unsigned i = 0; i < n; i++)
		if (strlen(pick[i].t->name) > w)
			w = strlen(pick[i].t->name);
	return (int)w;
}

static void sl_live_header(struct sl_live *lv, int w, uint64_t now)
{
	fprintf(lv->out, "%8.1fs %-*s %14s %12s %14s %12s %14s %12s %9s\n",
		(double)(now - lv->start_tsc) / (double)lv->hz, w, "tenant", "offered Mbit/s",
		"offered pps", "conform Mbit/s", "conform pps", "exceed Mbit/s", "exceed pps",
		"keys");
}

/* Every tenant in policy order, as the table always was. Returns the name width. */
static int sl_live_all(struct sl_live *lv, const struct sl_stats *cur,
		       const struct sl_tenant_stats **by_name, struct sl_counts *sum,
		       uint64_t *keys, uint64_t now, double dt)
{
	const struct sl_counts zero = { 0 };
	int w = sl_live_width(cur);

	sl_live_header(lv, w, now);
	for (unsigned i = 0; i < cur->nb_tenants; i++) {
		const struct sl_counts *p = sl_live_prev(&lv->prev, by_name, cur, i);
		struct sl_counts d;

		sl_live_delta(&cur->t[i].c, p ? p : &zero, &d, sum);
		*keys += cur->t[i].keys;
		sl_live_row(lv->out, w, cur->t[i].name, &d, cur->t[i].keys, dt);
	}
	return w;
}

/*
 * More tenants than lv->top: one pass for the deltas and sums, the busiest kept in a heap
 * of lv->top (O(T log top) at worst), then those few sorted, shown, and the rest summed.
 */
static int sl_live_top(struct sl_live *lv, const struct sl_stats *cur,
		       const struct sl_tenant_stats **by_name, struct sl_counts *sum,
		       uint64_t *keys, uint64_t now, double dt)
{
	const struct sl_counts zero = { 0 };
	unsigned cap = sl_live_room(&lv->pick, &lv->pick_cap, lv->top, cur->nb_tenants), n = 0;
	struct sl_counts rest;
	uint64_t rest_keys;
	char label[SL_LIVE_LABEL];
	int w;

	for (unsigned i = 0; i < cur->nb_tenants; i++) {
		const struct sl_counts *p = sl_live_prev(&lv->prev, by_name, cur, i);
		struct sl_live_pick pk = { .t = &cur->t[i] };

		sl_live_delta(&cur->t[i].c, p ? p : &zero, &pk.d, sum);
		*keys += cur->t[i].keys;
		if (pk.d.packets || pk.d.bytes)
			sl_live_offer(lv->pick, &n, cap, &pk);
	}
	qsort(lv->pick, n, sizeof(*lv->pick), sl_live_rank_cmp);
	rest = *sum;
	rest_keys = *keys;
	w = sl_live_others(label, sizeof(label), cur->nb_tenants - n, lv->pick, n,
			   SL_LIVE_MIN_NAME);
	sl_live_header(lv, w, now);
	for (unsigned i = 0; i < n; i++) {
		const struct sl_live_pick *pk = &lv->pick[i];

		sl_live_row(lv->out, w, pk->t->name, &pk->d, pk->t->keys, dt);
		sl_live_sub(&rest, &pk->d);
		rest_keys -= pk->t->keys;
	}
	sl_live_row(lv->out, w, label, &rest, rest_keys, dt);
	return w;
}

void sl_live_tick(struct sl_live *lv, struct sl_stats *cur, uint64_t tx_dropped, uint64_t now)
{
	const struct sl_tenant_stats **by_name = sl_live_by_name(lv, cur);
	struct sl_counts sum = { 0 };
	double dt = (double)(now - lv->prev_tsc) / (double)lv->hz;
	uint64_t keys = 0, fwd_b, fwd_p;
	FILE *f = lv->out;
	int w;

	if (lv->top && cur->nb_tenants > lv->top)
		w = sl_live_top(lv, cur, by_name, &sum, &keys, now, dt);
	else
		w = sl_live_all(lv, cur, by_name, &sum, &keys, now, dt);
	sl_live_pb_row(f, w, "(unmatched)", &cur->unmatched, &lv->prev.unmatched, dt);
	sl_live_pb_row(f, w, "(malformed)", &cur->malformed, &lv->prev.malformed, dt);
	sum.packets = cur->total.packets - lv->prev.total.packets;
	sum.bytes = cur->total.bytes - lv->prev.total.bytes;
	sl_live_row(f, w, "total", &sum, keys, dt);
	fwd_p = sum.packets - (cur->dropped.packets - lv->prev.dropped.packets);
	fwd_b = sum.bytes - (cur->dropped.bytes - lv->prev.dropped.bytes);
	fprintf(f, "          forwarded %.3f Mbit/s %.0f pps, dropped %.0f pps, "
		"tx failures %" PRIu64 "; policy generation %" PRIu64 ", reload failures %"
		PRIu64 "\n", sl_mbit(fwd_b, dt), sl_per_s(fwd_p, dt),
		sl_per_s(cur->dropped.packets - lv->prev.dropped.packets, dt),
		tx_dropped - lv->prev_tx_dropped, cur->generation, cur->reload_failures);
	if (sum.shaped_packets || sum.shape_drops || cur->shape_held)
		fprintf(f, "          shaped: waited %.3f Mbit/s %.0f pps, dropped for waiting too "
			"long %.0f pps (over their flow's share %.0f pps), waiting now %" PRIu64
			"\n", sl_mbit(sum.shaped_bytes, dt), sl_per_s(sum.shaped_packets, dt),
			sl_per_s(sum.shape_drops, dt), sl_per_s(sum.fair_drops, dt), cur->shape_held);
	fflush(f);
	sl_stats_free(&lv->prev);	/* by_name pointed into it: done with it above */
	lv->prev = *cur;
	memset(cur, 0, sizeof(*cur));
	lv->prev_tsc = now;
	lv->prev_tx_dropped = tx_dropped;
}

void sl_live_final(const struct sl_stats *s, double el, unsigned top, FILE *f)
{
	struct sl_live_pick *pick = NULL;
	unsigned cap = 0, n = 0;
	struct sl_counts sum = { 0 }, rest;
	uint64_t keys = 0, rest_keys;
	char label[SL_LIVE_LABEL];
	int w;

	if (top && s->nb_tenants > top)
		cap = sl_live_room(&pick, &cap, top, s->nb_tenants);
	if (!cap) {	/* every tenant fits (or no memory for the selection: all of them) */
		free(pick);
		sl_stats_print(s, el, f);
		return;
	}
	for (unsigned i = 0; i < s->nb_tenants; i++) {
		struct sl_live_pick pk = { .t = &s->t[i], .d = s->t[i].c };

#define SL_X_SUM(n) sum.n += pk.d.n;
		SL_TENANT_COUNTERS(SL_X_SUM)
#undef SL_X_SUM
		keys += s->t[i].keys;
		if (pk.d.packets || pk.d.bytes)
			sl_live_offer(pick, &n, cap, &pk);
	}
	qsort(pick, n, sizeof(*pick), sl_live_rank_cmp);
	w = sl_live_others(label, sizeof(label), s->nb_tenants - n, pick, n, 12);
	sl_stats_print_head(s, el, w, f);
	rest = sum;
	rest_keys = keys;
	for (unsigned i = 0; i < n; i++) {
		sl_stats_print_row(pick[i].t->name, &pick[i].d, pick[i].t->keys, el, w, f);
		sl_live_sub(&rest, &pick[i].d);
		rest_keys -= pick[i].t->keys;
	}
	sl_stats_print_row(label, &rest, rest_keys, el, w, f);
	sl_stats_print_tail(s, w, f);
	sum.packets = s->total.packets;	/* as in the live table: every frame read */
	sum.bytes = s->total.bytes;
	sl_stats_print_row("total", &sum, keys, el, w, f);
	fflush(f);
	free(pick);
}
