/* sl_classify.c - compile the tenants' match blocks into shapes (hash tables of masked values),
 * per-kind visiting orders and defaults; the linear reference. Control path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sl_classify.h"

#define ROW2_OFF 32	/* offsetof(struct sl_pkt, sport): the third row */

_Static_assert(sizeof(struct sl_cls_ent) == 64, "a shape's value is one cache line");
_Static_assert(offsetof(struct sl_pkt, sport) == ROW2_OFF && offsetof(struct sl_pkt, l3_off) == 40 &&
	       offsetof(struct sl_pkt, proto) == 44 && offsetof(struct sl_pkt, flags) == 45,
	       "the classifier's rows are sl_pkt's bytes, the port in place of l3_off");

static void prefix_mask(unsigned len, uint8_t mask[16])
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = len > i * 8 ? len - i * 8 : 0;

		mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
	}
}

static void put16(uint8_t *b, uint16_t v)	/* host order, as sl_pkt holds it */
{
	memcpy(b, &v, 2);
}

/* One block of tenant t into masks, masked values and residual port ranges. */
static void compile_block(const struct sl_cfg_match *cm, uint32_t t, struct sl_cls_rule *r)
{
	uint8_t m[3][16], k[3][16];
	uint8_t *m2 = m[2], *k2 = k[2];
	uint32_t f = cm->fields;

	memset(m, 0, sizeof(m));
	memset(k, 0, sizeof(k));
	if (f & SL_M_SRC)
		prefix_mask(cm->src_len, m[0]);
	if (f & SL_M_DST)
		prefix_mask(cm->dst_len, m[1]);
	for (unsigned i = 0; i < 16; i++) {
		k[0][i] = cm->src[i] & m[0][i];
		k[1][i] = cm->dst[i] & m[1][i];
	}
	r->sp_lo = r->dp_lo = 0;
	r->sp_hi = r->dp_hi = 0xffff;
	if (f & SL_M_SPORT) {
		if (cm->sport_lo == cm->sport_hi) {
			put16(m2 + 0, 0xffff);
			put16(k2 + 0, cm->sport_lo);
		} else {
			r->sp_lo = cm->sport_lo;
			r->sp_hi = cm->sport_hi;
		}
	}
	if (f & SL_M_DPORT) {
		if (cm->dport_lo == cm->dport_hi) {
			put16(m2 + 2, 0xffff);
			put16(k2 + 2, cm->dport_lo);
		} else {
			r->dp_lo = cm->dport_lo;
			r->dp_hi = cm->dport_hi;
		}
	}
	if (f & SL_M_VLAN) {
		put16(m2 + 4, 0xffff);
		put16(k2 + 4, cm->vlan);
	}
	if (f & SL_M_INNER_VLAN) {
		put16(m2 + 6, 0xffff);
		put16(k2 + 6, cm->inner_vlan);
	}
	if (f & SL_M_PORT) {
		put16(m2 + 8, 0xffff);
		put16(k2 + 8, cm->port);
	}
	if (f & SL_M_PROTO) {
		m2[12] = 0xff;
		k2[12] = cm->proto;
	}
	if (f & (SL_M_SRC | SL_M_DST)) {
		m2[13] |= SL_PKT_IPV4 | SL_PKT_IPV6;
		k2[13] |= cm->family == 6 ? SL_PKT_IPV6 : SL_PKT_IPV4;
	}
	if (f & (SL_M_SPORT | SL_M_DPORT)) {
		m2[13] |= SL_PKT_PORTS;
		k2[13] |= SL_PKT_PORTS;
	}
	memcpy(r->mask, m, sizeof(m));
	memcpy(r->key, k, sizeof(k));
	r->tenant = t;
}

static int full_ranges(const struct sl_cls_rule *r)
{
	return r->sp_lo == 0 && r->sp_hi == 0xffff && r->dp_lo == 0 && r->dp_hi == 0xffff;
}

