/* test_pipe.c - worker mode's hand-off without EAL: flow-to-worker choice, max-queue admission
 * and release (app/sl_pipe_cap.h), and producers -> SPSC rte_rings -> workers keeping order. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <rte_ring.h>
#include "../app/sl_pipe_cap.h"

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	return x ^ (x >> 16);
}

static void worker_choice(void **state)
{
	unsigned count[5];

	(void)state;
	assert_int_equal(sl_pipe_worker(0, 3), 0);
	assert_int_equal(sl_pipe_worker(UINT32_MAX, 3), 2);
	assert_int_equal(sl_pipe_worker(UINT32_MAX, 1), 0);
	assert_int_equal(sl_pipe_worker(0x80000000u, 2), 1);
	assert_int_equal(sl_pipe_worker(0x7fffffffu, 2), 0);
	for (unsigned nbw = 1; nbw <= 5; nbw++) {
		memset(count, 0, sizeof(count));
		for (uint32_t f = 0; f < 100000; f++) {
			unsigned w = sl_pipe_worker(mix(f), nbw);

			assert_true(w < nbw);
			assert_int_equal(w, sl_pipe_worker(mix(f), nbw));	/* a flow stays */
			count[w]++;
		}
		for (unsigned w = 0; w < nbw; w++) {	/* within 2% of an even share */
			assert_true(count[w] * nbw > 100000u * 98 / 100);
			assert_true(count[w] * nbw < 100000u * 102 / 100);
		}
	}
}

static void admit_caps(void **state)
{
	uint32_t occ = 0, level;

	(void)state;
	assert_int_equal(sl_pipe_admit(&occ, 40, 64, &level), 40);
	assert_int_equal(level, 40);
	assert_int_equal(sl_pipe_admit(&occ, 40, 64, &level), 24);	/* partly */
	assert_int_equal(level, 64);
	assert_int_equal(sl_pipe_admit(&occ, 1, 64, &level), 0);	/* full */
	assert_int_equal(level, 64);
	assert_int_equal(occ, 64);
	occ -= 10;
	assert_int_equal(sl_pipe_admit(&occ, 32, 64, &level), 10);
	assert_int_equal(occ, 64);
	/* no cap: everything taken, only counted (for the high-water mark) */
	occ = 7;
	assert_int_equal(sl_pipe_admit(&occ, 32, 0, &level), 32);
	assert_int_equal(level, 39);
	/* a cap below what a shared slot already holds admits nothing */
	assert_int_equal(sl_pipe_admit(&occ, 5, 16, &level), 0);
	assert_int_equal(level, 39);
	assert_int_equal(occ, 39);
}

static void release_runs(void **state)
{
	uint32_t *occ = calloc(SL_PIPE_COUNTERS, sizeof(*occ));
	const uint32_t slot[] = { 5, 5, 5, 7, SL_PIPE_NO_SLOT, 5, SL_PIPE_COUNTERS - 1 };

	(void)state;
	assert_non_null(occ);
	occ[5] = 10;
	occ[7] = 1;
	occ[SL_PIPE_COUNTERS - 1] = 3;
	sl_pipe_release(occ, slot, 7);
	assert_int_equal(occ[5], 6);
	assert_int_equal(occ[7], 0);
	assert_int_equal(occ[SL_PIPE_COUNTERS - 1], 2);
	assert_int_equal(occ[0], 0);
	sl_pipe_release(occ, slot, 0);
	assert_int_equal(occ[5], 6);
	/* capped: the queue key's low bits; uncapped: the tenant's own slot */
	assert_int_equal(sl_pipe_slot(0x12345678u, 3, 64), 0x45678u);
	assert_int_equal(sl_pipe_slot(0xfff00003u, 9, 1), 3u);
	assert_int_equal(sl_pipe_slot(0x12345678u, 3, 0), SL_PIPE_SLOTS + 3);
	assert_int_equal(sl_pipe_slot(0, 65534, 0), SL_PIPE_COUNTERS - 2);
	free(occ);
}

static void group_burst(void **state)
{
	struct sl_pipe_group g;

	(void)state;
	sl_pipe_group_reset(&g);
	assert_int_equal(sl_pipe_group_add(&g, 3, 0, 64), 0);
	assert_int_equal(sl_pipe_group_add(&g, 3, 0, 64), 0);
	assert_int_equal(sl_pipe_group_add(&g, 9, 1, 0), 1);
	assert_int_equal(sl_pipe_group_add(&g, 3, 0, 64), 0);
	assert_int_equal(sl_pipe_group_add(&g, 3, 2, 64), 2);	/* same slot, other tenant */
	assert_int_equal(sl_pipe_group_add(&g, 3, 0, 16), 3);	/* same slot, other cap */
	assert_int_equal(sl_pipe_group_add(&g, 9, 1, 0), 1);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.want[0], 3);
	assert_int_equal(g.want[1], 2);
	assert_int_equal(g.want[2], 1);
	assert_int_equal(g.want[3], 1);
	for (unsigned i = 0; i < 32; i++)	/* a burst of distinct keys */
		sl_pipe_group_add(&g, 100 + i, 4, 8);
	assert_int_equal(g.n, 36);
	sl_pipe_group_reset(&g);
	assert_int_equal(sl_pipe_group_add(&g, 1, 1, 1), 0);
	assert_int_equal(g.want[0], 1);
}

