/* test_parse.c - cmocka tests of sl_parse: tags, IPv4 options and fragments, IPv6 extension
 * headers, ports and TCP flags, every truncation length (exact-size heap buffers for ASan); the
 * inline fast path against sl_parse_slow, byte for byte, on generated and mutated frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "sl_parse.h"
#include "pkt_build.h"
#include "test_rng.h"

#define V4_SRC 0x0a000001u	/* 10.0.0.1 */
#define V4_DST 0xc0a80102u	/* 192.168.1.2 */

static const uint8_t v6_src[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t v6_dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34 };

/* Parse the first n bytes of f from a heap copy of exactly n bytes. */
static int parse_n(const struct pb *f, uint32_t n, struct sl_pkt *p)
{
	uint8_t *m = pb_dup(f, n);
	int rc;

	if (n)
		assert_non_null(m);
	memset(p, 0xcc, sizeof(*p));	/* every field must be written */
	rc = sl_parse(m, n, p);
	free(m);
	return rc;
}

static struct sl_pkt want_l2(uint16_t vlan, uint16_t inner, uint16_t ethertype, uint16_t l3_off)
{
	struct sl_pkt w;

	memset(&w, 0, sizeof(w));
	w.vlan = vlan;
	w.inner_vlan = inner;
	w.ethertype = ethertype;
	w.l3_off = l3_off;
	return w;
}

static void want_v4(struct sl_pkt *w, uint8_t proto, uint8_t flags)
{
	const uint8_t s[4] = { 10, 0, 0, 1 }, d[4] = { 192, 168, 1, 2 };

	memcpy(w->src, s, 4);
	memcpy(w->dst, d, 4);
	w->proto = proto;
	w->flags = SL_PKT_IPV4 | flags;
}

static void want_v6(struct sl_pkt *w, uint8_t proto, uint8_t flags)
{
	memcpy(w->src, v6_src, 16);
	memcpy(w->dst, v6_dst, 16);
	w->proto = proto;
	w->flags = SL_PKT_IPV6 | flags;
}

static void want_ports(struct sl_pkt *w, uint16_t sport, uint16_t dport, uint8_t tcp_flags)
{
	w->sport = sport;
	w->dport = dport;
	w->tcp_flags = tcp_flags;
	w->flags |= SL_PKT_PORTS;
}

static void expect_pkt_at(const struct sl_pkt *got, const struct sl_pkt *w, uint32_t n)
{
	if (memcmp(got, w, sizeof(*w)) == 0)
		return;
	print_error("at caplen %u:\n", n);
	assert_memory_equal(got->src, w->src, 16);
	assert_memory_equal(got->dst, w->dst, 16);
	assert_int_equal(got->sport, w->sport);
	assert_int_equal(got->dport, w->dport);
	assert_int_equal(got->vlan, w->vlan);
	assert_int_equal(got->inner_vlan, w->inner_vlan);
	assert_int_equal(got->l3_off, w->l3_off);
	assert_int_equal(got->ethertype, w->ethertype);
	assert_int_equal(got->proto, w->proto);
	assert_int_equal(got->flags, w->flags);
	assert_int_equal(got->tcp_flags, w->tcp_flags);
	assert_int_equal(got->pad[0], w->pad[0]);
	fail();
}

/* Parse all of f, expect rc and *w. */
static void check(const struct pb *f, int rc, const struct sl_pkt *w)
{
	struct sl_pkt p;

	assert_int_equal(parse_n(f, f->len, &p), rc);
	expect_pkt_at(&p, w, f->len);
}

static void build_v4_udp(struct pb *f, uint16_t frag, uint32_t optlen)
{
	uint32_t ip;

	ip = pb_ipv4(f, 0, frag, 17, V4_SRC, V4_DST, optlen);
	pb_udp(f, 1234, 53, 12);
	pb_ipv4_fin(f, ip, 0);
}

static void build_v4_tcp(struct pb *f, uint8_t flags, uint32_t optlen)
{
	uint32_t ip;

	ip = pb_ipv4(f, 0, 0, 6, V4_SRC, V4_DST, optlen);
	pb_tcp(f, 40000, 443, flags);
	pb_fill(f, 0x77, 6);
	pb_ipv4_fin(f, ip, 0);
}

/* ---- L2 ---- */

