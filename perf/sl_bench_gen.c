/* sl_bench_gen.c - inputs of the benchmark: key populations (random flows, and flows crafted to
 * collide under crc32c seed 0), 64-byte frames, Zipf(0.99) popularity, packet streams. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <rte_hash_crc.h>
#include "sl_bench.h"

#define KEY_BYTES ((uint32_t)sizeof(struct sl_key))
#define UDP_PROTO 17

/* ---------------------------------------------------------- random numbers */

static uint64_t mix64(uint64_t z)	/* splitmix64 finaliser: a bijection */
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t mix32(uint32_t x)	/* lowbias32: a bijection, so distinct i give distinct x */
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	return x ^ (x >> 16);
}

uint64_t slb_rand(struct slb_rng *r)
{
	return mix64(r->s += 0x9e3779b97f4a7c15ull);
}

uint32_t slb_rand_below(struct slb_rng *r, uint32_t n)
{
	return (uint32_t)(((slb_rand(r) >> 32) * n) >> 32);
}

static double rand01(struct slb_rng *r)
{
	return (double)(slb_rand(r) >> 11) * 0x1p-53;
}

/*
 * Zipf by rejection-inversion (Hoermann and Derflinger 1996, as in Apache Commons' sampler):
 * draws rank k in 1..n with probability proportional to k^-s in O(1) memory, about 1.1 uniform
 * draws per sample. h(x) = x^-s, H its integral; u uniform over [H(n + 1/2), H(3/2) - 1] is
 * inverted to x and rounded to k, accepted when u falls under the bar of k.
 */
static double zh(double s, double x)
{
	return exp(-s * log(x));
}

static double helper1(double x)	/* log1p(x) / x, stable near 0 */
{
	return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

static double helper2(double x)	/* expm1(x) / x, stable near 0 */
{
	return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x));
}

static double zH(double s, double x)
{
	double lx = log(x);

	return helper2((1 - s) * lx) * lx;
}

static double zH_inv(double s, double x)
{
	double t = x * (1 - s);

	return exp(helper1(t < -1 ? -1 : t) * x);
}

void slb_zipf_init(struct slb_zipf *z, uint64_t n, double s)
{
	z->n = n;
	z->s = s;
	z->hx1 = zH(s, 1.5) - 1;
	z->hn = zH(s, (double)n + 0.5);
	z->sv = 2 - zH_inv(s, zH(s, 2.5) - zh(s, 2));
}

uint64_t slb_zipf_next(const struct slb_zipf *z, struct slb_rng *r)
{
	for (;;) {
		double u = z->hn + rand01(r) * (z->hx1 - z->hn);
		double x = zH_inv(z->s, u);
		uint64_t k = (uint64_t)(x + 0.5);

		if (k < 1)
			k = 1;
		else if (k > z->n)
			k = z->n;
		if ((double)k - x <= z->sv || u >= zH(z->s, (double)k + 0.5) - zh(z->s, (double)k))
			return k;
	}
}

