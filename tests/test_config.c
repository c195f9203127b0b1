/* test_config.c - the policy file: the documented example and the shipped config parse to exact
 * structs; every file of bad/ is refused with its expected message, every file of good/ loads;
 * hostile inputs (truncations, mutations, alias bombs) neither crash nor leak. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "sl_config.h"

#define NS 1000000000ull

/* Parse text, expecting success and no message. */
static struct sl_config *parse_ok(const char *text)
{
	struct sl_diag d = {0};
	struct sl_config *c = NULL;
	int rc = sl_config_parse("t.yaml", text, strlen(text), &c, &d);

	if (rc || d.n) {
		sl_diag_print(&d, stderr);
		fail_msg("rc %d, %u messages", rc, d.n);
	}
	assert_non_null(c);
	sl_diag_free(&d);
	return c;
}

/* Parse text, expecting -EINVAL with exactly `count` messages, one containing `want`. */
static void parse_bad(const char *text, unsigned count, const char *want)
{
	struct sl_diag d = {0};
	struct sl_config *c = (struct sl_config *)&d;
	int rc = sl_config_parse("t.yaml", text, strlen(text), &c, &d), found = 0;

	for (unsigned i = 0; i < d.n; i++)
		found |= strstr(d.msg[i], want) != NULL;
	if (rc != -EINVAL || c || d.n != count || !found) {
		sl_diag_print(&d, stderr);
		fail_msg("rc %d, %u messages (want %u) with '%s'", rc, d.n, count, want);
	}
	sl_diag_free(&d);
}

static void assert_bucket(const struct sl_cfg_bucket *b, uint64_t amount, uint64_t per_ns,
			  uint64_t burst)
{
	assert_int_equal(b->amount, amount);
	assert_int_equal(b->per_ns, per_ns);
	assert_int_equal(b->burst, burst);
}

static void assert_addr(const uint8_t *a, int family, const char *text)
{
	uint8_t want[16] = {0};

	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, text, want), 1);
	assert_memory_equal(a, want, 16);
}

static const char brief_example[] =
	"sluice: 1                 # schema version\n"
	"unmatched: pass\n"
	"profiles:\n"
	"  free-tier:\n"
	"    mode: shared\n"
	"    rate: 8mbit\n"
	"    burst: 20000B\n"
	"    limits:\n"
	"      - { limit: 5MB, per: 1m }\n"
	"    exceed: mark\n"
	"    dscp: 10\n"
	"  pro-tier:\n"
	"    mode: dedicated\n"
	"    key: src-ip\n"
	"    rate: 800kbit\n"
	"    burst: 3000B\n"
	"    exceed: drop\n"
	"    idle: 60s\n"
	"    max-keys: 1000000\n"
	"    when-full: shared\n"
	"tenants:\n"
	"  - name: acme\n"
	"    profile: pro-tier\n"
	"    match: { vlan: 100 }\n"
	"  - name: free\n"
	"    profile: free-tier\n"
	"    match: { src: 10.1.0.0/16, proto: udp }\n";

static void example_exact(void **state)
{
	struct sl_config *c = parse_ok(brief_example);
	const struct sl_cfg_profile *p;
	const struct sl_cfg_tenant *t;

	(void)state;
	assert_string_equal(c->path, "t.yaml");
	assert_int_equal(c->unmatched, SL_ACT_PASS);
	assert_int_equal(c->nb_profiles, 2);
	assert_int_equal(c->nb_tenants, 2);

	p = &c->profiles[0];
	assert_string_equal(p->name, "free-tier");
	assert_int_equal(p->line, 4);
	assert_int_equal(p->mode, SL_MODE_SHARED);
	assert_int_equal(p->unit, SL_UNIT_BITS);
	assert_int_equal(p->exceed, SL_ACT_MARK);
	assert_int_equal(p->dscp, 10);
	assert_int_equal(p->nb_buckets, 2);
	assert_bucket(&p->b[0], 8000000, NS, 160000);
	assert_bucket(&p->b[1], 40000000, 60 * NS, 40000000);
	assert_int_equal(p->key, SL_KEY_SRC_IP);
	assert_int_equal(p->idle_ns, 0);		/* shared: no keys to evict */
	assert_int_equal(p->max_keys, 0);
	assert_int_equal(p->when_full, SL_FULL_SHARED);
	assert_int_equal(p->max_flows | p->flow_idle_ns | p->max_queue, 0);

	p = &c->profiles[1];
	assert_string_equal(p->name, "pro-tier");
	assert_int_equal(p->line, 12);
	assert_int_equal(p->mode, SL_MODE_DEDICATED);
	assert_int_equal(p->key, SL_KEY_SRC_IP);
	assert_int_equal(p->unit, SL_UNIT_BITS);
	assert_int_equal(p->exceed, SL_ACT_DROP);
	assert_int_equal(p->dscp, 0);
	assert_int_equal(p->nb_buckets, 1);
	assert_bucket(&p->b[0], 800000, NS, 24000);
	assert_int_equal(p->idle_ns, 60 * NS);
	assert_int_equal(p->max_keys, 1000000);
	assert_int_equal(p->when_full, SL_FULL_SHARED);

	t = &c->tenants[0];
	assert_string_equal(t->name, "acme");
	assert_int_equal(t->line, 22);
	assert_int_equal(t->profile, 1);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->fields, SL_M_VLAN);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->vlan, 100);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->family, 0);

	t = &c->tenants[1];
	assert_string_equal(t->name, "free");
	assert_int_equal(t->line, 25);
	assert_int_equal(t->profile, 0);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->fields, SL_M_SRC | SL_M_PROTO);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->family, 4);
	assert_addr(sl_cfg_tenant_match(c, t, 0)->src, 4, "10.1.0.0");
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->src_len, 16);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->proto, 17);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->dst_len, 0);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->sport_lo | sl_cfg_tenant_match(c, t, 0)->sport_hi | sl_cfg_tenant_match(c, t, 0)->dport_lo | sl_cfg_tenant_match(c, t, 0)->dport_hi, 0);

	assert_int_equal(sl_config_profile_index(c, "pro-tier"), 1);
	assert_int_equal(sl_config_profile_index(c, "free-tier"), 0);
	assert_int_equal(sl_config_profile_index(c, "gold"), -1);
	assert_int_equal(sl_config_tenant_index(c, "free"), 1);
	assert_int_equal(sl_config_tenant_index(c, "acme"), 0);
	assert_int_equal(sl_config_tenant_index(c, "ACME"), -1);
	sl_config_free(c);
}

