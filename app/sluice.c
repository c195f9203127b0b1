/* sluice.c - the live appliance: DPDK ports in pairs, one engine context per forwarding lcore;
 * the main lcore shows rates, stops on a signal or --duration and writes the report. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include "sl_config.h"
#include "sl_ctl.h"
#include "sl_engine.h"
#include "sl_fwd.h"
#include "sl_live.h"
#include "sl_metrics.h"
#include "sl_pipe.h"
#include "sl_ports.h"
#include "sl_stats.h"

enum { SL_EXIT_OK = 0, SL_EXIT_ARGS = 1, SL_EXIT_DPDK = 2 };

#define SL_CONTROL_NAP_US 20000	/* longest sleep of the main lcore between checks */

struct sl_args {
	const char *config;
	const char *report;
	double duration;		/* seconds; 0 = until SIGINT/SIGTERM */
	double interval;		/* seconds between live tables */
	uint64_t max_keys;		/* key budget in keys; 0 = from key_memory or the machine */
	uint64_t key_memory;		/* key budget in bytes; 0 = not given */
	unsigned mbufs;			/* 0 = sized from the plan */
	unsigned workers;		/* worker mode: the last N lcores transmit; 0 = none */
	unsigned top;			/* --top: most tenant rows per table; 0 = every tenant */
	uint64_t shape_slot_us;		/* worker mode: timing wheel slot width */
	uint64_t shape_mbufs;		/* worker mode: frames that may wait to be shaped */
	const char *metrics;		/* --metrics ADDR:PORT, or NULL */
	bool quiet;
	bool watch;			/* reload when the file changes */
	bool check;			/* validate, print the compiled policy, exit */
};

/* Everything the main lcore owns; torn down by sl_app_fini whatever the phase reached. */
struct sl_app {
	struct sl_args a;
	bool eal;
	uint64_t hz;
	struct sl_config *cfg;
	struct sl_engine *e;
	struct sl_fwd fwd;
	struct sl_pipe pipe;		/* worker mode (a.workers > 0) */
	struct sl_ports ports;
	struct sl_ctl ctl;		/* reloads, telemetry, eviction (sl_ctl.h) */
	struct sl_metrics *metrics;	/* --metrics: the Prometheus endpoint, or NULL */
	struct sl_metrics_src msrc;	/* what it reads */
	FILE *info;			/* set-up lines: stdout, or NULL with --quiet */
};

/* The only state a signal handler can reach; read by the main lcore alone. */
static volatile sig_atomic_t sl_signalled;

static void sl_on_signal(int sig)
{
	sl_signalled = sig;
}

