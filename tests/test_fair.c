/* test_fair.c - fair: flows (sl_fair.h): the slots against a plain reference, and a shaped
 * tenant's greedy flows getting equal rates through the engine, on one lcore and on two. */
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
#include "sl_fair.h"
#include "test_rng.h"

#define NS 1000000000ull

/* ---- the slots against a reference that scans every slot, with no bitmap ---------------- */

struct ref_slot {
	uint64_t d, d0, b;
	uint32_t sig;
};

static int live(uint64_t d, uint64_t now)
{
	return (int64_t)(d - now) > 0;
}

/* The slot a flow takes: its own; else the first whose frames have all left; else the one
 * that empties first (the first of equals). */
static void ref_look(const struct ref_slot *s, uint64_t h, uint64_t now, uint64_t q,
		     uint64_t hold, struct sl_fair_look *out)
{
	unsigned g = (unsigned)(h >> 60) * 4, slot = 64, n = 0;
	uint32_t sig = (uint32_t)(h >> 32) | 1;
	int found = 0;

	for (unsigned k = 0; k < 4 && !found; k++)
		if (s[g + k].sig == sig) {
			slot = g + k;
			found = 1;
		}
	for (unsigned k = 0; k < 4 && slot == 64; k++)
		if (!live(s[g + k].d, now))
			slot = g + k;
	if (slot == 64) {
		slot = g;
		for (unsigned k = 1; k < 4; k++)
			if (s[g + k].d < s[slot].d)
				slot = g + k;
	}
	for (unsigned i = 0; i < 64; i++)
		n += live(s[i].d + hold, now);
	out->slot = slot;
	out->sig = sig;
	if (!found || !live(s[slot].d, now))
		out->backlog = 0;	/* new to the slot, or all its frames have left */
	else if (now < s[slot].d0)
		out->backlog = s[slot].b;	/* none has left yet */
	else
		out->backlog = (uint64_t)((unsigned __int128)s[slot].b * (s[slot].d - now) /
					  (s[slot].d - s[slot].d0));
	n += !live(s[slot].d + hold, now);
	out->share = n == 1 ? UINT64_MAX
		     : ((unsigned __int128)q << 16) / n < (1ull << 62) ? (uint64_t)((q << 16) / n)
								       : 1ull << 62;
}

/* Random flows (few: no group is contended; many: groups evict), random times, waits and
 * costs: every look equals the reference's, every note is applied to both. */
static void slots_against_reference(unsigned nb_flows, uint64_t hold, uint64_t seed)
{
	static struct sl_fair f;
	struct ref_slot ref[64];
	uint64_t flows[256], r = seed, now = 5 * NS, q = 200000;
	unsigned admitted = 0, refused = 0, evicted = 0;

	memset(&f, 0, sizeof(f));
	memset(ref, 0, sizeof(ref));
	for (unsigned i = 0; i < nb_flows; i++)
		flows[i] = test_rng(&r);
	for (unsigned op = 0; op < 200000; op++) {
		uint64_t h = flows[test_rng(&r) % nb_flows], units = 1 + test_rng(&r) % 12000;
		struct sl_fair_look a, b;

		now += test_rng(&r) % 20000;
		sl_fair_look(&f, h, now, q, hold, &a);
		ref_look(ref, h, now, q, hold, &b);
		assert_int_equal(a.slot, b.slot);
		assert_int_equal(a.sig, b.sig);
		assert_int_equal(a.backlog, b.backlog);
		assert_int_equal(a.share, b.share);
		/* no slot the bitmap lost has frames waiting */
		for (unsigned i = 0; i < 64; i++)
			if (live(f.s[i].d + hold, now))
				assert_true(f.active >> i & 1);
		if (!sl_fair_admit(&a, units)) {
			refused++;
			continue;
		}
		admitted++;
		if (test_rng(&r) % 4) {	/* taken and waits (else it left at once) */
			uint64_t dep = now + 1 + test_rng(&r) % 2000000;

			evicted += f.s[a.slot].sig && f.s[a.slot].sig != a.sig &&
				   live(f.s[a.slot].d, now);
			uint64_t d0 = !b.backlog ? dep : ref[b.slot].d0 > now ? ref[b.slot].d0 : now;

			sl_fair_note(&f, &a, now, dep, units);
			uint64_t nb = b.backlog + (units << 16);

			ref[b.slot] = (struct ref_slot){dep, d0, nb < 1ull << 62 ? nb : 1ull << 62,
							b.sig};
		}
	}
	assert_true(admitted > 1000);
	assert_true(refused > 1000);
	if (nb_flows > 64)
		assert_true(evicted > 100);
}

