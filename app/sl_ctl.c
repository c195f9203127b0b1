/* sl_ctl.c - the control path of the appliance: reloads (SIGHUP, --watch) and profile edits,
 * each logged in one line, idle-key eviction, table-full notes, --check and port totals. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include "sl_ctl.h"

/* The only state the SIGHUP handler reaches; read and cleared by the main lcore. */
static volatile sig_atomic_t sl_ctl_hup;

static void sl_ctl_on_hup(int sig)
{
	(void)sig;
	sl_ctl_hup = 1;
}

void sl_ctl_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sl_ctl_on_hup;
	sa.sa_flags = SA_RESTART;	/* DPDK's telemetry thread stops on an interrupted accept */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
}

static double sl_ctl_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t sl_ctl_ms(const struct sl_ctl *c, unsigned ms)
{
	return c->hz / 1000 * ms;
}

static void sl_ctl_stat(const char *path, struct sl_ctl_fstat *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st))
		return;
	s->ok = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
	s->ctime = st.st_ctim;
}

static bool sl_ctl_same(const struct sl_ctl_fstat *a, const struct sl_ctl_fstat *b)
{
	return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

int sl_ctl_init(struct sl_ctl *c, struct sl_engine *e, uint64_t (*tx_dropped)(const void *),
		const void *tx_arg, const char *path, bool watch, uint64_t hz, uint64_t now)
{
	int ret;

	memset(c, 0, sizeof(*c));
	ret = pthread_mutex_init(&c->lock, NULL);
	if (ret)
		return -ret;
	c->e = e;
	c->tx_dropped = tx_dropped;
	c->tx_arg = tx_arg;
	c->path = path;
	c->log = stderr;
	c->hz = hz;
	c->watch = watch;
	sl_ctl_stat(path, &c->seen);
	c->next_watch = now + sl_ctl_ms(c, SL_CTL_WATCH_MS);
	c->next_evict = now + sl_ctl_ms(c, SL_CTL_EVICT_MS);
	c->next_full = now + sl_ctl_ms(c, SL_CTL_FULL_MS);
	return 0;
}

void sl_ctl_fini(struct sl_ctl *c)
{
	if (!c->e)
		return;
	sl_ctl_telemetry_detach();
	pthread_mutex_destroy(&c->lock);
	free(c->full);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------ reloads */

/* Generation and failure count after an attempt, then the log line(s). Call with c->lock. */
static void sl_ctl_outcome(struct sl_ctl *c, const char *trigger, struct sl_ctl_result *r)
{
	const struct sl_reload_summary *s = &r->sum;
	struct sl_stats st;

	memset(&st, 0, sizeof(st));
	if (sl_engine_stats(c->e, &st) == 0) {
		r->failures = st.reload_failures;
		if (r->ret)
			r->sum.generation = st.generation;
	}
	sl_stats_free(&st);
	if (r->ret) {
		fprintf(c->log, "sluice: reload refused (%s), policy generation %" PRIu64 " stays, "
			"reload failures %" PRIu64 ":\n", trigger, s->generation, r->failures);
		sl_diag_print(&r->d, c->log);
	} else {
		__atomic_store_n(&c->reloads, c->reloads + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&c->last_reload_ns, (uint64_t)((r->parse_s + s->seconds) * 1e9),
				 __ATOMIC_RELAXED);
		fprintf(c->log, "sluice: reload generation %" PRIu64 " (%s): tenants +%u -%u ~%u, "
			"profiles +%u -%u ~%u, states reset %u, %.2f ms (parse %.2f ms, "
			"compile+publish %.2f ms)\n", s->generation, trigger, s->tenants_added,
			s->tenants_removed, s->tenants_changed, s->profiles_added,
			s->profiles_removed, s->profiles_changed, s->states_reset,
			(r->parse_s + s->seconds) * 1e3, r->parse_s * 1e3, s->seconds * 1e3);
		fprintf(c->log, "sluice: ");
		sl_engine_describe_keys(&s->keys, c->log);
	}
	fflush(c->log);
}

void sl_ctl_reload(struct sl_ctl *c, const char *trigger, struct sl_ctl_result *r)
{
	struct sl_config *cfg = NULL;
	struct sl_ctl_fstat st;
	double t0;

	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&c->lock);
	sl_ctl_stat(c->path, &st);	/* before reading: a later write is seen as a change */
	t0 = sl_ctl_mono();
	r->ret = sl_engine_admit_file(c->e, c->path, &r->d);
	if (!r->ret)
		r->ret = sl_config_load(c->path, &cfg, &r->d);
	r->parse_s = sl_ctl_mono() - t0;
	if (r->ret) {
		if (!r->d.n)
			sl_diag_add(&r->d, c->path, 0, NULL, "%s", strerror(-r->ret));
		sl_engine_reload_refused(c->e);
	} else {
		r->ret = sl_engine_reload(c->e, cfg, &r->sum, &r->d);
		sl_config_free(cfg);
	}
	c->seen = st;
	c->changed.ok = false;
	sl_ctl_outcome(c, trigger, r);
	pthread_mutex_unlock(&c->lock);
}

void sl_ctl_set_profile(struct sl_ctl *c, const char *profile, const char *rate,
			const char *burst, struct sl_ctl_result *r)
{
	char trigger[SL_NAME_MAX + 96];

	memset(r, 0, sizeof(*r));
	snprintf(trigger, sizeof(trigger), "profile/set %s%s%.32s%s%.32s", profile,
		 rate ? " rate=" : "", rate ? rate : "", burst ? " burst=" : "",
		 burst ? burst : "");
	pthread_mutex_lock(&c->lock);
	r->ret = sl_engine_set_profile(c->e, profile, rate, burst, &r->sum, &r->d);
	sl_ctl_outcome(c, trigger, r);
	pthread_mutex_unlock(&c->lock);
}

/* --watch: reload once a changed file has stayed the same for one poll (written whole). */
static void sl_ctl_watch(struct sl_ctl *c)
{
	struct sl_ctl_result r;
	struct sl_ctl_fstat st;
	bool go = false;

	sl_ctl_stat(c->path, &st);
	pthread_mutex_lock(&c->lock);
	if (!st.ok || sl_ctl_same(&st, &c->seen))
		c->changed.ok = false;
	else if (c->changed.ok && sl_ctl_same(&st, &c->changed))
		go = true;
	else
		c->changed = st;
	pthread_mutex_unlock(&c->lock);
	if (!go)
		return;
	sl_ctl_reload(c, "watch", &r);
	sl_diag_free(&r.d);
}

/* ------------------------------------------------------------------ table-full notes */

static int sl_ctl_full_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sl_ctl_full *)a)->name, ((const struct sl_ctl_full *)b)->name);
}

