/* test_rcu_stress.c - reader threads hammer the data path (sl_process, and the pipelined calls
 * with bursts held across quiescent states) while a writer swaps policy
 * snapshots thousands of times and evicts keys; built and run with AddressSanitizer too,
 * so a snapshot or table entry freed before its grace period shows up as a use-after-free. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <urcu-qsbr.h>
#include "pkt_build.h"
#include "sl_engine.h"

#define NS 1000000000ull
#define READERS 2
#define RELOADS 2000

static const char *policies[2] = {
	"sluice: 1\nprofiles:\n"
	"  s:\n    mode: shared\n    rate: 8mbit\n    burst: 20000B\n    exceed: drop\n"
	"  d:\n    mode: dedicated\n    rate: 800kbit\n    burst: 3000B\n    exceed: mark\n    dscp: 8\n"
	"    idle: 1s\n    max-keys: 256\n"
	"tenants:\n"
	"  - { name: a, profile: s, match: { vlan: 1 } }\n"
	"  - { name: b, profile: d, match: { vlan: 2 } }\n"
	"  - { name: c, profile: d, match: { vlan: 3 } }\n",
	"sluice: 1\nunmatched: drop\nprofiles:\n"
	"  s:\n    mode: shared\n    rate: 16mbit\n    burst: 2MB\n    exceed: drop\n"
	"    limits:\n      - { limit: 1MB, per: 1s }\n"
	"  d:\n    mode: dedicated\n    rate: 1600kbit\n    burst: 3000B\n"
	"    exceed: drop\n    idle: 1s\n    max-keys: 256\n"
	"  f:\n    mode: dedicated\n    key: 5-tuple\n    rate: 1600kbit\n    burst: 3000B\n"
	"    exceed: drop\n    idle: 1s\n    max-keys: 512\n"
	"tenants:\n"
	"  - { name: c, profile: s, match: { vlan: 3 } }\n"
	"  - { name: b, profile: d, match: { vlan: 2 } }\n"
	"  - { name: a, profile: f, match: { vlan: 1 } }\n"
	"  - { name: e, profile: d, match: { vlan: 4 } }\n",
};

struct shared {
	struct sl_engine *e;
	atomic_bool stop;
	atomic_ullong clock;		/* simulated ns, advanced by the writer */
	uint64_t sent[READERS];
};

struct reader {
	struct shared *s;
	unsigned id;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	struct sl_lcore *lc = sl_engine_lcore(r->s->e, r->id);
	static __thread uint8_t buf[SL_SLOTS][32][128];
	uint8_t *data[SL_SLOTS][32], verdict[32];
	uint32_t caplen[SL_SLOTS][32], len[SL_SLOTS][32];
	uint64_t seq = r->id * 7919, staged = 0, finished = 0;
	/*
	 * Odd readers run the pipelined data path (stage k, probe k-1, finish k-2): their bursts
	 * stay staged across quiescent states, so reloads free the snapshots they were staged
	 * under, and finish must stage them again (ASan would see any use of the freed one).
	 */
	int piped = r->id & 1;

