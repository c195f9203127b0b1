/* fuzz_frames.c - libFuzzer target: untrusted frames through the engine (parse, classify,
 * police, act) on policies that use every feature, by every data-path entry point.
 *
 * Input (every byte string is valid; what runs out ends the input):
 *   byte 0      setup: bits 0-2 engine (policy and lcores, see engines[]), bit 3 clock of
 *               2.4 GHz (else 1 GHz), bit 4 clock starting near 2^56 ticks (else 4096),
 *               bits 5-6 path (0 sl_process, 1 sl_process_ex, 2 sl_burst_* with decisions,
 *               3 sl_burst_* without), bit 7 check the counters after every burst
 *   then bursts (at most MAX_BURSTS), each:
 *     byte b0   bits 0-2 time step before the burst (steps[]), bit 3 sl_engine_maintain
 *               before its probe, bit 4 sl_engine_maintain before its finish, bit 5 reload
 *               (the partner policy) before its finish, bit 6 instead of a reload, change a
 *               profile (sl_engine_set_profile), bit 7 on lcore 1 (engines of 2 lcores)
 *     byte b1   bits 0-5 frames - 1, bits 6-7 the maintenance budget (budgets[])
 *     byte b2   the port the burst came in on
 *     frames    each a 16-bit big-endian header, bits 0-13 caplen (cut to what is left),
 *               bit 14 frame length = caplen + 1500, bit 15 frame length + 65536 (a frame
 *               longer than its first segment), then caplen bytes
 * Each frame is copied into its own buffer of exactly caplen bytes (ASan sees any over-read
 * or over-write). Pipelined: burst k is staged, burst k-1 probed and burst k-2 finished in
 * pass k, as app/sl_fwd.c does. Forwarded frames with a decision get sl_decision_mark and the
 * queue counters. Checked after every input: verdicts and forwarded counts agree, departures
 * are within 1 s, the engine's totals and drops are the frames given, and (without a reload)
 * every frame is in exactly one tenant, unmatched or malformed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sl_engine.h"
#include "fuzz_common.h"

#define MAX_BURSTS 16
#define NS 1000000000ull

/* ---- the policies ------------------------------------------------------------------------ */

/*
 * A: every feature. Shared and dedicated profiles, src-ip / dst-ip / 5-tuple keys, 1 to 4
 * buckets in bits and packets, exceed drop / mark / pass / shape, max-keys quotas and the
 * three when-full choices, max-flows, max-queue, queue, max-delay and fair; tenants by VLAN,
 * QinQ, inner VLAN, port, IPv4 and IPv6 prefixes, protocols and port ranges, several blocks,
 * and a catch-all. Tiny quotas, a 64-unit key budget and short idle times: tables fill, keys are
 * refused and evicted within a few frames; limits slower than their rate (a later bucket
 * refuses what an earlier one took: given back on two lcores).
 */