static void test_untagged_ipv4_udp(void **state)
{
	struct pb f;
	struct sl_pkt w;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	build_v4_udp(&f, 0, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
	want_v4(&w, 17, 0);
	want_ports(&w, 1234, 53, 0);
	check(&f, 0, &w);
}

static void test_single_tag(void **state)
{
	struct pb f;
	struct sl_pkt w;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_tag(&f, 0x8100, 0xf00a);	/* PCP 7, DEI 1, VID 10 */
	pb_u16(&f, 0x0800);
	build_v4_tcp(&f, 0x02, 0);
	w = want_l2(10, SL_VLAN_NONE, 0x0800, 18);
	want_v4(&w, 6, 0);
	want_ports(&w, 40000, 443, 0x02);
	check(&f, 0, &w);
}

static void test_double_tag(void **state)
{
	static const uint16_t tpid[][2] = {
		{ 0x88a8, 0x8100 }, { 0x8100, 0x8100 }, { 0x9100, 0x9100 }, { 0x9100, 0x88a8 },
	};
	struct pb f;
	struct sl_pkt w;

	(void)state;
	for (unsigned i = 0; i < sizeof(tpid) / sizeof(tpid[0]); i++) {
		pb_init(&f);
		pb_macs(&f);
		pb_tag(&f, tpid[i][0], 0x2064);	/* PCP 1, VID 100 */
		pb_tag(&f, tpid[i][1], 0x0fff);	/* VID 4095 */
		pb_u16(&f, 0x0800);
		build_v4_udp(&f, 0, 0);
		w = want_l2(100, 4095, 0x0800, 22);
		want_v4(&w, 17, 0);
		want_ports(&w, 1234, 53, 0);
		check(&f, 0, &w);
	}
}

static void test_vid_zero(void **state)
{
	struct pb f;
	struct sl_pkt w;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_tag(&f, 0x8100, 0xa000);	/* priority tag: PCP 5, VID 0 */
	pb_u16(&f, 0x0800);
	build_v4_udp(&f, 0, 0);
	w = want_l2(0, SL_VLAN_NONE, 0x0800, 18);
	want_v4(&w, 17, 0);
	want_ports(&w, 1234, 53, 0);
	check(&f, 0, &w);
}

static void test_third_tag(void **state)
{
	struct pb f;
	struct sl_pkt w, p;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_tag(&f, 0x88a8, 5);
	pb_tag(&f, 0x8100, 6);
	pb_tag(&f, 0x9100, 7);
	pb_u16(&f, 0x0800);
	build_v4_udp(&f, 0, 0);
	w = want_l2(5, 6, 0x9100, 0);
	check(&f, 0, &w);
	/* the frame may end right after the third TPID: still not malformed */
	assert_int_equal(parse_n(&f, 22, &p), 0);
	expect_pkt_at(&p, &w, 22);
	/* one byte short of it: the inner tag's ethertype is truncated */
	assert_int_equal(parse_n(&f, 21, &p), -EINVAL);
	w = want_l2(5, SL_VLAN_NONE, 0, 0);
	w.flags = SL_PKT_MALFORMED;
	expect_pkt_at(&p, &w, 21);
}

static void test_non_ip(void **state)
{
	struct pb f;
	struct sl_pkt w;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0806);	/* ARP request */
	pb_u32(&f, 0x00010800);
	pb_u32(&f, 0x06040001);
	pb_fill(&f, 0x11, 20);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0806, 0);
	check(&f, 0, &w);
	f.len = 14;		/* header only */
	check(&f, 0, &w);

	pb_init(&f);
	pb_macs(&f);
	pb_tag(&f, 0x8100, 300);
	pb_u16(&f, 0x0806);
	pb_fill(&f, 0, 28);
	w = want_l2(300, SL_VLAN_NONE, 0x0806, 0);
	check(&f, 0, &w);

	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x8847);	/* MPLS: not looked into */
	pb_u32(&f, 0x00001140);
	build_v4_udp(&f, 0, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x8847, 0);
	check(&f, 0, &w);
}

/* ---- truncation: every length from 0 to the full frame ---- */

static void test_trunc_ipv4_udp(void **state)
{
	struct pb f;
	struct sl_pkt w, p;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	build_v4_udp(&f, 0, 0);
	assert_int_equal(f.len, 14 + 20 + 8 + 12);
	for (uint32_t n = 0; n <= f.len; n++) {
		int rc = parse_n(&f, n, &p);

		if (n < 14) {
			w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0, 0);
			w.flags = SL_PKT_MALFORMED;
		} else {
			w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
			if (n < 34) {
				w.flags = SL_PKT_MALFORMED;
			} else {
				want_v4(&w, 17, n < 38 ? SL_PKT_MALFORMED : 0);
				if (n >= 38)
					want_ports(&w, 1234, 53, 0);
			}
		}
		assert_int_equal(rc, (w.flags & SL_PKT_MALFORMED) ? -EINVAL : 0);
		expect_pkt_at(&p, &w, n);
	}
}

static void test_trunc_qinq_ipv4_opts_tcp(void **state)
{
	struct pb f;
	struct sl_pkt w, p;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_tag(&f, 0x88a8, 33);
	pb_tag(&f, 0x8100, 44);
	pb_u16(&f, 0x0800);
	build_v4_tcp(&f, 0x18, 8);	/* PSH|ACK, 8 bytes of options */
	assert_int_equal(f.len, 22 + 28 + 20 + 6);
	for (uint32_t n = 0; n <= f.len; n++) {
		int rc = parse_n(&f, n, &p);

		w = want_l2(n >= 18 ? 33 : SL_VLAN_NONE, n >= 22 ? 44 : SL_VLAN_NONE,
			    n >= 22 ? 0x0800 : 0, n >= 22 ? 22 : 0);
		w.flags = SL_PKT_MALFORMED;
		if (n >= 50) {
			want_v4(&w, 6, n < 54 ? SL_PKT_MALFORMED : 0);
			if (n >= 54)	/* flags byte is TCP byte 13: frame byte 50 + 13 */
				want_ports(&w, 40000, 443, n >= 64 ? 0x18 : 0);
		}
		assert_int_equal(rc, (w.flags & SL_PKT_MALFORMED) ? -EINVAL : 0);
		expect_pkt_at(&p, &w, n);
	}
}

static void test_trunc_ipv6_tcp(void **state)
{
	struct pb f;
	struct sl_pkt w, p;
	uint32_t ip;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x86dd);
	ip = pb_ipv6(&f, 0, 0x12345, 6, v6_src, v6_dst);
	pb_tcp(&f, 22, 50000, 0x11);
	pb_ipv6_fin(&f, ip, 0);
	assert_int_equal(f.len, 14 + 40 + 20);
	for (uint32_t n = 0; n <= f.len; n++) {
		int rc = parse_n(&f, n, &p);

		w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, n >= 14 ? 0x86dd : 0, n >= 14 ? 14 : 0);
		w.flags = SL_PKT_MALFORMED;
		if (n >= 54) {
			want_v6(&w, 6, n < 58 ? SL_PKT_MALFORMED : 0);
			if (n >= 58)
				want_ports(&w, 22, 50000, n >= 68 ? 0x11 : 0);
		}
		assert_int_equal(rc, (w.flags & SL_PKT_MALFORMED) ? -EINVAL : 0);
		expect_pkt_at(&p, &w, n);
	}
}

