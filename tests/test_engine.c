/* test_engine.c - the whole burst pipeline on built frames: shared and dedicated tenants,
 * first match wins, drop / mark / pass, unmatched and malformed, when-full choices. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "pkt_build.h"
#include "sl_engine.h"

#define NS 1000000000ull

/* A UDP/IPv4 frame of exactly len bytes from src to dst, tagged as pb_l2 says. */
static void udp4_tags(struct pb *f, int vlan, int inner, uint32_t src, uint32_t dst, uint8_t tos,
		      uint32_t len)
{
	pb_udp4(f, vlan, inner, src, dst, tos, 1000, 53, len);
}

static void udp4(struct pb *f, int vlan, uint32_t src, uint32_t dst, uint8_t tos, uint32_t len)
{
	udp4_tags(f, vlan, -1, src, dst, tos, len);
}

static struct sl_cfg_profile profile(const char *name, enum sl_mode mode, uint64_t rate_bits,
				     uint64_t burst_bytes, enum sl_action exceed)
{
	struct sl_cfg_profile p;

	memset(&p, 0, sizeof(p));
	strcpy(p.name, name);
	p.mode = mode;
	p.key = SL_KEY_SRC_IP;
	p.unit = SL_UNIT_BITS;
	p.exceed = exceed;
	p.dscp = 10;
	p.nb_buckets = 1;
	p.b[0] = (struct sl_cfg_bucket){rate_bits, NS, burst_bytes * 8};
	p.idle_ns = 60 * NS;
	return p;
}

struct world {
	struct sl_config cfg;
	struct sl_cfg_profile prof[4];
	struct sl_cfg_tenant ten[4];
	struct sl_cfg_match mat[4];
	uint64_t budget;		/* key units; 0: 1024 */
	struct sl_engine *e;
	struct sl_lcore *lc;
};

static void add_tenant(struct world *w, const char *name, unsigned prof, uint32_t fields,
		       int vlan, uint32_t src, uint8_t src_len)
{
	struct sl_cfg_tenant *t = &w->ten[w->cfg.nb_tenants++];
	struct sl_cfg_match *m = &w->mat[w->cfg.nb_matches];

	memset(t, 0, sizeof(*t));
	memset(m, 0, sizeof(*m));
	strcpy(t->name, name);
	t->profile = prof;
	t->match = w->cfg.nb_matches++;
	t->nb_match = 1;
	m->fields = fields;
	m->vlan = (uint16_t)vlan;
	m->family = 4;
	m->src[0] = src >> 24;
	m->src[1] = src >> 16 & 0xff;
	m->src[2] = src >> 8 & 0xff;
	m->src[3] = src & 0xff;
	m->src_len = src_len;
}

static void build(struct world *w)
{
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = 1,
				   .max_keys = w->budget ? w->budget : 1024};
	struct sl_diag d = {0};

	w->cfg.path = "test.yaml";
	w->cfg.profiles = w->prof;
	w->cfg.tenants = w->ten;
	w->cfg.matches = w->mat;
	assert_int_equal(sl_engine_create(&w->cfg, &o, &w->e, &d), 0);
	assert_int_equal(d.n, 0);
	w->lc = sl_engine_lcore(w->e, 0);
}

/* Send n copies of frame f at time now; returns how many were forwarded. */
static unsigned send(struct world *w, const struct pb *f, unsigned n, uint64_t now,
		     uint8_t *last_copy)
{
	static uint8_t buf[SL_BURST_MAX][PB_MAX];
	uint8_t *data[SL_BURST_MAX], verdict[SL_BURST_MAX];
	uint32_t caplen[SL_BURST_MAX], len[SL_BURST_MAX];
	unsigned fwd;

	assert_true(n <= SL_BURST_MAX);
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf[i], f->b, f->len);
		data[i] = buf[i];
		caplen[i] = len[i] = f->len;
	}
	fwd = sl_process(w->lc, 0, data, caplen, len, n, now, verdict);
	for (unsigned i = 0, c = 0; i < n; i++)
		c += verdict[i] == SL_V_FORWARD, assert_int_equal(c <= fwd, 1);
	if (last_copy)
		memcpy(last_copy, buf[n - 1], f->len);
	return fwd;
}

