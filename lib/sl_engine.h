/* sl_engine.h - the limiter as an embeddable library: build it from a validated config,
 * feed bursts of frames from any number of data-path contexts (lcores), read counters. */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include <stdint.h>
#include <stdio.h>
#include "sl_config.h"
#include "sl_diag.h"
#include "sl_mem.h"
#include "sl_stats.h"

#define SL_BURST_MAX 64

struct sl_engine;
struct sl_lcore;

struct sl_engine_opts {
	uint64_t hz;		/* ticks per second of the `now` given to sl_process (TSC hz, or 1e9) */
	unsigned nb_lcores;	/* data-path contexts to create (>= 1) */
	/*
	 * The key budget: units of 64 bytes (76 with the index) in the one key table of every
	 * dedicated key of every tenant; a key of a profile with limits (2 to 4 buckets) takes
	 * two. 0 = SL_DEFAULT_MAX_KEYS. Allocated and touched here, never again.
	 */
	uint64_t max_keys;
	/* 1: compile and describe only (sluice --check): no key table is allocated (64 units
	 * stand in), max_keys is the budget the description talks about. */
	int check_only;
	/* 1: the caller holds frames until their sl_decision.depart (sluice --workers, the
	 * replay): policies with exceed: shape are accepted. 0: they are refused at create and
	 * reload with a message (run-to-completion lcores transmit at once). */
	int can_shape;
	/* Memory bounds (sl_mem.h) checked before the key table and before every reload is
	 * built; NULL = sl_mem_read. */
	sl_mem_probe_fn mem_probe;
	void *mem_arg;
};

#define SL_DEFAULT_MAX_KEYS (1ull << 20)
#define SL_KEY_UNIT_BYTES 76	/* memory of one unit with its share of the index */

/*
 * Compile cfg for the clock opts->hz and allocate the key table (max_keys units, touched now:
 * no page fault later) and the policy. Refuses (-ENOMEM, a message saying what to change)
 * what does not fit the memory the process may still take (sl_mem_headroom) before allocating
 * it. cfg is not referenced afterwards. Returns 0 or -errno with messages in d. Control path.
 */
int sl_engine_create(const struct sl_config *cfg, const struct sl_engine_opts *opts,
		     struct sl_engine **out, struct sl_diag *d);
void sl_engine_free(struct sl_engine *e);

/*
 * How the key budget is shared by the policy's dedicated tenants: those with a quota (their
 * profile's max-keys) and what the quotas add up to in units, and those without one (they
 * share what the others leave). Quotas are ceilings: when they add up to more than the budget
 * the policy is still valid, and keys go to whoever asks first within their quotas.
 */
struct sl_key_share {
	uint64_t budget;		/* units */
	uint64_t quota_units;		/* sum of the quotas of the tenants that have one */
	unsigned tenants_quota;		/* dedicated tenants with a quota */
	unsigned tenants_free;		/* dedicated tenants without one */
};

/* What a reload changed; names are compared, so moving lines around changes nothing. */
struct sl_reload_summary {
	uint64_t generation;		/* of the policy now running */
	unsigned tenants_added, tenants_removed, tenants_changed;
	unsigned profiles_added, profiles_removed, profiles_changed;
	unsigned states_reset;		/* tenants whose buckets or keys restarted full */
	double seconds;			/* compile + publish + grace period */
	struct sl_key_share keys;	/* how the key budget is shared */
};

/*
 * Control path: replace the running policy by cfg. Everything that can fail (compiling,
 * allocating the new snapshot) happens first; what the snapshot needs is computed first and
 * refused with a message when it does not fit the memory the process may still take; on
 * failure the running policy is untouched and -errno returned with messages in d. Then the new snapshot is published (rcu_assign_pointer)
 * and the old one freed after a grace period. State carries over by name: a tenant keeps its
 * buckets' tokens and its counters, a dedicated profile its key table, as long as the tokens'
 * fixed-point scale (sl_tb.h: unchanged unless a burst grows past 16x) and for tables the key
 * kind, bucket count and max-keys stay the same; new parameters apply from the next packet,
 * tokens capped at the new burst. A new limit starts full. sum may be NULL.
 */
