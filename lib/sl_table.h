/* sl_table.h - per-key state of a dedicated profile: a preallocated, lock-free table of
 * key -> {last update, tokens}, looked up in three prefetching stages across a burst. */
#ifndef SL_TABLE_H
#define SL_TABLE_H

#include <stdint.h>
#include <emmintrin.h>
#include "sl_hash.h"
#include "sl_tb.h"

/*
 * Layout. An index of nb_buckets = max_keys * 3/8 buckets of 8 slots of 4 bytes (half a
 * cache line); a slot is 0 (empty) or signature | entry index: the entry index in the low
 * idx_bits bits (enough for capacity - 1), the signature in the upper 32 - idx_bits bits, at
 * least 6 (SL_KEYS_MAX), its lowest bit always set so it is never 0. Entries live in a
 * separate preallocated array, one per key: the key, then one bucket state {last update,
 * tokens} per bucket of the profile (64 bytes for one bucket, 128 for 2-4). A key goes to
 * its primary bucket (low 32 hash bits scaled to nb_buckets) while it has a free slot, else
 * to its alternative bucket, else to a small stash. With 2.7 keys per bucket on average at
 * max_keys, about one key in 1,200 is in its alternative bucket and one in 400,000 in the
 * stash (measured, 1M-64M keys), so a lookup reads one index line and one entry line.
 * Another key of the bucket shares a key's signature for about one lookup in
 * 2^(sig bits - 1)/2.7 at max_keys (1/1,600 at 1M keys, 1/100 at 10M): stage 3 then finds
 * the key in the slow path.
 * Memory per key at max_keys: entry 64 B + index 12 B = 76 B (140 B with extra limits).
 *
 * Concurrency. Lookups take no lock and no atomic read-modify-write. An insert writes the
 * entry, then publishes it with one compare-and-swap into the first empty slot; inserters of
 * the same key race for the same slot, so a key is never inserted twice. Slots are only
 * emptied by the control thread (eviction), which reuses an entry only after an RCU grace
 * period, so a reader holding an entry pointer within its burst is always safe.
 * Bucket states are updated by the engine: plain stores with one lcore, a 16-byte CAS per
 * bucket when several lcores may police the same key (sl_tb_take_shared).
 */
struct sl_entry {
	struct sl_key key;		/* while free: the first 8 bytes link the free stack */
	struct sl_tb_state st[];	/* one per bucket of the profile */
};

_Static_assert(sizeof(struct sl_entry) + sizeof(struct sl_tb_state) == 64,
	       "a key with one bucket is one cache line");

struct sl_table;

/*
 * Entry sizes. A table is made of `capacity` units of 64 bytes (nb_tokens 1 at creation) or 128
 * bytes (2..4); an entry of nb buckets takes sl_table_units(t, nb) consecutive units: in a
 * table of 64-byte units, a key with 2 to 4 buckets (a profile with limits) takes 2, so keys of
 * every profile share one table and one memory budget. Freed entries are kept apart by size;
 * a one-unit entry may take half of a freed pair, a pair never takes two freed single units
 * (no compaction): a table whose keys churn between sizes can refuse a pair with single
 * units free.
 */
static inline unsigned sl_table_units_of(unsigned entry_shift, unsigned nb)
{
	return (unsigned)((48 + 16 * nb + (1u << entry_shift) - 1) >> entry_shift);
}

/* Per-thread allocation cache: entries are taken from the table in chunks, one chunk per entry
 * size (1 or 2 units). Zero-initialise. */
struct sl_table_cache {
	uint32_t next[2];
	uint32_t end[2];
};

/*
 * Control path: allocate a table of max_keys units (1..SL_KEYS_MAX) of entries with nb_tokens
 * (1..4) counters (a unit of 64 bytes for 1, 128 for 2..4); memory is committed now (huge pages
 * when the system has them). Returns 0 or -errno.
 */
int sl_table_create(uint64_t max_keys, unsigned nb_tokens, const struct sl_hash_secret *secret,
		    struct sl_table **out);
void sl_table_free(struct sl_table *t);
/* Bytes sl_table_create(max_keys, nb_tokens) maps and touches (before it is made). */
uint64_t sl_table_bytes(uint64_t max_keys, unsigned nb_tokens);

/* Bytes of memory held by the table (index + entries + header). */
uint64_t sl_table_memory(const struct sl_table *t);
uint64_t sl_table_capacity(const struct sl_table *t);
/* Keys currently in the index (walks the index: control path). */
uint64_t sl_table_count(const struct sl_table *t);
/* fn(entry, arg) for every entry in the index (control path, like sl_table_count). */
void sl_table_walk(const struct sl_table *t, void (*fn)(const struct sl_entry *e, void *arg),
		   void *arg);

const struct sl_hash_secret *sl_table_secret(const struct sl_table *t);