static void sl_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice [EAL options] -- --config FILE [options]\n"
		"       sluice --check FILE [--max-keys N | --key-memory SIZE]\n"
		"       sluice --check --config FILE [...]\n"
		"  --config FILE          policy file (YAML), required\n"
		"  --duration S           stop after S seconds (default: at SIGINT or SIGTERM)\n"
		"  --report FILE.json     write the final counters as JSON\n"
		"  --stats-interval S     seconds between live tables (default 1)\n"
		"  --max-keys N           the key budget: keys of all dedicated tenants together,\n"
		"                         allocated once at start (76 bytes each; a key of a\n"
		"                         profile with limits counts twice; at most 2^26).\n"
		"                         Default: what an eighth of the memory the process may\n"
		"                         still take holds (cgroup limit, MemAvailable), 64K to 1M\n"
		"  --key-memory SIZE      the key budget in bytes instead: N, NK, NM, NG (x 1024)\n"
		"  --mbufs N              packet pool size (default: from ports, queues, lcores, "
		"captures)\n"
		"  --workers N            worker mode: the last N lcores transmit, the others\n"
		"                         police and hand frames over by flow (default: every\n"
		"                         lcore polices and transmits, run-to-completion)\n"
		"  --shape-slot-us N      worker mode, exceed: shape: the timing wheels' slot\n"
		"                         width in microseconds (default %u): a shaped frame\n"
		"                         leaves within about one slot of its departure\n"
		"  --shape-mbufs N        worker mode: frames that may wait to be shaped at once,\n"
		"                         all workers (default %u; the pool grows by as many);\n"
		"                         a frame over it is dropped at hand-off (queue_drops)\n"
		"  --metrics ADDR:PORT    serve Prometheus metrics at http://ADDR:PORT/metrics (off\n"
		"                         by default; e.g. 127.0.0.1:9100, [::1]:9100): per\n"
		"                         tenant, port and lcore, reloads, build info\n"
		"  --top N                tenant rows in the live table and the final counters:\n"
		"                         with more tenants, the N busiest and one row summing\n"
		"                         the rest (default 20; 0 = every tenant)\n"
		"  --quiet                no live table and no set-up lines\n"
		"  --watch                reload the policy when the file changes\n"
		"  --check FILE           validate and compile FILE, print it, exit 0 (valid) or 1\n"
		"  --help                 this text\n"
		"Ports are paired 0<->1, 2<->3, ...: what enters one leaves by the other (a single\n"
		"port sends back out of itself). The main lcore reports; every other lcore forwards,\n"
		"so give at least two (-l 0-1), and with --workers N at least N + 2.\n"
		"Exit status: 0 stopped, 1 bad arguments or policy, 2 DPDK set-up failed.\n"
		"SIGHUP, --watch or the telemetry command /sluice/reload (tools/sluice-ctl)\n"
		"reload the policy; a bad file is refused and the running policy kept.\n"
		"Without hugepages or NICs, for example:\n"
		"  sluice --no-huge -m 2048 --no-shconf --no-pci -l 0-1 \\\n"
		"    --vdev=net_pcap0,rx_pcap=F.pcap,infinite_rx=1 --vdev=net_null0,no-rx=1 \\\n"
		"    -- --config config/sluice.yaml --duration 5\n",
		SL_PIPE_SHAPE_SLOT_US, SL_PIPE_SHAPE_MBUFS);
}

