/* sl_flow.h - max-flows: a preallocated, lock-free table of flows (directional 5-tuple +
 * tenant) admitting a new flow only while its tenant's (or key's) active flows are below a cap. */
#ifndef SL_FLOW_H
#define SL_FLOW_H

#include <stdint.h>
#include "sl_hash.h"
#include "sl_pkt.h"
#include "sl_table.h"

/*
 * Semantics (tools/sl-refmodel.py implements the same rules; tests/test_flow.c checks them).
 *
 * A flow is a directional 5-tuple of one tenant: the key sl_flow_key() builds (the dedicated
 * 5-tuple key with the tenant's uid). Frames that are not IP, and IP fragments without ports
 * (every later fragment; every fragment of a protocol without ports), are not part of any
 * flow: the engine polices them as if the profile had no max-flows. ICMP and other protocols
 * without ports form flows of (src, dst, proto) with ports 0.
 *
 * A domain is what max-flows counts for: the tenant (shared profile; sl_flow_domain_tenant)
 * or one key of the tenant (dedicated profile: the key itself, e.g. its source address).
 * Each domain holds `admitted`, its active admitted flows, and `refused`, its remembered
 * refused flows.
 *
 * A flow is known while the table holds its entry: {state, last}, state one of admitted,
 * refused (both "live": counted in their domain) or ended (counted nowhere, keeps the verdict
 * of the flow it ended), last the tick of its latest packet. An entry is fresh while
 * now - last < idle_ticks, stale after that. A packet of flow F at tick now, with TCP flags f
 * (0 unless TCP with ports):
 *  1. F live and fresh: the packet gets F's verdict; last = now. FIN or RST in f ends F
 *     (live -> ended: its domain's count drops by one); the packet still gets F's verdict.
 *  2. F ended and fresh, no SYN in f (or FIN/RST in f): the tail of a closed flow (last ACKs,
 *     retransmitted FINs): F's verdict, last = now, nothing counted.
 *  3. Otherwise (F unknown, stale, or ended with a SYN in f) the packet starts a new flow.
 *     A stale live F ends first (its domain's count drops by one: lazy idle expiry). Then:
 *     a. FIN or RST in f: admitted iff the domain has admitted < cap; nothing is kept.
 *     b. admitted < cap: admitted, counted (admitted + 1), kept as live admitted.
 *     c. else refused (the exceed action). Remembered as live refused (refused + 1) if the
 *        domain has refused < cap; else, if F's entry exists, it becomes ended-refused
 *        (counted nowhere, so still refused until it idles or a SYN restarts it); else the
 *        flow is not remembered and its next packet is decided as new again.
 *     So a domain holds at most 2 x cap live entries: a flood of new flows from one key or
 *     tenant cannot fill the table for the others.
 *  4. No room (flow table full, domain table full) for a flow that needs an entry: refused,
 *     not remembered (SL_FLOW_FULL).
 * Idle expiry: sl_flow_sweep (the control thread, every ~100 ms live, once per second of
 * capture time in replay) removes every stale entry; a live one ends then (count - 1).
 * Between sweeps a stale flow still counts, unless its own next packet ends it (rule 3):
 * the count is exact at each sweep and never lower than the truly active flows.
 * A refused flow therefore stays refused until it ends (FIN/RST, then SYN) or idles out,
 * even if room appears; an admitted flow is never cut. Flows are directional: the two
 * directions of a connection are two flows if both reach the tenant.
 *
 * The cap: admitted is raised only by a compare-and-swap that checks admitted < cap, so it
 * never exceeds cap, with any number of lcores (one atomic per new flow, none per packet of a
 * known flow). Races only err towards refusing: two lcores starting the same new flow at
 * once take two slots for an instant and one gives its slot back; during that instant a third
 * new flow of that domain may be refused. With several lcores, a packet meeting an entry the
 * sweep is removing at that instant, or a domain the sweep is retiring, is refused as FULL.
 * Single-threaded (replay) neither happens: decisions are deterministic.
 *
 * Memory: two sl_tables (lib/sl_table.h): flows (key 48 B + {last, state}: 64 B per entry
 * + 12 B of index) and domains (same layout, {last new flow, counts}). Both preallocated at
 * create; the data path never allocates. Entries are reused after an RCU grace period.
 *
 * Threads: sl_flow_check from any number of data-path threads at once, each with its own
 * struct sl_flow_cache, inside an RCU (liburcu QSBR) read-side section (between two quiescent
 * states). sl_flow_sweep and sl_flow_count from one control thread at a time.
 */

#define SL_FLOW_ENTRIES_MAX (1ull << 20)	/* default bound of sl_flow_entries(): 76 MiB */