/* config/sluice.yaml, the commented demo the appliance ships with */
static void shipped_config(void **state)
{
	struct sl_diag d = {0};
	struct sl_config *c = NULL;
	const struct sl_cfg_profile *p;
	const struct sl_cfg_tenant *t;
	int rc = sl_config_load("../config/sluice.yaml", &c, &d);

	(void)state;
	sl_diag_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->path, "../config/sluice.yaml");
	assert_int_equal(c->unmatched, SL_ACT_PASS);
	assert_int_equal(c->nb_profiles, 5);
	assert_int_equal(c->nb_tenants, 5);

	p = &c->profiles[sl_config_profile_index(c, "free-tier")];
	assert_int_equal(p->mode, SL_MODE_SHARED);
	assert_int_equal(p->unit, SL_UNIT_BITS);
	assert_int_equal(p->exceed, SL_ACT_MARK);
	assert_int_equal(p->dscp, 10);
	assert_int_equal(p->nb_buckets, 2);
	assert_bucket(&p->b[0], 8000000, NS, 160000);
	assert_bucket(&p->b[1], 40000000, 60 * NS, 40000000);

	p = &c->profiles[sl_config_profile_index(c, "pro-tier")];
	assert_int_equal(p->mode, SL_MODE_DEDICATED);
	assert_int_equal(p->key, SL_KEY_SRC_IP);
	assert_int_equal(p->exceed, SL_ACT_DROP);
	assert_int_equal(p->nb_buckets, 1);
	assert_bucket(&p->b[0], 800000, NS, 24000);
	assert_int_equal(p->idle_ns, 60 * NS);
	assert_int_equal(p->max_keys, 1000000);
	assert_int_equal(p->when_full, SL_FULL_SHARED);
	assert_int_equal(p->max_flows, 10000);
	assert_int_equal(p->flow_idle_ns, 30 * NS);
	assert_int_equal(p->max_queue, 4096);

	p = &c->profiles[sl_config_profile_index(c, "lab-flows")];
	assert_int_equal(p->mode, SL_MODE_DEDICATED);
	assert_int_equal(p->key, SL_KEY_5TUPLE);
	assert_bucket(&p->b[0], 1500000, NS, 16384 * 8);
	assert_int_equal(p->exceed, SL_ACT_DROP);
	assert_int_equal(p->idle_ns, 30 * NS);
	assert_int_equal(p->max_keys, 65536);
	assert_int_equal(p->when_full, SL_FULL_DROP);

	p = &c->profiles[sl_config_profile_index(c, "web-pps")];
	assert_int_equal(p->mode, SL_MODE_SHARED);
	assert_int_equal(p->unit, SL_UNIT_PACKETS);
	assert_int_equal(p->nb_buckets, 3);
	assert_bucket(&p->b[0], 2000, NS, 100);
	assert_bucket(&p->b[1], 60000, 60 * NS, 60000);
	assert_bucket(&p->b[2], 1000000, 3600 * NS, 1000000);
	assert_int_equal(p->exceed, SL_ACT_DROP);

	p = &c->profiles[sl_config_profile_index(c, "watch")];
	assert_bucket(&p->b[0], 500000, NS, 12000);
	assert_int_equal(p->exceed, SL_ACT_PASS);
	for (unsigned i = 0; i < c->nb_profiles; i++)	/* only pro-tier limits flows */
		if (strcmp(c->profiles[i].name, "pro-tier"))
			assert_int_equal(c->profiles[i].max_flows | c->profiles[i].flow_idle_ns |
					 c->profiles[i].max_queue, 0);

	/* the tenants the demo traffic generator aims at, in match order */
	t = &c->tenants[0];
	assert_string_equal(t->name, "acme");
	assert_int_equal(t->profile, sl_config_profile_index(c, "pro-tier"));
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->fields, SL_M_VLAN);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->vlan, 100);

	t = &c->tenants[1];
	assert_string_equal(t->name, "free");
	assert_int_equal(t->profile, sl_config_profile_index(c, "free-tier"));
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->fields, SL_M_SRC | SL_M_PROTO);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->family, 4);
	assert_addr(sl_cfg_tenant_match(c, t, 0)->src, 4, "10.1.0.0");
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->src_len, 16);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->proto, 17);

	t = &c->tenants[2];
	assert_string_equal(t->name, "lab6");
	assert_int_equal(t->profile, sl_config_profile_index(c, "lab-flows"));
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->fields, SL_M_SRC);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->family, 6);
	assert_addr(sl_cfg_tenant_match(c, t, 0)->src, 6, "2001:db8:100::");
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->src_len, 48);

	t = &c->tenants[3];
	assert_string_equal(t->name, "web");
	assert_int_equal(t->profile, sl_config_profile_index(c, "web-pps"));
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->fields, SL_M_SRC | SL_M_PROTO | SL_M_DPORT);
	assert_addr(sl_cfg_tenant_match(c, t, 0)->src, 4, "10.2.0.0");
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->src_len, 16);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->proto, 6);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->dport_lo, 443);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->dport_hi, 443);

	t = &c->tenants[4];
	assert_string_equal(t->name, "dns-watch");
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->fields, SL_M_DST | SL_M_PROTO | SL_M_SPORT | SL_M_DPORT);
	assert_addr(sl_cfg_tenant_match(c, t, 0)->dst, 4, "192.0.2.53");
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->dst_len, 32);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->sport_lo, 1024);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->sport_hi, 65535);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->dport_lo, 53);
	assert_int_equal(sl_cfg_tenant_match(c, t, 0)->dport_hi, 53);
	sl_config_free(c);
}