/*
 * Control path, eviction in two steps. sl_table_unlink removes from the index every key in
 * buckets [from, from + count) for which expired(entry, arg) returns non-zero, the entry's
 * size in units (1 or 2), writing their entry indices (with the size: SL_TABLE_PAIR set for
 * 2) to out (at most out_max; a bucket is scanned only while out has room for a whole
 * one, SL_TABLE_WAYS, so the scan stops early when out is nearly full) and returns how
 * many; *next_from receives where the scan stopped (0 after the last bucket). Lookups may
 * still hold the unlinked entries: only after an RCU grace period may sl_table_release give
 * them back for reuse by inserts.
 */
#define SL_TABLE_PAIR 0x80000000u
uint32_t sl_table_unlink(struct sl_table *t, uint64_t from, uint64_t count,
			 int (*expired)(const struct sl_entry *e, void *arg), void *arg,
			 uint32_t *out, uint32_t out_max, uint64_t *next_from);
void sl_table_release(struct sl_table *t, const uint32_t *idx, uint32_t n);
uint64_t sl_table_nb_buckets(const struct sl_table *t);

/*
 * Stage-2 results (sl_table_probe's slot values) may be kept across quiescent states, as the
 * engine's pipeline does; an entry unlinked meanwhile may then be released and reused. Every
 * sl_table_unlink that unlinks something adds 1 to a counter, after the slots are cleared and
 * before the caller's grace period: a reader that reads the counter before stage 2 and again
 * before stage 3, within one read-side section, and sees it unchanged may use its hints (any
 * release is still waiting for that section to end); else it probes again. By default each
 * table has its own counter; control path, before use: count in *c instead (shared by
 * several tables, read atomically).
 */
void sl_table_count_unlinks(struct sl_table *t, uint64_t *c);
const struct sl_entry *sl_table_entry_at(const struct sl_table *t, uint32_t idx);

/* ---- data path: inline stages ---- */

#define SL_TABLE_STASH 512

struct sl_table {
	uint32_t *slots;		/* nb_buckets * SL_TABLE_WAYS */
	uint8_t *entries;		/* capacity << entry_shift */
	uint64_t nb_buckets;		/* <= SL_KEYS_MAX * 3/8 */
	uint32_t sig_mask;		/* a slot's signature bits */
	uint32_t sig_low;		/* the lowest of them, set in every signature */
	uint64_t idx_mask;		/* a slot's entry index bits: ~sig_mask */
	uint32_t entry_shift;		/* unit size 64 or 128 */
	uint32_t capacity;		/* units */
	uint32_t nb_tokens;
	uint32_t chunk;			/* entries a cache takes at once */
	struct sl_hash_secret secret;
	uint64_t map_bytes;
	uint64_t *unlinks;	/* bumped by every sl_table_unlink that unlinked something */
	uint64_t own_unlinks;	/* what unlinks points to unless sl_table_count_unlinks */
	uint32_t next __attribute__((aligned(64)));	/* bump allocator, atomic */
	uint32_t stash_used;				/* slots ever used in stash, atomic */
	uint64_t free_head[2];	/* reclaimed entries of 1, 2 units: tag << 32 | (index + 1), atomic */
	uint32_t stash[SL_TABLE_STASH] __attribute__((aligned(64)));
};

#define SL_TABLE_WAYS 8

/*
 * Primary bucket of a hash: its low 32 bits scaled to nb_buckets (no division). The _in form
 * takes a table's slots and nb_buckets from the caller (held in registers across a burst).
 */
static inline uint32_t *sl_table_bucket_in(uint32_t *slots, uint64_t nb_buckets, uint64_t hash)
{
	return slots + (((hash & 0xffffffffu) * nb_buckets) >> 32) * SL_TABLE_WAYS;
}

static inline uint32_t *sl_table_bucket(const struct sl_table *t, uint64_t hash)
{
	return sl_table_bucket_in(t->slots, t->nb_buckets, hash);
}

/* The entry of a non-empty slot value. */
static inline struct sl_entry *sl_table_entry(const struct sl_table *t, uint32_t slot)
{
	return (struct sl_entry *)(t->entries + (((uint64_t)slot & t->idx_mask) << t->entry_shift));
}

/*
 * Stage 1: hash is sl_hash(secret, key); start loading its primary bucket.
 * Table lines are prefetched into L2 (prefetcht1), not L1: a burst's 32 random DRAM lines
 * (64 with the next stage's entries in flight) would otherwise wait for L1 miss buffers,
 * stalling the prefetching instruction itself, and push the burst's working set out of L1.
 * Measured on this project's VM (perf/RESULTS.md): lookup at 1M keys 86-88 -> 57-63 cycles.
 */
#ifndef SL_TABLE_LOCALITY
#define SL_TABLE_LOCALITY 2
#endif

static inline void sl_table_prefetch(const struct sl_table *t, uint64_t hash)
{
	__builtin_prefetch(sl_table_bucket(t, hash), 0, SL_TABLE_LOCALITY);
}

