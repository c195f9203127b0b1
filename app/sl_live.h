/* sl_live.h - what the operator of the appliance sees: the per-tenant table once per interval
 * (rates from counter deltas between ticks) and the final counters. Main lcore only. */
#ifndef SL_LIVE_H
#define SL_LIVE_H

#include <stdint.h>
#include <stdio.h>
#include "sl_stats.h"

struct sl_live_pick;			/* sl_live.c: one tenant of a top-N selection */

struct sl_live {
	FILE *out;
	uint64_t hz;			/* TSC ticks per second */
	uint64_t start_tsc;		/* launch time, for the time column */
	uint64_t prev_tsc;		/* time of prev */
	uint64_t prev_tx_dropped;
	struct sl_stats prev;		/* owned; all zero before the first tick */
	/*
	 * Most tenant rows per table (--top), set after sl_live_init; 0 (the default) = every
	 * tenant. With more tenants than top, a table shows the top busiest of the interval and
	 * one row summing the others.
	 */
	unsigned top;
	/* scratch reused from tick to tick, freed by sl_live_free */
	struct sl_live_pick *pick;	/* bounded heap of the busiest, at most top */
	unsigned pick_cap;
	const struct sl_tenant_stats **by_name;	/* prev's tenants by name, across a reload */
	unsigned by_name_cap;
};

void sl_live_init(struct sl_live *lv, FILE *out, uint64_t hz, uint64_t now);

/*
 * Print one table for the interval since the previous tick (or init): per tenant offered,
 * conforming and exceeding Mbit/s and pps and live keys; unmatched, malformed, total.
 * With more tenants than lv->top (not 0): only the lv->top tenants that offered the most
 * bytes (then packets, then by name) in the interval, none that offered nothing, then one
 * row "(K more tenants)" summing the rest; the total is always of every tenant.
 * Takes ownership of cur (kept as the next tick's base). tx_dropped: running total.
 */
void sl_live_tick(struct sl_live *lv, struct sl_stats *cur, uint64_t tx_dropped, uint64_t now);
void sl_live_free(struct sl_live *lv);

/*
 * The final counters (sl_stats_print) under the same rule: with top 0 or at most top
 * tenants exactly sl_stats_print; with more, the top tenants with the most bytes (then
 * packets, then by name; none without traffic), a row "(K more tenants)" summing the rest,
 * unmatched, malformed and a total row.
 */
void sl_live_final(const struct sl_stats *s, double elapsed_s, unsigned top, FILE *f);

#endif
