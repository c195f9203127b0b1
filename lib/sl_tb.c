/* sl_tb.c - control path of the token buckets: compile operator rates into fixed-point
 * params for a given clock. Float maths lives here only. */
#include <errno.h>
#include <math.h>
#include "sl_tb.h"

#define SL_TB_MAX_FP (1ull << 62)
#define SL_TB_MIN_RATE (1ull << 8)

static unsigned bitlen(uint64_t v)	/* bits needed for v */
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

/* Params of bucket b at a given shift, or -ERANGE when that shift cannot hold it. */
static int compile_at(const struct sl_cfg_bucket *b, uint64_t hz, unsigned shift,
		      struct sl_tb_params *out, const char **err)
{
	long double r;

	if (b->burst > (SL_TB_MAX_FP >> shift)) {
		*err = "burst too large for the bucket's fixed-point scale";
		return -ERANGE;
	}
	r = ceill((long double)b->amount * 1e9L * ldexpl(1.0L, (int)shift) /
		  ((long double)b->per_ns * (long double)hz));
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

int sl_tb_compile(const struct sl_cfg_bucket *b, enum sl_unit unit, uint64_t hz, int shift_hint,
		  struct sl_tb_params *out, const char **err)
{
	unsigned shift, cap = unit == SL_UNIT_BITS ? 43 : 61;

	if (!b->amount || !b->per_ns || !b->burst || !hz || b->burst > (1ull << 50)) {
		*err = "rate, period, burst and clock must be positive (burst <= 2^50)";
		return -ERANGE;
	}
	/* the previous scale, when it can hold this bucket: tokens carry over unchanged */
	if (shift_hint >= 0 && (unsigned)shift_hint <= cap &&
	    compile_at(b, hz, (unsigned)shift_hint, out, err) == 0)
		return 0;
	/* largest shift leaving SL_TB_HEADROOM bits for the burst to grow in later reloads */
	shift = 62 - SL_TB_HEADROOM - bitlen(b->burst);
	if (shift > cap)
		shift = cap;
	return compile_at(b, hz, shift, out, err);
}

uint64_t sl_tb_fill_ticks_max(const struct sl_tb_params *p, unsigned nb)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < nb; i++)
		m = p[i].fill_ticks > m ? p[i].fill_ticks : m;
	return m;
}

int sl_tb_compile_shape(const struct sl_cfg_bucket *b, uint64_t debt, enum sl_unit unit,
			uint64_t hz, int shift_hint, struct sl_tb_params *out, uint64_t *floor,
			const char **err)
{
	struct sl_cfg_bucket w = *b;
	int r;

	if (debt > (1ull << 50) || b->burst > (1ull << 50)) {
		*err = "burst and the debt of max-delay (or queue) must be at most 2^50 tokens";
		return -ERANGE;
	}
	/* the scale of everything the bucket spans, floor to full; fill_ticks spans it too */
	w.burst = b->burst + debt;
	r = sl_tb_compile(&w, unit, hz, shift_hint, out, err);
	if (r)
		return r;
	*floor = SL_TB_SHAPE_ZERO - (debt << out->shift);
	out->burst = SL_TB_SHAPE_ZERO + (b->burst << out->shift);
	return 0;
}
