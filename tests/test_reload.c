/* test_reload.c - policy snapshots: compile, diff and carry-over of state across reloads
 * (tokens, keys, counters), refused reloads, runtime profile edits. */
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
	struct sl_engine_opts o = {.hz = NS, .nb_lcores = 1, .max_keys = 1024};
	struct sl_config *c = cfg_of(yaml);
	struct sl_engine *e = NULL;
	struct sl_diag d = {0};

	assert_int_equal(sl_engine_create(c, &o, &e, &d), 0);
	sl_config_free(c);
	return e;
}

static int reload(struct sl_engine *e, const char *yaml, struct sl_reload_summary *s)
{
	struct sl_config *c = cfg_of(yaml);
	struct sl_diag d = {0};
	int r = sl_engine_reload(e, c, s, &d);

	sl_config_free(c);
	sl_diag_free(&d);
	return r;
}

/* n frames of len bytes from src in vlan at now; returns how many were forwarded */
static unsigned send(struct sl_engine *e, uint16_t vlan, uint32_t src, unsigned n, uint32_t len,
		     uint64_t now)
{
	static uint8_t buf[SL_BURST_MAX][PB_MAX];
	uint8_t *data[SL_BURST_MAX], verdict[SL_BURST_MAX];
	uint32_t caplen[SL_BURST_MAX], plen[SL_BURST_MAX];
	struct pb f;
	uint32_t l3;

	pb_init(&f);
	pb_macs(&f);
	pb_tag(&f, 0x8100, vlan);
	pb_u16(&f, 0x0800);
	l3 = pb_ipv4(&f, 0, 0, 17, src, 0xc0000201, 0);
	pb_udp(&f, 1000, 53, (uint16_t)(len - 46));
	pb_ipv4_fin(&f, l3, 0);
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf[i], f.b, f.len);
		data[i] = buf[i];
		caplen[i] = plen[i] = f.len;
	}
	return sl_process(sl_engine_lcore(e, 0), 0, data, caplen, plen, n, now, verdict);
}

static const struct sl_tenant_stats *tenant(const struct sl_stats *s, const char *name)
{
	for (unsigned i = 0; i < s->nb_tenants; i++)
		if (!strcmp(s->t[i].name, name))
			return &s->t[i];
	fail_msg("no tenant %s", name);
	return NULL;
}

#define HEAD "sluice: 1\nprofiles:\n"
#define P_SHARED(name, rate, burst) \
	"  " name ":\n    mode: shared\n    rate: " rate "\n    burst: " burst "\n    exceed: drop\n"
#define P_DED(name, rate, burst) \
	"  " name ":\n    mode: dedicated\n    rate: " rate "\n    burst: " burst "\n    exceed: drop\n"
#define TENANT(name, prof, vlan) \
	"  - name: " name "\n    profile: " prof "\n    match: { vlan: " vlan " }\n"

static const char *base =
	HEAD P_SHARED("p", "800kbit", "3000B") "tenants:\n" TENANT("a", "p", "1");

static void unchanged_tenant_keeps_tokens_and_counts(void **state)
{
	struct sl_engine *e = engine_of(base);
	struct sl_reload_summary s;
	struct sl_stats st;

	(void)state;
	assert_int_equal(send(e, 1, 1, 4, 1000, 0), 3);		/* empties the bucket */
	/* a reload that adds a tenant and a profile: a keeps its (empty) bucket */
	assert_int_equal(reload(e, HEAD P_SHARED("q", "1mbit", "1500B") P_SHARED("p", "800kbit", "3000B")
				   "tenants:\n" TENANT("b", "q", "2") TENANT("a", "p", "1"), &s), 0);
	assert_int_equal(s.generation, 2);
	assert_int_equal(s.tenants_added, 1);
	assert_int_equal(s.tenants_changed, 0);
	assert_int_equal(s.tenants_removed, 0);
	assert_int_equal(s.profiles_added, 1);
	assert_int_equal(s.profiles_changed, 0);
	assert_int_equal(s.states_reset, 0);
	assert_int_equal(send(e, 1, 1, 1, 1000, 0), 0);		/* no free burst */
	assert_int_equal(send(e, 1, 1, 1, 1000, 10000000), 1);	/* 10 ms refill = 1000 B */
	assert_int_equal(send(e, 2, 1, 2, 1000, 10000000), 1);	/* b starts full: 1500 B */
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(st.generation, 2);
	assert_int_equal(tenant(&st, "a")->c.packets, 6);	/* counters carried over */
	assert_int_equal(tenant(&st, "a")->c.conform_packets, 4);
	assert_int_equal(tenant(&st, "b")->c.packets, 2);
	sl_stats_free(&st);
	sl_engine_free(e);
}

