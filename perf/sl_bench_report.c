/* sl_bench_report.c - output of perf/sl-bench: cycles-per-packet rows, memory and inserts, hash
 * flooding, and each target of the issue judged against the measured figures (table or CSV). */
#include <inttypes.h>
#include <stdio.h>
#include "sl_bench.h"

#define TARGET_KEYS 1000000ull		/* size the cycle targets are stated at */
#define T_PIPELINE 100.0		/* cycles per packet */
#define T_POLICE 30.0
#define T_BYTES 96.0			/* per key, all included */
#define T_BIG_KEYS 10000000ull		/* ... so that this many fit in */
#define T_BIG_BYTES 1e9
#define T_INSERT 5e6			/* new keys per second per core */
#define T_FLOOD 2.0			/* adversarial / uniform */

static const char *const col_head[SLB_COL_COUNT] = {
#define SLB_X_HEAD(id, head, csv) head,
	SLB_COLUMNS(SLB_X_HEAD)
#undef SLB_X_HEAD
};

static const char *const col_csv[SLB_COL_COUNT] = {
#define SLB_X_CSV(id, head, csv) csv,
	SLB_COLUMNS(SLB_X_CSV)
#undef SLB_X_CSV
};

const char *slb_pop_name(enum slb_pop p)
{
	static const char *const names[SLB_POP_COUNT] = { "uniform", "zipf0.99", "adversarial" };

	return p < SLB_POP_COUNT ? names[p] : "?";
}

static const struct slb_row *find_row(const struct slb_report *r, uint64_t keys,
				      enum slb_pop pop)
{
	for (unsigned i = 0; i < r->nb_rows; i++)
		if (r->rows[i].keys == keys && r->rows[i].pop == pop)
			return &r->rows[i];
	return NULL;
}

static double stage_sum(const struct slb_row *w)
{
	return w->c[SLB_C_PARSE] + w->c[SLB_C_CLASSIFY] + w->c[SLB_C_KEYHASH] +
	       w->c[SLB_C_LOOKUP] + w->c[SLB_C_POLICE];
}

/* ------------------------------------------------------------------ rows */

static void rows_csv(const struct slb_report *r, FILE *f)
{
	fprintf(f, "cycles,keys,popularity");
	for (unsigned c = 0; c < SLB_COL_COUNT; c++)
		fprintf(f, ",%s", col_csv[c]);
	fprintf(f, ",stage_sum,pipe_per_base,tblpol_per_base,base_hit\n");
	for (unsigned i = 0; i < r->nb_rows; i++) {
		const struct slb_row *w = &r->rows[i];

		fprintf(f, "cycles,%" PRIu64 ",%s", w->keys, slb_pop_name(w->pop));
		for (unsigned c = 0; c < SLB_COL_COUNT; c++)
			fprintf(f, ",%.2f", w->c[c]);
		fprintf(f, ",%.2f,%.3f,%.3f,%.4f\n", stage_sum(w),
			w->c[SLB_C_PIPELINE] / w->c[SLB_C_BASE], w->c[SLB_C_TBLPOL] / w->c[SLB_C_BASE],
			w->base_hit);
	}
	fprintf(f, "# timed in chunks of %u; of %" PRIu64 " chunks, %" PRIu64 " dropped for a context "
		   "switch and %" PRIu64 " for taking over %.0fx the median chunk\n", SLB_CHUNK,
		r->chunks, r->disturbed, r->slow, SLB_SLOW);
}