static int sl_arg_seconds(const char *name, const char *v, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d <= 0 || d > 1e9) {
		fprintf(stderr, "sluice: --%s: expected seconds > 0 (e.g. 5 or 0.5), got '%s'\n",
			name, v);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

/* "N", "NK", "NM", "NG", "NT" (powers of 1024), an optional "B" or "iB" after the letter */
static int sl_arg_size(const char *name, const char *v, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *u;
	char *end;
	unsigned long long n;
	unsigned shift = 0;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end && (u = strchr(units, *end)) != NULL) {
		shift = 10 * (unsigned)(u - units + 1);
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B')
		end++;
	if (errno || end == v || *end || *v == '-' || *v == '+' || n == 0 ||
	    n > (UINT64_MAX >> shift)) {
		fprintf(stderr, "sluice: --%s: expected a size such as 2G, 512M or 1073741824, got "
			"'%s'\n", name, v);
		return -EINVAL;
	}
	*out = (uint64_t)n << shift;
	return 0;
}

static int sl_arg_count(const char *name, const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || *v == '+' || n == 0 || n > max) {
		fprintf(stderr, "sluice: --%s: expected a whole number 1..%" PRIu64 ", got '%s'\n",
			name, max, v);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/* --top N: 0 (every tenant) allowed, unlike sl_arg_count. */
static int sl_arg_top(const char *v, unsigned *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || *v == '+' || n > UINT32_MAX) {
		fprintf(stderr, "sluice: --top: expected a whole number 0..%u (0: every tenant), "
			"got '%s'\n", UINT32_MAX, v);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

/* The report is written at the end: refuse at start a path that cannot be written. */
static int sl_arg_report(const char *path)
{
	char *dup = strdup(path);
	int ok;

	if (!dup)
		return -ENOMEM;
	ok = access(path, F_OK) == 0 ? access(path, W_OK) == 0 : access(dirname(dup), W_OK) == 0;
	free(dup);
	if (!ok) {
		fprintf(stderr, "sluice: --report %s: cannot write there: %s\n", path,
			strerror(errno));
		return -EACCES;
	}
	return 0;
}

enum sl_opt { SL_O_CONFIG, SL_O_DURATION, SL_O_REPORT, SL_O_INTERVAL, SL_O_MAX_KEYS,
	      SL_O_KEY_MEMORY, SL_O_MBUFS, SL_O_WORKERS, SL_O_TOP, SL_O_QUIET, SL_O_WATCH,
	      SL_O_CHECK, SL_O_SHAPE_SLOT, SL_O_SHAPE_MBUFS, SL_O_METRICS, SL_O_COUNT };

static const struct {
	const char *name;
	bool value;
} sl_opts[SL_O_COUNT] = {
	[SL_O_CONFIG] = { "config", true },
	[SL_O_DURATION] = { "duration", true },
	[SL_O_REPORT] = { "report", true },
	[SL_O_INTERVAL] = { "stats-interval", true },
	[SL_O_MAX_KEYS] = { "max-keys", true },
	[SL_O_KEY_MEMORY] = { "key-memory", true },
	[SL_O_MBUFS] = { "mbufs", true },
	[SL_O_WORKERS] = { "workers", true },
	[SL_O_TOP] = { "top", true },
	[SL_O_QUIET] = { "quiet", false },
	[SL_O_WATCH] = { "watch", false },
	[SL_O_CHECK] = { "check", true },
	[SL_O_SHAPE_SLOT] = { "shape-slot-us", true },
	[SL_O_SHAPE_MBUFS] = { "shape-mbufs", true },
	[SL_O_METRICS] = { "metrics", true },
};

static int sl_arg_set(struct sl_args *a, enum sl_opt o, const char *v)
{
	uint64_t n = 0;	/* read below even when sl_arg_count refused the value */
	int ret = 0;

	switch (o) {
	case SL_O_CONFIG:
		a->config = v;
		break;
	case SL_O_DURATION:
		ret = sl_arg_seconds(sl_opts[o].name, v, &a->duration);
		break;
	case SL_O_REPORT:
		a->report = v;
		ret = sl_arg_report(v);
		break;
	case SL_O_INTERVAL:
		ret = sl_arg_seconds(sl_opts[o].name, v, &a->interval);
		break;
	case SL_O_MAX_KEYS:
		ret = sl_arg_count(sl_opts[o].name, v, SL_KEYS_MAX, &a->max_keys);
		break;
	case SL_O_KEY_MEMORY:
		ret = sl_arg_size(sl_opts[o].name, v, &a->key_memory);
		break;
	case SL_O_MBUFS:
		ret = sl_arg_count(sl_opts[o].name, v, UINT32_MAX, &n);
		a->mbufs = (unsigned)n;
		break;
	case SL_O_WORKERS:
		ret = sl_arg_count(sl_opts[o].name, v, SL_PIPE_MAX_WORKERS, &n);
		a->workers = (unsigned)n;
		break;
	case SL_O_TOP:
		ret = sl_arg_top(v, &a->top);
		break;
	case SL_O_QUIET:
		a->quiet = true;
		break;
	case SL_O_WATCH:
		a->watch = true;
		break;
	case SL_O_CHECK:
		if (v)	/* --check FILE; --check --config FILE gives none */
			a->config = v;
		a->check = true;
		break;
	case SL_O_SHAPE_SLOT:
		ret = sl_arg_count(sl_opts[o].name, v, 100000, &a->shape_slot_us);
		break;
	case SL_O_SHAPE_MBUFS:
		ret = sl_arg_count(sl_opts[o].name, v, 1u << 24, &a->shape_mbufs);
		break;
	case SL_O_METRICS: {
		struct sockaddr_storage sa;
		unsigned len;

		a->metrics = v;
		ret = sl_metrics_parse_addr(v, &sa, &len);
		break;
	}
	case SL_O_COUNT:
		break;
	}
	return ret;
}

/* Our options, the words after "--": "--name value" or "--name=value". 0 or -EINVAL. */
static int sl_args_parse(int argc, char **argv, struct sl_args *a)
{
	memset(a, 0, sizeof(*a));
	a->interval = 1;
	a->top = 20;
	a->shape_slot_us = SL_PIPE_SHAPE_SLOT_US;
	a->shape_mbufs = SL_PIPE_SHAPE_MBUFS;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *eq, *v = NULL;
		size_t len;
		unsigned o;

		if (strncmp(arg, "--", 2)) {
			fprintf(stderr, "sluice: unexpected argument '%s'\n", arg);
			return -EINVAL;
		}
		arg += 2;
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		for (o = 0; o < SL_O_COUNT; o++)
			if (strlen(sl_opts[o].name) == len && !strncmp(sl_opts[o].name, arg, len))
				break;
		if (o == SL_O_COUNT) {
			fprintf(stderr, "sluice: unknown option '%s'\n", argv[i]);
			return -EINVAL;
		}
		if (o == SL_O_CHECK && !eq && (i + 1 == argc || !strncmp(argv[i + 1], "--", 2))) {
			v = NULL;	/* the flag form: the file comes with --config */
		} else if (sl_opts[o].value) {
			v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v || !*v) {
				fprintf(stderr, "sluice: --%s needs a value\n", sl_opts[o].name);
				return -EINVAL;
			}
		} else if (eq) {
			fprintf(stderr, "sluice: --%s takes no value\n", sl_opts[o].name);
			return -EINVAL;
		}
		if (sl_arg_set(a, (enum sl_opt)o, v))
			return -EINVAL;
	}
	if (!a->config) {
		fprintf(stderr, "sluice: --config FILE is required (after '--', behind the EAL "
			"options)\n");
		return -EINVAL;
	}
	if (a->max_keys && a->key_memory) {
		fprintf(stderr, "sluice: give --max-keys or --key-memory, not both\n");
		return -EINVAL;
	}
	return 0;
}

/* The key budget in keys: --max-keys, --key-memory, or what fits this process. */
static uint64_t sl_args_keys(const struct sl_args *a)
{
	struct sl_mem m;
	uint64_t n;

	if (a->max_keys)
		return a->max_keys;
	if (a->key_memory) {
		n = a->key_memory / SL_KEY_UNIT_BYTES;
		return n < 64 ? 64 : n > SL_KEYS_MAX ? SL_KEYS_MAX : n;
	}
	sl_mem_read(&m);
	return sl_engine_default_keys(&m);
}

/* Index of the "--" that ends the EAL options, or argc. */
static int sl_args_split(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--"))
			return i;
	return argc;
}

static bool sl_args_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static int sl_app_config(struct sl_app *app)
{
	struct sl_diag d = { 0 };
	int ret = sl_config_load(app->a.config, &app->cfg, &d);

	if (ret) {
		sl_diag_print(&d, stderr);
		if (!d.n)
			fprintf(stderr, "%s: %s\n", app->a.config, strerror(-ret));
	}
	sl_diag_free(&d);
	return ret ? SL_EXIT_ARGS : SL_EXIT_OK;
}

static int sl_app_engine(struct sl_app *app, unsigned nb_fwd)
{
	struct sl_engine_opts o = { .hz = app->hz, .nb_lcores = nb_fwd,
				    .max_keys = sl_args_keys(&app->a),
				    .can_shape = app->a.workers > 0 };
	struct sl_diag d = { 0 };
	int ret = sl_engine_create(app->cfg, &o, &app->e, &d);

	if (ret) {
		sl_diag_print(&d, stderr);
		fprintf(stderr, "sluice: cannot build the engine: %s\n", strerror(-ret));
	}
	sl_diag_free(&d);
	if (ret)	/* anything but memory is the policy's (e.g. a rate too small) */
		return ret == -ENOMEM ? SL_EXIT_DPDK : SL_EXIT_ARGS;
	if (app->info)
		fprintf(app->info, "sluice: %s: %u profile(s), %u tenant(s); %u forwarding "
			"lcore(s), TSC %.1f MHz; key budget %" PRIu64 " keys (%.0f MB)\n",
			app->cfg->path ? app->cfg->path : app->a.config, app->cfg->nb_profiles,
			app->cfg->nb_tenants, nb_fwd, app->hz / 1e6, o.max_keys,
			(double)o.max_keys * SL_KEY_UNIT_BYTES / (1 << 20));
	sl_config_free(app->cfg);
	app->cfg = NULL;
	return SL_EXIT_OK;
}

/* Lcores, engine, ports: everything that can fail, before any lcore is launched. */
static int sl_app_setup(struct sl_app *app)
{
	unsigned nb_fwd = rte_lcore_count() - 1, nb_ports = rte_eth_dev_count_avail();
	unsigned nb_workers = app->a.workers;
	int ret;

	if (!nb_fwd) {
		fprintf(stderr, "sluice: one lcore: give at least two (-l 0-1); the main lcore "
			"reports, the others forward\n");
		return SL_EXIT_ARGS;
	}
	if (nb_workers >= nb_fwd) {
		fprintf(stderr, "sluice: --workers %u: %u lcore(s) besides the main one; give at "
			"least %u (the main lcore, one that polices, the workers)\n", nb_workers,
			nb_fwd, nb_workers + 2);
		return SL_EXIT_ARGS;
	}
	nb_fwd -= nb_workers;	/* the first ones police (and transmit without workers) */
	if (!nb_ports) {
		fprintf(stderr, "sluice: no ports: bind NICs to a DPDK driver or give --vdev\n");
		return SL_EXIT_DPDK;
	}
	if (nb_ports > 1 && nb_ports % 2) {
		fprintf(stderr, "sluice: %u ports: ports are paired 0<->1, 2<->3, ...; give one "
			"port or an even number\n", nb_ports);
		return SL_EXIT_ARGS;
	}
	app->hz = rte_get_tsc_hz();
	ret = sl_app_engine(app, nb_fwd);
	if (ret)
		return ret;
	ret = sl_fwd_init(&app->fwd, app->e, app->hz, nb_fwd);
	if (ret < 0) {
		fprintf(stderr, "sluice: forwarding lcores: %s\n", strerror(-ret));
		return SL_EXIT_DPDK;
	}
	if (sl_ports_plan(&app->ports, nb_fwd, nb_workers, app->info))
		return SL_EXIT_DPDK;
	if (sl_ports_assign(&app->ports, &app->fwd, app->info))
		return SL_EXIT_ARGS;
	if (nb_workers) {
		struct sl_pipe_shape_opts sh = { app->a.shape_slot_us,
						 (uint32_t)app->a.shape_mbufs };

		if (sl_pipe_init(&app->pipe, &app->fwd, &app->ports, nb_workers, app->hz, &sh,
				 app->info))
			return SL_EXIT_DPDK;
		app->ports.held = sl_pipe_mbufs(nb_fwd, nb_workers, app->ports.nb, sh.mbufs);
	}
	if (sl_ports_start(&app->ports, app->a.mbufs, app->info))
		return SL_EXIT_DPDK;
	return SL_EXIT_OK;
}

static void sl_app_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sl_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Frames lost after the engine forwarded them, other than tenants' queue_drops (any time). */
static uint64_t sl_app_tx_dropped(const struct sl_app *app)
{
	return sl_fwd_tx_dropped(&app->fwd) + (app->a.workers ? sl_pipe_tx_dropped(&app->pipe) : 0);
}

static uint64_t sl_app_tx_dropped_of(const void *app)
{
	return sl_app_tx_dropped(app);
}

/* Reloads, eviction and telemetry commands (sl_ctl.h), from just before launch. */
static int sl_app_ctl(struct sl_app *app)
{
	int ret = sl_ctl_init(&app->ctl, app->e, sl_app_tx_dropped_of, app, app->a.config,
			      app->a.watch, app->hz, rte_rdtsc());

	if (!ret)
		ret = sl_ctl_telemetry(&app->ctl);
	if (ret)
		fprintf(stderr, "sluice: control path: %s\n", strerror(-ret));
	return ret ? SL_EXIT_DPDK : SL_EXIT_OK;
}

static void sl_app_tick(struct sl_app *app, struct sl_live *lv, uint64_t now)
{
	struct sl_stats s;

	memset(&s, 0, sizeof(s));
	if (sl_engine_stats(app->e, &s) == 0) {
		s.shape_held = app->a.workers ? sl_pipe_shape_held(&app->pipe) : 0;
		sl_live_tick(lv, &s, sl_app_tx_dropped(app), now);
	}
	sl_stats_free(&s);
}

/* Main lcore while the others forward: live table, until a signal or the deadline. */
static void sl_app_control(struct sl_app *app)
{
	uint64_t hz = app->hz, start = rte_rdtsc(), never = UINT64_MAX;
	uint64_t step = (uint64_t)(app->a.interval * (double)hz);
	uint64_t deadline = app->a.duration > 0 ? start + (uint64_t)(app->a.duration * hz) : never;
	uint64_t next = app->a.quiet ? never : start + step;
	struct sl_live lv;

	sl_live_init(&lv, stdout, hz, start);
	lv.top = app->a.top;	/* --top */
	while (!sl_signalled) {
		uint64_t now = rte_rdtsc(), wake, nap;

		if (now >= deadline)
			break;
		sl_ctl_poll(&app->ctl, now);
		now = rte_rdtsc();
		if (now >= next) {
			sl_app_tick(app, &lv, now);
			next += step;
			if (next <= now)
				next = now + step;
		}
		wake = next < deadline ? next : deadline;
		nap = wake - now >= hz ? SL_CONTROL_NAP_US : (wake - now) * US_PER_S / hz;
		rte_delay_us_sleep(nap > SL_CONTROL_NAP_US ? SL_CONTROL_NAP_US : nap + 1);
	}
	if (sl_signalled && app->info)
		fprintf(app->info, "sluice: %s: stopping\n", strsignal(sl_signalled));
	sl_live_free(&lv);
}

static int sl_app_report(struct sl_app *app, const struct sl_stats *s, double elapsed)
{
	FILE *f = fopen(app->a.report, "w");
	int ret;

	if (!f) {
		fprintf(stderr, "sluice: --report %s: %s\n", app->a.report, strerror(errno));
		return SL_EXIT_ARGS;
	}
	ret = sl_stats_write_json(s, elapsed, f);
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret) {
		fprintf(stderr, "sluice: --report %s: %s\n", app->a.report, strerror(-ret));
		return SL_EXIT_ARGS;
	}
	return SL_EXIT_OK;
}