static void test_trunc_ipv6_ext_chain(void **state)
{
	struct pb f;
	struct sl_pkt w, p;
	uint32_t ip;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_tag(&f, 0x8100, 7);
	pb_u16(&f, 0x86dd);
	ip = pb_ipv6(&f, 0, 0, 0, v6_src, v6_dst);
	pb_ext(&f, 60, 0);		/* hop-by-hop, 8 bytes: 58..65 */
	pb_ext(&f, 44, 1);		/* destination options, 16 bytes: 66..81 */
	pb_frag6(&f, 17, 0, 1);		/* first fragment: 82..89 */
	pb_udp(&f, 5353, 5353, 4);	/* 90..101 */
	pb_ipv6_fin(&f, ip, 0);
	assert_int_equal(f.len, 102);
	for (uint32_t n = 0; n <= f.len; n++) {
		int rc = parse_n(&f, n, &p);

		w = want_l2(n >= 18 ? 7 : SL_VLAN_NONE, SL_VLAN_NONE, n >= 18 ? 0x86dd : 0,
			    n >= 18 ? 18 : 0);
		w.flags = SL_PKT_MALFORMED;
		if (n >= 58 && n < 66)
			want_v6(&w, 0, SL_PKT_MALFORMED);
		else if (n >= 66 && n < 82)
			want_v6(&w, 60, SL_PKT_MALFORMED);
		else if (n >= 82 && n < 90)
			want_v6(&w, 44, SL_PKT_MALFORMED);
		else if (n >= 90 && n < 94)
			want_v6(&w, 17, SL_PKT_FRAG | SL_PKT_MALFORMED);
		else if (n >= 94) {
			want_v6(&w, 17, SL_PKT_FRAG);
			want_ports(&w, 5353, 5353, 0);
		}
		assert_int_equal(rc, (w.flags & SL_PKT_MALFORMED) ? -EINVAL : 0);
		expect_pkt_at(&p, &w, n);
	}
}

static void test_trunc_ipv4_later_fragment(void **state)
{
	struct pb f;
	struct sl_pkt w, p;
	uint32_t ip;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	ip = pb_ipv4(&f, 0, 0x2000 | 185, 6, V4_SRC, V4_DST, 0);
	pb_fill(&f, 0x99, 16);
	pb_ipv4_fin(&f, ip, 0);
	for (uint32_t n = 0; n <= f.len; n++) {
		int rc = parse_n(&f, n, &p);

		w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, n >= 14 ? 0x0800 : 0, n >= 14 ? 14 : 0);
		w.flags = SL_PKT_MALFORMED;
		if (n >= 34)	/* no L4 needed after the header: never malformed again */
			want_v4(&w, 6, SL_PKT_FRAG);
		assert_int_equal(rc, (w.flags & SL_PKT_MALFORMED) ? -EINVAL : 0);
		expect_pkt_at(&p, &w, n);
	}
}

/* ---- IPv4 ---- */

static void test_ipv4_options(void **state)
{
	struct pb f;
	struct sl_pkt w;

	(void)state;
	for (uint32_t opt = 4; opt <= 40; opt += 4) {
		pb_init(&f);
		pb_macs(&f);
		pb_u16(&f, 0x0800);
		build_v4_udp(&f, 0, opt);
		w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
		want_v4(&w, 17, 0);
		want_ports(&w, 1234, 53, 0);
		check(&f, 0, &w);
	}
}

static void test_ipv4_bad_header(void **state)
{
	struct pb f;
	struct sl_pkt w;

	(void)state;
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
	w.flags = SL_PKT_MALFORMED;

	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	build_v4_udp(&f, 0, 0);
	f.b[14] = 0x65;		/* version 6 in an IPv4 ethertype */
	check(&f, -EINVAL, &w);
	f.b[14] = 0x44;		/* IHL 4 */
	check(&f, -EINVAL, &w);
	f.b[14] = 0x4f;		/* IHL 15: 60 bytes > 40 available */
	check(&f, -EINVAL, &w);
	f.b[14] = 0x45;
	pb_put16(&f, 16, 19);	/* total length < header length */
	check(&f, -EINVAL, &w);
	pb_put16(&f, 16, 20);	/* total length = header: UDP ports absent */
	want_v4(&w, 17, SL_PKT_MALFORMED);
	check(&f, -EINVAL, &w);

	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	build_v4_udp(&f, 0, 8);
	pb_put16(&f, 16, 24);	/* total length < IHL * 4 = 28 */
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
	w.flags = SL_PKT_MALFORMED;
	check(&f, -EINVAL, &w);
	pb_put16(&f, 16, 28);
	want_v4(&w, 17, SL_PKT_MALFORMED);
	check(&f, -EINVAL, &w);
}