static void changed_rate_keeps_tokens_capped(void **state)
{
	struct sl_engine *e = engine_of(base);
	struct sl_reload_summary s;

	(void)state;
	assert_int_equal(send(e, 1, 1, 3, 1000, 0), 3);
	/* rate doubled: the empty bucket stays empty, then refills at 200 kB/s */
	assert_int_equal(reload(e, HEAD P_SHARED("p", "1600kbit", "3000B") "tenants:\n"
				   TENANT("a", "p", "1"), &s), 0);
	assert_int_equal(s.profiles_changed, 1);
	assert_int_equal(send(e, 1, 1, 1, 1000, 0), 0);
	assert_int_equal(send(e, 1, 1, 2, 1000, 5000000), 1);	/* 5 ms = 1000 B */
	/* long idle: full at 3000 B; burst cut to 1500 B: tokens capped at 1500 */
	assert_int_equal(reload(e, HEAD P_SHARED("p", "1600kbit", "1500B") "tenants:\n"
				   TENANT("a", "p", "1"), &s), 0);
	assert_int_equal(send(e, 1, 1, 3, 500, NS), 3);
	assert_int_equal(send(e, 1, 1, 1, 500, NS), 0);
	/* burst grown 1000x: another scale, the tokens (0) are carried over rescaled */
	assert_int_equal(reload(e, HEAD P_SHARED("p", "1600kbit", "1500KB") "tenants:\n"
				   TENANT("a", "p", "1"), &s), 0);
	assert_int_equal(s.states_reset, 0);
	assert_int_equal(send(e, 1, 1, 1, 500, NS), 0);
	assert_int_equal(send(e, 1, 1, 2, 1000, NS + 5000000), 1);
	sl_engine_free(e);
}

static void dedicated_keys_survive_reload(void **state)
{
	const char *ded = HEAD P_DED("d", "800kbit", "3000B") "tenants:\n" TENANT("k", "d", "5");
	struct sl_engine *e = engine_of(ded);
	struct sl_reload_summary s;
	struct sl_stats st;

	(void)state;
	for (uint32_t src = 1; src <= 5; src++)
		assert_int_equal(send(e, 5, src, 3, 1000, 0), 3);
	assert_int_equal(reload(e, HEAD P_DED("d", "800kbit", "6000B") "tenants:\n"
				   TENANT("k", "d", "5") TENANT("other", "d", "6"), &s), 0);
	assert_int_equal(s.states_reset, 0);
	for (uint32_t src = 1; src <= 5; src++)
		assert_int_equal(send(e, 5, src, 1, 1000, 0), 0);	/* still empty */
	/* the same sources in another tenant are other keys: full */
	assert_int_equal(send(e, 6, 1, 1, 1000, 0), 1);
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(tenant(&st, "k")->keys, 5);
	assert_int_equal(tenant(&st, "other")->keys, 1);
	sl_stats_free(&st);
	/* key kind changed: the old table cannot serve, keys restart full */
	assert_int_equal(reload(e, HEAD "  d:\n    mode: dedicated\n    key: dst-ip\n    rate: 800kbit\n"
				   "    burst: 3000B\n    exceed: drop\ntenants:\n" TENANT("k", "d", "5"), &s), 0);
	assert_int_equal(s.states_reset, 1);
	assert_int_equal(s.tenants_removed, 1);
	assert_int_equal(send(e, 5, 1, 4, 1000, 0), 3);
	sl_engine_free(e);
}

