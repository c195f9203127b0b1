/* sl_table.c - control path (create, free, count) and the slow path (miss, alternative
 * bucket, insert) of the per-key table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "sl_table.h"

#define SL_TABLE_CHUNK 16

static void *map_memory(uint64_t bytes)
{
	void *p;

#ifdef MAP_HUGETLB
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (p != MAP_FAILED)
		return p;
#endif
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE);	/* transparent huge pages: fewer TLB misses */
	/* commit now: no page fault ever happens on the data path */
	for (uint64_t off = 0; off < bytes; off += 4096)
		((volatile uint8_t *)p)[off] = 0;
	return p;
}

/* Index buckets, unit size and the mapping's bytes of a table of max_keys units. */
static uint64_t layout(uint64_t max_keys, unsigned nb_tokens, uint64_t *buckets, unsigned *shift)
{
	uint64_t index_bytes, entry_bytes;

	*buckets = (max_keys * 3 + 7) / 8;	/* 2.7 keys per 8-slot bucket when full */
	*shift = sizeof(struct sl_entry) + nb_tokens * sizeof(struct sl_tb_state) <= 64 ? 6 : 7;
	index_bytes = *buckets * SL_TABLE_WAYS * sizeof(uint32_t);
	entry_bytes = max_keys << *shift;
	/* one mapping, rounded to 2 MiB so huge pages can back all of it */
	return (index_bytes + entry_bytes + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
}

uint64_t sl_table_bytes(uint64_t max_keys, unsigned nb_tokens)
{
	uint64_t buckets;
	unsigned shift;

	return layout(max_keys, nb_tokens, &buckets, &shift) + sizeof(struct sl_table);
}

int sl_table_create(uint64_t max_keys, unsigned nb_tokens, const struct sl_hash_secret *secret,
		    struct sl_table **out)
{
	uint64_t buckets;
	unsigned idx_bits, shift;
	struct sl_table *t;

	if (!max_keys || max_keys > SL_KEYS_MAX || !nb_tokens || nb_tokens > SL_MAX_BUCKETS)
		return -EINVAL;
	t = aligned_alloc(64, sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->map_bytes = layout(max_keys, nb_tokens, &buckets, &shift);
	t->entry_shift = shift;
	/* entry indices 0..max_keys-1 in the low bits of a slot, the signature above them */
	idx_bits = max_keys > 1 ? 64 - (unsigned)__builtin_clzll(max_keys - 1) : 0;
	t->sig_mask = (uint32_t)(0xffffffffull << idx_bits);
	t->sig_low = t->sig_mask & -t->sig_mask;
	t->idx_mask = ~t->sig_mask;
	t->capacity = (uint32_t)max_keys;
	t->nb_tokens = nb_tokens;
	t->nb_buckets = buckets;
	t->unlinks = &t->own_unlinks;
	t->chunk = max_keys >= 64 * SL_TABLE_CHUNK ? SL_TABLE_CHUNK : 1;
	t->secret = *secret;
	t->slots = map_memory(t->map_bytes);
	if (!t->slots) {
		free(t);
		return -ENOMEM;
	}
	t->entries = (uint8_t *)t->slots + buckets * SL_TABLE_WAYS * sizeof(uint32_t);
	*out = t;
	return 0;
}

void sl_table_free(struct sl_table *t)
{
	if (!t)
		return;
	munmap(t->slots, t->map_bytes);
	free(t);
}

uint64_t sl_table_memory(const struct sl_table *t)
{
	return t->map_bytes + sizeof(*t);
}

uint64_t sl_table_capacity(const struct sl_table *t)
{
	return t->capacity;
}

const struct sl_hash_secret *sl_table_secret(const struct sl_table *t)
{
	return &t->secret;
}

static void walk_slots(const struct sl_table *t, const uint32_t *slots, uint64_t n,
		       void (*fn)(const struct sl_entry *e, void *arg), void *arg)
{
	for (uint64_t i = 0; i < n; i++) {
		uint32_t s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);

		if (s)
			fn(sl_table_entry(t, s), arg);
	}
}

void sl_table_walk(const struct sl_table *t, void (*fn)(const struct sl_entry *e, void *arg),
		   void *arg)
{
	walk_slots(t, t->slots, t->nb_buckets * SL_TABLE_WAYS, fn, arg);
	if (__atomic_load_n(&t->stash_used, __ATOMIC_ACQUIRE))
		walk_slots(t, t->stash, SL_TABLE_STASH, fn, arg);
}

static void count_one(const struct sl_entry *e, void *arg)
{
	(void)e;
	++*(uint64_t *)arg;
}

uint64_t sl_table_count(const struct sl_table *t)
{
	uint64_t n = 0;

	sl_table_walk(t, count_one, &n);
	return n;
}

static uint64_t *free_link(const struct sl_table *t, uint32_t idx)
{
	return (uint64_t *)(void *)&sl_table_entry(t, idx)->key;
}

/*
 * Reclaimed entries form a Treiber stack per size (1 or 2 units) linked through the entry's
 * first word; the head carries a tag bumped on every pop so that a stale compare-and-swap
 * cannot succeed (ABA). Entry memory is never unmapped while the table lives, so reading a
 * stale next is safe.
 */
static int free_pop(struct sl_table *t, unsigned cls, uint32_t *idx)
{
	uint64_t *head = &t->free_head[cls];
	uint64_t h = __atomic_load_n(head, __ATOMIC_ACQUIRE);

	for (;;) {
		uint32_t top = (uint32_t)h;
		uint64_t next, nh;

		if (!top)
			return -ENOSPC;
		next = __atomic_load_n(free_link(t, top - 1), __ATOMIC_RELAXED);
		nh = ((h >> 32) + 1) << 32 | (uint32_t)next;
		if (__atomic_compare_exchange_n(head, &h, nh, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			*idx = top - 1;
			return 0;
		}
	}
}

static void free_push(struct sl_table *t, unsigned cls, uint32_t idx)
{
	uint64_t *head = &t->free_head[cls];
	uint64_t h = __atomic_load_n(head, __ATOMIC_RELAXED);

	do {
		__atomic_store_n(free_link(t, idx), (uint32_t)h, __ATOMIC_RELAXED);
	} while (!__atomic_compare_exchange_n(head, &h, (h & ~0xffffffffull) | (idx + 1), 0,
					      __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

void sl_table_release(struct sl_table *t, const uint32_t *idx, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free_push(t, idx[i] & SL_TABLE_PAIR ? 1 : 0, idx[i] & ~SL_TABLE_PAIR);
}

/*
 * Entry index of u units (1 or 2) from the per-thread cache, the shared bump allocator, or
 * reclaimed entries; a single unit may split a reclaimed pair (its other half is reclaimed).
 */
static int entry_alloc(struct sl_table *t, struct sl_table_cache *c, unsigned u, uint32_t *idx)
{
	unsigned cls = u - 1;

	if (c->next[cls] + u > c->end[cls]) {
		uint32_t want = t->chunk * u;
		uint32_t base = __atomic_load_n(&t->next, __ATOMIC_RELAXED) < t->capacity
					? __atomic_fetch_add(&t->next, want, __ATOMIC_RELAXED)
					: t->capacity;

		if (base >= t->capacity || t->capacity - base < u) {
			if (!free_pop(t, cls, idx))
				return 0;
			if (cls || free_pop(t, 1, idx))
				return -ENOSPC;
			free_push(t, 0, *idx + 1);	/* the pair's second unit */
			return 0;
		}
		c->next[cls] = base;
		c->end[cls] = base + want < t->capacity ? base + want : t->capacity;
	}
	*idx = c->next[cls];
	c->next[cls] += u;
	return 0;
}

/* A key found in the bucket, or NULL; checks every slot with the signature. */
static struct sl_entry *bucket_find(const struct sl_table *t, const uint32_t *b, unsigned ways,
				    uint32_t sig, const struct sl_key *key)
{
	for (unsigned i = 0; i < ways; i++) {
		uint32_t s = __atomic_load_n(&b[i], __ATOMIC_ACQUIRE);

		if ((s & t->sig_mask) == sig && sl_key_eq(&sl_table_entry(t, s)->key, key))
			return sl_table_entry(t, s);
	}
	return NULL;
}

/*
 * Publish slot value v into the first free slot of b, unless the key appears first.
 * Returns the entry now holding key, or NULL if b is full.
 */
static struct sl_entry *bucket_publish(struct sl_table *t, uint32_t *b, unsigned ways, uint32_t v,
				       const struct sl_key *key)
{
	uint32_t sig = v & t->sig_mask;

	for (unsigned i = 0; i < ways; i++) {
		uint32_t s = __atomic_load_n(&b[i], __ATOMIC_ACQUIRE);

		if (!s) {
			if (__atomic_compare_exchange_n(&b[i], &s, v, 0, __ATOMIC_RELEASE,
							__ATOMIC_ACQUIRE))
				return sl_table_entry(t, v);
			/* lost the race for this slot: s is the winner, check it below */
		}
		if ((s & t->sig_mask) == sig && sl_key_eq(&sl_table_entry(t, s)->key, key))
			return sl_table_entry(t, s);
	}
	return NULL;
}

/* Any bucket but the primary, chosen by the signature (no division); NULL with one bucket. */
uint32_t *sl_table_alt_bucket(const struct sl_table *t, uint64_t hash)
{
	uint64_t n = t->nb_buckets, p = ((hash & 0xffffffffu) * n) >> 32;
	uint64_t a;

	if (n == 1)
		return NULL;
	a = p + 1 + (((hash >> 32) * (n - 1)) >> 32);
	return t->slots + (a >= n ? a - n : a) * SL_TABLE_WAYS;
}

static int bucket_full(const uint32_t *b)
{
	for (unsigned i = 0; i < SL_TABLE_WAYS; i++)
		if (!__atomic_load_n(&b[i], __ATOMIC_ACQUIRE))
			return 0;
	return 1;
}

struct sl_entry *sl_table_find(const struct sl_table *t, const struct sl_key *key, uint64_t hash)
{
	uint32_t sig = sl_table_sig(t, hash);
	const uint32_t *alt = sl_table_alt_bucket(t, hash);
	struct sl_entry *e = bucket_find(t, sl_table_bucket(t, hash), SL_TABLE_WAYS, sig, key);

	if (!e && alt)
		e = bucket_find(t, alt, SL_TABLE_WAYS, sig, key);
	if (!e && __atomic_load_n(&t->stash_used, __ATOMIC_ACQUIRE))
		e = bucket_find(t, t->stash, SL_TABLE_STASH, sig, key);
	return e;
}

/*
 * The order primary -> alternative -> stash only moves forward as buckets fill, so two
 * threads inserting the same new key always race for the same slot (see sl_table.h).
 */
struct sl_entry *sl_table_lookup_slow(struct sl_table *t, struct sl_table_cache *c,
				      const struct sl_key *key, uint64_t hash, uint64_t now,
				      const uint64_t *init, unsigned nb, int *created)
{
	unsigned u = sl_table_units_of(t->entry_shift, nb);
	uint32_t sig = sl_table_sig(t, hash), idx, v;
	uint32_t *b1 = sl_table_bucket(t, hash), *b2 = sl_table_alt_bucket(t, hash);
	struct sl_entry *e, *got;

	e = sl_table_find(t, key, hash);
	if (e)
		return e;
	if (u > 2 || entry_alloc(t, c, u, &idx))
		return NULL;
	e = sl_table_entry(t, idx);
	e->key = *key;
	for (unsigned i = 0; i < nb; i++)
		e->st[i] = (struct sl_tb_state){now, init[i]};
	v = sig | idx;
	got = bucket_publish(t, b1, SL_TABLE_WAYS, v, key);
	if (!got && b2)
		got = bucket_publish(t, b2, SL_TABLE_WAYS, v, key);
	if (!got && (!b2 || bucket_full(b2))) {
		__atomic_store_n(&t->stash_used, 1, __ATOMIC_RELEASE);
		got = bucket_publish(t, t->stash, SL_TABLE_STASH, v, key);
	}
	if (got == e) {
		*created = 1;
		return e;
	}
	/* not published: give the entry back to this thread's cache, or to the free stack */
	if (c->end[u - 1] && c->next[u - 1] - u == idx)
		c->next[u - 1] -= u;
	else
		free_push(t, u - 1, idx);
	return got;
}

uint64_t sl_table_nb_buckets(const struct sl_table *t)
{
	return t->nb_buckets;
}

/* An entry index (< capacity) is a slot value without signature bits. */
const struct sl_entry *sl_table_entry_at(const struct sl_table *t, uint32_t idx)
{
	return sl_table_entry(t, idx);
}

static uint32_t unlink_slots(struct sl_table *t, uint32_t *slots, unsigned n,
			     int (*expired)(const struct sl_entry *e, void *arg), void *arg,
			     uint32_t *out, uint32_t out_max)
{
	uint32_t got = 0;

	for (unsigned i = 0; i < n && got < out_max; i++) {
		uint32_t s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
		int u = s ? expired(sl_table_entry(t, s), arg) : 0;

		if (u && __atomic_compare_exchange_n(&slots[i], &s, 0, 0, __ATOMIC_RELEASE,
						     __ATOMIC_RELAXED))
			out[got++] = (uint32_t)(s & t->idx_mask) | (u > 1 ? SL_TABLE_PAIR : 0);
	}
	return got;
}

uint32_t sl_table_unlink(struct sl_table *t, uint64_t from, uint64_t count,
			 int (*expired)(const struct sl_entry *e, void *arg), void *arg,
			 uint32_t *out, uint32_t out_max, uint64_t *next_from)
{
	uint32_t got = 0;
	uint64_t b = from;

	for (; b < t->nb_buckets && b < from + count && out_max - got >= SL_TABLE_WAYS; b++)
		got += unlink_slots(t, t->slots + b * SL_TABLE_WAYS, SL_TABLE_WAYS, expired, arg,
				    out + got, out_max - got);
	if (b >= t->nb_buckets) {
		if (__atomic_load_n(&t->stash_used, __ATOMIC_ACQUIRE))
			got += unlink_slots(t, t->stash, SL_TABLE_STASH, expired, arg, out + got,
					    out_max - got);
		b = 0;
	}
	*next_from = b;
	if (got)	/* after the slots were cleared (sl_table_count_unlinks) */
		__atomic_fetch_add(t->unlinks, 1, __ATOMIC_RELEASE);
	return got;
}

void sl_table_count_unlinks(struct sl_table *t, uint64_t *c)
{
	t->unlinks = c;
}
