/* test_multicore.c - several lcores (threads) police one generated stream split by a software
 * RSS: every tenant's and every key's conforming bytes match the single-threaded run. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "pkt_build.h"
#include "test_rng.h"
#include "sl_engine.h"

#define NS 1000000000ull
#define STEP_NS 1000000ull		/* one clock reading per millisecond */
#define STEPS 2000			/* 2 s of traffic */
#define THREADS 4
#define NKEYS 40

/* One generated packet: which tenant it is for, its source and size, when it arrives. */
struct gen_pkt {
	uint32_t step;
	uint16_t vlan;
	uint16_t sport;
	uint32_t src;
	uint16_t size;
	uint8_t rss;			/* software RSS queue, per split mode */
};

struct stream {
	struct gen_pkt *p;
	unsigned n;
};

/*
 * Tenants (vlan): 10 shared 8mbit/20KB; 20 shared 4mbit/10KB + 50KB per 100 ms window;
 * 30 dedicated src-ip 800kbit/3000B over NKEYS sources; 40 shared 2000pps/50pkt.
 * Each is offered about twice its rate.
 */
static void generate(struct stream *s, uint64_t seed)
{
	unsigned cap = 200000;

	s->p = calloc(cap, sizeof(*s->p));
	s->n = 0;
	for (uint32_t step = 0; step < STEPS; step++) {
		/* per ms: vlan 10 ~2000 B, vlan 20 ~1000 B, vlan 30 ~200 B per key, vlan 40 4 pkts */
		struct { uint16_t vlan; unsigned pkts; } plan[] = {{10, 4}, {20, 2}, {30, 16}, {40, 4}};

		for (unsigned k = 0; k < 4; k++)
			for (unsigned j = 0; j < plan[k].pkts; j++) {
				struct gen_pkt *g = &s->p[s->n++];
				uint64_t r = test_rng(&seed);

				assert_true(s->n < cap);
				g->step = step;
				g->vlan = plan[k].vlan;
				g->src = 0x0a000000 + (uint32_t)(r % NKEYS);
				g->sport = (uint16_t)(1024 + (r >> 8) % 50000);
				g->size = (uint16_t)(64 + (r >> 24) % 900);
				if (g->vlan == 30)	/* 16 pkts of ~500 B per ms over 40 keys */
					g->size = (uint16_t)(g->size + 0);
			}
	}
}

struct run {
	const struct stream *s;
	struct sl_engine *e;
	unsigned nb_threads;
	unsigned split;			/* 0 balanced RSS, 1 all on thread 0, 2 skewed 80/20 */
	pthread_barrier_t bar;
	uint64_t key_conform[NKEYS];	/* vlan 30 conforming bytes per source, per thread */
	pthread_mutex_t mu;
};

struct worker {
	struct run *r;
	unsigned id;
	uint64_t key_conform[NKEYS];
};

static unsigned queue_of(const struct run *r, const struct gen_pkt *g)
{
	uint32_t h = (g->src * 2654435761u) ^ (g->sport * 40503u);

	if (r->nb_threads == 1 || r->split == 1)
		return 0;
	if (r->split == 2)
		return h % 10 < 8 ? 0 : 1 + h % (r->nb_threads - 1);
	return h % r->nb_threads;
}

