/* test_table.c - the per-key table: insert and find, IPv4/IPv6 keys in one format, memory
 * bound, max-keys refusal, keys sharing bucket and signature, and concurrent inserters never
 * duplicating a key. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sl_table.h"

static const uint64_t init[2] = {111, 222};

static void key_of(uint32_t i, int v6, struct sl_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = v6 ? SL_PKT_IPV6 : SL_PKT_IPV4;
	memcpy(k->src + (v6 ? 12 : 0), &i, 4);
	if (v6)
		k->src[0] = 0x20;
	k->tenant = 3;
}

static struct sl_entry *lookup(struct sl_table *t, struct sl_table_cache *c,
			       const struct sl_key *k, uint64_t now, int *created)
{
	uint64_t h = sl_hash(sl_table_secret(t), k);

	*created = 0;
	sl_table_prefetch(t, h);
	return sl_table_lookup(t, c, k, h, sl_table_probe(t, h), now, init, t->nb_tokens, created);
}

static void insert_then_find(void **state)
{
	struct sl_hash_secret s;
	struct sl_table *t;
	struct sl_table_cache c = {0};
	const unsigned n = 100000;

	(void)state;
	sl_hash_seed(&s, 42);
	assert_int_equal(sl_table_create(n, 2, &s, &t), 0);
	for (unsigned v6 = 0; v6 < 2; v6++)
		for (uint32_t i = 0; i < n / 2; i++) {
			struct sl_key k;
			int created;
			struct sl_entry *e;

			key_of(i, v6, &k);
			e = lookup(t, &c, &k, 1000 + i, &created);
			assert_non_null(e);
			assert_int_equal(created, 1);
			assert_int_equal(e->st[0].last, 1000 + i);
			assert_int_equal(e->st[1].last, 1000 + i);
			assert_int_equal(e->st[0].tokens, 111);
			assert_int_equal(e->st[1].tokens, 222);
			e->st[0].tokens = i;	/* the caller owns the state */
		}
	assert_int_equal(sl_table_count(t), n);
	for (unsigned v6 = 0; v6 < 2; v6++)
		for (uint32_t i = 0; i < n / 2; i++) {
			struct sl_key k;
			int created;
			struct sl_entry *e;

			key_of(i, v6, &k);
			e = lookup(t, &c, &k, 5, &created);
			assert_non_null(e);
			assert_int_equal(created, 0);
			assert_int_equal(e->st[0].tokens, i);
			assert_true(sl_key_eq(&e->key, &k));
		}
	/* full: the next new key is refused, existing keys still found */
	struct sl_key k;
	int created;

	key_of(n + 7, 0, &k);
	assert_null(lookup(t, &c, &k, 5, &created));
	key_of(3, 1, &k);
	assert_non_null(lookup(t, &c, &k, 5, &created));
	/* memory: 2 buckets per key: 128 B entry + 32 B index */
	assert_true(sl_table_memory(t) <= 160ull * n + (2u << 20));
	sl_table_free(t);
}

static void key_fields_all_count(void **state)
{
	struct sl_hash_secret s;
	struct sl_table *t;
	struct sl_table_cache c = {0};
	struct sl_key a, b;
	int created;

	(void)state;
	sl_hash_seed(&s, 7);
	assert_int_equal(sl_table_create(64, 1, &s, &t), 0);
	key_of(1, 0, &a);
	b = a;
	b.dport = 80;
	assert_ptr_not_equal(lookup(t, &c, &a, 0, &created), lookup(t, &c, &b, 0, &created));
	b = a;
	b.tenant = 4;
	assert_ptr_not_equal(lookup(t, &c, &a, 0, &created), lookup(t, &c, &b, 0, &created));
	b = a;
	b.family = SL_PKT_IPV6;
	assert_ptr_not_equal(lookup(t, &c, &a, 0, &created), lookup(t, &c, &b, 0, &created));
	assert_int_equal(sl_table_count(t), 4);
	sl_table_free(t);
	/* one bucket per key: at most 96 bytes per key, index and header included */
	assert_int_equal(sl_table_create(1000000, 1, &s, &t), 0);
	assert_true(sl_table_memory(t) <= 96ull * 1000000);
	sl_table_free(t);
}

struct ident {
	uint64_t v;	/* primary bucket << 32 | signature */
	uint32_t i;
};

static int ident_cmp(const void *a, const void *b)
{
	const struct ident *x = a, *y = b;

	return x->v < y->v ? -1 : x->v > y->v;
}

static int is_entry(const struct sl_entry *e, void *arg)
{
	return e == arg;
}

/*
 * Two keys with the same primary bucket and the same signature (found by a birthday search:
 * 64 keys -> 24 buckets, 25 free signature bits): the second key's stage-2 hint names the first
 * key's entry, and stage 3 still finds (and creates) the right one; unlinking one leaves the
 * other found.
 */