static void slots_few_flows(void **st)
{
	(void)st;
	slots_against_reference(5, 0, 1);
	slots_against_reference(30, 0, 2);
	slots_against_reference(30, 1000000, 4);
}

static void slots_many_flows(void **st)
{
	(void)st;
	slots_against_reference(200, 0, 3);
	slots_against_reference(200, 500000, 5);
}

/* By hand: two flows sharing q = 10,000 units (backlogs and shares in 2^-16 units). */
#define U 65536ull

static void by_hand(void **st)
{
	static struct sl_fair f;
	struct sl_fair_look a, b;
	const uint64_t ha = 0x1000000000000000ull | 0xaaaa00000000ull,
		       hb = 0x1000000000000000ull | 0xbbbb00000000ull;	/* the same group */

	(void)st;
	memset(&f, 0, sizeof(f));
	sl_fair_look(&f, ha, 1000, 10000, 0, &a);	/* alone: its buckets decide */
	assert_int_equal(a.slot, 4);
	assert_int_equal(a.backlog, 0);
	assert_int_equal(a.share, UINT64_MAX);
	sl_fair_note(&f, &a, 1000, 2000, 9000);	/* 9,000 units waiting until tick 2000 */
	sl_fair_look(&f, ha, 1500, 10000, 0, &a);	/* none has left before its first leaves */
	assert_int_equal(a.backlog, 9000 * U);
	assert_true(sl_fair_admit(&a, 100000));		/* alone still */
	sl_fair_note(&f, &a, 1500, 3000, 1000);	/* 10,000 leaving from 2000 to 3000 */
	sl_fair_look(&f, ha, 2500, 10000, 0, &a);	/* half of them left */
	assert_int_equal(a.backlog, 5000 * U);
	sl_fair_look(&f, hb, 2500, 10000, 0, &b);	/* a second flow: the next slot, half each */
	assert_int_equal(b.slot, 5);
	assert_int_equal(b.backlog, 0);
	assert_int_equal(b.share, 5000 * U);
	assert_true(sl_fair_admit(&b, 60000));	/* nothing waiting: always admitted */
	sl_fair_note(&f, &b, 2500, 4000, 1000);
	sl_fair_look(&f, ha, 2500, 10000, 0, &a);	/* flow a holds its half now */
	assert_int_equal(a.share, 5000 * U);
	assert_false(sl_fair_admit(&a, 1));
	sl_fair_look(&f, ha, 2800, 10000, 0, &a);	/* 2,000 of a's left: room for 2,000 */
	assert_int_equal(a.backlog, 2000 * U);
	assert_true(sl_fair_admit(&a, 3000));
	assert_false(sl_fair_admit(&a, 3001));
	sl_fair_note(&f, &a, 2800, 3600, 1000);	/* a: 3,000 from 2800 (its oldest leaves now) */
	sl_fair_look(&f, ha, 3200, 10000, 0, &a);
	assert_int_equal(a.backlog, 1500 * U);
	sl_fair_look(&f, hb, 3650, 10000, 100, &b);	/* a left at 3600: counts until 3700 */
	assert_int_equal(b.share, 5000 * U);
	sl_fair_look(&f, hb, 3650, 10000, 0, &b);	/* without a hold it does not: b alone */
	assert_int_equal(b.share, UINT64_MAX);
	sl_fair_look(&f, ha, 3600, 10000, 0, &a);	/* a's frames have left: b alone waits */
	assert_int_equal(a.backlog, 0);
	assert_int_equal(a.share, 5000 * U);
	assert_int_equal(f.active, 1ull << 5);	/* a's bit cleared on the way */
}

/* A packet-rate flow draining while it adds: the estimate follows it (no unit lost to
 * rounding at each frame, which would freeze it at 1). */
static void packets_keep_count(void **st)
{
	static struct sl_fair f;
	struct sl_fair_look a;
	const uint64_t h = 0x2000000012340000ull;
	uint64_t now = 1000000, dep = now + 100000;

	(void)st;
	memset(&f, 0, sizeof(f));
	sl_fair_look(&f, h, now, 40, 0, &a);
	sl_fair_note(&f, &a, now, dep, 1);
	/* a frame every 1,000 ticks, each leaving 2,000 ticks after the one before (the queue
	 * grows): frames 25 to 149 are still waiting at the 150th's tick, 1,149,000 */
	for (unsigned i = 1; i < 150; i++) {
		now += 1000;
		dep += 2000;
		sl_fair_look(&f, h, now, 40, 0, &a);
		sl_fair_note(&f, &a, now, dep, 1);
	}
	sl_fair_look(&f, h, now, 40, 0, &a);
	printf("packet flow: %.2f packets estimated waiting, 125 really\n", (double)a.backlog / U);
	assert_true(a.backlog >= 120 * U && a.backlog <= 126 * U);
}