static int same_ranges(const struct sl_cls_rule *a, const struct sl_cls_rule *b)
{
	return a->sp_lo == b->sp_lo && a->sp_hi == b->sp_hi && a->dp_lo == b->dp_lo &&
	       a->dp_hi == b->dp_hi;
}

/* The family a block requires (SL_PKT_IPV4, SL_PKT_IPV6 or 0): part of its shape, so that a
 * shape is of one family and a frame of the other never probes it (an IPv4 /24 and an IPv6 /24
 * have the same masks). */
static uint8_t rule_family(const struct sl_cls_rule *r)
{
	uint8_t k[16];

	memcpy(k, &r->key[2], 16);
	return k[13] & (SL_PKT_IPV4 | SL_PKT_IPV6);
}

/* Shapes (masks and family), then values, then file order. */
static int rule_cmp(const void *a, const void *b)
{
	const struct sl_cls_rule *x = *(const struct sl_cls_rule *const *)a;
	const struct sl_cls_rule *y = *(const struct sl_cls_rule *const *)b;
	int c = memcmp(x->mask, y->mask, sizeof(x->mask));

	if (!c)
		c = (int)rule_family(x) - (int)rule_family(y);
	if (!c)
		c = memcmp(x->key, y->key, sizeof(x->key));
	if (!c)
		c = x->tenant < y->tenant ? -1 : x->tenant > y->tenant;
	if (!c)
		c = x < y ? -1 : x > y;
	return c;
}

/* What the tables need, counted from the sorted blocks before anything is allocated. */
struct plan {
	uint32_t subs, ents, cands;
	uint64_t slots;
};

static int same_mask(const struct sl_cls_rule *a, const struct sl_cls_rule *b)
{
	return !memcmp(a->mask, b->mask, sizeof(a->mask)) && rule_family(a) == rule_family(b);
}

static int same_key(const struct sl_cls_rule *a, const struct sl_cls_rule *b)
{
	return !memcmp(a->key, b->key, sizeof(a->key));
}

static uint64_t slots_for(uint32_t ents)
{
	uint64_t n = 8;

	if (ents <= 1)
		return 0;
	while (n < 2ull * ents)
		n <<= 1;
	return n;
}

/*
 * Walk the sorted blocks: fn(ctx, kind of step, rule) for each shape start (0), value start
 * (1) and kept further block of a value (2); a further block is dropped when an earlier one of
 * its value accepts every port (it can never be the first to hold) or has the same ranges and
 * an earlier tenant.
 */
struct walk_ctx;
typedef void (*walk_fn)(struct walk_ctx *w, int step, const struct sl_cls_rule *r);

struct walk_ctx {
	struct plan plan;
	walk_fn fn;
	/* fill */
	struct sl_classifier *c;
	struct sl_cls_sub *subs;
	struct sl_cls_ent *ents;
	struct sl_cls_cand *cands;
	uint32_t *slots;
	uint32_t sub, ent, cand;
	uint64_t slot;
};

static void walk(struct sl_cls_rule *const *o, uint32_t n, struct walk_ctx *w)
{
	uint32_t i = 0;

	while (i < n) {
		uint32_t j = i;

		w->fn(w, 0, o[i]);
		while (j < n && same_mask(o[j], o[i])) {
			uint32_t v = j, full = full_ranges(o[j]);

			w->fn(w, 1, o[j]);
			for (j++; j < n && same_mask(o[j], o[v]) && same_key(o[j], o[v]); j++) {
				int dup = 0;

				for (uint32_t q = v; q < j && !dup; q++)
					dup = same_ranges(o[q], o[j]);
				if (!full && !dup)
					w->fn(w, 2, o[j]);
				full |= full_ranges(o[j]);
			}
		}
		i = j;
	}
}

static void count_step(struct walk_ctx *w, int step, const struct sl_cls_rule *r)
{
	(void)r;
	if (step == 0)
		w->plan.subs++;
	else if (step == 1)
		w->plan.ents++;
	else
		w->plan.cands++;
}