static void build_frame(const struct gen_pkt *g, struct pb *f)
{
	uint32_t l3;

	pb_init(f);
	pb_macs(f);
	pb_tag(f, 0x8100, g->vlan);
	pb_u16(f, 0x0800);
	l3 = pb_ipv4(f, 0, 0, 17, g->src, 0xc0000201, 0);
	pb_udp(f, g->sport, 53, (uint16_t)(g->size - 46));
	pb_ipv4_fin(f, l3, 0);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	struct sl_lcore *lc = sl_engine_lcore(r->e, w->id);
	static __thread struct pb frames[SL_BURST_MAX];
	uint8_t *data[SL_BURST_MAX], verdict[SL_BURST_MAX];
	uint32_t caplen[SL_BURST_MAX], len[SL_BURST_MAX];
	const struct gen_pkt *mine[SL_BURST_MAX];
	unsigned i = 0;

	for (uint32_t step = 0; step < STEPS; step++) {
		unsigned n = 0;

		for (; i < r->s->n && r->s->p[i].step == step; i++) {
			const struct gen_pkt *g = &r->s->p[i];

			if (queue_of(r, g) != w->id)
				continue;
			build_frame(g, &frames[n]);
			data[n] = frames[n].b;
			caplen[n] = len[n] = frames[n].len;
			mine[n++] = g;
			if (n == 16 || (i + 1 < r->s->n && r->s->p[i + 1].step != step) ||
			    i + 1 == r->s->n) {
				sl_process(lc, 0, data, caplen, len, n, (step + 1) * STEP_NS, verdict);
				for (unsigned k = 0; k < n; k++)
					if (mine[k]->vlan == 30 && verdict[k] == SL_V_FORWARD)
						w->key_conform[mine[k]->src - 0x0a000000] += len[k];
				n = 0;
			}
		}
		if (n) {
			sl_process(lc, 0, data, caplen, len, n, (step + 1) * STEP_NS, verdict);
			for (unsigned k = 0; k < n; k++)
				if (mine[k]->vlan == 30 && verdict[k] == SL_V_FORWARD)
					w->key_conform[mine[k]->src - 0x0a000000] += len[k];
		}
		pthread_barrier_wait(&r->bar);
	}
	pthread_mutex_lock(&r->mu);
	for (unsigned k = 0; k < NKEYS; k++)
		r->key_conform[k] += w->key_conform[k];
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void config(struct sl_config *c, struct sl_cfg_profile *p, struct sl_cfg_tenant *t,
		   struct sl_cfg_match *m)
{
	const uint16_t vlans[4] = {10, 20, 30, 40};

	memset(c, 0, sizeof(*c));
	memset(p, 0, 4 * sizeof(*p));
	memset(t, 0, 4 * sizeof(*t));
	memset(m, 0, 4 * sizeof(*m));
	c->matches = m;
	c->nb_matches = 4;
	c->path = "multicore";
	c->unmatched = SL_ACT_DROP;
	c->nb_profiles = c->nb_tenants = 4;
	c->profiles = p;
	c->tenants = t;
	p[0] = (struct sl_cfg_profile){.mode = SL_MODE_SHARED, .unit = SL_UNIT_BITS, .nb_buckets = 1,
				       .b = {{8000000, NS, 20000 * 8}}};
	p[1] = (struct sl_cfg_profile){.mode = SL_MODE_SHARED, .unit = SL_UNIT_BITS, .nb_buckets = 2,
				       .b = {{4000000, NS, 10000 * 8}, {50000 * 8, NS / 10, 50000 * 8}}};
	p[2] = (struct sl_cfg_profile){.mode = SL_MODE_DEDICATED, .key = SL_KEY_SRC_IP,
				       .unit = SL_UNIT_BITS, .nb_buckets = 1, .idle_ns = 60 * NS,
				       .b = {{800000, NS, 3000 * 8}}};
	p[3] = (struct sl_cfg_profile){.mode = SL_MODE_SHARED, .unit = SL_UNIT_PACKETS, .nb_buckets = 1,
				       .b = {{2000, NS, 50}}};
	for (unsigned i = 0; i < 4; i++) {
		snprintf(p[i].name, sizeof(p[i].name), "p%u", i);
		p[i].exceed = SL_ACT_DROP;
		snprintf(t[i].name, sizeof(t[i].name), "vlan%u", vlans[i]);
		t[i].profile = i;
		t[i].match = i;
		t[i].nb_match = 1;
		m[i].fields = SL_M_VLAN;
		m[i].vlan = vlans[i];
	}
}

static void run(const struct stream *s, unsigned threads, unsigned split, struct sl_stats *st,
		uint64_t key_conform[NKEYS])
{
	struct sl_config c;
	struct sl_cfg_profile p[4];
	struct sl_cfg_tenant t[4];
	struct sl_cfg_match m[4];
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = threads, .max_keys = 4096};
	struct sl_diag d = {0};
	struct run r = {.s = s, .nb_threads = threads, .split = split};
	pthread_t th[THREADS];
	struct worker w[THREADS];

	config(&c, p, t, m);
	assert_int_equal(sl_engine_create(&c, &o, &r.e, &d), 0);
	pthread_barrier_init(&r.bar, NULL, threads);
	pthread_mutex_init(&r.mu, NULL);
	for (unsigned i = 0; i < threads; i++) {
		w[i] = (struct worker){.r = &r, .id = i};
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (unsigned i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(sl_engine_stats(r.e, st), 0);
	memcpy(key_conform, r.key_conform, sizeof(r.key_conform));
	pthread_barrier_destroy(&r.bar);
	sl_engine_free(r.e);
}

/* |a - b| within 1% of the budget (rate x time + burst) plus one frame */
static void close_to(uint64_t a, uint64_t b, double budget, uint64_t frame, const char *what)
{
	double diff = a > b ? (double)(a - b) : (double)(b - a);

	if (diff > budget * 0.01 + frame) {
		fprintf(stderr, "%s: %llu vs single-threaded %llu (budget %.0f)\n", what,
			(unsigned long long)a, (unsigned long long)b, budget);
		fail();
	}
}

static void compare_splits(void **state)
{
	struct stream s;
	struct sl_stats ref, got;
	uint64_t ref_keys[NKEYS], got_keys[NKEYS];
	const double secs = STEPS * (double)STEP_NS / NS;
	/* budgets: rate x time + burst, in bytes (packets for vlan 40) */
	const double budget[4] = {1e6 * secs + 20000, 5e5 * secs + 10000, 0, 2000 * secs + 50};

	(void)state;
	generate(&s, 12345);
	run(&s, 1, 0, &ref, ref_keys);
	/* the reference itself is policed: every tenant was offered more than its budget */
	assert_true(ref.t[0].c.conform_bytes <= budget[0] * 1.0001);
	assert_true(ref.t[0].c.conform_bytes >= budget[0] * 0.99);
	assert_true(ref.t[3].c.conform_packets <= 2000 * secs + 50);
	for (unsigned split = 0; split < 3; split++) {
		run(&s, THREADS, split, &got, got_keys);
		for (unsigned t = 0; t < 4; t++) {
			assert_int_equal(got.t[t].c.packets, ref.t[t].c.packets);
			if (t == 3)
				close_to(got.t[t].c.conform_packets, ref.t[t].c.conform_packets,
					 budget[t], 1, got.t[t].name);
			else if (t != 2)
				close_to(got.t[t].c.conform_bytes, ref.t[t].c.conform_bytes,
					 budget[t], 1000, got.t[t].name);
		}
		for (unsigned k = 0; k < NKEYS; k++) {
			char what[32];

			snprintf(what, sizeof(what), "key %u", k);
			close_to(got_keys[k], ref_keys[k], 1e5 * secs + 3000, 1000, what);
		}
		assert_int_equal(got.t[2].keys, NKEYS);
		sl_stats_free(&got);
	}
	sl_stats_free(&ref);
	free(s.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compare_splits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