static void match_semantics(void **state)
{
	struct sl_config *c = parse_ok(
		"sluice: 1\n"
		"profiles: {p: {mode: shared, rate: 1kpps, burst: 10pkt, exceed: drop}}\n"
		"tenants:\n"
		"  - {name: icmp4, profile: p, match: {proto: icmp, src: 10.0.0.0/8}}\n"
		"  - {name: icmp6, profile: p, match: {proto: icmp, dst: \"2001:db8::/32\"}}\n"
		"  - {name: icmp-any, profile: p, match: {proto: icmp}}\n"
		"  - {name: num58, profile: p, match: {proto: 58, src: 10.0.0.0/8}}\n"
		"  - {name: ports, profile: p, match: {src-port: 1024-65535, dst-port: 53}}\n");
	const struct sl_cfg_match *m;

	(void)state;
	m = sl_cfg_tenant_match(c, &c->tenants[0], 0);
	assert_int_equal(m->proto, 1);
	assert_int_equal(m->family, 4);
	assert_int_equal(m->src_len, 8);
	m = sl_cfg_tenant_match(c, &c->tenants[1], 0);
	assert_int_equal(m->proto, 58);			/* ICMPv6 with IPv6 addresses */
	assert_int_equal(m->family, 6);
	assert_int_equal(m->fields, SL_M_DST | SL_M_PROTO);
	assert_addr(m->dst, 6, "2001:db8::");
	assert_int_equal(m->dst_len, 32);
	m = sl_cfg_tenant_match(c, &c->tenants[2], 0);
	assert_int_equal(m->proto, 1);			/* family unknown: ICMPv4 */
	assert_int_equal(m->family, 0);
	assert_int_equal(sl_cfg_tenant_match(c, &c->tenants[3], 0)->proto, 58);	/* numbers are taken as written */
	m = sl_cfg_tenant_match(c, &c->tenants[4], 0);
	assert_int_equal(m->fields, SL_M_SPORT | SL_M_DPORT);
	assert_int_equal(m->sport_lo, 1024);
	assert_int_equal(m->sport_hi, 65535);
	assert_int_equal(m->dport_lo, 53);
	assert_int_equal(m->dport_hi, 53);
	assert_int_equal(m->proto, 0);	/* no proto: the ports match TCP and UDP packets */
	sl_config_free(c);
}

static void match_hosts_and_defaults(void **state)
{
	struct sl_config *c = parse_ok(
		"sluice: 1\n"
		"profiles: {p: {mode: shared, rate: 1kpps, burst: 10pkt, exceed: drop}}\n"
		"tenants:\n"
		"  - {name: h4, profile: p, match: {src: 10.9.8.7, dst: 0.0.0.0/0}}\n"
		"  - {name: h6, profile: p, match: {src: \"2001:db8::1\", dst: \"::/0\"}}\n"
		"  - {name: empty, profile: p, match: {}}\n"
		"  - {name: none, profile: p}\n"
		"  - {name: p31, profile: p, match: {dst: 10.255.255.254/31, vlan: 0}}\n");
	const struct sl_cfg_match *m;
	uint8_t zero[16] = {0};

	(void)state;
	m = sl_cfg_tenant_match(c, &c->tenants[0], 0);
	assert_int_equal(m->fields, SL_M_SRC | SL_M_DST);
	assert_int_equal(m->family, 4);
	assert_addr(m->src, 4, "10.9.8.7");
	assert_int_equal(m->src_len, 32);
	assert_memory_equal(m->dst, zero, 16);
	assert_int_equal(m->dst_len, 0);
	m = sl_cfg_tenant_match(c, &c->tenants[1], 0);
	assert_int_equal(m->family, 6);
	assert_addr(m->src, 6, "2001:db8::1");
	assert_int_equal(m->src_len, 128);
	assert_int_equal(m->dst_len, 0);
	assert_int_equal(sl_cfg_tenant_match(c, &c->tenants[2], 0)->fields, 0);
	assert_int_equal(sl_cfg_tenant_match(c, &c->tenants[3], 0)->fields, 0);
	m = sl_cfg_tenant_match(c, &c->tenants[4], 0);
	assert_int_equal(m->fields, SL_M_DST | SL_M_VLAN);
	assert_addr(m->dst, 4, "10.255.255.254");
	assert_int_equal(m->dst_len, 31);
	assert_int_equal(m->vlan, 0);
	sl_config_free(c);
}

