/* sl_bench.c - perf/sl-bench: cycles per packet of each data-path stage, of sl_process and of an
 * rte_hash + rte_meter baseline at several key counts and popularities; memory, inserts, flooding. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include "sl_bench.h"

#define MAX_SIZES 16
#define MAX_RUNS 101
#define EXT_KEYS 1000u		/* keys of the chained rte_hash demonstration */
#define EXT_PACKETS 16384u
#define MB (1ull << 20)

struct slb_ctx {
	struct slb_report rep;
	uint64_t keys[MAX_SIZES];
	unsigned nb_keys;
	uint64_t seed;
	uint64_t bracket;	/* cycles of an empty serialised TSC bracket */
	unsigned name_seq;	/* rte_hash names must be unique */
};

static void expect(struct slb_ctx *x, int ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void expect(struct slb_ctx *x, int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	x->rep.failures++;
	fprintf(stderr, "sl-bench: check failed: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void progress(uint64_t n, const char *what)
{
	fprintf(stderr, "sl-bench: %" PRIu64 " keys: %s\n", n, what);
}

/* ----------------------------------------------------------------- timing */

static uint64_t ctx_switches(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

struct chunk {
	uint64_t cycles;
	uint32_t items;
	double cpi;		/* cycles per item */
};

static int cmp_chunk(const void *a, const void *b)
{
	const struct chunk *x = a, *y = b;

	return (x->cpi > y->cpi) - (x->cpi < y->cpi);
}

/*
 * Robust cycles per item of the kept chunks c[0..k): the core (a vCPU of a shared VM) is taken
 * away now and then by the host or by other people's work, which shows as chunks several
 * times slower than their neighbours. Chunks slower than SLB_SLOW x the median chunk are
 * dropped; the rest are summed (cycles / items). Undisturbed chunks of 2048 items vary by a
 * few percent, so only stolen time is removed.
 */
static double robust_cpi(struct slb_ctx *x, struct chunk *c, unsigned k)
{
	uint64_t cyc = 0, items = 0;
	double limit;

	qsort(c, k, sizeof(*c), cmp_chunk);
	limit = c[k / 2].cpi * SLB_SLOW;
	for (unsigned i = 0; i < k; i++) {
		if (c[i].cpi > limit) {
			x->rep.slow += k - i;
			break;
		}
		cyc += c[i].cycles;
		items += c[i].items;
	}
	return (double)cyc / (double)items;
}

/*
 * Run fn over items [0, n) in chunks of SLB_CHUNK (all of the work is done) and return the
 * cycles per item of the chunks kept: not those during which this thread was switched out
 * (context switch count changed), nor those robust_cpi finds slow.
 */
static double timed(struct slb_ctx *x, slb_loop *fn, struct slb_job *j, uint64_t n)
{
	unsigned nb = (unsigned)((n + SLB_CHUNK - 1) / SLB_CHUNK), k = 0;
	struct chunk *c = malloc(nb * sizeof(*c));
	uint64_t all = 0;
	double cpi;

	for (uint64_t from = 0; from < n; from += SLB_CHUNK) {
		uint32_t to = (uint32_t)(n - from < SLB_CHUNK ? n : from + SLB_CHUNK);
		uint64_t cs = ctx_switches(), cyc = fn(j, (uint32_t)from, to);

		all += cyc;
		x->rep.chunks++;
		if (ctx_switches() != cs) {
			x->rep.disturbed++;
			continue;
		}
		if (c)
			c[k++] = (struct chunk){ cyc, to - (uint32_t)from,
						 (double)cyc / (double)(to - from) };
	}
	cpi = c && k ? robust_cpi(x, c, k) : (double)all / (double)n;
	free(c);
	return cpi;
}

/* --------------------------------------------------------------- inserts */

/* Median keys/s of `runs` empty tables each filled with ks; the last one stays, warm. */
static int insert_table(struct slb_ctx *x, struct slb_sluice *sl, const struct slb_keys *ks,
			double *rate, double *bytes, double *rss)
{
	double v[MAX_RUNS];
	uint64_t rss0 = slb_rss_bytes();

	for (unsigned run = 0; run < x->rep.runs; run++) {
		struct slb_job j = { .sl = sl, .ks = ks };
		int r = slb_sluice_table(sl);

		if (r)
			return r;
		v[run] = (double)x->rep.hz / timed(x, slb_time_insert, &j, ks->n);
		if (!run)
			*rss = (double)(slb_rss_bytes() - rss0) / (double)ks->n;
		expect(x, j.ok == ks->n, "table insert: %" PRIu64 " of %" PRIu64 " keys created",
		       j.ok, ks->n);
	}
	expect(x, sl_table_count(sl->t) == ks->n, "table holds %" PRIu64 " keys, not %" PRIu64,
	       sl_table_count(sl->t), ks->n);
	*rate = median(v, x->rep.runs);
	*bytes = (double)sl_table_memory(sl->t) / (double)ks->n;
	return 0;
}

static void check_engine_keys(struct slb_ctx *x, struct sl_engine *e, uint64_t n)
{
	struct sl_stats st;

	if (sl_engine_stats(e, &st)) {
		expect(x, 0, "engine stats: out of memory");
		return;
	}
	expect(x, st.t[0].keys == n && st.t[0].c.table_full == 0,
	       "engine holds %" PRIu64 " keys (%" PRIu64 " refused), not %" PRIu64,
	       st.t[0].keys, st.t[0].c.table_full, n);
	sl_stats_free(&st);
}

/*
 * Median keys/s of new keys through sl_process of an empty engine with `lcores` contexts
 * (fed from context 0); the last engine stays, warm.
 */
static int insert_pipeline(struct slb_ctx *x, struct slb_sluice *sl, const struct slb_keys *ks,
			   unsigned lcores, unsigned runs, double *rate)
{
	double v[MAX_RUNS];
	struct slb_job j = { .sl = sl, .ks = ks };
	int r = 0;

	j.buf = aligned_alloc(64, (size_t)SLB_CHUNK * SLB_FRAME);
	if (!j.buf)
		return -ENOMEM;
	for (unsigned run = 0; !r && run < runs; run++) {
		r = slb_sluice_engine(sl, lcores);
		if (r)
			break;
		j.lc = lcores > 1 ? sl->lc2 : sl->lc;
		j.ok = 0;
		v[run] = (double)x->rep.hz / timed(x, slb_time_pipeline_insert, &j, ks->n);
		expect(x, j.ok == ks->n, "pipeline insert forwarded %" PRIu64 " of %" PRIu64, j.ok,
		       ks->n);
		check_engine_keys(x, lcores > 1 ? sl->e2 : sl->e, ks->n);
	}
	free(j.buf);
	if (!r)
		*rate = median(v, runs);
	return r;
}

static int base_create(struct slb_ctx *x, struct slb_base *b, uint64_t n, int ext)
{
	char name[32];

	snprintf(name, sizeof(name), "slb%u", x->name_seq++);
	return slb_base_create(b, n, ext, name);
}

/* Median keys/s of rte_hash_add_key + meter config into empty tables; the last one stays. */
static int insert_base(struct slb_ctx *x, struct slb_base *b, const struct slb_keys *ks,
		       struct slb_size *sz)
{
	double v[MAX_RUNS];
	uint64_t rss0 = slb_rss_bytes();

	for (unsigned run = 0; run < x->rep.runs; run++) {
		struct slb_job j = { .b = b, .ks = ks };
		int r;

		slb_base_free(b);
		r = base_create(x, b, ks->n, 0);
		if (r)
			return r;
		v[run] = (double)x->rep.hz / timed(x, slb_time_base_insert, &j, ks->n);
		if (!run)
			sz->base_rss = (double)(slb_rss_bytes() - rss0) / (double)ks->n;
		expect(x, j.ok == ks->n, "rte_hash took %" PRIu64 " of %" PRIu64 " random keys",
		       j.ok, ks->n);
	}
	sz->base_insert = median(v, x->rep.runs);
	sz->base_bytes = (double)b->heap_bytes / (double)ks->n;
	return 0;
}

/* ---------------------------------------------------------------- streams */

static slb_loop *const col_loop[SLB_COL_COUNT] = {
	[SLB_C_PARSE] = slb_time_parse,		[SLB_C_CLASSIFY] = slb_time_classify,
	[SLB_C_KEYHASH] = slb_time_keyhash,	[SLB_C_LOOKUP] = slb_time_lookup,
	[SLB_C_POLICE] = slb_time_police,	[SLB_C_PIPELINE] = slb_time_pipeline,
	[SLB_C_PIPE2] = slb_time_pipeline,	[SLB_C_SINGLE] = slb_time_one_burst,
	[SLB_C_TBLPOL] = slb_time_tblpol,
	[SLB_C_BASE] = slb_time_base,
};

/* What each column's j->ok must be after a pass over n packets of a warm table. */
static void check_column(struct slb_ctx *x, enum slb_col c, enum slb_pop pop,
			 const struct slb_job *j, uint32_t n)
{
	switch (c) {
	case SLB_C_LOOKUP:
		expect(x, j->ok == 0, "lookup stage created %" PRIu64 " keys in a warm table", j->ok);
		break;
	case SLB_C_POLICE:
	case SLB_C_PIPELINE:
	case SLB_C_PIPE2:
	case SLB_C_SINGLE:
	case SLB_C_TBLPOL:
		expect(x, j->ok == n, "column %d: %" PRIu64 " of %u packets conform", (int)c, j->ok,
		       n);
		break;
	case SLB_C_BASE:
		expect(x, pop == SLB_ADVERSARIAL || (j->hits == n && j->ok == n),
		       "baseline: %" PRIu64 " hits, %" PRIu64 " green of %u", j->hits, j->ok, n);
		break;
	default:
		break;
	}
}

/* One run of every column over s: cycles per packet into v[column][run]. */
static void run_columns(struct slb_ctx *x, struct slb_stream *s, struct slb_sluice *sl,
			struct slb_base *b, enum slb_pop pop, double v[][MAX_RUNS],
			unsigned run, uint64_t *hits)
{
	for (unsigned c = 0; c < SLB_COL_COUNT; c++) {
		struct slb_job j = { .s = s, .sl = sl, .b = b, .overhead = x->bracket };

		j.lc = c == SLB_C_PIPE2 ? sl->lc2 : sl->lc;
		v[c][run] = timed(x, col_loop[c], &j, s->n);
		check_column(x, (enum slb_col)c, pop, &j, s->n);
		if (c == SLB_C_BASE)
			*hits += j.hits;
		__asm__ volatile("" : : "r"(j.sink));
	}
}

static int measure_stream(struct slb_ctx *x, const struct slb_keys *ks, enum slb_pop pop,
			  struct slb_sluice *sl, struct slb_base *b)
{
	struct slb_row *row = &x->rep.rows[x->rep.nb_rows];
	double v[SLB_COL_COUNT][MAX_RUNS];
	struct slb_stream s;
	uint64_t hits = 0;
	int r;

	r = slb_stream_make(&s, ks, pop, x->rep.packets, x->seed * 31 + pop * 7 + ks->n);
	if (r)
		return r;
	r = slb_stream_prepare(&s, sl);
	expect(x, r == 0, "stream of %s keys does not parse to its keys", slb_pop_name(pop));
	for (unsigned run = 0; !r && run < x->rep.runs; run++)
		run_columns(x, &s, sl, b, pop, v, run, &hits);
	if (!r) {
		row->keys = ks->n;
		row->pop = pop;
		for (unsigned c = 0; c < SLB_COL_COUNT; c++)
			row->c[c] = median(v[c], x->rep.runs);
		row->base_hit = (double)hits / ((double)x->rep.runs * s.n);
		x->rep.nb_rows++;
	}
	slb_stream_free(&s);
	return r;
}

/* ------------------------------------------------------------------ sizes */

/* Engines with 1 and 2 lcores warm with ks; the 1-lcore one also gives the insert rate. */
static int warm_engines(struct slb_ctx *x, struct slb_sluice *sl, const struct slb_keys *ks,
			unsigned runs, double *rate)
{
	double dummy;
	int r = insert_pipeline(x, sl, ks, 1, runs, rate);

	return r ? r : insert_pipeline(x, sl, ks, 2, 1, &dummy);
}

static int measure_random(struct slb_ctx *x, uint64_t n, struct slb_size *sz)
{
	struct slb_base b = { 0 };
	struct slb_sluice sl;
	struct slb_keys ks;
	int r;

	progress(n, "random keys: inserts, table memory");
	r = slb_keys_make(&ks, n, 0, x->seed);
	if (r)
		return r;
	r = slb_sluice_init(&sl, n, x->rep.hz);
	if (!r)
		r = insert_table(x, &sl, &ks, &sz->sl_insert, &sz->sl_bytes, &sz->sl_rss);
	if (!r)
		r = warm_engines(x, &sl, &ks, x->rep.runs, &sz->sl_pipe_insert);
	if (!r)
		r = insert_base(x, &b, &ks, sz);
	for (unsigned p = SLB_UNIFORM; !r && p <= SLB_ZIPF; p++) {
		progress(n, p == SLB_UNIFORM ? "uniform stream" : "zipf stream");
		r = measure_stream(x, &ks, (enum slb_pop)p, &sl, &b);
	}
	slb_base_free(&b);
	slb_sluice_free(&sl);
	slb_keys_free(&ks);
	return r;
}

/* The fixed-seed rte_hash offered the first adversarial keys: how many it takes, at what cost. */
static int attack_base(struct slb_ctx *x, struct slb_base *b, const struct slb_keys *ks,
		       struct slb_size *sz)
{
	struct slb_job j = { .b = b, .ks = ks };
	int r = base_create(x, b, ks->n, 0);

	if (r)
		return r;
	sz->adv_tried = ks->n < SLB_ADV_PROBE ? ks->n : SLB_ADV_PROBE;
	sz->adv_try_cycles = timed(x, slb_time_base_insert, &j, sz->adv_tried);
	sz->adv_added = j.ok;
	return 0;
}

static int measure_adversarial(struct slb_ctx *x, uint64_t n, struct slb_size *sz)
{
	struct slb_base b = { 0 };
	double bytes, rss, rate;
	struct slb_sluice sl;
	struct slb_keys ks;
	int r;

	progress(n, "adversarial keys (crc32c seed 0 collisions)");
	r = slb_keys_make(&ks, n, 1, x->seed + 1);
	if (r)
		return r;
	r = slb_sluice_init(&sl, n, x->rep.hz);
	if (!r)
		r = insert_table(x, &sl, &ks, &sz->sl_adv_insert, &bytes, &rss);
	if (!r)
		r = warm_engines(x, &sl, &ks, 1, &rate);
	if (!r)
		r = attack_base(x, &b, &ks, sz);
	if (!r)
		r = measure_stream(x, &ks, SLB_ADVERSARIAL, &sl, &b);
	slb_base_free(&b);
	slb_sluice_free(&sl);
	slb_keys_free(&ks);
	return r;
}

/* rte_hash with chained buckets, random then colliding keys: lookup + meter per packet. */
static int measure_ext_one(struct slb_ctx *x, int adv, uint32_t packets)
{
	struct slb_ext *e = &x->rep.ext;
	struct slb_base b = { 0 };
	struct slb_stream s = { 0 };
	double v[MAX_RUNS];
	struct slb_keys ks;
	int r;

	r = slb_keys_make(&ks, EXT_KEYS, adv, x->seed + 2);
	if (r)
		return r;
	r = base_create(x, &b, EXT_KEYS, 1);
	if (!r) {
		struct slb_job j = { .b = &b, .ks = &ks };

		slb_time_base_insert(&j, 0, EXT_KEYS);
		e->added[adv] = j.ok;
		r = slb_stream_make(&s, &ks, SLB_UNIFORM, packets, x->seed + 3);
	}
	for (unsigned run = 0; !r && run < x->rep.runs; run++) {
		struct slb_job j = { .s = &s, .b = &b };

		v[run] = timed(x, slb_time_base, &j, s.n);
		expect(x, j.hits == s.n, "chained rte_hash: %" PRIu64 " hits of %u", j.hits, s.n);
	}
	if (!r)
		e->c[adv] = median(v, x->rep.runs);
	slb_stream_free(&s);
	slb_base_free(&b);
	slb_keys_free(&ks);
	return r;
}

static int measure_ext(struct slb_ctx *x)
{
	uint32_t packets = x->rep.packets < EXT_PACKETS ? x->rep.packets : EXT_PACKETS;
	int r;

	x->rep.ext.keys = EXT_KEYS;
	progress(EXT_KEYS, "rte_hash with chained buckets (EXT_TABLE) under attack");
	r = measure_ext_one(x, 0, packets);
	return r ? r : measure_ext_one(x, 1, packets);
}

/* ---------------------------------------------------------------- set-up */

static void usage(FILE *f)
{
	fprintf(f, "usage: sl-bench [--keys N,N,...] [--runs N] [--packets N] [--seed N] "
		   "[--csv] [--quick]\n"
		   "  --keys     live key counts (default 1000,100000,1000000,10000000)\n"
		   "  --runs     repetitions of each measurement, the median is reported "
		   "(default 5)\n"
		   "  --packets  packets per stream (default 1048576)\n"
		   "  --csv      machine-readable output\n"
		   "  --quick    small sizes for a smoke test (1000,20000 keys, 32768 packets, "
		   "3 runs)\n");
}

static int parse_keys(struct slb_ctx *x, char *arg)
{
	x->nb_keys = 0;
	for (char *t = strtok(arg, ","); t; t = strtok(NULL, ",")) {
		char *end;
		unsigned long long v = strtoull(t, &end, 10);

		if (*end || !v || v > (1ull << 31) || x->nb_keys == MAX_SIZES)
			return -EINVAL;
		x->keys[x->nb_keys++] = v;
	}
	return x->nb_keys ? 0 : -EINVAL;
}

static int parse_opts(struct slb_ctx *x, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "keys", required_argument, NULL, 'k' }, { "runs", required_argument, NULL, 'r' },
		{ "packets", required_argument, NULL, 'p' }, { "seed", required_argument, NULL, 's' },
		{ "csv", no_argument, NULL, 'c' }, { "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	char def[] = "1000,100000,1000000,10000000";
	int o, quick = 0, keys = 0, runs = 0, packets = 0;

	x->rep.runs = 5;
	x->rep.packets = 1u << 20;
	x->seed = 1;
	parse_keys(x, def);
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'k':
			keys = 1;
			if (parse_keys(x, optarg))
				return -EINVAL;
			break;
		case 'r':
			runs = 1;
			x->rep.runs = (unsigned)atoi(optarg);
			break;
		case 'p':
			packets = 1;
			x->rep.packets = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			x->seed = strtoull(optarg, NULL, 10);
			break;
		case 'c':
			x->rep.csv = 1;
			break;
		case 'q':
			quick = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (quick) {
		char q[] = "1000,20000";

		if (!keys)
			parse_keys(x, q);
		x->rep.runs = runs ? x->rep.runs : 3;
		x->rep.packets = packets ? x->rep.packets : 32768;
	}
	if (optind != argc || !x->rep.runs || x->rep.runs > MAX_RUNS ||
	    x->rep.packets < SLB_BURST)
		return -EINVAL;
	return 0;
}

/* DPDK heap for the baseline at the largest size: key store, buckets, free ring, meters. */
static uint64_t heap_mb(const struct slb_ctx *x)
{
	uint64_t n = 0, pow2 = 8;

	for (unsigned i = 0; i < x->nb_keys; i++)
		n = x->keys[i] > n ? x->keys[i] : n;
	while (pow2 < n)
		pow2 <<= 1;
	/* key slot (8 B + key) + meter per key; 8 B bucket share + 8 B ring per power-of-2 slot */
	n = (n * (8 + sizeof(struct sl_key) + sizeof(struct rte_meter_srtcm)) + pow2 * 16) / MB;
	return 256 + n + n / 4;
}

static unsigned first_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			return c;
	return 0;
}

/* EAL on the first CPU this process may run on (taskset), plain pages, no devices. */
static int eal_start(struct slb_ctx *x, char *prog)
{
	char lcore[16], mem[24], nohuge[] = "--no-huge", l[] = "-l", m[] = "-m";
	char noshconf[] = "--no-shconf", nopci[] = "--no-pci", log[] = "--log-level=error";
	char notel[] = "--no-telemetry";
	char *argv[] = { prog, l, lcore, nohuge, m, mem, noshconf, nopci, log, notel, NULL };

	x->rep.cpu = first_cpu();
	snprintf(lcore, sizeof(lcore), "%u", x->rep.cpu);
	snprintf(mem, sizeof(mem), "%" PRIu64, heap_mb(x));
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0)
		return -1;
	x->rep.hz = rte_get_tsc_hz();
	return 0;
}

static void print_header(const struct slb_ctx *x)
{
	FILE *f = stdout;
	const char *pre = x->rep.csv ? "# " : "";

	fprintf(f, "%ssl-bench: TSC %.3f GHz, cpu %u, %u runs (median), %u packets per stream "
		   "in bursts of %u, %u-byte UDP frames (1 in %u IPv6)\n", pre,
		(double)x->rep.hz / 1e9, x->rep.cpu, x->rep.runs, x->rep.packets, SLB_BURST,
		SLB_FRAME, SLB_IPV6_ONE_IN);
	fprintf(f, "%ssluice: 1 tenant, dedicated 5-tuple profile, 100 Gbit/s + 1 MB per key "
		   "(every packet conforms), keyed hash with a random secret\n", pre);
	fprintf(f, "%sbaseline: rte_hash (crc32c seed 0, the same %zu-byte keys) lookup_bulk x32 + "
		   "prefetch + rte_meter srTCM colour-blind check per hit\n", pre,
		sizeof(struct sl_key));
	fflush(f);
}

int main(int argc, char **argv)
{
	struct slb_size sizes[MAX_SIZES];
	struct slb_row rows[MAX_SIZES * SLB_POP_COUNT];
	struct slb_ctx x;
	int r = 0;

	memset(&x, 0, sizeof(x));
	memset(sizes, 0, sizeof(sizes));
	x.rep.rows = rows;
	x.rep.sizes = sizes;
	if (parse_opts(&x, argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (eal_start(&x, argv[0])) {
		fprintf(stderr, "sl-bench: cannot initialise DPDK EAL\n");
		return 1;
	}
	x.bracket = slb_tsc_bracket();
	print_header(&x);
	for (unsigned i = 0; !r && i < x.nb_keys; i++) {
		struct slb_size *sz = &sizes[x.rep.nb_sizes++];

		sz->keys = x.keys[i];
		r = measure_random(&x, x.keys[i], sz);
		if (!r)
			r = measure_adversarial(&x, x.keys[i], sz);
	}
	if (!r)
		r = measure_ext(&x);
	if (r) {
		fprintf(stderr, "sl-bench: %s\n", strerror(-r));
		rte_eal_cleanup();
		return 1;
	}
	slb_print_rows(&x.rep, stdout);
	slb_print_sizes(&x.rep, stdout);
	slb_print_flood(&x.rep, stdout);
	slb_print_targets(&x.rep, stdout);
	rte_eal_cleanup();
	if (x.rep.failures)
		fprintf(stderr, "sl-bench: %u consistency checks failed\n", x.rep.failures);
	return x.rep.failures ? 1 : 0;
}