/* ---- through the engine --------------------------------------------------------------- */

static void udp4(struct pb *f, uint32_t src, uint16_t sport, uint32_t len)
{
	pb_udp4(f, -1, -1, src, 0xc0000201, 0, sport, 5201, len);
}

/* One shared shaped tenant of rate bits/s matching every frame. */
static struct sl_engine *shaper(uint64_t rate, enum sl_fair_mode fair, unsigned nb_lcores,
				struct sl_cfg_profile *p, struct sl_config *cfg,
				struct sl_cfg_tenant *t, struct sl_cfg_match *m)
{
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = nb_lcores, .max_keys = 4096,
				   .can_shape = 1};
	struct sl_diag d = {0};
	struct sl_engine *e;

	memset(p, 0, sizeof(*p));
	strcpy(p->name, "p");
	p->mode = SL_MODE_SHARED;
	p->unit = SL_UNIT_BITS;
	p->exceed = SL_ACT_SHAPE;
	p->nb_buckets = 1;
	p->b[0] = (struct sl_cfg_bucket){rate, NS, 16000 * 8};
	p->max_delay_ns = 20000000;
	p->fair = fair;
	memset(t, 0, sizeof(*t));
	strcpy(t->name, "t");
	t->nb_match = 1;
	memset(m, 0, sizeof(*m));
	*cfg = (struct sl_config){.path = "test.yaml", .nb_profiles = 1, .profiles = p,
				  .nb_tenants = 1, .tenants = t, .nb_matches = 1, .matches = m};
	assert_int_equal(sl_engine_create(cfg, &o, &e, &d), 0);
	return e;
}

#define FLOWS 4

/*
 * Four greedy UDP flows offered 1.2, 2, 3 and 6 quarters of a 10 Mbit/s shaper (3 times its
 * rate in all) for 10 s of injected time, frames of 1,000 bytes at steady gaps (flow k on
 * lcore k % nb_lcores). Returns the bytes each flow got through (frames taken, whether they
 * waited or not) over the last 8 s, and the tenant's counters.
 */
static void greedy(enum sl_fair_mode fair, unsigned nb_lcores, uint64_t got[FLOWS],
		   struct sl_tenant_stats *ts)
{
	static const uint64_t tenth_quarters[FLOWS] = {12, 20, 30, 60};
	const uint64_t rate = 10000000, len = 1000, end = 10 * NS;
	struct sl_cfg_profile p;
	struct sl_config cfg;
	struct sl_cfg_tenant t;
	struct sl_cfg_match m;
	struct sl_engine *e = shaper(rate, fair, nb_lcores, &p, &cfg, &t, &m);
	uint64_t gap[FLOWS], next[FLOWS];
	struct sl_stats s;

	for (unsigned k = 0; k < FLOWS; k++) {
		/* rate / 4 * tq / 10 bits per s: a frame every 8 * len * 40 / (rate * tq) s */
		gap[k] = 8 * len * 40 * NS / (rate * tenth_quarters[k]);
		next[k] = NS + k * 997;
		got[k] = 0;
	}
	for (;;) {
		unsigned k = 0;
		struct pb f;
		uint8_t *data[1], v;
		uint32_t caplen, ln;
		struct sl_decision dec;

		for (unsigned j = 1; j < FLOWS; j++)
			k = next[j] < next[k] ? j : k;
		if (next[k] >= end)
			break;
		udp4(&f, 0x0a000001, (uint16_t)(40000 + k), (uint32_t)len);
		data[0] = f.b;
		caplen = ln = f.len;
		sl_process_ex(sl_engine_lcore(e, k % nb_lcores), 0, data, &caplen, &ln, 1,
			      next[k], &v, &dec);
		if (v == SL_V_FORWARD && next[k] >= 2 * NS)
			got[k] += len;
		next[k] += gap[k];
	}
	assert_int_equal(sl_engine_stats(e, &s), 0);
	*ts = s.t[0];
	sl_stats_free(&s);
	sl_engine_free(e);
}

