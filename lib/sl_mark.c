/* sl_mark.c - egress DSCP rewrite in place: IPv4 TOS with the RFC 1624 incremental header
 * checksum update, IPv6 traffic class. ECN bits, flow label and every other byte are kept. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include "sl_mark.h"

#define IP4_HLEN 20
#define IP6_HLEN 40
#define DSCP_MAX 63

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') in one's complement arithmetic, where m/m' are the
 * old/new 16-bit word. The sum is at most 3 * 0xffff; one end-around-carry fold brings it to at
 * most 0x10001, a second to at most 0xffff. The result equals a full recomputation for a valid
 * header: ~m is never 0 (the word holds version 4), a fold of a non-zero sum is never 0, so the
 * new checksum is never 0xffff; a full recomputation over a header with a non-zero word never
 * gives 0xffff either, and both are congruent mod 0xffff, hence equal (0x0000 included).
 */
static inline uint16_t csum_update16(uint16_t hc, uint16_t m, uint16_t m_new)
{
	uint32_t s = (uint16_t)~hc + (uint32_t)(uint16_t)~m + m_new;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline uint16_t rd16(const uint8_t *b)
{
	uint16_t v;

	memcpy(&v, b, sizeof(v));
	return ntohs(v);
}

static inline void wr16(uint8_t *b, uint16_t v)
{
	v = htons(v);
	memcpy(b, &v, sizeof(v));
}

static inline int mark_ipv4(uint8_t *ip, uint32_t avail, uint8_t dscp)
{
	uint8_t tos;
	uint16_t m;

	if (avail < IP4_HLEN || (ip[0] >> 4) != 4 || (ip[0] & 0x0fu) < 5 ||
	    (ip[0] & 0x0fu) * 4u > avail)
		return -EINVAL;
	tos = (uint8_t)(dscp << 2) | (ip[1] & 0x03);
	if (tos == ip[1])
		return 0;
	m = rd16(ip);
	ip[1] = tos;
	wr16(ip + 10, csum_update16(rd16(ip + 10), m, rd16(ip)));
	return 0;
}

/* Bytes 0-1: version(4) | DSCP(6) ECN(2) | flow label(20); DSCP spans both bytes. */
static inline int mark_ipv6(uint8_t *ip, uint32_t avail, uint8_t dscp)
{
	if (avail < IP6_HLEN || (ip[0] >> 4) != 6)
		return -EINVAL;
	ip[0] = (ip[0] & 0xf0) | (dscp >> 2);
	ip[1] = (uint8_t)((dscp & 0x03) << 6) | (ip[1] & 0x3f);
	return 0;
}

/*
 * Trusts p only for the family flag and l3_off; the IP version nibble and header length are
 * checked again against caplen. SL_PKT_MALFORMED does not refuse: a frame whose L4 is
 * truncated still has a valid IP header to mark.
 */
int sl_mark_dscp(uint8_t *frame, uint32_t caplen, const struct sl_pkt *p, uint8_t dscp)
{
	uint32_t off = p->l3_off;

	if (dscp > DSCP_MAX || off > caplen)
		return -EINVAL;
	if (p->flags & SL_PKT_IPV4)
		return mark_ipv4(frame + off, caplen - off, dscp);
	if (p->flags & SL_PKT_IPV6)
		return mark_ipv6(frame + off, caplen - off, dscp);
	return -EINVAL;
}