/* Refusals of tenant t since the last note: its count minus what that note saw. */
static uint64_t sl_ctl_full_delta(const struct sl_ctl *c, const struct sl_ctl_full *t)
{
	const struct sl_ctl_full *p = c->nb_full ? bsearch(t, c->full, c->nb_full, sizeof(*t),
							    sl_ctl_full_cmp) : NULL;

	return p && p->n <= t->n ? t->n - p->n : t->n;
}

/* One line per tenant whose new keys were refused a slot since the last note (at most
 * SL_CTL_FULL_LINES, the rest summed). */
static void sl_ctl_full_note(struct sl_ctl *c)
{
	struct sl_ctl_full *cur;
	uint64_t more_pkts = 0;
	unsigned n = 0, lines = 0, more = 0;
	struct sl_stats s;

	memset(&s, 0, sizeof(s));
	if (sl_engine_stats(c->e, &s))
		return;
	for (unsigned i = 0; i < s.nb_tenants; i++)
		n += s.t[i].c.table_full + s.t[i].c.quota_full > 0;
	cur = n ? calloc(n, sizeof(*cur)) : NULL;
	if (n && !cur) {
		sl_stats_free(&s);
		return;
	}
	n = 0;
	for (unsigned i = 0; i < s.nb_tenants; i++) {
		if (!(s.t[i].c.table_full + s.t[i].c.quota_full))
			continue;
		memcpy(cur[n].name, s.t[i].name, sizeof(cur[n].name));
		cur[n++].n = s.t[i].c.table_full + s.t[i].c.quota_full;
	}
	for (unsigned i = 0; i < s.nb_tenants; i++) {
		struct sl_ctl_full t;
		uint64_t d;

		if (!(s.t[i].c.table_full + s.t[i].c.quota_full))
			continue;
		memcpy(t.name, s.t[i].name, sizeof(t.name));
		t.n = s.t[i].c.table_full + s.t[i].c.quota_full;
		d = sl_ctl_full_delta(c, &t);
		if (!d)
			continue;
		if (lines++ < SL_CTL_FULL_LINES) {
			fprintf(c->log, "sluice: tenant %s (profile %s): %" PRIu64 " packets "
				"of new keys refused a key (so far: %" PRIu64 " over its max-keys, "
				"%" PRIu64 " with the key budget taken)\n", t.name, s.t[i].profile, d,
				s.t[i].c.quota_full, s.t[i].c.table_full);
		} else {
			more++;
			more_pkts += d;
		}
	}
	if (more)
		fprintf(c->log, "sluice: and %u more tenants: %" PRIu64 " packets of new keys "
			"refused a slot\n", more, more_pkts);
	if (lines)
		fflush(c->log);
	qsort(cur, n, sizeof(*cur), sl_ctl_full_cmp);
	free(c->full);
	c->full = cur;
	c->nb_full = n;
	sl_stats_free(&s);
}