void slb_print_rows(const struct slb_report *r, FILE *f)
{
	int starred = 0;

	if (r->csv) {
		rows_csv(r, f);
		return;
	}
	fprintf(f, "\ncycles per packet, median of %u runs (stages timed alone over the same "
		   "stream; police on entries in cache)\n", r->runs);
	fprintf(f, "%9s %-11s", "keys", "popularity");
	for (unsigned c = SLB_C_PARSE; c <= SLB_C_POLICE; c++)
		fprintf(f, " %8s", col_head[c]);
	fprintf(f, " %8s | %8s %8s %8s | %8s %9s | %9s %8s\n", "sum", col_head[SLB_C_PIPELINE],
		col_head[SLB_C_PIPE2], col_head[SLB_C_SINGLE], col_head[SLB_C_TBLPOL], col_head[SLB_C_BASE], "pipe/base",
		"tbl/base");
	for (unsigned i = 0; i < r->nb_rows; i++) {
		const struct slb_row *w = &r->rows[i];
		int star = w->pop == SLB_ADVERSARIAL;

		fprintf(f, "%9" PRIu64 " %-11s", w->keys, slb_pop_name(w->pop));
		for (unsigned c = SLB_C_PARSE; c <= SLB_C_POLICE; c++)
			fprintf(f, " %8.1f", w->c[c]);
		fprintf(f, " %8.1f | %8.1f %8.1f %8.1f | %8.1f %8.1f%c | %9.2f %8.2f\n",
			stage_sum(w), w->c[SLB_C_PIPELINE], w->c[SLB_C_PIPE2], w->c[SLB_C_SINGLE],
			w->c[SLB_C_TBLPOL], w->c[SLB_C_BASE],
			star ? '*' : ' ', w->c[SLB_C_PIPELINE] / w->c[SLB_C_BASE],
			w->c[SLB_C_TBLPOL] / w->c[SLB_C_BASE]);
		starred |= star;
	}
	fprintf(f, "  pipeline: the pipelined data path as the appliance runs it (stage burst k, "
		   "probe k-1, finish k-2), 1 lcore;\n  pipe-2lc: the same on an engine built for 2 "
		   "lcores (atomic bucket updates), fed by one; 1-burst: sl_process, one burst at a "
		   "time\n");
	fprintf(f, "  tbl+pol: sluice doing what the baseline does (keyed hash + table + police from "
		   "the key); pipe/base and tbl/base: ratio to the baseline\n");
	fprintf(f, "  timed in chunks of %u packets or keys; of %" PRIu64 " chunks, %" PRIu64 " dropped "
		   "for a context switch and %" PRIu64 " for taking over %.0fx the median chunk "
		   "(core taken away)\n", SLB_CHUNK, r->chunks, r->disturbed, r->slow, SLB_SLOW);
	if (starred)
		fprintf(f, "  *: the fixed-seed rte_hash refused most adversarial keys (see hash "
			   "flooding): its figure is mostly misses\n");
}

/* ----------------------------------------------------------------- sizes */

void slb_print_sizes(const struct slb_report *r, FILE *f)
{
	if (r->csv) {
		fprintf(f, "memory,keys,sl_bytes_per_key,sl_rss_per_key,sl_insert_per_s,"
			   "sl_pipeline_insert_per_s,base_bytes_per_key,base_rss_per_key,"
			   "base_insert_per_s\n");
		for (unsigned i = 0; i < r->nb_sizes; i++) {
			const struct slb_size *s = &r->sizes[i];

			fprintf(f, "memory,%" PRIu64 ",%.2f,%.2f,%.0f,%.0f,%.2f,%.2f,%.0f\n", s->keys,
				s->sl_bytes, s->sl_rss, s->sl_insert, s->sl_pipe_insert, s->base_bytes,
				s->base_rss, s->base_insert);
		}
		return;
	}
	fprintf(f, "\nmemory per key (table or hash + meters, all overhead included) and new-key "
		   "insert rate, median of %u runs\n", r->runs);
	fprintf(f, "%9s | %9s %9s %11s %13s | %9s %9s %11s\n", "keys", "sluice B", "RSS B",
		"insert M/s", "sl_process M/s", "rte B", "RSS B", "insert M/s");
	for (unsigned i = 0; i < r->nb_sizes; i++) {
		const struct slb_size *s = &r->sizes[i];

		fprintf(f, "%9" PRIu64 " | %9.1f %9.1f %11.2f %13.2f | %9.1f %9.1f %11.2f\n",
			s->keys, s->sl_bytes, s->sl_rss, s->sl_insert / 1e6, s->sl_pipe_insert / 1e6,
			s->base_bytes, s->base_rss, s->base_insert / 1e6);
	}
	fprintf(f, "  sluice B: sl_table_memory / keys; rte B: DPDK heap taken by rte_hash_create "
		   "+ the meter array / keys; RSS B: resident growth while creating and filling\n");
}

/* -------------------------------------------------------------- flooding */