static double spread(const uint64_t got[FLOWS])
{
	uint64_t lo = got[0], hi = got[0];

	for (unsigned k = 1; k < FLOWS; k++) {
		lo = got[k] < lo ? got[k] : lo;
		hi = got[k] > hi ? got[k] : hi;
	}
	return (double)(hi - lo) / (double)lo;
}

static void check_fair(unsigned nb_lcores, double most)
{
	uint64_t got[FLOWS], sum = 0;
	struct sl_tenant_stats ts;

	greedy(SL_FAIR_FLOWS, nb_lcores, got, &ts);
	for (unsigned k = 0; k < FLOWS; k++)
		sum += got[k];
	printf("fair: flows, %u lcore(s): %.3f %.3f %.3f %.3f Mbit/s, spread %.1f%%, "
	       "fair_drops %llu of %llu shape_drops\n", nb_lcores, got[0] * 8 / 8e6,
	       got[1] * 8 / 8e6, got[2] * 8 / 8e6, got[3] * 8 / 8e6, 100 * spread(got),
	       (unsigned long long)ts.c.fair_drops, (unsigned long long)ts.c.shape_drops);
	assert_true(spread(got) <= most);
	/* the shaper still sends its rate: 8 s at 10 Mbit/s, within the burst and the queue */
	assert_true(sum * 8 >= 8 * 10000000ull - 200000 && sum * 8 <= 8 * 10000000ull + 400000);
	assert_true(ts.c.fair_drops > 0);
	assert_true(ts.c.fair_drops <= ts.c.shape_drops);
	assert_true(ts.c.shape_drops <= ts.c.exceed_packets);
	assert_int_equal(ts.c.conform_packets + ts.c.exceed_packets, ts.c.packets);
}

/* fair: flows gives the four the same rate within 5%; fair: none gives what they offer. */
static void greedy_flows_one_lcore(void **st)
{
	uint64_t got[FLOWS];
	struct sl_tenant_stats ts;

	(void)st;
	check_fair(1, 0.05);
	greedy(SL_FAIR_NONE, 1, got, &ts);
	printf("fair: none: %.3f %.3f %.3f %.3f Mbit/s, spread %.1f%%\n", got[0] * 8 / 8e6,
	       got[1] * 8 / 8e6, got[2] * 8 / 8e6, got[3] * 8 / 8e6, 100 * spread(got));
	assert_int_equal(ts.c.fair_drops, 0);
	assert_true(got[3] > 3 * got[0]);	/* a FIFO shares by what each keeps queued */
}

static void greedy_flows_two_lcores(void **st)
{
	(void)st;
	check_fair(2, 0.10);
}

/* One flow alone: fair: flows decides every frame as fair: none does. */
static void one_flow_as_fifo(void **st)
{
	struct sl_cfg_profile p[2];
	struct sl_config cfg[2];
	struct sl_cfg_tenant t[2];
	struct sl_cfg_match m[2];
	struct sl_engine *e[2] = {shaper(5000000, SL_FAIR_FLOWS, 1, &p[0], &cfg[0], &t[0], &m[0]),
				  shaper(5000000, SL_FAIR_NONE, 1, &p[1], &cfg[1], &t[1], &m[1])};
	uint64_t r = 7, now = NS, waited = 0;

	(void)st;
	for (unsigned i = 0; i < 100000; i++) {
		struct pb f;
		uint8_t *data[1], v[2];
		uint32_t caplen, ln, len = 64 + (uint32_t)(test_rng(&r) % 1437);
		struct sl_decision dec[2];

		now += test_rng(&r) % 2000000;
		udp4(&f, 0x0a000001, 40000, len);
		data[0] = f.b;
		for (unsigned j = 0; j < 2; j++) {
			caplen = ln = f.len;
			sl_process_ex(sl_engine_lcore(e[j], 0), 0, data, &caplen, &ln, 1, now,
				      &v[j], &dec[j]);
		}
		assert_int_equal(v[0], v[1]);
		if (v[0] == SL_V_FORWARD)
			assert_int_equal(dec[0].depart, dec[1].depart);
		waited += v[0] == SL_V_FORWARD && dec[0].depart > now;
	}
	assert_true(waited > 1000);
	sl_engine_free(e[0]);
	sl_engine_free(e[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(by_hand),
		cmocka_unit_test(packets_keep_count),
		cmocka_unit_test(slots_few_flows),
		cmocka_unit_test(slots_many_flows),
		cmocka_unit_test(greedy_flows_one_lcore),
		cmocka_unit_test(greedy_flows_two_lcores),
		cmocka_unit_test(one_flow_as_fifo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
