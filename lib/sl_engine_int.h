/* sl_engine_int.h - the engine's internal objects, shared by its data path (sl_engine.c),
 * policy snapshots and reloads (sl_policy.c) and key eviction (sl_evict.c). Not an API. */
#ifndef SL_ENGINE_INT_H
#define SL_ENGINE_INT_H

#include <pthread.h>
#include <stdint.h>
#include "sl_classify.h"
#include "sl_flow.h"
#include "sl_engine.h"
#include "sl_fair.h"
#include "sl_mem.h"
#include "sl_table.h"
#include "sl_tb.h"

#define SL_COST_MAX_BYTES 65535u

/*
 * Keys. Every dedicated key of every tenant lives in the engine's one key table, sized once
 * (sl_engine_opts.max_keys units of 64 bytes) and never reallocated. A key holds its tenant's
 * uid; a tenant keeps its uid, and so its keys, across reloads while its key signature (its
 * profile's name, key kind, bucket count, token scales and unit) stays the same; otherwise it
 * gets a new uid and the keys of the old one are orphans, unlinked by the next eviction scans
 * whatever their idle time. A uid with SL_UID_PAIR set is one whose keys take two units
 * (2 to 4 buckets). uids are never reused.
 */
#define SL_UID_PAIR 0x80000000u

struct sl_keysig {
	char prof[SL_NAME_MAX];
	uint8_t key, nb, bytes, shape;
	uint8_t shift[SL_MAX_BUCKETS];
};

/* Live keys of one uid: +1 by the lcore that inserts, -1 by the evictor; atomic. */
struct sl_keyacct {
	int64_t n;
} __attribute__((aligned(64)));

/* Flow table of a max-flows profile: lives across reloads while the profile keeps its name,
 * mode and key kind. */
struct sl_flowset {
	struct sl_flow_table *t;
	struct sl_flow_cache *cache;	/* one per lcore */
	uint8_t mode, key;
};

/* Compiled profile of one snapshot: read-only on the data path. */
struct sl_prof {
	struct sl_tb_params tb[SL_MAX_BUCKETS];
	uint64_t full[SL_MAX_BUCKETS];	/* tokens of a full bucket set */
	uint64_t floor[SL_MAX_BUCKETS];	/* exceed: shape: least tokens a take leaves (sl_tb.h) */
	struct sl_table *table;		/* dedicated: the engine's key table; shared: NULL */
	uint64_t quota;			/* dedicated: keys per tenant (max-keys), 0 = none */
	uint64_t evict_ticks;		/* dedicated: idle + time to refill completely */
	uint32_t max_queue;		/* worker mode: frames queued at once, 0 = no cap */
	struct sl_flowset *fs;		/* max-flows, or NULL */
	struct sl_flow_params fp;
	uint8_t nb;
	uint8_t mode;
	uint8_t key;
	uint8_t bytes;			/* 1: cost = frame bytes * 8 bits; 0: cost = 1 packet */
	uint8_t exceed;
	uint8_t dscp;
	uint8_t when_full;
	uint8_t shape;			/* exceed: shape */
	uint8_t fair;			/* exceed: shape, shared, fair: flows (sl_fair.h) */
	uint64_t fair_q;		/* fair: the tenant's queue, units: its smallest debt */
	uint64_t fair_hold;		/* fair: ticks a flow counts after its frames left */
	char name[SL_NAME_MAX];
} __attribute__((aligned(64)));

/* Per-lcore counters of a tenant, each on its own cache lines. */
struct sl_lcounts {
	struct sl_counts c;
} __attribute__((aligned(64)));

/*
 * State of a tenant that outlives reloads while a tenant of that name exists: its shared
 * buckets (and the overflow set of a dedicated tenant), its counters, and its uid, the key
 * prefix of its dedicated keys. uids are never reused.
 */
struct sl_tenant_state {
	struct sl_tb_state st[SL_MAX_BUCKETS];		/* shared buckets */
	struct sl_tb_state ovf[SL_MAX_BUCKETS];		/* dedicated: when-full shared */
	uint8_t shift[SL_MAX_BUCKETS];			/* scale the tokens are in */
	uint8_t nb;
	uint32_t uid;
	struct sl_keyacct *acct;	/* dedicated: its uid's live keys (shared by its states) */
	struct sl_keysig ksig;		/* what its keys were made under (zero: shared) */
	struct sl_key fdom;		/* max-flows domain of a shared tenant */
	struct sl_counts base;		/* control thread: counts of states this one replaced */
	uint64_t queue_hwm;		/* atomic max, any lcore */
	uint64_t shape_delay_max;	/* atomic max, any lcore: longest wait given, ticks */
	uint8_t shaped;			/* its buckets' tokens are shaped ones (SL_TB_SHAPE_ZERO) */
	struct sl_fair *fair;		/* fair: flows: its flows' slots; kept with its tokens */
	uint64_t evicted;		/* control thread */
	char name[SL_NAME_MAX];
	struct sl_lcounts lc[];		/* one per lcore */
} __attribute__((aligned(64)));