static void test_ipv4_fragments(void **state)
{
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	/* first fragment: MF, offset 0, ports present */
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	build_v4_udp(&f, 0x2000, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
	want_v4(&w, 17, SL_PKT_FRAG);
	want_ports(&w, 1234, 53, 0);
	check(&f, 0, &w);

	/* first fragment with DF also set (bad practice, still a first fragment) */
	pb_put16(&f, 20, 0x6000);
	check(&f, 0, &w);

	/* DF alone: not a fragment */
	pb_put16(&f, 20, 0x4000);
	w.flags &= (uint8_t)~SL_PKT_FRAG;
	check(&f, 0, &w);

	/* tiny first fragment: 2 bytes of UDP */
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	ip = pb_ipv4(&f, 0, 0x2000, 17, V4_SRC, V4_DST, 0);
	pb_u16(&f, 1234);
	pb_ipv4_fin(&f, ip, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
	want_v4(&w, 17, SL_PKT_FRAG | SL_PKT_MALFORMED);
	check(&f, -EINVAL, &w);

	/* middle fragment: MF, offset 185 (1480 bytes); payload bytes are not ports */
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	build_v4_udp(&f, 0x2000 | 185, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
	want_v4(&w, 17, SL_PKT_FRAG);
	check(&f, 0, &w);

	/* each bit of the 13-bit offset alone, with and without MF */
	for (unsigned bit = 0; bit < 13; bit++) {
		pb_put16(&f, 20, (uint16_t)(1u << bit));
		check(&f, 0, &w);
		pb_put16(&f, 20, (uint16_t)(0x2000 | 1u << bit));
		check(&f, 0, &w);
	}

	/* last fragment: no MF, offset 370, no payload at all, with options */
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	ip = pb_ipv4(&f, 0, 370, 6, V4_SRC, V4_DST, 12);
	pb_ipv4_fin(&f, ip, 0);
	want_v4(&w, 6, SL_PKT_FRAG);
	check(&f, 0, &w);

	/* offset 8191 (the maximum) */
	pb_put16(&f, 20, 0x1fff);
	check(&f, 0, &w);
}

static void test_ipv4_padding(void **state)
{
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	/* 28-byte datagram in a 60-byte frame: ports from the datagram */
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	ip = pb_ipv4(&f, 0, 0, 17, V4_SRC, V4_DST, 0);
	pb_udp(&f, 1000, 2000, 0);
	pb_ipv4_fin(&f, ip, 0);
	pb_fill(&f, 0xff, 60 - f.len);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
	want_v4(&w, 17, 0);
	want_ports(&w, 1000, 2000, 0);
	check(&f, 0, &w);

	/* total length 22: the ports would lie in the padding */
	pb_ipv4_fin(&f, ip, 22);
	w.sport = w.dport = 0;
	w.flags = SL_PKT_IPV4 | SL_PKT_MALFORMED;
	check(&f, -EINVAL, &w);

	/* TCP with a 10-byte L4 in the datagram: ports, but byte 13 is padding -> flags 0 */
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	ip = pb_ipv4(&f, 0, 0, 6, V4_SRC, V4_DST, 0);
	pb_tcp(&f, 80, 8080, 0x02);
	pb_ipv4_fin(&f, ip, 30);
	pb_fill(&f, 0x00, 64 - f.len);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
	want_v4(&w, 6, 0);
	want_ports(&w, 80, 8080, 0);
	check(&f, 0, &w);

	/* total length larger than the capture: use what was captured */
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	ip = pb_ipv4(&f, 0, 0, 6, V4_SRC, V4_DST, 0);
	pb_tcp(&f, 80, 8080, 0x10);
	pb_ipv4_fin(&f, ip, 1500);
	want_ports(&w, 80, 8080, 0x10);
	check(&f, 0, &w);
}

static void test_tcp_flags(void **state)
{
	static const uint8_t fl[] = { 0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x12, 0x14, 0x18,
				      0x29, 0x40, 0x80, 0xc2, 0xff };
	struct pb f;
	struct sl_pkt w;

	(void)state;
	for (unsigned i = 0; i < sizeof(fl); i++) {
		pb_init(&f);
		pb_macs(&f);
		pb_u16(&f, 0x0800);
		build_v4_tcp(&f, fl[i], 0);
		w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
		want_v4(&w, 6, 0);
		want_ports(&w, 40000, 443, fl[i]);
		check(&f, 0, &w);
	}
}

static void test_other_l4(void **state)
{
	static const struct {
		uint8_t proto;
		int ports;
	} t[] = { { 1, 0 }, { 2, 0 }, { 47, 0 }, { 50, 0 }, { 132, 1 }, { 136, 1 }, { 255, 0 } };
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		pb_init(&f);
		pb_macs(&f);
		pb_u16(&f, 0x0800);
		ip = pb_ipv4(&f, 0, 0, t[i].proto, V4_SRC, V4_DST, 0);
		pb_u16(&f, 7000);
		pb_u16(&f, 7001);
		pb_u32(&f, 0);
		pb_ipv4_fin(&f, ip, 0);
		w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x0800, 14);
		want_v4(&w, t[i].proto, 0);
		if (t[i].ports)
			want_ports(&w, 7000, 7001, 0);
		check(&f, 0, &w);

		/* no L4 byte at all: malformed only when ports are expected */
		f.len = 34;
		pb_ipv4_fin(&f, ip, 0);
		w.sport = w.dport = 0;
		w.flags = SL_PKT_IPV4 | (t[i].ports ? SL_PKT_MALFORMED : 0);
		check(&f, t[i].ports ? -EINVAL : 0, &w);
	}
}

/* ---- IPv6 ---- */

static uint32_t v6_start(struct pb *f, uint8_t nh)
{
	pb_init(f);
	pb_macs(f);
	pb_u16(f, 0x86dd);
	return pb_ipv6(f, 0, 0, nh, v6_src, v6_dst);
}

static void test_ipv6_each_ext(void **state)
{
	static const uint8_t ext[] = { 0, 43, 60 };
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	for (unsigned i = 0; i < sizeof(ext); i++) {
		for (uint8_t len8 = 0; len8 < 3; len8++) {
			ip = v6_start(&f, ext[i]);
			pb_ext(&f, 6, len8);
			pb_tcp(&f, 179, 33000, 0x12);
			pb_ipv6_fin(&f, ip, 0);
			w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x86dd, 14);
			want_v6(&w, 6, 0);
			want_ports(&w, 179, 33000, 0x12);
			check(&f, 0, &w);
		}
	}

	/* AH: (len + 2) * 4 bytes */
	ip = v6_start(&f, 51);
	pb_ah(&f, 17, 4);
	pb_udp(&f, 500, 4500, 0);
	pb_ipv6_fin(&f, ip, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x86dd, 14);
	want_v6(&w, 17, 0);
	want_ports(&w, 500, 4500, 0);
	check(&f, 0, &w);

	/* AH whose length runs past the frame */
	ip = v6_start(&f, 51);
	pb_ah(&f, 17, 4);
	pb_ipv6_fin(&f, ip, 0);
	f.b[14 + 41] = 5;
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x86dd, 14);
	want_v6(&w, 51, SL_PKT_MALFORMED);
	check(&f, -EINVAL, &w);
}