/*
 * Producers (policing lcores) own disjoint flows, as an RX queue does; each frame's tenant caps
 * its queueing. They hand bursts over SPSC rings by flow to workers that are slow on purpose,
 * so that caps and full rings bite. Workers check order per flow and the cap at dequeue.
 */
#define P 2
#define W 2
#define FLOWS 64			/* per producer */
#define ITEMS 200000			/* per producer */
#define BURST 32
#define TENANTS 4
static const uint32_t tenant_cap[TENANTS] = { 0, 16, 64, 0 };

struct item {
	uint32_t flow;			/* global: producer * FLOWS + i */
	uint32_t seq;
	uint32_t slot;
	uint16_t tenant;
};

struct run {
	uint32_t *occ;
	struct rte_ring *ring[P][W];
	struct item *items[P];
	atomic_uint producers_done;
	/* per producer, written by it only */
	uint64_t lost_cap[P][TENANTS], lost_ring[P][TENANTS], sent[P][TENANTS];
	uint64_t over_cap[P];		/* admissions that saw a level above the cap */
	/* per worker, written by it only */
	uint64_t got[W][TENANTS], order_errors[W], wrong_worker[W], occ_over[W];
	int64_t last_seq[P * FLOWS];	/* per flow: written by its one worker */
};

struct targ {
	struct run *r;
	unsigned id;
};

static uint16_t tenant_of(uint32_t flow)
{
	return (uint16_t)(flow % TENANTS);
}

static void *producer(void *arg)
{
	struct targ *a = arg;
	struct run *r = a->r;
	unsigned p = a->id;
	struct item *it = r->items[p];

	for (unsigned base = 0; base < ITEMS; base += BURST) {
		struct item *stage[W][BURST];
		unsigned ns[W] = { 0 }, grp[BURST];
		struct sl_pipe_group g;

		sl_pipe_group_reset(&g);
		for (unsigned i = 0; i < BURST; i++) {
			struct item *x = &it[base + i];

			grp[i] = sl_pipe_group_add(&g, x->slot, x->tenant, tenant_cap[x->tenant]);
		}
		for (unsigned k = 0; k < g.n; k++) {
			uint32_t level;

			g.want[k] = sl_pipe_admit(&r->occ[g.slot[k]], g.want[k], g.max[k], &level);
			if (g.max[k] && level > g.max[k])
				r->over_cap[p]++;
		}
		for (unsigned i = 0; i < BURST; i++) {
			struct item *x = &it[base + i];
			unsigned w;

			if (!g.want[grp[i]]) {
				r->lost_cap[p][x->tenant]++;
				continue;
			}
			g.want[grp[i]]--;
			w = sl_pipe_worker(mix(x->flow), W);
			stage[w][ns[w]++] = x;
		}
		for (unsigned w = 0; w < W; w++) {
			unsigned n = rte_ring_sp_enqueue_burst(r->ring[p][w], (void **)stage[w],
							       ns[w], NULL);

			for (unsigned j = 0; j < ns[w]; j++)
				if (j < n)
					r->sent[p][stage[w][j]->tenant]++;
				else
					r->lost_ring[p][stage[w][j]->tenant]++;
			for (unsigned j = n; j < ns[w]; j++)
				sl_pipe_release(r->occ, &stage[w][j]->slot, 1);
		}
	}
	atomic_fetch_add(&r->producers_done, 1);
	return NULL;
}

static unsigned consume(struct run *r, unsigned w)
{
	unsigned got = 0;

	for (unsigned p = 0; p < P; p++) {
		struct item *x[BURST];
		uint32_t slot[BURST];
		unsigned n = rte_ring_sc_dequeue_burst(r->ring[p][w], (void **)x, BURST, NULL);

		for (unsigned i = 0; i < n; i++) {
			uint32_t cap = tenant_cap[x[i]->tenant];

			if (sl_pipe_worker(mix(x[i]->flow), W) != w)
				r->wrong_worker[w]++;
			if ((int64_t)x[i]->seq <= r->last_seq[x[i]->flow])
				r->order_errors[w]++;
			r->last_seq[x[i]->flow] = x[i]->seq;
			if (cap && __atomic_load_n(&r->occ[x[i]->slot], __ATOMIC_RELAXED) > cap)
				r->occ_over[w]++;
			r->got[w][x[i]->tenant]++;
			slot[i] = x[i]->slot;
		}
		sl_pipe_release(r->occ, slot, n);	/* as a worker does after TX */
		got += n;
	}
	return got;
}

