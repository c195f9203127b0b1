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
 * shift is the largest value with burst << shift < 2^(62 - SL_TB_HEADROOM) (so a reload may
 * grow the burst 16x and keep the scale, and with it every bucket's tokens) and, in byte
 * mode, the cost of the biggest frame (65535 * 8 bits < 2^19) << shift <= 2^62 (shift <= 43);
 * in packet mode <= 61. A reload reuses the previous shift whenever the bucket fits it.
 * Refill after dt ticks is dt * rate, capped at the burst (sl_tb_refill: a product or sum
 * that would wrap is past the burst), so an idle of any length (hours, days) costs one
 * multiply, never a loop; fill_ticks is what eviction waits for. Refill loses nothing between packets (the product is
 * exact); the only error is the rounding up of `rate`: at most one fixed-point unit per tick,
 * so a packet due exactly at a tick conforms, a packet one tick early never does within
 * `rate` ticks of refill, and the long-run excess is at most 1/rate relative, roughly
 * 16 * fill_ticks / 2^62: 2e-9 for a 20 KB burst at 8 mbit, 1e-3 for a day quota on a 2.6 GHz
 * TSC. Compile refuses rate < 2^8 (excess > 4e-3). No drift: the tick of the last update is
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
 * Mutable state of one bucket: the tick of its last update and its tokens, 16-byte aligned so
 * that lcores sharing it update both with one 16-byte compare-and-swap (sl_tb_cas).
 */
struct sl_tb_state {
	uint64_t last;
	uint64_t tokens;
} __attribute__((aligned(16)));

#define SL_TB_HEADROOM 4

/*
 * Control path: compile one bucket for a clock of hz ticks per second; unit selects the
 * byte-mode cost bound; shift_hint is the shift of the bucket this one replaces (a reload),
 * used when the new bucket fits it, or -1. Returns 0, or -ERANGE when the rate is too small
 * for its burst to be kept exact (message in *err).
 */
int sl_tb_compile(const struct sl_cfg_bucket *b, enum sl_unit unit, uint64_t hz, int shift_hint,
		  struct sl_tb_params *out, const char **err);

/* Ticks after which every bucket of a set is full again, whatever its tokens were. */
uint64_t sl_tb_fill_ticks_max(const struct sl_tb_params *p, unsigned nb);

/* State of a full bucket set at tick now (a key seen for the first time). */
static inline void sl_tb_state_fill(const struct sl_tb_params *p, unsigned nb,
				    struct sl_tb_state *s, uint64_t now)
{
	for (unsigned i = 0; i < nb; i++)
		s[i] = (struct sl_tb_state){now, p[i].burst};
}

/* Elapsed ticks since last, 0 when the clock went backwards (lcores, out-of-order captures). */
static inline uint64_t sl_tb_elapsed(uint64_t now, uint64_t last)
{
	return (int64_t)(now - last) > 0 ? now - last : 0;
}

/*
 * Tokens after refilling for dt ticks, capped at the burst. Exact from any depth: a shaped
 * bucket carried through a reload may owe more than its new parameters would let it (a debt
 * of the old rate's max-delay), deeper than fill_ticks refills; a product or sum that would
 * wrap is past the burst anyway.
 */
static inline uint64_t sl_tb_refill(const struct sl_tb_params *p, uint64_t tokens, uint64_t dt)
{
	uint64_t add, t;

	if (__builtin_mul_overflow(dt, p->rate, &add) || __builtin_add_overflow(tokens, add, &t))
		return p->burst;
	return t < p->burst ? t : p->burst;
}

/*
 * Data path, one owner: the same on per-bucket states (each with its own last update).
 * Returns 1 (conform: units taken from every bucket) or 0 (exceed: only refilled).
 */
static inline __attribute__((always_inline)) int
sl_tb_take_state(const struct sl_tb_params *p, unsigned nb, struct sl_tb_state *s, uint64_t now,
		 uint64_t units)
{
	uint64_t v[SL_MAX_BUCKETS], c[SL_MAX_BUCKETS];
	int ok = 1;

	for (unsigned i = 0; i < nb; i++) {
		v[i] = sl_tb_refill(&p[i], s[i].tokens, sl_tb_elapsed(now, s[i].last));
		c[i] = units << p[i].shift;
		ok &= v[i] >= c[i];
	}
	for (unsigned i = 0; i < nb; i++) {
		s[i].tokens = ok ? v[i] - c[i] : v[i];
		s[i].last = (int64_t)(now - s[i].last) > 0 ? now : s[i].last;
	}
	return ok;
}

/*
 * 16-byte compare-and-swap of a bucket state: if *p equals *expected, store desired and return
 * 1; else copy the current value into *expected and return 0. Full barrier.
 */
static inline int sl_tb_cas(struct sl_tb_state *p, struct sl_tb_state *expected,
			    struct sl_tb_state desired)
{
#if defined(__x86_64__)
	uint8_t ok;

	__asm__ __volatile__("lock cmpxchg16b %1; setz %0"
			     : "=q"(ok), "+m"(*p), "+a"(expected->last), "+d"(expected->tokens)
			     : "b"(desired.last), "c"(desired.tokens)
			     : "memory", "cc");
	return ok;
#else
	return __atomic_compare_exchange((unsigned __int128 *)p, (unsigned __int128 *)expected,
					 (unsigned __int128 *)&desired, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST);
#endif
}

/*
 * Data path, shared between threads: refill bucket state *s at now and take `take` tokens
 * from it if it holds at least `need` of them (need >= take; need = take for one packet).
 * Lock-free: one 16-byte CAS when uncontended. Returns 1 when taken, 0 when not enough (the
 * state is still refilled). *seen, if not NULL, receives the refilled tokens before taking.
 */
static inline int sl_tb_take_shared(const struct sl_tb_params *p, struct sl_tb_state *s,
				    uint64_t now, uint64_t need, uint64_t take, uint64_t *seen)
{
	struct sl_tb_state old = {__atomic_load_n(&s->last, __ATOMIC_RELAXED),
				  __atomic_load_n(&s->tokens, __ATOMIC_RELAXED)};

	for (;;) {
		uint64_t v = sl_tb_refill(p, old.tokens, sl_tb_elapsed(now, old.last));
		int ok = v >= need;
		struct sl_tb_state nw = {(int64_t)(now - old.last) > 0 ? now : old.last,
					 ok ? v - take : v};

		if (seen)
			*seen = v;
		if (sl_tb_cas(s, &old, nw))
			return ok;
	}
}

/* Data path, shared: give back tokens taken by sl_tb_take_shared (capped at the burst). */
static inline void sl_tb_give_back(const struct sl_tb_params *p, struct sl_tb_state *s,
				   uint64_t tokens)
{
	struct sl_tb_state old = {__atomic_load_n(&s->last, __ATOMIC_RELAXED),
				  __atomic_load_n(&s->tokens, __ATOMIC_RELAXED)};

	for (;;) {
		uint64_t v = old.tokens + tokens;
		struct sl_tb_state nw = {old.last, v < p->burst ? v : p->burst};

		if (sl_tb_cas(s, &old, nw))
			return;
	}
}

/*
 * Shaping (exceed: shape). A shaped bucket may run into a debt of at most D tokens: its tokens
 * are kept above SL_TB_SHAPE_ZERO (a constant, so that a reload changing D or the rate keeps
 * the tokens as they are), the capacity is ZERO + burst, and a frame of cost c is taken when
 * the tokens after it stay at or above its floor ZERO - D (else it would wait longer than D
 * allows: a shape drop). Tokens below ZERO after the take are a debt the refill pays in
 * ceil((ZERO - tokens) / rate) ticks: the frame's wait. Every frame of a bucket waits for the
 * ones before it (its debt includes theirs), so departures keep arrival order, spaced by
 * their costs at the rate: a shaper. Compiled with the scale of burst + D, so nothing wraps:
 * ZERO + (burst + D) << shift + a refill stays below 2^63. The rate is rounded up as a
 * policer's (a frame due exactly at a tick is taken): a bucket long in debt sends early by
 * less than 1/rate of the time since it was full, parts per billion (tests/replay_check.py's
 * drift_eps bounds it).
 */
#define SL_TB_SHAPE_ZERO (1ull << 61)

/* Control path: bucket b as a shaped bucket that may owe `debt` tokens; *floor receives the
 * lowest tokens a take may leave. As sl_tb_compile otherwise. */
int sl_tb_compile_shape(const struct sl_cfg_bucket *b, uint64_t debt, enum sl_unit unit,
			uint64_t hz, int shift_hint, struct sl_tb_params *out, uint64_t *floor,
			const char **err);

/* Ticks a shaped bucket holding `tokens` (after a take) needs to pay its debt: the wait. */
static inline uint64_t sl_tb_shape_wait(const struct sl_tb_params *p, uint64_t tokens)
{
	return tokens >= SL_TB_SHAPE_ZERO ? 0 : (SL_TB_SHAPE_ZERO - tokens + p->rate - 1) / p->rate;
}

/*
 * Data path, one owner, shaped buckets: take `units` from every bucket if each keeps at least
 * its floor, and give the wait (the longest of the buckets'); 1 taken, 0 not (only refilled).
 */
static inline int sl_tb_shape_state(const struct sl_tb_params *p, const uint64_t *floor,
				    unsigned nb, struct sl_tb_state *s, uint64_t now,
				    uint64_t units, uint64_t *wait)
{
	uint64_t v[SL_MAX_BUCKETS], c[SL_MAX_BUCKETS], w = 0;
	int ok = 1;

	for (unsigned i = 0; i < nb; i++) {
		v[i] = sl_tb_refill(&p[i], s[i].tokens, sl_tb_elapsed(now, s[i].last));
		c[i] = units << p[i].shift;
		ok &= v[i] >= c[i] + floor[i];
	}
	for (unsigned i = 0; i < nb; i++) {
		s[i].tokens = ok ? v[i] - c[i] : v[i];
		s[i].last = (int64_t)(now - s[i].last) > 0 ? now : s[i].last;
		if (ok) {
			uint64_t wi = sl_tb_shape_wait(&p[i], s[i].tokens);

			w = wi > w ? wi : w;
		}
	}
	*wait = w;
	return ok;
}

/* Tokens (whole units, rounded down) bucket i would hold at dt ticks after its update. */
static inline uint64_t sl_tb_peek(const struct sl_tb_params *p, uint64_t tokens, uint64_t dt)
{
	return sl_tb_refill(p, tokens, dt) >> p->shift;
}

#endif
