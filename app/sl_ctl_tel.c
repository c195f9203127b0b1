/* sl_ctl_tel.c - the appliance's DPDK telemetry commands (/sluice/reload, /sluice/profile/set,
 * /sluice/stats): run on the telemetry thread, serialized, answered as JSON dicts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <rte_common.h>
#include <rte_telemetry.h>
#include "sl_ctl.h"

#define SL_TEL_TENANTS 16	/* per-tenant dicts in one answer (16 KiB of JSON at most) */
#define SL_TEL_ERRORS 64	/* messages of a refused reload in one answer (all in the log) */
#define SL_TEL_KEY (SL_NAME_MAX + 16)	/* a tenant's dict key and its "_N" */

/*
 * Telemetry callbacks take no argument: the context they act on. The lock is held for a
 * whole command, so sl_ctl_telemetry_detach returns only once no command runs.
 */
static pthread_mutex_t sl_tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sl_ctl *sl_tel_ctl;

static uint64_t sl_tel_mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t sl_tel_us(double s)
{
	return s > 0 ? (uint64_t)(s * 1e6 + 0.5) : 0;
}

/* Messages of a refused attempt, without the file name the caller knows (telemetry strings
 * hold 127 bytes; the log has them whole). */
static void sl_tel_errors(struct rte_tel_data *d, const struct sl_ctl *c,
			  const struct sl_diag *dg)
{
	struct rte_tel_data *a = rte_tel_data_alloc();
	size_t plen = strlen(c->path);

	if (!a)
		return;
	rte_tel_data_start_array(a, RTE_TEL_STRING_VAL);
	for (unsigned i = 0; i < dg->n && i < SL_TEL_ERRORS; i++) {
		const char *m = dg->msg[i];

		if (!strncmp(m, c->path, plen) && m[plen] == ':')
			m += plen + 1;
		rte_tel_data_add_array_string(a, m);
	}
	if (rte_tel_data_add_dict_container(d, "errors", a, 0))
		rte_tel_data_free(a);
}

/* The answer to a reload (of the file: from_file) or a profile edit. */
static void sl_tel_result(struct rte_tel_data *d, const struct sl_ctl *c,
			  const struct sl_ctl_result *r, bool from_file)
{
	const struct sl_reload_summary *s = &r->sum;

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "applied", r->ret == 0);
	rte_tel_data_add_dict_u64(d, "generation", s->generation);
	rte_tel_data_add_dict_u64(d, "reload_failures", r->failures);
	if (r->ret) {
		if (from_file)
			rte_tel_data_add_dict_string(d, "file", c->path);
		sl_tel_errors(d, c, &r->d);
		return;
	}
	rte_tel_data_add_dict_u64(d, "tenants_added", s->tenants_added);
	rte_tel_data_add_dict_u64(d, "tenants_removed", s->tenants_removed);
	rte_tel_data_add_dict_u64(d, "tenants_changed", s->tenants_changed);
	rte_tel_data_add_dict_u64(d, "profiles_added", s->profiles_added);
	rte_tel_data_add_dict_u64(d, "profiles_removed", s->profiles_removed);
	rte_tel_data_add_dict_u64(d, "profiles_changed", s->profiles_changed);
	rte_tel_data_add_dict_u64(d, "states_reset", s->states_reset);
	rte_tel_data_add_dict_u64(d, "reload_us", sl_tel_us(r->parse_s + s->seconds));
	rte_tel_data_add_dict_u64(d, "parse_us", sl_tel_us(r->parse_s));
	rte_tel_data_add_dict_u64(d, "compile_publish_us", sl_tel_us(s->seconds));
}

static int sl_tel_reload(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct sl_ctl_result r;

	(void)cmd;
	(void)params;
	pthread_mutex_lock(&sl_tel_lock);
	if (!sl_tel_ctl) {
		pthread_mutex_unlock(&sl_tel_lock);
		return -ENODEV;
	}
	sl_ctl_reload(sl_tel_ctl, "telemetry", &r);
	sl_tel_result(d, sl_tel_ctl, &r, true);
	pthread_mutex_unlock(&sl_tel_lock);
	sl_diag_free(&r.d);
	return 0;
}

