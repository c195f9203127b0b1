/* sl_hash.h - the per-key table's key (one format for IPv4 and IPv6, src-ip, dst-ip, 5-tuple)
 * and its keyed hash: NH universal hashing with a random secret, so chosen keys cannot collide. */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <emmintrin.h>
#include "sl_pkt.h"
#include "sl_config.h"

/* 48 bytes: unused fields are zero so that equal keys are equal bytes. */
struct sl_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t family;		/* SL_PKT_IPV4, SL_PKT_IPV6 or 0 (not IP) */
	uint16_t zero;
	uint32_t tenant;	/* the tenant's uid: never reused, so a table outlives reloads */
	uint32_t zero2;
} __attribute__((aligned(8)));

_Static_assert(sizeof(struct sl_key) == 48, "sl_key is 48 bytes");

#define SL_HASH_WORDS (sizeof(struct sl_key) / 4)

/*
 * Secret of the keyed hash: 12 random 32-bit words for NH and 2 for the final mix, drawn at
 * start-up (sl_hash_seed_random). NH (Black et al., UMAC): for 32-bit words m and key k,
 * H = sum_i (m[2i] + k[2i] mod 2^32) * (m[2i+1] + k[2i+1] mod 2^32) mod 2^64 is
 * 2^-32-almost-universal: for any two distinct keys chosen without knowing k, the chance of
 * an NH collision is at most 2^-32, so an attacker choosing addresses cannot build chains.
 */
struct sl_hash_secret {
	uint32_t k[SL_HASH_WORDS];
	uint64_t mix;
};

/* Fill from getrandom(); returns 0 or -errno. Control path. */
int sl_hash_seed_random(struct sl_hash_secret *s);
/* Deterministic secret (tests, benchmarks with the seed printed). */
void sl_hash_seed(struct sl_hash_secret *s, uint64_t seed);

/*
 * What a key kind keeps of a parsed packet, as masks over its three 16-byte rows, and the
 * tenant's uid in place: computed once per kind and tenant (sl_key_masks), applied to each
 * packet without a branch (sl_key_make_masked).
 */
struct sl_key_masks {
	__m128i src, dst;	/* all ones where the kind keeps the address, else zero */
	__m128i row;		/* over [ports | proto, family | -, - ] after the shuffle */
	__m128i tenant;		/* [0 | 0 | uid | 0] */
};

static inline struct sl_key_masks sl_key_masks(enum sl_keykind k, uint32_t tenant)
{
	const __m128i ones = _mm_set1_epi32(-1), zero = _mm_setzero_si128();
	const int fam = (SL_PKT_IPV4 | SL_PKT_IPV6) << 8;

	return (struct sl_key_masks){
		k == SL_KEY_DST_IP ? zero : ones,
		k == SL_KEY_SRC_IP ? zero : ones,
		k == SL_KEY_5TUPLE ? _mm_set_epi32(0, 0, fam | 0xff, -1)
				   : _mm_set_epi32(0, 0, fam, 0),
		_mm_set_epi32(0, (int)tenant, 0, 0)};
}

/*
 * Build the key of a parsed packet: three 16-byte stores. struct sl_pkt starts with src[16],
 * dst[16], then sport, dport (bytes 32..35), and has proto, flags at bytes 44, 45: one
 * shuffle brings those two under the ports, where the key has proto and family.
 */