static const char policy_a[] =
	"sluice: 1\n"
	"unmatched: drop\n"
	"profiles:\n"
	"  sh-mark: {mode: shared, rate: 2mbit, burst: 3000B, limits: [{limit: 20KB, per: 100ms}],\n"
	"            exceed: mark, dscp: 46, max-flows: 4, flow-idle: 1ms, max-queue: 8}\n"
	"  sh-drop: {mode: shared, rate: 1kpps, burst: 4pkt, exceed: drop, limits: [\n"
	"            {limit: 20pkt, per: 100ms}, {limit: 100pkt, per: 1s}, {limit: 1000pkt, per: 1m}]}\n"
	"  sh-pass: {mode: shared, rate: 100kbit, burst: 1500B, exceed: pass}\n"
	"  sh-shape: {mode: shared, rate: 1mbit, burst: 1514B, exceed: shape, max-delay: 5ms,\n"
	"             queue: 6KB, max-flows: 3, flow-idle: 2ms, max-queue: 16}\n"
	"  sh-shape-pkt: {mode: shared, rate: 100pps, burst: 2pkt, exceed: shape, max-delay: 1s,\n"
	"                 limits: [{limit: 5pkt, per: 100ms}], fair: none}\n"
	"  d-src: {mode: dedicated, key: src-ip, rate: 64kbit, burst: 2000B, exceed: drop,\n"
	"          idle: 1ms, max-keys: 4, when-full: shared}\n"
	"  d-dst: {mode: dedicated, key: dst-ip, rate: 10pps, burst: 2pkt, exceed: mark, dscp: 10,\n"
	"          idle: 2ms, max-keys: 3, when-full: pass, max-flows: 2, flow-idle: 1ms,\n"
	"          max-queue: 4}\n"
	"  d-5t: {mode: dedicated, key: 5-tuple, rate: 100pps, burst: 2pkt, exceed: shape,\n"
	"         limits: [{limit: 4pkt, per: 1s}], max-delay: 10ms, queue: 3pkt, idle: 1ms,\n"
	"         max-keys: 8, when-full: drop, max-flows: 3, flow-idle: 500us}\n"
	"  d-shape: {mode: dedicated, key: src-ip, rate: 1mbit, burst: 3000B, exceed: shape,\n"
	"            idle: 1ms, when-full: shared}\n"
	"  d-free: {mode: dedicated, key: 5-tuple, rate: 8mbit, burst: 10KB, exceed: pass,\n"
	"           limits: [{limit: 1MB, per: 1s}], idle: 100us}\n"
	"  d-mark: {mode: dedicated, key: src-ip, rate: 1mbit, burst: 1500B, exceed: mark,\n"
	"           dscp: 63, idle: 1s}\n"
	"tenants:\n"
	"  - {name: qinq, profile: d-src, match: {vlan: 100, inner-vlan: 7}}\n"
	"  - {name: inner, profile: sh-pass, match: {inner-vlan: 8}}\n"
	"  - {name: vlan10, profile: sh-mark, match: {vlan: 10}}\n"
	"  - {name: port1-v6, profile: d-dst, match: {port: 1, src: \"2001:db8::/32\"}}\n"
	"  - {name: port2, profile: sh-shape, match: {port: 2}}\n"
	"  - {name: v6-web, profile: d-5t, match: {dst: \"2001:db8:1::/48\", proto: tcp,\n"
	"                                          dst-port: 80-89}}\n"
	"  - {name: v4-dns, profile: sh-drop, match: {src: 10.0.0.0/8, proto: udp,\n"
	"                                            src-port: 1000-1999, dst-port: 53}}\n"
	"  - name: multi\n"
	"    profile: d-shape\n"
	"    match: [{src: 192.168.0.0/16}, {dst: 192.0.2.0/24, proto: icmp},\n"
	"            {src: \"fe80::/10\", proto: icmp}, {vlan: 20, dst: 10.9.0.0/16}]\n"
	"  - {name: gre, profile: d-free, match: {dst: 198.51.100.1, proto: 47}}\n"
	"  - {name: loop6, profile: sh-shape-pkt, match: {src: \"::1\"}}\n"
	"  - {name: v4-host, profile: d-mark, match: {src: 10.1.2.3/32, dst: 10.3.2.1}}\n"
	"  - {name: untagged-0, profile: d-mark, match: {vlan: 0}}\n"
	"  - {name: all, profile: d-free, match: {}}\n";

/*
 * B: A's partner in reloads. Profiles kept (sh-drop, sh-pass, d-dst), changed in
 * parameters only (sh-mark, sh-shape, d-5t: state carries over), changed in key kind
 * (d-src: its keys become orphans), removed (d-free) and added (d-new); tenants removed
 * (all, gre), added, moved; unmatched: pass, no catch-all.
 */