/* After counting, the slots of each shape: counted again per shape from the value counts. */
static void slots_step(struct walk_ctx *w, int step, const struct sl_cls_rule *r)
{
	(void)r;
	if (step == 0) {
		if (w->sub)
			w->plan.slots += slots_for(w->ent);
		w->sub++;
		w->ent = 0;
	} else if (step == 1) {
		w->ent++;
	}
}

static void close_sub(struct walk_ctx *w)
{
	struct sl_cls_sub *s;
	uint64_t nslots;
	uint32_t idx_bits;

	if (!w->sub)
		return;
	s = &w->subs[w->sub - 1];
	s->nb_ent = (uint32_t)(&w->ents[w->ent] - s->ent);
	nslots = slots_for(s->nb_ent);
	if (!nslots)
		return;
	idx_bits = 32 - (uint32_t)__builtin_clz(s->nb_ent);	/* holds nb_ent itself */
	s->idx_mask = idx_bits >= 32 ? 0xffffffffu : (1u << idx_bits) - 1;
	s->slot_mask = nslots - 1;
	s->slots = w->slots + w->slot;
	for (uint32_t e = 0; e < s->nb_ent; e++) {
		const struct sl_cls_ent *en = &s->ent[e];
		uint64_t h = sl_cls_hash(en->key[0], en->key[1], en->key[2]), i;
		uint32_t *sl = w->slots + w->slot;

		for (i = h & s->slot_mask; sl[i]; i = (i + 1) & s->slot_mask)
			;
		sl[i] = ((uint32_t)(h >> 32) & ~s->idx_mask) | (e + 1);
	}
	w->slot += nslots;
}

static void fill_step(struct walk_ctx *w, int step, const struct sl_cls_rule *r)
{
	if (step == 0) {
		struct sl_cls_sub *s;

		close_sub(w);
		s = &w->subs[w->sub++];
		memcpy(s->mask, r->mask, sizeof(s->mask));
		s->best = r->tenant;	/* sorted by value: the minimum is taken below */
		s->ent = &w->ents[w->ent];
	} else if (step == 1) {
		struct sl_cls_ent *e = &w->ents[w->ent++];
		struct sl_cls_sub *s = &w->subs[w->sub - 1];

		memcpy(e->key, r->key, sizeof(e->key));
		e->tenant = r->tenant;
		e->more = 0;
		e->sp_lo = r->sp_lo;
		e->sp_hi = r->sp_hi;
		e->dp_lo = r->dp_lo;
		e->dp_hi = r->dp_hi;
		if (r->tenant < s->best)
			s->best = r->tenant;
	} else {
		struct sl_cls_ent *e = &w->ents[w->ent - 1];
		struct sl_cls_cand *x = &w->cands[w->cand++];

		if (!e->more)
			e->more = w->cand;
		else
			x[-1].last = 0;
		*x = (struct sl_cls_cand){r->tenant, r->sp_lo, r->sp_hi, r->dp_lo, r->dp_hi, 1, 0};
	}
}

/* The kind bits a shape needs, from its masks and values (one family per shape): family,
 * ports, tags. */
static int sub_allows(const struct sl_cls_sub *s, unsigned kind)
{
	uint8_t m[16], k[16];
	unsigned fam = kind & 3, ports = kind >> 2 & 1, vlan = kind >> 3 & 1, inner = kind >> 4;

	memcpy(m, &s->mask[2], 16);
	memcpy(k, &s->ent[0].key[2], 16);
	if ((m[13] & (SL_PKT_IPV4 | SL_PKT_IPV6)) && (unsigned)(k[13] & 0x06) >> 1 != fam)
		return 0;
	if ((m[13] & SL_PKT_PORTS) && !ports)
		return 0;
	if ((m[4] | m[5]) && !vlan)
		return 0;
	if ((m[6] | m[7]) && !inner)
		return 0;
	return 1;
}

/* A shape that holds for every frame of the kinds it allows: masks on the flags byte only, one
 * value, its first block without port ranges. */
