/* sl_classify.h - which tenant a parsed frame belongs to: every tenant's match blocks compiled
 * into a tuple-space search (one hash table per distinct match shape), first match in file order. */
#ifndef SL_CLASSIFY_H
#define SL_CLASSIFY_H

#include <stdint.h>
#include <emmintrin.h>
#include "sl_config.h"
#include "sl_pkt.h"

#define SL_NO_TENANT 0xffffffffu

/*
 * Semantics (the reference is a scan of the tenants in file order, sl_classify_linear): a
 * frame belongs to the first tenant one of whose match blocks holds. A block holds when every
 * field it gives holds: vlan / inner-vlan (the frame's outer / inner VLAN ID; an untagged
 * frame has none), port (the DPDK port it came in on), src / dst (the frame is of the
 * prefix's family and its address is in the prefix), proto (the IP protocol; 0 for a frame
 * that is not IP), src-port / dst-port (the frame has ports, TCP or UDP, and they are in the
 * ranges; giving one of the two accepts any value of the other).
 *
 * Tuple-space search (Srinivasan et al. 1999; Open vSwitch's dpcls). Every field but a port
 * range is an equality under a mask over the parsed frame: the frame's three 16-byte rows
 * (src, dst, and [sport dport vlan inner_vlan port - proto flags -]) ANDed with the block's
 * masks must equal the block's values, a single port as a 16-bit equality and the family and
 * "has ports" as bits of the flags byte. Blocks with the same masks (a "shape": "src /24",
 * "vlan + inner-vlan", "dst /32 + udp + a dst-port range") share one hash table of their
 * masked values; port ranges are checked on the blocks found. A lookup visits the shapes that
 * the frame's kind allows (IPv4 / IPv6 / neither, ports or not, 0 / 1 / 2 VLAN tags: an IPv4
 * frame never probes an IPv6 shape), in order of the first tenant each holds, and stops when
 * the next shape cannot hold an earlier tenant than the best found. A frame costs one hash
 * probe per shape visited, whatever the number of tenants; a policy of many shapes costs more
 * (sl_classifier_info: shapes and the most any frame can probe). A shape of one value is
 * compared directly, without a hash; a shape whose masks only say "IPv4" (src 0.0.0.0/0),
 * and the catch-all {}, are folded into a per-kind default: no probe at all.
 *
 * Prefilters: a shape of many values keeps a bitmap of 16 bits per value (512 to 262,144
 * bits), one set for up to 18 bits of the hash of each of its values (the hash is the probe's
 * own: the test costs a load and a bit test). A frame whose masked rows hash to a clear bit
 * cannot hold in that shape and skips its probe: a frame of one tenant's shape probes that
 * shape alone in the usual policies, others rarely (one in 16; one in 5 for shapes of more
 * than 16,384 values), and the bitmaps of 10,000 tenants take 20 KiB. A hash probe reads one
 * bucket of 8 slots (signatures compared at once), at most a quarter full, and the value's
 * line on a signature match.
 * Blocks that share a value and differ only in one port range (a service per tenant on one
 * address) are found by binary search over the port's intervals.
 */

struct sl_cls_ent {			/* one masked value of a shape: 64 bytes */
	__m128i key[3];
	uint32_t tenant;		/* its first block's tenant (the earliest) */
	uint32_t more;			/* further blocks: 0 none; cand[more - 1 ...] up to one with
					 * last; with SL_CLS_IVL: the interval table ivl[more & ~IVL] */
	uint16_t sp_lo, sp_hi, dp_lo, dp_hi;	/* the first block's port ranges (0-65535: any) */
};

#define SL_CLS_IVL 0x80000000u

struct sl_cls_cand {			/* a further block with the same masked value */
	uint32_t tenant;
	uint16_t sp_lo, sp_hi, dp_lo, dp_hi;
	uint16_t last;
	uint16_t pad;
};

/*
 * Many blocks of one value that differ only in one port range (a service per tenant on one
 * address): the port space cut into intervals, each with the earliest tenant whose range
 * covers it, found by binary search. Header {n, dim (0: src-port, 1: dst-port)}, then n lower
 * bounds (uint16_t, ascending, the first 0), then n tenants (uint32_t, SL_NO_TENANT: none).
 */
struct sl_cls_ivl {
	uint32_t n;
	uint32_t dim;
};

#define SL_CLS_WAYS 8			/* slots per bucket: 32 bytes, compared at once */