/* ------------------------------------------------------------------- frames */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint16_t ip4_csum(const uint8_t *h)
{
	uint32_t s = 0;

	for (unsigned i = 0; i < 20; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* IPv4 header of a datagram of tot bytes; returns the end of the header. */
static uint8_t *put_ip4(uint8_t *h, const struct sl_key *k, uint16_t tot)
{
	memset(h, 0, 20);
	h[0] = 0x45;
	put16(h + 2, tot);
	put16(h + 4, 0x1234);
	h[8] = 64;
	h[9] = k->proto;
	memcpy(h + 12, k->src, 4);
	memcpy(h + 16, k->dst, 4);
	put16(h + 10, ip4_csum(h));
	return h + 20;
}

static uint8_t *put_ip6(uint8_t *h, const struct sl_key *k, uint16_t plen)
{
	memset(h, 0, 8);
	h[0] = 0x60;
	put16(h + 4, plen);
	h[6] = k->proto;
	h[7] = 64;
	memcpy(h + 8, k->src, 16);
	memcpy(h + 24, k->dst, 16);
	return h + 40;
}

void slb_frame(const struct sl_key *k, uint8_t *frame)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	uint8_t *p = frame, *end = frame + SLB_FRAME;
	int v6 = k->family == SL_PKT_IPV6;

	memcpy(p, macs, sizeof(macs));
	p = put16(p + sizeof(macs), v6 ? 0x86dd : 0x0800);
	p = v6 ? put_ip6(p, k, (uint16_t)(end - p - 40)) : put_ip4(p, k, (uint16_t)(end - p));
	p = put16(p, k->sport);
	p = put16(p, k->dport);
	p = put16(p, (uint16_t)(end - p + 4));
	p = put16(p, 0);
	memset(p, 0x5a, (size_t)(end - p));
}

/* --------------------------------------------------------- key populations */

static void key_base(struct sl_key *k, int v6)
{
	memset(k, 0, sizeof(*k));
	k->proto = UDP_PROTO;
	k->family = v6 ? SL_PKT_IPV6 : SL_PKT_IPV4;
}

static int is_v6(uint64_t i, uint64_t seed)
{
	return mix64(seed ^ (i * 0x9e3779b97f4a7c15ull)) % SLB_IPV6_ONE_IN == 0;
}

/* Random flow i: its source address is a bijection of i, so the n keys are distinct. */
static void key_random(struct sl_key *k, uint64_t i, uint64_t seed)
{
	uint64_t r = mix64(seed + i);
	int v6 = is_v6(i, seed);

	key_base(k, v6);
	if (v6) {
		uint64_t lo = mix64(i + seed * 0x632be59bd9b4e019ull);

		k->src[0] = 0x20, k->src[1] = 0x01, k->src[2] = 0x0d, k->src[3] = 0xb8;
		memcpy(k->src + 8, &lo, 8);
		k->dst[0] = 0x20, k->dst[1] = 0x01, k->dst[2] = 0x0d, k->dst[3] = 0xb8;
		memcpy(k->dst + 12, &r, 4);
	} else {
		uint32_t src = mix32((uint32_t)i + (uint32_t)seed);

		memcpy(k->src, &src, 4);
		k->dst[0] = 10;
		memcpy(k->dst + 1, &r, 3);
	}
	k->sport = (uint16_t)(1024 + (r >> 32) % 64000);
	k->dport = (uint16_t)(r >> 48);
}

/*
 * Flows crafted against crc32c with seed 0 (rte_hash_crc, the hash DPDK examples and most
 * rte_hash users take). With seed 0 the CRC of a key (48 bytes) is linear over GF(2):
 * crc(a ^ b) = crc(a) ^ crc(b). An attacker picks ports freely and corrects with the first 32
 * bits of the source address: crc(key) = crc(template) ^ crc(ports part) ^ A(src32), A a 32x32
 * bit matrix of full rank (32 consecutive bits under a degree-32 CRC), so
 * src32 = A^-1(T ^ crc(template) ^ crc(ports part)) gives every key the same 32-bit hash T:
 * same primary bucket, same alternative bucket, same signature.
 */
struct crc_solver {
	uint32_t inv[32];	/* inv[b] = the src32 whose A-image is bit b */
};

/* rte_hash_crc reads 8-byte words: hand it words, not a struct sl_key (strict aliasing). */
static uint32_t crc_key(const struct sl_key *k)
{
	uint64_t w[KEY_BYTES / 8];

	memcpy(w, k, sizeof(w));
	return rte_hash_crc(w, KEY_BYTES, 0);
}

static uint32_t crc_src(uint32_t src32)
{
	struct sl_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.src, &src32, 4);
	return crc_key(&k);
}

/* Gauss-Jordan on the columns of A, tracking which src32 combination gives each column. */
static int crc_solver_init(struct crc_solver *cs)
{
	uint32_t v[32], c[32];

	for (unsigned j = 0; j < 32; j++) {
		v[j] = crc_src(1u << j);
		c[j] = 1u << j;
	}
	for (unsigned b = 0; b < 32; b++) {
		unsigned p = b;
		uint32_t t;

		while (p < 32 && !(v[p] >> b & 1))
			p++;
		if (p == 32)
			return -EDOM;
		t = v[b], v[b] = v[p], v[p] = t;
		t = c[b], c[b] = c[p], c[p] = t;
		for (unsigned j = 0; j < 32; j++) {
			if (j != b && (v[j] >> b & 1)) {
				v[j] ^= v[b];
				c[j] ^= c[b];
			}
		}
	}
	memcpy(cs->inv, c, sizeof(c));
	return 0;
}

static uint32_t crc_solve(const struct crc_solver *cs, uint32_t y)
{
	uint32_t s = 0;

	for (unsigned b = 0; b < 32; b++)
		if (y >> b & 1)
			s ^= cs->inv[b];
	return s;
}

/* Adversarial flow i: ports are a bijection of i (distinct keys), src corrects the CRC. */
static void key_adversarial(struct sl_key *k, uint64_t i, uint64_t seed,
			    const struct crc_solver *cs, uint32_t target)
{
	uint32_t ports = mix32((uint32_t)i + (uint32_t)seed), src;
	int v6 = is_v6(i, seed);

	key_base(k, v6);
	if (v6) {
		k->src[4] = 0x0d, k->src[5] = 0xb8, k->src[15] = 0x66;
		k->dst[0] = 0x20, k->dst[1] = 0x01, k->dst[2] = 0x0d, k->dst[3] = 0xb8;
		k->dst[15] = 1;
	} else {
		k->dst[0] = 192, k->dst[1] = 0, k->dst[2] = 2, k->dst[3] = 1;
	}
	k->sport = (uint16_t)(ports >> 16);
	k->dport = (uint16_t)ports;
	src = crc_solve(cs, target ^ crc_key(k));
	memcpy(k->src, &src, 4);
}