static int sub_constant(const struct sl_cls_sub *s)
{
	uint8_t m[48];

	memcpy(m, s->mask, 48);
	for (unsigned i = 0; i < 48; i++)
		if (m[i] && i != ROW2_OFF + 13)
			return 0;
	return s->nb_ent == 1 && s->ent[0].sp_lo == 0 && s->ent[0].sp_hi == 0xffff &&
	       s->ent[0].dp_lo == 0 && s->ent[0].dp_hi == 0xffff;
}

static const struct sl_cls_sub *sort_subs;

static int by_best(const void *a, const void *b)
{
	const struct sl_cls_sub *x = &sort_subs[*(const uint16_t *)a];
	const struct sl_cls_sub *y = &sort_subs[*(const uint16_t *)b];

	return x->best < y->best ? -1 : x->best > y->best;
}

static void build_lists(struct sl_classifier *c, struct sl_cls_sub *subs, uint16_t *list)
{
	uint32_t n = 0;

	c->max_probes = 0;
	for (unsigned k = 0; k < SL_CLS_KINDS; k++) {
		uint32_t best = SL_NO_TENANT, start = n;

		for (uint32_t s = 0; s < c->nb_subs; s++)
			if (sub_allows(&subs[s], k) && sub_constant(&subs[s]) && subs[s].best < best)
				best = subs[s].best;
		c->deflt[k] = best;
		c->first[k] = n;
		for (uint32_t s = 0; s < c->nb_subs; s++)
			if (sub_allows(&subs[s], k) && !sub_constant(&subs[s]) && subs[s].best < best)
				list[n++] = (uint16_t)s;
		sort_subs = subs;	/* control thread only */
		qsort(list + start, n - start, sizeof(*list), by_best);
		if (n - start > c->max_probes)
			c->max_probes = n - start;
	}
	c->first[SL_CLS_KINDS] = n;
}

/* ------------------------------------------------------------------ sizes */

#define ALIGN64(x) (((x) + 63) & ~(uint64_t)63)

struct layout {
	uint64_t rules, subs, ents, cands, slots, list, total;
};

static void layout_of(uint64_t blocks, const struct plan *p, struct layout *l)
{
	l->rules = 0;
	l->subs = l->rules + ALIGN64(blocks * sizeof(struct sl_cls_rule));
	l->ents = l->subs + ALIGN64((uint64_t)p->subs * sizeof(struct sl_cls_sub));
	l->cands = l->ents + ALIGN64((uint64_t)p->ents * sizeof(struct sl_cls_ent));
	l->slots = l->cands + ALIGN64((uint64_t)(p->cands + 1) * sizeof(struct sl_cls_cand));
	l->list = l->slots + ALIGN64(p->slots * sizeof(uint32_t));
	l->total = l->list + ALIGN64((uint64_t)SL_CLS_KINDS * p->subs * sizeof(uint16_t) + 2);
}

uint64_t sl_classifier_bytes(const struct sl_config *cfg)
{
	/* every block its own shape and value: an upper bound without sorting anything */
	struct plan p = {cfg->nb_matches, cfg->nb_matches, cfg->nb_matches,
			 4ull * cfg->nb_matches};
	struct layout l;

	layout_of(cfg->nb_matches, &p, &l);
	/* and the build's temporary: the blocks compiled and their order */
	return l.total + 64 + cfg->nb_matches * (sizeof(struct sl_cls_rule) + sizeof(void *));
}

/* ------------------------------------------------------------------ build */

