/* sl_classify.c - compile the tenants' match blocks into shapes (hash tables of masked values,
 * prefilters, port intervals), per-kind visiting orders and defaults; the linear reference. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sl_classify.h"

#define ROW2_OFF 32		/* offsetof(struct sl_pkt, sport): the third row */
#define LINEAR_MAX 8		/* blocks of one value walked in order; more: port intervals */
#define FILTER_MIN 4		/* values a shape needs for a prefilter */
#define FILTERS_MAX 512		/* prefilters of one policy: 32 KiB at most each, 16 MiB in all */
#define FILTER_WORDS 4096	/* 64-bit words of the largest prefilter (18 bits of the hash) */

_Static_assert(sizeof(struct sl_cls_ent) == 64, "a shape's value is one cache line");
_Static_assert(FILTER_WORDS * 64 <= 1u << (64 - SL_CLS_FILTER_SHIFT),
	       "the prefilter index has the bits of the largest bitmap");
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

/*
 * A port field of a block at b (2 bytes of row 2): a single port is an equality in the masks
 * and values, a range is left to *lo..*hi (which stay 0-65535 otherwise).
 */
static void port_field(uint16_t plo, uint16_t phi, uint8_t *m, uint8_t *k, uint16_t *lo,
		       uint16_t *hi)
{
	if (plo == phi) {
		put16(m, 0xffff);
		put16(k, plo);
	} else {
		*lo = plo;
		*hi = phi;
	}
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
	if (f & SL_M_SPORT)
		port_field(cm->sport_lo, cm->sport_hi, m2 + 0, k2 + 0, &r->sp_lo, &r->sp_hi);
	if (f & SL_M_DPORT)
		port_field(cm->dport_lo, cm->dport_hi, m2 + 2, k2 + 2, &r->dp_lo, &r->dp_hi);
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

static int sp_full(const struct sl_cls_rule *r)
{
	return r->sp_lo == 0 && r->sp_hi == 0xffff;
}

static int dp_full(const struct sl_cls_rule *r)
{
	return r->dp_lo == 0 && r->dp_hi == 0xffff;
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

static int same_mask(const struct sl_cls_rule *a, const struct sl_cls_rule *b)
{
	return !memcmp(a->mask, b->mask, sizeof(a->mask)) && rule_family(a) == rule_family(b);
}

static int same_key(const struct sl_cls_rule *a, const struct sl_cls_rule *b)
{
	return !memcmp(a->key, b->key, sizeof(a->key));
}

/* Buckets of a shape of n values (n > 1): at most 2 values per bucket of 8 on average. */
static uint32_t buckets_for(uint32_t n)
{
	uint32_t b = 1;

	while (b < (n + 1) / 2)
		b <<= 1;
	return b;
}

/* Bytes of an interval table of n intervals. */
static uint32_t ivl_bytes(uint32_t n)
{
	return (uint32_t)(sizeof(struct sl_cls_ivl) + ((n + 1) & ~1u) * 2 + n * 4);
}

/* The port a group of blocks of one value varies in: 0 (src-port), 1 (dst-port), -1 both. */
static int group_dim(struct sl_cls_rule *const *g, uint32_t n)
{
	int s = 1, d = 1;

	for (uint32_t i = 0; i < n; i++) {
		s &= sp_full(g[i]);
		d &= dp_full(g[i]);
	}
	return s ? 1 : d ? 0 : -1;
}

/* ------------------------------------------------------------------ the two passes */

/* What the tables need, counted from the sorted blocks before anything is allocated. */
struct plan {
	uint32_t subs, ents, cands, filters;
	uint64_t buckets, ivl, filter_words;
};

struct bctx {
	struct plan plan;
	int fill;
	/* fill */
	struct sl_classifier *c;
	struct sl_cls_sub *subs;
	struct sl_cls_ent *ents;
	struct sl_cls_cand *cands;
	uint32_t *slots;
	uint64_t *filters;
	uint8_t *ivl;
	uint32_t sub, ent, cand, filter;
	uint64_t bucket, ivl_off, filter_word;
};

static int ivl_lo_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t uf_find(uint32_t *next, uint32_t i)
{
	while (next[i] != i) {
		next[i] = next[next[i]];
		i = next[i];
	}
	return i;
}

/*
 * The interval table of a group (in file order) varying in port dim, written at out (NULL:
 * only sized). Boundaries at every range's start and end + 1; the earliest block paints the
 * intervals it covers first (union-find over the painted ones), adjacent equal ones merge.
 * Returns its bytes, or 0 when out of memory.
 */
static uint32_t ivl_build(struct sl_cls_rule *const *g, uint32_t n, int dim, uint8_t *out)
{
	uint32_t *bd = malloc((2 * n + 2) * sizeof(*bd)), *own, *next, m = 0, k = 0;
	struct sl_cls_ivl *h = (struct sl_cls_ivl *)(void *)out;

	if (!bd)
		return 0;
	bd[m++] = 0;
	for (uint32_t i = 0; i < n; i++) {
		bd[m++] = dim ? g[i]->dp_lo : g[i]->sp_lo;
		bd[m++] = (dim ? g[i]->dp_hi : g[i]->sp_hi) + 1u;	/* up to 65536 */
	}
	qsort(bd, m, sizeof(*bd), ivl_lo_cmp);
	for (uint32_t i = 0; i < m; i++)
		if (bd[i] <= 0xffff && (!k || bd[i] != bd[k - 1]))
			bd[k++] = bd[i];
	m = k;
	own = malloc(m * sizeof(*own));
	next = malloc((m + 1) * sizeof(*next));
	if (!own || !next) {
		free(bd);
		free(own);
		free(next);
		return 0;
	}
	for (uint32_t i = 0; i < m; i++) {
		own[i] = SL_NO_TENANT;
		next[i] = i;
	}
	next[m] = m;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t lo = dim ? g[i]->dp_lo : g[i]->sp_lo, hi = dim ? g[i]->dp_hi : g[i]->sp_hi;
		uint32_t *a = bsearch(&lo, bd, m, sizeof(*bd), ivl_lo_cmp);
		uint32_t end = hi + 1u, e;

		for (e = (uint32_t)(a - bd); e < m && bd[e] < end; e++)	/* first not covered */
			;
		for (uint32_t x = uf_find(next, (uint32_t)(a - bd)); x < e;
		     x = uf_find(next, x)) {
			own[x] = g[i]->tenant;
			next[x] = x + 1;
		}
	}
	k = 0;		/* merge equal neighbours */
	for (uint32_t i = 0; i < m; i++)
		if (!k || own[i] != own[k - 1]) {
			bd[k] = bd[i];
			own[k++] = own[i];
		}
	if (out) {
		uint16_t *lo = (uint16_t *)(void *)(h + 1);
		uint32_t *ten = (uint32_t *)(void *)(lo + ((k + 1) & ~1u));

		h->n = k;
		h->dim = (uint32_t)dim;
		for (uint32_t i = 0; i < k; i++) {
			lo[i] = (uint16_t)bd[i];
			ten[i] = own[i];
		}
	}
	free(bd);
	free(own);
	free(next);
	return ivl_bytes(k);
}

/*
 * The blocks g[0..n) of one value (file order): the first in the value's entry, the rest as
 * further blocks in order (dropping those after one that accepts every port, and repeats of
 * the one before), or as an interval table when more than LINEAR_MAX vary in one port.
 */
static int value_group(struct bctx *b, struct sl_cls_rule *const *g, uint32_t n)
{
	struct sl_cls_ent *e = b->fill ? &b->ents[b->ent] : NULL;
	int dim = n > LINEAR_MAX ? group_dim(g, n) : -1;

	b->ent++;
	if (e) {
		memcpy(e->key, g[0]->key, sizeof(e->key));
		e->tenant = g[0]->tenant;
		e->more = 0;
		e->sp_lo = g[0]->sp_lo;
		e->sp_hi = g[0]->sp_hi;
		e->dp_lo = g[0]->dp_lo;
		e->dp_hi = g[0]->dp_hi;
	}
	if (n == 1 || (sp_full(g[0]) && dp_full(g[0])))
		return 0;
	if (dim >= 0) {
		uint32_t sz = ivl_build(g, n, dim, b->fill ? b->ivl + b->ivl_off : NULL);

		if (!sz)
			return -ENOMEM;
		if (e)
			e->more = SL_CLS_IVL | (uint32_t)b->ivl_off;
		b->ivl_off += (sz + 3) & ~3u;
		return 0;
	}
	for (uint32_t i = 1; i < n; i++) {
		if (same_ranges(g[i], g[i - 1]))
			continue;
		if (b->fill) {
			struct sl_cls_cand *x = &b->cands[b->cand];

			if (!e->more)
				e->more = b->cand + 1;
			else
				x[-1].last = 0;
			*x = (struct sl_cls_cand){g[i]->tenant, g[i]->sp_lo, g[i]->sp_hi, g[i]->dp_lo,
						  g[i]->dp_hi, 1, 0};
		}
		b->cand++;
		if (sp_full(g[i]) && dp_full(g[i]))
			break;	/* nothing after it can be the first to hold */
	}
	return 0;
}

/* Slots of the shape just filled: each value in the first bucket from its hash with room. */
static void place_slots(struct bctx *b, struct sl_cls_sub *s)
{
	uint32_t nbk = buckets_for(s->nb_ent), idx_bits = 32 - (uint32_t)__builtin_clz(s->nb_ent);
	uint32_t *sl = b->slots + b->bucket * SL_CLS_WAYS;

	s->idx_mask = (1u << idx_bits) - 1;
	s->bucket_mask = nbk - 1;
	s->slots = sl;
	for (uint32_t e = 0; e < s->nb_ent; e++) {
		const struct sl_cls_ent *en = &s->ent[e];
		uint64_t h = sl_cls_hash(en->key[0], en->key[1], en->key[2]);
		uint32_t sig_mask = ~s->idx_mask, bk = (uint32_t)(h >> 32) & s->bucket_mask, w;

		for (;; bk = (bk + 1) & s->bucket_mask) {
			for (w = 0; w < SL_CLS_WAYS && sl[bk * SL_CLS_WAYS + w]; w++)
				;
			if (w < SL_CLS_WAYS)
				break;
		}
		sl[bk * SL_CLS_WAYS + w] = (((uint32_t)h | (sig_mask & -sig_mask)) & sig_mask) | (e + 1);
	}
	b->bucket += nbk;
}

/* 64-bit words of the prefilter of a shape of n values: 16 bits a value, 512 to 262,144. */
static uint32_t filter_words(uint32_t n)
{
	uint32_t bits = 512;

	while (bits < 16 * n && bits < FILTER_WORDS * 64)
		bits <<= 1;
	return bits / 64;
}

/* The prefilter of the shape just filled: the folds of its values, unless they would set
 * more than half of the bits. */
static void place_filter(struct bctx *b, struct sl_cls_sub *s)
{
	uint32_t words = filter_words(s->nb_ent);
	uint64_t *f = b->filters + b->filter_word;

	b->filter_word += words;
	if (2 * s->nb_ent > words * 64)
		return;
	s->filter_mask = words * 64 - 1;
	for (uint32_t e = 0; e < s->nb_ent; e++) {
		uint32_t w = (uint32_t)(sl_cls_hash(s->ent[e].key[0], s->ent[e].key[1],
						    s->ent[e].key[2]) >> SL_CLS_FILTER_SHIFT) & s->filter_mask;

		f[w >> 6] |= 1ull << (w & 63);
	}
	s->filter = f;
	b->filter++;
}

/* One shape: order[0..n) of one mask and family. */
static int shape(struct bctx *b, struct sl_cls_rule *const *o, uint32_t n)
{
	struct sl_cls_sub *s = b->fill ? &b->subs[b->sub] : NULL;
	uint32_t first_ent = b->ent;
	int filt;

	b->sub++;
	if (s) {
		memcpy(s->mask, o[0]->mask, sizeof(s->mask));
		s->best = SL_NO_TENANT;
		s->ent = &b->ents[b->ent];
	}
	for (uint32_t v = 0; v < n;) {
		uint32_t j = v + 1;
		int r;

		while (j < n && same_key(o[j], o[v]))
			j++;
		if (s && o[v]->tenant < s->best)
			s->best = o[v]->tenant;
		r = value_group(b, o + v, j - v);
		if (r)
			return r;
		v = j;
	}
	filt = b->ent - first_ent >= FILTER_MIN && b->plan.filters < FILTERS_MAX;
	if (b->ent - first_ent > 1)
		b->plan.buckets += buckets_for(b->ent - first_ent);
	if (filt) {
		b->plan.filters++;
		b->plan.filter_words += filter_words(b->ent - first_ent);
	}
	if (s) {
		s->nb_ent = b->ent - first_ent;
		if (s->nb_ent > 1)
			place_slots(b, s);
		if (filt)
			place_filter(b, s);
	}
	return 0;
}

static int pass(struct bctx *b, struct sl_cls_rule *const *o, uint32_t n)
{
	b->sub = b->ent = b->cand = b->filter = 0;
	b->bucket = b->ivl_off = b->filter_word = 0;
	b->plan.buckets = 0;
	b->plan.filters = 0;
	b->plan.filter_words = 0;
	for (uint32_t i = 0; i < n;) {
		uint32_t j = i + 1;
		int r;

		while (j < n && same_mask(o[j], o[i]))
			j++;
		r = shape(b, o + i, j - i);
		if (r)
			return r;
		i = j;
	}
	b->plan.subs = b->sub;
	b->plan.ents = b->ent;
	b->plan.cands = b->cand;
	b->plan.ivl = b->ivl_off;
	return 0;
}

/* ------------------------------------------------------------------ kinds */

/* The protocol classes (bit sl_cls_pclass) of the frames a shape's values can hold: those of
 * their protocols when the masks give one, else all three. */
static unsigned sub_pclasses(const struct sl_cls_sub *s)
{
	uint8_t m[16], k[16];
	unsigned cl = 0;

	memcpy(m, &s->mask[2], 16);
	if (!m[12])
		return 7;
	for (uint32_t e = 0; e < s->nb_ent; e++) {
		memcpy(k, &s->ent[e].key[2], 16);
		cl |= 1u << sl_cls_pclass(k[12]);
	}
	return cl;
}

/* The kind bits a shape needs, from its masks and values (one family per shape): family,
 * ports, tags, protocol class. */
static int sub_allows(const struct sl_cls_sub *s, unsigned kind)
{
	uint8_t m[16], k[16];
	unsigned fam = kind & 3, ports = kind >> 2 & 1, vlan = kind >> 3 & 1;
	unsigned inner = kind >> 4 & 1, pclass = kind >> 5;

	if (!(s->pclasses >> pclass & 1))
		return 0;

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
	for (uint32_t s = 0; s < c->nb_subs; s++)
		subs[s].pclasses = sub_pclasses(&subs[s]);
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
	c->all = c->deflt[0];
	c->trivial = n == 0;
	for (unsigned k = 1; k < SL_CLS_KINDS; k++)
		c->trivial &= c->deflt[k] == c->all;
}

/* ------------------------------------------------------------------ sizes */

#define ALIGN64(x) (((x) + 63) & ~(uint64_t)63)

struct layout {
	uint64_t rules, subs, ents, cands, slots, filters, ivl, list, total;
};

static void layout_of(uint64_t blocks, const struct plan *p, struct layout *l)
{
	l->rules = 0;
	l->subs = l->rules + ALIGN64(blocks * sizeof(struct sl_cls_rule));
	l->ents = l->subs + ALIGN64((uint64_t)p->subs * sizeof(struct sl_cls_sub));
	l->cands = l->ents + ALIGN64((uint64_t)p->ents * sizeof(struct sl_cls_ent));
	l->slots = l->cands + ALIGN64((uint64_t)(p->cands + 1) * sizeof(struct sl_cls_cand));
	l->filters = l->slots + ALIGN64(p->buckets * SL_CLS_WAYS * sizeof(uint32_t));
	l->ivl = l->filters + ALIGN64(p->filter_words * sizeof(uint64_t));
	l->list = l->ivl + ALIGN64(p->ivl);
	l->total = l->list + ALIGN64((uint64_t)SL_CLS_KINDS * p->subs * sizeof(uint16_t) + 2);
}

uint64_t sl_classifier_bytes(const struct sl_config *cfg)
{
	/* every block its own value, shapes of two values (the most buckets), an interval
	 * table for all: an upper bound without sorting anything */
	uint64_t n = cfg->nb_matches;
	struct plan p = {(uint32_t)n, (uint32_t)n, (uint32_t)n,
			 (uint32_t)(n < FILTERS_MAX ? n : FILTERS_MAX), n, n * 16 + 64,
			 (n < FILTERS_MAX ? n : FILTERS_MAX) * 8 + n / 2};
	struct layout l;

	layout_of(n, &p, &l);
	/* and the build's temporaries: the blocks compiled, their order, an interval table's
	 * boundaries */
	return l.total + 64 + n * (sizeof(struct sl_cls_rule) + sizeof(void *) + 24);
}

/* ------------------------------------------------------------------ build */

int sl_classifier_build(const struct sl_config *cfg, struct sl_classifier *out)
{
	uint32_t n = cfg->nb_matches;
	struct sl_cls_rule *tmp = NULL, **order = NULL;
	struct bctx b;
	struct layout l;
	uint8_t *mem = NULL;
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	for (unsigned k = 0; k < SL_CLS_KINDS; k++)
		out->deflt[k] = SL_NO_TENANT;
	out->all = SL_NO_TENANT;
	out->trivial = 1;
	if (n > (1u << 31))
		return -EINVAL;
	memset(&b, 0, sizeof(b));
	tmp = aligned_alloc(64, ALIGN64((uint64_t)(n ? n : 1) * sizeof(*tmp)));
	order = malloc((n ? n : 1) * sizeof(*order));
	if (!tmp || !order)
		goto out;
	for (uint32_t t = 0, k = 0; t < cfg->nb_tenants; t++)
		for (uint32_t i = 0; i < cfg->tenants[t].nb_match; i++, k++) {
			compile_block(sl_cfg_tenant_match(cfg, &cfg->tenants[t], i), t, &tmp[k]);
			order[k] = &tmp[k];
		}
	qsort(order, n, sizeof(*order), rule_cmp);
	r = pass(&b, order, n);		/* count */
	if (r)
		goto out;
	if (b.plan.subs > 0xffff) {
		r = -E2BIG;
		goto out;
	}
	layout_of(n, &b.plan, &l);
	mem = aligned_alloc(64, l.total);
	r = -ENOMEM;
	if (!mem)
		goto out;
	memset(mem, 0, l.total);
	memcpy(mem + l.rules, tmp, (uint64_t)n * sizeof(*tmp));
	b.fill = 1;
	b.c = out;
	b.subs = (struct sl_cls_sub *)(void *)(mem + l.subs);
	b.ents = (struct sl_cls_ent *)(void *)(mem + l.ents);
	b.cands = (struct sl_cls_cand *)(void *)(mem + l.cands);
	b.slots = (uint32_t *)(void *)(mem + l.slots);
	b.filters = (uint64_t *)(void *)(mem + l.filters);
	b.ivl = mem + l.ivl;
	r = pass(&b, order, n);		/* fill: the same walk, the same counts */
	if (r)
		goto out;
	out->mem = mem;
	mem = NULL;
	out->bytes = l.total;
	out->rule = (const struct sl_cls_rule *)(void *)((uint8_t *)out->mem + l.rules);
	out->sub = b.subs;
	out->cand = b.cands;
	out->ivl = b.ivl;
	out->nb_rules = n;
	out->nb_subs = b.plan.subs;
	out->nb_ents = b.plan.ents;
	out->nb_filters = b.filter;
	out->list = (const uint16_t *)(void *)((uint8_t *)out->mem + l.list);
	build_lists(out, b.subs, (uint16_t *)(void *)((uint8_t *)out->mem + l.list));
out:
	free(mem);
	free(tmp);
	free(order);
	return r;
}

void sl_classifier_free(struct sl_classifier *c)
{
	free(c->mem);
	memset(c, 0, sizeof(*c));
	for (unsigned k = 0; k < SL_CLS_KINDS; k++)
		c->deflt[k] = SL_NO_TENANT;
	c->all = SL_NO_TENANT;
	c->trivial = 1;
}

void sl_classifier_info(const struct sl_classifier *c, struct sl_classifier_info *out)
{
	out->blocks = c->nb_rules;
	out->shapes = c->nb_subs;
	out->values = c->nb_ents;
	out->max_probes = c->max_probes;
	out->filters = c->nb_filters;
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