static const char policy_b[] =
	"sluice: 1\n"
	"unmatched: pass\n"
	"profiles:\n"
	"  sh-mark: {mode: shared, rate: 3mbit, burst: 3000B, limits: [{limit: 20KB, per: 100ms}],\n"
	"            exceed: mark, dscp: 46, max-flows: 4, flow-idle: 1ms, max-queue: 8}\n"
	"  sh-drop: {mode: shared, rate: 1kpps, burst: 4pkt, exceed: drop, limits: [\n"
	"            {limit: 20pkt, per: 100ms}, {limit: 100pkt, per: 1s}, {limit: 1000pkt, per: 1m}]}\n"
	"  sh-pass: {mode: shared, rate: 100kbit, burst: 1500B, exceed: pass}\n"
	"  sh-shape: {mode: shared, rate: 1mbit, burst: 1514B, exceed: shape, max-delay: 20ms,\n"
	"             max-flows: 3, flow-idle: 2ms}\n"
	"  d-src: {mode: dedicated, key: 5-tuple, rate: 64kbit, burst: 2000B, exceed: drop,\n"
	"          idle: 1ms, max-keys: 4, when-full: shared}\n"
	"  d-dst: {mode: dedicated, key: dst-ip, rate: 10pps, burst: 2pkt, exceed: mark, dscp: 10,\n"
	"          idle: 2ms, max-keys: 3, when-full: pass, max-flows: 2, flow-idle: 1ms,\n"
	"          max-queue: 4}\n"
	"  d-5t: {mode: dedicated, key: 5-tuple, rate: 100pps, burst: 2pkt, exceed: shape,\n"
	"         limits: [{limit: 4pkt, per: 1s}], max-delay: 10ms, queue: 3pkt, idle: 1ms,\n"
	"         max-keys: 2, when-full: drop, max-flows: 3, flow-idle: 500us}\n"
	"  d-new: {mode: dedicated, key: dst-ip, rate: 5pps, burst: 1pkt, exceed: drop,\n"
	"          max-keys: 1, when-full: drop, idle: 1ms}\n"
	"tenants:\n"
	"  - {name: vlan10, profile: sh-mark, match: {vlan: 10}}\n"
	"  - {name: qinq, profile: d-src, match: {vlan: 100, inner-vlan: 7}}\n"
	"  - {name: inner, profile: sh-pass, match: {inner-vlan: 8}}\n"
	"  - {name: new, profile: d-new, match: {proto: udp, dst-port: 9-10}}\n"
	"  - {name: port1-v6, profile: d-dst, match: [{port: 1, src: \"2001:db8::/32\"},\n"
	"                                             {port: 3}]}\n"
	"  - {name: port2, profile: sh-shape, match: {port: 2}}\n"
	"  - {name: v6-web, profile: d-5t, match: {dst: \"2001:db8:1::/48\", proto: tcp,\n"
	"                                          dst-port: 80-89}}\n"
	"  - {name: v4-dns, profile: sh-drop, match: {src: 10.0.0.0/8, proto: udp,\n"
	"                                            src-port: 1000-1999, dst-port: 53}}\n";

/* Trivial classifiers (one catch-all tenant): the inline fast parser and, for a dedicated
 * profile of one bucket without max-flows or shaping, the common run. */
static const char policy_sbytes[] =
	"sluice: 1\n"
	"profiles:\n"
	"  p: {mode: dedicated, key: src-ip, rate: 1mbit, burst: 1500B, exceed: drop, idle: 1ms,\n"
	"      max-keys: 16, when-full: shared}\n"
	"tenants:\n"
	"  - {name: all, profile: p}\n";

static const char policy_spkts[] =
	"sluice: 1\n"
	"profiles:\n"
	"  p: {mode: dedicated, key: 5-tuple, rate: 10pps, burst: 1pkt, exceed: mark, dscp: 5,\n"
	"      idle: 1ms}\n"
	"tenants:\n"
	"  - {name: all, profile: p, match: {}}\n";

static const char policy_sshared[] =
	"sluice: 1\n"
	"profiles:\n"
	"  p: {mode: shared, rate: 500kbit, burst: 2000B, exceed: mark, dscp: 18, max-flows: 2,\n"
	"      flow-idle: 1ms}\n"
	"tenants:\n"
	"  - {name: all, profile: p}\n";

enum { P_A, P_B, P_SBYTES, P_SPKTS, P_SSHARED, P_COUNT };