/* TCP flags (sl_pkt.tcp_flags) the flow stage reads */
#define SL_TCP_FIN 0x01
#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04

/* Result bits of sl_flow_check */
#define SL_FLOW_ADMIT 0x1	/* the packet passes the flow stage (police it); else refused */
#define SL_FLOW_STARTED 0x2	/* an admitted flow started: the domain's admitted + 1 */
#define SL_FLOW_ENDED 0x4	/* an admitted flow ended here (FIN/RST, or stale before a
				 * restart): the domain's admitted - 1 */
#define SL_FLOW_FULL 0x8	/* refused: no room for the flow or its domain (not remembered) */

/* Compiled from the profile (sl_flow_params_make); read-only on the data path. */
struct sl_flow_params {
	uint64_t idle_ticks;	/* a flow without packets this long has ended (>= 1) */
	uint32_t max_flows;	/* cap of admitted flows per domain (>= 1) */
	uint32_t pad;
};

struct sl_flow_table {
	struct sl_table *flows;		/* flow key -> {last packet, state word} */
	struct sl_table *domains;	/* domain key -> {last new flow, count word} */
	uint64_t flow_cursor;		/* sweep: next index bucket of each table */
	uint64_t domain_cursor;
	uint32_t *batch;		/* sweep scratch: entry indices to release */
};

/* Count the unlinks of both tables in *c (sl_table_count_unlinks). Control path. */
void sl_flow_count_unlinks(struct sl_flow_table *t, uint64_t *c);

/* Per-thread allocation caches of the two tables. Zero-initialise; one per data-path thread. */
struct sl_flow_cache {
	struct sl_table_cache flows;
	struct sl_table_cache domains;
};

/*
 * Control path: a table for max_entries flows and max_domains domains (each 1..SL_KEYS_MAX),
 * keyed with secret (the engine's: the same hash then serves both). Memory is committed now.
 * Sizing: max_entries = sl_flow_entries(max-flows, domains); max_domains = the tenants of
 * the profile (shared; some slack for tenants replaced by reloads) or min(max-keys,
 * max_entries) (dedicated). Returns 0 or -errno.
 */
int sl_flow_create(uint64_t max_entries, uint64_t max_domains, const struct sl_hash_secret *secret,
		   struct sl_flow_table **out);
void sl_flow_free(struct sl_flow_table *t);

/* Bytes sl_flow_create(max_entries, max_domains) allocates (before it is made). */
uint64_t sl_flow_bytes(uint64_t max_entries, uint64_t max_domains);
/* Bytes held by the table, and its capacity in flows and in domains. */
uint64_t sl_flow_memory(const struct sl_flow_table *t);
uint64_t sl_flow_capacity(const struct sl_flow_table *t);
uint64_t sl_flow_domain_capacity(const struct sl_flow_table *t);

/* Entries for cap flows in each of `domains` domains: 2 x cap x domains (admitted and
 * remembered refused flows), at most SL_FLOW_ENTRIES_MAX, at least 64. */
uint64_t sl_flow_entries(uint64_t max_flows, uint64_t domains);

/*
 * Control path: compile max-flows (1..2^32; above 2^32 - 1 it is unreachable anyway and
 * clamps) and flow-idle (ns, >= 1) for a clock of hz ticks per second (idle rounded up to
 * whole ticks). Returns 0 or -EINVAL.
 */
int sl_flow_params_make(uint64_t max_flows, uint64_t flow_idle_ns, uint64_t hz,
			struct sl_flow_params *out);

/*
 * Control thread, e.g. from sl_engine_maintain: remove up to `budget` index buckets' worth
 * (0 = all) of stale flow entries and retired domains, from where the last sweep stopped.
 * A stale live flow ends here; for each admitted one, expired(uid, arg) is called (if not
 * NULL) with the tenant uid of its key. Removed entries are reused after synchronize_rcu()
 * (liburcu QSBR), which this calls: never call it from an online RCU reader. Returns the
 * number of flow entries removed.
 */
uint64_t sl_flow_sweep(struct sl_flow_table *t, const struct sl_flow_params *p, uint64_t now,
		       uint64_t budget, void (*expired)(uint32_t uid, void *arg), void *arg);

/*
 * Control thread (not during sl_flow_sweep): call fn once per domain holding flows, with
 * its key (key->tenant is the tenant's uid) and counts: admitted = active flows, refused =
 * remembered refused flows. A tenant's active flows are the sum of its domains' admitted.
 * Walks the domain index: O(max_domains).
 */
void sl_flow_count(const struct sl_flow_table *t,
		   void (*fn)(const struct sl_key *domain, uint64_t admitted, uint64_t refused,
			      void *arg),
		   void *arg);