static void profile_defaults(void **state)
{
	struct sl_config *c = parse_ok(
		"sluice: 1\n"
		"unmatched: drop\n"
		"profiles:\n"
		"  d: {mode: dedicated, rate: 0.5pps, burst: 1pkt, exceed: pass}\n"
		"  k: {mode: dedicated, key: dst-ip, rate: 1.5kbit, burst: 1.5KB, exceed: mark,\n"
		"      dscp: 0, idle: 1d, max-keys: 67108864, when-full: drop}\n"
		"  f: {mode: dedicated, key: 5-tuple, rate: 1gbit, burst: 1MiB, exceed: drop,\n"
		"      when-full: pass, limits: [{limit: 1GiB, per: 1h}, {limit: 10GB, per: 1d},\n"
		"      {limit: 100MB, per: 13d}]}\n");
	const struct sl_cfg_profile *p;

	(void)state;
	assert_int_equal(c->unmatched, SL_ACT_DROP);
	assert_int_equal(c->nb_tenants, 0);
	assert_null(c->tenants);
	p = &c->profiles[0];
	assert_int_equal(p->key, SL_KEY_SRC_IP);
	assert_int_equal(p->idle_ns, 60 * NS);
	assert_int_equal(p->max_keys, 0);
	assert_int_equal(p->when_full, SL_FULL_SHARED);
	assert_int_equal(p->unit, SL_UNIT_PACKETS);
	assert_int_equal(p->exceed, SL_ACT_PASS);
	assert_bucket(&p->b[0], 5, 10 * NS, 1);
	p = &c->profiles[1];
	assert_int_equal(p->key, SL_KEY_DST_IP);
	assert_int_equal(p->exceed, SL_ACT_MARK);
	assert_int_equal(p->dscp, 0);
	assert_int_equal(p->idle_ns, 86400 * NS);
	assert_int_equal(p->max_keys, 1ull << 26);
	assert_int_equal(p->when_full, SL_FULL_DROP);
	assert_bucket(&p->b[0], 1500, NS, 12000);
	p = &c->profiles[2];
	assert_int_equal(p->key, SL_KEY_5TUPLE);
	assert_int_equal(p->when_full, SL_FULL_PASS);
	assert_int_equal(p->nb_buckets, 4);
	assert_bucket(&p->b[0], 1000000000, NS, 8ull << 20);
	assert_bucket(&p->b[1], 8ull << 30, 3600 * NS, 8ull << 30);
	assert_bucket(&p->b[2], 80000000000ull, 86400 * NS, 80000000000ull);
	assert_bucket(&p->b[3], 800000000, 13 * 86400 * NS, 800000000);
	sl_config_free(c);
}

/* fair: flows by default on a shared shaped profile only; none where given or elsewhere */
static void fair_defaults(void **state)
{
	struct sl_config *c = parse_ok(
		"sluice: 1\n"
		"profiles:\n"
		"  s: {mode: shared, rate: 1mbit, burst: 2KB, exceed: shape}\n"
		"  n: {mode: shared, rate: 1mbit, burst: 2KB, exceed: shape, fair: none}\n"
		"  f: {mode: shared, rate: 1mbit, burst: 2KB, exceed: shape, fair: flows}\n"
		"  d: {mode: dedicated, rate: 1mbit, burst: 2KB, exceed: shape}\n"
		"  e: {mode: dedicated, rate: 1mbit, burst: 2KB, exceed: shape, fair: none}\n"
		"  p: {mode: shared, rate: 1mbit, burst: 2KB, exceed: drop}\n");
	static const enum sl_fair_mode want[] = {SL_FAIR_FLOWS, SL_FAIR_NONE, SL_FAIR_FLOWS,
						 SL_FAIR_NONE, SL_FAIR_NONE, SL_FAIR_NONE};

	(void)state;
	assert_int_equal(c->nb_profiles, 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(c->profiles[i].fair, want[i]);
	assert_string_equal(sl_fair_name(SL_FAIR_FLOWS), "flows");
	sl_config_free(c);
}

/* max-flows, flow-idle and max-queue: both modes, defaults, bounds, flow-idle needs max-flows */
static void flow_fields(void **state)
{
	struct sl_config *c = parse_ok(
		"sluice: 1\n"
		"profiles:\n"
		"  s: {mode: shared, rate: 1mbit, burst: 2KB, exceed: drop, max-flows: 4294967296,\n"
		"      flow-idle: 2m, max-queue: 1}\n"
		"  d: {mode: dedicated, key: dst-ip, rate: 1mbit, burst: 2KB, exceed: drop,\n"
		"      max-flows: 1}\n"
		"  q: {mode: dedicated, rate: 1mbit, burst: 2KB, exceed: drop, max-queue: 4294967296}\n"
		"  n: {mode: shared, rate: 1mbit, burst: 2KB, exceed: drop}\n");
	const struct sl_cfg_profile *p = c->profiles;

	(void)state;
	assert_int_equal(p[0].max_flows, 1ull << 32);
	assert_int_equal(p[0].flow_idle_ns, 120 * NS);
	assert_int_equal(p[0].max_queue, 1);
	assert_int_equal(p[0].idle_ns, 0);		/* still no key fields in shared mode */
	assert_int_equal(p[1].max_flows, 1);
	assert_int_equal(p[1].flow_idle_ns, 30 * NS);	/* the default with max-flows */
	assert_int_equal(p[1].max_queue, 0);
	assert_int_equal(p[1].key, SL_KEY_DST_IP);
	assert_int_equal(p[2].max_flows, 0);
	assert_int_equal(p[2].flow_idle_ns, 0);		/* no max-flows: no flow-idle either */
	assert_int_equal(p[2].max_queue, 1ull << 32);
	assert_int_equal(p[3].max_flows | p[3].flow_idle_ns | p[3].max_queue, 0);
	sl_config_free(c);

	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: drop, "
		  "max-flows: 4294967297}}\n", 1, "t.yaml:2: profiles.p.max-flows: 4294967297 is "
		  "out of range: expected a whole number 1..4294967296");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: drop, "
		  "max-flows: 01}}\n", 1, "profiles.p.max-flows: expected a whole number "
		  "1..4294967296 (decimal, no sign or leading zero), got '01'");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: drop, "
		  "flow-idle: 30s}}\n", 1, "t.yaml:2: profiles.p.flow-idle: only allowed with "
		  "max-flows");
	/* a bad max-flows is reported once; its flow-idle is still checked */
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: drop, "
		  "max-flows: x, flow-idle: 1.5m}}\n", 2, "profiles.p.flow-idle: bad duration "
		  "'1.5m': durations are whole numbers");
	parse_bad("sluice: 1\nprofiles: {p: {mode: dedicated, rate: 1mbit, burst: 1B, "
		  "exceed: drop, max-queue: 0}}\n", 1, "profiles.p.max-queue: 0 is out of range");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: drop, "
		  "max-flow: 3}}\n", 1, "profiles.p.max-flow: unknown field 'max-flow' (did you "
		  "mean 'max-flows'?)");
}

