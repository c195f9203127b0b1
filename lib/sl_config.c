/* sl_config.c - load the policy file: libyaml document -> validated struct sl_config, every
 * problem of the file reported as "file:line: field: what was expected". Control path only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sl_config_int.h"
#include "sl_units.h"

#define CFG_MAX_FILE (64u << 20)	/* bytes of a policy file */
#define CFG_MAX_ITEMS 1000000	/* profiles, tenants: bounds memory on hostile input */

static const char *const mode_names[SL_MODE_COUNT] = { "shared", "dedicated" };
static const char *const key_names[SL_KEY_COUNT] = { "src-ip", "dst-ip", "5-tuple" };
static const char *const action_names[SL_ACT_COUNT] = { "drop", "mark", "pass", "shape" };
static const char *const full_names[SL_FULL_COUNT] = { "shared", "pass", "drop" };
static const char *const fair_names[SL_FAIR_COUNT] = { "none", "flows" };

#define NAME_OF(t, i) ((unsigned)(i) < sizeof(t) / sizeof(t[0]) ? t[i] : "?")

const char *sl_mode_name(enum sl_mode m)
{
	return NAME_OF(mode_names, m);
}

const char *sl_keykind_name(enum sl_keykind k)
{
	return NAME_OF(key_names, k);
}

const char *sl_action_name(enum sl_action a)
{
	return NAME_OF(action_names, a);
}

const char *sl_when_full_name(enum sl_when_full w)
{
	return NAME_OF(full_names, w);
}

const char *sl_fair_name(enum sl_fair_mode f)
{
	return NAME_OF(fair_names, f);
}

/* ---- profiles ---------------------------------------------------------------------------- */

enum { PF_MODE, PF_KEY, PF_RATE, PF_BURST, PF_LIMITS, PF_EXCEED, PF_DSCP, PF_IDLE, PF_MAX_KEYS,
	PF_WHEN_FULL, PF_MAX_FLOWS, PF_FLOW_IDLE, PF_MAX_QUEUE, PF_MAX_DELAY, PF_QUEUE, PF_FAIR,
	PF_COUNT };
static const char *const profile_fields[PF_COUNT] = { "mode", "key", "rate", "burst", "limits",
	"exceed", "dscp", "idle", "max-keys", "when-full", "max-flows", "flow-idle", "max-queue",
	"max-delay", "queue", "fair" };

static const char *kind_text(enum sl_unit u, int rate)
{
	if (u == SL_UNIT_PACKETS)
		return rate ? "packets per second" : "packets";
	return rate ? "bits per second" : "bytes";
}

/* A size (burst, limit) whose kind must be the rate's; rate_ok says whether the rate parsed. */
static int cfg_size(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *what,
		    yaml_node_t *rate, int rate_ok, enum sl_unit runit, uint64_t *v)
{
	const char *s = cfg_scalar(x, n, path, "a size such as 1500B, 64KiB or 10pkt"), *err;
	char b[48], rb[48];
	enum sl_unit u;

	if (!s)
		return -EINVAL;
	if (sl_parse_size(s, &u, v, &err)) {
		cfg_err(x, n, path, "bad size '%s': %s", cfg_show(b, sizeof(b), s), err);
		return -EINVAL;
	}
	if (rate_ok && u != runit) {
		cfg_err(x, n, path, "%s '%s' is in %s but rate '%s' is in %s; give both in "
			"bytes/bits or both in packets", what, cfg_show(b, sizeof(b), s),
			kind_text(u, 0), cfg_show(rb, sizeof(rb), (char *)rate->data.scalar.value),
			kind_text(runit, 1));
		return -EINVAL;
	}
	return 0;
}

static int cfg_duration(struct cfg_ctx *x, yaml_node_t *n, const char *path, uint64_t *ns)
{
	const char *s = cfg_scalar(x, n, path, "a duration such as 30s, 5m, 1h or 1d"), *err;
	char b[48];

	if (!s)
		return -EINVAL;
	if (sl_parse_duration(s, ns, &err)) {
		cfg_err(x, n, path, "bad duration '%s': %s", cfg_show(b, sizeof(b), s), err);
		return -EINVAL;
	}
	return 0;
}

static void parse_limits(struct cfg_ctx *x, yaml_node_t *n, const char *path,
			 struct sl_cfg_profile *p, yaml_node_t *rate, int rate_ok)
{
	static const char *const fields[] = { "limit", "per" };
	const char *expect = "{limit: SIZE, per: DURATION}";
	yaml_node_item_t *it;
	unsigned i = 0, nb;