static void flood_csv(const struct slb_report *r, FILE *f)
{
	fprintf(f, "flood,keys,pipe_uniform,pipe_adv,lookup_uniform,lookup_adv,sl_adv_insert_per_s,"
		   "base_offered,base_added,base_cycles_per_add,base_uniform,base_adv\n");
	for (unsigned i = 0; i < r->nb_sizes; i++) {
		const struct slb_size *s = &r->sizes[i];
		const struct slb_row *u = find_row(r, s->keys, SLB_UNIFORM);
		const struct slb_row *a = find_row(r, s->keys, SLB_ADVERSARIAL);

		if (!u || !a)
			continue;
		fprintf(f, "flood,%" PRIu64 ",%.2f,%.2f,%.2f,%.2f,%.0f,%" PRIu64 ",%" PRIu64
			   ",%.0f,%.2f,%.2f\n", s->keys, u->c[SLB_C_PIPELINE], a->c[SLB_C_PIPELINE],
			u->c[SLB_C_LOOKUP], a->c[SLB_C_LOOKUP], s->sl_adv_insert, s->adv_tried,
			s->adv_added, s->adv_try_cycles, u->c[SLB_C_BASE], a->c[SLB_C_BASE]);
	}
	fprintf(f, "ext,keys,added_random,added_adv,cycles_random,cycles_adv\n");
	fprintf(f, "ext,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.2f,%.2f\n", r->ext.keys,
		r->ext.added[0], r->ext.added[1], r->ext.c[0], r->ext.c[1]);
}

void slb_print_flood(const struct slb_report *r, FILE *f)
{
	if (r->csv) {
		flood_csv(r, f);
		return;
	}
	fprintf(f, "\nhash flooding: every adversarial key has the same crc32c (seed 0) 32-bit "
		   "hash, built by solving the CRC's linear equations on 32 source-address bits\n");
	fprintf(f, "%9s | %-30s | %-14s | %-38s\n", "", "sluice pipeline cyc/pkt", "lookup cyc/pkt",
		"rte_hash crc32c seed 0 (fixed)");
	fprintf(f, "%9s | %8s %8s %5s %6s | %6s %7s | %15s %8s %13s\n", "keys", "uniform",
		"advers.", "ratio", "ins/s", "unif.", "advers.", "added/offered", "cyc/add",
		"lookup+meter");
	for (unsigned i = 0; i < r->nb_sizes; i++) {
		const struct slb_size *s = &r->sizes[i];
		const struct slb_row *u = find_row(r, s->keys, SLB_UNIFORM);
		const struct slb_row *a = find_row(r, s->keys, SLB_ADVERSARIAL);
		char taken[32];

		if (!u || !a)
			continue;
		snprintf(taken, sizeof(taken), "%" PRIu64 "/%" PRIu64, s->adv_added, s->adv_tried);
		fprintf(f, "%9" PRIu64 " | %8.1f %8.1f %5.2f %5.1fM | %6.1f %7.1f | %15s %8.0f "
			   "%5.1f->%-6.1f\n", s->keys, u->c[SLB_C_PIPELINE], a->c[SLB_C_PIPELINE],
			a->c[SLB_C_PIPELINE] / u->c[SLB_C_PIPELINE], s->sl_adv_insert / 1e6,
			u->c[SLB_C_LOOKUP], a->c[SLB_C_LOOKUP], taken, s->adv_try_cycles,
			u->c[SLB_C_BASE], a->c[SLB_C_BASE]);
	}
	fprintf(f, "  sluice's table keeps every adversarial key (ins/s: new keys per second); "
		   "rte_hash refuses all but those two buckets hold\n");
	fprintf(f, "  rte_hash with chained buckets (EXT_TABLE), %" PRIu64 " keys: random %.1f "
		   "cyc/pkt (%" PRIu64 " added), adversarial %.1f cyc/pkt (%" PRIu64 " added): "
		   "%.0fx slower\n", r->ext.keys, r->ext.c[0], r->ext.added[0], r->ext.c[1],
		r->ext.added[1], r->ext.c[1] / r->ext.c[0]);
}

/* --------------------------------------------------------------- targets */

static void verdict(const struct slb_report *r, FILE *f, int measured, int met,
		    const char *what, const char *fmt, double a, double b)
{
	const char *v = !measured ? "n/a" : met ? "MET" : "NOT MET";

	if (r->csv) {
		fprintf(f, "target,\"%s\",%.3f,%.3f,%s\n", what, a, b, v);
		return;
	}
	fprintf(f, "  [%-7s] %s: ", v, what);
	if (measured)
		fprintf(f, fmt, a, b);
	else
		fprintf(f, "not measured with these --keys");
	fputc('\n', f);
}

