/* sl_bench_sluice.c - sluice under test: the stage table and the engine built on one key
 * population, and the timed loops of each stage (parse ... police), the pipeline and inserts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <rte_cycles.h>
#include "sl_bench.h"
#include "sl_parse.h"

#define SLB_NS 1000000000ull

#define RATE_BITS 100000000000ull	/* 100 Gbit/s per key: every packet conforms */
#define BURST_BITS 8000000ull		/* 1 MB of burst */

int slb_sluice_init(struct slb_sluice *sl, uint64_t n, uint64_t hz)
{
	const char *err;
	int r;

	memset(sl, 0, sizeof(*sl));
	sl->n = n;
	sl->hz = hz;
	strcpy(sl->prof.name, "bench");
	sl->prof.mode = SL_MODE_DEDICATED;
	sl->prof.key = SL_KEY_5TUPLE;
	sl->prof.unit = SL_UNIT_BITS;
	sl->prof.exceed = SL_ACT_DROP;
	sl->prof.nb_buckets = 1;
	sl->prof.b[0] = (struct sl_cfg_bucket){ RATE_BITS, SLB_NS, BURST_BITS };
	sl->prof.idle_ns = 60 * SLB_NS;
	sl->prof.max_keys = n;
	sl->prof.when_full = SL_FULL_SHARED;
	strcpy(sl->ten.name, "all");
	sl->ten.profile = 0;
	sl->ten.nb_match = 1;		/* one block of no fields: every packet */
	sl->cfg.nb_matches = 1;
	sl->cfg.matches = &sl->match;
	sl->cfg.path = "sl-bench";
	sl->cfg.unmatched = SL_ACT_PASS;
	sl->cfg.nb_profiles = 1;
	sl->cfg.profiles = &sl->prof;
	sl->cfg.nb_tenants = 1;
	sl->cfg.tenants = &sl->ten;
	r = sl_tb_compile(&sl->prof.b[0], SL_UNIT_BITS, hz, -1, &sl->tb, &err);
	if (r)
		return r;
	sl->init = sl->tb.burst;
	r = sl_hash_seed_random(&sl->secret);
	if (r)
		return r;
	return sl_classifier_build(&sl->cfg, &sl->cls);
}

int slb_sluice_table(struct slb_sluice *sl)
{
	sl_table_free(sl->t);
	sl->t = NULL;
	memset(&sl->cache, 0, sizeof(sl->cache));
	return sl_table_create(sl->n, 1, &sl->secret, &sl->t);
}

int slb_sluice_engine(struct slb_sluice *sl, unsigned lcores)
{
	struct sl_engine_opts o = { .hz = sl->hz, .nb_lcores = lcores, .max_keys = sl->n };
	struct sl_engine **e = lcores > 1 ? &sl->e2 : &sl->e;
	struct sl_diag d = { 0 };
	int r;

	sl_engine_free(*e);
	*e = NULL;
	r = sl_engine_create(&sl->cfg, &o, e, &d);
	if (r)
		sl_diag_print(&d, stderr);
	sl_diag_free(&d);
	if (r)
		return r;
	*(lcores > 1 ? &sl->lc2 : &sl->lc) = sl_engine_lcore(*e, 0);
	return 0;
}

void slb_sluice_free(struct slb_sluice *sl)
{
	sl_engine_free(sl->e);
	sl_engine_free(sl->e2);
	sl_table_free(sl->t);
	sl_classifier_free(&sl->cls);
	memset(sl, 0, sizeof(*sl));
}