int slb_keys_make(struct slb_keys *ks, uint64_t n, int adversarial, uint64_t seed)
{
	struct crc_solver cs;
	struct sl_key t;

	memset(ks, 0, sizeof(*ks));
	if (!n || n > UINT32_MAX)
		return -EINVAL;
	if (adversarial) {
		if (crc_solver_init(&cs))
			return -EDOM;
		key_base(&t, 0);
		ks->crc = crc_key(&t);
	}
	ks->k = slb_alloc(n, sizeof(*ks->k));
	if (!ks->k)
		return -ENOMEM;
	ks->n = n;
	ks->adversarial = adversarial;
	for (uint64_t i = 0; i < n; i++) {
		if (!adversarial) {
			key_random(&ks->k[i], i, seed);
			continue;
		}
		key_adversarial(&ks->k[i], i, seed, &cs, ks->crc);
		if (crc_key(&ks->k[i]) != ks->crc) {
			slb_keys_free(ks);
			return -EDOM;
		}
	}
	return 0;
}

void slb_keys_free(struct slb_keys *ks)
{
	free(ks->k);
	memset(ks, 0, sizeof(*ks));
}

/* ------------------------------------------------------------------ streams */

/*
 * n * size bytes on 2 MiB boundaries, backed by transparent huge pages where the kernel has
 * them: the frames of a real appliance sit in hugepage mbufs, and 4 KiB pages would add a
 * TLB miss every 64 frames that the data path never has.
 */
void *slb_alloc(size_t n, size_t size)
{
	size_t huge = 2u << 20, bytes = (n * size + huge - 1) & ~(huge - 1);
	void *p = aligned_alloc(huge, bytes ? bytes : huge);

	if (p)
		madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

static void *alloc_lines(size_t n, size_t size)
{
	return slb_alloc(n, size);
}

/* Rank -> key: a random permutation, so popular keys are scattered over the table. */
static int zipf_indices(uint32_t *idx, uint32_t n, uint64_t nkeys, struct slb_rng *r)
{
	uint32_t *perm = malloc(nkeys * sizeof(*perm));
	struct slb_zipf z;

	if (!perm)
		return -ENOMEM;
	for (uint32_t i = 0; i < nkeys; i++)
		perm[i] = i;
	for (uint32_t i = (uint32_t)nkeys - 1; i > 0; i--) {
		uint32_t j = slb_rand_below(r, i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	slb_zipf_init(&z, nkeys, 0.99);
	for (uint32_t i = 0; i < n; i++)
		idx[i] = perm[slb_zipf_next(&z, r) - 1];
	free(perm);
	return 0;
}

int slb_stream_make(struct slb_stream *s, const struct slb_keys *ks, enum slb_pop pop,
		    uint32_t n, uint64_t seed)
{
	struct slb_rng r = { seed };

	memset(s, 0, sizeof(*s));
	n = n / SLB_BURST * SLB_BURST;
	if (!n)
		return -EINVAL;
	s->n = n;
	s->idx = alloc_lines(n, sizeof(*s->idx));
	s->frames = alloc_lines(n, SLB_FRAME);
	s->data = alloc_lines(n, sizeof(*s->data));
	s->pkt = alloc_lines(n, sizeof(*s->pkt));
	s->key = alloc_lines(n, sizeof(*s->key));
	s->hash = alloc_lines(n, sizeof(*s->hash));
	s->ent = alloc_lines(n, sizeof(*s->ent));
	s->bkey = alloc_lines(n, sizeof(*s->bkey));
	if (!s->idx || !s->frames || !s->data || !s->pkt || !s->key || !s->hash || !s->ent ||
	    !s->bkey)
		goto nomem;
	if (pop == SLB_ZIPF) {
		if (zipf_indices(s->idx, n, ks->n, &r))
			goto nomem;
	} else {
		for (uint32_t i = 0; i < n; i++)
			s->idx[i] = slb_rand_below(&r, (uint32_t)ks->n);
	}
	for (uint32_t i = 0; i < n; i++) {
		s->data[i] = s->frames + (size_t)i * SLB_FRAME;
		s->bkey[i] = &s->key[i];
		s->key[i] = ks->k[s->idx[i]];
		slb_frame(&s->key[i], s->data[i]);
	}
	for (unsigned i = 0; i < SLB_BURST; i++)
		s->len[i] = SLB_FRAME;
	return 0;
nomem:
	slb_stream_free(s);
	return -ENOMEM;
}

void slb_stream_free(struct slb_stream *s)
{
	free(s->idx);
	free(s->frames);
	free(s->data);
	free(s->pkt);
	free(s->key);
	free(s->hash);
	free(s->ent);
	free(s->bkey);
	memset(s, 0, sizeof(*s));
}