static void removed_then_readded_starts_fresh(void **state)
{
	struct sl_engine *e = engine_of(base);
	struct sl_reload_summary s;
	struct sl_stats st;

	(void)state;
	assert_int_equal(send(e, 1, 1, 3, 1000, 0), 3);
	assert_int_equal(reload(e, HEAD P_SHARED("p", "800kbit", "3000B") "tenants: []\n", &s), 0);
	assert_int_equal(s.tenants_removed, 1);
	assert_int_equal(send(e, 1, 1, 1, 1000, 0), 1);		/* unmatched: pass */
	assert_int_equal(reload(e, base, &s), 0);
	assert_int_equal(send(e, 1, 1, 4, 1000, 0), 3);		/* a new tenant: full */
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(tenant(&st, "a")->c.packets, 4);
	assert_int_equal(st.unmatched.packets, 1);
	assert_int_equal(st.total.packets, 8);
	sl_stats_free(&st);
	sl_engine_free(e);
}

static void refused_reload_keeps_policy(void **state)
{
	struct sl_engine *e = engine_of(base);
	struct sl_config *c = cfg_of(HEAD P_SHARED("p", "1bit", "1GB") "tenants:\n"
				       TENANT("a", "p", "1"));
	struct sl_diag d = {0};
	struct sl_stats st;

	(void)state;
	assert_int_equal(send(e, 1, 1, 3, 1000, 0), 3);
	/* 1 bit/s with a 1 GB burst cannot be kept exact: refused at compile time */
	assert_int_equal(sl_engine_reload(e, c, NULL, &d), -ERANGE);
	assert_true(d.n >= 1);
	assert_non_null(strstr(d.msg[0], "t.yaml:"));
	assert_non_null(strstr(d.msg[0], "profiles.p.rate"));
	assert_int_equal(send(e, 1, 1, 1, 1000, 0), 0);		/* the old policy enforces */
	sl_engine_reload_refused(e);				/* a file that did not parse */
	assert_int_equal(sl_engine_stats(e, &st), 0);
	assert_int_equal(st.generation, 1);
	assert_int_equal(st.reload_failures, 2);
	sl_stats_free(&st);
	sl_diag_free(&d);
	sl_config_free(c);
	sl_engine_free(e);
}

static void runtime_profile_edit_then_file_wins(void **state)
{
	struct sl_engine *e = engine_of(base);
	struct sl_reload_summary s;
	struct sl_diag d = {0};
	struct sl_config *c;

	(void)state;
	assert_int_equal(send(e, 1, 1, 3, 1000, 0), 3);
	assert_int_equal(sl_engine_set_profile(e, "p", "8mbit", NULL, &s, &d), 0);
	assert_int_equal(s.profiles_changed, 1);
	assert_int_equal(send(e, 1, 1, 2, 1000, 1000000), 1);	/* 1 ms at 1 MB/s */
	c = sl_engine_config(e);
	assert_int_equal(c->profiles[0].b[0].amount, 8000000);
	sl_config_free(c);
	assert_int_equal(sl_engine_set_profile(e, "nope", "8mbit", NULL, NULL, &d), -EINVAL);
	assert_int_equal(sl_engine_set_profile(e, "p", "10pps", NULL, NULL, &d), -EINVAL);
	assert_int_equal(sl_engine_set_profile(e, "p", "8mbps", NULL, NULL, &d), -EINVAL);
	assert_int_equal(d.n, 3);
	assert_int_equal(reload(e, base, &s), 0);		/* the file wins again */
	assert_int_equal(send(e, 1, 1, 1, 1000, 2000000), 0);	/* 1 ms at 100 kB/s */
	sl_diag_free(&d);
	sl_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unchanged_tenant_keeps_tokens_and_counts),
		cmocka_unit_test(changed_rate_keeps_tokens_capped),
		cmocka_unit_test(dedicated_keys_survive_reload),
		cmocka_unit_test(removed_then_readded_starts_fresh),
		cmocka_unit_test(refused_reload_keeps_policy),
		cmocka_unit_test(runtime_profile_edit_then_file_wins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