/* Start every forwarding lcore. Returns 0 or an exit status (launched ones keep running). */
static int sl_app_launch(struct sl_app *app)
{
	if (app->a.workers && sl_pipe_launch(&app->pipe))
		return SL_EXIT_DPDK;
	for (unsigned i = 0; !app->a.workers && i < app->fwd.nb_lcores; i++) {
		unsigned id = app->fwd.lcores[i]->lcore_id;
		int ret = rte_eal_remote_launch(sl_fwd_main, &app->fwd, id);

		if (ret) {
			fprintf(stderr, "sluice: cannot launch lcore %u: %s\n", id,
				rte_strerror(-ret));
			return SL_EXIT_DPDK;
		}
	}
	if (app->info)
		fprintf(app->info, "sluice: forwarding%s\n",
			app->a.duration > 0 ? "" : " (SIGINT or SIGTERM stops)");
	return SL_EXIT_OK;
}

/* After the lcores returned at TSC end: final counters and the report. */
static int sl_app_finish(struct sl_app *app, uint64_t end)
{
	uint64_t first = sl_fwd_first_tsc(&app->fwd);
	double elapsed = first && end > first ? (double)(end - first) / (double)app->hz : 0;
	struct sl_stats s;
	int ret, code = SL_EXIT_OK;

	memset(&s, 0, sizeof(s));
	ret = sl_engine_stats(app->e, &s);
	if (ret) {
		fprintf(stderr, "sluice: counters: %s\n", strerror(-ret));
		return SL_EXIT_DPDK;
	}
	s.tx_dropped = sl_app_tx_dropped(app);
	s.shape_held = app->a.workers ? sl_pipe_shape_held(&app->pipe) : 0;
	sl_live_final(&s, elapsed, app->a.top, stdout);	/* sl_stats_print, --top rows */
	if (app->a.workers)
		sl_pipe_final(&app->pipe, &s, stdout);
	sl_fwd_stalls_final(&app->fwd, app->a.workers ? "police" : "forward", app->hz, stdout);
	if (app->a.report)
		code = sl_app_report(app, &s, elapsed);
	sl_stats_free(&s);
	return code;
}

