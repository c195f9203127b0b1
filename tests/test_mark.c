/* test_mark.c - cmocka tests of sl_mark_dscp: IPv4 TOS + incremental checksum against a full
 * recomputation (random headers, 0x0000/0xffff corners), IPv6 traffic class, refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "sl_mark.h"
#include "sl_parse.h"
#include "pkt_build.h"

static const uint8_t v6_src[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t v6_dst[16] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: deterministic, seeded per test */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Checksum of an IPv4 header recomputed from scratch (checksum field taken as zero). */
static uint16_t recompute(const uint8_t *ip)
{
	uint8_t h[60];
	unsigned hl = (ip[0] & 0x0f) * 4u;

	memcpy(h, ip, hl);
	h[10] = h[11] = 0;
	return pb_csum(h, hl);
}

/*
 * Mark a copy of the IPv4 header at ip (hl bytes, in an exact-size heap buffer) and check:
 * rc 0, TOS = dscp | old ECN, checksum = full recomputation, header verifies, nothing else
 * changed. Returns the new checksum.
 */
static uint16_t mark_v4_check(const uint8_t *ip, unsigned hl, uint8_t dscp)
{
	struct sl_pkt p;
	uint8_t *b = malloc(hl);
	uint16_t cs;

	assert_non_null(b);
	memcpy(b, ip, hl);
	memset(&p, 0, sizeof(p));
	p.flags = SL_PKT_IPV4;
	p.l3_off = 0;
	assert_int_equal(sl_mark_dscp(b, hl, &p, dscp), 0);
	assert_int_equal(b[1], (uint8_t)(dscp << 2 | (ip[1] & 3)));
	cs = get16(b + 10);
	if (b[1] == ip[1])
		assert_int_equal(cs, get16(ip + 10));
	else
		assert_int_equal(cs, recompute(b));
	assert_int_equal(pb_csum(b, hl), 0);	/* the header verifies */
	assert_memory_equal(b, ip, 1);
	assert_memory_equal(b + 2, ip + 2, 8);
	assert_memory_equal(b + 12, ip + 12, hl - 12);
	free(b);
	return cs;
}

/* Set the id field so that the one's complement sum of the header (checksum 0) is 0xffff. */
static void force_sum_ffff(uint8_t *ip, unsigned hl)
{
	uint16_t s;

	ip[4] = ip[5] = 0;
	ip[10] = ip[11] = 0;
	s = (uint16_t)~pb_csum(ip, hl);	/* folded sum, 1..0xffff */
	ip[4] = (uint8_t)(~s >> 8);
	ip[5] = (uint8_t)~s;
}

static unsigned random_v4_header(uint8_t *ip, uint64_t *s)
{
	unsigned hl = 20 + 4 * (unsigned)(rnd(s) % 11);

	for (unsigned i = 0; i < hl; i++)
		ip[i] = (uint8_t)rnd(s);
	ip[0] = 0x40 | (uint8_t)(hl / 4);
	ip[10] = ip[11] = 0;
	return hl;
}

static void set_csum(uint8_t *ip, unsigned hl)
{
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = pb_csum(ip, hl);
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
}

static void test_v4_random_headers(void **state)
{
	uint64_t s = 0x5eed5eed12345678ull;
	uint8_t ip[60];

	(void)state;
	for (unsigned i = 0; i < 200000; i++) {
		unsigned hl = random_v4_header(ip, &s);

		set_csum(ip, hl);
		mark_v4_check(ip, hl, (uint8_t)(rnd(&s) & 63));
	}
}

static void test_v4_checksum_zero_before(void **state)
{
	uint64_t s = 42;
	uint8_t ip[60];

	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		unsigned hl = random_v4_header(ip, &s);

		force_sum_ffff(ip, hl);
		set_csum(ip, hl);
		assert_int_equal(get16(ip + 10), 0x0000);
		mark_v4_check(ip, hl, (uint8_t)((ip[1] >> 2) + 1 + rnd(&s) % 63) & 63);
	}
}

static void test_v4_checksum_zero_after(void **state)
{
	uint64_t s = 7;
	uint8_t ip[60];

	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		unsigned hl = random_v4_header(ip, &s);
		uint8_t old = ip[1], dscp = (uint8_t)((old >> 2) + 1 + rnd(&s) % 63) & 63;

		ip[1] = (uint8_t)(dscp << 2 | (old & 3));	/* the header as it will be */
		force_sum_ffff(ip, hl);
		ip[1] = old;
		set_csum(ip, hl);
		assert_int_equal(mark_v4_check(ip, hl, dscp), 0x0000);
	}
}

