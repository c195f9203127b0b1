/* sl_pkt.h - what the parser extracts from one frame: the fields classification,
 * per-key lookup and egress marking read. Plain data, no EAL. */
#ifndef SL_PKT_H
#define SL_PKT_H

#include <stdint.h>

#define SL_VLAN_NONE 0xffffu	/* no tag present */

/* sl_pkt.flags */
#define SL_PKT_MALFORMED 0x01	/* L2/L3/L4 headers truncated or inconsistent: not classifiable */
#define SL_PKT_IPV4 0x02	/* src/dst hold an IPv4 address in bytes 0..3, rest zero */
#define SL_PKT_IPV6 0x04	/* src/dst hold an IPv6 address */
#define SL_PKT_PORTS 0x08	/* sport/dport valid (TCP, UDP, SCTP or UDP-Lite header here) */
#define SL_PKT_FRAG 0x10	/* IP fragment (first or later); later ones carry no ports */

struct sl_pkt {
	uint8_t src[16];	/* network byte order */
	uint8_t dst[16];
	uint16_t sport;		/* host byte order; 0 unless SL_PKT_PORTS */
	uint16_t dport;
	uint16_t vlan;		/* outer VLAN ID (0..4095) or SL_VLAN_NONE */
	uint16_t inner_vlan;	/* inner VLAN ID of QinQ or SL_VLAN_NONE */
	uint16_t l3_off;	/* offset of the IP header in the frame (0 if not IP) */
	uint16_t ethertype;	/* host byte order, after all VLAN tags */
	uint8_t proto;		/* IP protocol after IPv6 extension headers; 0 if not IP */
	uint8_t flags;		/* SL_PKT_* */
	uint8_t tcp_flags;	/* TCP flags byte when proto is TCP and SL_PKT_PORTS */
	uint8_t pad[1];
};

_Static_assert(sizeof(struct sl_pkt) == 48, "sl_pkt is 48 bytes");

#endif