	if (cfg_is_null(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		cfg_err(x, n, path, "expected a list of %s, got %s", expect, cfg_kind(n));
		return;
	}
	nb = (unsigned)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (nb > SL_MAX_BUCKETS - 1)
		cfg_err(x, n, path, "at most %d limits per profile, got %u", SL_MAX_BUCKETS - 1,
			nb);
	for (it = n->data.sequence.items.start; i < nb && i < SL_MAX_BUCKETS - 1; it++, i++) {
		yaml_node_t *e = cfg_node(x, *it), *k[2], *v[2];
		struct sl_cfg_bucket *b = &p->b[1 + i];
		char ep[CFG_PATH_LEN], fp[CFG_PATH_LEN];

		snprintf(ep, sizeof(ep), "%.140s[%u]", path, i);
		if (cfg_fields(x, e, ep, expect, fields, 2, k, v))
			continue;
		if (cfg_require(x, v[0], e, ep, "limit", "a size such as 5MB or 1000pkt")) {
			cfg_path(fp, ep, "limit");
			if (!cfg_size(x, v[0], fp, "limit", rate, rate_ok, p->unit, &b->amount))
				b->burst = b->amount;
		}
		if (cfg_require(x, v[1], e, ep, "per", "a duration such as 1m, 1h or 1d")) {
			cfg_path(fp, ep, "per");
			cfg_duration(x, v[1], fp, &b->per_ns);
		}
	}
	p->nb_buckets = 1 + i;
}

/* Fields allowed only with mode: dedicated, and their defaults. */
static void parse_dedicated(struct cfg_ctx *x, yaml_node_t **v, const char *path, int shared,
			    struct sl_cfg_profile *p)
{
	static const unsigned only[] = { PF_KEY, PF_IDLE, PF_MAX_KEYS, PF_WHEN_FULL };
	char fp[CFG_PATH_LEN];
	unsigned e;

