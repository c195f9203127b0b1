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
 */

struct sl_cls_ent {			/* one masked value of a shape: 64 bytes */
	__m128i key[3];
	uint32_t tenant;		/* its first block's tenant (the earliest) */
	uint32_t more;			/* further blocks: cand[more - 1 ...] up to one with last; 0 none */
	uint16_t sp_lo, sp_hi, dp_lo, dp_hi;	/* the first block's port ranges (0-65535: any) */
};

struct sl_cls_cand {			/* a further block with the same masked value */
	uint32_t tenant;
	uint16_t sp_lo, sp_hi, dp_lo, dp_hi;
	uint16_t last;
	uint16_t pad;
};

struct sl_cls_sub {			/* one shape */
	__m128i mask[3];
	uint32_t best;			/* the earliest tenant of its blocks */
	uint32_t nb_ent;		/* masked values; 1: compared directly (no slots) */
	uint64_t slot_mask;		/* slots - 1 */
	uint32_t idx_mask;		/* a slot: signature bits | (entry index + 1) */
	uint32_t pad;
	const uint32_t *slots;		/* open addressing, linear probing, at most half full */
	const struct sl_cls_ent *ent;
} __attribute__((aligned(64)));

/* A block compiled: the masks and masked values above, its tenant and port ranges. */
struct sl_cls_rule {
	__m128i mask[3], key[3];
	uint32_t tenant;
	uint16_t sp_lo, sp_hi, dp_lo, dp_hi;
};

#define SL_CLS_KINDS 32	/* (flags & (IPV4 | IPV6 | PORTS)) >> 1 | vlan << 3 | inner vlan << 4 */

struct sl_classifier {
	uint32_t deflt[SL_CLS_KINDS];	/* per kind: the tenant of the folded shapes, or none */
	uint32_t first[SL_CLS_KINDS + 1];	/* per kind: its shapes list[first[k] .. first[k+1]) */
	const uint16_t *list;		/* shape indices, each kind's by ascending best */
	const struct sl_cls_sub *sub;
	const struct sl_cls_cand *cand;
	/* for sl_classify_linear and sl_classifier_info */
	const struct sl_cls_rule *rule;	/* the blocks in file order */
	uint32_t nb_rules, nb_subs, nb_ents, max_probes;
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
	uint32_t max_probes;		/* hash probes of the costliest frame kind */
	uint64_t bytes;
};
void sl_classifier_info(const struct sl_classifier *c, struct sl_classifier_info *out);

/* The reference: every block in file order, first that holds. Same result as sl_classify. */
uint32_t sl_classify_linear(const struct sl_classifier *c, const struct sl_pkt *p, uint16_t port);

/* ---- data path: inline lookup ---- */

static inline unsigned sl_cls_kind(const struct sl_pkt *p)
{
	return (unsigned)(p->flags & 0x0e) >> 1 | (unsigned)(p->vlan != SL_VLAN_NONE) << 3 |
	       (unsigned)(p->inner_vlan != SL_VLAN_NONE) << 4;
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

/* Hash of a masked value: NH over 32-bit word pairs with fixed constants, then one multiply and
 * shift to spread it (rule values are the operator's, not the sender's: no secret needed). */
static inline uint64_t sl_cls_hash(__m128i k0, __m128i k1, __m128i k2)
{
	__m128i x0 = _mm_add_epi32(k0, _mm_set_epi32(0x2545f491, 0x4f6cdd1d, 0x1b873593, 0x68e31da4));
	__m128i x1 = _mm_add_epi32(k1, _mm_set_epi32(0x7fb5d329, 0x0ff5a3c1, 0x85ebca6b, 0x3c6ef372));
	__m128i x2 = _mm_add_epi32(k2, _mm_set_epi32(0x165667b1, 0x27d4eb2f, 0x61c88647, 0x9e3779b9));
	__m128i acc = _mm_add_epi64(_mm_add_epi64(_mm_mul_epu32(x0, _mm_srli_epi64(x0, 32)),
						  _mm_mul_epu32(x1, _mm_srli_epi64(x1, 32))),
				    _mm_mul_epu32(x2, _mm_srli_epi64(x2, 32)));
	uint64_t h = (uint64_t)_mm_cvtsi128_si64(acc) +
		     (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));

	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ h >> 29;
}