static void names_and_enums(void **state)
{
	char name63[64], text[256];
	struct sl_config *c;

	(void)state;
	memset(name63, 'a', 63);
	name63[63] = 0;
	snprintf(text, sizeof(text), "sluice: 1\ntenants: []\nprofiles:\n  %s: {mode: shared, "
		 "rate: 1bit, burst: 1B, exceed: drop}\n", name63);
	c = parse_ok(text);
	assert_string_equal(c->profiles[0].name, name63);
	sl_config_free(c);
	snprintf(text, sizeof(text), "sluice: 1\nprofiles:\n  %sa: {mode: shared, "
		 "rate: 1bit, burst: 1B, exceed: drop}\n", name63);
	parse_bad(text, 1, "t.yaml:3: profiles."
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: "
		  "bad name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': use 1..63 "
		  "characters");
	parse_bad("sluice: 1\nprofiles: {\"\": {mode: shared, rate: 1bit, burst: 1B, exceed: "
		  "drop}}\n", 1, "bad name ''");
	parse_bad("sluice: 1\ntenants: [{name: \"\\u00e9t\\u00e9\", profile: p}]\n", 2,
		  "tenants[0].name: bad name '\?\?t\?\?'");

	assert_string_equal(sl_mode_name(SL_MODE_SHARED), "shared");
	assert_string_equal(sl_mode_name(SL_MODE_DEDICATED), "dedicated");
	assert_string_equal(sl_mode_name(SL_MODE_COUNT), "?");
	assert_string_equal(sl_keykind_name(SL_KEY_SRC_IP), "src-ip");
	assert_string_equal(sl_keykind_name(SL_KEY_DST_IP), "dst-ip");
	assert_string_equal(sl_keykind_name(SL_KEY_5TUPLE), "5-tuple");
	assert_string_equal(sl_keykind_name(SL_KEY_COUNT), "?");
	assert_string_equal(sl_action_name(SL_ACT_DROP), "drop");
	assert_string_equal(sl_action_name(SL_ACT_MARK), "mark");
	assert_string_equal(sl_action_name(SL_ACT_PASS), "pass");
	assert_string_equal(sl_action_name((enum sl_action)-1), "?");
	assert_string_equal(sl_when_full_name(SL_FULL_SHARED), "shared");
	assert_string_equal(sl_when_full_name(SL_FULL_PASS), "pass");
	assert_string_equal(sl_when_full_name(SL_FULL_DROP), "drop");
	assert_string_equal(sl_when_full_name(SL_FULL_COUNT), "?");
}

/* Messages come in file order, whatever order the checks run in. */
static void messages_sorted_by_line(void **state)
{
	struct sl_diag d = {0};
	struct sl_config *c;
	const char *text =
		"tenants:\n"
		"  - {name: a, profile: nope}\n"
		"profiles:\n"
		"  p: {mode: shared, rate: 1bps, burst: 1B, exceed: drop}\n"
		"sluice: 1\n"
		"unmatched: x\n";

	(void)state;
	assert_int_equal(sl_config_parse("s.yaml", text, strlen(text), &c, &d), -EINVAL);
	assert_null(c);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.msg[0], "s.yaml:2: tenants[0].profile: unknown profile 'nope'; "
			    "defined: p");
	assert_non_null(strstr(d.msg[1], "s.yaml:4: profiles.p.rate: bad rate '1bps': ambiguous"));
	assert_string_equal(d.msg[2], "s.yaml:6: unmatched: expected one of: pass, drop; got 'x'");
	sl_diag_free(&d);
}

static void too_many_messages(void **state)
{
	size_t cap = 64 + 150 * 64, o;
	char *text = malloc(cap);
	struct sl_diag d = {0};
	struct sl_config *c;

	(void)state;
	o = (size_t)sprintf(text, "sluice: 1\ntenants:\n");
	for (int i = 0; i < 150; i++)
		o += (size_t)sprintf(text + o, "  - {name: t%d, profile: p%d}\n", i, i);
	assert_int_equal(sl_config_parse("m.yaml", text, o, &c, &d), -EINVAL);
	assert_int_equal(d.n, 101);
	assert_string_equal(d.msg[0], "m.yaml:3: tenants[0].profile: unknown profile 'p0'; "
			    "no profiles are defined");
	assert_string_equal(d.msg[99], "m.yaml:102: tenants[99].profile: unknown profile 'p99'; "
			    "no profiles are defined");
	assert_string_equal(d.msg[100], "m.yaml: 50 more problems not shown");
	sl_diag_free(&d);
	free(text);
}

