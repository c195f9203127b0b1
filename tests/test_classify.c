/* test_classify.c - the tuple-space classifier against a plain first-match scan written from the
 * match semantics (not from the compiled masks): hand-written cases, then thousands of random
 * policies of overlapping prefixes, port ranges, VLANs, IPv6, ingress ports and catch-alls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sl_classify.h"
#include "test_rng.h"

/* ---- the reference ---- */

static int prefix_holds(const uint8_t *a, const uint8_t *pfx, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		if ((a[i / 8] ^ pfx[i / 8]) & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

static int in_range(uint16_t v, uint16_t lo, uint16_t hi)
{
	return lo <= v && v <= hi;
}

static int block_holds(const struct sl_cfg_match *m, const struct sl_pkt *p, uint16_t port)
{
	uint32_t f = m->fields;

	if ((f & SL_M_VLAN) && p->vlan != m->vlan)
		return 0;
	if ((f & SL_M_INNER_VLAN) && p->inner_vlan != m->inner_vlan)
		return 0;
	if ((f & SL_M_PORT) && port != m->port)
		return 0;
	if ((f & (SL_M_SRC | SL_M_DST)) && !(p->flags & (m->family == 6 ? SL_PKT_IPV6 : SL_PKT_IPV4)))
		return 0;
	if ((f & SL_M_SRC) && !prefix_holds(p->src, m->src, m->src_len))
		return 0;
	if ((f & SL_M_DST) && !prefix_holds(p->dst, m->dst, m->dst_len))
		return 0;
	if ((f & SL_M_PROTO) && p->proto != m->proto)
		return 0;
	if (f & (SL_M_SPORT | SL_M_DPORT)) {
		if (!(p->flags & SL_PKT_PORTS))
			return 0;
		if ((f & SL_M_SPORT) && !in_range(p->sport, m->sport_lo, m->sport_hi))
			return 0;
		if ((f & SL_M_DPORT) && !in_range(p->dport, m->dport_lo, m->dport_hi))
			return 0;
	}
	return 1;
}

static uint32_t reference(const struct sl_config *c, const struct sl_pkt *p, uint16_t port)
{
	for (uint32_t t = 0; t < c->nb_tenants; t++)
		for (unsigned b = 0; b < c->tenants[t].nb_match; b++)
			if (block_holds(sl_cfg_tenant_match(c, &c->tenants[t], b), p, port))
				return t;
	return SL_NO_TENANT;
}

/* ---- policies built in memory ---- */

struct pol {
	struct sl_config c;
	struct sl_cfg_tenant *t;
	struct sl_cfg_match *m;
	unsigned cap_t, cap_m;
};

static void pol_init(struct pol *p, unsigned tenants, unsigned blocks)
{
	memset(p, 0, sizeof(*p));
	p->cap_t = tenants;
	p->cap_m = blocks;
	p->t = calloc(tenants ? tenants : 1, sizeof(*p->t));
	p->m = calloc(blocks ? blocks : 1, sizeof(*p->m));
	assert_non_null(p->t);
	assert_non_null(p->m);
	p->c.path = "test";
	p->c.tenants = p->t;
	p->c.matches = p->m;
}

static void pol_free(struct pol *p)
{
	free(p->t);
	free(p->m);
}

/* A new tenant; its blocks follow with pol_block. */
static void pol_tenant(struct pol *p)
{
	struct sl_cfg_tenant *t = &p->t[p->c.nb_tenants++];

	assert_true(p->c.nb_tenants <= p->cap_t);
	snprintf(t->name, sizeof(t->name), "t%u", p->c.nb_tenants - 1);
	t->match = p->c.nb_matches;
	t->nb_match = 0;
}

static struct sl_cfg_match *pol_block(struct pol *p)
{
	struct sl_cfg_match *m = &p->m[p->c.nb_matches++];

	assert_true(p->c.nb_matches <= p->cap_m);
	p->t[p->c.nb_tenants - 1].nb_match++;
	memset(m, 0, sizeof(*m));
	return m;
}

static void set_v4(uint8_t a[16], uint32_t v)
{
	memset(a, 0, 16);
	a[0] = (uint8_t)(v >> 24);
	a[1] = (uint8_t)(v >> 16);
	a[2] = (uint8_t)(v >> 8);
	a[3] = (uint8_t)v;
}

static void mask_prefix(uint8_t a[16], unsigned len)
{
	for (unsigned i = len; i < 128; i++)
		a[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

static void m_src4(struct sl_cfg_match *m, uint32_t a, unsigned len)
{
	m->fields |= SL_M_SRC;
	m->family = 4;
	set_v4(m->src, a);
	mask_prefix(m->src, len);
	m->src_len = (uint8_t)len;
}

static void m_dst4(struct sl_cfg_match *m, uint32_t a, unsigned len)
{
	m->fields |= SL_M_DST;
	m->family = 4;
	set_v4(m->dst, a);
	mask_prefix(m->dst, len);
	m->dst_len = (uint8_t)len;
}

static void pkt4(struct sl_pkt *p, uint32_t src, uint32_t dst, uint8_t proto, int sport, int dport)
{
	memset(p, 0, sizeof(*p));
	set_v4(p->src, src);
	set_v4(p->dst, dst);
	p->vlan = p->inner_vlan = SL_VLAN_NONE;
	p->flags = SL_PKT_IPV4;
	p->proto = proto;
	p->ethertype = 0x0800;
	p->l3_off = 14;
	if (sport >= 0) {
		p->flags |= SL_PKT_PORTS;
		p->sport = (uint16_t)sport;
		p->dport = (uint16_t)dport;
	}
}

static uint32_t classify(const struct pol *p, const struct sl_pkt *k, uint16_t port)
{
	struct sl_classifier c;
	uint32_t r, lin;

	assert_int_equal(sl_classifier_build(&p->c, &c), 0);
	r = sl_classify(&c, k, port);
	lin = sl_classify_linear(&c, k, port);
	assert_int_equal(r, reference(&p->c, k, port));
	assert_int_equal(lin, r);
	sl_classifier_free(&c);
	return r;
}

/* ---- hand-written cases ---- */

static void empty_policy(void **state)
{
	struct pol p;
	struct sl_pkt k;

	(void)state;
	pol_init(&p, 1, 1);
	pkt4(&k, 0x0a000001, 0xc0000201, 17, 1, 2);
	assert_int_equal(classify(&p, &k, 0), SL_NO_TENANT);
	pol_free(&p);
}

/* a catch-all first takes every frame, not IP ones too; a later one only what is left */
static void catch_all(void **state)
{
	struct pol p;
	struct sl_pkt k;

	(void)state;
	pol_init(&p, 3, 3);
	pol_tenant(&p);
	m_src4(pol_block(&p), 0x0a000000, 8);
	pol_tenant(&p);
	pol_block(&p);		/* {} */
	pol_tenant(&p);
	m_src4(pol_block(&p), 0x0b000000, 8);
	pkt4(&k, 0x0a010203, 1, 17, 5, 6);
	assert_int_equal(classify(&p, &k, 0), 0);
	pkt4(&k, 0x0b010203, 1, 17, 5, 6);
	assert_int_equal(classify(&p, &k, 0), 1);	/* tenant 2 comes too late */
	memset(&k, 0, sizeof(k));
	k.vlan = k.inner_vlan = SL_VLAN_NONE;
	k.ethertype = 0x0806;	/* ARP */
	assert_int_equal(classify(&p, &k, 3), 1);
	pol_free(&p);
}

/* src 0.0.0.0/0 is "every IPv4 frame": folded into the kind's default, not for IPv6 */
static void family_wide(void **state)
{
	struct pol p;
	struct sl_pkt k;
	struct sl_cfg_match *m;

	(void)state;
	pol_init(&p, 3, 3);
	pol_tenant(&p);
	m = pol_block(&p);
	m->fields = SL_M_VLAN;
	m->vlan = 7;
	pol_tenant(&p);
	m_src4(pol_block(&p), 0, 0);
	pol_tenant(&p);
	m = pol_block(&p);
	m->fields = SL_M_SRC;
	m->family = 6;
	m->src_len = 0;
	pkt4(&k, 0x01020304, 0x05060708, 6, 1, 2);
	assert_int_equal(classify(&p, &k, 0), 1);
	k.vlan = 7;
	assert_int_equal(classify(&p, &k, 0), 0);
	k.vlan = SL_VLAN_NONE;
	k.flags = SL_PKT_IPV6 | SL_PKT_PORTS;
	k.src[15] = 1;
	assert_int_equal(classify(&p, &k, 0), 2);
	pol_free(&p);
}

/* one tenant, two families (a list of blocks); QinQ inner-vlan; the ingress port */
static void blocks_and_new_fields(void **state)
{
	struct pol p;
	struct sl_pkt k;
	struct sl_cfg_match *m;

	(void)state;
	pol_init(&p, 4, 6);
	pol_tenant(&p);				/* 0: upload of customer X on port 1 */
	m = pol_block(&p);
	m->fields = SL_M_PORT | SL_M_VLAN;
	m->port = 1;
	m->vlan = 100;
	pol_tenant(&p);				/* 1: dual stack */
	m_src4(pol_block(&p), 0xc6336400, 24);	/* 198.51.100.0/24 */
	m = pol_block(&p);
	m->fields = SL_M_SRC;
	m->family = 6;
	m->src[0] = 0x20, m->src[1] = 0x01, m->src[2] = 0x0d, m->src[3] = 0xb8, m->src[5] = 7;
	m->src_len = 48;
	pol_tenant(&p);				/* 2: subscriber C-VLAN 20 of S-VLAN 100 */
	m = pol_block(&p);
	m->fields = SL_M_VLAN | SL_M_INNER_VLAN;
	m->vlan = 100;
	m->inner_vlan = 20;
	pol_tenant(&p);				/* 3: any S-VLAN, C-VLAN 30 */
	m = pol_block(&p);
	m->fields = SL_M_INNER_VLAN;
	m->inner_vlan = 30;

	pkt4(&k, 0xc6336405, 1, 17, 1, 2);
	assert_int_equal(classify(&p, &k, 0), 1);
	memset(&k, 0, sizeof(k));
	k.vlan = k.inner_vlan = SL_VLAN_NONE;
	k.flags = SL_PKT_IPV6;
	k.proto = 58;
	memcpy(k.src, (uint8_t[]){0x20, 0x01, 0x0d, 0xb8, 0, 7, 0xff}, 7);
	assert_int_equal(classify(&p, &k, 0), 1);
	k.src[5] = 8;
	assert_int_equal(classify(&p, &k, 0), SL_NO_TENANT);
	pkt4(&k, 1, 2, 17, 1, 2);
	k.vlan = 100;
	k.inner_vlan = 20;
	assert_int_equal(classify(&p, &k, 0), 2);
	assert_int_equal(classify(&p, &k, 1), 0);	/* port 1 and S-VLAN 100: tenant 0 first */
	k.inner_vlan = 21;
	assert_int_equal(classify(&p, &k, 0), SL_NO_TENANT);
	k.vlan = 5;
	k.inner_vlan = 30;
	assert_int_equal(classify(&p, &k, 0), 3);
	k.vlan = 30;
	k.inner_vlan = SL_VLAN_NONE;			/* one tag of 30 is not an inner tag */
	assert_int_equal(classify(&p, &k, 0), SL_NO_TENANT);
	pol_free(&p);
}

/* blocks with the same masked value told apart by their port ranges, in file order */
static void ranges_on_one_value(void **state)
{
	struct pol p;
	struct sl_pkt k;
	const uint16_t lo[4] = {1000, 1500, 0, 2500}, hi[4] = {2000, 3000, 999, 2500};

	(void)state;
	pol_init(&p, 5, 5);
	for (unsigned i = 0; i < 4; i++) {
		struct sl_cfg_match *m;

		pol_tenant(&p);
		m = pol_block(&p);
		m_dst4(m, 0x01020304, 32);
		m->fields |= SL_M_PROTO | SL_M_DPORT;
		m->proto = 17;
		m->dport_lo = lo[i];
		m->dport_hi = hi[i];
	}
	pol_tenant(&p);
	m_dst4(pol_block(&p), 0x01020304, 32);
	for (unsigned d = 0; d < 4000; d += 7) {
		uint32_t want = d >= 1000 && d <= 2000 ? 0 : d >= 1500 && d <= 3000 ? 1 : d <= 999 ? 2 : 4;

		pkt4(&k, 9, 0x01020304, 17, 5, (int)d);
		assert_int_equal(classify(&p, &k, 0), want);
	}
	pkt4(&k, 9, 0x01020304, 17, -1, -1);		/* a later fragment: no ports */
	assert_int_equal(classify(&p, &k, 0), 4);
	pkt4(&k, 9, 0x01020304, 6, 5, 1200);		/* TCP */
	assert_int_equal(classify(&p, &k, 0), 4);
	pol_free(&p);
}

/*
 * Many blocks of one value that differ in one port range (overlapping, nested, single ports,
 * repeats): port intervals; then the same with a src-port range in one of them (both ports
 * vary: the blocks are walked in order). Every dst-port against the reference.
 */
static void many_ranges_on_one_value(void **state)
{
	uint64_t r = 3;

	(void)state;
	for (unsigned round = 0; round < 2; round++) {
		struct sl_classifier c;
		struct pol p;
		struct sl_pkt k;

		pol_init(&p, 301, 301);
		for (unsigned t = 0; t < 300; t++) {
			struct sl_cfg_match *m;
			uint16_t lo = (uint16_t)(test_rng(&r) % 65536), len = (uint16_t)(test_rng(&r) % 3000);

			pol_tenant(&p);
			m = pol_block(&p);
			m_dst4(m, 0xc0000201, 32);
			m->fields |= SL_M_PROTO | SL_M_DPORT;
			m->proto = 17;
			m->dport_lo = lo;
			m->dport_hi = (uint16_t)(lo + len < 65536 ? lo + len : 65535);
			if (t % 50 == 7)	/* repeats */
				*m = p.m[p.c.nb_matches - 2];
			if (round && t == 100) {
				m->fields |= SL_M_SPORT;
				m->sport_lo = 1000;
				m->sport_hi = 2000;
			}
		}
		pol_tenant(&p);
		m_dst4(pol_block(&p), 0xc0000200, 24);
		assert_int_equal(sl_classifier_build(&p.c, &c), 0);
		for (uint32_t d = 0; d < 65536; d += 1 + (d % 7)) {
			pkt4(&k, 5, 0xc0000201, 17, (int)(d % 3000), (int)d);
			assert_int_equal(sl_classify(&c, &k, 0), reference(&p.c, &k, 0));
		}
		sl_classifier_free(&c);
		pol_free(&p);
	}
}

/* today's semantics kept: proto 0 matches a frame that is not IP (its proto is 0) */
static void proto_zero(void **state)
{
	struct pol p;
	struct sl_pkt k;
	struct sl_cfg_match *m;

	(void)state;
	pol_init(&p, 1, 1);
	pol_tenant(&p);
	m = pol_block(&p);
	m->fields = SL_M_PROTO;
	m->proto = 0;
	memset(&k, 0, sizeof(k));
	k.vlan = k.inner_vlan = SL_VLAN_NONE;
	k.ethertype = 0x88cc;
	assert_int_equal(classify(&p, &k, 0), 0);
	pol_free(&p);
}

/* ---- random policies ---- */

static const uint32_t v4_pool[] = {0x0a000000, 0x0a000100, 0x0a010000, 0x0a000080, 0x0a0000ff,
				   0xc0000200, 0xc0000201, 0x00000000, 0xffffffff, 0x0a000001};
static const uint8_t v6_pool[][16] = {
	{0x20, 0x01, 0x0d, 0xb8},
	{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1},
	{0x20, 0x01, 0x0d, 0xb8, 0, 1},
	{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	{0xfe, 0x80},
};
static const unsigned v6_lens[] = {0, 16, 32, 48, 56, 64, 127, 128};
static const uint16_t port_pool[] = {0, 53, 80, 443, 1000, 1024, 2000, 65535};
static const uint8_t proto_pool[] = {6, 17, 1, 58, 0};

static uint32_t pick(uint64_t *r, uint32_t n)
{
	return (uint32_t)(test_rng(r) % n);
}

static void rand_range(uint64_t *r, uint16_t *lo, uint16_t *hi)
{
	uint16_t a = port_pool[pick(r, 8)], b = pick(r, 3) ? port_pool[pick(r, 8)] : a;

	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

static void rand_block(uint64_t *r, struct sl_cfg_match *m)
{
	unsigned fam = pick(r, 2) ? 4 : 6;

	if (!pick(r, 150))
		return;			/* {} */
again:
	if (!pick(r, 4)) {
		m->fields |= SL_M_VLAN;
		m->vlan = (uint16_t)(1 + pick(r, 3));
	}
	if (!pick(r, 6)) {
		m->fields |= SL_M_INNER_VLAN;
		m->inner_vlan = (uint16_t)(1 + pick(r, 2));
	}
	if (!pick(r, 8)) {
		m->fields |= SL_M_PORT;
		m->port = (uint16_t)pick(r, 3);
	}
	for (unsigned d = 0; d < 2; d++) {
		uint8_t *a = d ? m->dst : m->src;
		uint8_t *len = d ? &m->dst_len : &m->src_len;

		if (pick(r, 3))
			continue;
		m->fields |= d ? SL_M_DST : SL_M_SRC;
		m->family = (uint8_t)fam;
		if (fam == 4) {
			set_v4(a, v4_pool[pick(r, 10)]);
			*len = (uint8_t)(pick(r, 4) ? 16 + pick(r, 17) : pick(r, 33));
		} else {
			memcpy(a, v6_pool[pick(r, 5)], 16);
			*len = (uint8_t)v6_lens[pick(r, 8)];
		}
		mask_prefix(a, *len);
	}
	if (!pick(r, 3)) {
		m->fields |= SL_M_PROTO;
		m->proto = proto_pool[pick(r, 5)];
	}
	if (!pick(r, 3) && (!(m->fields & SL_M_PROTO) || m->proto == 6 || m->proto == 17)) {
		if (pick(r, 2)) {
			m->fields |= SL_M_SPORT;
			rand_range(r, &m->sport_lo, &m->sport_hi);
		}
		if (pick(r, 3)) {
			m->fields |= SL_M_DPORT;
			rand_range(r, &m->dport_lo, &m->dport_hi);
		}
	}
	if (!m->fields)
		goto again;		/* a catch-all only now and then */
}

/* A frame near the pools: the same addresses, ports and tags, sometimes a host beside them. */
static void rand_pkt(uint64_t *r, struct sl_pkt *p, uint16_t *port)
{
	unsigned kind = pick(r, 10);

	memset(p, 0, sizeof(*p));
	p->vlan = pick(r, 2) ? SL_VLAN_NONE : (uint16_t)(1 + pick(r, 4));
	p->inner_vlan = p->vlan != SL_VLAN_NONE && pick(r, 2) ? (uint16_t)(1 + pick(r, 3))
							       : SL_VLAN_NONE;
	*port = (uint16_t)pick(r, 4);
	if (kind == 0) {		/* not IP */
		p->ethertype = 0x0806;
		return;
	}
	p->proto = proto_pool[pick(r, 5)];
	if (kind < 6) {
		p->flags = SL_PKT_IPV4;
		set_v4(p->src, v4_pool[pick(r, 10)] + (pick(r, 2) ? pick(r, 300) : 0));
		set_v4(p->dst, v4_pool[pick(r, 10)] + (pick(r, 2) ? pick(r, 300) : 0));
	} else {
		p->flags = SL_PKT_IPV6;
		memcpy(p->src, v6_pool[pick(r, 5)], 16);
		memcpy(p->dst, v6_pool[pick(r, 5)], 16);
		if (pick(r, 2))
			p->src[pick(r, 16)] ^= (uint8_t)(1 << pick(r, 8));
		if (pick(r, 2))
			p->dst[pick(r, 16)] ^= (uint8_t)(1 << pick(r, 8));
	}
	if ((p->proto == 6 || p->proto == 17) && pick(r, 8)) {
		p->flags |= SL_PKT_PORTS;
		p->sport = pick(r, 2) ? port_pool[pick(r, 8)] : (uint16_t)pick(r, 65536);
		p->dport = pick(r, 2) ? port_pool[pick(r, 8)] + (uint16_t)pick(r, 2)
				      : (uint16_t)pick(r, 65536);
	}
}

/*
 * The burst form (sl_classify_burst: walks paused at their first probe, resumed in passes)
 * answers as the reference for every frame of mask, and leaves the others' answers alone.
 */
static void check_burst(const struct sl_classifier *c, const struct sl_config *cfg,
			const struct sl_pkt *k, unsigned n, uint64_t mask, uint16_t port)
{
	uint32_t out[64];

	for (unsigned i = 0; i < 64; i++)
		out[i] = 0xdeadbeefu;
	sl_classify_burst(c, k, mask, port, out);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(out[i], mask >> i & 1 ? reference(cfg, &k[i], port) : 0xdeadbeefu);
}

/* Thousands of small policies, each against hundreds of frames: sl_classify, its burst form,
 * the compiled linear scan and the reference agree on every one. */
static void random_policies(void **state)
{
	uint64_t r;
	unsigned frames = 0, matched = 0;

	(void)state;
	r = 20261207;
	for (unsigned round = 0; round < 3000; round++) {
		unsigned nt = 1 + pick(&r, round % 10 == 0 ? 200 : 40);
		struct sl_classifier c;
		struct sl_pkt kb[64];
		struct pol p;

		pol_init(&p, nt, nt * 3);
		for (unsigned t = 0; t < nt; t++) {
			unsigned nb = 1 + (pick(&r, 4) == 0 ? pick(&r, 3) : 0);

			pol_tenant(&p);
			for (unsigned b = 0; b < nb; b++)
				rand_block(&r, pol_block(&p));
		}
		assert_int_equal(sl_classifier_build(&p.c, &c), 0);
		for (unsigned i = 0; i < 200; i++) {
			struct sl_pkt k;
			uint16_t port;
			uint32_t want, got;

			rand_pkt(&r, &k, &port);
			want = reference(&p.c, &k, port);
			got = sl_classify(&c, &k, port);
			if (got != want)
				fprintf(stderr, "round %u frame %u: got %u want %u\n", round, i, got,
					want);
			assert_int_equal(got, want);
			assert_int_equal(sl_classify_linear(&c, &k, port), want);
			frames++;
			matched += want != SL_NO_TENANT;
			kb[i % 64] = k;
			if (i % 64 == 63)	/* the last 64 frames, some left out, on one port */
				check_burst(&c, &p.c, kb, 64,
					    i % 128 == 63 ? ~0ull : (uint64_t)pick(&r, 1u << 31) << 32 | pick(&r, 1u << 31),
					    port);
		}
		sl_classifier_free(&c);
		pol_free(&p);
	}
	fprintf(stderr, "random policies: %u frames, %u matched a tenant\n", frames, matched);
	/* the corpus is not degenerate: both outcomes are common */
	assert_true(matched > frames / 5);
	assert_true(matched < frames - frames / 10);
}

/*
 * A big policy of the shapes operators write (20,000 tenants: /24s, /20s, IPv6 /48s, VLANs,
 * QinQ pairs, dst + port ranges, dual-stack lists, a catch-all last): a handful of shapes, and
 * the frames of every tenant find it.
 */
static void big_policy(void **state)
{
	const unsigned nt = 20000;
	struct sl_classifier_info ci;
	struct sl_classifier c;
	uint64_t r;
	struct pol p;

	(void)state;
	r = 7;
	pol_init(&p, nt, 2 * nt);
	for (unsigned t = 0; t < nt - 1; t++) {
		struct sl_cfg_match *m;

		pol_tenant(&p);
		m = pol_block(&p);
		switch (t % 6) {
		case 0:
			m_src4(m, 0x0a000000 | t << 8, 24);
			break;
		case 1:
			m_src4(m, 0x14000000 | t << 12, 20);
			break;
		case 2:
			m->fields = SL_M_SRC;
			m->family = 6;
			memcpy(m->src, (uint8_t[]){0x20, 0x01, 0x0d, 0xb8, (uint8_t)(t >> 8), (uint8_t)t}, 6);
			m->src_len = 48;
			break;
		case 3:
			m->fields = SL_M_VLAN | SL_M_INNER_VLAN;
			m->vlan = (uint16_t)(1 + t / 4096 % 4094);
			m->inner_vlan = (uint16_t)(t % 4096);
			break;
		case 4:
			m_dst4(m, 0xc6120000 | t, 32);
			m->fields |= SL_M_PROTO | SL_M_DPORT;
			m->proto = 17;
			m->dport_lo = 1000;
			m->dport_hi = 1999;
			break;
		default:
			m_src4(m, 0x64400000 | t << 4, 28);
			m = pol_block(&p);
			m->fields = SL_M_SRC;
			m->family = 6;
			memcpy(m->src, (uint8_t[]){0x20, 0x01, 0x0d, 0xb8, 0x80, (uint8_t)(t >> 8), (uint8_t)t}, 7);
			m->src_len = 56;
			break;
		}
	}
	pol_tenant(&p);
	pol_block(&p);
	assert_int_equal(sl_classifier_build(&p.c, &c), 0);
	sl_classifier_info(&c, &ci);
	assert_int_equal(ci.blocks, p.c.nb_matches);
	assert_int_equal(ci.shapes, 8);	/* the catch-all is one, folded */
	/* an IPv4 QinQ frame: /24, /20, /28, dst + udp and the QinQ pairs */
	assert_int_equal(ci.max_probes, 5);
	assert_int_equal(ci.filters, 7);	/* every shape of many values */
	for (unsigned i = 0; i < 3000; i++) {
		unsigned t = pick(&r, nt);
		struct sl_pkt k;
		uint16_t port = 0;

		if (i % 3 == 0) {
			rand_pkt(&r, &k, &port);
		} else if (t == nt - 1 || t % 6 == 3) {
			pkt4(&k, 0xac100000 + t, 0xc0000201, 17, 1, 1);
			k.vlan = (uint16_t)(1 + t / 4096 % 4094);
			k.inner_vlan = (uint16_t)(t % 4096);
		} else {
			/* the tenant's own frame, built from its first block */
			const struct sl_cfg_match *m = sl_cfg_tenant_match(&p.c, &p.c.tenants[t], 0);

			pkt4(&k, 0xac100001, 0xc0000201, 17, 4000, 1500);
			if (m->fields & SL_M_SRC) {
				memcpy(k.src, m->src, 16);
				k.src[15] ^= m->family == 6 ? 1 : 0;
				k.src[3] |= m->family == 4 ? 1 : 0;
				k.flags = (uint8_t)((m->family == 6 ? SL_PKT_IPV6 : SL_PKT_IPV4) | SL_PKT_PORTS);
				if (m->family == 6)
					memset(k.dst, 0x11, 16);
			}
			if (m->fields & SL_M_DST)
				memcpy(k.dst, m->dst, 16);
			assert_int_equal(reference(&p.c, &k, port), t);
		}
		assert_int_equal(sl_classify(&c, &k, port), reference(&p.c, &k, port));
	}
	sl_classifier_free(&c);
	pol_free(&p);
}

/*
 * A shape of 40,000 values (src /24): its prefilter has the largest size, 262,144 bits (18
 * bits of the hash), under a fifth of them set, and stops four in five frames of other
 * /24s without a probe; every frame of a tenant still finds it (the reference agrees).
 */
static void prefilter_large_shape(void **state)
{
	const unsigned nt = 40000;
	const struct sl_cls_sub *s;
	struct sl_classifier c;
	unsigned set = 0, passed = 0, tries = 20000;
	uint64_t r = 11;
	struct pol p;

	(void)state;
	pol_init(&p, nt, nt);
	for (unsigned t = 0; t < nt; t++) {
		pol_tenant(&p);
		m_src4(pol_block(&p), 0x0a000000 | t << 8, 24);
	}
	assert_int_equal(sl_classifier_build(&p.c, &c), 0);
	assert_int_equal(c.nb_subs, 1);
	s = &c.sub[0];
	assert_int_equal(s->nb_ent, nt);
	assert_int_equal(s->filter_mask + 1, 262144);
	for (uint32_t w = 0; w <= s->filter_mask / 64; w++)
		set += (unsigned)__builtin_popcountll(s->filter[w]);
	assert_true(set > nt * 9 / 10 && set < (s->filter_mask + 1) / 5);
	for (unsigned i = 0; i < tries; i++) {
		struct sl_pkt k;
		uint32_t t = (uint32_t)pick(&r, nt);
		__m128i k0, k1, k2;
		uint64_t h;
		uint32_t f;

		/* a tenant's frame */
		pkt4(&k, 0x0a000000 | t << 8 | (uint32_t)pick(&r, 256), 0xc0000201, 17, 1, 2);
		assert_int_equal(sl_classify(&c, &k, 0), t);
		/* a frame of a /24 no tenant has: the prefilter's verdict, as the walk takes it */
		pkt4(&k, 0x0b000000 | (uint32_t)pick(&r, 1u << 24), 0xc0000201, 17, 1, 2);
		assert_int_equal(sl_classify(&c, &k, 0), SL_NO_TENANT);
		k0 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)k.src), s->mask[0]);
		k1 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)k.dst), s->mask[1]);
		k2 = _mm_and_si128(sl_cls_row2(&k, 0), s->mask[2]);
		h = sl_cls_hash_hi(k0, k1, k2);
		f = (uint32_t)(h >> SL_CLS_FILTER_SHIFT) & s->filter_mask;
		passed += (unsigned)(s->filter[f >> 6] >> (f & 63) & 1);
	}
	print_message("prefilter of %u values: %u of %u bits set, %u of %u other frames passed\n",
		      nt, set, s->filter_mask + 1, passed, tries);
	assert_true(passed < tries / 5);
	sl_classifier_free(&c);
	pol_free(&p);
}

/* The size bound given before building holds. */
static void bytes_bound(void **state)
{
	struct sl_classifier c;
	uint64_t r;
	struct pol p;

	(void)state;
	r = 99;
	pol_init(&p, 500, 1500);
	for (unsigned t = 0; t < 500; t++) {
		pol_tenant(&p);
		rand_block(&r, pol_block(&p));
	}
	assert_int_equal(sl_classifier_build(&p.c, &c), 0);
	assert_true(c.bytes <= sl_classifier_bytes(&p.c));
	sl_classifier_free(&c);
	pol_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_policy),
		cmocka_unit_test(catch_all),
		cmocka_unit_test(family_wide),
		cmocka_unit_test(blocks_and_new_fields),
		cmocka_unit_test(ranges_on_one_value),
		cmocka_unit_test(many_ranges_on_one_value),
		cmocka_unit_test(proto_zero),
		cmocka_unit_test(random_policies),
		cmocka_unit_test(big_policy),
		cmocka_unit_test(prefilter_large_shape),
		cmocka_unit_test(bytes_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
