/* test_wheel.c - the timing wheel: sizing, FIFO within a slot, release boundaries, late and
 * clamped items, max and resume, drain, long idles; random operations against a reference. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sl_wheel.h"
#include "test_rng.h"

#define MAXI 4096	/* max_items of the wheels of the hand-written cases */
#define B1 sizeof(struct sl_wheel_blk)	/* the block of one item */

/* what the tests hold: the wheel's link first, so an item pointer is the item */
struct item {
	struct sl_wheel_item w;
	uint64_t slot;		/* reference: the slot number it was put in (after clamping) */
	uint64_t seq;		/* reference: insertion order */
	uint64_t ins;		/* tick of its insert */
	int clamped;
	int held;
};

static struct item *I(struct sl_wheel_item *w)
{
	return (struct item *)w;
}

static void put(struct sl_wheel *w, struct item *it, uint64_t due)
{
	it->w.due = due;
	assert_int_equal(sl_wheel_insert(w, &it->w), 0);
}

static void sizes(void **state)
{
	struct sl_wheel w;

	(void)state;
	assert_int_equal(sl_wheel_bytes(1, 0, 1),
			 2 * sizeof(struct sl_wheel_slot) + B1);
	assert_int_equal(sl_wheel_bytes(10, 100, 1),
			 16 * sizeof(struct sl_wheel_slot) + B1);	/* 12 */
	assert_int_equal(sl_wheel_bytes(10, 139, 1),
			 16 * sizeof(struct sl_wheel_slot) + B1);	/* 15 */
	assert_int_equal(sl_wheel_bytes(10, 140, 1),
			 16 * sizeof(struct sl_wheel_slot) + B1);	/* 16 */
	assert_int_equal(sl_wheel_bytes(10, 150, 1),
			 32 * sizeof(struct sl_wheel_slot) + B1);	/* 17 */
	assert_int_equal(sl_wheel_bytes(1, (1u << 24) - 2, 1),
			 (1ull << 24) * sizeof(struct sl_wheel_slot) + B1);
	assert_int_equal(sl_wheel_bytes(1, (1u << 24) - 1, 1), 0);
	assert_int_equal(sl_wheel_bytes(1, UINT64_MAX, 1), 0);
	assert_int_equal(sl_wheel_bytes(0, 100, 1), 0);
	assert_int_equal(sl_wheel_bytes(UINT64_MAX, UINT64_MAX, 1),
			 4 * sizeof(struct sl_wheel_slot) + B1);

	assert_int_equal(sl_wheel_bytes(10, 100, 0), 0);
	assert_int_equal(sl_wheel_bytes(10, 100, 1000), 16 * sizeof(struct sl_wheel_slot) + 64000);
	assert_int_equal(sizeof(struct sl_wheel_blk), 64);
	assert_int_equal(sl_wheel_init(&w, 10, 100, 0, 0), -EINVAL);
	assert_int_equal(sl_wheel_init(&w, 0, 100, MAXI, 0), -EINVAL);
	assert_null(w.slot);
	assert_int_equal(sl_wheel_init(&w, 1, 1u << 24, MAXI, 0), -EINVAL);
	sl_wheel_free(&w);	/* a refused wheel is zeroed: free is harmless */
	assert_int_equal(sl_wheel_init(&w, 10, 100, MAXI, 1234), 0);
	assert_int_equal(w.width, 10);
	assert_int_equal(w.cur, 123);
	assert_int_equal(w.mask, 15);
	assert_int_equal(w.held, 0);
	assert_int_equal(w.clamped, 0);
	sl_wheel_free(&w);
	assert_null(w.slot);
}

/*
 * The block pool: a wheel of max_items N holds N items however they spread (every one in a
 * slot of its own, or all in one slot over several blocks), refuses the N+1st without holding
 * it, and after releases takes as many again, many times over (blocks go back to the pool);
 * FIFO holds across block boundaries when a release stops inside a block.
 */