struct sl_ptenant {
	const struct sl_prof *prof;
	struct sl_tenant_state *ts;
	uint32_t uid;			/* ts->uid, here so that a frame's key needs no load of ts */
	uint32_t pad;
};

/* One immutable compiled policy, published under RCU and freed after a grace period. */
struct sl_policy {
	uint64_t generation;
	struct sl_classifier cls;
	unsigned nb_profiles;
	unsigned nb_tenants;
	struct sl_prof *prof;
	struct sl_ptenant *tenant;
	uint8_t unmatched;		/* SL_ACT_PASS or SL_ACT_DROP */
	uint8_t flows;			/* some profile has max-flows */
	struct sl_config *cfg;		/* owned copy: runtime edits and the next diff */
	struct sl_uid_ent {
		uint32_t uid;
		uint32_t tenant;
	} *by_uid;			/* sorted by uid */
};

/* One burst on its way through the three stages (sl_burst_stage, _probe, _finish). */
struct sl_slot {
	const struct sl_policy *pol;	/* snapshot it was staged under; checked by generation */
	uint64_t gen;
	uint64_t unlinks;		/* engine's unlink count read before the probe */
	unsigned n;
	uint16_t port;			/* the frames came in on it */
	uint8_t probed;
	struct sl_pkt pkt[SL_BURST_MAX];
	struct sl_key key[SL_BURST_MAX];
	uint64_t hash[SL_BURST_MAX];
	struct sl_table *tab[SL_BURST_MAX];	/* dedicated key: its profile's table, else NULL */
	const uint32_t *bkt[SL_BURST_MAX];	/* its primary index bucket */
	struct sl_entry *ent[SL_BURST_MAX];	/* stage 2's candidate entry, or NULL */
	const struct sl_ptenant *pt[SL_BURST_MAX];	/* NULL: no tenant */
	uint32_t tenant[SL_BURST_MAX];
	int8_t shared_ok[SL_BURST_MAX];		/* several lcores: decided per burst */
	uint64_t wait[SL_BURST_MAX];		/* exceed: shape: ticks the frame waits */
	struct sl_key fkey[SL_BURST_MAX];
	uint64_t fhash[SL_BURST_MAX];
	uint32_t fhint[SL_BURST_MAX];
	uint8_t fon[SL_BURST_MAX];		/* 1: flow accounted */
	uint8_t fref[SL_BURST_MAX];		/* 1: refused by max-flows */
} __attribute__((aligned(64)));

struct sl_lcore {
	struct sl_engine *e;
	unsigned id;
	const struct sl_policy *pol;	/* snapshot of the last finished burst (queue_drop, _level) */
	struct sl_pktbytes total, unmatched, malformed, dropped;
	/* the caller's pipeline slots, and one more for sl_process */
	struct sl_slot slot[SL_SLOTS + 1];
} __attribute__((aligned(64)));

struct sl_engine {
	struct sl_policy *pol;			/* RCU: rcu_dereference on the data path */
	uint64_t hz;
	struct sl_table *keys;			/* every dedicated key (units of 64 bytes) */
	struct sl_table_cache *kcache;		/* one per lcore */
	uint64_t key_budget;			/* units: keys' capacity (describe, flows) */
	uint64_t evict_cursor;			/* control thread: next index bucket to scan */
	unsigned nb_lcores;
	uint8_t multi;				/* more than one lcore: atomic bucket updates */
	uint8_t can_shape;			/* opts.can_shape */
	uint64_t unlinks;	/* atomic: unlinks by eviction and flow sweeps in all tables */
	struct sl_hash_secret secret;
	struct sl_lcore *lc;
	/* control path, under ctl */
	sl_mem_probe_fn mem_probe;
	void *mem_arg;
	pthread_mutex_t ctl;
	uint32_t next_uid;
	uint64_t generation;
	uint64_t reload_failures;
};

/* sl_policy.c: the snapshot's tenant whose state has uid, or NULL (a key of an orphaned uid).
 * Control path. */
const struct sl_ptenant *sl_policy_tenant_of(const struct sl_policy *p, uint32_t uid);

#endif