/* Launch, control until a signal or --duration, stop the lcores, close the ports, report. */
static int sl_app_run(struct sl_app *app)
{
	uint64_t end;
	int code;

	sl_app_signals();
	code = sl_app_ctl(app);
	if (!code && app->a.metrics) {
		app->msrc = (struct sl_metrics_src){ .e = app->e, .fwd = &app->fwd,
			.pipe = app->a.workers ? &app->pipe : NULL, .ctl = &app->ctl, .hz = app->hz,
			.start_tsc = rte_rdtsc(), .tx_dropped = sl_app_tx_dropped_of, .tx_arg = app };
		if (sl_metrics_start(&app->metrics, app->a.metrics, &app->msrc))
			code = SL_EXIT_ARGS;
		else if (app->info)
			fprintf(app->info, "sluice: metrics at http://%s/metrics\n", app->a.metrics);
	}
	if (!code)
		code = sl_app_launch(app);
	if (!code)
		sl_app_control(app);
	/* drain order: RX stops, policing lcores return, workers empty the rings and flush */
	if (app->a.workers)
		sl_pipe_stop(&app->pipe);
	else
		atomic_store_explicit(&app->fwd.stop, true, memory_order_release);
	rte_eal_mp_wait_lcore();
	end = rte_rdtsc();
	if (app->info)
		sl_ctl_port_totals(app->info);
	sl_ports_close(&app->ports);	/* a net_pcap tx file is complete from here */
	return code ? code : sl_app_finish(app, end);
}