static void full_and_blocks_reused(void **state)
{
	enum { N = 13 };
	struct sl_wheel w;
	struct item it[N + 1];
	struct sl_wheel_item *out[N + 1];
	uint64_t now = 0;

	(void)state;
	assert_int_equal(sl_wheel_init(&w, 10, 1000, N, 0), 0);
	for (unsigned round = 0; round < 50; round++) {
		unsigned spread = round & 1, n = 0, got;

		for (unsigned i = 0; i < N; i++)	/* one slot each, or all in slot now+50 */
			put(&w, &it[i], now + (spread ? 10 * i : 50));
		it[N].w.due = now + 50;
		assert_int_equal(sl_wheel_insert(&w, &it[N].w), -ENOSPC);
		assert_int_equal(w.held, N);
		/* out in steps of 4 (inside blocks of 6) at a clock past them all */
		while ((got = sl_wheel_release(&w, now + 10 * N, out + n, 4)) > 0)
			n += got;
		assert_int_equal(n, N);
		assert_int_equal(w.held, 0);
		for (unsigned i = 0; i < N; i++)
			assert_ptr_equal(out[i], &it[i].w);	/* FIFO, slot order */
		now += 10 * N + 10;
	}
	sl_wheel_free(&w);
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

/* A wheel for 2^24 items (1 GiB of blocks) touches its blocks as it first holds that many,
 * not at init (a worker's --shape-mbufs is a ceiling, not what it uses). */
static void init_touches_little(void **state)
{
	struct sl_wheel w;
	struct item it[100];
	long before, after;

	(void)state;
	before = rss_kb();
	assert_int_equal(sl_wheel_init(&w, 10, 1000, 1u << 24, 0), 0);
	for (unsigned i = 0; i < 100; i++)
		put(&w, &it[i], 10 * i);	/* 100 slots, a block each */
	after = rss_kb();
	assert_true(before > 0 && after > 0);
	assert_true(after - before < 8 * 1024);	/* the 1 KiB of slots' pages and 100 blocks */
	assert_int_equal(w.fresh, 100);
	sl_wheel_free(&w);
}

static void fifo_within_a_slot(void **state)
{
	struct sl_wheel w;
	struct item it[6];
	struct sl_wheel_item *out[8];
	const uint64_t due[6] = {15, 13, 19, 10, 25, 11};	/* slot 1 except it[4] (slot 2) */

	(void)state;
	assert_int_equal(sl_wheel_init(&w, 10, 100, MAXI, 0), 0);
	for (unsigned i = 0; i < 6; i++)
		put(&w, &it[i], due[i]);
	assert_int_equal(w.held, 6);
	assert_int_equal(sl_wheel_release(&w, 9, out, 8), 0);
	assert_int_equal(sl_wheel_release(&w, 10, out, 8), 5);
	/* insertion order, not due order: the wheel does not sort within a slot */
	assert_ptr_equal(out[0], &it[0].w);
	assert_ptr_equal(out[1], &it[1].w);
	assert_ptr_equal(out[2], &it[2].w);
	assert_ptr_equal(out[3], &it[3].w);
	assert_ptr_equal(out[4], &it[5].w);
	assert_int_equal(w.held, 1);
	assert_int_equal(sl_wheel_release(&w, 19, out, 8), 0);
	assert_int_equal(sl_wheel_release(&w, 20, out, 8), 1);
	assert_ptr_equal(out[0], &it[4].w);
	assert_int_equal(w.held, 0);
	sl_wheel_free(&w);
}

/* an item due at t is released by release(now) iff now / W >= t / W, for every t and now */
static void release_boundaries(void **state)
{
	const uint64_t widths[] = {1, 3, 10};

	(void)state;
	for (unsigned k = 0; k < 3; k++) {
		uint64_t W = widths[k];

		for (uint64_t t = 0; t < 40; t++) {
			for (uint64_t now = 0; now < 50; now++) {
				struct sl_wheel w;
				struct item it;
				struct sl_wheel_item *out[1];
				unsigned n;

				assert_int_equal(sl_wheel_init(&w, W, 64, MAXI, 0), 0);
				put(&w, &it, t);
				n = sl_wheel_release(&w, now, out, 1);
				assert_int_equal(n, now / W >= t / W);
				assert_int_equal(w.held, 1 - n);
				/* released: never more than one slot width early */
				if (n)
					assert_true(t < (now / W + 1) * W);
				sl_wheel_free(&w);
			}
		}
	}
}

static void already_due(void **state)
{
	struct sl_wheel w;
	struct item it[4];
	struct sl_wheel_item *out[4];

	(void)state;
	assert_int_equal(sl_wheel_init(&w, 10, 100, MAXI, 100), 0);	/* cur = 10 */
	put(&w, &it[0], 105);
	put(&w, &it[1], 5);		/* long past: slot cur, after it[0] */
	put(&w, &it[2], 0);
	assert_int_equal(w.clamped, 0);
	assert_int_equal(sl_wheel_release(&w, 100, out, 4), 3);
	assert_ptr_equal(out[0], &it[0].w);
	assert_ptr_equal(out[1], &it[1].w);
	assert_ptr_equal(out[2], &it[2].w);
	assert_int_equal(w.cur, 10);
	/* late after a release in the same slot: leaves at the next poll, not a slot later */
	put(&w, &it[3], 50);
	assert_int_equal(sl_wheel_release(&w, 101, out, 4), 1);
	assert_ptr_equal(out[0], &it[3].w);
	/* after a later poll, a late item goes to that poll's slot */
	assert_int_equal(sl_wheel_release(&w, 137, out, 4), 0);
	assert_int_equal(w.cur, 13);
	put(&w, &it[0], 120);
	assert_int_equal(sl_wheel_release(&w, 137, out, 4), 1);
	assert_int_equal(w.held, 0);
	sl_wheel_free(&w);
}

static void clamped_beyond_the_horizon(void **state)
{
	struct sl_wheel w;
	struct item it[5];
	struct sl_wheel_item *out[8];

	(void)state;
	/* 16 slots of 10 ticks: slots 0..15 from cur 0 */
	assert_int_equal(sl_wheel_init(&w, 10, 100, MAXI, 0), 0);
	put(&w, &it[0], 159);		/* slot 15: the last, not clamped */
	assert_int_equal(w.clamped, 0);
	put(&w, &it[1], 160);		/* slot 16: clamped into 15 */
	assert_int_equal(w.clamped, 1);
	put(&w, &it[2], 155);
	put(&w, &it[3], UINT64_MAX);	/* clamped too */
	assert_int_equal(w.clamped, 2);
	put(&w, &it[4], 99);		/* within the horizon: never clamped */
	assert_int_equal(w.clamped, 2);
	assert_int_equal(w.held, 5);
	assert_int_equal(sl_wheel_release(&w, 149, out, 8), 1);
	assert_ptr_equal(out[0], &it[4].w);
	assert_int_equal(sl_wheel_release(&w, 150, out, 8), 4);
	assert_ptr_equal(out[0], &it[0].w);
	assert_ptr_equal(out[1], &it[1].w);
	assert_ptr_equal(out[2], &it[2].w);
	assert_ptr_equal(out[3], &it[3].w);
	assert_int_equal(w.held, 0);
	sl_wheel_free(&w);

	/* anything due before now + horizon after a full release at now is never clamped */
	for (uint64_t W = 1; W < 12; W++) {
		for (uint64_t h = 0; h < 60; h++) {
			assert_int_equal(sl_wheel_init(&w, W, h, MAXI, 0), 0);
			for (uint64_t now = 0; now < 100; now++) {
				assert_int_equal(sl_wheel_release(&w, now, out, 8), 0);
				if (h) {
					put(&w, &it[0], now + h - 1);
					assert_int_equal(w.clamped, 0);
					assert_int_equal(sl_wheel_drain(&w, out, 8), 1);
				}
			}
			sl_wheel_free(&w);
		}
	}
}

static void max_stops_mid_slot(void **state)
{
	struct sl_wheel w;
	struct item it[6];
	struct sl_wheel_item *out[8];

	(void)state;
	assert_int_equal(sl_wheel_init(&w, 10, 100, MAXI, 0), 0);
	put(&w, &it[0], 1);	/* slot 0: a b c */
	put(&w, &it[1], 2);
	put(&w, &it[2], 3);
	put(&w, &it[3], 14);	/* slot 1: d e */
	put(&w, &it[4], 12);
	assert_int_equal(sl_wheel_release(&w, 10, out, 0), 0);
	assert_int_equal(sl_wheel_release(&w, 10, out, 2), 2);
	assert_ptr_equal(out[0], &it[0].w);
	assert_ptr_equal(out[1], &it[1].w);
	assert_int_equal(w.cur, 0);
	put(&w, &it[5], 0);	/* late: slot cur 0, behind c */
	assert_int_equal(w.held, 4);
	assert_int_equal(sl_wheel_release(&w, 10, out, 2), 2);
	assert_ptr_equal(out[0], &it[2].w);
	assert_ptr_equal(out[1], &it[5].w);
	assert_int_equal(w.cur, 0);	/* stopped at max on the emptied slot */
	assert_int_equal(sl_wheel_release(&w, 10, out, 1), 1);
	assert_ptr_equal(out[0], &it[3].w);
	assert_int_equal(sl_wheel_release(&w, 10, out, 8), 1);
	assert_ptr_equal(out[0], &it[4].w);
	assert_int_equal(w.held, 0);
	assert_int_equal(w.cur, 1);
	sl_wheel_free(&w);
}

static void drain_in_order(void **state)
{
	struct sl_wheel w;
	struct item it[8];
	struct sl_wheel_item *out[8];
	const uint64_t due[8] = {70, 5, 75, 150, 1000, 20, 79, 6};
	const unsigned order[8] = {1, 7, 5, 0, 2, 6, 3, 4};	/* slots 0 2 7 15 (1000 clamped) */
	unsigned n = 0, k;

	(void)state;
	assert_int_equal(sl_wheel_init(&w, 10, 100, MAXI, 0), 0);
	for (unsigned i = 0; i < 8; i++)
		put(&w, &it[i], due[i]);
	assert_int_equal(w.clamped, 1);
	while ((k = sl_wheel_drain(&w, out + n, 3)) > 0) {
		n += k;
		assert_int_equal(w.held, 8 - n);
	}
	assert_int_equal(n, 8);
	for (unsigned i = 0; i < 8; i++)
		assert_ptr_equal(out[i], &it[order[i]].w);
	assert_int_equal(sl_wheel_drain(&w, out, 8), 0);
	/* drain left cur at slot 15, ahead of the clock: the next release of the empty wheel
	 * brings it back, and the wheel works on */
	assert_int_equal(w.cur, 15);
	assert_int_equal(sl_wheel_release(&w, 5, out, 8), 0);
	assert_int_equal(w.cur, 0);
	put(&w, &it[0], 8);
	assert_int_equal(sl_wheel_release(&w, 9, out, 8), 1);
	sl_wheel_free(&w);
}

/* idle for many laps, with items held and without: one ring pass at most, never a loop per lap
 * (a loop per lap would not end here) */
static void long_idle(void **state)
{
	struct sl_wheel w;
	struct item it[4];
	struct sl_wheel_item *out[4];

	(void)state;
	assert_int_equal(sl_wheel_init(&w, 1, 1000, MAXI, 0), 0);
	put(&w, &it[0], 900);
	put(&w, &it[1], 3);
	put(&w, &it[2], 500);
	assert_int_equal(sl_wheel_release(&w, UINT64_MAX - 10, out, 2), 2);
	assert_ptr_equal(out[0], &it[1].w);
	assert_ptr_equal(out[1], &it[2].w);
	assert_int_equal(w.cur, 500);
	assert_int_equal(sl_wheel_release(&w, UINT64_MAX - 10, out, 4), 1);
	assert_ptr_equal(out[0], &it[0].w);
	assert_int_equal(w.cur, UINT64_MAX - 10);
	/* slot numbers near 2^64: the window arithmetic must not wrap */
	put(&w, &it[0], UINT64_MAX);
	put(&w, &it[1], 0);
	assert_int_equal(w.clamped, 0);
	assert_int_equal(sl_wheel_release(&w, UINT64_MAX - 1, out, 4), 1);
	assert_ptr_equal(out[0], &it[1].w);
	assert_int_equal(sl_wheel_release(&w, UINT64_MAX, out, 4), 1);
	assert_ptr_equal(out[0], &it[0].w);
	sl_wheel_free(&w);

	/* the largest wheel, idle 2^39 laps: walks its 2^24 slots once */
	assert_int_equal(sl_wheel_init(&w, 1, (1u << 24) - 2, MAXI, 0), 0);
	assert_int_equal(w.mask, (1u << 24) - 1);
	put(&w, &it[0], (1u << 24) - 1);
	assert_int_equal(sl_wheel_release(&w, 1ull << 63, out, 4), 1);
	sl_wheel_free(&w);
}

static void clock_backwards(void **state)
{
	struct sl_wheel w;
	struct item it[2];
	struct sl_wheel_item *out[2];

	(void)state;
	assert_int_equal(sl_wheel_init(&w, 10, 100, MAXI, 1000), 0);
	put(&w, &it[0], 1000);
	assert_int_equal(sl_wheel_release(&w, 990, out, 2), 0);	/* behind cur: nothing */
	assert_int_equal(w.cur, 100);
	assert_int_equal(sl_wheel_release(&w, 1000, out, 2), 1);
	/* empty: cur follows the clock back, so the next item gets its own slot again */
	assert_int_equal(sl_wheel_release(&w, 500, out, 2), 0);
	assert_int_equal(w.cur, 50);
	put(&w, &it[1], 520);
	assert_int_equal(sl_wheel_release(&w, 519, out, 2), 0);
	assert_int_equal(sl_wheel_release(&w, 520, out, 2), 1);
	sl_wheel_free(&w);
}

/*
 * The reference: every held item with the slot it was put in and its insertion number; a
 * release returns those of slot <= now / width sorted by (slot, insertion), the first max of
 * them. It models cur by the rules of sl_wheel.h, since where an item goes depends on it.
 */
struct ref {
	uint64_t width, mask, cur, seq, clamped;
	struct item **held;
	unsigned nb;
};

static void ref_insert(struct ref *r, struct item *it, uint64_t due, uint64_t now)
{
	uint64_t s = due / r->width;

	it->clamped = 0;
	if (s < r->cur) {
		s = r->cur;
	} else if (s - r->cur > r->mask) {
		s = r->cur + r->mask;
		it->clamped = 1;
		r->clamped++;
	}
	it->slot = s;
	it->seq = r->seq++;
	it->ins = now;
	it->held = 1;
	r->held[r->nb++] = it;
}

static int by_slot_seq(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* the reference's answer into exp[]; its held list loses them */
static unsigned ref_take(struct ref *r, uint64_t end, unsigned max, struct item **exp)
{
	unsigned c = 0, k = 0, n;

	for (unsigned i = 0; i < r->nb; i++) {
		if (r->held[i]->slot <= end)
			exp[c++] = r->held[i];
		else
			r->held[k++] = r->held[i];
	}
	qsort(exp, c, sizeof(*exp), by_slot_seq);
	n = c < max ? c : max;
	for (unsigned i = n; i < c; i++)	/* the due ones beyond max stay */
		r->held[k++] = exp[i];
	r->nb = k;
	return n;
}

static int ref_any_due(const struct ref *r, uint64_t end)
{
	for (unsigned i = 0; i < r->nb; i++)
		if (r->held[i]->slot <= end)
			return 1;
	return 0;
}

static unsigned ref_release(struct ref *r, uint64_t now, unsigned max, struct item **exp)
{
	uint64_t end = now / r->width, cur = r->cur;
	unsigned n = end >= cur ? ref_take(r, end, max, exp) : 0;

	if (!r->nb)
		r->cur = end;
	else if (end < cur)
		r->cur = cur;
	else if (n == max)
		r->cur = n ? exp[n - 1]->slot : cur;
	else
		r->cur = end;
	return n;
}

static unsigned ref_drain(struct ref *r, unsigned max, struct item **exp)
{
	unsigned n = ref_take(r, UINT64_MAX, max, exp);

	if (n)
		r->cur = exp[n - 1]->slot;
	return n;
}

#define POOL 2048

struct rnd_case {
	uint64_t width, horizon, seed;
	unsigned ops;
};

static uint64_t rn(uint64_t *s, uint64_t n)
{
	return n ? test_rng(s) % n : 0;
}

static void check_out(struct sl_wheel *w, struct ref *r, struct sl_wheel_item **out,
		      struct item **exp, unsigned n, unsigned got, uint64_t end,
		      struct item ***free_top)
{
	assert_int_equal(got, n);
	for (unsigned i = 0; i < n; i++) {
		assert_ptr_equal(out[i], &exp[i]->w);
		assert_true(exp[i]->held);
		exp[i]->held = 0;
		/* never more than one slot early, unless clamped (which leaves early by design) */
		if (!exp[i]->clamped && end != UINT64_MAX)
			assert_true(exp[i]->w.due < (end + 1) * w->width);
		*(*free_top)++ = exp[i];
	}
	assert_int_equal(w->held, r->nb);
	assert_int_equal(w->cur, r->cur);
	assert_int_equal(w->clamped, r->clamped);
}

static void random_case(const struct rnd_case *c)
{
	struct sl_wheel w;
	struct ref r = {0};
	struct item *pool = calloc(POOL, sizeof(*pool));
	struct item **free_list = malloc(POOL * sizeof(void *)), **free_top = free_list;
	struct item **exp = malloc(POOL * sizeof(void *));
	struct sl_wheel_item **out = malloc(POOL * sizeof(void *));
	uint64_t s = c->seed, now = rn(&s, 1ull << 40), released = 0, inserted = 0;
	uint64_t lap, cov_mid = 0, cov_idle = 0, cov_late = 0;

	assert_non_null(pool);
	assert_int_equal(sl_wheel_init(&w, c->width, c->horizon, POOL, now), 0);
	lap = (uint64_t)(w.mask + 1) * c->width;
	r = (struct ref){c->width, w.mask, now / c->width, 0, 0, malloc(POOL * sizeof(void *)), 0};
	for (unsigned i = 0; i < POOL; i++)
		*free_top++ = &pool[i];

	for (unsigned op = 0; op < c->ops; op++) {
		uint64_t x = rn(&s, 1000);

		if (x < 480) {		/* a few inserts at now */
			unsigned k = 1 + (unsigned)rn(&s, 4);

			for (unsigned i = 0; i < k && free_top > free_list; i++) {
				struct item *it = *--free_top;
				uint64_t y = rn(&s, 100), due;

				if (y < 10)		/* in the past */
					due = now - rn(&s, rn(&s, 4) ? 3 * c->width : 3 * lap);
				else if (y < 15)	/* beyond the horizon */
					due = now + c->horizon + rn(&s, 3 * lap);
				else
					due = now + rn(&s, c->horizon ? c->horizon : 1);
				if (due > now && y < 10)
					due = 0;	/* wrapped below 0 */
				cov_late += due / c->width < r.cur;
				ref_insert(&r, it, due, now);
				put(&w, it, due);
				inserted++;
				assert_int_equal(w.held, r.nb);
				assert_int_equal(w.clamped, r.clamped);
			}
		} else if (x < 995) {	/* the clock moves, then a release */
			uint64_t y = rn(&s, 100), z = rn(&s, 10), end;
			unsigned max, n, got;

			if (y < 25)
				;		/* same tick */
			else if (y < 75)
				now += rn(&s, 2 * c->width);
			else if (y < 93)
				now += rn(&s, c->horizon + 1);
			else if (y < 98)
				now += rn(&s, 1000 * lap);	/* idle for many laps */
			else
				now -= rn(&s, now < 3 * c->width ? now : 3 * c->width);	/* back */
			max = z < 2 ? (unsigned)rn(&s, 4) : z < 8 ? (unsigned)rn(&s, 64) : POOL;
			end = now / c->width;
			n = ref_release(&r, now, max, exp);
			got = sl_wheel_release(&w, now, out, max);
			/* the cases that matter were met: stopped at max with due items left,
			 * released after many laps with items held */
			cov_mid += got == max && ref_any_due(&r, end);
			cov_idle += y >= 93 && y < 98 && got;
			check_out(&w, &r, out, exp, n, got, end, &free_top);
			released += got;
		} else {		/* part of a graceful stop */
			unsigned max = (unsigned)rn(&s, 32), n = ref_drain(&r, max, exp);

			check_out(&w, &r, out, exp, n, sl_wheel_drain(&w, out, max), UINT64_MAX,
				  &free_top);
			released += n;
		}
	}
	/* the end: everything left comes out of a drain in the reference's order */
	{
		unsigned n = ref_drain(&r, POOL, exp);

		check_out(&w, &r, out, exp, n, sl_wheel_drain(&w, out, POOL), UINT64_MAX,
			  &free_top);
		released += n;
	}
	assert_int_equal(released, inserted);
	assert_int_equal(w.held, 0);
	assert_true(inserted > c->ops / 2);
	assert_true(r.clamped > c->ops / 100 && cov_late > c->ops / 100);
	assert_true(cov_mid > c->ops / 100 && cov_idle > c->ops / 1000);
	sl_wheel_free(&w);
	free(r.held);
	free(out);
	free(exp);
	free(free_list);
	free(pool);
}

static void random_against_reference(void **state)
{
	const struct rnd_case cases[] = {
		{1, 0, 1, 20000},	/* 2 slots of one tick */
		{1, 64, 2, 40000},
		{7, 1000, 3, 40000},
		{1000, 5000, 4, 40000},
		{3, 100000, 5, 20000},	/* more slots than items */
		{1ull << 20, 1ull << 30, 6, 20000},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		random_case(&cases[i]);
}

/*
 * Polled at every tick, inserts before the poll: an item leaves exactly at the first tick of
 * its slot, or at the tick it was inserted when that is later (it was late), and never clamped.
 */
static void paced_at_every_tick(void **state)
{
	const uint64_t cfg[][2] = {{1, 50}, {7, 300}, {64, 1000}};

	(void)state;
	for (unsigned c = 0; c < 3; c++) {
		uint64_t W = cfg[c][0], H = cfg[c][1], s = 42 + c, start = 1000003, inserted = 0;
		struct item *pool = calloc(POOL, sizeof(*pool)), **free_list;
		struct item **free_top;
		struct sl_wheel_item **out = malloc(POOL * sizeof(void *));
		struct sl_wheel w;

		free_list = malloc(POOL * sizeof(void *));
		free_top = free_list;
		for (unsigned i = 0; i < POOL; i++)
			*free_top++ = &pool[i];
		assert_int_equal(sl_wheel_init(&w, W, H, POOL, start), 0);
		for (uint64_t t = start; t < start + 30000; t++) {
			unsigned k = (unsigned)rn(&s, 3), n;

			for (unsigned i = 0; i < k && free_top > free_list; i++) {
				struct item *it = *--free_top;

				it->ins = t;
				put(&w, it, rn(&s, 10) ? t + rn(&s, H) : t - rn(&s, 5 * W));
				inserted++;
			}
			n = sl_wheel_release(&w, t, out, POOL);
			for (unsigned i = 0; i < n; i++) {
				struct item *it = I(out[i]);
				uint64_t first = it->w.due / W * W;

				assert_int_equal(t, first > it->ins ? first : it->ins);
				*free_top++ = it;
			}
		}
		assert_int_equal(w.clamped, 0);
		assert_true(inserted > 20000);
		sl_wheel_free(&w);
		free(free_list);
		free(out);
		free(pool);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes),
		cmocka_unit_test(full_and_blocks_reused),
		cmocka_unit_test(init_touches_little),
		cmocka_unit_test(fifo_within_a_slot),
		cmocka_unit_test(release_boundaries),
		cmocka_unit_test(already_due),
		cmocka_unit_test(clamped_beyond_the_horizon),
		cmocka_unit_test(max_stops_mid_slot),
		cmocka_unit_test(drain_in_order),
		cmocka_unit_test(long_idle),
		cmocka_unit_test(clock_backwards),
		cmocka_unit_test(random_against_reference),
		cmocka_unit_test(paced_at_every_tick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