static void same_bucket_same_signature(void **state)
{
	enum { N = 300000 };
	struct sl_hash_secret s;
	struct sl_table *t;
	struct sl_table_cache c = {0};
	struct ident *id = calloc(N, sizeof(*id));
	struct sl_key ka, kb;
	struct sl_entry *ea, *eb;
	uint64_t ha, hb, next;
	uint32_t a = 0, b = 0, out[SL_TABLE_WAYS];
	int created;

	(void)state;
	sl_hash_seed(&s, 1234);
	assert_int_equal(sl_table_create(64, 1, &s, &t), 0);
	assert_int_equal(sl_table_nb_buckets(t), 24);
	assert_non_null(id);
	for (uint32_t i = 0; i < N; i++) {
		struct sl_key k;
		uint64_t h;

		key_of(i, 0, &k);
		h = sl_hash(&s, &k);
		id[i].v = (uint64_t)((sl_table_bucket(t, h) - t->slots) / SL_TABLE_WAYS) << 32 |
			  sl_table_sig(t, h);
		id[i].i = i;
	}
	qsort(id, N, sizeof(*id), ident_cmp);
	for (uint32_t i = 1; i < N && a == b; i++)
		if (id[i].v == id[i - 1].v) {
			a = id[i - 1].i;
			b = id[i].i;
		}
	free(id);
	assert_int_not_equal(a, b);	/* expected pairs: 300000^2 / 2 / (24 * 2^25) = 56 */
	key_of(a, 0, &ka);
	key_of(b, 0, &kb);
	ha = sl_hash(&s, &ka);
	hb = sl_hash(&s, &kb);
	assert_ptr_equal(sl_table_bucket(t, ha), sl_table_bucket(t, hb));
	assert_int_equal(sl_table_sig(t, ha), sl_table_sig(t, hb));

	ea = lookup(t, &c, &ka, 10, &created);
	assert_non_null(ea);
	assert_int_equal(created, 1);
	/* b's hint is a's entry: stage 3 must not take it */
	assert_ptr_equal(sl_table_entry(t, sl_table_probe(t, hb)), ea);
	eb = lookup(t, &c, &kb, 20, &created);
	assert_non_null(eb);
	assert_int_equal(created, 1);
	assert_ptr_not_equal(ea, eb);
	assert_true(sl_key_eq(&eb->key, &kb));
	assert_int_equal(eb->st[0].last, 20);
	/* both found again, neither created twice */
	assert_ptr_equal(lookup(t, &c, &kb, 30, &created), eb);
	assert_int_equal(created, 0);
	assert_ptr_equal(lookup(t, &c, &ka, 30, &created), ea);
	assert_int_equal(created, 0);
	assert_ptr_equal(sl_table_find(t, &ka, ha), ea);
	assert_ptr_equal(sl_table_find(t, &kb, hb), eb);
	assert_int_equal(sl_table_count(t), 2);
	/* unlink a: b is still found through its (now first) signature match */
	assert_int_equal(sl_table_unlink(t, 0, sl_table_nb_buckets(t), is_entry, ea, out,
					 SL_TABLE_WAYS, &next), 1);
	assert_int_equal(sl_table_count(t), 1);
	assert_null(sl_table_find(t, &ka, ha));
	assert_ptr_equal(sl_table_find(t, &kb, hb), eb);
	assert_ptr_equal(lookup(t, &c, &kb, 40, &created), eb);
	assert_int_equal(created, 0);
	assert_ptr_equal(sl_table_entry(t, sl_table_probe(t, ha)), eb);
	sl_table_release(t, out, 1);
	/* a comes back as a new key, in a slot of its own */
	ea = lookup(t, &c, &ka, 50, &created);
	assert_non_null(ea);
	assert_int_equal(created, 1);
	assert_ptr_not_equal(ea, eb);
	assert_int_equal(ea->st[0].last, 50);
	assert_int_equal(sl_table_count(t), 2);
	sl_table_free(t);
}

struct racer {
	struct sl_table *t;
	unsigned n;
	struct sl_entry **seen;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct sl_table_cache c = {0};

	for (uint32_t i = 0; i < r->n; i++) {
		struct sl_key k;
		int created;

		key_of(i, i & 1, &k);
		r->seen[i] = lookup(r->t, &c, &k, i, &created);
	}
	return NULL;
}

static void concurrent_inserts_never_duplicate(void **state)
{
	enum { THREADS = 4, N = 200000 };
	struct sl_hash_secret s;
	struct sl_table *t;
	pthread_t th[THREADS];
	struct racer r[THREADS];

	(void)state;
	sl_hash_seed(&s, 9);
	assert_int_equal(sl_table_create(N + THREADS * 64, 1, &s, &t), 0);
	for (unsigned i = 0; i < THREADS; i++) {
		r[i] = (struct racer){t, N, calloc(N, sizeof(struct sl_entry *))};
		pthread_create(&th[i], NULL, race, &r[i]);
	}
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* every thread got the same entry for every key, and each key is in the index once */
	for (unsigned i = 0; i < N; i++)
		for (unsigned j = 1; j < THREADS; j++)
			assert_ptr_equal(r[0].seen[i], r[j].seen[i]);
	assert_int_equal(sl_table_count(t), N);
	for (unsigned i = 0; i < THREADS; i++)
		free(r[i].seen);
	sl_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(insert_then_find),
		cmocka_unit_test(key_fields_all_count),
		cmocka_unit_test(same_bucket_same_signature),
		cmocka_unit_test(concurrent_inserts_never_duplicate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
