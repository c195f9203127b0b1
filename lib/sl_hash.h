/* sl_hash.h - the per-key table's key (one format for IPv4 and IPv6, src-ip, dst-ip, 5-tuple)
 * and its keyed hash: NH universal hashing with a random secret, so chosen keys cannot collide. */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stdint.h>
#include <string.h>
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

/* Build the key of a parsed packet for a dedicated profile of kind k in tenant uid t. */
static inline void sl_key_make(struct sl_key *key, const struct sl_pkt *p, enum sl_keykind k,
			       uint32_t tenant)
{
	memset(key, 0, sizeof(*key));
	key->family = p->flags & (SL_PKT_IPV4 | SL_PKT_IPV6);
	key->tenant = tenant;
	if (k == SL_KEY_DST_IP) {
		memcpy(key->dst, p->dst, 16);
		return;
	}
	memcpy(key->src, p->src, 16);
	if (k == SL_KEY_5TUPLE) {
		memcpy(key->dst, p->dst, 16);
		key->sport = p->sport;
		key->dport = p->dport;
		key->proto = p->proto;
	}
}

typedef uint64_t __attribute__((may_alias)) sl_u64_alias;

static inline uint64_t sl_hash(const struct sl_hash_secret *s, const struct sl_key *key)
{
	const sl_u64_alias *w = (const sl_u64_alias *)key;
	uint64_t h = 0;

	/* NH over the key's 32-bit word pairs, unrolled: a 64-bit load gives words 2i, 2i+1 */
#define SL_NH(i)                                                                     \
	h += (uint64_t)(uint32_t)((uint32_t)w[i] + s->k[2 * (i)]) *                  \
	     (uint32_t)((uint32_t)(w[i] >> 32) + s->k[2 * (i) + 1]);
	SL_NH(0) SL_NH(1) SL_NH(2) SL_NH(3) SL_NH(4) SL_NH(5)
#undef SL_NH
	_Static_assert(SL_HASH_WORDS == 12, "the unrolled NH covers 6 word pairs");
	/* final mix (murmur3 fmix64 with a secret offset): spread NH's output over all bits */
	h ^= s->mix;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static inline int sl_key_eq(const struct sl_key *a, const struct sl_key *b)
{
	const sl_u64_alias *x = (const sl_u64_alias *)a, *y = (const sl_u64_alias *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4]) | (x[5] ^ y[5])) == 0;
}

#endif