int sl_engine_reload(struct sl_engine *e, const struct sl_config *cfg,
		     struct sl_reload_summary *sum, struct sl_diag *d);

/*
 * Control path: change one profile's rate and/or burst (operator units as in the file,
 * NULL = unchanged) as a reload of the running policy with that edit would.
 */
int sl_engine_set_profile(struct sl_engine *e, const char *profile, const char *rate,
			  const char *burst, struct sl_reload_summary *sum, struct sl_diag *d);

/*
 * Control path, before sl_config_load of a reload: 0 when parsing the file at path fits the
 * memory the process may still take, else -ENOMEM with a message in d (-errno when the file
 * cannot be read: the parse reports it).
 */
int sl_engine_admit_file(struct sl_engine *e, const char *path, struct sl_diag *d);

/* The key budget that fits a process of memory m: an eighth of what it may still take, in
 * units, at least 64K and at most SL_DEFAULT_MAX_KEYS (1M, 76 MB: a key's index bucket is
 * anywhere in an index sized for the budget, so a budget far above the keys in use costs
 * cache misses; give --max-keys for more). */
uint64_t sl_engine_default_keys(const struct sl_mem *m);

/* Count a reload refused before it reached the engine (a file that did not parse). */
void sl_engine_reload_refused(struct sl_engine *e);

/* Copy of the running policy's config (free with sl_config_free), or NULL. Control path. */
struct sl_config *sl_engine_config(struct sl_engine *e);

/* One line on how a key budget is shared (for --check and the reload log). */
void sl_engine_describe_keys(const struct sl_key_share *k, FILE *f);

/* Human summary of the compiled running policy (what `sluice --check` prints). */
void sl_engine_describe(struct sl_engine *e, FILE *f);

/* Data-path context i (0 <= i < nb_lcores); each used by one thread at a time. */
struct sl_lcore *sl_engine_lcore(struct sl_engine *e, unsigned i);

enum sl_verdict { SL_V_FORWARD = 0, SL_V_DROP = 1 };

/*
 * Data path. Parse, classify, police and act on n <= SL_BURST_MAX frames that came in on
 * DPDK port `port` (what a tenant's `port` match compares), at time `now` (ticks,
 * non-decreasing per context). data[i] points at the frame, caplen[i] bytes of it are
 * readable and writable (first segment), len[i] is the frame length as received (the cost in
 * byte mode). Frames whose exceed action is mark are rewritten in place (DSCP + checksum).
 * verdict[i] receives SL_V_FORWARD or SL_V_DROP. Returns the number forwarded. A frame of a
 * profile with exceed: shape that should wait is forwarded at once here (there is no
 * departure to give): callers of shaping policies use sl_process_ex.
 * Never allocates, locks, logs or makes a system call.
 */
unsigned sl_process(struct sl_lcore *lc, uint16_t port, uint8_t *const data[],
		    const uint32_t caplen[], const uint32_t len[], unsigned n, uint64_t now,
		    uint8_t verdict[]);

/*
 * Control path, from one thread every ~100 ms: evict idle keys of dedicated profiles (keys
 * whose every bucket has been full and untouched for the profile's `idle`, so that a
 * recreated key is exactly as it was), scanning at most `budget` index buckets per table per
 * call (0 = the whole table). Unlinked entries are reused only after an RCU grace period
 * (liburcu QSBR synchronize_rcu): threads calling sl_process must be registered QSBR readers
 * (rcu_register_thread) that announce a quiescent state between bursts
 * (rcu_quiescent_state) and go offline when idle. A single thread doing both (replay) needs
 * nothing. Returns the number of keys evicted.
 */
uint64_t sl_engine_maintain(struct sl_engine *e, uint64_t now, uint64_t budget);

/*
 * Per-frame details of the decisions of sl_process_ex, for callers that hand frames on to
 * other lcores (worker mode): where the frame's flow goes, what caps its queueing, whether
 * it still needs its DSCP rewritten.
 */
