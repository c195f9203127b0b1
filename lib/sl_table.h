/* sl_table.h - per-key state of a dedicated profile: a preallocated, lock-free table of
 * key -> {last update, tokens}, looked up in three prefetching stages across a burst. */
#ifndef SL_TABLE_H
#define SL_TABLE_H

#include <stdint.h>
#include <emmintrin.h>
#include "sl_hash.h"
#include "sl_tb.h"

/*
 * Layout. An index of nb_buckets = max_keys * 7/16 buckets, each one cache line of 8 slots; a
 * slot is 0 (empty) or (entry index + 1) << 32 | signature (the hash's upper 32 bits).
 * Entries live in a separate preallocated array, one per key: the key, then one bucket state
 * {last update, tokens} per bucket of the profile (64 bytes for one bucket, 128 for 2-4). A key goes to its primary bucket (low 32 hash bits scaled to nb_buckets) while
 * it has a free slot, else to its alternative bucket, else to a small stash. With 2.3 keys per
 * bucket on average at max_keys, a primary bucket is full for 0.3% of keys and both for about
 * one key in 10^5, so a lookup reads one index line and one entry line.
 * Memory per key at max_keys: entry 64 B + index 28 B = 92 B (156 B with extra limits).
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

/* Per-thread allocation cache: entries are taken from the table in chunks. Zero-initialise. */
struct sl_table_cache {
	uint32_t next;
	uint32_t end;
};

/*
 * Control path: allocate a table for max_keys keys (1..2^31) with nb_tokens (1..4) counters
 * per key; memory is committed now (huge pages when the system has them). Returns 0 or -errno.
 */
int sl_table_create(uint64_t max_keys, unsigned nb_tokens, const struct sl_hash_secret *secret,
		    struct sl_table **out);
void sl_table_free(struct sl_table *t);

/* Bytes of memory held by the table (index + entries + header). */
uint64_t sl_table_memory(const struct sl_table *t);
uint64_t sl_table_capacity(const struct sl_table *t);
/* Keys currently in the index (walks the index: control path). */
uint64_t sl_table_count(const struct sl_table *t);

const struct sl_hash_secret *sl_table_secret(const struct sl_table *t);

/*
 * Control path, eviction in two steps. sl_table_unlink removes from the index every key in
 * buckets [from, from + count) for which expired(entry, arg) holds, writing their entry
 * indices to out (at most out_max; the scan stops early when out is full) and returns how
 * many; *next_from receives where the scan stopped (0 after the last bucket). Lookups may
 * still hold the unlinked entries: only after an RCU grace period may sl_table_release give
 * them back for reuse by inserts.
 */
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
	uint64_t *slots;		/* nb_buckets * 8 */
	uint8_t *entries;		/* capacity * entry_size */
	uint64_t nb_buckets;		/* < 2^32 */
	uint32_t entry_size;
	uint32_t capacity;
	uint32_t nb_tokens;
	uint32_t chunk;			/* entries a cache takes at once */
	struct sl_hash_secret secret;
	uint64_t map_bytes;
	uint64_t *unlinks;	/* bumped by every sl_table_unlink that unlinked something */
	uint64_t own_unlinks;	/* what unlinks points to unless sl_table_count_unlinks */
	uint32_t next __attribute__((aligned(64)));	/* bump allocator, atomic */
	uint32_t stash_used;				/* slots ever used in stash, atomic */
	uint64_t free_head;	/* reclaimed entries: tag << 32 | (index + 1), atomic */
	uint64_t stash[SL_TABLE_STASH] __attribute__((aligned(64)));
};

#define SL_TABLE_WAYS 8

/*
 * Primary bucket of a hash: its low 32 bits scaled to nb_buckets (no division). The _in form
 * takes a table's slots and nb_buckets from the caller (held in registers across a burst).
 */
static inline uint64_t *sl_table_bucket_in(uint64_t *slots, uint64_t nb_buckets, uint64_t hash)
{
	return slots + (((hash & 0xffffffffu) * nb_buckets) >> 32) * SL_TABLE_WAYS;
}

static inline uint64_t *sl_table_bucket(const struct sl_table *t, uint64_t hash)
{
	return sl_table_bucket_in(t->slots, t->nb_buckets, hash);
}