static void *worker(void *arg)
{
	struct targ *a = arg;
	struct run *r = a->r;
	unsigned passes = 0;

	while (atomic_load(&r->producers_done) < P) {
		consume(a->r, a->id);
		if (++passes % 4 == 0)
			usleep(20);	/* slower than the producers */
	}
	while (consume(r, a->id))	/* drain: producers are done */
		;
	return NULL;
}

static void make_items(struct run *r)
{
	uint64_t s = 12345;

	for (unsigned p = 0; p < P; p++) {
		uint32_t seq[FLOWS] = { 0 };

		r->items[p] = calloc(ITEMS, sizeof(struct item));
		assert_non_null(r->items[p]);
		for (unsigned i = 0; i < ITEMS;) {
			uint32_t f, run;

			s = s * 6364136223846793005ull + 1442695040888963407ull;
			f = (uint32_t)(s >> 33) % FLOWS;
			run = 1 + (uint32_t)(s >> 60) % 8;	/* a flow comes in runs of 1..8 */
			for (uint32_t k = 0; k < run && i < ITEMS; k++, i++) {
				struct item *x = &r->items[p][i];

				x->flow = p * FLOWS + f;
				x->seq = seq[f]++;
				x->tenant = tenant_of(x->flow);
				x->slot = sl_pipe_slot(1000 + x->tenant, x->tenant,
						       tenant_cap[x->tenant]);
			}
		}
	}
}

static void handoff_threads(void **state)
{
	struct run *r = calloc(1, sizeof(*r));
	pthread_t th[P + W];
	struct targ a[P + W];
	uint64_t lost_cap = 0;

	(void)state;
	assert_non_null(r);
	r->occ = calloc(SL_PIPE_COUNTERS, sizeof(*r->occ));
	assert_non_null(r->occ);
	for (unsigned i = 0; i < P * FLOWS; i++)
		r->last_seq[i] = -1;
	for (unsigned p = 0; p < P; p++)
		for (unsigned w = 0; w < W; w++) {
			r->ring[p][w] = aligned_alloc(64, rte_ring_get_memsize(256));
			assert_non_null(r->ring[p][w]);
			assert_int_equal(rte_ring_init(r->ring[p][w], "t", 256,
						       RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
		}
	make_items(r);
	atomic_init(&r->producers_done, 0);
	for (unsigned i = 0; i < P + W; i++) {
		a[i] = (struct targ){ r, i < P ? i : i - P };
		assert_int_equal(pthread_create(&th[i], NULL, i < P ? producer : worker, &a[i]), 0);
	}
	for (unsigned i = 0; i < P + W; i++)
		pthread_join(th[i], NULL);
	/* every item was delivered or counted lost; caps held; order and worker kept */
	for (unsigned t = 0; t < TENANTS; t++) {
		uint64_t offered = 0, sent = 0, got = 0, lost = 0;

		for (unsigned p = 0; p < P; p++) {
			sent += r->sent[p][t];
			lost += r->lost_cap[p][t] + r->lost_ring[p][t];
			if (tenant_cap[t])
				lost_cap += r->lost_cap[p][t];
			else
				assert_int_equal(r->lost_cap[p][t], 0);
		}
		for (unsigned w = 0; w < W; w++)
			got += r->got[w][t];
		for (unsigned p = 0; p < P; p++)
			for (unsigned i = 0; i < ITEMS; i++)
				offered += r->items[p][i].tenant == t;
		assert_int_equal(sent, got);
		assert_int_equal(offered, got + lost);
		assert_int_equal(r->occ[sl_pipe_slot(1000 + t, (uint16_t)t, tenant_cap[t])], 0);
	}
	assert_true(lost_cap > 0);	/* the caps did bite */
	for (unsigned p = 0; p < P; p++)
		assert_int_equal(r->over_cap[p], 0);
	for (unsigned w = 0; w < W; w++) {
		assert_int_equal(r->order_errors[w], 0);
		assert_int_equal(r->wrong_worker[w], 0);
		assert_int_equal(r->occ_over[w], 0);
	}
	for (unsigned p = 0; p < P; p++) {
		for (unsigned w = 0; w < W; w++)
			free(r->ring[p][w]);
		free(r->items[p]);
	}
	free(r->occ);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(worker_choice),
		cmocka_unit_test(admit_caps),
		cmocka_unit_test(release_runs),
		cmocka_unit_test(group_burst),
		cmocka_unit_test(handoff_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