static void sl_app_fini(struct sl_app *app)
{
	sl_metrics_stop(app->metrics);	/* first: no scrape reads the engine after this */
	app->metrics = NULL;
	sl_ctl_fini(&app->ctl);	/* no telemetry command runs after this */
	if (app->eal)
		sl_ports_close(&app->ports);
	sl_pipe_free(&app->pipe);
	sl_fwd_free(&app->fwd);
	if (app->e)
		sl_engine_free(app->e);
	if (app->cfg)
		sl_config_free(app->cfg);
	if (app->eal)
		rte_eal_cleanup();
}

int main(int argc, char **argv)
{
	struct sl_app app;
	int sep = sl_args_split(argc, argv), ret, code;

	memset(&app, 0, sizeof(app));
	/*
	 * Reloads parse the policy into a fresh libyaml document each time: keep the freed heap
	 * (instead of unmapping and faulting it in again on every reload), so a 10,000-tenant
	 * reload costs its parsing, not tens of thousands of page faults. Bounded: at most
	 * 256 MiB of free heap is kept.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if (sl_args_help(argc, argv)) {
		sl_usage(stdout);
		return SL_EXIT_OK;
	}
	for (int i = 1; sep == argc && i < argc; i++)
		if (!strncmp(argv[i], "--check", 7))
			sep = 0;	/* sluice --check FILE: no EAL options */
	if (sl_args_parse(argc - sep - (sep < argc), argv + sep + (sep < argc), &app.a)) {
		fprintf(stderr, "sluice: see sluice --help\n");
		return SL_EXIT_ARGS;
	}
	if (app.a.check)
		return sl_ctl_check(app.a.config, sl_args_keys(&app.a), stdout, stderr);
	app.info = app.a.quiet ? NULL : stdout;
	code = sl_app_config(&app);
	if (code)
		return code;
	/*
	 * Until sl_app_run installs the handler that stops forwarding gracefully, SIGINT and
	 * SIGTERM end the start-up at once, as the operator asked, even when sluice inherited
	 * them ignored (a shell script's background job): such a signal was lost before.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sl_ctl_signals();	/* from here SIGHUP asks for a reload (done once forwarding) */
	rte_openlog_stream(stderr);
	ret = rte_eal_init(sep, argv);
	if (ret < 0) {
		fprintf(stderr, "sluice: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		sl_app_fini(&app);
		return SL_EXIT_DPDK;
	}
	app.eal = true;
	code = sl_app_setup(&app);
	if (!code)
		code = sl_app_run(&app);
	sl_app_fini(&app);
	return code;
}