	for (unsigned i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		if (!shared || !v[only[i]])
			continue;
		cfg_path(fp, path, profile_fields[only[i]]);
		cfg_err(x, v[only[i]], fp, "only allowed with mode: dedicated (a shared profile "
			"has one set of buckets for all its traffic)");
	}
	if (shared)
		return;
	p->key = SL_KEY_SRC_IP;
	p->idle_ns = 60ull * 1000000000ull;
	p->when_full = SL_FULL_SHARED;
	cfg_path(fp, path, "key");
	if (v[PF_KEY] && !cfg_enum(x, v[PF_KEY], fp, key_names, SL_KEY_COUNT, &e))
		p->key = (enum sl_keykind)e;
	cfg_path(fp, path, "idle");
	if (v[PF_IDLE])
		cfg_duration(x, v[PF_IDLE], fp, &p->idle_ns);
	cfg_path(fp, path, "max-keys");
	if (v[PF_MAX_KEYS])
		cfg_uint(x, v[PF_MAX_KEYS], fp, 1, SL_KEYS_MAX, &p->max_keys);
	cfg_path(fp, path, "when-full");
	if (v[PF_WHEN_FULL] && !cfg_enum(x, v[PF_WHEN_FULL], fp, full_names, SL_FULL_COUNT, &e))
		p->when_full = (enum sl_when_full)e;
}

/* fair: flows (the default of a shared shaped profile) or none; exceed: shape only. */
static void parse_fair(struct cfg_ctx *x, yaml_node_t **v, const char *path, int shape,
		       int shared, struct sl_cfg_profile *p)
{
	char fp[CFG_PATH_LEN];
	unsigned e;

	p->fair = shape && shared ? SL_FAIR_FLOWS : SL_FAIR_NONE;
	if (!shape || !v[PF_FAIR])
		return;
	cfg_path(fp, path, "fair");
	if (cfg_enum(x, v[PF_FAIR], fp, fair_names, SL_FAIR_COUNT, &e))
		return;
	if (e == SL_FAIR_FLOWS && !shared)
		cfg_err(x, v[PF_FAIR], fp, "fair: flows is for shared profiles (a dedicated "
			"profile's keys each wait in a queue of their own; fair: none or leave it out)");
	else
		p->fair = (enum sl_fair_mode)e;
}

/* max-delay, queue and fair, which go with exceed: shape only; the rate and burst are parsed. */
static void parse_shape(struct cfg_ctx *x, yaml_node_t **v, const char *path, int shape,
			int shared, struct sl_cfg_profile *p)
{
	static const unsigned only[] = { PF_MAX_DELAY, PF_QUEUE, PF_FAIR };
	char fp[CFG_PATH_LEN], b[48];
	const char *s, *err;
	enum sl_unit u;

	for (unsigned i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		if (shape || !v[only[i]])
			continue;
		cfg_path(fp, path, profile_fields[only[i]]);
		cfg_err(x, v[only[i]], fp, "only allowed with exceed: shape (%s)",
			only[i] == PF_QUEUE ? "the most a shaped tenant or key may have waiting"
			: only[i] == PF_FAIR ? "how a shaped tenant's flows share its queue"
					     : "how long a shaped frame may wait");
	}
	parse_fair(x, v, path, shape, shared, p);
	if (!shape)
		return;
	p->max_delay_ns = sl_cfg_shape_default_delay(&p->b[0], p->unit);
	cfg_path(fp, path, "max-delay");
	if (v[PF_MAX_DELAY] && (s = cfg_scalar(x, v[PF_MAX_DELAY], fp, "a duration such as 20ms"))) {
		uint64_t ns;

		if (sl_parse_duration(s, &ns, &err))
			cfg_err(x, v[PF_MAX_DELAY], fp, "bad duration '%s': %s",
				cfg_show(b, sizeof(b), s), err);
		else if (ns < SL_SHAPE_MIN_DELAY_NS || ns > SL_SHAPE_MAX_DELAY_NS)
			cfg_err(x, v[PF_MAX_DELAY], fp, "%s is out of range: 1us to 1s (the timing "
				"wheels hold a frame at most 1 s)", cfg_show(b, sizeof(b), s));
		else
			p->max_delay_ns = ns;
	}
	cfg_path(fp, path, "queue");
	if (v[PF_QUEUE] && (s = cfg_scalar(x, v[PF_QUEUE], fp, "a size such as 64KB or 100pkt"))) {
		if (sl_parse_size(s, &u, &p->queue, &err))
			cfg_err(x, v[PF_QUEUE], fp, "bad size '%s': %s", cfg_show(b, sizeof(b), s),
				err);
		else if (u != p->unit)
			cfg_err(x, v[PF_QUEUE], fp, "'%s' is in %s but the rate is in %s: a queue "
				"counts what the rate counts", cfg_show(b, sizeof(b), s),
				kind_text(u, 0), kind_text(p->unit, 0));
	}
}

uint64_t sl_cfg_shape_default_delay(const struct sl_cfg_bucket *b0, enum sl_unit unit)
{
	/* 8 frames of 1514 bytes (or 8 packets) at amount per per_ns, rounded up */
	unsigned __int128 cost = unit == SL_UNIT_PACKETS ? 8 : 8 * 1514 * 8;
	unsigned __int128 ns = b0->amount ? (cost * b0->per_ns + b0->amount - 1) / b0->amount : 0;

	if (ns < SL_SHAPE_DEFAULT_DELAY_NS)
		return SL_SHAPE_DEFAULT_DELAY_NS;
	return ns > SL_SHAPE_MAX_DELAY_NS ? SL_SHAPE_MAX_DELAY_NS : (uint64_t)ns;
}

uint64_t sl_cfg_shape_debt(const struct sl_cfg_profile *p, unsigned b)
{
	const struct sl_cfg_bucket *k = &p->b[b];
	unsigned __int128 d = (unsigned __int128)k->amount * p->max_delay_ns / k->per_ns;

	if (p->queue && d > p->queue)
		d = p->queue;
	return (uint64_t)d;
}

/* exceed, and dscp which goes with exceed: mark only */
static void parse_exceed(struct cfg_ctx *x, yaml_node_t **v, yaml_node_t *where,
			 const char *path, int shared, struct sl_cfg_profile *p)
{
	char fp[CFG_PATH_LEN];
	unsigned e;
	int ok = 0;
	uint64_t dscp;

	cfg_path(fp, path, "exceed");
	if (cfg_require(x, v[PF_EXCEED], where, path, "exceed", "drop, mark, pass or shape") &&
	    !cfg_enum(x, v[PF_EXCEED], fp, action_names, SL_ACT_COUNT, &e)) {
		p->exceed = (enum sl_action)e;
		ok = 1;
	}
	cfg_path(fp, path, "dscp");
	if (ok && p->exceed == SL_ACT_MARK && !v[PF_DSCP])
		cfg_err(x, v[PF_EXCEED], fp, "required with exceed: mark (the DSCP 0..63 to set "
			"on exceeding packets)");
	else if (ok && p->exceed != SL_ACT_MARK && v[PF_DSCP])
		cfg_err(x, v[PF_DSCP], fp, "only allowed with exceed: mark (exceed is '%s')",
			action_names[p->exceed]);
	else if (v[PF_DSCP] && !cfg_uint(x, v[PF_DSCP], fp, 0, 63, &dscp))
		p->dscp = (uint8_t)dscp;
	parse_shape(x, v, path, ok && p->exceed == SL_ACT_SHAPE, shared, p);
}

/* Fields of both modes: max-flows with its flow-idle, and max-queue. */
static void parse_flows(struct cfg_ctx *x, yaml_node_t **v, const char *path,
			struct sl_cfg_profile *p)
{
	char fp[CFG_PATH_LEN];