/* The domain key of a shared tenant: only its uid (dedicated keys carry an address family,
 * so they never equal one). */
static inline void sl_flow_domain_tenant(struct sl_key *k, uint32_t uid)
{
	memset(k, 0, sizeof(*k));
	k->tenant = uid;
}

/*
 * Build the flow key of a parsed frame of tenant uid: returns 1, or 0 when the frame takes
 * no part in flow accounting (not IP, or a fragment without ports).
 */
static inline int sl_flow_key(struct sl_key *k, const struct sl_pkt *p, uint32_t uid)
{
	if (!(p->flags & (SL_PKT_IPV4 | SL_PKT_IPV6)) ||
	    (p->flags & (SL_PKT_FRAG | SL_PKT_PORTS)) == SL_PKT_FRAG)
		return 0;
	sl_key_make(k, p, SL_KEY_5TUPLE, uid);
	return 1;
}

/* The TCP flags sl_flow_check reads: the frame's, or 0 unless TCP with its ports. */
static inline uint8_t sl_flow_tcp_flags(const struct sl_pkt *p)
{
	return p->proto == 6 && (p->flags & SL_PKT_PORTS) ? p->tcp_flags : 0;
}

static inline uint64_t sl_flow_hash(const struct sl_flow_table *t, const struct sl_key *flow)
{
	return sl_hash(&t->flows->secret, flow);
}

/* ---- data path: three stages across a burst, like the key table's ---- */

/* Stage 1: start loading the flow's index bucket. */
static inline void sl_flow_prefetch(const struct sl_flow_table *t, uint64_t hash)
{
	sl_table_prefetch(t->flows, hash);
}

/* Stage 2: the hint for stage 3 (starts loading the flow's entry). */
static inline uint32_t sl_flow_probe(const struct sl_flow_table *t, uint64_t hash)
{
	return sl_table_probe(t->flows, hash);
}

/* State word of a flow entry (st[0].tokens; st[0].last = tick of its latest packet) */
#define SL_FLOW_W_DOMAIN 0xffffffffull		/* index of its domain entry (live only) */
#define SL_FLOW_W_ADMITTED (1ull << 32)		/* verdict: admitted (else refused) */
#define SL_FLOW_W_ENDED (1ull << 33)		/* counted nowhere */
#define SL_FLOW_W_REMOVED (1ull << 34)		/* being removed by the sweep */

unsigned sl_flow_check_slow(struct sl_flow_table *t, struct sl_flow_cache *c,
			    const struct sl_key *flow, uint64_t hash, const struct sl_key *domain,
			    const struct sl_flow_params *p, uint64_t now, uint8_t tcp_flags);

/*
 * Stage 3: decide one packet of `flow` (hash = sl_flow_hash, hint = stage 2's) at tick now
 * (non-decreasing per thread) with TCP flags tcp_flags (sl_flow_tcp_flags), in `domain`
 * (sl_flow_domain_tenant, or the dedicated key), under params p. Returns SL_FLOW_* bits;
 * without SL_FLOW_ADMIT the packet gets the profile's exceed action. A packet of a known,
 * fresh flow costs a key compare, two loads and at most one store to its own entry; new
 * flows, flows ending and table misses take the out-of-line path. Never allocates or blocks.
 */
static inline unsigned sl_flow_check(struct sl_flow_table *t, struct sl_flow_cache *c,
				     const struct sl_key *flow, uint64_t hash, uint32_t hint,
				     const struct sl_key *domain, const struct sl_flow_params *p,
				     uint64_t now, uint8_t tcp_flags)
{
	if (hint && !(tcp_flags & (SL_TCP_FIN | SL_TCP_RST | SL_TCP_SYN))) {
		struct sl_entry *e = sl_table_entry(t->flows, hint);

		if (sl_key_eq(&e->key, flow)) {
			uint64_t w = __atomic_load_n(&e->st[0].tokens, __ATOMIC_ACQUIRE);
			uint64_t last = __atomic_load_n(&e->st[0].last, __ATOMIC_RELAXED);

			/* rules 1 and 2 without FIN/RST/SYN: the verdict stands */
			if (!(w & SL_FLOW_W_REMOVED) && sl_tb_elapsed(now, last) < p->idle_ticks) {
				if ((int64_t)(now - last) > 0)
					__atomic_store_n(&e->st[0].last, now, __ATOMIC_RELAXED);
				return w & SL_FLOW_W_ADMITTED ? SL_FLOW_ADMIT : 0;
			}
		}
	}
	return sl_flow_check_slow(t, c, flow, hash, domain, p, now, tcp_flags);
}

#endif