int slb_stream_prepare(struct slb_stream *s, struct slb_sluice *sl)
{
	for (uint32_t i = 0; i < s->n; i++) {
		struct sl_key k;
		int created = 0;
		uint64_t hint;

		if (sl_parse(s->data[i], SLB_FRAME, &s->pkt[i]) ||
		    sl_classify(&sl->cls, &s->pkt[i], 0) != 0)
			return -EPROTO;
		sl_key_make(&k, &s->pkt[i], SL_KEY_5TUPLE, 0);
		if (!sl_key_eq(&s->key[i], &k))
			return -EPROTO;
		s->hash[i] = sl_hash(&sl->secret, &s->key[i]);
		hint = sl_table_probe(sl->t, s->hash[i]);
		s->ent[i] = sl_table_lookup(sl->t, &sl->cache, &s->key[i], s->hash[i], hint, 0,
					    &sl->init, 1, &created);
		if (!s->ent[i] || created)
			return -EPROTO;
	}
	return 0;
}

/* ------------------------------------------------------------- timed loops */

uint64_t slb_time_parse(struct slb_job *j, uint32_t from, uint32_t to)
{
	uint8_t *const *data = j->s->data;
	struct sl_pkt pk[SLB_BURST];
	uint64_t acc = 0, t0 = rte_rdtsc_precise();

	for (uint32_t b = from; b < to; b += SLB_BURST)
		for (unsigned i = 0; i < SLB_BURST; i++)
			acc += (uint64_t)sl_parse(data[b + i], SLB_FRAME, &pk[i]) + pk[i].flags;
	t0 = rte_rdtsc_precise() - t0;
	j->sink += acc;
	return t0;
}

uint64_t slb_time_classify(struct slb_job *j, uint32_t from, uint32_t to)
{
	const struct sl_classifier *c = &j->sl->cls;
	const struct sl_pkt *pk = j->s->pkt;
	uint64_t acc = 0, t0 = rte_rdtsc_precise();

	for (uint32_t b = from; b < to; b += SLB_BURST)
		for (unsigned i = 0; i < SLB_BURST; i++)
			acc += sl_classify(c, &pk[b + i], 0);
	t0 = rte_rdtsc_precise() - t0;
	j->sink += acc;
	return t0;
}

uint64_t slb_time_keyhash(struct slb_job *j, uint32_t from, uint32_t to)
{
	const struct sl_hash_secret *sec = &j->sl->secret;
	const struct sl_pkt *pk = j->s->pkt;
	struct sl_key k[SLB_BURST];
	uint64_t acc = 0, t0 = rte_rdtsc_precise();

	for (uint32_t b = from; b < to; b += SLB_BURST) {
		for (unsigned i = 0; i < SLB_BURST; i++) {
			sl_key_make(&k[i], &pk[b + i], SL_KEY_5TUPLE, 0);
			acc ^= sl_hash(sec, &k[i]);
		}
	}
	t0 = rte_rdtsc_precise() - t0;
	j->sink += acc;
	return t0;
}

/*
 * Stages 2-3 of the table over precomputed keys and hashes, as sl_process runs them: prefetch
 * every primary bucket of the burst, probe them, confirm the keys. j->ok counts keys created
 * (0 in a warm table).
 */
uint64_t slb_time_lookup(struct slb_job *j, uint32_t from, uint32_t to)
{
	struct slb_sluice *sl = j->sl;
	struct slb_stream *s = j->s;
	struct sl_table *t = sl->t;
	uint64_t hint[SLB_BURST], made = 0, t0 = rte_rdtsc_precise();

	for (uint32_t b = from; b < to; b += SLB_BURST) {
		const uint64_t *h = &s->hash[b];

		for (unsigned i = 0; i < SLB_BURST; i++)
			sl_table_prefetch(t, h[i]);
		for (unsigned i = 0; i < SLB_BURST; i++)
			hint[i] = sl_table_probe(t, h[i]);
		for (unsigned i = 0; i < SLB_BURST; i++) {
			int created = 0;

			s->ent[b + i] = sl_table_lookup(t, &sl->cache, &s->key[b + i], h[i], hint[i],
							0, &sl->init, 1, &created);
			made += (uint64_t)created;
		}
	}
	t0 = rte_rdtsc_precise() - t0;
	j->ok += made;
	return t0;
}

