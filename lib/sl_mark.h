/* sl_mark.h - egress rewrite of the DSCP field: IPv4 TOS with an incremental
 * header checksum update (RFC 1624), IPv6 traffic class. No EAL. */
#ifndef SL_MARK_H
#define SL_MARK_H

#include <stdint.h>
#include "sl_pkt.h"

/*
 * Set the DSCP (upper 6 bits of TOS / traffic class; ECN bits kept) of the IP header
 * at p->l3_off in frame (caplen readable/writable bytes), p filled by sl_parse.
 * Returns 0, or -EINVAL when dscp > 63, the frame is not IPv4/IPv6 or the header is not in
 * caplen (frame untouched). A frame flagged malformed only for its ports is still marked.
 */
int sl_mark_dscp(uint8_t *frame, uint32_t caplen, const struct sl_pkt *p, uint8_t dscp);

#endif
