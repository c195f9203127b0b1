/* sl_bench.h - shared declarations of the data-path micro-benchmark (perf/sl-bench): key
 * populations, packet streams, timed stage loops and the rte_hash + rte_meter baseline. */
#ifndef SL_BENCH_H
#define SL_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <rte_hash.h>
#include <rte_meter.h>
#include "sl_classify.h"
#include "sl_bench_mem.h"
#include "sl_engine.h"
#include "sl_hash.h"
#include "sl_table.h"
#include "sl_tb.h"

#define SLB_BURST 32		/* packets per burst, as an rx burst of a DPDK port */
#define SLB_FRAME 64		/* bytes of every frame (its len and caplen), and its stride */
#define SLB_IPV6_ONE_IN 8	/* one key in 8 is IPv6 */
#define SLB_ADV_PROBE 65536	/* adversarial inserts tried in the fixed-seed rte_hash */
#define SLB_CHUNK 2048u		/* items per timed chunk (a multiple of SLB_BURST) */
#define SLB_SLOW 2.0		/* a chunk this many times slower than the median lost the core */

enum slb_pop {
	SLB_UNIFORM,		/* random flows, each packet picks one uniformly */
	SLB_ZIPF,		/* same flows, Zipf(0.99) popularity */
	SLB_ADVERSARIAL,	/* flows crafted to collide under crc32c seed 0, uniform */
	SLB_POP_COUNT
};

/* ------------------------------------------------------------ keys and frames */

/* A key population: n distinct 5-tuple keys as sl_key_make builds them for tenant 0. */
struct slb_keys {
	uint64_t n;
	int adversarial;
	uint32_t crc;		/* adversarial: rte_hash_crc(key, sizeof(key), 0) of every key */
	struct sl_key *k;	/* n keys (slb_alloc) */
};

int slb_keys_make(struct slb_keys *ks, uint64_t n, int adversarial, uint64_t seed);
void slb_keys_free(struct slb_keys *ks);

/* Write the 64-byte UDP frame (IPv4 or IPv6) whose parse gives key k. */
void slb_frame(const struct sl_key *k, uint8_t *frame);

/* Deterministic generator (splitmix64) and Zipf sampler over ranks 1..n. */
struct slb_rng {
	uint64_t s;
};

uint64_t slb_rand(struct slb_rng *r);
/* Uniform integer in [0, n), n < 2^32. */
uint32_t slb_rand_below(struct slb_rng *r, uint32_t n);

struct slb_zipf {
	uint64_t n;
	double s, hx1, hn, sv;
};

void slb_zipf_init(struct slb_zipf *z, uint64_t n, double s);
uint64_t slb_zipf_next(const struct slb_zipf *z, struct slb_rng *r);

/* ------------------------------------------------------------------ streams */

/*
 * A packet stream over a key population: frames laid out one per 64-byte line in arrival
 * order, plus what each stage needs as input, precomputed (untimed) by slb_stream_prepare.
 */
struct slb_stream {
	uint32_t n;			/* packets, a multiple of SLB_BURST */
	uint32_t *idx;			/* key index of each packet */
	uint8_t *frames;		/* n * SLB_FRAME */
	uint8_t **data;			/* frame pointers, for sl_process */
	struct sl_pkt *pkt;		/* parsed */
	struct sl_key *key;		/* the population's key of each packet */
	uint64_t *hash;			/* sl_hash under the stage table's secret */
	struct sl_entry **ent;		/* the stage table's entries */
	const void **bkey;		/* key pointers for rte_hash_lookup_bulk */
	uint32_t len[SLB_BURST];	/* 64 */
};

int slb_stream_make(struct slb_stream *s, const struct slb_keys *ks, enum slb_pop pop,
		    uint32_t n, uint64_t seed);
void slb_stream_free(struct slb_stream *s);

/* ------------------------------------------------------- sluice under test */

/* The stage table and the engine built on one key population, plus the policer params. */
struct slb_sluice {
	uint64_t n;
	uint64_t hz;			/* TSC */
	struct sl_hash_secret secret;
	struct sl_tb_params tb;		/* the profile's bucket compiled for the TSC */
	uint64_t init;			/* tokens of a new key */
	struct sl_classifier cls;
	struct sl_table *t;		/* stage table */
	struct sl_table_cache cache;
	struct sl_engine *e;
	struct sl_lcore *lc;
	struct sl_engine *e2;		/* the same with 2 lcores: atomic bucket updates */
	struct sl_lcore *lc2;
	struct sl_config cfg;
	struct sl_cfg_profile prof;
	struct sl_cfg_tenant ten;
	struct sl_cfg_match match;
};

int slb_sluice_init(struct slb_sluice *sl, uint64_t n, uint64_t hz);
int slb_sluice_table(struct slb_sluice *sl);		/* (re)create an empty stage table */
/* (re)create an empty engine with 1 or 2 lcores */
int slb_sluice_engine(struct slb_sluice *sl, unsigned lcores);
void slb_sluice_free(struct slb_sluice *sl);
/*
 * Untimed: parse and classify every frame of s, check its key is the population's, hash it
 * and look it up in the stage table. -EPROTO if any step disagrees or a key is missing.
 */
int slb_stream_prepare(struct slb_stream *s, struct slb_sluice *sl);