/* "NAME,rate=R,burst=B" (either or both) into its parts, pointing into buf. 0 or -EINVAL. */
static int sl_tel_profile_args(char *buf, const char **name, const char **rate,
			       const char **burst)
{
	char *save = NULL, *tok = strtok_r(buf, ",", &save);

	*name = tok;
	*rate = *burst = NULL;
	if (!tok)
		return -EINVAL;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strncmp(tok, "rate=", 5) && tok[5] && !*rate)
			*rate = tok + 5;
		else if (!strncmp(tok, "burst=", 6) && tok[6] && !*burst)
			*burst = tok + 6;
		else
			return -EINVAL;
	}
	return *rate || *burst ? 0 : -EINVAL;
}

static int sl_tel_profile_set(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const char *name, *rate, *burst;
	struct sl_ctl_result r;
	char *buf;

	(void)cmd;
	buf = strdup(params ? params : "");
	if (!buf)
		return -ENOMEM;
	if (sl_tel_profile_args(buf, &name, &rate, &burst)) {
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_int(d, "applied", 0);
		rte_tel_data_add_dict_string(d, "usage", "/sluice/profile/set,PROFILE,rate=R,"
					     "burst=B (either or both)");
		free(buf);
		return 0;
	}
	pthread_mutex_lock(&sl_tel_lock);
	if (!sl_tel_ctl) {
		pthread_mutex_unlock(&sl_tel_lock);
		free(buf);
		return -ENODEV;
	}
	sl_ctl_set_profile(sl_tel_ctl, name, rate, burst, &r);
	sl_tel_result(d, sl_tel_ctl, &r, false);
	pthread_mutex_unlock(&sl_tel_lock);
	sl_diag_free(&r.d);
	free(buf);
	return 0;
}

/*
 * The dict key of a tenant: telemetry keys take only [A-Za-z0-9_/], tenant names '.' and '-'
 * too, so those become '_' (and a clash with an earlier key of this answer gets "_N"); the
 * dict holds the real name. tools/sluice-ctl keys its output by that name again.
 */
static void sl_tel_key(char key[SL_TEL_KEY], const char *name, unsigned n,
		       char used[][SL_TEL_KEY], unsigned nb_used)
{
	size_t i;

	for (i = 0; name[i] && i < SL_NAME_MAX - 1; i++)
		key[i] = name[i] == '.' || name[i] == '-' ? '_' : name[i];
	key[i] = 0;
	for (unsigned u = 0; u < nb_used; u++)
		if (!strcmp(used[u], key)) {
			snprintf(key + i, SL_TEL_KEY - i, "_%u", n);
			break;
		}
}

/* One tenant's counters as a dict under its key (sl_tel_key), used[n] receiving that key. */
static int sl_tel_tenant(struct rte_tel_data *d, const struct sl_tenant_stats *t,
			 char used[][SL_TEL_KEY], unsigned n)
{
	struct rte_tel_data *td = rte_tel_data_alloc();

	if (!td)
		return -ENOMEM;
	sl_tel_key(used[n], t->name, n, used, n);
	rte_tel_data_start_dict(td);
	rte_tel_data_add_dict_string(td, "name", t->name);
	rte_tel_data_add_dict_string(td, "profile", t->profile);
#define SL_X_TEL(n) rte_tel_data_add_dict_u64(td, #n, t->c.n);
	SL_TENANT_COUNTERS(SL_X_TEL)
#undef SL_X_TEL
	rte_tel_data_add_dict_u64(td, "keys", t->keys);
	if (rte_tel_data_add_dict_container(d, used[n], td, 0)) {
		rte_tel_data_free(td);
		return -ENOSPC;
	}
	return 0;
}

