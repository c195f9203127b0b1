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
	pb_udp4(f, vlan, -1, src, 0xc0000201, 0, sport, 53, len);
}

static const struct sl_tenant_stats *tenant(const struct sl_stats *s, const char *name)
{
	for (unsigned i = 0; i < s->nb_tenants; i++)
		if (!strcmp(s->t[i].name, name))
			return &s->t[i];
	fail_msg("no tenant %s", name);
	return NULL;
}

/* Every counter of two engines, tenant by tenant (the generation aside). */
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
		assert_int_equal(x.t[t].queue_hwm, y.t[t].queue_hwm);
	}
	sl_stats_free(&x);
	sl_stats_free(&y);
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
	if (x->tenant == 2 || x->tenant == 3)	/* shared c, d: the tenant, not a key's hash */
		assert_int_equal(x->queue_key, y->queue_key);
}

/* ---- the same stream through sl_process and through the pipeline -------------------------- */

#define FRAMES 6000
#define MAXB 32
#define NSRC 150

/*
 * Tenants by VLAN (6: no tenant): a dedicated src-ip, tight (many exceed, dropped); b
 * dedicated 5-tuple, marked; c shared, marked; d shared with max-flows; e dedicated src-ip with
 * max-flows per key (4 ports per source, 2 admitted).
 */
static const char *mix =
	"sluice: 1\nunmatched: pass\nprofiles:\n"
	"  ded: {mode: dedicated, key: src-ip, rate: 16kbit, burst: 2000B, exceed: drop}\n"
	"  five: {mode: dedicated, key: 5-tuple, rate: 50pps, burst: 2pkt, exceed: mark, dscp: 10}\n"
	"  shr: {mode: shared, rate: 2mbit, burst: 6000B, exceed: mark, dscp: 46}\n"
	"  flows: {mode: shared, rate: 100mbit, burst: 100000B, max-flows: 8, exceed: drop}\n"
	"  kflows: {mode: dedicated, key: src-ip, rate: 10pps, burst: 2pkt, max-flows: 2,\n"
	"           exceed: drop}\n"
	"tenants:\n"
	"  - {name: a, profile: ded, match: {vlan: 1}}\n"
	"  - {name: b, profile: five, match: {vlan: 2}}\n"
	"  - {name: c, profile: shr, match: {vlan: 3}}\n"
	"  - {name: d, profile: flows, match: {vlan: 4}}\n"
	"  - {name: e, profile: kflows, match: {vlan: 5}}\n";

struct stream {
	uint8_t buf[FRAMES][PB_MAX];
	uint8_t *data[FRAMES];
	uint32_t caplen[FRAMES], len[FRAMES];
	unsigned nb_bursts, first[FRAMES + 1];	/* burst k = frames [first[k], first[k + 1]) */
	uint64_t now[FRAMES];
	/* keys of a, b, e seen again in the same burst; first seen in burst k and again in k+1 */
	unsigned repeated, carried;
};

/* The table key of frame i's tenant (a, e: source; b: source and port), or -1. */
static int key_of(unsigned vlan, unsigned src, unsigned port, int malformed)
{
	if (malformed || (vlan != 1 && vlan != 2 && vlan != 5))
		return -1;
	return (int)(vlan == 2 ? src * 4 + port : src);
}

/*
 * Frames in 6 VLANs from 150 sources x 4 ports, 64..1500 bytes, one in three repeating the
 * flow of one of the 40 frames before it; every 97th truncated inside the IP header, every
 * 89th inside the VLAN tag (both malformed). Bursts of 1..32 frames 0..2 ms apart: keys come
 * back in the same burst, and in the next one, staged and probed before this one is finished.
 */