struct sl_cls_sub {			/* one shape */
	uint32_t best;			/* the earliest tenant of its blocks */
	uint32_t nb_ent;		/* masked values; 1: compared directly (no slots) */
	uint32_t bucket_mask;		/* buckets - 1 */
	uint32_t filter_mask;		/* the prefilter's bits - 1 */
	const uint64_t *filter;		/* bit (fold & filter_mask) set: a value folds to it; or NULL */
	const uint32_t *slots;		/* buckets of SL_CLS_WAYS slots, at most a quarter full */
	__m128i mask[3];
	const struct sl_cls_ent *ent;
	uint32_t idx_mask;		/* a slot: signature bits | (entry index + 1); 0: empty */
	uint32_t pclasses;		/* control path: protocol classes its values can hold */
} __attribute__((aligned(64)));

/* A block compiled: the masks and masked values above, its tenant and port ranges. */
struct sl_cls_rule {
	__m128i mask[3], key[3];
	uint32_t tenant;
	uint16_t sp_lo, sp_hi, dp_lo, dp_hi;
};

/* (flags & (IPV4 | IPV6 | PORTS)) >> 1 | vlan << 3 | inner vlan << 4 | protocol class << 5 */
#define SL_CLS_KINDS 96

struct sl_classifier {
	uint32_t all;			/* every frame's tenant when no frame probes (or SL_NO_TENANT) */
	uint32_t trivial;		/* 1: no frame probes and all kinds have one default: `all` */
	uint32_t deflt[SL_CLS_KINDS];	/* per kind: the tenant of the folded shapes, or none */
	uint32_t first[SL_CLS_KINDS + 1];	/* per kind: its shapes list[first[k] .. first[k+1]) */
	const uint16_t *list;		/* shape indices, each kind's by ascending best */
	const struct sl_cls_sub *sub;
	const struct sl_cls_cand *cand;
	const uint8_t *ivl;		/* interval tables (struct sl_cls_ivl), 4-byte aligned */
	/* for sl_classify_linear and sl_classifier_info */
	const struct sl_cls_rule *rule;	/* the blocks in file order */
	uint32_t nb_rules, nb_subs, nb_ents, max_probes, nb_filters;
	void *mem;			/* one allocation holds everything */
	uint64_t bytes;
};

/*
 * Control path: compile the tenants' blocks of cfg (tenant i = cfg->tenants[i]). Sizes every
 * table first and makes one allocation (sl_classifier_bytes says how much before it is made).
 * Returns 0 or -ENOMEM. Any number of tenants and blocks up to 2^31; at most 65535 shapes.
 */
int sl_classifier_build(const struct sl_config *cfg, struct sl_classifier *out);
void sl_classifier_free(struct sl_classifier *c);
/* Bytes sl_classifier_build will allocate for cfg (the blocks' rules, tables and lists). */
uint64_t sl_classifier_bytes(const struct sl_config *cfg);

struct sl_classifier_info {
	uint32_t blocks, shapes, values;
	uint32_t max_probes;		/* shapes the costliest frame kind may probe */
	uint32_t filters;		/* shapes with a prefilter */
	uint64_t bytes;
};
void sl_classifier_info(const struct sl_classifier *c, struct sl_classifier_info *out);

/* The reference: every block in file order, first that holds. Same result as sl_classify. */
uint32_t sl_classify_linear(const struct sl_classifier *c, const struct sl_pkt *p, uint16_t port);

/* ---- data path: inline lookup ---- */

/* A protocol's class: 1 TCP, 2 UDP, 0 any other (and 0, a frame that is not IP). A shape whose
 * values all give TCP is not looked at for a UDP frame, and so on. */
static inline unsigned sl_cls_pclass(uint8_t proto)
{
	return (unsigned)(proto == 6) | (unsigned)(proto == 17) << 1;
}

static inline unsigned sl_cls_kind(const struct sl_pkt *p)
{
	return (unsigned)(p->flags & 0x0e) >> 1 | (unsigned)(p->vlan != SL_VLAN_NONE) << 3 |
	       (unsigned)(p->inner_vlan != SL_VLAN_NONE) << 4 | sl_cls_pclass(p->proto) << 5;
}

/* The frame's third row with the ingress port in the bytes of l3_off (40..41). */
static inline __m128i sl_cls_row2(const struct sl_pkt *p, uint16_t port)
{
	return _mm_insert_epi16(_mm_loadu_si128((const __m128i *)(const void *)&p->sport), port, 4);
}

static inline int sl_cls_eq(__m128i a0, __m128i a1, __m128i a2, const __m128i *b)
{
	__m128i e = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(a0, b[0]), _mm_cmpeq_epi8(a1, b[1])),
				  _mm_cmpeq_epi8(a2, b[2]));

	return _mm_movemask_epi8(e) == 0xffff;
}