/* Per-tenant dicts: the tenants named in params ("a,b,c"), or all when they are few. */
static void sl_tel_tenants(struct rte_tel_data *d, const struct sl_stats *s, const char *params)
{
	char *buf, *save = NULL, *name, used[SL_TEL_TENANTS][SL_TEL_KEY];
	unsigned shown = 0;

	if (!params || !*params) {
		for (unsigned i = 0; i < s->nb_tenants && s->nb_tenants <= SL_TEL_TENANTS; i++)
			shown += sl_tel_tenant(d, &s->t[i], used, shown) == 0;
		rte_tel_data_add_dict_u64(d, "tenants_shown", shown);
		return;
	}
	buf = strdup(params);
	for (name = buf ? strtok_r(buf, ",", &save) : NULL; name && shown < SL_TEL_TENANTS;
	     name = strtok_r(NULL, ",", &save)) {
		unsigned i;

		for (i = 0; i < s->nb_tenants && strcmp(s->t[i].name, name); i++)
			;
		if (i < s->nb_tenants)
			shown += sl_tel_tenant(d, &s->t[i], used, shown) == 0;
	}
	rte_tel_data_add_dict_u64(d, "tenants_shown", shown);
	free(buf);
}

static int sl_tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct sl_stats s;
	struct sl_ctl *c;
	int ret;

	(void)cmd;
	pthread_mutex_lock(&sl_tel_lock);
	c = sl_tel_ctl;
	memset(&s, 0, sizeof(s));
	ret = c ? sl_engine_stats(c->e, &s) : -ENODEV;
	if (ret) {
		pthread_mutex_unlock(&sl_tel_lock);
		return ret;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "mono_ns", sl_tel_mono_ns());
	rte_tel_data_add_dict_u64(d, "generation", s.generation);
	rte_tel_data_add_dict_u64(d, "reload_failures", s.reload_failures);
	rte_tel_data_add_dict_u64(d, "tenants", s.nb_tenants);
	rte_tel_data_add_dict_u64(d, "packets", s.total.packets);
	rte_tel_data_add_dict_u64(d, "bytes", s.total.bytes);
	rte_tel_data_add_dict_u64(d, "dropped_packets", s.dropped.packets);
	rte_tel_data_add_dict_u64(d, "dropped_bytes", s.dropped.bytes);
	rte_tel_data_add_dict_u64(d, "unmatched_packets", s.unmatched.packets);
	rte_tel_data_add_dict_u64(d, "malformed_packets", s.malformed.packets);
	rte_tel_data_add_dict_u64(d, "tx_dropped", c->tx_dropped(c->tx_arg));
	rte_tel_data_add_dict_u64(d, "keys_evicted", __atomic_load_n(&c->evicted,
								    __ATOMIC_RELAXED));
	sl_tel_tenants(d, &s, params);
	pthread_mutex_unlock(&sl_tel_lock);
	sl_stats_free(&s);
	return 0;
}

int sl_ctl_telemetry(struct sl_ctl *c)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		{ "/sluice/reload", sl_tel_reload,
		  "Reload the policy file. No parameters. Generation and changes, or the errors" },
		{ "/sluice/profile/set", sl_tel_profile_set,
		  "Set a profile's rate/burst until the next reload. "
		  "Params: PROFILE,rate=R,burst=B" },
		{ "/sluice/stats", sl_tel_stats,
		  "Counters: totals, and per tenant (all if few). Params: [TENANT[,TENANT...]]" },
	};
	static bool registered;
	int ret;

	pthread_mutex_lock(&sl_tel_lock);
	sl_tel_ctl = c;
	pthread_mutex_unlock(&sl_tel_lock);
	if (registered)
		return 0;
	for (unsigned i = 0; i < RTE_DIM(cmds); i++) {
		ret = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
		if (ret)
			return ret < 0 ? ret : -ret;
	}
	registered = true;
	return 0;
}

void sl_ctl_telemetry_detach(void)
{
	pthread_mutex_lock(&sl_tel_lock);
	sl_tel_ctl = NULL;
	pthread_mutex_unlock(&sl_tel_lock);
}