/* The engine's police step on one entry (one lcore): refill, take 8 bits per byte. */
static inline int police(const struct sl_tb_params *tb, struct sl_entry *en, uint64_t now,
			 uint32_t len)
{
	return sl_tb_take_state(tb, 1, en->st, now, (uint64_t)len * 8);
}

uint64_t slb_tsc_bracket(void)
{
	uint64_t best = UINT64_MAX;

	for (unsigned i = 0; i < 4096; i++) {
		uint64_t t0 = rte_rdtsc_precise(), d = rte_rdtsc_precise() - t0;

		best = d < best ? d : best;
	}
	return best;
}

/*
 * Police alone, on entries already in cache as the lookup leaves them in the pipeline: each
 * burst's entries are read first (untimed), then the policing of the burst is timed between
 * two serialised TSC reads, minus the cost of an empty bracket (j->overhead).
 */
uint64_t slb_time_police(struct slb_job *j, uint32_t from, uint32_t to)
{
	const struct slb_stream *s = j->s;
	const struct sl_tb_params *tb = &j->sl->tb;
	uint64_t total = 0, ok = 0, touch = 0;

	for (uint32_t b = from; b < to; b += SLB_BURST) {
		struct sl_entry *const *en = &s->ent[b];
		uint64_t t0, t1;

		for (unsigned i = 0; i < SLB_BURST; i++)
			touch += __atomic_load_n(&en[i]->st[0].last, __ATOMIC_RELAXED);
		t0 = rte_rdtsc_precise();
		for (unsigned i = 0; i < SLB_BURST; i++)
			ok += (uint64_t)police(tb, en[i], t0, s->len[i]);
		t1 = rte_rdtsc_precise();
		total += t1 - t0 > j->overhead ? t1 - t0 - j->overhead : 0;
	}
	j->sink += touch;
	j->ok += ok;
	return total;
}

/* What the baseline does, with sluice: key -> keyed hash -> table -> police, per burst. */
uint64_t slb_time_tblpol(struct slb_job *j, uint32_t from, uint32_t to)
{
	struct slb_sluice *sl = j->sl;
	const struct slb_stream *s = j->s;
	struct sl_table *t = sl->t;
	uint64_t h[SLB_BURST], hint[SLB_BURST], ok = 0, t0 = rte_rdtsc_precise();

	for (uint32_t b = from; b < to; b += SLB_BURST) {
		const struct sl_key *k = &s->key[b];
		uint64_t now = rte_rdtsc();

		for (unsigned i = 0; i < SLB_BURST; i++) {
			h[i] = sl_hash(&sl->secret, &k[i]);
			sl_table_prefetch(t, h[i]);
		}
		for (unsigned i = 0; i < SLB_BURST; i++)
			hint[i] = sl_table_probe(t, h[i]);
		for (unsigned i = 0; i < SLB_BURST; i++) {
			int created = 0;
			struct sl_entry *en = sl_table_lookup(t, &sl->cache, &k[i], h[i], hint[i],
							      now, &sl->init, 1, &created);

			ok += en ? (uint64_t)police(&sl->tb, en, now, s->len[i]) : 0;
		}
	}
	t0 = rte_rdtsc_precise() - t0;
	j->ok += ok;
	return t0;
}

/*
 * The data path as the appliance runs it (app/sl_fwd.c): per burst, stage it, probe the one
 * before and finish the one before that; the chunk's last two bursts are finished at its end.
 */
