/* test_burst_pipe.c - the pipelined data path (sl_burst_stage / _probe / _finish): the same
 * decisions, marks and counters as sl_process, and policy reloads between the calls. */
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

#define NS 1000000000ull

static struct sl_config *cfg_of(const char *yaml)
{
	struct sl_config *c = NULL;
	struct sl_diag d = {0};

	if (sl_config_parse("t.yaml", yaml, strlen(yaml), &c, &d)) {
		sl_diag_print(&d, stderr);
		fail();
	}
	sl_diag_free(&d);
	return c;
}

static struct sl_engine *engine_of(const char *yaml)
{
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = 1, .max_keys = 4096};
	struct sl_config *c = cfg_of(yaml);
	struct sl_engine *e = NULL;
	struct sl_diag d = {0};

	assert_int_equal(sl_engine_create(c, &o, &e, &d), 0);
	sl_config_free(c);
	return e;
}

static void reload(struct sl_engine *e, const char *yaml)
{
	struct sl_config *c = cfg_of(yaml);
	struct sl_diag d = {0};

	assert_int_equal(sl_engine_reload(e, c, NULL, &d), 0);
	sl_config_free(c);
	sl_diag_free(&d);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* A UDP/IPv4 frame of len bytes in vlan from src:sport. */
static void udp4(struct pb *f, uint16_t vlan, uint32_t src, uint16_t sport, uint32_t len)
{
	uint32_t l3;

	pb_init(f);
	pb_macs(f);
	pb_tag(f, 0x8100, vlan);
	pb_u16(f, 0x0800);
	l3 = pb_ipv4(f, 0, 0, 17, src, 0xc0000201, 0);
	pb_udp(f, sport, 53, (uint16_t)(len - 46));
	pb_ipv4_fin(f, l3, 0);
}

/* ---- the same stream through sl_process and through the pipeline -------------------------- */

#define FRAMES 6000
#define MAXB 32

static const char *mix =
	"sluice: 1\nunmatched: pass\nprofiles:\n"
	"  ded: {mode: dedicated, key: src-ip, rate: 16kbit, burst: 2000B, exceed: drop}\n"
	"  five: {mode: dedicated, key: 5-tuple, rate: 50pps, burst: 2pkt, exceed: mark, dscp: 10}\n"
	"  shr: {mode: shared, rate: 2mbit, burst: 6000B, exceed: mark, dscp: 46}\n"
	"  flows: {mode: shared, rate: 100mbit, burst: 100000B, max-flows: 8, exceed: drop}\n"
	"tenants:\n"
	"  - {name: a, profile: ded, match: {vlan: 1}}\n"
	"  - {name: b, profile: five, match: {vlan: 2}}\n"
	"  - {name: c, profile: shr, match: {vlan: 3}}\n"
	"  - {name: d, profile: flows, match: {vlan: 4}}\n";

struct stream {
	uint8_t buf[FRAMES][PB_MAX];
	uint8_t *data[FRAMES];
	uint32_t caplen[FRAMES], len[FRAMES];
	unsigned nb_bursts, first[FRAMES + 1];	/* burst k = frames [first[k], first[k + 1]) */
	uint64_t now[FRAMES];
};

/*
 * Frames in 5 VLANs (the 5th matches no tenant) from 150 sources x 4 ports, 64..1500 bytes,
 * every 97th truncated to 30 bytes (malformed); bursts of 1..32 frames 0..2 ms apart, so that
 * a key often appears in consecutive bursts that are in the pipeline together.
 */
static void make_stream(struct stream *s, uint64_t seed)
{
	uint64_t x = seed, t = 0;
	unsigned k = 0;

	for (unsigned i = 0; i < FRAMES; i++) {
		struct pb f;
		uint16_t vlan = (uint16_t)(1 + rnd(&x) % 5);
		uint32_t src = 0x0a000000u + (uint32_t)(rnd(&x) % 150);

		udp4(&f, vlan, src, (uint16_t)(1000 + rnd(&x) % 4), 64 + (uint32_t)(rnd(&x) % 1437));
		memcpy(s->buf[i], f.b, f.len);
		s->data[i] = s->buf[i];
		s->len[i] = f.len;
		s->caplen[i] = i % 97 == 96 ? 30 : f.len;
	}
	for (unsigned i = 0; i < FRAMES; k++) {
		s->first[k] = i;
		s->now[k] = t;
		i += 1 + (unsigned)(rnd(&x) % MAXB);
		if (i > FRAMES)
			i = FRAMES;
		t += rnd(&x) % (2 * NS / 1000);
	}
	s->first[k] = FRAMES;
	s->nb_bursts = k;
}

static unsigned burst_n(const struct stream *s, unsigned k)
{
	return s->first[k + 1] - s->first[k];
}

static void assert_same_stats(struct sl_engine *a, struct sl_engine *b)
{
	struct sl_stats x, y;

	assert_int_equal(sl_engine_stats(a, &x), 0);
	assert_int_equal(sl_engine_stats(b, &y), 0);
	assert_memory_equal(&x.total, &y.total, sizeof(x.total));
	assert_memory_equal(&x.unmatched, &y.unmatched, sizeof(x.unmatched));
	assert_memory_equal(&x.malformed, &y.malformed, sizeof(x.malformed));
	assert_memory_equal(&x.dropped, &y.dropped, sizeof(x.dropped));
	assert_int_equal(x.nb_tenants, y.nb_tenants);
	for (unsigned t = 0; t < x.nb_tenants; t++) {
		assert_string_equal(x.t[t].name, y.t[t].name);
		assert_memory_equal(&x.t[t].c, &y.t[t].c, sizeof(x.t[t].c));
		assert_int_equal(x.t[t].keys, y.t[t].keys);
		assert_int_equal(x.t[t].flows, y.t[t].flows);
	}
	sl_stats_free(&x);
	sl_stats_free(&y);
}

static const struct sl_tenant_stats *tenant(const struct sl_stats *s, const char *name)
{
	for (unsigned i = 0; i < s->nb_tenants; i++)
		if (!strcmp(s->t[i].name, name))
			return &s->t[i];
	fail_msg("no tenant %s", name);
	return NULL;
}

/* Decision fields that do not depend on the engine's random hash secret. */
static void assert_same_decision(const struct sl_decision *x, const struct sl_decision *y)
{
	assert_int_equal(x->flow_hash, y->flow_hash);
	assert_int_equal(x->max_queue, y->max_queue);
	assert_int_equal(x->tenant, y->tenant);
	assert_int_equal(x->mark, y->mark);
	assert_int_equal(x->dscp, y->dscp);
	assert_int_equal(x->l3_off, y->l3_off);
}

/*
 * with_dec: both sides fill decisions (sl_process_ex / finish with dec) instead of marking in
 * place. skip_probe: every third burst is finished without its probe call.
 */
static void pipeline_equals_process(int with_dec, int skip_probe)
{
	static struct stream a, b;
	static uint8_t va[FRAMES], vb[FRAMES];
	static struct sl_decision da[FRAMES], db[FRAMES];
	struct sl_engine *ea = engine_of(mix), *eb = engine_of(mix);
	struct sl_lcore *la = sl_engine_lcore(ea, 0), *lb = sl_engine_lcore(eb, 0);
	unsigned fa = 0, fb = 0, k, marked = 0, dropped = 0;
	struct sl_stats st;

	make_stream(&a, 12345);
	make_stream(&b, 12345);
	for (k = 0; k < a.nb_bursts; k++) {
		unsigned o = a.first[k], n = burst_n(&a, k);

		fa += with_dec ? sl_process_ex(la, &a.data[o], &a.caplen[o], &a.len[o], n, a.now[k],
					       &va[o], &da[o])
			       : sl_process(la, &a.data[o], &a.caplen[o], &a.len[o], n, a.now[k],
					    &va[o]);
	}
	/* stage k, probe k-1, finish k-2; then the last two */
	for (k = 0; k < b.nb_bursts + 2; k++) {
		if (k < b.nb_bursts)
			sl_burst_stage(lb, k % SL_SLOTS, &b.data[b.first[k]], &b.caplen[b.first[k]],
				       burst_n(&b, k));
		if (k >= 1 && k - 1 < b.nb_bursts && !(skip_probe && (k - 1) % 3 == 0))
			sl_burst_probe(lb, (k - 1) % SL_SLOTS);
		if (k >= 2) {
			unsigned j = k - 2, o = b.first[j];

			fb += sl_burst_finish(lb, j % SL_SLOTS, &b.data[o], &b.caplen[o], &b.len[o],
					      b.now[j], &vb[o], with_dec ? &db[o] : NULL);
		}
	}
	assert_int_equal(fa, fb);
	for (unsigned i = 0; i < FRAMES; i++) {
		assert_int_equal(va[i], vb[i]);
		assert_memory_equal(a.buf[i], b.buf[i], a.len[i]);
		if (with_dec)
			assert_same_decision(&da[i], &db[i]);
		/* marked in place: the DSCP bits of the TOS byte (14 + 4-byte tag + 1) are set */
		marked += with_dec ? da[i].mark : va[i] == SL_V_FORWARD && a.caplen[i] > 19 &&
						  (a.buf[i][19] & 0xfc) != 0;
		dropped += va[i] == SL_V_DROP;
	}
	assert_same_stats(ea, eb);
	/* the stream exercised every path: drops, marks, refused flows, keys, unmatched */
	assert_int_equal(sl_engine_stats(ea, &st), 0);
	printf("# %u bursts, %u forwarded, %u dropped, %u marked, a: %llu exceeded, %llu keys; "
	       "b: %llu keys; d: %llu refused flows\n",
	       a.nb_bursts, fa, dropped, marked,
	       (unsigned long long)tenant(&st, "a")->c.exceed_packets,
	       (unsigned long long)tenant(&st, "a")->keys, (unsigned long long)tenant(&st, "b")->keys,
	       (unsigned long long)tenant(&st, "d")->c.flow_refused);
	assert_true(dropped > 100);
	assert_true(marked > 100);
	assert_true(tenant(&st, "a")->c.exceed_packets > 100);
	assert_true(tenant(&st, "a")->keys > 140);	/* of 150 sources */
	assert_true(tenant(&st, "b")->keys > 300);	/* of 600 5-tuples */
	assert_true(tenant(&st, "d")->c.flow_refused > 100);
	assert_true(st.unmatched.packets > 1000);
	assert_true(st.malformed.packets > 50);
	sl_stats_free(&st);
	sl_engine_free(ea);
	sl_engine_free(eb);
}

static void same_as_process(void **state)
{
	(void)state;
	pipeline_equals_process(0, 0);
}

static void same_as_process_ex_probes_skipped(void **state)
{
	(void)state;
	pipeline_equals_process(1, 1);
}

/* ---- reloads between the calls ------------------------------------------------------------- */

#define HEAD "sluice: 1\nunmatched: drop\nprofiles:\n"

/* n frames of 1000 bytes from sources src, src+1, ... in vlan: staged into slot. */
struct held {
	uint8_t buf[SL_BURST_MAX][PB_MAX];
	uint8_t *data[SL_BURST_MAX], verdict[SL_BURST_MAX];
	uint32_t caplen[SL_BURST_MAX], len[SL_BURST_MAX];
	unsigned n;
};

static void hold(struct held *h, uint16_t vlan, uint32_t src, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct pb f;

		udp4(&f, vlan, src + i, 1000, 1000);
		memcpy(h->buf[i], f.b, f.len);
		h->data[i] = h->buf[i];
		h->caplen[i] = h->len[i] = f.len;
	}
	h->n = n;
}