static struct sl_stats stats(struct world *w)
{
	struct sl_stats s;

	assert_int_equal(sl_engine_stats(w->e, &s), 0);
	return s;
}

static void shared_burst_and_refill(void **state)
{
	struct world w = {0};
	struct pb f;
	struct sl_stats s;

	(void)state;
	w.prof[0] = profile("p", SL_MODE_SHARED, 800000, 3000, SL_ACT_DROP);
	w.cfg.nb_profiles = 1;
	add_tenant(&w, "t", 0, SL_M_VLAN, 100, 0, 0);
	build(&w);
	udp4(&f, 100, 0x0a000001, 0x0a000002, 0, 1000);
	assert_int_equal(send(&w, &f, 5, 0, NULL), 3);
	/* another source in the same tenant shares the bucket */
	udp4(&f, 100, 0x0a000009, 0x0a000002, 0, 1000);
	assert_int_equal(send(&w, &f, 1, 0, NULL), 0);
	assert_int_equal(send(&w, &f, 2, 10000000, NULL), 1);	/* 10 ms = 1000 B */
	s = stats(&w);
	assert_int_equal(s.total.packets, 8);
	assert_int_equal(s.total.bytes, 8000);
	assert_int_equal(s.dropped.bytes, 4000);
	assert_int_equal(s.t[0].c.packets, 8);
	assert_int_equal(s.t[0].c.bytes, 8000);
	assert_int_equal(s.t[0].c.conform_packets, 4);
	assert_int_equal(s.t[0].c.conform_bytes, 4000);
	assert_int_equal(s.t[0].c.exceed_packets, 4);
	assert_int_equal(s.dropped.packets, 4);
	assert_int_equal(s.t[0].keys, 1);
	assert_string_equal(s.t[0].name, "t");
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

static void dedicated_keys_and_first_match(void **state)
{
	struct world w = {0};
	struct pb f;
	struct sl_stats s;

	(void)state;
	w.prof[0] = profile("ded", SL_MODE_DEDICATED, 800000, 3000, SL_ACT_DROP);
	w.prof[1] = profile("sh", SL_MODE_SHARED, 800000, 1000, SL_ACT_DROP);
	w.cfg.nb_profiles = 2;
	add_tenant(&w, "a", 0, SL_M_SRC, -1, 0x0a010000, 16);	/* 10.1.0.0/16 first */
	add_tenant(&w, "b", 1, SL_M_SRC, -1, 0x0a000000, 8);	/* then 10.0.0.0/8 */
	build(&w);
	for (uint32_t src = 1; src <= 10; src++) {
		udp4(&f, -1, 0x0a010000 + src, 0x01020304, 0, 1000);
		assert_int_equal(send(&w, &f, 4, 0, NULL), 3);	/* each key its own burst */
	}
	udp4(&f, -1, 0x0a020001, 0x01020304, 0, 1000);	/* 10.2.0.1 -> tenant b */
	assert_int_equal(send(&w, &f, 4, 0, NULL), 1);
	s = stats(&w);
	assert_int_equal(s.t[0].c.packets, 40);
	assert_int_equal(s.t[0].c.conform_packets, 30);
	assert_int_equal(s.t[0].keys, 10);
	assert_int_equal(s.t[0].c.keys_created, 10);
	assert_int_equal(s.t[1].c.packets, 4);
	assert_int_equal(s.t[1].c.conform_packets, 1);
	assert_int_equal(s.unmatched.packets, 0);
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

static void mark_and_pass(void **state)
{
	struct world w = {0};
	struct pb f;
	struct sl_stats s;
	uint8_t out[PB_MAX];

	(void)state;
	w.prof[0] = profile("m", SL_MODE_SHARED, 800000, 1000, SL_ACT_MARK);
	w.prof[0].dscp = 46;
	w.prof[1] = profile("p", SL_MODE_SHARED, 800000, 1000, SL_ACT_PASS);
	w.cfg.nb_profiles = 2;
	add_tenant(&w, "marked", 0, SL_M_VLAN, 1, 0, 0);
	add_tenant(&w, "shadow", 1, SL_M_VLAN, 2, 0, 0);
	build(&w);
	udp4(&f, 1, 0x0a000001, 0x0a000002, 0x01 /* ECN */, 1000);
	assert_int_equal(send(&w, &f, 1, 0, out), 1);
	assert_int_equal(out[18 + 1], 0x01);		/* conforming: untouched */
	assert_int_equal(send(&w, &f, 1, 0, out), 1);	/* exceeding: forwarded, marked */
	assert_int_equal(out[18 + 1], 46 << 2 | 0x01);
	assert_int_equal(pb_csum(out + 18, 20), 0);	/* header checksum still valid */
	udp4(&f, 2, 0x0a000001, 0x0a000002, 0, 1000);
	assert_int_equal(send(&w, &f, 3, 0, out), 3);	/* shadow mode forwards everything */
	assert_int_equal(out[18 + 1], 0);
	s = stats(&w);
	assert_int_equal(s.t[0].c.exceed_packets, 1);
	assert_int_equal(s.t[1].c.conform_packets, 1);
	assert_int_equal(s.t[1].c.exceed_packets, 2);
	assert_int_equal(s.dropped.packets, 0);
	assert_int_equal(s.total.bytes, 5000);	/* exceeding frames forwarded count too */
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

static void unmatched_and_malformed(void **state)
{
	struct world w = {0};
	struct pb f;
	struct sl_stats s;

	(void)state;
	w.prof[0] = profile("p", SL_MODE_SHARED, 800000, 1000, SL_ACT_DROP);
	w.cfg.nb_profiles = 1;
	w.cfg.unmatched = SL_ACT_DROP;
	add_tenant(&w, "t", 0, SL_M_VLAN, 7, 0, 0);
	build(&w);
	udp4(&f, 8, 0x0a000001, 0x0a000002, 0, 100);	/* other VLAN */
	assert_int_equal(send(&w, &f, 2, 0, NULL), 0);
	f.len = 14 + 4 + 10;				/* truncated IPv4 header */
	assert_int_equal(send(&w, &f, 1, 0, NULL), 0);
	s = stats(&w);
	assert_int_equal(s.unmatched.packets, 2);
	assert_int_equal(s.unmatched.bytes, 200);
	assert_int_equal(s.malformed.packets, 1);
	assert_int_equal(s.malformed.bytes, 28);
	assert_int_equal(s.total.packets, 3);
	assert_int_equal(s.dropped.packets, 3);
	assert_int_equal(s.t[0].c.packets, 0);
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

static void when_full(void **state)
{
	const enum sl_when_full modes[] = {SL_FULL_SHARED, SL_FULL_PASS, SL_FULL_DROP};
	const unsigned fwd_expect[] = {1, 4, 0};	/* packets 3..6 of keys past max-keys */

	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct world w = {0};
		struct pb f;
		struct sl_stats s;
		unsigned fwd = 0;

		w.prof[0] = profile("d", SL_MODE_DEDICATED, 800000, 1000, SL_ACT_DROP);
		w.prof[0].max_keys = 2;
		w.prof[0].when_full = modes[m];
		w.cfg.nb_profiles = 1;
		add_tenant(&w, "t", 0, 0, -1, 0, 0);
		build(&w);
		for (uint32_t src = 1; src <= 6; src++) {
			udp4(&f, -1, 0x0a000000 + src, 0x01020304, 0, 1000);
			unsigned got = send(&w, &f, 1, 0, NULL);

			if (src <= 2)
				assert_int_equal(got, 1);	/* own keys */
			else
				fwd += got;
		}
		assert_int_equal(fwd, fwd_expect[m]);
		s = stats(&w);
		assert_int_equal(s.t[0].c.quota_full, 4);	/* max-keys: the tenant's quota */
		assert_int_equal(s.t[0].c.table_full, 0);
		assert_int_equal(s.t[0].keys, 2);
		sl_stats_free(&s);
		sl_engine_free(w.e);
	}
}

static void idle_keys_evicted_and_recreated_full(void **state)
{
	struct world w = {0};
	struct pb f;
	struct sl_stats s;

	(void)state;
	/* 800kbit, burst 1000 B: full again 10 ms after a 1000-byte packet; idle 1 s */
	w.prof[0] = profile("d", SL_MODE_DEDICATED, 800000, 1000, SL_ACT_DROP);
	w.prof[0].idle_ns = NS;
	w.prof[0].max_keys = 4;
	w.cfg.nb_profiles = 1;
	add_tenant(&w, "t", 0, 0, -1, 0, 0);
	build(&w);
	for (uint32_t src = 1; src <= 4; src++) {
		udp4(&f, -1, 0x0a000000 + src, 0x01020304, 0, 1000);
		assert_int_equal(send(&w, &f, 2, 0, NULL), 1);
	}
	/* key 1 comes back after 0.5 s: still there (not idle long enough) */
	udp4(&f, -1, 0x0a000001, 0x01020304, 0, 1000);
	assert_int_equal(send(&w, &f, 1, NS / 2, NULL), 1);
	assert_int_equal(sl_engine_maintain(w.e, NS / 2, 0), 0);
	/* at 1.01 s + a hair keys 2-4 are full and idle for 1 s: evicted; key 1 is not */
	assert_int_equal(sl_engine_maintain(w.e, NS + 10000001, 0), 3);
	assert_int_equal(sl_engine_maintain(w.e, NS + 10000001, 0), 0);
	s = stats(&w);
	assert_int_equal(s.t[0].keys, 1);
	assert_int_equal(s.t[0].c.keys_evicted, 3);
	sl_stats_free(&s);
	/* the quota is 4 keys: 3 new keys fit again, each with a full bucket */
	for (uint32_t src = 5; src <= 7; src++) {
		udp4(&f, -1, 0x0a000000 + src, 0x01020304, 0, 1000);
		assert_int_equal(send(&w, &f, 2, 2 * NS, NULL), 1);
	}
	/* quota taken again: key 8 shares the tenant's overflow bucket set (when-full: shared) */
	udp4(&f, -1, 0x0a000008, 0x01020304, 0, 1000);
	assert_int_equal(send(&w, &f, 2, 2 * NS, NULL), 1);
	s = stats(&w);
	assert_int_equal(s.t[0].keys, 4);
	assert_int_equal(s.t[0].c.quota_full, 2);
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

static void deferred_marks_and_queue_counters(void **state)
{
	struct world w = {0};
	struct pb f;
	struct sl_stats s;
	static uint8_t buf[3][PB_MAX];
	uint8_t *data[3] = {buf[0], buf[1], buf[2]}, verdict[3];
	uint32_t caplen[3], len[3];
	struct sl_decision dec[3];

	(void)state;
	w.prof[0] = profile("m", SL_MODE_SHARED, 800000, 1000, SL_ACT_MARK);
	w.prof[0].dscp = 46;
	w.prof[0].max_queue = 7;
	w.cfg.nb_profiles = 1;
	add_tenant(&w, "marked", 0, SL_M_VLAN, 1, 0, 0);
	build(&w);
	udp4(&f, 1, 0x0a000001, 0x0a000002, 0x02, 1000);
	for (unsigned i = 0; i < 3; i++) {
		memcpy(buf[i], f.b, f.len);
		caplen[i] = len[i] = f.len;
	}
	assert_int_equal(sl_process_ex(w.lc, 0, data, caplen, len, 3, 0, verdict, dec), 3);
	assert_int_equal(dec[0].mark, 0);		/* conforming */
	assert_int_equal(dec[1].mark, 1);		/* exceeding: left to the caller */
	assert_int_equal(dec[1].dscp, 46);
	assert_int_equal(buf[1][18 + 1], 0x02);		/* untouched so far */
	assert_int_equal(dec[0].flow_hash, dec[2].flow_hash);
	assert_int_equal(dec[0].queue_key, dec[2].queue_key);
	assert_int_equal(dec[0].max_queue, 7);
	assert_int_equal(dec[0].tenant, 0);
	assert_int_equal(sl_decision_mark(buf[1], caplen[1], &dec[1]), 0);
	assert_int_equal(buf[1][18 + 1], 46 << 2 | 0x02);
	assert_int_equal(pb_csum(buf[1] + 18, 20), 0);
	sl_lcore_queue_drop(w.lc, dec[2].tenant, len[2]);
	sl_lcore_queue_level(w.lc, 0, 5);
	sl_lcore_queue_level(w.lc, 0, 3);
	s = stats(&w);
	assert_int_equal(s.t[0].c.queue_drops, 1);
	assert_int_equal(s.t[0].queue_hwm, 5);
	assert_int_equal(s.t[0].c.conform_packets, 1);
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * 4;
}

static void key_flood_keeps_memory_flat(void **state)
{
	struct world w = {0};
	struct pb f;
	struct sl_stats s;
	long before;

	(void)state;
	w.prof[0] = profile("d", SL_MODE_DEDICATED, 800000, 3000, SL_ACT_DROP);
	w.prof[0].max_keys = 10000;
	w.budget = 20000;
	w.cfg.nb_profiles = 1;
	add_tenant(&w, "t", 0, 0, -1, 0, 0);
	build(&w);
	for (uint32_t src = 0; src < 10000; src++) {	/* fill the table */
		udp4(&f, -1, 0x0a000000 + src, 0x01020304, 0, 100);
		send(&w, &f, 1, 0, NULL);
	}
	before = rss_kb();
	for (uint32_t src = 10000; src < 500000; src++) {	/* a flood of new sources */
		udp4(&f, -1, 0x0a000000 + src, 0x01020304, 0, 100);
		send(&w, &f, 1, 0, NULL);
	}
	s = stats(&w);
	assert_int_equal(s.t[0].keys, 10000);
	assert_int_equal(s.t[0].c.quota_full, 490000);
	/* the flood took no memory: the table was preallocated */
	assert_true(rss_kb() - before < 256);
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

/* n new sources src0.. of vlan-less UDP through the world at time now; returns forwarded */
static unsigned new_keys(struct world *w, uint32_t src0, unsigned n, uint32_t len, uint64_t now)
{
	struct pb f;
	unsigned fwd = 0;

	for (unsigned k = 0; k < n; k++) {
		udp4(&f, -1, src0 + k, 0x01020304, 0, len);
		fwd += send(w, &f, 1, now, NULL);
	}
	return fwd;
}

/*
 * One budget of 8 keys: tenant a (quota 4) and tenant b (no quota) of one profile. a's fifth
 * and sixth keys are over its quota (quota_full); b takes what is left of the budget, 4,
 * and its next 2 find the budget taken (table_full). Each is counted apart.
 */
static void budget_and_quota_counted_apart(void **state)
{
	struct world w = {0};
	struct sl_stats s;

	(void)state;
	w.prof[0] = profile("q", SL_MODE_DEDICATED, 800000, 1000, SL_ACT_DROP);
	w.prof[0].max_keys = 4;
	w.prof[0].when_full = SL_FULL_DROP;
	w.prof[1] = profile("free", SL_MODE_DEDICATED, 800000, 1000, SL_ACT_DROP);
	w.prof[1].when_full = SL_FULL_DROP;
	w.cfg.nb_profiles = 2;
	w.budget = 8;
	add_tenant(&w, "a", 0, SL_M_SRC, -1, 0x0a000000, 16);
	add_tenant(&w, "b", 1, SL_M_SRC, -1, 0x0b000000, 16);
	build(&w);
	assert_int_equal(new_keys(&w, 0x0a000001, 6, 100, 0), 4);
	assert_int_equal(new_keys(&w, 0x0b000001, 6, 100, 0), 4);
	s = stats(&w);
	assert_int_equal(s.t[0].keys, 4);
	assert_int_equal(s.t[0].c.quota_full, 2);
	assert_int_equal(s.t[0].c.table_full, 0);
	assert_int_equal(s.t[1].keys, 4);
	assert_int_equal(s.t[1].c.quota_full, 0);
	assert_int_equal(s.t[1].c.table_full, 2);
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

/*
 * Isolation: tenants a and b share a dedicated profile (quota 100 each). a floods 20,000 new
 * sources; b's 50 sources keep their keys and their exact rate: 800 kbit/s and a 1000-byte
 * burst per source, 100-byte frames, 20 per source each 10 ms for 1 s: every source conforms
 * with 1000 + 800000/8 B = 101,000 B over the second, 1010 frames of 100 B at most.
 */
static void quota_keeps_a_flood_to_its_tenant(void **state)
{
	struct world w = {0};
	struct sl_stats s;
	struct pb f;
	unsigned fwd_b = 0;

	(void)state;
	w.prof[0] = profile("per-host", SL_MODE_DEDICATED, 800000, 1000, SL_ACT_DROP);
	w.prof[0].max_keys = 100;
	w.cfg.nb_profiles = 1;
	w.budget = 4096;
	add_tenant(&w, "a", 0, SL_M_SRC, -1, 0x0a000000, 8);
	add_tenant(&w, "b", 0, SL_M_SRC, -1, 0x0b000000, 8);
	build(&w);
	for (unsigned tick = 0; tick <= 100; tick++) {
		uint64_t now = (uint64_t)tick * NS / 100;

		new_keys(&w, 0x0a000000 + tick * 200, 200, 100, now);	/* the flood */
		for (uint32_t k = 0; k < 50; k++) {
			udp4(&f, -1, 0x0b000001 + k, 0x01020304, 0, 100);
			fwd_b += send(&w, &f, 20, now, NULL);
		}
	}
	s = stats(&w);
	assert_int_equal(s.t[0].keys, 100);
	assert_int_equal(s.t[0].c.quota_full, 20200 - 100);
	assert_int_equal(s.t[1].keys, 50);
	assert_int_equal(s.t[1].c.quota_full + s.t[1].c.table_full, 0);
	/* 10 frames of burst, then 10 per 10 ms: tick 0 takes 10, each later tick 10 */
	assert_int_equal(fwd_b, 50 * (10 + 100 * 10));
	sl_stats_free(&s);
	sl_engine_free(w.e);
}

/* A profile with a limit (2 buckets) takes two units per key: a budget of 8 holds 4 keys. */
static void keys_with_limits_take_two_units(void **state)
{
	struct world w = {0};
	struct sl_stats s;

	(void)state;
	w.prof[0] = profile("lim", SL_MODE_DEDICATED, 800000, 1000, SL_ACT_DROP);
	w.prof[0].nb_buckets = 2;
	w.prof[0].b[1] = (struct sl_cfg_bucket){8000000, 60 * NS, 8000000};
	w.prof[0].when_full = SL_FULL_DROP;
	w.cfg.nb_profiles = 1;
	w.budget = 8;
	add_tenant(&w, "t", 0, 0, -1, 0, 0);
	build(&w);
	assert_int_equal(new_keys(&w, 0x0a000001, 6, 100, 0), 4);
	s = stats(&w);
	assert_int_equal(s.t[0].keys, 4);
	assert_int_equal(s.t[0].c.table_full, 2);
	sl_stats_free(&s);
	/* idle for a long while: evicted, their pairs reused by 4 new keys, then full again */
	assert_int_equal(sl_engine_maintain(w.e, 1000 * NS, 0), 4);
	assert_int_equal(new_keys(&w, 0x0a000101, 6, 100, 1000 * NS), 4);
	sl_engine_free(w.e);
}

/*
 * A reload that changes what a tenant's keys are (here the key kind) gives it a new identity:
 * its old keys are orphans, unlinked by the next maintenance whatever their idle time, and
 * the budget is whole again. A reload that changes only the rate keeps the keys.
 */
static void orphans_go_at_once(void **state)
{
	struct world w = {0};
	struct sl_reload_summary sum;
	struct sl_diag d = {0};
	struct sl_stats s;

	(void)state;
	w.prof[0] = profile("d", SL_MODE_DEDICATED, 800000, 1000, SL_ACT_DROP);
	w.prof[0].when_full = SL_FULL_DROP;
	w.cfg.nb_profiles = 1;
	w.budget = 16;
	add_tenant(&w, "t", 0, 0, -1, 0, 0);
	build(&w);
	assert_int_equal(new_keys(&w, 0x0a000001, 16, 100, 0), 16);
	w.prof[0].b[0].amount = 400000;		/* rate only: the keys stay */
	assert_int_equal(sl_engine_reload(w.e, &w.cfg, &sum, &d), 0);
	assert_int_equal(sum.states_reset, 0);
	assert_int_equal(sl_engine_maintain(w.e, 1, 0), 0);
	s = stats(&w);
	assert_int_equal(s.t[0].keys, 16);
	sl_stats_free(&s);
	w.prof[0].key = SL_KEY_DST_IP;		/* another key kind: the keys restart */
	assert_int_equal(sl_engine_reload(w.e, &w.cfg, &sum, &d), 0);
	assert_int_equal(sum.states_reset, 1);
	assert_int_equal(new_keys(&w, 0x0a000001, 1, 100, 2), 0);	/* budget still taken */
	assert_int_equal(sl_engine_maintain(w.e, 3, 0), 16);		/* not idle, but orphans */
	assert_int_equal(new_keys(&w, 0x0a000001, 1, 100, 4), 1);
	s = stats(&w);
	assert_int_equal(s.t[0].keys, 1);
	assert_int_equal(s.t[0].c.table_full, 1);
	sl_stats_free(&s);
	sl_diag_free(&d);
	sl_engine_free(w.e);
}

/* Fixed memory readings: limit 1 GiB, `used` in use, the system with plenty. */
static int fake_mem(struct sl_mem *m, void *arg)
{
	m->limit = 1ull << 30;
	m->used = *(const uint64_t *)arg;
	m->avail = 64ull << 30;
	m->as_left = SL_MEM_NONE;
	m->what = "test limit";
	return 0;
}

/*
 * What does not fit is refused before it is allocated: a key table beyond the limit at
 * start-up, a reload when the process is near its limit; the running policy stays.
 */
static void admission(void **state)
{
	struct world w = {0};
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = 1, .max_keys = 16u << 20,
				   .mem_probe = fake_mem};
	uint64_t used = 100u << 20;
	struct sl_engine *e = NULL;
	struct sl_diag d = {0};
	struct sl_stats s;

	(void)state;
	o.mem_arg = &used;
	w.prof[0] = profile("d", SL_MODE_DEDICATED, 800000, 1000, SL_ACT_DROP);
	w.cfg.nb_profiles = 1;
	add_tenant(&w, "t", 0, 0, -1, 0, 0);
	w.cfg.path = "test.yaml";
	w.cfg.profiles = w.prof;
	w.cfg.tenants = w.ten;
	w.cfg.matches = w.mat;
	/* 16M keys are 1.2 GB: more than the 1 GiB limit */
	assert_int_equal(sl_engine_create(&w.cfg, &o, &e, &d), -ENOMEM);
	assert_null(e);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msg[0], "the key table of 16777216 keys needs"));
	assert_non_null(strstr(d.msg[0], "--max-keys"));
	sl_diag_free(&d);
	o.max_keys = 1u << 20;		/* 76 MB: fits */
	assert_int_equal(sl_engine_create(&w.cfg, &o, &e, &d), 0);
	used = 1000u << 20;		/* the process grew near its limit: no reload fits */
	assert_int_equal(sl_engine_reload(e, &w.cfg, NULL, &d), -ENOMEM);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msg[0], "the reload needs"));
	assert_int_equal(sl_engine_stats(e, &s), 0);
	assert_int_equal(s.generation, 1);
	assert_int_equal(s.reload_failures, 1);
	sl_stats_free(&s);
	sl_diag_free(&d);
	used = 100u << 20;
	assert_int_equal(sl_engine_reload(e, &w.cfg, NULL, &d), 0);
	sl_engine_free(e);
}

/*
 * Bursts that switch tenants from frame to frame (the engine polices runs of one tenant):
 * a dedicated tenant on VLAN 1 whose keys have 3000-byte buckets, a catch-all shared tenant
 * after it with a 2000-byte bucket, unmatched frames none (the catch-all takes them). Then the
 * same tenants the other way round: a catch-all first takes every frame.
 */
static void mixed_runs_and_catch_all(void **state)
{
	static uint8_t buf[24][PB_MAX];
	uint8_t *data[24], verdict[24];
	uint32_t caplen[24], len[24];
	struct sl_stats s;
	struct pb f;

	(void)state;
	for (unsigned order = 0; order < 2; order++) {
		struct world w = {0};
		unsigned fwd, exp_fwd;

		w.prof[0] = profile("ded", SL_MODE_DEDICATED, 800000, 3000, SL_ACT_DROP);
		w.prof[1] = profile("sh", SL_MODE_SHARED, 800000, 2000, SL_ACT_DROP);
		w.cfg.nb_profiles = 2;
		if (order == 0) {
			add_tenant(&w, "v1", 0, SL_M_VLAN, 1, 0, 0);
			add_tenant(&w, "rest", 1, 0, -1, 0, 0);
		} else {
			add_tenant(&w, "rest", 1, 0, -1, 0, 0);
			add_tenant(&w, "v1", 0, SL_M_VLAN, 1, 0, 0);
		}
		build(&w);
		/* frame i: VLAN 1 from source i % 2 when i % 3 != 2, else VLAN 2 (or untagged);
		 * when i % 4 == 1 the VLAN 1 tag is the outer one of a QinQ stack, so frames of
		 * the complete parser sit between the fast parser's in one burst */
		for (unsigned i = 0; i < 24; i++) {
			int vlan = i % 3 != 2 ? 1 : (i % 2 ? 2 : -1);

			udp4_tags(&f, vlan, vlan == 1 && i % 4 == 1 ? 7 : -1, 0x0a000001 + i % 2,
				  0x01020304, 0, 1000);
			memcpy(buf[i], f.b, f.len);
			data[i] = buf[i];
			caplen[i] = len[i] = f.len;
		}
		fwd = sl_process(w.lc, 0, data, caplen, len, 24, 0, verdict);
		s = stats(&w);
		if (order == 0) {
			/* 16 VLAN 1 frames, 8 per source: 3 of each conform; 8 others: 2 conform */
			for (unsigned i = 0, seen[2] = {0, 0}, other = 0; i < 24; i++) {
				unsigned conf = i % 3 != 2 ? seen[i % 2]++ < 3 : other++ < 2;

				assert_int_equal(verdict[i], conf ? SL_V_FORWARD : SL_V_DROP);
			}
			exp_fwd = 8;
			assert_int_equal(s.t[0].c.packets, 16);
			assert_int_equal(s.t[0].c.conform_packets, 6);
			assert_int_equal(s.t[0].c.exceed_bytes, 10 * f.len);
			assert_int_equal(s.t[0].keys, 2);
			assert_int_equal(s.t[1].c.packets, 8);
			assert_int_equal(s.t[1].c.conform_packets, 2);
			assert_int_equal(s.t[1].c.conform_bytes, 2 * f.len);
		} else {
			/* every frame to the shared catch-all: 2 of 24 conform, in order */
			for (unsigned i = 0; i < 24; i++)
				assert_int_equal(verdict[i], i < 2 ? SL_V_FORWARD : SL_V_DROP);
			exp_fwd = 2;
			assert_int_equal(s.t[0].c.packets, 24);
			assert_int_equal(s.t[0].c.conform_packets, 2);
			assert_int_equal(s.t[1].c.packets, 0);
			assert_int_equal(s.t[1].keys, 0);
		}
		assert_int_equal(fwd, exp_fwd);
		assert_int_equal(s.unmatched.packets, 0);
		assert_int_equal(s.dropped.packets, 24 - exp_fwd);
		/* every frame's bytes counted once in the total, the dropped ones in dropped too */
		{
			uint64_t all = 0, dropped = 0;

			for (unsigned i = 0; i < 24; i++) {
				all += len[i];
				dropped += verdict[i] == SL_V_DROP ? len[i] : 0;
			}
			assert_int_equal(s.total.bytes, all);
			assert_int_equal(s.dropped.bytes, dropped);
		}
		sl_stats_free(&s);
		sl_engine_free(w.e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shared_burst_and_refill),
		cmocka_unit_test(dedicated_keys_and_first_match),
		cmocka_unit_test(mark_and_pass),
		cmocka_unit_test(unmatched_and_malformed),
		cmocka_unit_test(when_full),
		cmocka_unit_test(idle_keys_evicted_and_recreated_full),
		cmocka_unit_test(deferred_marks_and_queue_counters),
		cmocka_unit_test(key_flood_keeps_memory_flat),
		cmocka_unit_test(budget_and_quota_counted_apart),
		cmocka_unit_test(quota_keeps_a_flood_to_its_tenant),
		cmocka_unit_test(keys_with_limits_take_two_units),
		cmocka_unit_test(orphans_go_at_once),
		cmocka_unit_test(admission),
		cmocka_unit_test(mixed_runs_and_catch_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
