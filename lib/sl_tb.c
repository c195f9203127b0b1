/* sl_tb.c - control path of the token buckets: compile operator rates into fixed-point
 * params for a given clock. Float maths lives here only. */
#include <errno.h>
#include <math.h>
#include "sl_tb.h"

#define SL_TB_MAX_FP (1ull << 62)
#define SL_TB_MIN_RATE (1ull << 10)

static unsigned bitlen(uint64_t v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

int sl_tb_compile(const struct sl_cfg_bucket *b, enum sl_unit unit, uint64_t hz,
		  struct sl_tb_params *out, const char **err)
{
	unsigned shift, cap = unit == SL_UNIT_BITS ? 43 : 61;
	long double r;

	if (!b->amount || !b->per_ns || !b->burst || !hz || b->burst > (1ull << 50)) {
		*err = "rate, period, burst and clock must be positive (burst <= 2^50)";
		return -ERANGE;
	}
	/* largest shift with burst << shift <= 2^62 */
	shift = 62 - bitlen(b->burst);
	if ((b->burst << (shift + 1)) <= SL_TB_MAX_FP && shift < 62)
		shift++;
	if (shift > cap)
		shift = cap;
	r = (long double)b->amount * 1e9L * ldexpl(1.0L, (int)shift) /
	    ((long double)b->per_ns * (long double)hz);
	r = ceill(r);	/* round up: a packet due exactly at a tick boundary conforms */
	if (r < (long double)SL_TB_MIN_RATE) {
		*err = "rate too small for its burst to be policed exactly at this clock";
		return -ERANGE;
	}
	if (r > (long double)SL_TB_MAX_FP) {
		*err = "rate too large for this clock (more than 2^62 units per tick)";
		return -ERANGE;
	}
	out->rate = (uint64_t)r;
	out->burst = b->burst << shift;
	out->fill_ticks = (out->burst + out->rate - 1) / out->rate;
	out->shift = shift;
	out->pad = 0;
	return 0;
}

uint64_t sl_tb_fill_ticks_max(const struct sl_tb_params *p, unsigned nb)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < nb; i++)
		m = p[i].fill_ticks > m ? p[i].fill_ticks : m;
	return m;
}