static void load_errors(void **state)
{
	struct sl_diag d = {0};
	struct sl_config *c = (struct sl_config *)&d;

	(void)state;
	assert_int_equal(sl_config_load("no/such/file.yaml", &c, &d), -ENOENT);
	assert_null(c);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msg[0], "no/such/file.yaml: cannot open: No such file or directory");
	sl_diag_free(&d);
	assert_int_equal(sl_config_load("bad", &c, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msg[0], "bad: not a regular file");
	sl_diag_free(&d);
	/* the diag keeps earlier messages; a successful load adds none */
	sl_diag_add(&d, "x", 1, NULL, "before");
	assert_int_equal(sl_config_parse("ok", "sluice: 1", 9, &c, &d), 0);
	assert_int_equal(d.n, 1);
	sl_config_free(c);
	sl_diag_free(&d);
	sl_config_free(NULL);
}

/* a 65 MiB (sparse) file is refused before it is read */
static void load_too_large(void **state)
{
	char tmp[] = "/tmp/sluice-big-XXXXXX";
	struct sl_diag d = {0};
	struct sl_config *c = NULL;
	int fd = mkstemp(tmp);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65 << 20), 0);
	close(fd);
	assert_int_equal(sl_config_load(tmp, &c, &d), -EFBIG);
	unlink(tmp);
	assert_null(c);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msg[0], ": file too large (68157440 bytes; at most 67108864)"));
	sl_diag_free(&d);
}

/* ---- corpora ----------------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.yaml names of dir; returns the count. */
static unsigned list_yaml(const char *dir, char ***out)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	unsigned n = 0;

	if (!dp)
		fail_msg("cannot open %s/ (tests run from the tests/ source dir)", dir);
	while ((e = readdir(dp))) {
		size_t l = strlen(e->d_name);

		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(e->d_name);
	}
	closedir(dp);
	qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	return n;
}

/* Line 1 "# expect: TEXT", optional line 2 "# count: N" (-1 when absent). */
static void read_expect(const char *path, char *want, size_t sz, int *count)
{
	char line[1024];
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	want[0] = 0;
	*count = -1;
	if (fgets(line, sizeof(line), f) && !strncmp(line, "# expect: ", 10)) {
		line[strcspn(line, "\r\n")] = 0;
		snprintf(want, sz, "%s", line + 10);
	}
	if (fgets(line, sizeof(line), f) && !strncmp(line, "# count: ", 9))
		*count = atoi(line + 9);
	fclose(f);
}

static void bad_corpus(void **state)
{
	unsigned failures = 0, n;
	char **files;

	(void)state;
	n = list_yaml("bad", &files);
	assert_true(n >= 50);
	for (unsigned i = 0; i < n; i++) {
		struct sl_diag d = {0};
		struct sl_config *c = (struct sl_config *)&d;
		char path[512], want[1024];
		int count, rc, found = 0;

		snprintf(path, sizeof(path), "bad/%s", files[i]);
		read_expect(path, want, sizeof(want), &count);
		if (strncmp(want, files[i], strlen(files[i]))) {
			fprintf(stderr, "%s: line 1 must be '# expect: %s:LINE: ...'\n", path,
				files[i]);
			failures++;
		}
		rc = sl_config_load(path, &c, &d);
		for (unsigned j = 0; j < d.n; j++)
			found |= want[0] && strstr(d.msg[j], want) != NULL;
		if (rc != -EINVAL || c || !found || (count >= 0 && d.n != (unsigned)count)) {
			fprintf(stderr, "%s: rc %d, %u messages (want %d), expected '%s'; got:\n",
				path, rc, d.n, count, want);
			sl_diag_print(&d, stderr);
			failures++;
		}
		sl_diag_free(&d);
		free(files[i]);
	}
	free(files);
	assert_int_equal(failures, 0);
}

static void good_corpus(void **state)
{
	unsigned failures = 0, n;
	char **files;

	(void)state;
	n = list_yaml("good", &files);
	assert_true(n >= 10);
	for (unsigned i = 0; i < n; i++) {
		struct sl_diag d = {0};
		struct sl_config *c = NULL;
		char path[512];
		int rc;

		snprintf(path, sizeof(path), "good/%s", files[i]);
		rc = sl_config_load(path, &c, &d);
		if (rc || !c || d.n) {
			fprintf(stderr, "%s: rc %d:\n", path, rc);
			sl_diag_print(&d, stderr);
			failures++;
		}
		sl_config_free(c);
		sl_diag_free(&d);
		free(files[i]);
	}
	free(files);
	assert_int_equal(failures, 0);
}

/* A few of good/ checked field by field: anchors share bodies, quotes and CRLF change nothing. */
static struct sl_config *load_ok(const char *path)
{
	struct sl_diag d = {0};
	struct sl_config *c = NULL;

	assert_int_equal(sl_config_load(path, &c, &d), 0);
	sl_diag_free(&d);
	return c;
}