static void make_stream(struct stream *s, uint64_t seed)
{
	static int firstb[7][NSRC * 4], lastb[7][NSRC * 4];
	static uint8_t vl[FRAMES], po[FRAMES];
	static uint16_t sr[FRAMES];
	static int kid[FRAMES];
	uint64_t x = seed, t = 0;
	unsigned k = 0;

	for (unsigned i = 0; i < FRAMES; i++) {
		struct pb f;
		unsigned vlan = 1 + (unsigned)(rnd(&x) % 6), src = (unsigned)(rnd(&x) % NSRC);
		unsigned port = (unsigned)(rnd(&x) % 4);

		if (i && rnd(&x) % 3 == 0) {	/* one of the last 40 frames' flow again */
			unsigned j = i - 1 - (unsigned)(rnd(&x) % (i < 40 ? i : 40));

			vlan = vl[j];
			src = sr[j];
			port = po[j];
		}
		sr[i] = (uint16_t)src;
		po[i] = (uint8_t)port;
		udp4(&f, (uint16_t)vlan, 0x0a000000u + src, (uint16_t)(1000 + port),
		     64 + (uint32_t)(rnd(&x) % 1437));
		memcpy(s->buf[i], f.b, f.len);
		s->data[i] = s->buf[i];
		s->len[i] = f.len;
		s->caplen[i] = i % 97 == 96 ? 30 : i % 89 == 88 ? 14 : f.len;
		vl[i] = (uint8_t)vlan;
		kid[i] = key_of(vlan, src, port, s->caplen[i] < f.len);
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
	memset(firstb, 0xff, sizeof(firstb));
	memset(lastb, 0xff, sizeof(lastb));
	s->repeated = s->carried = 0;
	for (k = 0; k < s->nb_bursts; k++)
		for (unsigned i = s->first[k]; i < s->first[k + 1]; i++) {
			int *f, *l;

			if (kid[i] < 0)
				continue;
			f = &firstb[vl[i]][kid[i]];
			l = &lastb[vl[i]][kid[i]];
			if (*l == (int)k)
				s->repeated++;
			else if (*f == (int)k - 1 && *l == (int)k - 1)
				s->carried++;
			if (*f < 0)
				*f = (int)k;
			*l = (int)k;
		}
}

static unsigned burst_n(const struct stream *s, unsigned k)
{
	return s->first[k + 1] - s->first[k];
}

#define P_DEC 1		/* decisions (sl_process_ex, finish with dec) instead of marks in place */
#define P_SKIP 2	/* every third burst finished without its sl_burst_probe */
#define P_DIRECT 4	/* every seventh burst through sl_process while two others are in flight */
#define P_MULTI 8	/* engines with 2 lcores (atomic buckets, shared tenants per burst) */

/*
 * Engine A runs the stream burst by burst through sl_process (_ex); engine B, built from the
 * same config, through the pipeline: per pass stage k, probe k-1, finish k-2, then drain; each
 * burst finished at the `now` A used. Same verdicts, frame bytes, decisions and counters.
 */
static void pipeline_equals_process(unsigned flags)
{
	static struct stream a, b;
	static uint8_t va[FRAMES], vb[FRAMES];
	static struct sl_decision da[FRAMES], db[FRAMES];
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = flags & P_MULTI ? 2 : 1, .max_keys = 4096};
	struct sl_config *cfg = cfg_of(mix);
	struct sl_engine *ea = NULL, *eb = NULL;
	struct sl_lcore *la, *lb;
	struct sl_diag d = {0};
	unsigned fa = 0, fb = 0, k, marked = 0, dropped = 0;
	int dec = flags & P_DEC;
	struct sl_stats st;

	assert_int_equal(sl_engine_create(cfg, &o, &ea, &d), 0);
	assert_int_equal(sl_engine_create(cfg, &o, &eb, &d), 0);
	sl_config_free(cfg);
	sl_diag_free(&d);
	la = sl_engine_lcore(ea, 0);
	lb = sl_engine_lcore(eb, 0);
	make_stream(&a, 12345);
	make_stream(&b, 12345);
	memset(va, 0xee, sizeof(va));
	memset(vb, 0xee, sizeof(vb));
	for (k = 0; k < a.nb_bursts; k++) {
		unsigned i = a.first[k], n = burst_n(&a, k);

		fa += dec ? sl_process_ex(la, 0, &a.data[i], &a.caplen[i], &a.len[i], n, a.now[k],
					  &va[i], &da[i])
			  : sl_process(la, 0, &a.data[i], &a.caplen[i], &a.len[i], n, a.now[k], &va[i]);
	}
#define DIRECT(k) ((flags & P_DIRECT) && (k) % 7 == 3)
	for (k = 0; k < b.nb_bursts + 2; k++) {
		if (k < b.nb_bursts && !DIRECT(k))
			sl_burst_stage(lb, k % SL_SLOTS, 0, &b.data[b.first[k]], &b.caplen[b.first[k]],
				       burst_n(&b, k));
		if (k >= 1 && k - 1 < b.nb_bursts && !DIRECT(k - 1) &&
		    !((flags & P_SKIP) && (k - 1) % 3 == 0))
			sl_burst_probe(lb, (k - 1) % SL_SLOTS);
		if (k >= 2) {
			unsigned j = k - 2, i = b.first[j], n = burst_n(&b, j);

			if (DIRECT(j))	/* its slot idle, the other two hold bursts j+1, j+2 */
				fb += dec ? sl_process_ex(lb, 0, &b.data[i], &b.caplen[i], &b.len[i], n,
							  b.now[j], &vb[i], &db[i])
					  : sl_process(lb, 0, &b.data[i], &b.caplen[i], &b.len[i], n,
						       b.now[j], &vb[i]);
			else
				fb += sl_burst_finish(lb, j % SL_SLOTS, &b.data[i], &b.caplen[i],
						      &b.len[i], b.now[j], &vb[i], dec ? &db[i] : NULL);
		}
	}
#undef DIRECT
	assert_int_equal(fa, fb);
	for (unsigned i = 0; i < FRAMES; i++) {
		assert_true(va[i] == SL_V_FORWARD || va[i] == SL_V_DROP);
		assert_int_equal(va[i], vb[i]);
		assert_memory_equal(a.buf[i], b.buf[i], a.len[i]);
		if (dec)
			assert_same_decision(&da[i], &db[i]);
		/* marked in place: the DSCP bits of the TOS byte (14 + 4-byte tag + 1) are set */
		marked += dec ? da[i].mark : va[i] == SL_V_FORWARD && a.caplen[i] > 19 &&
					     (a.buf[i][19] & 0xfc) != 0;
		dropped += va[i] == SL_V_DROP;
	}
	assert_same_stats(ea, eb);
	/* the stream exercised every path: drops, marks, refused flows, keys, unmatched */
	assert_int_equal(sl_engine_stats(ea, &st), 0);
	printf("# %u bursts, %u forwarded, %u dropped, %u marked; a: %llu exceeded, %llu keys; "
	       "b: %llu keys; c: %llu exceeded; d: %llu refused flows; e: %llu exceeded, %llu "
	       "refused, %llu flows; %llu unmatched, %llu malformed; "
	       "keys again in the same burst %u, in the next %u\n",
	       a.nb_bursts, fa, dropped, marked,
	       (unsigned long long)tenant(&st, "a")->c.exceed_packets,
	       (unsigned long long)tenant(&st, "a")->keys, (unsigned long long)tenant(&st, "b")->keys,
	       (unsigned long long)tenant(&st, "c")->c.exceed_packets,
	       (unsigned long long)tenant(&st, "d")->c.flow_refused,
	       (unsigned long long)tenant(&st, "e")->c.exceed_packets,
	       (unsigned long long)tenant(&st, "e")->c.flow_refused,
	       (unsigned long long)tenant(&st, "e")->flows,
	       (unsigned long long)st.unmatched.packets, (unsigned long long)st.malformed.packets,
	       a.repeated, a.carried);
	assert_true(dropped > 500);
	assert_true(marked > 300);
	assert_true(tenant(&st, "a")->c.exceed_packets > 200);
	assert_true(tenant(&st, "a")->keys > 130);	/* of 150 sources */
	assert_true(tenant(&st, "b")->keys > 300);	/* of 600 5-tuples */
	assert_true(tenant(&st, "c")->c.exceed_packets > 400);
	assert_true(tenant(&st, "d")->c.flow_refused > 100);
	assert_true(tenant(&st, "e")->c.flow_refused > 100);
	assert_true(tenant(&st, "e")->c.exceed_packets > tenant(&st, "e")->c.flow_refused);
	assert_true(tenant(&st, "e")->flows > 200);	/* 2 of 4 ports of most sources */
	assert_true(st.unmatched.packets > 700);
	assert_true(st.malformed.packets > 100);
	assert_true(a.repeated > 50);
	assert_true(a.carried > 30);
	sl_stats_free(&st);
	sl_engine_free(ea);
	sl_engine_free(eb);
}