struct sl_decision {
	uint32_t flow_hash;	/* hash of the 5-tuple: equal for every frame of a flow */
	uint32_t queue_key;	/* what max-queue counts: the tenant (shared) or the key */
	uint32_t max_queue;	/* the profile's max-queue in frames, 0 = no cap */
	uint32_t tenant;	/* index in the running policy, or SL_NO_TENANT_INDEX */
	uint8_t mark;		/* 1: forwarded, but the DSCP rewrite is left to the caller */
	uint8_t dscp;		/* with mark: the DSCP to write (sl_mark_dscp) */
	uint16_t l3_off;	/* offset of the IP header, for sl_mark_dscp via sl_decision_mark */
	/*
	 * The tick the frame may leave at: `now` of the call, or later for a frame of a profile
	 * with exceed: shape that waits (the caller holds it until then: a timing wheel).
	 * Frames of one bucket have departures in arrival order.
	 */
	uint64_t depart;
};

#define SL_NO_TENANT_INDEX 0xffffffffu

/*
 * sl_process, and fill dec[i] for every frame. Frames to be marked are not rewritten here:
 * dec[i].mark says so and the caller applies sl_decision_mark() (e.g. on a worker lcore).
 */
unsigned sl_process_ex(struct sl_lcore *lc, uint16_t port, uint8_t *const data[],
		       const uint32_t caplen[], const uint32_t len[], unsigned n, uint64_t now,
		       uint8_t verdict[], struct sl_decision dec[]);

/* The deferred DSCP rewrite of a frame (IPv4 checksum updated, IPv6 traffic class). */
int sl_decision_mark(uint8_t *frame, uint32_t caplen, const struct sl_decision *d);

/*
 * Pipelined data path: the decisions of sl_process, with the memory loads of one burst (index
 * buckets, then key entries: two dependent cache misses per packet at millions of keys)
 * overlapped with the work on the next bursts. Each burst goes through three calls on the
 * same context and slot (0 <= slot < SL_SLOTS):
 *   sl_burst_stage   parse, classify (the frames came in on `port`), build keys and hashes,
 *                    start loading the index buckets;
 *   sl_burst_probe   match signatures in the buckets, start loading the entries;
 *   sl_burst_finish  police and act at `now`, exactly as sl_process (dec == NULL: marks are
 *                    applied in place) or sl_process_ex (dec != NULL) would.
 * A forwarding loop stages burst k, probes burst k-1 and finishes burst k-2 in each pass (see
 * app/sl_fwd.c), so that a whole pass separates each load from its use. Bursts are finished
 * in the order they were staged (decisions, and token-bucket time, happen at finish); frames
 * must stay in place from stage to finish. Quiescent states and policy reloads may happen
 * between the calls: finish re-stages a burst that was staged under an older policy.
 * sl_burst_probe may be skipped (finish then probes itself).
 */
#define SL_SLOTS 3

void sl_burst_stage(struct sl_lcore *lc, unsigned slot, uint16_t port, uint8_t *const data[],
		    const uint32_t caplen[], unsigned n);
void sl_burst_probe(struct sl_lcore *lc, unsigned slot);
unsigned sl_burst_finish(struct sl_lcore *lc, unsigned slot, uint8_t *const data[],
			 const uint32_t caplen[], const uint32_t len[], uint64_t now,
			 uint8_t verdict[], struct sl_decision dec[]);

/*
 * Data path, right after sl_process_ex on the same lcore (same policy snapshot): count a
 * forwarded frame of tenant `tenant` that was then lost at hand-off (queue full or over
 * max-queue) or at TX. It stays in conform_packets; these count it again.
 */
void sl_lcore_queue_drop(struct sl_lcore *lc, uint32_t tenant, uint32_t len);
/* Raise the tenant's high-water mark of frames queued to workers to `level` if higher. */
void sl_lcore_queue_level(struct sl_lcore *lc, uint32_t tenant, uint32_t level);

/* Sum counters over all contexts (safe while they run). Returns 0 or -ENOMEM. */
int sl_engine_stats(const struct sl_engine *e, struct sl_stats *out);

/* Frames (and bytes) context i has read so far (safe while it runs), or zeros. */
struct sl_pktbytes sl_engine_lcore_total(const struct sl_engine *e, unsigned i);

#endif