static void test_ipv6_fragment(void **state)
{
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	/* first fragment: ports */
	ip = v6_start(&f, 44);
	pb_frag6(&f, 17, 0, 1);
	pb_udp(&f, 1111, 2222, 32);
	pb_ipv6_fin(&f, ip, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x86dd, 14);
	want_v6(&w, 17, SL_PKT_FRAG);
	want_ports(&w, 1111, 2222, 0);
	check(&f, 0, &w);

	/* atomic fragment (offset 0, M 0): still flagged, ports */
	f.b[14 + 43] = 0;
	check(&f, 0, &w);

	/* later fragment: offset 181, no ports even though bytes follow */
	pb_put16(&f, 14 + 42, 181 << 3 | 1);
	w.sport = w.dport = 0;
	w.flags = SL_PKT_IPV6 | SL_PKT_FRAG;
	check(&f, 0, &w);

	/* last fragment, after a hop-by-hop header, no payload */
	ip = v6_start(&f, 0);
	pb_ext(&f, 44, 0);
	pb_frag6(&f, 6, 8191, 0);
	pb_ipv6_fin(&f, ip, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x86dd, 14);
	want_v6(&w, 6, SL_PKT_FRAG);
	check(&f, 0, &w);
}

static void test_ipv6_chain_cap(void **state)
{
	static const uint8_t chain[9] = { 0, 60, 43, 60, 51, 43, 60, 43, 60 };
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	for (unsigned n = 8; n <= 9; n++) {
		ip = v6_start(&f, chain[0]);
		for (unsigned i = 0; i < n; i++) {
			uint8_t nh = i + 1 < n ? chain[i + 1] : 6;

			if (chain[i] == 51)
				pb_ah(&f, nh, 2);
			else
				pb_ext(&f, nh, 0);
		}
		pb_tcp(&f, 1, 2, 0x01);
		pb_ipv6_fin(&f, ip, 0);
		w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x86dd, 14);
		if (n == 8) {
			want_v6(&w, 6, 0);
			want_ports(&w, 1, 2, 0x01);
			check(&f, 0, &w);
		} else {
			want_v6(&w, chain[8], SL_PKT_MALFORMED);
			check(&f, -EINVAL, &w);
		}
	}
}

static void test_ipv6_no_ports(void **state)
{
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	/* ESP: opaque payload */
	ip = v6_start(&f, 50);
	pb_u32(&f, 0x1000);	/* SPI */
	pb_u32(&f, 1);
	pb_fill(&f, 0xee, 16);
	pb_ipv6_fin(&f, ip, 0);
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x86dd, 14);
	want_v6(&w, 50, 0);
	check(&f, 0, &w);

	/* ESP after destination options */
	ip = v6_start(&f, 60);
	pb_ext(&f, 50, 0);
	pb_u32(&f, 0x1000);
	pb_ipv6_fin(&f, ip, 0);
	check(&f, 0, &w);

	/* no next header, empty payload */
	ip = v6_start(&f, 59);
	pb_ipv6_fin(&f, ip, 0);
	want_v6(&w, 59, 0);
	check(&f, 0, &w);

	/* ICMPv6 echo request */
	ip = v6_start(&f, 58);
	pb_icmp(&f, 128, 0);
	pb_ipv6_fin(&f, ip, 0);
	want_v6(&w, 58, 0);
	check(&f, 0, &w);

	/* ICMPv6 after hop-by-hop (MLD) */
	ip = v6_start(&f, 0);
	pb_ext(&f, 58, 0);
	pb_icmp(&f, 143, 0);
	pb_ipv6_fin(&f, ip, 0);
	check(&f, 0, &w);
}

static void test_ipv6_bad(void **state)
{
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	/* version 4 in an IPv6 ethertype */
	ip = v6_start(&f, 17);
	pb_udp(&f, 1, 2, 0);
	pb_ipv6_fin(&f, ip, 0);
	f.b[14] = 0x40;
	w = want_l2(SL_VLAN_NONE, SL_VLAN_NONE, 0x86dd, 14);
	w.flags = SL_PKT_MALFORMED;
	check(&f, -EINVAL, &w);

	/* hop-by-hop length beyond the frame */
	ip = v6_start(&f, 0);
	pb_ext(&f, 6, 0);
	pb_tcp(&f, 1, 2, 0);
	pb_ipv6_fin(&f, ip, 0);
	f.b[14 + 41] = 10;
	want_v6(&w, 0, SL_PKT_MALFORMED);
	check(&f, -EINVAL, &w);

	/* payload length shorter than the extension header, frame long enough */
	f.b[14 + 41] = 0;
	pb_ipv6_fin(&f, ip, 4);
	check(&f, -EINVAL, &w);

	/* padding after a short IPv6 datagram is not L4: UDP cut by payload length 2 */
	ip = v6_start(&f, 17);
	pb_udp(&f, 1, 2, 0);
	pb_ipv6_fin(&f, ip, 2);
	want_v6(&w, 17, SL_PKT_MALFORMED);
	check(&f, -EINVAL, &w);

	/* payload length larger than the capture: what was captured counts */
	pb_ipv6_fin(&f, ip, 9000);
	want_v6(&w, 17, 0);
	want_ports(&w, 1, 2, 0);
	check(&f, 0, &w);
}