int sl_classifier_build(const struct sl_config *cfg, struct sl_classifier *out)
{
	uint32_t n = cfg->nb_matches;
	struct sl_cls_rule *tmp = NULL, **order = NULL;
	struct walk_ctx w;
	struct layout l;
	uint8_t *mem;

	memset(out, 0, sizeof(*out));
	for (unsigned k = 0; k < SL_CLS_KINDS; k++)
		out->deflt[k] = SL_NO_TENANT;
	if (n > (1u << 31))
		return -EINVAL;
	tmp = aligned_alloc(64, ALIGN64((uint64_t)(n ? n : 1) * sizeof(*tmp)));
	order = malloc((n ? n : 1) * sizeof(*order));
	if (!tmp || !order)
		goto nomem;
	for (uint32_t t = 0, b = 0; t < cfg->nb_tenants; t++)
		for (uint32_t i = 0; i < cfg->tenants[t].nb_match; i++, b++) {
			compile_block(sl_cfg_tenant_match(cfg, &cfg->tenants[t], i), t, &tmp[b]);
			order[b] = &tmp[b];
		}
	qsort(order, n, sizeof(*order), rule_cmp);
	memset(&w, 0, sizeof(w));
	w.fn = count_step;
	walk(order, n, &w);
	if (w.plan.subs > 0xffff)
		goto toomany;
	w.fn = slots_step;
	walk(order, n, &w);
	w.plan.slots += slots_for(w.ent);
	layout_of(n, &w.plan, &l);
	mem = aligned_alloc(64, l.total);
	if (!mem)
		goto nomem;
	memset(mem, 0, l.total);
	out->mem = mem;
	out->bytes = l.total;
	memcpy(mem + l.rules, tmp, (uint64_t)n * sizeof(*tmp));
	w.c = out;
	w.subs = (struct sl_cls_sub *)(void *)(mem + l.subs);
	w.ents = (struct sl_cls_ent *)(void *)(mem + l.ents);
	w.cands = (struct sl_cls_cand *)(void *)(mem + l.cands);
	w.slots = (uint32_t *)(void *)(mem + l.slots);
	w.sub = w.ent = w.cand = 0;
	w.slot = 0;
	w.fn = fill_step;
	walk(order, n, &w);
	close_sub(&w);
	/* the candidate lists end with a sentinel that no tenant passes */
	w.cands[w.cand] = (struct sl_cls_cand){SL_NO_TENANT, 0, 0, 0, 0, 1, 0};
	out->rule = (const struct sl_cls_rule *)(void *)(mem + l.rules);
	out->sub = w.subs;
	out->cand = w.cands;
	out->nb_rules = n;
	out->nb_subs = w.plan.subs;
	out->nb_ents = w.plan.ents;
	out->list = (const uint16_t *)(void *)(mem + l.list);
	build_lists(out, w.subs, (uint16_t *)(void *)(mem + l.list));
	free(tmp);
	free(order);
	return 0;
toomany:
	free(tmp);
	free(order);
	return -E2BIG;
nomem:
	free(tmp);
	free(order);
	return -ENOMEM;
}

void sl_classifier_free(struct sl_classifier *c)
{
	free(c->mem);
	memset(c, 0, sizeof(*c));
	for (unsigned k = 0; k < SL_CLS_KINDS; k++)
		c->deflt[k] = SL_NO_TENANT;
}

void sl_classifier_info(const struct sl_classifier *c, struct sl_classifier_info *out)
{
	out->blocks = c->nb_rules;
	out->shapes = c->nb_subs;
	out->values = c->nb_ents;
	out->max_probes = c->max_probes;
	out->bytes = c->bytes;
}

uint32_t sl_classify_linear(const struct sl_classifier *c, const struct sl_pkt *p, uint16_t port)
{
	__m128i r0 = _mm_loadu_si128((const __m128i *)(const void *)p->src);
	__m128i r1 = _mm_loadu_si128((const __m128i *)(const void *)p->dst);
	__m128i r2 = sl_cls_row2(p, port);

	for (uint32_t i = 0; i < c->nb_rules; i++) {
		const struct sl_cls_rule *r = &c->rule[i];

		if (sl_cls_eq(_mm_and_si128(r0, r->mask[0]), _mm_and_si128(r1, r->mask[1]),
			      _mm_and_si128(r2, r->mask[2]), r->key) &&
		    sl_cls_ports_in(p->sport, p->dport, r->sp_lo, r->sp_hi, r->dp_lo, r->dp_hi))
			return r->tenant;
	}
	return SL_NO_TENANT;
}