/*
 * What a timed loop works on; each loop covers items [from, to) (packets of the stream, or
 * keys of the population for inserts, bursts of SLB_BURST) and returns the TSC cycles of its
 * timed part. Results go to sink/ok/hits so that the compiler keeps the work.
 */
struct slb_job {
	struct slb_stream *s;
	struct slb_sluice *sl;
	struct slb_base *b;
	const struct slb_keys *ks;	/* inserts */
	struct sl_lcore *lc;		/* pipeline: the context of the engine under test */
	uint64_t overhead;		/* police: cycles of an empty serialised TSC bracket */
	uint8_t *buf;			/* pipeline inserts: frames of one chunk */
	uint64_t sink;
	uint64_t ok;			/* conforming, forwarded or green packets; keys created */
	uint64_t hits;			/* lookups that found their key */
};

typedef uint64_t slb_loop(struct slb_job *j, uint32_t from, uint32_t to);

slb_loop slb_time_parse, slb_time_classify, slb_time_keyhash, slb_time_lookup;
slb_loop slb_time_police, slb_time_tblpol, slb_time_pipeline, slb_time_one_burst;
slb_loop slb_time_insert, slb_time_pipeline_insert;
/* Cycles of one empty serialised TSC bracket (subtracted per burst by slb_time_police). */
uint64_t slb_tsc_bracket(void);

/* ----------------------------------------------------------------- baseline */

/* What an engineer would build: rte_hash (crc32c, seed 0) -> position -> srTCM meter. */
struct slb_base {
	struct rte_hash *h;
	struct rte_meter_srtcm *m;		/* one per position */
	struct rte_meter_srtcm_profile prof;
	uint64_t n;
	uint64_t heap_bytes;			/* DPDK heap taken by hash + meters */
};

int slb_base_create(struct slb_base *b, uint64_t n, int ext_table, const char *name);
void slb_base_free(struct slb_base *b);
/* rte_hash_add_key + meter config of keys [from, to) of j->ks; j->ok counts the added. */
slb_loop slb_time_base_insert;
/* rte_hash_lookup_bulk per burst of 32, then the colour-blind check of each hit. */
slb_loop slb_time_base;

/* ------------------------------------------------------------------ results */

/* Timed columns of a row: id, header, CSV name. */
#define SLB_COLUMNS(X)                                  \
	X(PARSE, "parse", "parse")                       \
	X(CLASSIFY, "classify", "classify")              \
	X(KEYHASH, "key+hash", "keyhash")                \
	X(LOOKUP, "lookup", "lookup")                    \
	X(POLICE, "police", "police")                    \
	X(PIPELINE, "pipeline", "pipeline")              \
	X(PIPE2, "pipe-2lc", "pipeline_2lcores")         \
	X(SINGLE, "1-burst", "pipeline_one_burst")       \
	X(TBLPOL, "tbl+pol", "tblpol")                   \
	X(BASE, "baseline", "baseline")

enum slb_col {
#define SLB_X_ENUM(id, head, csv) SLB_C_##id,
	SLB_COLUMNS(SLB_X_ENUM)
#undef SLB_X_ENUM
	SLB_COL_COUNT
};

/* One (keys, popularity): median cycles per packet of each column. */
struct slb_row {
	uint64_t keys;
	enum slb_pop pop;
	double c[SLB_COL_COUNT];
	double base_hit;		/* share of baseline lookups that found their key */
};

/* Per key count: memory and insert rates (medians), and the fixed-seed rte_hash under attack. */
struct slb_size {
	uint64_t keys;
	double sl_bytes, sl_rss;	/* bytes per key: sl_table_memory, RSS delta */
	double sl_insert;		/* new keys/s into the table (hash + insert) */
	double sl_pipe_insert;		/* new keys/s through sl_process */
	double sl_adv_insert;		/* new adversarial keys/s into the table */
	double base_bytes, base_rss;	/* rte_hash + meter array: DPDK heap, RSS delta */
	double base_insert;		/* rte_hash_add_key + meter config, keys/s */
	uint64_t adv_tried, adv_added;	/* adversarial keys offered to / taken by rte_hash */
	double adv_try_cycles;		/* cycles per adversarial rte_hash_add_key */
};

/* rte_hash with chained overflow buckets (EXT_TABLE) under the same attack. */
struct slb_ext {
	uint64_t keys;
	uint64_t added[2];		/* random, adversarial */
	double c[2];			/* lookup + meter cycles per packet */
};

struct slb_report {
	uint64_t hz;
	uint64_t chunks;		/* timed chunks */
	uint64_t disturbed, slow;	/* dropped: context switch, or > SLB_SLOW x the median */
	unsigned cpu, runs;
	uint32_t packets;
	int csv;
	unsigned nb_rows, nb_sizes;
	struct slb_row *rows;
	struct slb_size *sizes;
	struct slb_ext ext;
	unsigned failures;		/* consistency checks that did not hold */
};

const char *slb_pop_name(enum slb_pop p);
void slb_print_rows(const struct slb_report *r, FILE *f);
void slb_print_sizes(const struct slb_report *r, FILE *f);
void slb_print_flood(const struct slb_report *r, FILE *f);
void slb_print_targets(const struct slb_report *r, FILE *f);

/* ------------------------------------------------------------------ helpers */

/* n * size bytes, 2 MiB aligned, on transparent huge pages when available; free() it. */
void *slb_alloc(size_t n, size_t size);

uint64_t slb_heap_bytes(void);

#endif