static void test_ipv6_tagged_udplite(void **state)
{
	struct pb f;
	struct sl_pkt w;
	uint32_t ip;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_tag(&f, 0x88a8, 1);
	pb_tag(&f, 0x8100, 2);
	pb_u16(&f, 0x86dd);
	ip = pb_ipv6(&f, 0xb8, 0xfffff, 136, v6_src, v6_dst);
	pb_udp(&f, 6000, 6001, 0);
	pb_ipv6_fin(&f, ip, 0);
	w = want_l2(1, 2, 0x86dd, 22);
	want_v6(&w, 136, 0);
	want_ports(&w, 6000, 6001, 0);
	check(&f, 0, &w);
}

/* ---- the inline fast path against the complete parser ---- */

/* The fast-path conditions of sl_parse.h, restated from their definition: untagged IPv4 with
 * first byte 0x45, no MF and offset 0, TCP/UDP, min(total length, caplen - 14) - 20 >= 14 for
 * TCP, >= 8 for UDP; or untagged IPv6 with next header TCP/UDP and min(40 + payload length,
 * caplen - 14) - 40 >= 14 for TCP, >= 8 for UDP. */
static int fast_cond_untagged(const uint8_t *b, uint32_t n)
{
	int64_t end;

	if (n < 14)
		return 0;
	if (b[12] == 0x08 && b[13] == 0x00) {
		if (n < 34 || b[14] != 0x45 || ((b[20] << 8 | b[21]) & 0x3fff) ||
		    (b[23] != 6 && b[23] != 17))
			return 0;
		end = (int64_t)(b[16] << 8 | b[17]);
		if (end > (int64_t)n - 14)
			end = (int64_t)n - 14;
		return end - 20 >= (b[23] == 6 ? 14 : 8);
	}
	if (b[12] == 0x86 && b[13] == 0xdd) {
		if (n < 54 || (b[14] >> 4) != 6 || (b[20] != 6 && b[20] != 17))
			return 0;
		end = 40 + (int64_t)(b[18] << 8 | b[19]);
		if (end > (int64_t)n - 14)
			end = (int64_t)n - 14;
		return end - 40 >= (b[20] == 6 ? 14 : 8);
	}
	return 0;
}

/* Tag bytes before the ethertype the fast path reads: 4 for one 802.1Q tag (TPID 0x8100), else 0. */
static uint32_t fast_tag(const uint8_t *b, uint32_t n)
{
	return n >= 18 && b[12] == 0x81 && b[13] == 0x00 ? 4 : 0;
}

/* The same conditions, untagged or after one 802.1Q tag (the frame moved forward by its 4 bytes;
 * another tag after it is not 0x0800 or 0x86dd, so not fast). */
static int fast_cond(const uint8_t *b, uint32_t n)
{
	uint32_t t = fast_tag(b, n);

	return fast_cond_untagged(b + t, n - t);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(test_rng(s) % n);
}

static uint8_t gen_l4_proto(uint64_t *s)
{
	static const uint8_t other[] = { 1, 58, 132, 136, 47, 50, 0, 59, 255 };
	uint32_t r = rng_below(s, 100);

	if (r < 45)
		return 6;
	if (r < 85)
		return 17;
	if (r < 95)
		return other[rng_below(s, sizeof(other))];
	return (uint8_t)test_rng(s);
}

static void gen_l4(struct pb *f, uint64_t *s, uint8_t proto)
{
	uint32_t pay = rng_below(s, 3) ? rng_below(s, 24) : rng_below(s, 200);

	if (proto == 6) {
		pb_tcp(f, (uint16_t)test_rng(s), (uint16_t)test_rng(s), (uint8_t)test_rng(s));
		pb_fill(f, 0x77, pay);
	} else if (proto == 17) {
		pb_udp(f, (uint16_t)test_rng(s), (uint16_t)test_rng(s), (uint16_t)pay);
	} else {
		for (uint32_t i = 0; i < pay; i++)
			pb_u8(f, (uint8_t)test_rng(s));
	}
	/* sometimes cut the L4 header itself short */
	if (rng_below(s, 8) == 0 && f->len > 0)
		f->len -= rng_below(s, 20 < f->len ? 20 : f->len);
}

/* A declared length: usually the true one, sometimes shorter, longer or anything. */
static uint16_t gen_len(uint64_t *s, uint32_t real)
{
	switch (rng_below(s, 10)) {
	case 0:
		return (uint16_t)(real > 0 ? real - rng_below(s, real < 30 ? real + 1 : 30) : 0);
	case 1:
		return (uint16_t)(real + 1 + rng_below(s, 1500));
	case 2:
		return (uint16_t)test_rng(s);
	default:
		return (uint16_t)real;
	}
}

