/* pkt_build.h - test-only frame builder: Ethernet, VLAN tags, IPv4 (options, fragments), IPv6
 * (extension headers), TCP/UDP/ICMP, and the full IPv4 header checksum. Header-only. */
#ifndef PKT_BUILD_H
#define PKT_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PB_MAX 2048

struct pb {
	uint8_t b[PB_MAX];
	uint32_t len;
};

static inline void pb_init(struct pb *f)
{
	memset(f, 0, sizeof(*f));
}

static inline void pb_u8(struct pb *f, uint8_t v)
{
	if (f->len < PB_MAX)
		f->b[f->len++] = v;
}

static inline void pb_u16(struct pb *f, uint16_t v)
{
	pb_u8(f, v >> 8);
	pb_u8(f, v & 0xff);
}

static inline void pb_u32(struct pb *f, uint32_t v)
{
	pb_u16(f, v >> 16);
	pb_u16(f, v & 0xffff);
}

static inline void pb_fill(struct pb *f, uint8_t v, uint32_t n)
{
	while (n--)
		pb_u8(f, v);
}

static inline void pb_put16(struct pb *f, uint32_t at, uint16_t v)
{
	f->b[at] = v >> 8;
	f->b[at + 1] = v & 0xff;
}

/* Destination and source MAC; follow with pb_tag()s and pb_u16(ethertype). */
static inline void pb_macs(struct pb *f)
{
	static const uint8_t mac[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	for (unsigned i = 0; i < sizeof(mac); i++)
		pb_u8(f, mac[i]);
}

static inline void pb_tag(struct pb *f, uint16_t tpid, uint16_t tci)
{
	pb_u16(f, tpid);
	pb_u16(f, tci);
}

/* A frame's start: MACs, then untagged (vlan < 0), 802.1Q tagged, or QinQ when inner >= 0
 * (outer tag vlan with TPID 0x88a8, which the parser's inline fast path leaves to the complete
 * parser; inner 0x8100), then the ethertype. */
static inline void pb_l2(struct pb *f, int vlan, int inner, uint16_t ethertype)
{
	pb_init(f);
	pb_macs(f);
	if (vlan >= 0)
		pb_tag(f, inner >= 0 ? 0x88a8 : 0x8100, (uint16_t)vlan);
	if (inner >= 0)
		pb_tag(f, 0x8100, (uint16_t)inner);
	pb_u16(f, ethertype);
}

/* One's complement checksum of n bytes (n even), as stored in the header. */
static inline uint16_t pb_csum(const uint8_t *b, uint32_t n)
{
	uint32_t s = 0;

	for (uint32_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* IPv4 header with optlen bytes of NOP options (optlen multiple of 4); returns its offset. */
static inline uint32_t pb_ipv4(struct pb *f, uint8_t tos, uint16_t frag, uint8_t proto,
			       uint32_t src, uint32_t dst, uint32_t optlen)
{
	uint32_t off = f->len;

	pb_u8(f, 0x40 | (uint8_t)((20 + optlen) / 4));
	pb_u8(f, tos);
	pb_u16(f, 0);		/* total length: pb_ipv4_fin */
	pb_u16(f, 0x1234);	/* id */
	pb_u16(f, frag);
	pb_u8(f, 64);
	pb_u8(f, proto);
	pb_u16(f, 0);		/* checksum: pb_ipv4_fin */
	pb_u32(f, src);
	pb_u32(f, dst);
	pb_fill(f, 0x01, optlen);
	return off;
}

/* Total length = tot (0: up to the current end of the frame), then the header checksum. */
static inline void pb_ipv4_fin(struct pb *f, uint32_t off, uint16_t tot)
{
	uint32_t hl = (f->b[off] & 0x0f) * 4u;

	pb_put16(f, off + 2, tot ? tot : (uint16_t)(f->len - off));
	pb_put16(f, off + 10, 0);
	pb_put16(f, off + 10, pb_csum(f->b + off, hl));
}

/* IPv6 header; returns its offset. */
static inline uint32_t pb_ipv6(struct pb *f, uint8_t tc, uint32_t flow, uint8_t nh,
			       const uint8_t src[16], const uint8_t dst[16])
{
	uint32_t off = f->len;

	pb_u32(f, 6u << 28 | (uint32_t)tc << 20 | (flow & 0xfffff));
	pb_u16(f, 0);		/* payload length: pb_ipv6_fin */
	pb_u8(f, nh);
	pb_u8(f, 64);
	for (unsigned i = 0; i < 16; i++)
		pb_u8(f, src[i]);
	for (unsigned i = 0; i < 16; i++)
		pb_u8(f, dst[i]);
	return off;
}

/* Payload length = plen (0: up to the current end of the frame). */
static inline void pb_ipv6_fin(struct pb *f, uint32_t off, uint16_t plen)
{
	pb_put16(f, off + 4, plen ? plen : (uint16_t)(f->len - off - 40));
}

/* Hop-by-hop, routing or destination options header of (len8 + 1) * 8 bytes. */
static inline void pb_ext(struct pb *f, uint8_t nh, uint8_t len8)
{
	pb_u8(f, nh);
	pb_u8(f, len8);
	pb_fill(f, 0, (len8 + 1u) * 8 - 2);
}

/* Fragment header: offset in 8-byte units, m = more fragments. */
static inline void pb_frag6(struct pb *f, uint8_t nh, uint16_t offset, int m)
{
	pb_u8(f, nh);
	pb_u8(f, 0);
	pb_u16(f, (uint16_t)(offset << 3 | (m ? 1 : 0)));
	pb_u32(f, 0xabcd0001);
}

/* Authentication header of (len4 + 2) * 4 bytes. */
static inline void pb_ah(struct pb *f, uint8_t nh, uint8_t len4)
{
	pb_u8(f, nh);
	pb_u8(f, len4);
	pb_fill(f, 0xa5, (len4 + 2u) * 4 - 2);
}

static inline void pb_tcp(struct pb *f, uint16_t sport, uint16_t dport, uint8_t flags)
{
	pb_u16(f, sport);
	pb_u16(f, dport);
	pb_u32(f, 1000);	/* seq */
	pb_u32(f, 0);		/* ack */
	pb_u8(f, 5 << 4);	/* data offset */
	pb_u8(f, flags);
	pb_u16(f, 65535);	/* window */
	pb_u32(f, 0);		/* checksum, urgent pointer */
}

static inline void pb_udp(struct pb *f, uint16_t sport, uint16_t dport, uint16_t paylen)
{
	pb_u16(f, sport);
	pb_u16(f, dport);
	pb_u16(f, 8 + paylen);
	pb_u16(f, 0);
	pb_fill(f, 0x5a, paylen);
}

/* A UDP/IPv4 frame of exactly len bytes, headers included, src:sport -> dst:dport, tags as
 * pb_l2's. */
static inline void pb_udp4(struct pb *f, int vlan, int inner, uint32_t src, uint32_t dst,
			   uint8_t tos, uint16_t sport, uint16_t dport, uint32_t len)
{
	uint32_t l3, hdr = 14 + (vlan >= 0 ? 4 : 0) + (inner >= 0 ? 4 : 0) + 20 + 8;

	pb_l2(f, vlan, inner, 0x0800);
	l3 = pb_ipv4(f, tos, 0, 17, src, dst, 0);
	pb_udp(f, sport, dport, (uint16_t)(len - hdr));
	pb_ipv4_fin(f, l3, 0);
}

static inline void pb_icmp(struct pb *f, uint8_t type, uint8_t code)
{
	pb_u8(f, type);
	pb_u8(f, code);
	pb_u16(f, 0);
	pb_u32(f, 0x00010001);
}

/* malloc'ed copy of the first n bytes, exactly n bytes long (ASan and valgrind see any
 * over-read; n = 0 may give NULL, which a correct parser never dereferences). */
static inline uint8_t *pb_dup(const struct pb *f, uint32_t n)
{
	uint8_t *m = malloc(n);

	if (m && n)
		memcpy(m, f->b, n);
	return m;
}

#endif
