/* sl_parse.h - L2-L4 parser: Ethernet, 802.1Q/802.1ad (QinQ), IPv4 (options, fragments),
 * IPv6 (extension headers), TCP/UDP ports. Never reads past caplen. No EAL. */
#ifndef SL_PARSE_H
#define SL_PARSE_H

#include <stdint.h>
#include "sl_pkt.h"

/*
 * Parse the first caplen bytes of a frame into *p (every field is written).
 * Returns 0, or -EINVAL when the frame is malformed (p->flags has SL_PKT_MALFORMED):
 * Ethernet header or VLAN tag truncated; IPv4/IPv6 header truncated or inconsistent
 * (version, IHL < 5, header longer than the frame); an IPv6 extension header chain
 * truncated or longer than 8 headers; a TCP/UDP first fragment or unfragmented packet whose ports are truncated.
 * Non-IP ethertypes are not malformed: l3 flags stay clear, proto 0.
 * ICMP and other protocols: not malformed, no ports.
 */
int sl_parse(const uint8_t *frame, uint32_t caplen, struct sl_pkt *p);

#endif
