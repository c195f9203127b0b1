/* sl_live.h - what the operator of the appliance sees: the per-tenant table once per interval
 * (rates from counter deltas between ticks) and the final counters. Main lcore only. */
#ifndef SL_LIVE_H
#define SL_LIVE_H

#include <stdint.h>
#include <stdio.h>
#include "sl_stats.h"

struct sl_live {
	FILE *out;
	uint64_t hz;			/* TSC ticks per second */
	uint64_t start_tsc;		/* launch time, for the time column */
	uint64_t prev_tsc;		/* time of prev */
	uint64_t prev_tx_dropped;
	struct sl_stats prev;		/* owned; all zero before the first tick */
};

void sl_live_init(struct sl_live *lv, FILE *out, uint64_t hz, uint64_t now);

/*
 * Print one table for the interval since the previous tick (or init): per tenant offered,
 * conforming and exceeding Mbit/s and pps and live keys; unmatched, malformed, total.
 * Takes ownership of cur (kept as the next tick's base). tx_dropped: running total.
 */
void sl_live_tick(struct sl_live *lv, struct sl_stats *cur, uint64_t tx_dropped, uint64_t now);
void sl_live_free(struct sl_live *lv);

#endif