	cfg_path(fp, path, "max-flows");
	if (v[PF_MAX_FLOWS] && !cfg_uint(x, v[PF_MAX_FLOWS], fp, 1, 1ull << 32, &p->max_flows))
		p->flow_idle_ns = 30ull * 1000000000ull;
	cfg_path(fp, path, "flow-idle");
	if (v[PF_FLOW_IDLE] && !v[PF_MAX_FLOWS])
		cfg_err(x, v[PF_FLOW_IDLE], fp, "only allowed with max-flows (how long a flow may "
			"be idle before it stops counting)");
	else if (v[PF_FLOW_IDLE])
		cfg_duration(x, v[PF_FLOW_IDLE], fp, &p->flow_idle_ns);
	cfg_path(fp, path, "max-queue");
	if (v[PF_MAX_QUEUE])
		cfg_uint(x, v[PF_MAX_QUEUE], fp, 1, 1ull << 32, &p->max_queue);
}

static void parse_profile(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *n,
			  struct sl_cfg_profile *p)
{
	yaml_node_t *k[PF_COUNT], *v[PF_COUNT];
	char path[CFG_PATH_LEN], fp[CFG_PATH_LEN], b[48];
	const char *s, *err;
	unsigned e;
	int mode_ok = 0, rate_ok = 0;

	p->line = (unsigned)key->start_mark.line + 1;
	p->nb_buckets = 1;
	cfg_path(path, "profiles", (const char *)key->data.scalar.value);
	cfg_name(x, key, path, "a profile name", p->name);
	if (cfg_fields(x, n, path, "a mapping of profile fields (mode, rate, burst, exceed, ...)",
		       profile_fields, PF_COUNT, k, v))
		return;

	cfg_path(fp, path, "mode");
	if (cfg_require(x, v[PF_MODE], key, path, "mode", "shared or dedicated") &&
	    !cfg_enum(x, v[PF_MODE], fp, mode_names, SL_MODE_COUNT, &e)) {
		p->mode = (enum sl_mode)e;
		mode_ok = 1;
	}
	cfg_path(fp, path, "rate");
	if (cfg_require(x, v[PF_RATE], key, path, "rate", "a rate such as 8mbit or 1000pps") &&
	    (s = cfg_scalar(x, v[PF_RATE], fp, "a rate such as 8mbit or 1000pps"))) {
		if (sl_parse_rate(s, &p->unit, &p->b[0].amount, &p->b[0].per_ns, &err))
			cfg_err(x, v[PF_RATE], fp, "bad rate '%s': %s", cfg_show(b, sizeof(b), s),
				err);
		else
			rate_ok = 1;
	}
	cfg_path(fp, path, "burst");
	if (cfg_require(x, v[PF_BURST], key, path, "burst", "a size such as 20000B or 10pkt"))
		cfg_size(x, v[PF_BURST], fp, "burst", v[PF_RATE], rate_ok, p->unit, &p->b[0].burst);
	cfg_path(fp, path, "limits");
	if (v[PF_LIMITS])
		parse_limits(x, v[PF_LIMITS], fp, p, v[PF_RATE], rate_ok);
	parse_exceed(x, v, key, path, mode_ok && p->mode == SL_MODE_SHARED, p);
	parse_dedicated(x, v, path, mode_ok && p->mode == SL_MODE_SHARED, p);
	parse_flows(x, v, path, p);
}

/* ---- named things: sorted index for duplicates and look-ups ------------------------------ */

static int named_cmp(const void *a, const void *b)
{
	const struct cfg_named *p = a, *q = b;
	int r = strcmp(p->name, q->name);

	return r ? r : (p->idx > q->idx) - (p->idx < q->idx);
}

static int named_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_named *)a)->name, ((const struct cfg_named *)b)->name);
}