static void good_details(void **state)
{
	struct sl_config *c;

	(void)state;
	c = load_ok("good/anchors.yaml");
	assert_int_equal(c->nb_profiles, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(c->profiles[i].key, SL_KEY_5TUPLE);
		assert_int_equal(c->profiles[i].nb_buckets, 2);
		assert_bucket(&c->profiles[i].b[0], 5, 10 * NS, 3);
		assert_bucket(&c->profiles[i].b[1], 100, 3600 * NS, 100);
		assert_int_equal(c->tenants[i].profile, i);
		assert_int_equal(sl_cfg_tenant_match(c, &c->tenants[i], 0)->dport_lo, 22);
		assert_int_equal(sl_cfg_tenant_match(c, &c->tenants[i], 0)->src_len, 24);
	}
	assert_int_equal(c->profiles[1].line, 11);
	sl_config_free(c);

	c = load_ok("good/quoted.yaml");
	assert_string_equal(c->profiles[0].name, "gold.v2");
	assert_int_equal(c->profiles[0].dscp, 46);
	assert_int_equal(c->profiles[0].max_keys, 1ull << 26);
	assert_bucket(&c->profiles[0].b[0], 2500000000ull, NS, 65536 * 8);
	assert_string_equal(c->tenants[0].name, "x_y-z.1");
	assert_int_equal(sl_cfg_tenant_match(c, &c->tenants[0], 0)->sport_lo, 0);
	assert_int_equal(sl_cfg_tenant_match(c, &c->tenants[0], 0)->sport_hi, 65535);
	sl_config_free(c);

	c = load_ok("good/crlf.yaml");
	assert_bucket(&c->profiles[0].b[0], 8000000, NS, 160000);
	assert_string_equal(c->tenants[0].name, "crlf");
	assert_int_equal(c->tenants[0].line, 9);
	sl_config_free(c);

	c = load_ok("good/limits-max.yaml");
	assert_bucket(&c->profiles[0].b[0], 1125000000000000ull, NS, 1ull << 50);
	assert_bucket(&c->profiles[0].b[1], 8, NS, 8);
	assert_bucket(&c->profiles[0].b[2], 12288, 13 * 86400 * NS, 12288);
	assert_bucket(&c->profiles[0].b[3], 1ull << 50, 86400 * NS, 1ull << 50);
	assert_bucket(&c->profiles[1].b[0], 1, 1000000 * NS, 8);
	sl_config_free(c);
}

/* ---- hostile input ----------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 16);

	assert_non_null(f);
	*len = fread(buf, 1, (1 << 16) - 1, f);
	buf[*len] = 0;
	fclose(f);
	return buf;
}

/* Either a config and no message, or -EINVAL, no config and at least one message. */
static void parse_any(const char *text, size_t len)
{
	struct sl_diag d = {0};
	struct sl_config *c = NULL;
	int rc = sl_config_parse("h.yaml", text, len, &c, &d);

	if (rc == 0) {
		assert_non_null(c);
		assert_int_equal(d.n, 0);
	} else {
		assert_int_equal(rc, -EINVAL);
		assert_null(c);
		assert_true(d.n > 0);
	}
	sl_config_free(c);
	sl_diag_free(&d);
}

static void truncations(void **state)
{
	size_t len;
	char *text = slurp("../config/sluice.yaml", &len);
	char *cut = malloc(len + 1);

	(void)state;
	for (size_t l = 0; l <= len; l++) {
		memcpy(cut, text, l);
		cut[l] = 0;
		parse_any(cut, l);
	}
	free(cut);
	free(text);
}

static void mutations(void **state)
{
	static const char pool[] = ":-[]{}*&!|>'\"#\n\t ,.?%@`09azAZ/\\\x80\xff";
	size_t len;
	char *text = slurp("../config/sluice.yaml", &len);
	char *m = malloc(len + 8);
	uint64_t r = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		size_t l = len;

		memcpy(m, text, len);
		for (int k = 0; k < 1 + i % 4; k++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			size_t at = (size_t)(r >> 33) % l;
			char ch = pool[(r >> 20) % (sizeof(pool) - 1)];

			if ((r >> 8) % 3 == 0 && l > 1) {	/* delete */
				memmove(m + at, m + at + 1, l - at - 1);
				l--;
			} else if ((r >> 8) % 3 == 1 && l < len + 4) {	/* insert */
				memmove(m + at + 1, m + at, l - at);
				m[at] = ch;
				l++;
			} else {
				m[at] = ch;
			}
		}
		m[l] = 0;
		parse_any(m, l);
	}
	free(m);
	free(text);
}

