/* test_hash.c - the table key and its keyed hash: sl_key_make's bytes for every key kind and
 * family, and sl_hash (SSE2) equal to the scalar NH + fmix64 formula of sl_hash.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "sl_hash.h"

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The definition, word by word: NH over 6 pairs of 32-bit words, then fmix64 of h ^ mix. */
static uint64_t ref_hash(const struct sl_hash_secret *s, const struct sl_key *key)
{
	uint32_t m[SL_HASH_WORDS];
	uint64_t h = 0;

	memcpy(m, key, sizeof(m));
	for (unsigned i = 0; i < SL_HASH_WORDS; i += 2)
		h += (uint64_t)(uint32_t)(m[i] + s->k[i]) * (uint32_t)(m[i + 1] + s->k[i + 1]);
	h ^= s->mix;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* The key as sl_hash.h describes it, field by field, everything else zero. */
static void ref_key(struct sl_key *k, const struct sl_pkt *p, enum sl_keykind kind, uint32_t t)
{
	memset(k, 0, sizeof(*k));
	k->family = p->flags & (SL_PKT_IPV4 | SL_PKT_IPV6);
	k->tenant = t;
	if (kind != SL_KEY_DST_IP)
		memcpy(k->src, p->src, 16);
	if (kind != SL_KEY_SRC_IP)
		memcpy(k->dst, p->dst, 16);
	if (kind == SL_KEY_5TUPLE) {
		k->sport = p->sport;
		k->dport = p->dport;
		k->proto = p->proto;
	}
}

/* A parsed packet as sl_parse leaves it: IPv4 addresses in bytes 0..3, the rest zero. */
static void random_pkt(struct sl_pkt *p, uint64_t *x)
{
	int v6 = rnd(x) % 4 == 0;

	memset(p, 0, sizeof(*p));
	for (unsigned b = 0; b < (v6 ? 16u : 4u); b++) {
		p->src[b] = (uint8_t)rnd(x);
		p->dst[b] = (uint8_t)rnd(x);
	}
	p->sport = (uint16_t)rnd(x);
	p->dport = (uint16_t)rnd(x);
	p->proto = rnd(x) % 2 ? 6 : 17;
	p->flags = (uint8_t)((v6 ? SL_PKT_IPV6 : SL_PKT_IPV4) | SL_PKT_PORTS);
	/* fields and flag bits past the key's bytes must not leak in */
	p->flags |= (uint8_t)(rnd(x) & ~(uint64_t)(SL_PKT_IPV4 | SL_PKT_IPV6));
	p->vlan = (uint16_t)rnd(x);
	p->inner_vlan = (uint16_t)rnd(x);
	p->l3_off = 14;
	p->ethertype = (uint16_t)rnd(x);
	p->tcp_flags = 0xff;
	p->pad[0] = (uint8_t)rnd(x);
}

static void key_bytes_for_every_kind(void **state)
{
	uint64_t x = 88172645463325252ull;
	unsigned v6 = 0;

	(void)state;
	for (unsigned n = 0; n < 20000; n++) {
		struct sl_pkt p;
		struct sl_key got, want;
		enum sl_keykind kind = (enum sl_keykind)(n % SL_KEY_COUNT);
		uint32_t t = (uint32_t)rnd(&x);

		random_pkt(&p, &x);
		v6 += (p.flags & SL_PKT_IPV6) != 0;
		memset(&got, 0xa5, sizeof(got));	/* every byte must be written */
		sl_key_make(&got, &p, kind, t);
		ref_key(&want, &p, kind, t);
		assert_memory_equal(&got, &want, sizeof(got));
	}
	assert_true(v6 > 4000 && v6 < 6000);	/* both families were covered */
}

static void hash_equals_definition(void **state)
{
	uint64_t x = 0x2545f4914f6cdd1dull, seen_top = 0;

	(void)state;
	for (unsigned n = 0; n < 200000; n++) {
		struct sl_hash_secret s;
		struct sl_key k;
		uint64_t h;

		if (n % 1000 == 0)
			sl_hash_seed(&s, rnd(&x));
		/* every key word random, including all-ones words (carries out of the adds) */
		for (unsigned b = 0; b < sizeof(k); b += 8) {
			uint64_t v = n % 7 == 0 ? ~0ull : rnd(&x);

			memcpy((uint8_t *)&k + b, &v, 8);
		}
		if (n % 1000 == 0)
			memset(&s.k, 0xff, sizeof(s.k));	/* secret words that wrap every add */
		h = sl_hash(&s, &k);
		assert_int_equal(h, ref_hash(&s, &k));
		seen_top |= h;
	}
	assert_int_equal(seen_top, ~0ull);	/* every output bit was set at least once */
}

/* The same packet, with a different tenant or kind, hashes differently (keys are distinct). */
static void distinct_keys_distinct_hashes(void **state)
{
	struct sl_hash_secret s;
	struct sl_pkt p;
	struct sl_key a, b;
	uint64_t x = 7;

	(void)state;
	sl_hash_seed(&s, 42);
	random_pkt(&p, &x);
	sl_key_make(&a, &p, SL_KEY_5TUPLE, 1);
	sl_key_make(&b, &p, SL_KEY_5TUPLE, 2);
	assert_false(sl_key_eq(&a, &b));
	assert_true(sl_hash(&s, &a) != sl_hash(&s, &b));
	sl_key_make(&b, &p, SL_KEY_SRC_IP, 1);
	assert_false(sl_key_eq(&a, &b));
	assert_true(sl_hash(&s, &a) != sl_hash(&s, &b));
	sl_key_make(&b, &p, SL_KEY_5TUPLE, 1);
	assert_true(sl_key_eq(&a, &b));
	assert_int_equal(sl_hash(&s, &a), sl_hash(&s, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_bytes_for_every_kind),
		cmocka_unit_test(hash_equals_definition),
		cmocka_unit_test(distinct_keys_distinct_hashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
