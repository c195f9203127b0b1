/* sl_live.c - the live per-tenant table of the appliance and its final counters, plain text
 * with a header every time so it reads the same in a terminal and in a CI log. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "sl_live.h"

#define SL_LIVE_MIN_NAME 11	/* width of "(unmatched)" */

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
 */
static const struct sl_tenant_stats **sl_live_by_name(const struct sl_stats *prev,
						      const struct sl_stats *cur)
{
	const struct sl_tenant_stats **idx;

	if (prev->generation == cur->generation || !prev->nb_tenants)
		return NULL;
	idx = malloc(prev->nb_tenants * sizeof(*idx));
	if (!idx)
		return NULL;
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

void sl_live_tick(struct sl_live *lv, struct sl_stats *cur, uint64_t tx_dropped, uint64_t now)
{
	const struct sl_tenant_stats **by_name = sl_live_by_name(&lv->prev, cur);
	const struct sl_counts zero = { 0 };
	struct sl_counts sum = { 0 };
	double dt = (double)(now - lv->prev_tsc) / (double)lv->hz;
	int w = sl_live_width(cur);
	uint64_t keys = 0, fwd_b, fwd_p;
	FILE *f = lv->out;

	fprintf(f, "%8.1fs %-*s %14s %12s %14s %12s %14s %12s %9s\n",
		(double)(now - lv->start_tsc) / (double)lv->hz, w, "tenant", "offered Mbit/s",
		"offered pps", "conform Mbit/s", "conform pps", "exceed Mbit/s", "exceed pps",
		"keys");
	for (unsigned i = 0; i < cur->nb_tenants; i++) {
		const struct sl_counts *c = &cur->t[i].c;
		const struct sl_counts *p = sl_live_prev(&lv->prev, by_name, cur, i);
		struct sl_counts d;

		if (!p)
			p = &zero;
		/* a tenant removed and added again restarts from 0: its delta is its count */
#define SL_X_DELTA(n) d.n = c->n >= p->n ? c->n - p->n : c->n; sum.n += d.n;
		SL_TENANT_COUNTERS(SL_X_DELTA)
#undef SL_X_DELTA
		keys += cur->t[i].keys;
		sl_live_row(f, w, cur->t[i].name, &d, cur->t[i].keys, dt);
	}
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
	free(by_name);
	fflush(f);
	sl_stats_free(&lv->prev);
	lv->prev = *cur;
	memset(cur, 0, sizeof(*cur));
	lv->prev_tsc = now;
	lv->prev_tx_dropped = tx_dropped;
}