/* The prefilter's index: bits SL_CLS_FILTER_SHIFT.. of the hash (18 bits: 262,144 at most). */
#define SL_CLS_FILTER_SHIFT 46

/* sl_cls_hash before its last xorshift, which bits 35-63 do not need (the prefilter's index). */
static inline uint64_t sl_cls_hash_hi(__m128i k0, __m128i k1, __m128i k2)
{
	__m128i v = _mm_xor_si128(_mm_xor_si128(k0, k1), k2);
	uint64_t x = (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(v, _mm_unpackhi_epi64(v, v)));

	x ^= x >> 32;
	return x * 0x9e3779b97f4a7c15ull;
}

/*
 * Hash of a masked value: its three rows XORed and folded to 64 bits, then a multiply and
 * xorshifts (rule values are the operator's, not the sender's: no secret, and a few values
 * that fold alike only share a bucket; the key compare decides). Bits 46-63 index the
 * prefilter (SL_CLS_FILTER_SHIFT; the two lowest are the bucket's highest, which only
 * matters to a shape of more than 16,384 values), bits 32-47 the bucket, bits 0-31 give the
 * signature.
 */
static inline uint64_t sl_cls_hash(__m128i k0, __m128i k1, __m128i k2)
{
	uint64_t x = sl_cls_hash_hi(k0, k1, k2);

	return x ^ x >> 29;
}

static inline int sl_cls_ports_in(uint16_t sp, uint16_t dp, uint16_t slo, uint16_t shi,
				  uint16_t dlo, uint16_t dhi)
{
	return (uint16_t)(sp - slo) <= (uint16_t)(shi - slo) &&
	       (uint16_t)(dp - dlo) <= (uint16_t)(dhi - dlo);
}

/* Interval table t (dim 0: src-port, 1: dst-port): the earliest tenant covering the port. */
static inline uint32_t sl_cls_ivl_find(const struct sl_cls_ivl *t, const struct sl_pkt *p)
{
	const uint16_t *lo = (const uint16_t *)(const void *)(t + 1);
	const uint32_t *ten = (const uint32_t *)(const void *)(lo + ((t->n + 1) & ~1u));
	uint16_t port = t->dim ? p->dport : p->sport;
	uint32_t a = 0, n = t->n;

	while (n > 1) {		/* the last lower bound <= port; lo[0] is 0 */
		uint32_t h = n / 2;

		if (lo[a + h] <= port)
			a += h;
		n -= h;
	}
	return ten[a];
}

/* The earliest tenant before `best` among the blocks of value e (its key already equal). */
static inline uint32_t sl_cls_ent_tenant(const struct sl_classifier *c, const struct sl_cls_ent *e,
					 const struct sl_pkt *p, uint32_t best)
{
	const struct sl_cls_cand *x;
	uint32_t t;

	if (e->tenant >= best)
		return best;
	if (sl_cls_ports_in(p->sport, p->dport, e->sp_lo, e->sp_hi, e->dp_lo, e->dp_hi))
		return e->tenant;
	if (!e->more)
		return best;
	if (e->more & SL_CLS_IVL) {
		t = sl_cls_ivl_find((const struct sl_cls_ivl *)(const void *)
				    (c->ivl + (e->more & ~SL_CLS_IVL)), p);
		return t < best ? t : best;
	}
	for (x = &c->cand[e->more - 1]; x->tenant < best; x++) {
		if (sl_cls_ports_in(p->sport, p->dport, x->sp_lo, x->sp_hi, x->dp_lo, x->dp_hi))
			return x->tenant;
		if (x->last)
			break;
	}
	return best;
}

/* Bit i set when slot i of bucket b holds signature sig (sig_mask: the signature bits). */
static inline unsigned sl_cls_match(const uint32_t *b, uint32_t sig, uint32_t sig_mask,
				    unsigned *empty)
{
	const __m128i *v = (const __m128i *)(const void *)b;
	__m128i s = _mm_set1_epi32((int)sig), m = _mm_set1_epi32((int)sig_mask);
	__m128i v0 = _mm_load_si128(v), v1 = _mm_load_si128(v + 1), z = _mm_setzero_si128();
	__m128i c = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_and_si128(v0, m), s),
				    _mm_cmpeq_epi32(_mm_and_si128(v1, m), s));
	__m128i e = _mm_packs_epi32(_mm_cmpeq_epi32(v0, z), _mm_cmpeq_epi32(v1, z));

	*empty = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(e, z));
	return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(c, z));
}