static void alias_bombs(void **state)
{
	/* each level aliases the previous one 9 times: walking it all would be 9^9 nodes */
	static const char laughs[] =
		"sluice: 1\n"
		"x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		"x1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n"
		"x2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\n"
		"x3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\n"
		"x4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]\n"
		"x5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]\n"
		"x6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]\n"
		"x7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]\n"
		"x8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]\n"
		"tenants: *a8\n";
	size_t cap = 1 << 20, o;
	char *big = malloc(cap);

	(void)state;
	/* 9 unknown fields, then tenants: the 9 items of x8 are lists (the node of line 9) */
	parse_bad(laughs, 18, "t.yaml:9: tenants[8]: expected a mapping with name, profile and "
		  "match, got a list");
	/* a cycle */
	parse_bad("sluice: 1\nprofiles: &r {x: *r}\n", 5, "profiles.x.x: unknown field 'x'");
	/* the list of blocks is the tenants list: its block is the tenant, of unknown fields */
	parse_bad("sluice: 1\ntenants: &t [{name: a, profile: p, match: *t}]\n", 4,
		  "tenants[0].match[0].name: unknown field 'name'");
	/* 3000 profiles sharing one body of 2000 unknown fields: bounded work, 100 messages */
	o = (size_t)sprintf(big, "sluice: 1\nbody: &b {");
	for (int i = 0; i < 2000; i++)
		o += (size_t)sprintf(big + o, "f%d: 1, ", i);
	o += (size_t)sprintf(big + o, "}\nprofiles:\n");
	for (int i = 0; i < 3000; i++)
		o += (size_t)sprintf(big + o, "  p%d: *b\n", i);
	parse_bad(big, 101, "more problems not shown");
	/* at most 1,000,000 tenants */
	free(big);
	big = malloc(cap = 8 << 20);
	o = (size_t)sprintf(big, "sluice: 1\ntenants: [&a {name: x, profile: p}");
	for (int i = 0; i < 1000000; i++)
		o += (size_t)sprintf(big + o, ", *a");
	o += (size_t)sprintf(big + o, "]\n");
	assert_true(o < cap);
	parse_bad(big, 1, "t.yaml:2: tenants: too many tenants (1000001; at most 1000000)");
	/* a very long unknown key is shown truncated */
	o = (size_t)sprintf(big, "sluice: 1\n? ");
	memset(big + o, 'k', 100000);
	o += 100000;
	o += (size_t)sprintf(big + o, "\n: 1\n");
	parse_bad(big, 1, "t.yaml:2: "
		  "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: "
		  "unknown field "
		  "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...'; valid fields");
	/* deep nesting refused before libyaml's recursive loader sees it */
	o = (size_t)sprintf(big, "sluice: 1\ntenants: ");
	memset(big + o, '[', 200000);
	o += 200000;
	big[o] = 0;
	parse_bad(big, 1, "t.yaml:2: nested deeper than 32 levels");
	free(big);
}

static void odd_documents(void **state)
{
	(void)state;
	parse_bad("", 1, "t.yaml: empty file");
	parse_bad("\n\n# nothing\n", 1, "t.yaml: empty file");
	parse_bad("---\n...\n", 1, "t.yaml: empty file");
	parse_bad("sluice", 1, "t.yaml:1: expected a mapping with sluice, unmatched, profiles and "
		  "tenants, got a value");
	parse_bad("sluice: 1\nprofiles: 7\n", 1, "t.yaml:2: profiles: expected a mapping of "
		  "profile names to profiles, got a value");
	parse_bad("sluice: 1\ntenants: x\n", 1, "t.yaml:2: tenants: expected a list of tenants");
	parse_bad("sluice: 1\nsluice: 1\n", 1, "t.yaml:2: sluice: duplicate field 'sluice' "
		  "(first at line 1)");
	parse_bad("sluice: 1.0\n", 1, "unsupported schema version '1.0'");
	parse_bad("sluice: [1]\n", 1, "t.yaml:1: sluice: expected the schema version 1, got a "
		  "list");
	parse_bad("sluice: ~\n", 1, "t.yaml:1: sluice: missing value");
	parse_bad("sluice: 1\n? [a]\n: 1\n", 1, "t.yaml:2: expected a field name, got a list");
	parse_bad("sluice: 1\n\"a\\0b\": 1\n", 1, "unknown field 'a'");
	parse_bad("sluice: 1\nunmatched: \"pass\\n\"\n", 1, "got 'pass?'");
	parse_bad("sluice: 1\n  bad: indent\n", 1, "t.yaml:2: YAML syntax error");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, mode: dedicated}}\n", 4,
		  "profiles.p.mode: duplicate field 'mode'");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: drop, "
		  "limits: {limit: 1B, per: 1s}}}\n", 1, "profiles.p.limits: expected a list of "
		  "{limit: SIZE, per: DURATION}, got a mapping");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: drop, "
		  "limits: [{limit: 1B, per: 1s}, {limit: 1B, per: 1s}, {limit: 1B, per: 1s}, "
		  "{limit: x, per: 1s}, {limit: y}]}}\n", 1, "at most 3 limits per profile, got 5");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: drop, "
		  "dscp: 1}}\n", 1, "profiles.p.dscp: only allowed with exceed: mark (exceed is "
		  "'drop')");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: pass, "
		  "dscp: 1}}\n", 1, "profiles.p.dscp: only allowed with exceed: mark (exceed is "
		  "'pass')");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shared, rate: 1mbit, burst: 1B, exceed: mark, "
		  "dscp: 010}}\n", 1, "got '010'");
	parse_bad("sluice: 1\nprofiles: {p: {mode: shard, key: x, rate: 1mbit, burst: 1B, "
		  "exceed: drop}}\n", 2, "profiles.p.key: expected one of: src-ip, dst-ip, "
		  "5-tuple");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(example_exact),
		cmocka_unit_test(shipped_config),
		cmocka_unit_test(match_semantics),
		cmocka_unit_test(match_hosts_and_defaults),
		cmocka_unit_test(profile_defaults),
		cmocka_unit_test(fair_defaults),
		cmocka_unit_test(flow_fields),
		cmocka_unit_test(names_and_enums),
		cmocka_unit_test(messages_sorted_by_line),
		cmocka_unit_test(too_many_messages),
		cmocka_unit_test(load_errors),
		cmocka_unit_test(load_too_large),
		cmocka_unit_test(bad_corpus),
		cmocka_unit_test(good_corpus),
		cmocka_unit_test(good_details),
		cmocka_unit_test(truncations),
		cmocka_unit_test(mutations),
		cmocka_unit_test(alias_bombs),
		cmocka_unit_test(odd_documents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
