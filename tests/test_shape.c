/* test_shape.c - exceed: shape in the engine: departures and shape drops against an exact
 * integer reference, on one lcore and on two, with limits, queues, reloads and refusals. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "pkt_build.h"
#include "sl_engine.h"
#include "test_rng.h"

#define NS 1000000000ull

static void udp4(struct pb *f, uint32_t src, uint32_t len)
{
	pb_udp4(f, -1, -1, src, 0xc0000201, 0, 1000, 53, len);
}

/*
 * The reference: one shaped bucket in exact integers. Tokens are kept times per_ns (T), so a
 * refill of dt ns adds amount * dt exactly; the debt allowed is floor(amount * max_delay /
 * per_ns) tokens; a frame's wait is ceil(-T / amount) ns when T < 0 after the take.
 */
struct ref_bucket {
	__int128 t;			/* tokens x per_ns */
	uint64_t last;
	uint64_t amount, per_ns, burst, debt;
};

static void ref_init(struct ref_bucket *b, const struct sl_cfg_profile *p, unsigned i)
{
	b->amount = p->b[i].amount;
	b->per_ns = p->b[i].per_ns;
	b->burst = p->b[i].burst;
	b->debt = sl_cfg_shape_debt(p, i);
	b->t = (__int128)b->burst * b->per_ns;
	b->last = 0;
}

static __int128 ref_refill(const struct ref_bucket *b, uint64_t now)
{
	__int128 v = b->t + (__int128)b->amount * (now > b->last ? now - b->last : 0);
	__int128 cap = (__int128)b->burst * b->per_ns;

	return v < cap ? v : cap;
}

/* A frame of cost c at now through buckets b[0..nb): 1 taken (departure in *dep), 0 dropped. */
static int ref_take(struct ref_bucket *b, unsigned nb, uint64_t now, uint64_t c, uint64_t *dep)
{
	__int128 v[SL_MAX_BUCKETS];
	uint64_t w = 0;
	int ok = 1;

	for (unsigned i = 0; i < nb; i++) {
		v[i] = ref_refill(&b[i], now);
		ok &= v[i] - (__int128)c * b[i].per_ns >= -(__int128)b[i].debt * b[i].per_ns;
	}
	for (unsigned i = 0; i < nb; i++) {
		b[i].t = ok ? v[i] - (__int128)c * b[i].per_ns : v[i];
		b[i].last = now > b[i].last ? now : b[i].last;
		if (ok && b[i].t < 0) {
			uint64_t wi = (uint64_t)((-b[i].t + b[i].amount - 1) / b[i].amount);

			w = wi > w ? wi : w;
		}
	}
	*dep = now + w;
	return ok;
}

struct world {
	struct sl_config cfg;
	struct sl_cfg_profile prof[2];
	struct sl_cfg_tenant ten[2];
	struct sl_cfg_match mat[2];
	struct sl_engine *e;
	unsigned nb_lcores;
};

static struct sl_cfg_profile shaped(const char *name, enum sl_mode mode, enum sl_unit unit,
				    uint64_t rate, uint64_t burst, uint64_t max_delay_ns)
{
	struct sl_cfg_profile p;

	memset(&p, 0, sizeof(p));
	strcpy(p.name, name);
	p.mode = mode;
	p.key = SL_KEY_SRC_IP;
	p.unit = unit;
	p.exceed = SL_ACT_SHAPE;
	p.nb_buckets = 1;
	p.b[0] = (struct sl_cfg_bucket){rate, NS, burst};
	p.idle_ns = 60 * NS;
	p.max_delay_ns = max_delay_ns;
	return p;
}

/* One tenant matching everything, of profile p. */
static int build(struct world *w, const struct sl_cfg_profile *p, unsigned nb_lcores,
		 int can_shape, struct sl_diag *d)
{
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = nb_lcores, .max_keys = 4096,
				   .can_shape = can_shape};

	memset(w, 0, sizeof(*w));
	w->prof[0] = *p;
	strcpy(w->ten[0].name, "t");
	w->ten[0].nb_match = 1;
	w->cfg = (struct sl_config){.path = "test.yaml", .nb_profiles = 1, .profiles = w->prof,
				    .nb_tenants = 1, .tenants = w->ten, .nb_matches = 1,
				    .matches = w->mat};
	w->nb_lcores = nb_lcores;
	return sl_engine_create(&w->cfg, &o, &w->e, d);
}