/* One shape of more than one value, the frame's rows under its masks in k0..k2 and their hash
 * h: the earliest tenant before `best` whose block holds, else best. */
static inline uint32_t sl_cls_probe(const struct sl_classifier *c, const struct sl_cls_sub *s,
				    __m128i k0, __m128i k1, __m128i k2, uint64_t h,
				    const struct sl_pkt *p, uint32_t best)
{
	uint32_t sig_mask = ~s->idx_mask, b;
	/* the signature's lowest bit is always set: an empty slot (0) never matches */
	uint32_t sig = ((uint32_t)h | (sig_mask & -sig_mask)) & sig_mask;

	for (b = (uint32_t)(h >> 32) & s->bucket_mask;; b = (b + 1) & s->bucket_mask) {
		const uint32_t *slot = s->slots + (uint64_t)b * SL_CLS_WAYS;
		unsigned empty, m = sl_cls_match(slot, sig, sig_mask, &empty);

		for (; m; m &= m - 1) {
			const struct sl_cls_ent *e = &s->ent[(slot[__builtin_ctz(m)] & s->idx_mask) - 1];

			if (sl_cls_eq(k0, k1, k2, e->key))
				return sl_cls_ent_tenant(c, e, p, best);
		}
		if (empty)	/* a value is in the first bucket after its own with room */
			return best;
	}
}

/* A frame's walk paused at its first hash probe (sl_classify_burst). */
struct sl_cls_pend {
	uint32_t best;			/* the earliest tenant found before the probe */
	uint32_t j;			/* the probed shape's place in list; end: no probe */
	uint32_t end;			/* the end of the kind's list */
	uint32_t pad;
	uint64_t h;			/* its hash */
	const struct sl_cls_ent *ent;	/* the value of the first signature match, or NULL */
};

/*
 * The walk of shapes list[j .. end) of the frame's kind, from the earliest tenant found so
 * far. With pend, it pauses at the first hash probe, prefetches its bucket and records where
 * it is (pend->j == end: it finished, the result is returned).
 */
static inline __attribute__((always_inline)) uint32_t
sl_cls_walk(const struct sl_classifier *c, const struct sl_pkt *p, uint16_t port, uint32_t j,
	    uint32_t end, uint32_t best, struct sl_cls_pend *pend)
{
	__m128i r0, r1, r2;

	if (pend)
		pend->j = end;
	if (j == end)
		return best;
	r0 = _mm_loadu_si128((const __m128i *)(const void *)p->src);
	r1 = _mm_loadu_si128((const __m128i *)(const void *)p->dst);
	r2 = sl_cls_row2(p, port);
	for (; j < end; j++) {
		const struct sl_cls_sub *s = &c->sub[c->list[j]];
		__m128i k0, k1, k2;
		uint64_t h;

		if (s->best >= best)
			break;
		k0 = _mm_and_si128(r0, s->mask[0]);
		k1 = _mm_and_si128(r1, s->mask[1]);
		k2 = _mm_and_si128(r2, s->mask[2]);
		if (s->nb_ent == 1) {	/* one value: compared directly */
			if (sl_cls_eq(k0, k1, k2, s->ent[0].key))
				best = sl_cls_ent_tenant(c, s->ent, p, best);
			continue;
		}
		h = sl_cls_hash_hi(k0, k1, k2);	/* bits 32-63 of sl_cls_hash */
		if (s->filter) {	/* no value of the shape has this: no probe */
			uint32_t f = (uint32_t)(h >> SL_CLS_FILTER_SHIFT) & s->filter_mask;

			if (!(s->filter[f >> 6] >> (f & 63) & 1))
				continue;
		}
		h ^= h >> 29;		/* the rest of sl_cls_hash, for a frame that probes */
		if (pend) {
			pend->best = best;
			pend->j = j;
			pend->h = h;
			__builtin_prefetch(s->slots + ((uint32_t)(h >> 32) & s->bucket_mask) *
						      (uint64_t)SL_CLS_WAYS);
			return best;
		}
		best = sl_cls_probe(c, s, k0, k1, k2, h, p, best);
	}
	return best;
}

/* sl_classify's walk of the frame's kind: its default, then its shapes. */
static inline uint32_t sl_classify_kinds(const struct sl_classifier *c, const struct sl_pkt *p,
					 uint16_t port)
{
	unsigned k = sl_cls_kind(p);

	return sl_cls_walk(c, p, port, c->first[k], c->first[k + 1], c->deflt[k], NULL);
}