/* Stored checksum 0xffff: the other encoding of zero, verifies when the sum is 0xffff. */
static void test_v4_checksum_ffff_stored(void **state)
{
	uint64_t s = 99;
	uint8_t ip[60];

	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		unsigned hl = random_v4_header(ip, &s);

		force_sum_ffff(ip, hl);
		ip[10] = ip[11] = 0xff;
		assert_int_equal(pb_csum(ip, hl), 0);	/* verifies */
		mark_v4_check(ip, hl, (uint8_t)((ip[1] >> 2) + 1 + rnd(&s) % 63) & 63);
		/* unchanged DSCP: the checksum keeps its 0xffff encoding */
		assert_int_equal(mark_v4_check(ip, hl, ip[1] >> 2), 0xffff);
	}
}

/* Build eth [tags] IPv4/UDP with tos and optlen bytes of options; parse it into *p. */
static void build_v4(struct pb *f, struct sl_pkt *p, unsigned ntags, uint8_t tos, unsigned optlen)
{
	uint32_t ip;

	pb_init(f);
	pb_macs(f);
	for (unsigned i = 0; i < ntags; i++)
		pb_tag(f, i ? 0x8100 : 0x88a8, (uint16_t)(10 + i));
	pb_u16(f, 0x0800);
	ip = pb_ipv4(f, tos, 0x4000, 17, 0xc0000201, 0xc6336402, optlen);
	pb_udp(f, 4000, 5000, 10);
	pb_ipv4_fin(f, ip, 0);
	assert_int_equal(sl_parse(f->b, f->len, p), 0);
	assert_int_equal(p->l3_off, 14 + 4 * ntags);
}

static void build_v6(struct pb *f, struct sl_pkt *p, unsigned ntags, uint8_t tc, uint32_t flow)
{
	uint32_t ip;

	pb_init(f);
	pb_macs(f);
	for (unsigned i = 0; i < ntags; i++)
		pb_tag(f, 0x8100, (uint16_t)(20 + i));
	pb_u16(f, 0x86dd);
	ip = pb_ipv6(f, tc, flow, 6, v6_src, v6_dst);
	pb_tcp(f, 1, 2, 0x02);
	pb_ipv6_fin(f, ip, 0);
	assert_int_equal(sl_parse(f->b, f->len, p), 0);
	assert_int_equal(p->l3_off, 14 + 4 * ntags);
}

/* Mark a heap copy of exactly f->len bytes; expect rc, return the copy (caller frees). */
static uint8_t *mark_frame(const struct pb *f, const struct sl_pkt *p, uint8_t dscp, int rc)
{
	uint8_t *b = pb_dup(f, f->len);

	assert_non_null(b);
	assert_int_equal(sl_mark_dscp(b, f->len, p, dscp), rc);
	return b;
}

static void test_v4_frames(void **state)
{
	struct pb f;
	struct sl_pkt p;

	(void)state;
	for (unsigned ntags = 0; ntags <= 2; ntags++) {
		for (unsigned ecn = 0; ecn < 4; ecn++) {
			for (unsigned dscp = 0; dscp < 64; dscp++) {
				unsigned off = 14 + 4 * ntags, opt = (dscp % 11) * 4;
				uint8_t *b;

				build_v4(&f, &p, ntags, (uint8_t)(0xa0 | ecn), opt);
				b = mark_frame(&f, &p, (uint8_t)dscp, 0);
				assert_int_equal(b[off + 1], dscp << 2 | ecn);
				assert_int_equal(get16(b + off + 10), recompute(b + off));
				assert_int_equal(pb_csum(b + off, 20 + opt), 0);
				assert_memory_equal(b, f.b, off + 1);
				assert_memory_equal(b + off + 2, f.b + off + 2, 8);
				assert_memory_equal(b + off + 12, f.b + off + 12, f.len - off - 12);
				free(b);
			}
		}
	}
}

static void test_v4_known_values(void **state)
{
	struct pb f;
	struct sl_pkt p;
	uint8_t *b;

	(void)state;
	/* CE-marked best effort to EF (46): TOS 0x03 -> 0xbb */
	build_v4(&f, &p, 0, 0x03, 0);
	b = mark_frame(&f, &p, 46, 0);
	assert_int_equal(b[15], 0xbb);
	assert_int_equal(get16(b + 24), recompute(b + 14));
	free(b);

	/* same DSCP as already set: frame byte for byte unchanged */
	build_v4(&f, &p, 1, 46 << 2 | 1, 8);
	b = mark_frame(&f, &p, 46, 0);
	assert_memory_equal(b, f.b, f.len);
	free(b);
}

/* A frame whose ports are truncated is malformed, but its IP header can be marked. */
static void test_v4_malformed_l4(void **state)
{
	struct pb f;
	struct sl_pkt p;
	uint32_t ip;
	uint8_t *b;

	(void)state;
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0800);
	ip = pb_ipv4(&f, 0, 0, 6, 1, 2, 0);
	pb_u16(&f, 80);
	pb_ipv4_fin(&f, ip, 0);
	assert_int_equal(sl_parse(f.b, f.len, &p), -EINVAL);
	assert_int_equal(p.flags, SL_PKT_IPV4 | SL_PKT_MALFORMED);
	b = mark_frame(&f, &p, 10, 0);
	assert_int_equal(b[15], 10 << 2);
	assert_int_equal(get16(b + 24), recompute(b + 14));
	free(b);
}