static void gen_ipv4(struct pb *f, uint64_t *s)
{
	uint32_t opt = rng_below(s, 5) ? 0 : 4 * rng_below(s, 11), ip;
	uint16_t frag;
	uint8_t proto = gen_l4_proto(s);

	switch (rng_below(s, 16)) {
	case 0:
		frag = 0x4000;				/* DF */
		break;
	case 1:
		frag = 0x2000;				/* first fragment */
		break;
	case 2:
		frag = (uint16_t)(test_rng(s) & 0xffff);	/* any flags and offset */
		break;
	case 3:
		frag = (uint16_t)(1u << rng_below(s, 16));
		break;
	default:
		frag = 0;
	}
	ip = pb_ipv4(f, (uint8_t)test_rng(s), frag, proto, (uint32_t)test_rng(s),
		     (uint32_t)test_rng(s), opt);
	gen_l4(f, s, proto);
	pb_ipv4_fin(f, ip, gen_len(s, f->len - ip));
	if (f->b[ip + 2] == 0 && f->b[ip + 3] == 0 && rng_below(s, 2))
		pb_put16(f, ip + 2, 0);			/* keep an explicit total length 0 */
	if (rng_below(s, 20) == 0)			/* another version or IHL */
		f->b[ip] = (uint8_t)test_rng(s);
}

static void gen_ipv6(struct pb *f, uint64_t *s)
{
	static const uint8_t ext[] = { 0, 43, 60, 51, 44 };
	uint8_t a[16], d[16], proto = gen_l4_proto(s);
	uint32_t next = 0, ip, n = rng_below(s, 10) < 6 ? 0 : 1 + rng_below(s, 9);
	uint8_t nh[10];

	for (unsigned i = 0; i < 16; i++) {
		a[i] = (uint8_t)test_rng(s);
		d[i] = (uint8_t)test_rng(s);
	}
	for (uint32_t i = 0; i < n; i++)
		nh[i] = ext[rng_below(s, sizeof(ext))];
	nh[n] = proto;
	ip = pb_ipv6(f, (uint8_t)test_rng(s), (uint32_t)test_rng(s), nh[0], a, d);
	for (uint32_t i = 0; i < n; i++) {
		next = nh[i + 1];
		if (nh[i] == 51)
			pb_ah(f, (uint8_t)next, (uint8_t)rng_below(s, 4));
		else if (nh[i] == 44)
			pb_frag6(f, (uint8_t)next, rng_below(s, 3) ? 0 : (uint16_t)rng_below(s, 8192),
				 (int)rng_below(s, 2));
		else
			pb_ext(f, (uint8_t)next, (uint8_t)rng_below(s, 3));
	}
	gen_l4(f, s, proto);
	pb_ipv6_fin(f, ip, 0);
	pb_put16(f, ip + 4, gen_len(s, f->len - ip - 40));
	if (rng_below(s, 20) == 0)			/* another version */
		f->b[ip] = (uint8_t)test_rng(s);
}

/* One random frame: 0-3 tags, IPv4 / IPv6 / other, padding, then perhaps a few bytes changed. */
static void gen_frame(struct pb *f, uint64_t *s)
{
	static const uint16_t tpid[] = { 0x8100, 0x88a8, 0x9100 };
	static const uint16_t other_et[] = { 0x0806, 0x8847, 0x88cc, 0x0000, 0xffff, 0x0801, 0x86dc };
	uint32_t r = rng_below(s, 100), tags = r < 85 ? 0 : r < 93 ? 1 : r < 98 ? 2 : 3;

	pb_init(f);
	pb_macs(f);
	for (uint32_t i = 0; i < tags; i++)
		pb_tag(f, tpid[rng_below(s, 3)], (uint16_t)test_rng(s));
	r = rng_below(s, 100);
	if (r < 55) {
		pb_u16(f, 0x0800);
		gen_ipv4(f, s);
	} else if (r < 90) {
		pb_u16(f, 0x86dd);
		gen_ipv6(f, s);
	} else {
		pb_u16(f, other_et[rng_below(s, sizeof(other_et) / sizeof(other_et[0]))]);
		for (uint32_t i = rng_below(s, 64); i > 0; i--)
			pb_u8(f, (uint8_t)test_rng(s));
	}
	if (f->len < 60 && rng_below(s, 2))		/* Ethernet minimum: padding */
		pb_fill(f, rng_below(s, 2) ? 0 : 0xee, 60 - f->len);
	if (rng_below(s, 4) == 0) {			/* a few bytes changed, mostly L2-L4 headers */
		for (uint32_t k = 1 + rng_below(s, 4); k > 0 && f->len; k--) {
			uint32_t span = f->len < 80 ? f->len : 80;
			uint32_t at = rng_below(s, 2) ? rng_below(s, span) : rng_below(s, f->len);

			f->b[at] = rng_below(s, 2) ? (uint8_t)test_rng(s) :
				   (uint8_t)(f->b[at] ^ (1u << rng_below(s, 8)));
		}
	}
}

static void dump_frame(const uint8_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		print_error("%02x%s", b[i], (i % 16 == 15 || i + 1 == n) ? "\n" : " ");
}

#define EQUIV_FRAMES 250000u