static inline int sl_cls_ports_in(uint16_t sp, uint16_t dp, uint16_t slo, uint16_t shi,
				  uint16_t dlo, uint16_t dhi)
{
	return (uint16_t)(sp - slo) <= (uint16_t)(shi - slo) &&
	       (uint16_t)(dp - dlo) <= (uint16_t)(dhi - dlo);
}

/* The earliest tenant before `best` among the blocks of value e (its key already equal). */
static inline uint32_t sl_cls_ent_tenant(const struct sl_classifier *c, const struct sl_cls_ent *e,
					 const struct sl_pkt *p, uint32_t best)
{
	const struct sl_cls_cand *x;

	if (e->tenant >= best)
		return best;
	if (sl_cls_ports_in(p->sport, p->dport, e->sp_lo, e->sp_hi, e->dp_lo, e->dp_hi))
		return e->tenant;
	if (!e->more)
		return best;
	for (x = &c->cand[e->more - 1]; x->tenant < best; x++) {
		if (sl_cls_ports_in(p->sport, p->dport, x->sp_lo, x->sp_hi, x->dp_lo, x->dp_hi))
			return x->tenant;
		if (x->last)
			break;
	}
	return best;
}

/* One shape: the earliest tenant before `best` whose block holds, else best. */
static inline uint32_t sl_cls_probe(const struct sl_classifier *c, const struct sl_cls_sub *s,
				    __m128i r0, __m128i r1, __m128i r2, const struct sl_pkt *p,
				    uint32_t best)
{
	__m128i k0 = _mm_and_si128(r0, s->mask[0]), k1 = _mm_and_si128(r1, s->mask[1]);
	__m128i k2 = _mm_and_si128(r2, s->mask[2]);
	uint64_t h, i;
	uint32_t sig;

	if (s->nb_ent == 1)
		return sl_cls_eq(k0, k1, k2, s->ent[0].key) ? sl_cls_ent_tenant(c, s->ent, p, best)
							     : best;
	h = sl_cls_hash(k0, k1, k2);
	sig = (uint32_t)(h >> 32) & ~s->idx_mask;
	for (i = h & s->slot_mask;; i = (i + 1) & s->slot_mask) {
		uint32_t v = s->slots[i];
		const struct sl_cls_ent *e;

		if (!v)
			return best;
		if ((v & ~s->idx_mask) != sig)
			continue;
		e = &s->ent[(v & s->idx_mask) - 1];
		if (sl_cls_eq(k0, k1, k2, e->key))
			return sl_cls_ent_tenant(c, e, p, best);
	}
}

/*
 * Data path: index of the first tenant of the policy whose match holds for the parsed frame p,
 * which came in on DPDK port `port`, or SL_NO_TENANT. Reads only c and p.
 */
static inline uint32_t sl_classify(const struct sl_classifier *c, const struct sl_pkt *p,
				   uint16_t port)
{
	unsigned k = sl_cls_kind(p);
	uint32_t best = c->deflt[k], j = c->first[k], end = c->first[k + 1];
	__m128i r0, r1, r2;

	if (j == end)
		return best;
	r0 = _mm_loadu_si128((const __m128i *)(const void *)p->src);
	r1 = _mm_loadu_si128((const __m128i *)(const void *)p->dst);
	r2 = sl_cls_row2(p, port);
	for (; j < end; j++) {
		const struct sl_cls_sub *s = &c->sub[c->list[j]];

		if (s->best >= best)
			break;
		best = sl_cls_probe(c, s, r0, r1, r2, p, best);
	}
	return best;
}

#endif
