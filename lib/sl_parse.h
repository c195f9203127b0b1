/* sl_parse.h - L2-L4 parser: Ethernet, 802.1Q/802.1ad (QinQ), IPv4 (options, fragments),
 * IPv6 (extension headers), TCP/UDP ports. Never reads past caplen. No EAL.
 * sl_parse() is an inline fast path for IPv4 (IHL 5, not a fragment) and IPv6 directly followed
 * by TCP or UDP, untagged or with one 802.1Q tag; every other frame goes to sl_parse_slow(),
 * the complete parser. */
#ifndef SL_PARSE_H
#define SL_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "sl_pkt.h"

/*
 * The complete parser, and the reference the fast path must match byte for byte.
 * Parses the first caplen bytes of a frame into *p (every field is written).
 * Returns 0, or -EINVAL when the frame is malformed (p->flags has SL_PKT_MALFORMED):
 * Ethernet header or VLAN tag truncated; IPv4/IPv6 header truncated or inconsistent
 * (version, IHL < 5, header longer than the frame); an IPv6 extension header chain
 * truncated or longer than 8 headers; a TCP/UDP first fragment or unfragmented packet whose ports are truncated.
 * Non-IP ethertypes are not malformed: l3 flags stay clear, proto 0.
 * ICMP and other protocols: not malformed, no ports.
 * frame may be NULL when caplen is 0. Any thread; reads only frame, writes only *p.
 */
int sl_parse_slow(const uint8_t *frame, uint32_t caplen, struct sl_pkt *p);

/*
 * int sl_parse(const uint8_t *frame, uint32_t caplen, struct sl_pkt *p)
 * Same contract and same bytes in *p as sl_parse_slow(); cheaper for the common case.
 * int sl_parse_fast(frame, caplen, p): that common case alone; 1 when it parsed the frame
 * (sl_parse would return 0), 0 when the frame needs sl_parse_slow (*p not written).
 */

/* ---- inline implementation ---- */

#ifdef __SSE2__
#include <emmintrin.h>

/* The fast path writes bytes 32..47 as one 16-byte vector of 32-bit lanes [sport | dport << 16,
 * vlan | inner_vlan << 16, l3_off | ethertype << 16, proto | flags << 8 | tcp_flags << 16]
 * (x86, little-endian): these offsets must not move. */
_Static_assert(offsetof(struct sl_pkt, src) == 0, "sl_pkt.src at 0");
_Static_assert(offsetof(struct sl_pkt, dst) == 16, "sl_pkt.dst at 16");
_Static_assert(offsetof(struct sl_pkt, sport) == 32, "sl_pkt.sport at 32");
_Static_assert(offsetof(struct sl_pkt, dport) == 34, "sl_pkt.dport at 34");
_Static_assert(offsetof(struct sl_pkt, vlan) == 36, "sl_pkt.vlan at 36");
_Static_assert(offsetof(struct sl_pkt, inner_vlan) == 38, "sl_pkt.inner_vlan at 38");
_Static_assert(offsetof(struct sl_pkt, l3_off) == 40, "sl_pkt.l3_off at 40");
_Static_assert(offsetof(struct sl_pkt, ethertype) == 42, "sl_pkt.ethertype at 42");
_Static_assert(offsetof(struct sl_pkt, proto) == 44, "sl_pkt.proto at 44");
_Static_assert(offsetof(struct sl_pkt, flags) == 45, "sl_pkt.flags at 45");
_Static_assert(offsetof(struct sl_pkt, tcp_flags) == 46, "sl_pkt.tcp_flags at 46");
_Static_assert(offsetof(struct sl_pkt, pad) == 47, "sl_pkt.pad at 47");

/* Bytes the fast path needs: Ethernet, the IP header and the L4 bytes it reads (TCP up to its
 * flags byte, the UDP header). */
#define SL_PARSE_FAST_TCP 14
#define SL_PARSE_FAST_UDP 8
#define SL_PARSE_FAST_V4_MIN (14 + 20 + SL_PARSE_FAST_UDP)
#define SL_PARSE_FAST_V6_MIN (14 + 40 + SL_PARSE_FAST_UDP)

static inline uint32_t sl_parse_ld32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