static unsigned finish(struct sl_lcore *lc, unsigned slot, struct held *h, uint64_t now)
{
	return sl_burst_finish(lc, slot, h->data, h->caplen, h->len, now, h->verdict, NULL);
}

/*
 * A burst staged under P1 and finished after a reload to P2 is decided by P2: here P2 moves
 * tenant a to another VLAN, so the frames are unmatched and dropped; P1 would have let one of
 * them through.
 */
static void reload_between_stage_and_finish(void **state)
{
	struct sl_engine *e = engine_of(HEAD "  p: {mode: shared, rate: 1mbit, burst: 1500B, "
					"exceed: drop}\ntenants:\n  - {name: a, profile: p, match: {vlan: 1}}\n");
	struct sl_lcore *lc = sl_engine_lcore(e, 0);
	static struct held h;
	struct sl_stats st;

	(void)state;
	hold(&h, 1, 0x0a000001, 4);
	sl_burst_stage(lc, 0, h.data, h.caplen, h.n);
	reload(e, HEAD "  p: {mode: shared, rate: 1mbit, burst: 1500B, exceed: drop}\n"
		  "tenants:\n  - {name: a, profile: p, match: {vlan: 2}}\n");
	assert_int_equal(finish(lc, 0, &h, 0), 0);
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(st.unmatched.packets, 4);
	assert_int_equal(st.dropped.packets, 4);
	assert_int_equal(tenant(&st, "a")->c.packets, 0);
	sl_stats_free(&st);
	sl_engine_free(e);
}