static void targets_cycles(const struct slb_report *r, FILE *f)
{
	const struct slb_row *w = find_row(r, TARGET_KEYS, SLB_UNIFORM);
	double pipe = w ? w->c[SLB_C_PIPELINE] : 0, base = w ? w->c[SLB_C_BASE] : 0;
	unsigned below = 0, rows = 0;

	verdict(r, f, !!w, pipe <= T_PIPELINE, "pipeline at 1M keys uniform <= 100 cyc/pkt",
		"%.1f (limit %.0f)", pipe, T_PIPELINE);
	verdict(r, f, !!w, w && w->c[SLB_C_POLICE] <= T_POLICE,
		"police stage at 1M keys uniform <= 30 cyc/pkt", "%.1f (limit %.0f)",
		w ? w->c[SLB_C_POLICE] : 0, T_POLICE);
	verdict(r, f, !!w, pipe <= base, "pipeline <= rte_hash + rte_meter at 1M keys uniform",
		"%.1f vs %.1f", pipe, base);
	for (unsigned i = 0; i < r->nb_rows; i++) {
		if (r->rows[i].pop == SLB_ADVERSARIAL)
			continue;
		rows++;
		below += r->rows[i].c[SLB_C_PIPELINE] <= r->rows[i].c[SLB_C_BASE];
	}
	verdict(r, f, rows > 0, below == rows, "pipeline <= baseline, every uniform/zipf row",
		"%.0f of %.0f rows", below, rows);
}

static void targets_memory(const struct slb_report *r, FILE *f)
{
	const struct slb_size *big = NULL;
	double worst_ins = 0, worst_pipe = 0, worst_flood = 0;
	uint64_t ins_keys = 0, pipe_keys = 0;

	for (unsigned i = 0; i < r->nb_sizes; i++) {
		const struct slb_size *s = &r->sizes[i];
		const struct slb_row *u = find_row(r, s->keys, SLB_UNIFORM);
		const struct slb_row *a = find_row(r, s->keys, SLB_ADVERSARIAL);

		if (!big || s->keys > big->keys)
			big = s;
		if (!ins_keys || s->sl_insert < worst_ins)
			worst_ins = s->sl_insert, ins_keys = s->keys;
		if (!pipe_keys || s->sl_pipe_insert < worst_pipe)
			worst_pipe = s->sl_pipe_insert, pipe_keys = s->keys;
		if (u && a && a->c[SLB_C_PIPELINE] / u->c[SLB_C_PIPELINE] > worst_flood)
			worst_flood = a->c[SLB_C_PIPELINE] / u->c[SLB_C_PIPELINE];
	}
	if (!big)
		return;
	verdict(r, f, 1, big->sl_bytes <= T_BYTES, "bytes per key <= 96 at the largest size",
		"%.2f at %.0f keys", big->sl_bytes, (double)big->keys);
	verdict(r, f, big->keys >= T_BIG_KEYS,
		big->sl_bytes * (double)T_BIG_KEYS < T_BIG_BYTES, "10M keys in under 1 GB (1e9 B)",
		"%.0f bytes (%.2f B/key)", big->sl_bytes * (double)T_BIG_KEYS, big->sl_bytes);
	verdict(r, f, 1, worst_ins >= T_INSERT, "table insert >= 5M new keys/s, every size",
		"lowest %.2fM/s (at %.0f keys)", worst_ins / 1e6, (double)ins_keys);
	verdict(r, f, 1, worst_pipe >= T_INSERT, "sl_process new keys >= 5M/s, every size",
		"lowest %.2fM/s (at %.0f keys)", worst_pipe / 1e6, (double)pipe_keys);
	verdict(r, f, worst_flood > 0, worst_flood <= T_FLOOD,
		"adversarial pipeline within 2x of uniform, every size", "worst ratio %.2f (limit %.0f)",
		worst_flood, T_FLOOD);
}

void slb_print_targets(const struct slb_report *r, FILE *f)
{
	if (r->csv)
		fprintf(f, "target,name,value,limit_or_other,verdict\n");
	else
		fprintf(f, "\ntargets\n");
	targets_cycles(r, f);
	targets_memory(r, f);
}