static void test_fast_path_equivalence(void **state)
{
	struct pb f;
	uint64_t seed = 0x5eed5a1c0ffee000ull;
	uint32_t fast = 0, slow = 0, fast_kind[4] = { 0 }, tagged = 0, cut = 0;

	(void)state;
	for (uint32_t i = 0; i < EQUIV_FRAMES; i++) {
		struct sl_pkt a, b;
		uint32_t n;
		uint8_t *m;
		int ra, rb;

		gen_frame(&f, &seed);
		/* the whole frame mostly; else cut anywhere, or near the fast-path thresholds */
		switch (rng_below(&seed, 8)) {
		case 0:
			n = rng_below(&seed, f.len + 1);
			break;
		case 1:
			n = 38 + rng_below(&seed, 34);
			n = n < f.len ? n : f.len;
			break;
		default:
			n = f.len;
		}
		cut += n < f.len;
		m = pb_dup(&f, n);	/* exactly n bytes: ASan sees any over-read */
		if (n)
			assert_non_null(m);
		if (fast_cond(m, n)) {
			const uint8_t *u = m + fast_tag(m, n);	/* as if untagged */

			fast++;
			tagged += u != m;
			fast_kind[(u[12] == 0x86) * 2 + (u[u[12] == 0x86 ? 20 : 23] == 17)]++;
		} else {
			slow++;
		}
		{	/* the fast path takes exactly these frames */
			struct sl_pkt c;

			assert_int_equal(sl_parse_fast(m, n, &c), fast_cond(m, n));
		}
		memset(&a, 0xa5, sizeof(a));
		memset(&b, 0x5a, sizeof(b));
		ra = sl_parse(m, n, &a);
		rb = sl_parse_slow(m, n, &b);
		if (ra != rb || memcmp(&a, &b, sizeof(a)) != 0) {
			print_error("frame %u, caplen %u of %u, fast-path conditions %d:\n", i, n,
				    f.len, fast_cond(m, n));
			dump_frame(m, n);
			assert_int_equal(ra, rb);
			expect_pkt_at(&a, &b, n);
		}
		free(m);
	}
	print_message("%u frames: %u meet the fast-path conditions (v4/tcp %u, v4/udp %u, "
		      "v6/tcp %u, v6/udp %u; %u with one 802.1Q tag), %u do not, %u cut short\n",
		      EQUIV_FRAMES, fast, fast_kind[0], fast_kind[1], fast_kind[2], fast_kind[3],
		      tagged, slow, cut);
	/* both paths must be exercised a lot, each fast-path kind too */
	assert_true(fast >= EQUIV_FRAMES / 4);
	assert_true(slow >= EQUIV_FRAMES / 4);
	for (unsigned k = 0; k < 4; k++)
		assert_true(fast_kind[k] >= EQUIV_FRAMES / 50);
	assert_true(tagged >= EQUIV_FRAMES / 200);
}

/* Frame b (len bytes, expected to be want_len) meets the fast-path conditions and parses to w. */
static void expect_fast_frame(const uint8_t *b, uint32_t len, uint32_t want_len,
			      const struct sl_pkt *w)
{
	struct pb f;
	struct sl_pkt p;

	pb_init(&f);
	memcpy(f.b, b, len);
	f.len = len;
	assert_int_equal(f.len, want_len);
	assert_true(fast_cond(f.b, f.len));
	assert_int_equal(parse_n(&f, f.len, &p), 0);
	expect_pkt_at(&p, w, f.len);
}

/* The fast path's fields, written out by hand (not through the builder or the slow parser). */
static void test_fast_path_fields(void **state)
{
	static const uint8_t v4tcp[] = {
		0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00,
		0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
		192, 168, 1, 2, 10, 0, 0, 1,
		0x1f, 0x90, 0xc3, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x12, 0xff, 0xff,
		0, 0, 0, 0,
		0xee, 0xee, 0xee, 0xee, 0xee, 0xee,	/* padding to 60 bytes */
	};
	static const uint8_t v6udp[] = {
		0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd,
		0x60, 0x0b, 0x81, 0x23, 0x00, 0x10, 0x11, 0x40,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
		0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34,
		0x00, 0x35, 0xd4, 0x31, 0x00, 0x10, 0x00, 0x00,
		0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	};
	const struct sl_pkt w4 = {
		.src = { 192, 168, 1, 2 }, .dst = { 10, 0, 0, 1 }, .sport = 8080, .dport = 50000,
		.vlan = 0xffff, .inner_vlan = 0xffff, .l3_off = 14, .ethertype = 0x0800,
		.proto = 6, .flags = SL_PKT_IPV4 | SL_PKT_PORTS, .tcp_flags = 0x12,
	};
	const struct sl_pkt w6 = {
		.src = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 },
		.dst = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34 },
		.sport = 53, .dport = 54321, .vlan = 0xffff, .inner_vlan = 0xffff, .l3_off = 14,
		.ethertype = 0x86dd, .proto = 17, .flags = SL_PKT_IPV6 | SL_PKT_PORTS,
	};

	(void)state;
	expect_fast_frame(v4tcp, sizeof(v4tcp), 60, &w4);
	expect_fast_frame(v6udp, sizeof(v6udp), 70, &w6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untagged_ipv4_udp),
		cmocka_unit_test(test_single_tag),
		cmocka_unit_test(test_double_tag),
		cmocka_unit_test(test_vid_zero),
		cmocka_unit_test(test_third_tag),
		cmocka_unit_test(test_non_ip),
		cmocka_unit_test(test_trunc_ipv4_udp),
		cmocka_unit_test(test_trunc_qinq_ipv4_opts_tcp),
		cmocka_unit_test(test_trunc_ipv6_tcp),
		cmocka_unit_test(test_trunc_ipv6_ext_chain),
		cmocka_unit_test(test_trunc_ipv4_later_fragment),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_bad_header),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_padding),
		cmocka_unit_test(test_tcp_flags),
		cmocka_unit_test(test_other_l4),
		cmocka_unit_test(test_ipv6_each_ext),
		cmocka_unit_test(test_ipv6_fragment),
		cmocka_unit_test(test_ipv6_chain_cap),
		cmocka_unit_test(test_ipv6_no_ports),
		cmocka_unit_test(test_ipv6_bad),
		cmocka_unit_test(test_ipv6_tagged_udplite),
		cmocka_unit_test(test_fast_path_fields),
		cmocka_unit_test(test_fast_path_equivalence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