/*
 * Sort the valid names and report each duplicate at its later occurrence; `tenants` selects
 * the path spelling (tenants[i].name or profiles.name). A duplicate then stands for the first.
 */
static void index_names(struct cfg_ctx *x, struct cfg_named *t, unsigned nb, int tenants)
{
	char p[CFG_PATH_LEN];

	qsort(t, nb, sizeof(*t), named_cmp);
	for (unsigned i = 1; i < nb; i++) {
		if (strcmp(t[i].name, t[i - 1].name))
			continue;
		if (tenants)
			snprintf(p, sizeof(p), "tenants[%u].name", t[i].idx);
		else
			cfg_path(p, "profiles", t[i].name);
		cfg_err(x, t[i].node, p, "duplicate %s '%s' (first defined at line %u)",
			tenants ? "tenant name" : "profile", t[i].name,
			(unsigned)t[i - 1].node->start_mark.line + 1);
		t[i] = t[i - 1];
	}
}

static void parse_profiles(struct cfg_ctx *x, yaml_node_t *n)
{
	struct sl_config *c = x->c;
	yaml_node_pair_t *pr;
	size_t nb;

	if (cfg_is_null(n))
		return;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_err(x, n, "profiles", "expected a mapping of profile names to profiles, got %s",
			cfg_kind(n));
		return;
	}
	nb = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (nb > CFG_MAX_ITEMS) {
		cfg_err(x, n, "profiles", "too many profiles (%zu; at most %d)", nb, CFG_MAX_ITEMS);
		return;
	}
	c->profiles = calloc(nb ? nb : 1, sizeof(*c->profiles));
	x->pnames = calloc(nb ? nb : 1, sizeof(*x->pnames));
	if (!c->profiles || !x->pnames) {
		x->nomem = 1;
		return;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = cfg_node(x, pr->key), *v = cfg_node(x, pr->value);
		struct sl_cfg_profile *p = &c->profiles[c->nb_profiles];

		if (k->type != YAML_SCALAR_NODE) {
			cfg_err(x, k, "profiles", "expected a profile name, got %s", cfg_kind(k));
			continue;
		}
		c->nb_profiles++;
		parse_profile(x, k, v, p);
		if (p->name[0])
			x->pnames[x->nb_pnames++] =
				(struct cfg_named){ p->name, c->nb_profiles - 1, k };
	}
	index_names(x, x->pnames, x->nb_pnames, 0);
}

/* ---- tenants ----------------------------------------------------------------------------- */

/* "unknown profile 'x'; defined: a, b" (sorted, each once, truncated with "...") */
static void unknown_profile(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *s)
{
	char list[320], b[48];
	size_t o = 0;

	list[0] = 0;
	for (unsigned i = 0; i < x->nb_pnames; i++) {
		const char *name = x->pnames[i].name;

		if (i && !strcmp(name, x->pnames[i - 1].name))
			continue;
		if (o + strlen(name) + 8 > sizeof(list)) {
			strcpy(list + o, ", ...");
			break;
		}
		o += (size_t)sprintf(list + o, "%s%s", o ? ", " : "", name);
	}
	if (list[0])
		cfg_err(x, n, path, "unknown profile '%s'; defined: %s",
			cfg_show(b, sizeof(b), s), list);
	else
		cfg_err(x, n, path, "unknown profile '%s'; no profiles are defined",
			cfg_show(b, sizeof(b), s));
}

static void find_profile(struct cfg_ctx *x, yaml_node_t *n, const char *path,
			 struct sl_cfg_tenant *t)
{
	const char *s = cfg_scalar(x, n, path, "the name of a profile");
	struct cfg_named key, *hit;

	if (!s)
		return;
	key.name = s;
	hit = x->nb_pnames ? bsearch(&key, x->pnames, x->nb_pnames, sizeof(key), named_name_cmp)
			   : NULL;
	if (hit)
		t->profile = hit->idx;
	else
		unknown_profile(x, n, path, s);
}