static const char *const policy_text[P_COUNT] = {policy_a, policy_b, policy_sbytes,
						  policy_spkts, policy_sshared};
/* what each policy is reloaded to */
static const unsigned partner[P_COUNT] = {P_B, P_A, P_SPKTS, P_SBYTES, P_SBYTES};

static const struct {
	unsigned policy, lcores;
} engines[8] = {
	{P_A, 1}, {P_A, 2}, {P_B, 1}, {P_B, 2},
	{P_SBYTES, 1}, {P_SPKTS, 1}, {P_SBYTES, 2}, {P_SSHARED, 1},
};

static const uint64_t steps_ns[8] = {0, 1, 1000, 100000, 1000000, 20000000, NS, 86400 * NS};
static const uint64_t budgets[4] = {0, 1, 3, 64};

static struct sl_config *cfg[P_COUNT];
static int verbose;

static int mem_probe(struct sl_mem *m, void *arg)
{
	(void)arg;
	return fuzz_mem(m, 4ull << 30);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_FRAMES_VERBOSE") != NULL;
	for (unsigned i = 0; i < P_COUNT; i++) {
		struct sl_diag d = {0};

		if (sl_config_parse("fuzz-frames.yaml", policy_text[i], strlen(policy_text[i]),
				    &cfg[i], &d)) {
			fprintf(stderr, "fuzz_frames: policy %u does not parse:\n", i);
			sl_diag_print(&d, stderr);
			abort();
		}
		sl_diag_free(&d);
	}
	return 0;
}

/* ---- one input --------------------------------------------------------------------------- */

struct burst {
	unsigned n, lcore;
	uint16_t port;
	uint8_t b0, b1;
	uint64_t now;
	uint8_t *data[SL_BURST_MAX];
	uint32_t caplen[SL_BURST_MAX], len[SL_BURST_MAX];
	uint8_t verdict[SL_BURST_MAX];
	struct sl_decision dec[SL_BURST_MAX];
};

struct run {
	struct sl_engine *e;
	unsigned policy, lcores;
	uint64_t hz, clock;
	int reloaded;
	/* what was given and what the engine answered */
	uint64_t frames, bytes, drops, drop_bytes;
};

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "fuzz_frames: %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #c);                                            \
			abort();                                                          \
		}                                                                         \
	} while (0)

static uint64_t ticks(const struct run *r, uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * r->hz / NS);
}

/* Read the bursts; returns how many. Frames are malloc'ed copies of exactly caplen bytes. */
static unsigned read_bursts(const uint8_t *in, size_t size, struct burst *b, struct run *r)
{
	size_t at = 0;
	unsigned nb = 0;
	uint64_t now = r->clock;

	while (nb < MAX_BURSTS && at + 3 <= size) {
		struct burst *u = &b[nb++];
		unsigned want;

		u->b0 = in[at];
		u->b1 = in[at + 1];
		u->port = in[at + 2];
		at += 3;
		u->lcore = (u->b0 >> 7) % r->lcores;
		now += ticks(r, steps_ns[u->b0 & 7]);
		u->now = now;
		want = (u->b1 & 63) + 1;
		u->n = 0;
		while (u->n < want && at + 2 <= size) {
			unsigned h = (unsigned)in[at] << 8 | in[at + 1];
			uint32_t cl = h & 0x3fff;

			at += 2;
			if (cl > size - at)
				cl = (uint32_t)(size - at);
			u->data[u->n] = malloc(cl ? cl : 1);
			CHECK(u->data[u->n]);
			if (cl)
				memcpy(u->data[u->n], in + at, cl);
			at += cl;
			u->caplen[u->n] = cl;
			u->len[u->n] = cl + (h & 0x4000 ? 1500 : 0) + (h & 0x8000 ? 65536 : 0);
			u->n++;
		}
	}
	return nb;
}

