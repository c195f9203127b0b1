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

int sl_table_create(uint64_t max_keys, unsigned nb_tokens, const struct sl_hash_secret *secret,
		    struct sl_table **out)
{
	uint64_t buckets, index_bytes, entry_bytes;
	struct sl_table *t;

	if (!max_keys || max_keys > (1ull << 31) || !nb_tokens || nb_tokens > SL_MAX_BUCKETS)
		return -EINVAL;
	buckets = (max_keys + 1) / 2;
	t = aligned_alloc(64, sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->entry_size = sizeof(struct sl_entry) + nb_tokens * sizeof(struct sl_tb_state) <= 64 ? 64
										     : 128;
	t->capacity = (uint32_t)max_keys;
	t->nb_tokens = nb_tokens;
	t->nb_buckets = buckets;
	t->chunk = max_keys >= 64 * SL_TABLE_CHUNK ? SL_TABLE_CHUNK : 1;
	t->secret = *secret;
	index_bytes = buckets * SL_TABLE_WAYS * sizeof(uint64_t);
	entry_bytes = (uint64_t)t->capacity * t->entry_size;
	/* one mapping, rounded to 2 MiB so huge pages can back all of it */
	t->map_bytes = (index_bytes + entry_bytes + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
	t->slots = map_memory(t->map_bytes);
	if (!t->slots) {
		free(t);
		return -ENOMEM;
	}
	t->entries = (uint8_t *)t->slots + index_bytes;
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

uint64_t sl_table_count(const struct sl_table *t)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < t->nb_buckets * SL_TABLE_WAYS; i++)
		n += __atomic_load_n(&t->slots[i], __ATOMIC_RELAXED) != 0;
	for (unsigned i = 0; i < SL_TABLE_STASH; i++)
		n += __atomic_load_n(&t->stash[i], __ATOMIC_RELAXED) != 0;
	return n;
}

/* Entry index from the per-thread cache, refilled from the shared bump allocator. */
static int entry_alloc(struct sl_table *t, struct sl_table_cache *c, uint32_t *idx)
{
	if (c->next == c->end) {
		uint32_t base = __atomic_fetch_add(&t->next, t->chunk, __ATOMIC_RELAXED);

		if (base >= t->capacity) {
			__atomic_fetch_sub(&t->next, t->chunk, __ATOMIC_RELAXED);
			return -ENOSPC;
		}
		c->next = base;
		c->end = base + t->chunk < t->capacity ? base + t->chunk : t->capacity;
	}
	*idx = c->next++;
	return 0;
}

/* A key found in the bucket, or NULL; checks every slot with the signature. */
static struct sl_entry *bucket_find(const struct sl_table *t, const uint64_t *b, unsigned ways,
				    uint32_t sig, const struct sl_key *key)
{
	for (unsigned i = 0; i < ways; i++) {
		uint64_t s = __atomic_load_n(&b[i], __ATOMIC_ACQUIRE);

		if (s && (uint32_t)s == sig && sl_key_eq(&sl_table_entry(t, s)->key, key))
			return sl_table_entry(t, s);
	}
	return NULL;
}

/*
 * Publish slot value v into the first free slot of b, unless the key appears first.
 * Returns the entry now holding key, or NULL if b is full.
 */
static struct sl_entry *bucket_publish(struct sl_table *t, uint64_t *b, unsigned ways, uint64_t v,
				       const struct sl_key *key)
{
	uint32_t sig = (uint32_t)v;

	for (unsigned i = 0; i < ways; i++) {
		uint64_t s = __atomic_load_n(&b[i], __ATOMIC_ACQUIRE);

		if (!s) {
			if (__atomic_compare_exchange_n(&b[i], &s, v, 0, __ATOMIC_RELEASE,
							__ATOMIC_ACQUIRE))
				return sl_table_entry(t, v);
			/* lost the race for this slot: s is the winner, check it below */
		}
		if ((uint32_t)s == sig && sl_key_eq(&sl_table_entry(t, s)->key, key))
			return sl_table_entry(t, s);
	}
	return NULL;
}

static uint64_t *alt_bucket(const struct sl_table *t, uint64_t hash)
{
	uint64_t n = t->nb_buckets, p = ((hash & 0xffffffffu) * n) >> 32;

	if (n == 1)
		return NULL;
	/* any bucket but the primary, chosen by the signature */
	return t->slots + ((p + 1 + (((hash >> 32) * (n - 1)) >> 32)) % n) * SL_TABLE_WAYS;
}

static int bucket_full(const uint64_t *b)
{
	for (unsigned i = 0; i < SL_TABLE_WAYS; i++)
		if (!__atomic_load_n(&b[i], __ATOMIC_ACQUIRE))
			return 0;
	return 1;
}

/*
 * The order primary -> alternative -> stash only moves forward as buckets fill, so two
 * threads inserting the same new key always race for the same slot (see sl_table.h).
 */
struct sl_entry *sl_table_lookup_slow(struct sl_table *t, struct sl_table_cache *c,
				      const struct sl_key *key, uint64_t hash, uint64_t now,
				      const uint64_t *init, int *created)
{
	uint32_t sig = (uint32_t)(hash >> 32), idx;
	uint64_t *b1 = sl_table_bucket(t, hash), *b2 = alt_bucket(t, hash);
	struct sl_entry *e, *got;
	uint64_t v;

	e = bucket_find(t, b1, SL_TABLE_WAYS, sig, key);
	if (!e && b2)
		e = bucket_find(t, b2, SL_TABLE_WAYS, sig, key);
	if (!e && __atomic_load_n(&t->stash_used, __ATOMIC_ACQUIRE))
		e = bucket_find(t, t->stash, SL_TABLE_STASH, sig, key);
	if (e)
		return e;
	if (entry_alloc(t, c, &idx))
		return NULL;
	e = (struct sl_entry *)(t->entries + (uint64_t)idx * t->entry_size);
	e->key = *key;
	for (unsigned i = 0; i < t->nb_tokens; i++)
		e->st[i] = (struct sl_tb_state){now, init[i]};
	v = ((uint64_t)(idx + 1) << 32) | sig;
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
	c->next--;	/* not published: give the entry back to this thread's cache */
	return got;
}