static unsigned process(struct sl_lcore *lc, struct held *h, uint64_t now)
{
	return sl_process(lc, h->data, h->caplen, h->len, h->n, now, h->verdict);
}

/*
 * Staged and probed under P1 (dedicated, 1000 B per key, the keys already in P1's table and
 * their buckets empty), then P2 gives the tenant a new profile: P1's table is freed by the
 * reload (this thread is no registered RCU reader, so the grace period ends at once). The
 * finish must use P2's table only (ASan: no use after free) and decide by P2, whose new keys
 * start full at 2000 B: the 2 frames of 1000 B of each of the 3 sources all conform, where P1
 * would have passed none.
 */
static void reload_between_probe_and_finish(void **state)
{
	struct sl_engine *e = engine_of(HEAD "  p1: {mode: dedicated, rate: 1mbit, burst: 1000B, "
					"exceed: drop}\ntenants:\n  - {name: a, profile: p1, match: {vlan: 1}}\n");
	struct sl_lcore *lc = sl_engine_lcore(e, 0);
	static struct held h;
	struct sl_stats st;

	(void)state;
	hold(&h, 1, 0x0a000001, 3);
	assert_int_equal(process(lc, &h, 0), 3);	/* 3 keys, each bucket now empty */
	hold(&h, 1, 0x0a000001, 6);
	for (unsigned i = 3; i < 6; i++)	/* frames 3..5 from the same sources as 0..2 */
		memcpy(h.buf[i], h.buf[i - 3], h.len[i]);
	sl_burst_stage(lc, 1, h.data, h.caplen, h.n);
	sl_burst_probe(lc, 1);
	reload(e, HEAD "  p2: {mode: dedicated, rate: 1mbit, burst: 2000B, exceed: drop}\n"
		  "tenants:\n  - {name: a, profile: p2, match: {vlan: 1}}\n");
	assert_int_equal(finish(lc, 1, &h, 0), 6);
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(tenant(&st, "a")->c.conform_packets, 3 + 6);
	assert_int_equal(tenant(&st, "a")->c.exceed_packets, 0);
	sl_stats_free(&st);
	sl_engine_free(e);
}