/* Replace the running policy: its partner, or one profile's rate or burst. */
static void reload(struct run *r, const struct burst *u)
{
	static const char *const rates[4] = {"1kbit", "10gbit", "3pps", NULL};
	static const char *const bursts[4] = {NULL, "1B", "64KB", "1pkt"};
	struct sl_diag d = {0};
	struct sl_reload_summary sum;

	if (u->b0 & 0x40) {
		struct sl_config *c = sl_engine_config(r->e);
		unsigned k = u->port;

		CHECK(c && c->nb_profiles);
		/* refused (kinds that disagree, a rate too small for the burst...) is fine */
		(void)sl_engine_set_profile(r->e, c->profiles[k % c->nb_profiles].name,
					    rates[(k >> 4) & 3], bursts[(k >> 6) & 3], &sum, &d);
		sl_config_free(c);
	} else {
		r->policy = partner[r->policy];
		CHECK(sl_engine_reload(r->e, cfg[r->policy], &sum, &d) == 0);
	}
	sl_diag_free(&d);
	r->reloaded = 1;
}

static void maintain(struct run *r, const struct burst *u)
{
	(void)sl_engine_maintain(r->e, r->clock, budgets[u->b1 >> 6]);
}

/* After burst u finished at u->now: verdicts, decisions, marks, queue counters. */
static void after(struct run *r, struct burst *u, unsigned fwd, int with_dec)
{
	struct sl_lcore *lc = sl_engine_lcore(r->e, u->lcore);
	unsigned n_fwd = 0;

	for (unsigned i = 0; i < u->n; i++) {
		CHECK(u->verdict[i] == SL_V_FORWARD || u->verdict[i] == SL_V_DROP);
		r->frames++;
		r->bytes += u->len[i];
		if (u->verdict[i] == SL_V_DROP) {
			r->drops++;
			r->drop_bytes += u->len[i];
			continue;
		}
		n_fwd++;
		if (!with_dec)
			continue;
		CHECK(u->dec[i].depart >= u->now);
		CHECK(u->dec[i].depart - u->now <= ticks(r, SL_SHAPE_MAX_DELAY_NS) + 2);
		/* the deferred rewrite, into the frame (its writable copy) */
		(void)sl_decision_mark(u->data[i], u->caplen[i], &u->dec[i]);
		/* what worker mode does at hand-off: queue levels, and a drop over max-queue */
		sl_lcore_queue_level(lc, u->dec[i].tenant, i + 1);
		if (u->dec[i].max_queue && i + 1 > u->dec[i].max_queue)
			sl_lcore_queue_drop(lc, u->dec[i].tenant, u->len[i]);
	}
	CHECK(fwd == n_fwd);
}

/* The engine's counters against what was given and answered. */
static void check_stats(const struct run *r)
{
	struct sl_stats s;
	uint64_t p = 0, b = 0;

	CHECK(sl_engine_stats(r->e, &s) == 0);
	CHECK(s.total.packets == r->frames);
	CHECK(s.total.bytes == r->bytes);
	CHECK(s.dropped.packets == r->drops);
	CHECK(s.dropped.bytes == r->drop_bytes);
	for (unsigned t = 0; t < s.nb_tenants; t++) {
		const struct sl_tenant_stats *ts = &s.t[t];
		int pi = sl_config_profile_index(cfg[r->policy], ts->profile);

		p += ts->c.packets;
		b += ts->c.bytes;
		CHECK(ts->c.shape_drops <= ts->c.exceed_packets);
		CHECK(ts->c.fair_drops <= ts->c.shape_drops);
		CHECK(ts->c.shaped_packets <= ts->c.conform_packets);
		/* a tenant's keys never pass its quota (one thread: no race between lcores) */
		if (pi >= 0 && cfg[r->policy]->profiles[pi].max_keys && !r->reloaded)
			CHECK(ts->keys <= cfg[r->policy]->profiles[pi].max_keys);
	}
	if (!r->reloaded) {	/* a reload forgets removed tenants' counters */
		CHECK(p + s.unmatched.packets + s.malformed.packets == s.total.packets);
		CHECK(b + s.unmatched.bytes + s.malformed.bytes == s.total.bytes);
	}
	sl_stats_free(&s);
}