static inline uint16_t sl_parse_ld16(const uint8_t *b)	/* as stored: big-endian on the wire */
{
	uint16_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

/*
 * Store the three 16-byte rows of *p for a TCP or UDP packet: src and dst rows as given, l4 at
 * the ports (the caller checked the L4 bytes read here: 14 for TCP, 8 for UDP). proto, flags,
 * et and l3_off are compile-time constants at each call, and vlan (the vlan and inner_vlan
 * fields) too for an untagged frame, so the last row is the ports ORed into a constant.
 */
static inline __attribute__((always_inline)) void
sl_parse_fast_store(struct sl_pkt *p, __m128i src, __m128i dst, const uint8_t *l4, uint8_t proto,
		    uint8_t flags, uint16_t et, uint32_t vlan, unsigned l3_off)
{
	uint32_t ports = __builtin_bswap32(sl_parse_ld32(l4));
	__m128i row;

	/* bswap32 also swapped sport and dport: rotate them back */
	ports = ports >> 16 | ports << 16;
	row = _mm_or_si128(_mm_cvtsi32_si128((int)ports),
			   _mm_set_epi32(proto | (flags | SL_PKT_PORTS) << 8,
					 (int)((uint32_t)et << 16 | l3_off), (int)vlan, 0));
	if (proto == 6)
		row = _mm_insert_epi16(row, l4[13], 7);
	_mm_storeu_si128((__m128i_u *)(void *)p->src, src);
	_mm_storeu_si128((__m128i_u *)(void *)p->dst, dst);
	_mm_storeu_si128((__m128i_u *)(void *)&p->sport, row);
}

/*
 * The fast path's L4 step: for TCP with at least SL_PARSE_FAST_TCP or UDP with at least
 * SL_PARSE_FAST_UDP L4 bytes (len, within datagram and capture), store *p and return 1;
 * else 0 (the complete parser decides). One branch per protocol with constant fields.
 */
static inline __attribute__((always_inline)) int
sl_parse_fast_l4(struct sl_pkt *p, __m128i src, __m128i dst, const uint8_t *l4, uint8_t proto,
		 uint32_t len, uint8_t flags, uint16_t et, uint32_t vlan, unsigned l3_off)
{
	if (proto == 17 && len >= SL_PARSE_FAST_UDP)
		sl_parse_fast_store(p, src, dst, l4, 17, flags, et, vlan, l3_off);
	else if (proto == 6 && len >= SL_PARSE_FAST_TCP)
		sl_parse_fast_store(p, src, dst, l4, 6, flags, et, vlan, l3_off);
	else
		return 0;
	return 1;
}

/*
 * IPv4 with IHL 5, not a fragment, followed by TCP or UDP; f is the frame moved forward by the
 * bytes of its VLAN tag (tag: 0 or 4, a constant at each call), so that f + 12 is the
 * ethertype and f + 14 the IP header, and c is caplen - tag (at least SL_PARSE_FAST_V4_MIN).
 * The datagram ends at min(total length, c - 14); MF and offset clear (0xff3f is 0x3fff as
 * loaded).
 */
static inline __attribute__((always_inline)) int
sl_parse_fast_v4(const uint8_t *f, uint32_t c, struct sl_pkt *p, unsigned tag, uint32_t vlan)
{
	uint32_t l4 = __builtin_bswap16(sl_parse_ld16(f + 16));	/* total length */

	l4 = (l4 < c - 14 ? l4 : c - 14) - 20;	/* L4 bytes */
	if (l4 > 0xffff || (sl_parse_ld16(f + 20) & 0xff3fu))
		return 0;
	return sl_parse_fast_l4(p, _mm_cvtsi32_si128((int)sl_parse_ld32(f + 26)),
				_mm_cvtsi32_si128((int)sl_parse_ld32(f + 30)), f + 34, f[23], l4,
				SL_PKT_IPV4, 0x0800, vlan, 14 + tag);
}

/* IPv6 directly followed by TCP or UDP, ending at min(40 + payload length, c - 14); f, c, tag
 * as for sl_parse_fast_v4. */
static inline __attribute__((always_inline)) int
sl_parse_fast_v6(const uint8_t *f, uint32_t c, struct sl_pkt *p, unsigned tag, uint32_t vlan)
{
	uint32_t l4 = __builtin_bswap16(sl_parse_ld16(f + 18));	/* payload length */

	if (c < SL_PARSE_FAST_V6_MIN)
		return 0;
	l4 = l4 < c - 54 ? l4 : c - 54;
	return sl_parse_fast_l4(p, _mm_loadu_si128((const __m128i_u *)(const void *)(f + 22)),
				_mm_loadu_si128((const __m128i_u *)(const void *)(f + 38)), f + 54,
				f[20], l4, SL_PKT_IPV6, 0x86dd, vlan, 14 + tag);
}

/* f, c, tag, vlan as for sl_parse_fast_v4; h: the 4 bytes at f + 12 (the ethertype and the
 * first two IP bytes, as loaded). 1: parsed, 0: IP the fast path does not take, -1: h is
 * neither IPv4 with IHL 5 nor IPv6. */
static inline __attribute__((always_inline)) int
sl_parse_fast_ip(const uint8_t *f, uint32_t c, struct sl_pkt *p, unsigned tag, uint32_t vlan,
		 uint32_t h)
{
	if (__builtin_expect((h & 0x00ffffffu) == 0x00450008u, 1))
		return sl_parse_fast_v4(f, c, p, tag, vlan);
	if ((h & 0x00f0ffffu) == 0x0060dd86u)
		return sl_parse_fast_v6(f, c, p, tag, vlan);
	return -1;
}

/* Untagged, then one 802.1Q tag (TPID 0x8100); other tags and stacks are the complete
 * parser's. Loads stay within the first SL_PARSE_FAST_V4_MIN (+ 4) bytes until caplen has been
 * checked against the protocol's need. */
static inline int sl_parse_fast(const uint8_t *frame, uint32_t caplen, struct sl_pkt *p)
{
	uint32_t h;
	int r;

	if (__builtin_expect(caplen < SL_PARSE_FAST_V4_MIN, 0))
		return 0;
	h = sl_parse_ld32(frame + 12);
	r = sl_parse_fast_ip(frame, caplen, p, 0, 0xffffffffu, h);
	if (r >= 0)
		return r;
	if ((h & 0xffffu) == 0x0081u && caplen >= SL_PARSE_FAST_V4_MIN + 4)
		/* vlan: the tag's VLAN ID; inner_vlan: none */
		return sl_parse_fast_ip(frame + 4, caplen - 4, p, 4,
					(__builtin_bswap16((uint16_t)(h >> 16)) & 0x0fffu) | 0xffff0000u,
					sl_parse_ld32(frame + 16)) > 0;
	return 0;
}

#else	/* no SSE2: the complete parser only */

static inline int sl_parse_fast(const uint8_t *frame, uint32_t caplen, struct sl_pkt *p)
{
	(void)frame, (void)caplen, (void)p;
	return 0;
}

#endif

static inline int sl_parse(const uint8_t *frame, uint32_t caplen, struct sl_pkt *p)
{
	return sl_parse_fast(frame, caplen, p) ? 0 : sl_parse_slow(frame, caplen, p);
}

#endif