uint64_t slb_time_pipeline(struct slb_job *j, uint32_t from, uint32_t to)
{
	const struct slb_stream *s = j->s;
	uint8_t verdict[SLB_BURST];
	uint64_t ok = 0, t0 = rte_rdtsc_precise();
	unsigned k = 0;

	for (uint32_t b = from; b < to; b += SLB_BURST, k++) {
		sl_burst_stage(j->lc, k % SL_SLOTS, 0, &s->data[b], s->len, SLB_BURST);
		if (k >= 1)
			sl_burst_probe(j->lc, (k - 1) % SL_SLOTS);
		if (k >= 2)
			ok += sl_burst_finish(j->lc, (k - 2) % SL_SLOTS, &s->data[b - 2 * SLB_BURST],
					      s->len, s->len, rte_rdtsc(), verdict, NULL);
	}
	for (unsigned d = k >= 2 ? 2 : k; d > 0; d--)
		ok += sl_burst_finish(j->lc, (k - d) % SL_SLOTS, &s->data[to - d * SLB_BURST],
				      s->len, s->len, rte_rdtsc(), verdict, NULL);
	t0 = rte_rdtsc_precise() - t0;
	j->ok += ok;
	return t0;
}

/* sl_process, one burst at a time: each burst's loads wait inside its own call. */
uint64_t slb_time_one_burst(struct slb_job *j, uint32_t from, uint32_t to)
{
	const struct slb_stream *s = j->s;
	uint8_t verdict[SLB_BURST];
	uint64_t ok = 0, t0 = rte_rdtsc_precise();

	for (uint32_t b = from; b < to; b += SLB_BURST)
		ok += sl_process(j->lc, 0, &s->data[b], s->len, s->len, SLB_BURST, rte_rdtsc(),
				 verdict);
	t0 = rte_rdtsc_precise() - t0;
	j->ok += ok;
	return t0;
}

/* New keys [from, to) into the stage table: hash, prefetch, probe, insert, per burst. */
uint64_t slb_time_insert(struct slb_job *j, uint32_t from, uint32_t to)
{
	struct slb_sluice *sl = j->sl;
	struct sl_table *t = sl->t;
	uint64_t h[SLB_BURST], hint[SLB_BURST], made = 0, t0 = rte_rdtsc_precise();

	for (uint32_t b = from; b < to; b += SLB_BURST) {
		const struct sl_key *k = &j->ks->k[b];
		unsigned nb = to - b < SLB_BURST ? to - b : SLB_BURST;
		uint64_t now = rte_rdtsc();

		for (unsigned i = 0; i < nb; i++) {
			h[i] = sl_hash(&sl->secret, &k[i]);
			sl_table_prefetch(t, h[i]);
		}
		for (unsigned i = 0; i < nb; i++)
			hint[i] = sl_table_probe(t, h[i]);
		for (unsigned i = 0; i < nb; i++) {
			int c = 0;

			if (sl_table_lookup(t, &sl->cache, &k[i], h[i], hint[i], now, &sl->init, 1, &c))
				made += (uint64_t)c;
		}
	}
	t0 = rte_rdtsc_precise() - t0;
	j->ok += made;
	return t0;
}

/* Keys [from, to) once each through sl_process of j->lc; frames built untimed into j->buf. */
uint64_t slb_time_pipeline_insert(struct slb_job *j, uint32_t from, uint32_t to)
{
	uint8_t *data[SLB_BURST], verdict[SLB_BURST];
	uint32_t len[SLB_BURST];
	uint64_t ok = 0, t0;

	for (uint32_t i = from; i < to; i++)
		slb_frame(&j->ks->k[i], j->buf + (size_t)(i - from) * SLB_FRAME);
	for (unsigned i = 0; i < SLB_BURST; i++)
		len[i] = SLB_FRAME;
	t0 = rte_rdtsc_precise();
	for (uint32_t b = from; b < to; b += SLB_BURST) {
		unsigned nb = to - b < SLB_BURST ? to - b : SLB_BURST;

		for (unsigned i = 0; i < nb; i++)
			data[i] = j->buf + (size_t)(b - from + i) * SLB_FRAME;
		ok += sl_process(j->lc, 0, data, len, len, nb, rte_rdtsc(), verdict);
	}
	t0 = rte_rdtsc_precise() - t0;
	j->ok += ok;
	return t0;
}
