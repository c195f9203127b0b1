/* sl_classify.h - tenant matches compiled from the config (masks, ranges) and the
 * first-match-wins classifier run on parsed packets. No EAL. */
#ifndef SL_CLASSIFY_H
#define SL_CLASSIFY_H

#include <stdint.h>
#include "sl_config.h"
#include "sl_pkt.h"

#define SL_NO_TENANT 0xffffu

/* One tenant's match, ready to test: addresses as two 64-bit words under a mask. */
struct sl_match {
	uint64_t src[2], src_mask[2];
	uint64_t dst[2], dst_mask[2];
	uint32_t fields;	/* SL_M_* */
	uint16_t vlan;
	uint8_t proto;
	uint8_t family;		/* SL_PKT_IPV4 / SL_PKT_IPV6 when an address is matched */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
};

struct sl_classifier {
	unsigned nb;
	unsigned first_all;	/* 1: the first tenant matches every packet (no match fields) */
	struct sl_match *m;	/* file order */
};

/* Control path: compile the tenants of cfg. Returns 0 or -ENOMEM. */
int sl_classifier_build(const struct sl_config *cfg, struct sl_classifier *out);
void sl_classifier_free(struct sl_classifier *c);

static inline int sl_match_one(const struct sl_match *m, const struct sl_pkt *p,
			       const uint64_t sa[2], const uint64_t da[2])
{
	uint32_t f = m->fields;

	if (!f)		/* a catch-all tenant */
		return 1;
	if ((f & SL_M_VLAN) && p->vlan != m->vlan)
		return 0;
	if ((f & (SL_M_SRC | SL_M_DST)) && !(p->flags & m->family))
		return 0;
	if ((f & SL_M_SRC) && (((sa[0] & m->src_mask[0]) ^ m->src[0]) |
			       ((sa[1] & m->src_mask[1]) ^ m->src[1])))
		return 0;
	if ((f & SL_M_DST) && (((da[0] & m->dst_mask[0]) ^ m->dst[0]) |
			       ((da[1] & m->dst_mask[1]) ^ m->dst[1])))
		return 0;
	if ((f & SL_M_PROTO) && p->proto != m->proto)
		return 0;
	if (f & (SL_M_SPORT | SL_M_DPORT)) {
		if (!(p->flags & SL_PKT_PORTS))
			return 0;
		if ((uint16_t)(p->sport - m->sport_lo) > (uint16_t)(m->sport_hi - m->sport_lo) ||
		    (uint16_t)(p->dport - m->dport_lo) > (uint16_t)(m->dport_hi - m->dport_lo))
			return 0;
	}
	return 1;
}

/* Data path: index of the first tenant whose match holds, or SL_NO_TENANT. */
static inline uint16_t sl_classify(const struct sl_classifier *c, const struct sl_pkt *p)
{
	uint64_t sa[2], da[2];

	if (c->first_all)	/* one tenant for all traffic: nothing to compare */
		return 0;
	__builtin_memcpy(sa, p->src, 16);
	__builtin_memcpy(da, p->dst, 16);
	for (unsigned i = 0; i < c->nb; i++)
		if (sl_match_one(&c->m[i], p, sa, da))
			return (uint16_t)i;
	return SL_NO_TENANT;
}

#endif