static void run_sequential(struct run *r, struct burst *b, unsigned nb, int ex, int every)
{
	for (unsigned k = 0; k < nb; k++) {
		struct burst *u = &b[k];
		struct sl_lcore *lc = sl_engine_lcore(r->e, u->lcore);
		unsigned fwd;

		r->clock = u->now;
		if (u->b0 & 0x08)
			maintain(r, u);
		if (ex)
			fwd = sl_process_ex(lc, u->port, u->data, u->caplen, u->len, u->n, u->now,
					    u->verdict, u->dec);
		else
			fwd = sl_process(lc, u->port, u->data, u->caplen, u->len, u->n, u->now,
					 u->verdict);
		after(r, u, fwd, ex);
		if (u->b0 & 0x20)
			reload(r, u);
		if (u->b0 & 0x10)
			maintain(r, u);
		if (every)
			check_stats(r);
	}
}

/* Pass k: stage burst k, probe burst k-1, finish burst k-2 (slot = index mod SL_SLOTS). */
static void run_pipelined(struct run *r, struct burst *b, unsigned nb, int with_dec, int every)
{
	for (unsigned k = 0; k < nb + 2; k++) {
		if (k < nb) {
			struct burst *u = &b[k];

			sl_burst_stage(sl_engine_lcore(r->e, u->lcore), k % SL_SLOTS, u->port,
				       u->data, u->caplen, u->n);
		}
		if (k >= 1 && k - 1 < nb) {
			struct burst *u = &b[k - 1];

			if (u->b0 & 0x08)
				maintain(r, u);
			sl_burst_probe(sl_engine_lcore(r->e, u->lcore), (k - 1) % SL_SLOTS);
		}
		if (k >= 2) {
			struct burst *u = &b[k - 2];
			unsigned fwd;

			r->clock = u->now;
			if (u->b0 & 0x20)
				reload(r, u);
			if (u->b0 & 0x10)
				maintain(r, u);
			fwd = sl_burst_finish(sl_engine_lcore(r->e, u->lcore), (k - 2) % SL_SLOTS,
					      u->data, u->caplen, u->len, u->now, u->verdict,
					      with_dec ? u->dec : NULL);
			after(r, u, fwd, with_dec);
			if (every)
				check_stats(r);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	static struct burst b[MAX_BURSTS];
	struct sl_engine_opts o = {.can_shape = 1, .max_keys = 64, .mem_probe = mem_probe};
	struct sl_diag d = {0};
	struct run r;
	unsigned nb, path;
	uint8_t setup;

	if (size < 1)
		return 0;
	setup = in[0];
	memset(&r, 0, sizeof(r));
	r.policy = engines[setup & 7].policy;
	r.lcores = engines[setup & 7].lcores;
	r.hz = setup & 0x08 ? 2400000001ull : NS;
	r.clock = setup & 0x10 ? 1ull << 56 : 4096;
	path = (setup >> 5) & 3;
	o.hz = r.hz;
	o.nb_lcores = r.lcores;
	if (sl_engine_create(cfg[r.policy], &o, &r.e, &d)) {
		sl_diag_print(&d, stderr);
		abort();
	}
	sl_diag_free(&d);
	nb = read_bursts(in + 1, size - 1, b, &r);
	if (path < 2)
		run_sequential(&r, b, nb, path == 1, setup >> 7);
	else
		run_pipelined(&r, b, nb, path == 2, setup >> 7);
	check_stats(&r);
	if (verbose) {	/* FUZZ_FRAMES_VERBOSE=1: what each input did, for building seeds */
		struct sl_stats s;

		if (!sl_engine_stats(r.e, &s)) {
			sl_stats_print(&s, 1, stderr);
			sl_stats_free(&s);
		}
	}
	sl_engine_free(r.e);
	for (unsigned k = 0; k < nb; k++)
		for (unsigned i = 0; i < b[k].n; i++)
			free(b[k].data[i]);
	return 0;
}
