/* test_parse.c - cmocka tests of sl_parse: tags, IPv4 options and fragments, IPv6 extension
 * headers, ports and TCP flags, every truncation length (exact-size heap buffers for ASan). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "sl_parse.h"
#include "pkt_build.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