void sl_ctl_poll(struct sl_ctl *c, uint64_t now)
{
	if (sl_ctl_hup) {
		struct sl_ctl_result r;

		sl_ctl_hup = 0;
		sl_ctl_reload(c, "SIGHUP", &r);
		sl_diag_free(&r.d);
		now = rte_rdtsc();
	}
	if (c->watch && now >= c->next_watch) {
		sl_ctl_watch(c);
		now = rte_rdtsc();
		c->next_watch = now + sl_ctl_ms(c, SL_CTL_WATCH_MS);
	}
	if (now >= c->next_evict) {
		uint64_t n = sl_engine_maintain(c->e, now, SL_CTL_EVICT_BUDGET);

		__atomic_store_n(&c->evicted, c->evicted + n, __ATOMIC_RELAXED);
		c->next_evict = now + sl_ctl_ms(c, SL_CTL_EVICT_MS);
	}
	if (now >= c->next_full) {
		sl_ctl_full_note(c);
		c->next_full = now + sl_ctl_ms(c, SL_CTL_FULL_MS);
	}
}

/* ------------------------------------------------------------------ --check, ports */

int sl_ctl_check(const char *path, uint64_t max_keys, FILE *out, FILE *err)
{
	struct sl_engine_opts o = { .hz = 1000000000, .nb_lcores = 1, .max_keys = max_keys,
				    .check_only = 1, .can_shape = 1 };
	struct sl_config *cfg = NULL;
	struct sl_engine *e = NULL;
	struct sl_diag d = { 0 };
	int ret = sl_config_admit(path, NULL, NULL, &d);

	if (!ret)
		ret = sl_config_load(path, &cfg, &d);

	if (!ret) {
		ret = sl_engine_create(cfg, &o, &e, &d);
		sl_config_free(cfg);
	}
	if (ret) {
		sl_diag_print(&d, err);
		if (!d.n)
			fprintf(err, "%s: %s\n", path, strerror(-ret));
		fprintf(err, "sluice: %s: refused\n", path);
	} else {
		sl_engine_describe(e, out);
		sl_engine_free(e);
	}
	sl_diag_free(&d);
	return ret ? 1 : 0;
}

void sl_ctl_port_totals(FILE *f)
{
	uint16_t id;

	RTE_ETH_FOREACH_DEV(id) {
		char name[RTE_ETH_NAME_MAX_LEN] = "?";
		struct rte_eth_stats st;

		if (rte_eth_stats_get(id, &st))
			continue;
		rte_eth_dev_get_name_by_port(id, name);
		fprintf(f, "sluice: port %u %s: rx %" PRIu64 ", tx %" PRIu64 ", rx missed %" PRIu64
			", rx errors %" PRIu64 ", tx errors %" PRIu64 ", rx no mbuf %" PRIu64 "\n",
			id, name, st.ipackets, st.opackets, st.imissed, st.ierrors, st.oerrors,
			st.rx_nombuf);
	}
}