/* Signature of a hash in t: bits of its upper half in the slot's signature bits, the lowest
 * of them set (so it is never 0 and never matches an empty slot). */
static inline uint32_t sl_table_sig(const struct sl_table *t, uint64_t hash)
{
	return ((uint32_t)(hash >> 32) | t->sig_low) & t->sig_mask;
}

/*
 * Bit i set when slot i of bucket b holds signature sig (sig_mask: the signature bits): the
 * 8 slots compared at once with SSE2, no branch per slot: two masks and compares, the
 * results packed to 8 bytes, one byte mask.
 * Plain loads: each 4-byte slot is read whole by the 16-byte loads on x86-64, and a slot
 * published by a CAS after its entry was written is seen with its entry (x86 keeps stores
 * in order; the key is confirmed in stage 3 anyway).
 */
static inline unsigned sl_table_match(const uint32_t *b, uint32_t sig, uint32_t sig_mask)
{
	const __m128i *v = (const __m128i *)(const void *)b;
	__m128i s = _mm_set1_epi32((int)sig), m = _mm_set1_epi32((int)sig_mask);
	__m128i c0 = _mm_cmpeq_epi32(_mm_and_si128(v[0], m), s);
	__m128i c1 = _mm_cmpeq_epi32(_mm_and_si128(v[1], m), s);

	/* -1/0 lanes narrowed by signed saturation keep their value: slot i -> byte i */
	return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(_mm_packs_epi32(c0, c1),
							  _mm_setzero_si128()));
}

/*
 * Stage 2: the primary bucket's first slot with the key's signature, or 0, and start
 * loading that entry (the caller confirms the key in stage 3). When none matches, start
 * loading the alternative bucket instead: the slow path (a new key) will read it.
 */
uint32_t *sl_table_alt_bucket(const struct sl_table *t, uint64_t hash);

/*
 * Stage 2 on a bucket already computed (b = sl_table_bucket(t, hash)): the entry of the first
 * slot with the key's signature, its slot value in *slot, and the entry's line starts loading;
 * or NULL and *slot = 0, and the alternative bucket starts loading instead.
 */
static inline __attribute__((always_inline)) struct sl_entry *
sl_table_probe_bucket(const struct sl_table *t, const uint32_t *b, uint64_t hash, uint32_t *slot)
{
	unsigned m = sl_table_match(b, sl_table_sig(t, hash), t->sig_mask);

	if (m) {
		uint32_t s = __atomic_load_n(&b[__builtin_ctz(m)], __ATOMIC_ACQUIRE);
		struct sl_entry *e = sl_table_entry(t, s);

		__builtin_prefetch(e, 1, SL_TABLE_LOCALITY);
		*slot = s;
		return e;
	}
	__builtin_prefetch(sl_table_alt_bucket(t, hash), 0, SL_TABLE_LOCALITY);
	*slot = 0;
	return NULL;
}

static inline uint32_t sl_table_probe(const struct sl_table *t, uint64_t hash)
{
	uint32_t s;

	sl_table_probe_bucket(t, sl_table_bucket(t, hash), hash, &s);
	return s;
}

/*
 * Stage 2 for a caller that kept the primary bucket b = sl_table_bucket(t, hash) from stage 1:
 * the candidate entry, or NULL. The caller confirms the key in stage 3.
 */
static inline struct sl_entry *sl_table_probe_at(const struct sl_table *t, const uint32_t *b,
						 uint64_t hash)
{
	uint32_t s;

	return sl_table_probe_bucket(t, b, hash, &s);
}

/* The entry of key, or NULL, without inserting (primary, alternative bucket, stash). */
struct sl_entry *sl_table_find(const struct sl_table *t, const struct sl_key *key, uint64_t hash);

/*
 * Stage 3: the entry of key, inserting it with nb buckets (each {now, init[i]}) if absent.
 * *created is set to 1 for a new key. Returns NULL when there is no room (the capacity is
 * taken, or both buckets full). Every key of a table is inserted with the same nb, or with
 * sizes that the caller can tell apart when it unlinks (see sl_table_unlink).
 */
struct sl_entry *sl_table_lookup_slow(struct sl_table *t, struct sl_table_cache *c,
				      const struct sl_key *key, uint64_t hash, uint64_t now,
				      const uint64_t *init, unsigned nb, int *created);

/* The same, hint being stage 2's result (a slot value or 0). */
static inline struct sl_entry *sl_table_lookup(struct sl_table *t, struct sl_table_cache *c,
					       const struct sl_key *key, uint64_t hash,
					       uint32_t hint, uint64_t now,
					       const uint64_t *init, unsigned nb, int *created)
{
	if (hint) {
		struct sl_entry *e = sl_table_entry(t, hint);

		if (sl_key_eq(&e->key, key))
			return e;
	}
	return sl_table_lookup_slow(t, c, key, hash, now, init, nb, created);
}

#endif