/*
 * Data path: index of the first tenant of the policy whose match holds for the parsed frame p,
 * which came in on DPDK port `port`, or SL_NO_TENANT. Reads only c and p. A policy whose
 * first tenant matches everything, or of one catch-all, answers without looking at the frame.
 */
static inline __attribute__((always_inline)) uint32_t
sl_classify(const struct sl_classifier *c, const struct sl_pkt *p, uint16_t port)
{
	if (c->trivial)
		return c->all;
	return sl_classify_kinds(c, p, port);
}

/*
 * Data path, in passes over a burst (sl_classify_burst shows the order). With thousands of
 * tenants a probe's bucket and value are rarely in the core's cache, and a frame's walk would
 * wait for one, then the other: the burst's walks pause at their first probe instead, so that
 * the loads of the burst's frames overlap.
 *   sl_cls_begin  walk to the first hash probe, start loading its bucket; returns the tenant
 *                 when the walk needed none (w->j == SL_CLS_DONE), else pending;
 *   sl_cls_sig    a pending walk: match signatures in the bucket, start loading the value;
 *   sl_cls_end    a pending walk: compare, probe on if needed, walk on; returns the tenant.
 * The same answers as sl_classify.
 */
#define SL_CLS_DONE 0xffffffffu

static inline __attribute__((always_inline)) uint32_t
sl_cls_begin(const struct sl_classifier *c, const struct sl_pkt *p, uint16_t port,
	     struct sl_cls_pend *w)
{
	unsigned k = sl_cls_kind(p);
	uint32_t end = c->first[k + 1];
	uint32_t t = sl_cls_walk(c, p, port, c->first[k], end, c->deflt[k], w);

	w->end = end;
	if (w->j == end)
		w->j = SL_CLS_DONE;
	return t;
}

static inline __attribute__((always_inline)) void
sl_cls_sig(const struct sl_classifier *c, struct sl_cls_pend *w)
{
	const struct sl_cls_sub *s = &c->sub[c->list[w->j]];
	uint32_t sig_mask = ~s->idx_mask;
	uint32_t sig = ((uint32_t)w->h | (sig_mask & -sig_mask)) & sig_mask;
	const uint32_t *slot = s->slots + ((uint32_t)(w->h >> 32) & s->bucket_mask) *
					  (uint64_t)SL_CLS_WAYS;
	unsigned empty, hit = sl_cls_match(slot, sig, sig_mask, &empty);

	w->ent = NULL;
	if (hit) {
		w->ent = &s->ent[(slot[__builtin_ctz(hit)] & s->idx_mask) - 1];
		__builtin_prefetch(w->ent);
	}
}

static inline __attribute__((always_inline)) uint32_t
sl_cls_end(const struct sl_classifier *c, const struct sl_pkt *p, uint16_t port,
	   const struct sl_cls_pend *w)
{
	const struct sl_cls_sub *s = &c->sub[c->list[w->j]];
	__m128i k0 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)p->src),
				   s->mask[0]);
	__m128i k1 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)p->dst),
				   s->mask[1]);
	__m128i k2 = _mm_and_si128(sl_cls_row2(p, port), s->mask[2]);
	uint32_t best = w->best;

	if (w->ent && sl_cls_eq(k0, k1, k2, w->ent->key))
		best = sl_cls_ent_tenant(c, w->ent, p, best);
	else	/* another slot, a later bucket, or none */
		best = sl_cls_probe(c, s, k0, k1, k2, w->h, p, best);
	return sl_cls_walk(c, p, port, w->j + 1, w->end, best, NULL);
}

/* out[i] = sl_classify(c, &p[i], port) for every frame i of mask (bit i), in passes. */
static inline void sl_classify_burst(const struct sl_classifier *c, const struct sl_pkt *p,
				     uint64_t mask, uint16_t port, uint32_t out[])
{
	struct sl_cls_pend w[64];
	uint64_t m, pending = 0;

	if (c->trivial) {
		for (m = mask; m; m &= m - 1)
			out[__builtin_ctzll(m)] = c->all;
		return;
	}
	for (m = mask; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);

		out[i] = sl_cls_begin(c, &p[i], port, &w[i]);
		pending |= (uint64_t)(w[i].j != SL_CLS_DONE) << i;
	}
	for (m = pending; m; m &= m - 1)
		sl_cls_sig(c, &w[__builtin_ctzll(m)]);
	for (m = pending; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);

		out[i] = sl_cls_end(c, &p[i], port, &w[i]);
	}
}

#endif
