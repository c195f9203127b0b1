/* sl_units.h - operator units: rates (bit kbit mbit gbit tbit, pps kpps mpps), sizes
 * (B KB MB GB KiB MiB GiB, pkt) and durations (Nus Nms Ns Nm Nh Nd). Exact integers, no floats. */
#ifndef SL_UNITS_H
#define SL_UNITS_H

#include <stdint.h>
#include "sl_config.h"

/*
 * "8mbit" -> unit BITS, amount 8000000 per 1e9 ns; "1.5kbit" -> 1500/1e9; "0.5pps" -> 5 per 1e10
 * (decimals kept exact by scaling per_ns); SI multipliers (k=1e3, m=1e6, g=1e9, t=1e12).
 * A number without unit, "mbps"/"MBps"/"Mbps" style units and any other spelling are refused
 * with *err set to a static message that names the problem (for mbps: that it is ambiguous
 * between bits and bytes, and to write mbit or convert bytes to bits). Returns 0 or -EINVAL.
 */
int sl_parse_rate(const char *s, enum sl_unit *unit, uint64_t *amount, uint64_t *per_ns,
		  const char **err);

/*
 * "20000B" "1.5KB" "2MiB" -> unit BITS, *v = size in bits (must be a whole number of bytes);
 * "10pkt" -> unit PACKETS, *v = 10 (whole packets). Returns 0 or -EINVAL with *err.
 */
int sl_parse_size(const char *s, enum sl_unit *unit, uint64_t *v, const char **err);

/* "20ms" "30s" "1m" "1h" "1d" (whole numbers, >0; also us) -> nanoseconds. Returns 0 or -EINVAL with *err. */
int sl_parse_duration(const char *s, uint64_t *ns, const char **err);

#endif
