/* sl_stats.h - counters of the engine, summed over lcores on read, and the report JSON
 * written by both programs. One x-macro table names every per-tenant counter. */
#ifndef SL_STATS_H
#define SL_STATS_H

#include <stdint.h>
#include <stdio.h>

/* Per-tenant data-path counters, written by one lcore each, summed on read. */
#define SL_TENANT_COUNTERS(X)                                                        \
	X(packets)		/* frames classified to the tenant (conform + exceed) */ \
	X(bytes)		/* their frame bytes as received */                  \
	X(conform_packets)	/* fit every bucket: tokens taken, forwarded */      \
	X(conform_bytes)                                                             \
	X(exceed_packets)	/* did not fit: exceed action applied */             \
	X(exceed_bytes)                                                              \
	X(keys_created)		/* dedicated: keys inserted into the table */        \
	X(keys_evicted)		/* dedicated: idle keys removed */                   \
	X(table_full)		/* dedicated: new keys refused: key budget taken */  \
	X(quota_full)		/* dedicated: new keys refused: tenant's max-keys */ \
	X(queue_drops)		/* forwarded, then lost at worker hand-off */        \
	X(flow_refused)		/* packets of flows refused by max-flows */               \
	X(shaped_packets)	/* exceed: shape: conforming after a wait (in conform) */ \
	X(shaped_bytes)                                                              \
	X(shape_drops)		/* exceed: shape: would wait too long, dropped (in exceed) */ \
	X(fair_drops)		/* fair: flows: its flow over its share (in shape_drops) */

struct sl_counts {
#define SL_X_FIELD(n) uint64_t n;
	SL_TENANT_COUNTERS(SL_X_FIELD)
#undef SL_X_FIELD
};

struct sl_pktbytes {
	uint64_t packets;
	uint64_t bytes;
};

struct sl_tenant_stats {
	char name[64];
	char profile[64];
	struct sl_counts c;
	uint64_t keys;		/* live keys: dedicated = created - evicted; shared = 1 once seen */
	uint64_t flows;		/* max-flows: flows admitted and active */
	uint64_t queue_hwm;	/* worker mode: most frames of the tenant queued at once */
	uint64_t shape_delay_max_us;	/* exceed: shape: the longest wait given, microseconds */
};

struct sl_stats {
	struct sl_pktbytes total;	/* every frame read */
	struct sl_pktbytes unmatched;	/* classified to no tenant (malformed not included) */
	struct sl_pktbytes malformed;	/* could not be parsed far enough to classify */
	struct sl_pktbytes dropped;	/* every frame the engine told the caller to drop */
	uint64_t generation;		/* of the running policy: 1 at start, +1 per reload */
	uint64_t reload_failures;	/* reloads refused (bad file), policy kept */
	uint64_t tx_dropped;		/* set by the caller: frames lost at TX (not accepted) */
	uint64_t shape_held;		/* set by the caller: frames waiting to be shaped now */
	unsigned nb_tenants;
	struct sl_tenant_stats *t;	/* owned */
};

void sl_stats_free(struct sl_stats *s);

/* Raise the high-water mark *hwm to v if it is higher (relaxed: any thread, never lowers). */
static inline void sl_stats_raise(uint64_t *hwm, uint64_t v)
{
	uint64_t cur = __atomic_load_n(hwm, __ATOMIC_RELAXED);

	while (v > cur &&
	       !__atomic_compare_exchange_n(hwm, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/*
 * The report: {"elapsed_s", "packets", "bytes", "tenants": [{"name", "packets", "bytes",
 * "conform_packets", "conform_bytes", "exceed_packets", "exceed_bytes", "keys", ...}],
 * "unmatched": {...}, "malformed": {...}}. Returns 0 or -errno.
 */
int sl_stats_write_json(const struct sl_stats *s, double elapsed_s, FILE *f);

/*
 * Final counters as an operator reads them (both programs): a totals line (frames, bytes,
 * policy drops, tx_dropped, generation), then one line per tenant with packets, bytes,
 * conforming and exceeding shares, keys and the conforming rate over elapsed_s, then
 * unmatched and malformed.
 */
void sl_stats_print(const struct sl_stats *s, double elapsed_s, FILE *f);
/* Its parts, for a caller that prints other rows (the appliance's --top): the totals line and
 * the column heads, one tenant row (name column w wide), the unmatched and malformed rows. */
void sl_stats_print_head(const struct sl_stats *s, double elapsed_s, int w, FILE *f);
void sl_stats_print_row(const char *name, const struct sl_counts *c, uint64_t keys,
			double elapsed_s, int w, FILE *f);
void sl_stats_print_tail(const struct sl_stats *s, int w, FILE *f);

#endif