/* n frames (sizes len[], sources src[]) at now on lcore l: verdicts and departures. */
static void send(struct world *w, unsigned l, unsigned n, const uint32_t *src,
		 const uint32_t *len, uint64_t now, uint8_t *verdict, uint64_t *dep)
{
	static uint8_t buf[SL_BURST_MAX][PB_MAX];
	uint8_t *data[SL_BURST_MAX];
	uint32_t caplen[SL_BURST_MAX], ln[SL_BURST_MAX];
	struct sl_decision dec[SL_BURST_MAX];
	struct pb f;

	for (unsigned i = 0; i < n; i++) {
		udp4(&f, src[i], len[i]);
		memcpy(buf[i], f.b, f.len);
		data[i] = buf[i];
		caplen[i] = ln[i] = f.len;
	}
	sl_process_ex(sl_engine_lcore(w->e, l), 0, data, caplen, ln, n, now, verdict, dec);
	for (unsigned i = 0; i < n; i++)
		dep[i] = dec[i].depart;
}

static struct sl_tenant_stats tenant_stats(struct world *w)
{
	struct sl_stats s;
	struct sl_tenant_stats t;

	assert_int_equal(sl_engine_stats(w->e, &s), 0);
	t = s.t[0];
	sl_stats_free(&s);
	return t;
}

/*
 * Random traffic (bursts of random size and frame lengths, random gaps, several sources)
 * through profile p on nb_lcores lcores (bursts handed out in turn), every frame's verdict
 * and departure against the reference; departures may differ by 1 ns (the engine's rate is
 * rounded up in fixed point). Checks the counters too.
 */
static void against_reference(const struct sl_cfg_profile *p, unsigned nb_lcores,
			      unsigned nb_src, uint64_t mean_gap, uint64_t seed)
{
	struct ref_bucket ref[8][SL_MAX_BUCKETS];
	uint64_t r = seed, now = NS, taken = 0, waited = 0, waited_b = 0, drops = 0, maxw = 0;
	struct world w;
	struct sl_diag d = {0};
	struct sl_tenant_stats t;

	assert_int_equal(build(&w, p, nb_lcores, 1, &d), 0);
	for (unsigned s = 0; s < 8; s++)
		for (unsigned b = 0; b < p->nb_buckets; b++)
			ref_init(&ref[p->mode == SL_MODE_SHARED ? 0 : s][b], p, b);
	for (unsigned burst = 0; burst < 4000; burst++) {
		uint32_t src[SL_BURST_MAX], len[SL_BURST_MAX];
		uint8_t v[SL_BURST_MAX];
		uint64_t dep[SL_BURST_MAX];
		unsigned n = 1 + (unsigned)(test_rng(&r) % 32);

		for (unsigned i = 0; i < n; i++) {
			src[i] = 0x0a000001 + (uint32_t)(test_rng(&r) % nb_src);
			len[i] = 64 + (uint32_t)(test_rng(&r) % 1437);
		}
		send(&w, burst % nb_lcores, n, src, len, now, v, dep);
		for (unsigned i = 0; i < n; i++) {
			unsigned k = p->mode == SL_MODE_SHARED ? 0 : src[i] - 0x0a000001;
			uint64_t c = p->unit == SL_UNIT_BITS ? 8ull * len[i] : 1, want;
			int ok = ref_take(ref[k], p->nb_buckets, now, c, &want);

			if (ok != (v[i] == SL_V_FORWARD) ||
			    (ok && (dep[i] + 1 < want || dep[i] > want + 1)))
				fprintf(stderr, "burst %u frame %u len %u tokens %lld: verdict %u "
					"wait %llu, want %d %llu\n", burst, i, len[i],
					(long long)(ref[k][0].t / (__int128)ref[k][0].per_ns), v[i],
					(unsigned long long)(dep[i] - now), ok,
					(unsigned long long)(want - now));
			assert_int_equal(ok, v[i] == SL_V_FORWARD);
			if (!ok) {
				drops++;
				continue;
			}
			assert_true(dep[i] + 1 >= want && dep[i] <= want + 1);
			assert_true(dep[i] - now <= p->max_delay_ns + 1);
			taken++;
			if (dep[i] > now) {
				waited++;
				waited_b += len[i];
				maxw = dep[i] - now > maxw ? dep[i] - now : maxw;
			}
		}
		now += test_rng(&r) % (2 * mean_gap + 1);
	}
	t = tenant_stats(&w);
	assert_int_equal(t.c.conform_packets, taken);
	assert_int_equal(t.c.shaped_packets, waited);
	assert_int_equal(t.c.shaped_bytes, waited_b);
	assert_int_equal(t.c.shape_drops, drops);
	assert_int_equal(t.c.exceed_packets, drops);
	assert_int_equal(t.shape_delay_max_us, (maxw + 500) / 1000);
	/* the corpus is not degenerate: frames leave at once, wait, and are dropped */
	assert_true(waited > taken / 10 && waited < taken);
	assert_true(drops > 0);
	sl_engine_free(w.e);
}