/* Returns the node of the tenant's valid name, or NULL. */
static yaml_node_t *parse_tenant(struct cfg_ctx *x, yaml_node_t *n, unsigned i,
				 struct sl_cfg_tenant *t)
{
	static const char *const fields[] = { "name", "profile", "match" };
	yaml_node_t *k[3], *v[3];
	char path[CFG_PATH_LEN], fp[CFG_PATH_LEN];

	t->line = (unsigned)n->start_mark.line + 1;
	snprintf(path, sizeof(path), "tenants[%u]", i);
	if (cfg_fields(x, n, path, "a mapping with name, profile and match", fields, 3, k, v))
		return NULL;
	cfg_path(fp, path, "name");
	if (cfg_require(x, v[0], n, path, "name", "the tenant's name"))
		cfg_name(x, v[0], fp, "a tenant name", t->name);
	cfg_path(fp, path, "profile");
	if (cfg_require(x, v[1], n, path, "profile", "the name of a profile"))
		find_profile(x, v[1], fp, t);
	cfg_path(fp, path, "match");
	cfg_match(x, v[2], fp, t);
	return t->name[0] ? v[0] : NULL;
}

static void parse_tenants(struct cfg_ctx *x, yaml_node_t *n)
{
	struct sl_config *c = x->c;
	struct cfg_named *names;
	yaml_node_item_t *it;
	unsigned nn = 0;
	size_t nb;

	if (cfg_is_null(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		cfg_err(x, n, "tenants", "expected a list of tenants (- name: ...), got %s",
			cfg_kind(n));
		return;
	}
	nb = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (nb > CFG_MAX_ITEMS) {
		cfg_err(x, n, "tenants", "too many tenants (%zu; at most %d)", nb, CFG_MAX_ITEMS);
		return;
	}
	c->tenants = calloc(nb ? nb : 1, sizeof(*c->tenants));
	names = calloc(nb ? nb : 1, sizeof(*names));
	if (!c->tenants || !names) {
		free(names);
		x->nomem = 1;
		return;
	}
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		struct sl_cfg_tenant *t = &c->tenants[c->nb_tenants];
		yaml_node_t *name = parse_tenant(x, cfg_node(x, *it), c->nb_tenants, t);

		if (name)
			names[nn++] = (struct cfg_named){ t->name, c->nb_tenants, name };
		c->nb_tenants++;
	}
	index_names(x, names, nn, 1);
	free(names);
}

/* ---- the file ---------------------------------------------------------------------------- */

enum { TF_SLUICE, TF_UNMATCHED, TF_PROFILES, TF_TENANTS, TF_COUNT };
static const char *const top_fields[TF_COUNT] = { "sluice", "unmatched", "profiles", "tenants" };

/* Returns -EINVAL when the schema version is wrong: the rest is then not checked. */
static int parse_version(struct cfg_ctx *x, yaml_node_t *root, yaml_node_t *v)
{
	const char *s;
	char b[48];

	if (!v) {
		cfg_err(x, root, "sluice", "missing schema version: the file must start with "
			"'sluice: %d'", SL_SCHEMA_VERSION);
		return 0;
	}
	s = cfg_scalar(x, v, "sluice", "the schema version 1");
	if (s && strcmp(s, "1")) {
		cfg_err(x, v, "sluice", "unsupported schema version '%s'; this sluice reads "
			"version %d", cfg_show(b, sizeof(b), s), SL_SCHEMA_VERSION);
		return -EINVAL;
	}
	return s ? 0 : -EINVAL;
}

static void parse_root(struct cfg_ctx *x, yaml_node_t *root)
{
	static const char *const unmatched[] = { "pass", "drop" };
	yaml_node_t *k[TF_COUNT], *v[TF_COUNT];
	unsigned e;

	if (cfg_fields(x, root, "", "a mapping with sluice, unmatched, profiles and tenants",
		       top_fields, TF_COUNT, k, v))
		return;
	if (parse_version(x, root, v[TF_SLUICE]))
		return;
	x->c->unmatched = SL_ACT_PASS;
	if (v[TF_UNMATCHED] && !cfg_enum(x, v[TF_UNMATCHED], "unmatched", unmatched, 2, &e))
		x->c->unmatched = e ? SL_ACT_DROP : SL_ACT_PASS;
	if (v[TF_PROFILES])
		parse_profiles(x, v[TF_PROFILES]);
	if (v[TF_TENANTS])
		parse_tenants(x, v[TF_TENANTS]);
}