static inline struct sl_entry *sl_table_entry(const struct sl_table *t, uint64_t slot)
{
	return (struct sl_entry *)(t->entries + (uint64_t)((slot >> 32) - 1) * t->entry_size);
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

/* Signature of a hash: its upper 32 bits, never 0 (so it never matches an empty slot). */
static inline uint32_t sl_table_sig(uint64_t hash)
{
	return (uint32_t)(hash >> 32) | 1;
}

/*
 * Bit i set when slot i of bucket b holds signature sig: the 8 slots compared at once with
 * SSE2, no branch per slot (a slot's low 32 bits are its signature, 0 when empty): two
 * shuffles gather the 8 signatures into two vectors, two compares, two masks.
 * Plain loads: each 64-bit slot is read whole by the 16-byte loads on x86-64, and a slot
 * published by a CAS after its entry was written is seen with its entry (x86 keeps stores
 * in order; the key is confirmed in stage 3 anyway).
 */
static inline unsigned sl_table_match(const uint64_t *b, uint32_t sig)
{
	const __m128 *v = (const __m128 *)(const void *)b;
	__m128i s = _mm_set1_epi32((int)sig);
	/* lanes 0 and 2 of each pair of slots: their signatures, in slot order */
	__m128i lo = _mm_castps_si128(_mm_shuffle_ps(v[0], v[1], _MM_SHUFFLE(2, 0, 2, 0)));
	__m128i hi = _mm_castps_si128(_mm_shuffle_ps(v[2], v[3], _MM_SHUFFLE(2, 0, 2, 0)));

	return (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(lo, s))) |
	       (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi, s))) << 4;
}

/*
 * Stage 2: the primary bucket's first slot with the key's signature, or 0, and start
 * loading that entry (the caller confirms the key in stage 3). When none matches, start
 * loading the alternative bucket instead: the slow path (a new key) will read it.
 */
uint64_t *sl_table_alt_bucket(const struct sl_table *t, uint64_t hash);

/*
 * Stage 2 on a bucket already computed (b = sl_table_bucket(t, hash)): the entry of the first
 * slot with the key's signature, its slot value in *slot, and the entry's line starts loading;
 * or NULL and *slot = 0, and the alternative bucket starts loading instead.
 */
static inline __attribute__((always_inline)) struct sl_entry *
sl_table_probe_bucket(const struct sl_table *t, const uint64_t *b, uint64_t hash, uint64_t *slot)
{
	unsigned m = sl_table_match(b, sl_table_sig(hash));

	if (m) {
		uint64_t s = __atomic_load_n(&b[__builtin_ctz(m)], __ATOMIC_ACQUIRE);
		struct sl_entry *e = sl_table_entry(t, s);

		__builtin_prefetch(e, 1, SL_TABLE_LOCALITY);
		*slot = s;
		return e;
	}
	__builtin_prefetch(sl_table_alt_bucket(t, hash), 0, SL_TABLE_LOCALITY);
	*slot = 0;
	return NULL;
}

static inline uint64_t sl_table_probe(const struct sl_table *t, uint64_t hash)
{
	uint64_t s;

	sl_table_probe_bucket(t, sl_table_bucket(t, hash), hash, &s);
	return s;
}

/*
 * Stage 2 for a caller that kept the primary bucket b = sl_table_bucket(t, hash) from stage 1:
 * the candidate entry, or NULL. The caller confirms the key in stage 3.
 */
static inline struct sl_entry *sl_table_probe_at(const struct sl_table *t, const uint64_t *b,
						 uint64_t hash)
{
	uint64_t s;

	return sl_table_probe_bucket(t, b, hash, &s);
}

/* The entry of key, or NULL, without inserting (primary, alternative bucket, stash). */
struct sl_entry *sl_table_find(const struct sl_table *t, const struct sl_key *key, uint64_t hash);

/*
 * Stage 3: the entry of key, inserting it (every bucket {now, init[i]}) if absent.
 * hint is stage 2's result. *created is set to 1 for a new key. Returns NULL when there is
 * no room (max_keys reached, or both buckets full).
 */
struct sl_entry *sl_table_lookup_slow(struct sl_table *t, struct sl_table_cache *c,
				      const struct sl_key *key, uint64_t hash, uint64_t now,
				      const uint64_t *init, int *created);

static inline struct sl_entry *sl_table_lookup(struct sl_table *t, struct sl_table_cache *c,
					       const struct sl_key *key, uint64_t hash,
					       uint64_t hint, uint64_t now,
					       const uint64_t *init, int *created)
{
	if (hint) {
		struct sl_entry *e = sl_table_entry(t, hint);

		if (sl_key_eq(&e->key, key))
			return e;
	}
	return sl_table_lookup_slow(t, c, key, hash, now, init, created);
}

#endif