static inline void sl_key_make_masked(struct sl_key *key, const struct sl_pkt *p,
				      const struct sl_key_masks *m)
{
	__m128i *out = (__m128i *)(void *)key;
	const __m128i *in = (const __m128i *)(const void *)p;
	__m128i row;

	_Static_assert(offsetof(struct sl_key, dst) == 16 && offsetof(struct sl_key, sport) == 32 &&
		       offsetof(struct sl_key, proto) == 36 && offsetof(struct sl_key, family) == 37 &&
		       offsetof(struct sl_key, tenant) == 40 && offsetof(struct sl_pkt, dst) == 16 &&
		       offsetof(struct sl_pkt, sport) == 32 && offsetof(struct sl_pkt, dport) == 34 &&
		       offsetof(struct sl_pkt, proto) == 44 && offsetof(struct sl_pkt, flags) == 45,
		       "sl_key_make copies sl_pkt's bytes in place");
	row = _mm_shuffle_epi32(_mm_loadu_si128(in + 2), _MM_SHUFFLE(3, 3, 3, 0));
	_mm_storeu_si128(out, _mm_and_si128(_mm_loadu_si128(in), m->src));
	_mm_storeu_si128(out + 1, _mm_and_si128(_mm_loadu_si128(in + 1), m->dst));
	_mm_storeu_si128(out + 2, _mm_or_si128(_mm_and_si128(row, m->row), m->tenant));
}

/* The key of a parsed packet for a dedicated profile of kind k in tenant uid t. */
static inline void sl_key_make(struct sl_key *key, const struct sl_pkt *p, enum sl_keykind k,
			       uint32_t tenant)
{
	struct sl_key_masks m = sl_key_masks(k, tenant);

	sl_key_make_masked(key, p, &m);
}

typedef uint64_t __attribute__((may_alias)) sl_u64_alias;

/* The secret loaded into registers once, for loops that hash many keys (sl_hash_with). */
struct sl_hash_regs {
	__m128i k0, k1, k2;
	uint64_t mix;
};

static inline struct sl_hash_regs sl_hash_load(const struct sl_hash_secret *s)
{
	const __m128i *k = (const __m128i *)(const void *)s->k;

	return (struct sl_hash_regs){_mm_loadu_si128(k), _mm_loadu_si128(k + 1),
				     _mm_loadu_si128(k + 2), s->mix};
}

/*
 * NH over the key's 6 word pairs with SSE2: per 16 bytes, one 32-bit add of the secret, a shift
 * that brings the odd words under the even ones, and one multiply giving two 32x32->64
 * products (the same sum mod 2^64 as the scalar formula above).
 */
static inline uint64_t sl_hash_with(const struct sl_hash_regs *r, const struct sl_key *key)
{
	const __m128i *w = (const __m128i *)(const void *)key;
	__m128i x0 = _mm_add_epi32(_mm_loadu_si128(w), r->k0);
	__m128i x1 = _mm_add_epi32(_mm_loadu_si128(w + 1), r->k1);
	__m128i x2 = _mm_add_epi32(_mm_loadu_si128(w + 2), r->k2);
	__m128i acc = _mm_add_epi64(_mm_add_epi64(_mm_mul_epu32(x0, _mm_srli_epi64(x0, 32)),
						  _mm_mul_epu32(x1, _mm_srli_epi64(x1, 32))),
				    _mm_mul_epu32(x2, _mm_srli_epi64(x2, 32)));
	uint64_t h = (uint64_t)_mm_cvtsi128_si64(acc) +
		     (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));

	_Static_assert(SL_HASH_WORDS == 12, "NH covers 3 x 16 bytes");
	/* final mix (murmur3 fmix64 with a secret offset): spread NH's output over all bits */
	h ^= r->mix;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* The keyed hash of one key: sl_hash_with on the secret s. */
static inline uint64_t sl_hash(const struct sl_hash_secret *s, const struct sl_key *key)
{
	struct sl_hash_regs r = sl_hash_load(s);

	return sl_hash_with(&r, key);
}

/* Equal keys are equal bytes: three 16-byte compares, one branch-free result. */
static inline int sl_key_eq(const struct sl_key *a, const struct sl_key *b)
{
	const __m128i *x = (const __m128i *)(const void *)a, *y = (const __m128i *)(const void *)b;
	__m128i e = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128(x),
							       _mm_loadu_si128(y)),
						_mm_cmpeq_epi8(_mm_loadu_si128(x + 1),
							       _mm_loadu_si128(y + 1))),
				  _mm_cmpeq_epi8(_mm_loadu_si128(x + 2), _mm_loadu_si128(y + 2)));

	return _mm_movemask_epi8(e) == 0xffff;
}

#endif