static void check_and_build(struct cfg_ctx *x, const char *text, size_t len)
{
	struct cfg_doc doc;
	yaml_node_t *root;

	if (cfg_doc_load(x, text, len, &doc))
		return;
	x->doc = &doc.doc;
	root = yaml_document_get_root_node(&doc.doc);
	if (!root || cfg_is_null(root))
		cfg_err(x, NULL, NULL, "empty file: expected 'sluice: %d', profiles and tenants",
			SL_SCHEMA_VERSION);
	else
		parse_root(x, root);
	x->doc = NULL;
	cfg_doc_free(&doc);
}

int sl_config_parse(const char *name, const char *text, size_t len, struct sl_config **out,
		    struct sl_diag *d)
{
	struct cfg_ctx *x;
	struct sl_config *c;
	int rc;

	*out = NULL;
	x = calloc(1, sizeof(*x));
	c = calloc(1, sizeof(*c));
	if (c)
		c->path = strdup(name ? name : "<input>");
	if (!x || !c || !c->path) {
		free(x);
		sl_config_free(c);
		sl_diag_add(d, name, 0, NULL, "out of memory");
		return -ENOMEM;
	}
	x->file = c->path;
	x->c = c;
	check_and_build(x, text, len);
	free(x->pnames);
	rc = x->nb_err ? -EINVAL : x->nomem ? -ENOMEM : 0;
	cfg_flush(x, d);
	free(x);
	if (rc)
		sl_config_free(c);
	else
		*out = c;
	return rc;
}

static int io_error(struct sl_diag *d, const char *path, const char *what, int rc)
{
	sl_diag_add(d, path, 0, NULL, "%s: %s", what, strerror(-rc));
	return rc;
}

/* The whole regular file into a NUL-terminated buffer; at most CFG_MAX_FILE bytes. */
static int read_file(const char *path, char **text, size_t *len, struct sl_diag *d)
{
	struct stat st;
	size_t n;
	char *buf;
	FILE *f;
	int rc;

	if (stat(path, &st))
		return io_error(d, path, "cannot open", -errno);
	if (!S_ISREG(st.st_mode)) {
		sl_diag_add(d, path, 0, NULL, "not a regular file");
		return -EINVAL;
	}
	if (st.st_size > CFG_MAX_FILE) {
		sl_diag_add(d, path, 0, NULL, "file too large (%lld bytes; at most %u)",
			    (long long)st.st_size, CFG_MAX_FILE);
		return -EFBIG;
	}
	f = fopen(path, "rb");
	if (!f)
		return io_error(d, path, "cannot open", -errno);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return io_error(d, path, "cannot read", -ENOMEM);
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (rc) {
		free(buf);
		return io_error(d, path, "cannot read", rc);
	}
	buf[n] = 0;
	*text = buf;
	*len = n;
	return 0;
}

int sl_config_load(const char *path, struct sl_config **out, struct sl_diag *d)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = read_file(path, &text, &len, d);
	if (rc)
		return rc;
	rc = sl_config_parse(path, text, len, out, d);
	free(text);
	return rc;
}

uint64_t sl_config_load_bytes(uint64_t file_bytes)
{
	return 32 * file_bytes + (1u << 20);
}

int sl_config_admit(const char *path, sl_mem_probe_fn probe, void *arg, struct sl_diag *d)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	return sl_mem_admit(probe, arg, path, sl_config_load_bytes((uint64_t)st.st_size),
			    "parsing the policy file", "raise the memory limit, or make the file "
			    "smaller", d);
}

void sl_config_free(struct sl_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->profiles);
	free(c->tenants);
	free(c->matches);
	free(c);
}

int sl_config_profile_index(const struct sl_config *c, const char *name)
{
	for (unsigned i = 0; i < c->nb_profiles; i++)
		if (!strcmp(c->profiles[i].name, name))
			return (int)i;
	return -1;
}

int sl_config_tenant_index(const struct sl_config *c, const char *name)
{
	for (unsigned i = 0; i < c->nb_tenants; i++)
		if (!strcmp(c->tenants[i].name, name))
			return (int)i;
	return -1;
}