	rcu_register_thread();
	while (!atomic_load(&r->s->stop)) {
		unsigned b = (unsigned)(staged % SL_SLOTS);

		for (unsigned i = 0; i < 32; i++, seq++) {
			struct pb f;
			uint32_t l3;

			pb_init(&f);
			pb_macs(&f);
			pb_tag(&f, 0x8100, (uint16_t)(1 + seq % 5));	/* vlan 5: unmatched */
			pb_u16(&f, 0x0800);
			/* 100 sources at a time, a new set every 500 ms: old keys go idle */
			uint64_t epoch = atomic_load(&r->s->clock) / (NS / 2);

			l3 = pb_ipv4(&f, 0, 0, 17, 0x0a000000 + (uint32_t)(seq % 100 + epoch % 64 * 100),
				     0xc0000201, 0);
			pb_udp(&f, (uint16_t)(seq % 50000), 53, 40);
			pb_ipv4_fin(&f, l3, 0);
			memcpy(buf[b][i], f.b, f.len);
			data[b][i] = buf[b][i];
			caplen[b][i] = len[b][i] = f.len;
		}
		if (!piped) {
			sl_process(lc, 0, data[b], caplen[b], len[b], 32, atomic_load(&r->s->clock),
				   verdict);
			r->s->sent[r->id] += 32;
			rcu_quiescent_state();
			continue;
		}
		sl_burst_stage(lc, b, 0, data[b], caplen[b], 32);
		if (staged++ > finished)
			sl_burst_probe(lc, (unsigned)((staged - 2) % SL_SLOTS));
		if (staged - finished == SL_SLOTS) {
			unsigned o = (unsigned)(finished++ % SL_SLOTS);

			sl_burst_finish(lc, o, data[o], caplen[o], len[o], atomic_load(&r->s->clock),
					verdict, NULL);
			r->s->sent[r->id] += 32;
		}
		rcu_quiescent_state();
	}
	while (finished < staged) {	/* drain */
		unsigned o = (unsigned)(finished++ % SL_SLOTS);

		sl_burst_finish(lc, o, data[o], caplen[o], len[o], atomic_load(&r->s->clock),
				verdict, NULL);
		r->s->sent[r->id] += 32;
	}
	rcu_unregister_thread();
	return NULL;
}

static struct sl_config *cfg_of(const char *yaml)
{
	struct sl_config *c = NULL;
	struct sl_diag d = {0};

	assert_int_equal(sl_config_parse("stress.yaml", yaml, strlen(yaml), &c, &d), 0);
	return c;
}

static void swaps_under_load(void **state)
{
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = READERS, .max_keys = 1024};
	struct shared s = {0};
	struct reader rd[READERS];
	pthread_t th[READERS];
	struct sl_config *c[2] = {cfg_of(policies[0]), cfg_of(policies[1])};
	struct sl_diag d = {0};
	struct sl_stats st;
	uint64_t sent = 0, evicted = 0;

	(void)state;
	assert_int_equal(sl_engine_create(c[0], &o, &s.e, &d), 0);
	for (unsigned i = 0; i < READERS; i++) {
		rd[i] = (struct reader){&s, i};
		pthread_create(&th[i], NULL, read_loop, &rd[i]);
	}
	for (unsigned k = 1; k <= RELOADS; k++) {
		struct sl_reload_summary sum;

		atomic_fetch_add(&s.clock, 3000000);	/* 3 ms per reload */
		assert_int_equal(sl_engine_reload(s.e, c[k & 1], &sum, &d), 0);
		assert_int_equal(sum.generation, k + 1);
		if (k % 16 == 0)
			evicted += sl_engine_maintain(s.e, atomic_load(&s.clock), 0);
		if (k % 64 == 0) {
			assert_int_equal(sl_engine_stats(s.e, &st), 0);
			sl_stats_free(&st);
		}
	}
	atomic_store(&s.stop, true);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(sl_engine_stats(s.e, &st), 0);
	for (unsigned i = 0; i < READERS; i++)
		sent += s.sent[i];
	assert_int_equal(st.total.packets, sent);
	assert_true(sent > 0);
	for (unsigned t = 0; t < st.nb_tenants; t++)
		assert_int_equal(st.t[t].c.packets,
				 st.t[t].c.conform_packets + st.t[t].c.exceed_packets);
	assert_int_equal(st.generation, RELOADS + 1);
	printf("# %llu frames policed by %u readers across %u reloads, %llu keys evicted\n",
	       (unsigned long long)sent, READERS, RELOADS, (unsigned long long)evicted);
	sl_stats_free(&st);
	sl_engine_free(s.e);
	sl_config_free(c[0]);
	sl_config_free(c[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(swaps_under_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