/* A shared 50 mbit tenant, 16 KB burst, 2 ms max-delay, offered about twice its rate. */
static void shared_bytes(void **state)
{
	struct sl_cfg_profile p = shaped("s", SL_MODE_SHARED, SL_UNIT_BITS, 50000000,
					 16000 * 8, 2000000);

	(void)state;
	/* bursts of 16 frames of 780 B on average every 1 ms on average: 100 Mbit/s offered */
	against_reference(&p, 1, 4, 1000000, 1);
	against_reference(&p, 2, 4, 1000000, 2);
}

/* Dedicated per-source keys in packet mode with a queue of 5 packets: the queue, not the
 * max-delay, bounds each key's debt. */
static void dedicated_packets_queue(void **state)
{
	struct sl_cfg_profile p = shaped("d", SL_MODE_DEDICATED, SL_UNIT_PACKETS, 10000, 4,
					 100000000);

	(void)state;
	p.queue = 5;
	assert_int_equal(sl_cfg_shape_debt(&p, 0), 5);
	/* 2 frames per source every 100 us on average: twice the rate */
	against_reference(&p, 1, 8, 100000, 3);
	against_reference(&p, 2, 8, 100000, 4);
}

/* A limit window binds: its debt (rate x max-delay of the window's own rate) sets the waits. */
static void limit_binds(void **state)
{
	struct sl_cfg_profile p = shaped("l", SL_MODE_SHARED, SL_UNIT_BITS, 100000000,
					 64000 * 8, 10000000);

	(void)state;
	p.nb_buckets = 2;
	/* 2 MB per second (16 Mbit/s in the long run) under 100 Mbit/s offered */
	p.b[1] = (struct sl_cfg_bucket){16000000, NS, 16000000};
	against_reference(&p, 1, 2, 1000000, 5);
	against_reference(&p, 2, 2, 1000000, 6);
}

/*
 * The figures by hand: 1000-byte frames every 40 us into 50 mbit (a frame's 8000 bits take
 * 160 us at the rate, 40 us refill 2000), burst 2000 B, max-delay 1 ms (50,000 bits of debt).
 * Real tokens after each frame: 8000, 2000, -4000 (waits 80 us), -10000 (200 us), ... -46000
 * (920 us); the 11th would leave -52000: dropped; the 12th leaves -50000: waits 1 ms.
 */