static void same_as_process(void **state)
{
	(void)state;
	pipeline_equals_process(0);
}

static void same_as_process_probes_skipped(void **state)
{
	(void)state;
	pipeline_equals_process(P_SKIP);
}

static void same_as_process_ex(void **state)
{
	(void)state;
	pipeline_equals_process(P_DEC);
}

/* sl_process on its own slot between pipelined bursts, some probes skipped, decisions */
static void same_as_process_ex_interleaved(void **state)
{
	(void)state;
	pipeline_equals_process(P_DEC | P_SKIP | P_DIRECT);
}

static void same_as_process_two_lcores(void **state)
{
	(void)state;
	pipeline_equals_process(P_MULTI | P_SKIP | P_DIRECT);
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
	sl_burst_stage(lc, 0, 0, h.data, h.caplen, h.n);
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
	return sl_process(lc, 0, h->data, h->caplen, h->len, h->n, now, h->verdict);
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
	sl_burst_stage(lc, 1, 0, h.data, h.caplen, h.n);
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
 * one (malloc could give it P1's address), so the burst is staged again against it. Tenant a was
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
	sl_burst_stage(lc, 2, 0, h.data, h.caplen, h.n);
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
 * An idle key evicted between probe and finish (sl_engine_maintain, as the control thread
 * runs it every 100 ms while bursts wait in the pipeline). Its entry is released at once
 * (this thread is no registered RCU reader), so the probe's hint names a free entry: finish
 * must probe again and recreate the key, full. dst-ip keys start with 8 zero bytes, like the
 * free-list link written over a released entry's first 8 bytes, so the stale hint would
 * still compare equal and the frames be policed against an entry no longer in the table.
 * 1 pps, burst 1: at 10 s the recreated key passes one frame, the next at that instant exceeds.
 */
static void eviction_between_probe_and_finish(void **state)
{
	struct sl_engine *e = engine_of(HEAD "  p: {mode: dedicated, key: dst-ip, rate: 1pps, "
					"burst: 1pkt, idle: 1s, exceed: drop}\n"
					"tenants:\n  - {name: a, profile: p, match: {vlan: 1}}\n");
	struct sl_lcore *lc = sl_engine_lcore(e, 0);
	static struct held h;
	struct sl_stats st;

	(void)state;
	hold(&h, 1, 0x0a000001, 1);
	assert_int_equal(process(lc, &h, 0), 1);	/* the key, its bucket now empty */
	sl_burst_stage(lc, 0, 0, h.data, h.caplen, h.n);
	sl_burst_probe(lc, 0);
	assert_int_equal(sl_engine_maintain(e, 10 * NS, 0), 1);	/* full and idle: evicted */
	assert_int_equal(finish(lc, 0, &h, 10 * NS), 1);
	assert_int_equal(process(lc, &h, 10 * NS), 0);
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(tenant(&st, "a")->c.conform_packets, 2);
	assert_int_equal(tenant(&st, "a")->c.exceed_packets, 1);
	assert_int_equal(tenant(&st, "a")->c.keys_created, 2);
	assert_int_equal(tenant(&st, "a")->c.keys_evicted, 1);
	assert_int_equal(tenant(&st, "a")->keys, 1);
	sl_stats_free(&st);
	sl_engine_free(e);
}

/*
 * Reload while a burst waits, then compare with a fresh engine running P2 through sl_process:
 * P1 puts VLAN 1 in a shared 1-packet bucket, P3 in a dst-ip table, P2 in a src-ip table with
 * max-flows 3 and exceed: mark, so the re-stage must classify again and rebuild keys, flow
 * keys and hashes. 24 frames from 2 sources x 4 ports (3 each): per source 2 conform (burst
 * 2pkt at t = 0), port 1003 refused (3 frames), everything else marked: 24 forwarded, 4
 * conform, 20 exceed and marked, 6 refused, 2 keys, 6 flows.
 */
#define RL_P1 HEAD "  s: {mode: shared, rate: 1pps, burst: 1pkt, exceed: drop}\n" \
		   "tenants:\n  - {name: s, profile: s, match: {vlan: 1}}\n"
#define RL_P2 HEAD "  f: {mode: dedicated, key: src-ip, rate: 1pps, burst: 2pkt, max-flows: 3,\n" \
		   "      exceed: mark, dscp: 46}\n" \
		   "tenants:\n  - {name: f, profile: f, match: {vlan: 1}}\n"
#define RL_P3 HEAD "  x: {mode: dedicated, key: dst-ip, rate: 1pps, burst: 5pkt, exceed: drop}\n" \
		   "tenants:\n  - {name: x, profile: x, match: {vlan: 1}}\n"

static void hold_flows(struct held *h)
{
	for (unsigned i = 0; i < 24; i++) {
		struct pb f;

		udp4(&f, 1, 0x0a000001 + (i & 1), (uint16_t)(1000 + (i >> 1) % 4), 100 + 10 * i);
		memcpy(h->buf[i], f.b, f.len);
		h->data[i] = h->buf[i];
		h->caplen[i] = h->len[i] = f.len;
	}
	h->n = 24;
}

enum when { STAGE_RELOAD_PROBE, PROBE_RELOAD, RELOAD_PROBE_RELOAD, PROBE_RELOAD_RELOAD };

static void reload_like_fresh_engine(enum when w)
{
	struct sl_engine *e = engine_of(RL_P1), *fresh = engine_of(RL_P2);
	struct sl_lcore *lc = sl_engine_lcore(e, 0);
	static struct held h, g;
	unsigned marked = 0;
	struct sl_stats st;

	hold_flows(&h);
	hold_flows(&g);
	sl_burst_stage(lc, 1, 0, h.data, h.caplen, h.n);
	if (w == RELOAD_PROBE_RELOAD)
		reload(e, RL_P3);
	if (w == STAGE_RELOAD_PROBE)
		reload(e, RL_P2);
	sl_burst_probe(lc, 1);	/* stale in the first and third cases: a no-op */
	if (w == PROBE_RELOAD_RELOAD)
		reload(e, RL_P3);
	if (w != STAGE_RELOAD_PROBE)
		reload(e, RL_P2);
	assert_int_equal(finish(lc, 1, &h, 0), 24);
	assert_int_equal(process(sl_engine_lcore(fresh, 0), &g, 0), 24);
	for (unsigned i = 0; i < 24; i++) {
		assert_int_equal(h.verdict[i], g.verdict[i]);
		assert_memory_equal(h.buf[i], g.buf[i], h.len[i]);
		marked += h.buf[i][19] >> 2 == 46;
	}
	assert_same_stats(e, fresh);
	assert_int_equal(marked, 20);
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(st.generation, w == STAGE_RELOAD_PROBE || w == PROBE_RELOAD ? 2 : 3);
	assert_int_equal(st.nb_tenants, 1);
	assert_int_equal(tenant(&st, "f")->c.conform_packets, 4);
	assert_int_equal(tenant(&st, "f")->c.exceed_packets, 20);
	assert_int_equal(tenant(&st, "f")->c.flow_refused, 6);
	assert_int_equal(tenant(&st, "f")->c.keys_created, 2);
	assert_int_equal(tenant(&st, "f")->keys, 2);
	assert_int_equal(tenant(&st, "f")->flows, 6);
	assert_int_equal(st.dropped.packets, 0);
	sl_stats_free(&st);
	sl_engine_free(e);
	sl_engine_free(fresh);
}

static void reload_after_stage_like_fresh_engine(void **state)
{
	(void)state;
	reload_like_fresh_engine(STAGE_RELOAD_PROBE);
}

static void reload_after_probe_like_fresh_engine(void **state)
{
	(void)state;
	reload_like_fresh_engine(PROBE_RELOAD);
}

static void reloads_around_probe_like_fresh_engine(void **state)
{
	(void)state;
	reload_like_fresh_engine(RELOAD_PROBE_RELOAD);
}

static void two_reloads_in_a_row_like_fresh_engine(void **state)
{
	(void)state;
	reload_like_fresh_engine(PROBE_RELOAD_RELOAD);
}

/*
 * 1..6 reloads while a burst waits (alternating between two policies of P1's shape): the 4
 * frames of VLAN 1 are unmatched and dropped, P1 would have forwarded 1. Staleness is told by
 * the generation; a check by snapshot address would also pass here, as glibc was not seen to
 * hand a freed snapshot's address to a new one (300 reloads tried).
 */
static void many_reloads_while_held(void **state)
{
	static const char *const pol[3] = {
		HEAD "  p: {mode: shared, rate: 1pps, burst: 1pkt, exceed: drop}\n"
		     "tenants:\n  - {name: a, profile: p, match: {vlan: 1}}\n",
		HEAD "  p: {mode: shared, rate: 1pps, burst: 1pkt, exceed: drop}\n"
		     "tenants:\n  - {name: b, profile: p, match: {vlan: 2}}\n",
		HEAD "  p: {mode: shared, rate: 1pps, burst: 1pkt, exceed: drop}\n"
		     "tenants:\n  - {name: c, profile: p, match: {vlan: 3}}\n",
	};
	static struct held h;

	(void)state;
	for (unsigned r = 1; r <= 6; r++) {
		struct sl_engine *e = engine_of(pol[0]);
		struct sl_lcore *lc = sl_engine_lcore(e, 0);
		struct sl_stats st;

		hold(&h, 1, 0x0a000001, 4);
		sl_burst_stage(lc, r % SL_SLOTS, 0, h.data, h.caplen, h.n);
		for (unsigned i = 0; i < r; i++)
			reload(e, pol[1 + i % 2]);
		assert_int_equal(finish(lc, r % SL_SLOTS, &h, NS), 0);
		assert_int_equal(sl_engine_stats(e, &st), 0);
		assert_int_equal(st.generation, 1 + r);
		assert_int_equal(st.unmatched.packets, 4);
		assert_int_equal(st.dropped.packets, 4);
		assert_int_equal(st.nb_tenants, 1);
		assert_int_equal(st.t[0].c.packets, 0);
		sl_stats_free(&st);
		sl_engine_free(e);
	}
}

/*
 * A slot last finished under a max-flows policy (3 of its 4 frames refused) and staged again
 * after a reload to a policy without max-flows: nothing of the old refusals is left in the
 * slot, the 4 frames conform. Every slot, and sl_process's own, in turn.
 */
static void slot_reused_after_max_flows(void **state)
{
	static struct held h;

	(void)state;
	for (unsigned slot = 0; slot <= SL_SLOTS; slot++) {
		struct sl_engine *e = engine_of(HEAD "  p: {mode: shared, rate: 1000pps, burst: 100pkt, "
						"max-flows: 1, exceed: drop}\n"
						"tenants:\n  - {name: a, profile: p, match: {vlan: 1}}\n");
		struct sl_lcore *lc = sl_engine_lcore(e, 0);
		struct sl_stats st;

		for (unsigned i = 0; i < 4; i++) {	/* one source, 4 ports: 4 flows */
			struct pb f;

			udp4(&f, 1, 0x0a000001, (uint16_t)(1000 + i), 1000);
			memcpy(h.buf[i], f.b, f.len);
			h.data[i] = h.buf[i];
			h.caplen[i] = h.len[i] = f.len;
		}
		h.n = 4;
		if (slot < SL_SLOTS) {
			sl_burst_stage(lc, slot, 0, h.data, h.caplen, h.n);
			assert_int_equal(finish(lc, slot, &h, 0), 1);
		} else {
			assert_int_equal(process(lc, &h, 0), 1);
		}
		reload(e, HEAD "  p: {mode: shared, rate: 1000pps, burst: 100pkt, exceed: drop}\n"
			  "tenants:\n  - {name: a, profile: p, match: {vlan: 1}}\n");
		if (slot < SL_SLOTS) {
			sl_burst_stage(lc, slot, 0, h.data, h.caplen, h.n);
			assert_int_equal(finish(lc, slot, &h, NS / 1000), 4);
		} else {
			assert_int_equal(process(lc, &h, NS / 1000), 4);
		}
		assert_int_equal(sl_engine_stats(e, &st), 0);
		assert_int_equal(tenant(&st, "a")->c.conform_packets, 1 + 4);
		assert_int_equal(tenant(&st, "a")->c.exceed_packets, 3);
		assert_int_equal(tenant(&st, "a")->c.flow_refused, 3);
		sl_stats_free(&st);
		sl_engine_free(e);
	}
}

/* ---- order and time ------------------------------------------------------------------------ */

/*
 * Bursts are decided at finish, in staging order, at the finish's time: a bucket of 10 pps
 * and 2 packets (the tenant's, or one dst-ip key's), three bursts of 4 frames staged and probed
 * before any is finished, finished at 0, 0.1 s and 0.25 s: 2 (full bucket), 1 (0.1 s = 1
 * token), 1 (0.15 s = 1.5 tokens, 0.5 left) conform, the first frames of each burst; exactly
 * what sl_process does with the same bursts at the same times. The key is new when bursts 1
 * and 2 are probed: their finish must find the entry burst 0 created, not insert it again.
 */
static void decided_at_finish_in_order(const char *prof)
{
	char yaml[512];
	struct sl_engine *e, *ref;
	struct sl_lcore *lc;
	static struct held h[3], g[3];
	const uint64_t at[3] = {0, NS / 10, NS / 4};
	const unsigned want[3] = {2, 1, 1};
	struct sl_stats st;

	snprintf(yaml, sizeof(yaml), HEAD "  p: %s\ntenants:\n  - {name: a, profile: p, "
		 "match: {vlan: 1}}\n", prof);
	e = engine_of(yaml);
	ref = engine_of(yaml);
	lc = sl_engine_lcore(e, 0);
	for (unsigned k = 0; k < 3; k++) {
		hold(&h[k], 1, 0x0a000001, 4);
		hold(&g[k], 1, 0x0a000001, 4);
		sl_burst_stage(lc, k, 0, h[k].data, h[k].caplen, h[k].n);
	}
	for (unsigned k = 0; k < 3; k++)
		sl_burst_probe(lc, k);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(finish(lc, k, &h[k], at[k]), want[k]);
		assert_int_equal(process(sl_engine_lcore(ref, 0), &g[k], at[k]), want[k]);
		for (unsigned i = 0; i < 4; i++) {
			assert_int_equal(h[k].verdict[i], i < want[k] ? SL_V_FORWARD : SL_V_DROP);
			assert_int_equal(h[k].verdict[i], g[k].verdict[i]);
		}
	}
	assert_same_stats(e, ref);
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(tenant(&st, "a")->c.conform_packets, 4);
	assert_int_equal(tenant(&st, "a")->c.exceed_packets, 8);
	assert_int_equal(tenant(&st, "a")->keys, 1);
	sl_stats_free(&st);
	sl_engine_free(e);
	sl_engine_free(ref);
}

static void decided_at_finish_in_order_shared(void **state)
{
	(void)state;
	decided_at_finish_in_order("{mode: shared, rate: 10pps, burst: 2pkt, exceed: drop}");
}

static void decided_at_finish_in_order_dedicated(void **state)
{
	(void)state;
	decided_at_finish_in_order("{mode: dedicated, key: dst-ip, rate: 10pps, burst: 2pkt, "
				   "exceed: drop}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_as_process),
		cmocka_unit_test(same_as_process_probes_skipped),
		cmocka_unit_test(same_as_process_ex),
		cmocka_unit_test(same_as_process_ex_interleaved),
		cmocka_unit_test(same_as_process_two_lcores),
		cmocka_unit_test(reload_between_stage_and_finish),
		cmocka_unit_test(reload_between_probe_and_finish),
		cmocka_unit_test(two_reloads_while_held),
		cmocka_unit_test(eviction_between_probe_and_finish),
		cmocka_unit_test(reload_after_stage_like_fresh_engine),
		cmocka_unit_test(reload_after_probe_like_fresh_engine),
		cmocka_unit_test(reloads_around_probe_like_fresh_engine),
		cmocka_unit_test(two_reloads_in_a_row_like_fresh_engine),
		cmocka_unit_test(many_reloads_while_held),
		cmocka_unit_test(slot_reused_after_max_flows),
		cmocka_unit_test(decided_at_finish_in_order_shared),
		cmocka_unit_test(decided_at_finish_in_order_dedicated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