/*
 * Two reloads while a burst waits, the second back to P1's text: the running snapshot is a new
 * one (its address may even be P1's), so the burst is staged again against it. Tenant a was
 * removed by the first reload and comes back new, its 2-packet bucket full: 2 of the 5 frames
 * conform, counted once.
 */
static void two_reloads_while_held(void **state)
{
	const char *p1 = HEAD "  p: {mode: shared, rate: 1pps, burst: 2pkt, exceed: drop}\n"
			      "tenants:\n  - {name: a, profile: p, match: {vlan: 1}}\n";
	struct sl_engine *e = engine_of(p1);
	struct sl_lcore *lc = sl_engine_lcore(e, 0);
	static struct held h;
	struct sl_stats st;

	(void)state;
	hold(&h, 1, 0x0a000001, 5);
	sl_burst_stage(lc, 2, h.data, h.caplen, h.n);
	reload(e, HEAD "  q: {mode: shared, rate: 1pps, burst: 9pkt, exceed: drop}\n"
		  "tenants:\n  - {name: b, profile: q, match: {vlan: 1}}\n");
	sl_burst_probe(lc, 2);
	reload(e, p1);
	assert_int_equal(finish(lc, 2, &h, 0), 2);
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(st.generation, 3);
	assert_int_equal(tenant(&st, "a")->c.conform_packets, 2);
	assert_int_equal(tenant(&st, "a")->c.exceed_packets, 3);
	sl_stats_free(&st);
	sl_engine_free(e);
}

/*
 * Bursts are decided at finish, in staging order, at the finish's time: a shared bucket of
 * 10 pps and 2 packets, three bursts of 4 staged at once and finished at 0, 0.1 s and 0.25 s:
 * 2 (full bucket), 1 (0.1 s = 1 token), 1 (0.15 s = 1.5 tokens, 0.5 left) conform.
 */
static void decided_at_finish_in_order(void **state)
{
	struct sl_engine *e = engine_of(HEAD "  p: {mode: shared, rate: 10pps, burst: 2pkt, "
					"exceed: drop}\ntenants:\n  - {name: a, profile: p, match: {vlan: 1}}\n");
	struct sl_lcore *lc = sl_engine_lcore(e, 0);
	static struct held h[3];
	const uint64_t at[3] = {0, NS / 10, NS / 4};
	const unsigned want[3] = {2, 1, 1};
	struct sl_stats st;

	(void)state;
	for (unsigned k = 0; k < 3; k++) {
		hold(&h[k], 1, 0x0a000001, 4);
		sl_burst_stage(lc, k, h[k].data, h[k].caplen, h[k].n);
	}
	for (unsigned k = 0; k < 3; k++) {
		sl_burst_probe(lc, k);
		assert_int_equal(finish(lc, k, &h[k], at[k]), want[k]);
		/* the first frames of a burst take the tokens */
		for (unsigned i = 0; i < 4; i++)
			assert_int_equal(h[k].verdict[i], i < want[k] ? SL_V_FORWARD : SL_V_DROP);
	}
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(tenant(&st, "a")->c.conform_packets, 4);
	assert_int_equal(tenant(&st, "a")->c.exceed_packets, 8);
	sl_stats_free(&st);
	sl_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_as_process),
		cmocka_unit_test(same_as_process_ex_probes_skipped),
		cmocka_unit_test(reload_between_stage_and_finish),
		cmocka_unit_test(reload_between_probe_and_finish),
		cmocka_unit_test(two_reloads_while_held),
		cmocka_unit_test(decided_at_finish_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