static void by_hand(void **state)
{
	struct sl_cfg_profile p = shaped("h", SL_MODE_SHARED, SL_UNIT_BITS, 50000000, 16000,
					 1000000);
	struct world w;
	struct sl_diag d = {0};
	uint32_t src = 0x0a000001, len = 1000;
	static const int64_t want[12] = {0, 0, 80000, 200000, 320000, 440000, 560000, 680000,
					 800000, 920000, -1, 1000000};

	(void)state;
	assert_int_equal(build(&w, &p, 1, 1, &d), 0);
	assert_int_equal(sl_cfg_shape_debt(&p, 0), 50000);
	for (unsigned k = 0; k < 12; k++) {
		uint8_t v;
		uint64_t dep, now = NS + k * 40000ull;

		send(&w, 0, 1, &src, &len, now, &v, &dep);
		if (want[k] < 0) {
			assert_int_equal(v, SL_V_DROP);
			continue;
		}
		assert_int_equal(v, SL_V_FORWARD);
		assert_true(dep - now + 1 >= (uint64_t)want[k] && dep - now <= (uint64_t)want[k] + 1);
	}
	assert_int_equal(tenant_stats(&w).c.shape_drops, 1);
	assert_int_equal(tenant_stats(&w).c.shaped_packets, 9);
	assert_int_equal(tenant_stats(&w).shape_delay_max_us, 1000);
	sl_engine_free(w.e);
}

/* Without a caller that holds frames, a shaped profile is refused, naming the field. */
static void refused_without_holder(void **state)
{
	struct sl_cfg_profile p = shaped("x", SL_MODE_SHARED, SL_UNIT_BITS, 1000000, 8000, NS / 50);
	struct world w;
	struct sl_diag d = {0};

	(void)state;
	assert_int_equal(build(&w, &p, 1, 0, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msg[0], "test.yaml:0") == NULL ? strstr(d.msg[0], "profiles.x.exceed") : NULL);
	assert_non_null(strstr(d.msg[0], "--workers"));
	sl_diag_free(&d);
}

/*
 * Reloads: a rate change keeps the tenant's debt (its tokens stay in the same scale), so a
 * frame right after it waits for the debt at the new rate; a change to exceed: drop starts
 * the buckets full.
 */
static void reload_keeps_debt(void **state)
{
	struct sl_cfg_profile p = shaped("r", SL_MODE_SHARED, SL_UNIT_BITS, 8000000, 8000,
					 100000000);
	struct world w;
	struct sl_diag d = {0};
	struct sl_reload_summary sum;
	uint32_t src = 0x0a000001, len = 1000;
	uint8_t v;
	uint64_t dep, now = NS;

	(void)state;
	assert_int_equal(build(&w, &p, 1, 1, &d), 0);
	for (unsigned k = 0; k < 11; k++)	/* 1 frame of burst, 10 owed: 10 ms at 8 mbit */
		send(&w, 0, 1, &src, &len, now, &v, &dep);
	assert_int_equal(v, SL_V_FORWARD);
	assert_int_equal(dep - now, 10000000);
	w.prof[0].b[0].amount = 16000000;	/* 16 mbit: the debt of 11 frames drains in 5.5 ms */
	assert_int_equal(sl_engine_reload(w.e, &w.cfg, &sum, &d), 0);
	assert_int_equal(sum.states_reset, 0);
	send(&w, 0, 1, &src, &len, now, &v, &dep);
	assert_int_equal(v, SL_V_FORWARD);
	assert_true(dep - now >= 5500000 && dep - now <= 5500001);
	w.prof[0].exceed = SL_ACT_DROP;
	assert_int_equal(sl_engine_reload(w.e, &w.cfg, &sum, &d), 0);
	assert_int_equal(sum.states_reset, 1);
	send(&w, 0, 1, &src, &len, now, &v, &dep);
	assert_int_equal(v, SL_V_FORWARD);	/* full again: the burst's one frame */
	assert_int_equal(dep, now);
	send(&w, 0, 1, &src, &len, now, &v, &dep);
	assert_int_equal(v, SL_V_DROP);
	sl_engine_free(w.e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(by_hand),
		cmocka_unit_test(shared_bytes),
		cmocka_unit_test(dedicated_packets_queue),
		cmocka_unit_test(limit_binds),
		cmocka_unit_test(refused_without_holder),
		cmocka_unit_test(reload_keeps_debt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