static void test_v6_frames(void **state)
{
	static const uint32_t flows[] = { 0, 1, 0xabcde, 0xfffff };
	struct pb f;
	struct sl_pkt p;

	(void)state;
	for (unsigned ntags = 0; ntags <= 2; ntags++) {
		for (unsigned fl = 0; fl < 4; fl++) {
			for (unsigned tc = 0; tc < 256; tc += 5) {
				unsigned dscp = (tc * 7 + fl) & 63, off = 14 + 4 * ntags;
				uint32_t want = 6u << 28 | (dscp << 2 | (tc & 3)) << 20 | flows[fl];
				uint8_t *b;

				build_v6(&f, &p, ntags, (uint8_t)tc, flows[fl]);
				b = mark_frame(&f, &p, (uint8_t)dscp, 0);
				assert_int_equal((uint32_t)get16(b + off) << 16 | get16(b + off + 2),
						 want);
				assert_memory_equal(b, f.b, off);
				assert_memory_equal(b + off + 4, f.b + off + 4, f.len - off - 4);
				free(b);
			}
		}
	}
}

static void test_v6_known_values(void **state)
{
	struct pb f;
	struct sl_pkt p;
	uint8_t *b;

	(void)state;
	/* TC 0xab (DSCP 42, ECN 3), flow 0xabcde -> DSCP 10: bytes 62 ba bc de */
	build_v6(&f, &p, 1, 0xab, 0xabcde);
	b = mark_frame(&f, &p, 10, 0);
	assert_int_equal(b[18], 0x62);
	assert_int_equal(b[19], 0xba);
	assert_int_equal(b[20], 0xbc);
	assert_int_equal(b[21], 0xde);
	free(b);
}

/* Every refusal leaves the frame untouched. */
static void expect_refused(const struct pb *f, uint32_t caplen, const struct sl_pkt *p,
			   uint8_t dscp)
{
	uint8_t *b = pb_dup(f, caplen);

	if (caplen)
		assert_non_null(b);
	assert_int_equal(sl_mark_dscp(b, caplen, p, dscp), -EINVAL);
	if (caplen)
		assert_memory_equal(b, f->b, caplen);
	free(b);
}

static void test_refusals(void **state)
{
	struct pb f;
	struct sl_pkt p, q;

	(void)state;
	/* not IP */
	pb_init(&f);
	pb_macs(&f);
	pb_u16(&f, 0x0806);
	pb_fill(&f, 0x45, 46);
	assert_int_equal(sl_parse(f.b, f.len, &p), 0);
	expect_refused(&f, f.len, &p, 10);

	/* IPv4: header not within caplen, bad DSCP, p inconsistent with the frame */
	build_v4(&f, &p, 1, 0, 0);
	expect_refused(&f, 18 + 19, &p, 10);
	expect_refused(&f, 18, &p, 10);
	expect_refused(&f, 0, &p, 10);
	expect_refused(&f, f.len, &p, 64);
	expect_refused(&f, f.len, &p, 255);
	q = p;
	q.l3_off = (uint16_t)(f.len + 1);
	expect_refused(&f, f.len, &q, 10);
	q = p;
	q.flags = SL_PKT_MALFORMED;	/* header never validated */
	expect_refused(&f, f.len, &q, 10);

	/* IPv4 with 20 bytes of options: the full header must be in caplen */
	build_v4(&f, &p, 0, 0, 20);
	expect_refused(&f, 14 + 39, &p, 10);
	q = p;
	q.flags = SL_PKT_IPV6;		/* 40 bytes there, but the version nibble says 4 */
	expect_refused(&f, f.len, &q, 10);
	f.b[14] = 0x35;			/* version 3 */
	expect_refused(&f, f.len, &p, 10);
	f.b[14] = 0x44;			/* IHL 4 */
	expect_refused(&f, f.len, &p, 10);

	/* IPv6: 40 bytes needed, version must match */
	build_v6(&f, &p, 2, 0x10, 5);
	expect_refused(&f, 22 + 39, &p, 10);
	expect_refused(&f, f.len, &p, 64);
	q = p;
	q.flags = SL_PKT_IPV4;
	expect_refused(&f, f.len, &q, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_random_headers),
		cmocka_unit_test(test_v4_checksum_zero_before),
		cmocka_unit_test(test_v4_checksum_zero_after),
		cmocka_unit_test(test_v4_checksum_ffff_stored),
		cmocka_unit_test(test_v4_frames),
		cmocka_unit_test(test_v4_known_values),
		cmocka_unit_test(test_v4_malformed_l4),
		cmocka_unit_test(test_v6_frames),
		cmocka_unit_test(test_v6_known_values),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
