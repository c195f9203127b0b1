/* sl_tb.h - token buckets in fixed-point integer arithmetic with the clock passed in:
 * read-only params compiled once in the control path (sl_tb.c), inline conform check below. */
#ifndef SL_TB_H
#define SL_TB_H

#include <stdint.h>
#include "sl_config.h"

/*
 * Fixed-point maths. A bucket counts tokens in units of 2^-shift token (a token is one bit in
 * byte mode, one packet in packet mode). The clock is in ticks of `hz` (TSC cycles live,
 * nanoseconds in replay). Compiled from {amount per per_ns, burst}:
 *   rate  = ceil(amount * 1e9 * 2^shift / (per_ns * hz))    fixed-point tokens per tick
 *   burst = burst_tokens << shift                           capacity
 *   fill_ticks = ceil(burst / rate)                         ticks from empty to full
 * shift is the largest value with burst << shift <= 2^62 and, in byte mode, the cost of the
 * biggest frame (65535 * 8 bits < 2^19) << shift <= 2^62 (shift <= 43); in packet mode <= 61.
 * Refill after dt ticks is min(dt, fill_ticks) * rate: at most burst + rate <= 2^63, so
 * tokens + refill <= 2^62 + 2^63 never wraps a uint64_t, and an idle of any length (hours,
 * days) costs one multiply, never a loop. Refill loses nothing between packets (the product is
 * exact); the only error is the rounding up of `rate`: at most one fixed-point unit per tick,
 * so a packet due exactly at a tick conforms, a packet one tick early never does within
 * `rate` ticks of refill, and the long-run excess is at most 1/rate relative, roughly
 * fill_ticks / 2^62: 1e-10 for a 20 KB burst at 8 mbit, 5e-5 for a day quota on a 2.6 GHz
 * TSC. Compile refuses rate < 2^10 (excess > 1e-3). No drift: the tick of the last update is
 * kept exactly and never rounded.
 */
struct sl_tb_params {
	uint64_t rate;		/* 2^-shift tokens per tick */
	uint64_t burst;		/* capacity in 2^-shift tokens */
	uint64_t fill_ticks;	/* ceil(burst / rate) */
	uint32_t shift;
	uint32_t pad;
};

_Static_assert(sizeof(struct sl_tb_params) == 32, "two bucket params per cache line");

/*
 * Control path: compile one bucket for a clock of hz ticks per second; unit selects the
 * byte-mode cost bound. Returns 0, or -ERANGE when the rate is too small for its burst to be
 * kept exact (message in *err).
 */
int sl_tb_compile(const struct sl_cfg_bucket *b, enum sl_unit unit, uint64_t hz,
		  struct sl_tb_params *out, const char **err);

/* Ticks after which every bucket of a set is full again, whatever its tokens were. */
uint64_t sl_tb_fill_ticks_max(const struct sl_tb_params *p, unsigned nb);

/* Tokens of a full bucket (a key seen for the first time). */
static inline void sl_tb_fill(const struct sl_tb_params *p, unsigned nb, uint64_t *tokens)
{
	for (unsigned i = 0; i < nb; i++)
		tokens[i] = p[i].burst;
}

/* Elapsed ticks since last, 0 when the clock went backwards (lcores, out-of-order captures). */
static inline uint64_t sl_tb_elapsed(uint64_t now, uint64_t last)
{
	return (int64_t)(now - last) > 0 ? now - last : 0;
}

/*
 * Data path. Refill nb buckets by dt ticks, then take `units` tokens (frame bytes * 8, or 1)
 * from every one of them if each holds at least that many; take nothing otherwise.
 * Returns 1 (conform) or 0 (exceed). units <= 65535 * 8.
 */
static inline __attribute__((always_inline)) int
sl_tb_take(const struct sl_tb_params *p, unsigned nb, uint64_t *tokens, uint64_t dt,
	   uint64_t units)
{
	uint64_t v[SL_MAX_BUCKETS], c[SL_MAX_BUCKETS];
	int ok = 1;

	for (unsigned i = 0; i < nb; i++) {
		uint64_t d = dt < p[i].fill_ticks ? dt : p[i].fill_ticks;
		uint64_t t = tokens[i] + d * p[i].rate;

		t = t < p[i].burst ? t : p[i].burst;
		c[i] = units << p[i].shift;
		ok &= t >= c[i];
		v[i] = t;
	}
	for (unsigned i = 0; i < nb; i++)
		tokens[i] = ok ? v[i] - c[i] : v[i];
	return ok;
}

/* Tokens (whole units, rounded down) bucket i would hold at dt ticks after its update. */
static inline uint64_t sl_tb_peek(const struct sl_tb_params *p, uint64_t tokens, uint64_t dt)
{
	uint64_t d = dt < p->fill_ticks ? dt : p->fill_ticks;
	uint64_t t = tokens + d * p->rate;

	return (t < p->burst ? t : p->burst) >> p->shift;
}

#endif
