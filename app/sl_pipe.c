/* sl_pipe.c - worker mode: the policing loop (rx burst, engine, max-queue admission, ring
 * hand-off by flow hash) and the worker loop (dequeue, DSCP rewrite, TX batches with retry). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <urcu-qsbr.h>
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include "sl_pipe.h"

static inline struct sl_pipe_meta *sl_pipe_meta(struct rte_mbuf *m, int off)
{
	return RTE_MBUF_DYNFIELD(m, off, struct sl_pipe_meta *);
}

uint64_t sl_pipe_mbufs(unsigned nb_police, unsigned nb_workers, unsigned nb_ports,
		       uint32_t shape_mbufs)
{
	return (uint64_t)nb_police * nb_workers * SL_PIPE_RING +
	       (uint64_t)nb_workers * nb_ports * SL_FWD_BURST + shape_mbufs;
}

/* The mbuf whose meta field holds wheel item it (the item is the field's first member). */
static inline struct rte_mbuf *sl_pipe_mbuf_of(struct sl_wheel_item *it, int off)
{
	return (struct rte_mbuf *)(void *)((char *)it - off);
}

/* ---- set-up ---- */

static int sl_pipe_field(struct sl_pipe *p)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "sluice_pipe_meta",
		.size = sizeof(struct sl_pipe_meta),
		.align = __alignof__(struct sl_pipe_meta),
	};

	p->meta_off = rte_mbuf_dynfield_register(&desc);
	if (p->meta_off < 0) {
		fprintf(stderr, "sluice: cannot register the mbuf field of worker mode: %s\n",
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

/* The lcores f did not take, in EAL order: the last nb_workers. */
static int sl_pipe_workers(struct sl_pipe *p, const struct sl_ports *ps)
{
	unsigned id;

	RTE_LCORE_FOREACH_WORKER(id) {
		struct sl_pipe_worker *w;

		if (p->fwd->by_id[id] || p->nb_workers == SL_PIPE_MAX_WORKERS)
			continue;
		w = rte_zmalloc_socket("sl_pipe_worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
				       rte_lcore_to_socket_id(id));
		if (!w)
			return -ENOMEM;
		w->lcore_id = id;
		w->index = p->nb_workers;
		for (unsigned i = 0; i < ps->nb; i++) {
			struct sl_pipe_txbuf *tb = &w->tx[ps->p[i].id];

			tb->port = ps->p[i].id;
			tb->queue = (uint16_t)w->index;	/* used only if < the port's nb_txq */
		}
		p->workers[p->nb_workers++] = w;
		p->worker_by_id[id] = w;
	}
	return 0;
}

static int sl_pipe_rings(struct sl_pipe *p)
{
	for (unsigned i = 0; i < p->nb_police; i++) {
		struct sl_pipe_police *pl = p->police[i];

		for (unsigned j = 0; j < p->nb_workers; j++) {
			struct sl_pipe_worker *w = p->workers[j];
			char name[RTE_RING_NAMESIZE];
			struct rte_ring *r;

			snprintf(name, sizeof(name), "sl_pipe_%u_%u", pl->fl->lcore_id,
				 w->lcore_id);
			r = rte_ring_create(name, SL_PIPE_RING, rte_lcore_to_socket_id(w->lcore_id),
					    RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
			if (!r) {
				fprintf(stderr, "sluice: ring %s: %s\n", name,
					rte_strerror(rte_errno));
				return -rte_errno;
			}
			pl->ring[j] = r;
			w->ring[i] = r;
			w->nb_rings = i + 1;
		}
	}
	return 0;
}

static int sl_pipe_police_init(struct sl_pipe *p, const struct sl_ports *ps)
{
	for (unsigned i = 0; i < p->fwd->nb_lcores; i++) {
		struct sl_fwd_lcore *fl = p->fwd->lcores[i];
		struct sl_pipe_police *pl;

		pl = rte_zmalloc_socket("sl_pipe_police", sizeof(*pl), RTE_CACHE_LINE_SIZE,
					rte_lcore_to_socket_id(fl->lcore_id));
		if (!pl)
			return -ENOMEM;
		pl->fl = fl;
		pl->nb_workers = p->nb_workers;
		for (unsigned j = 0; j < ps->nb; j++)
			pl->nbw[ps->p[j].id] = (uint8_t)RTE_MIN(ps->p[j].nb_txq, p->nb_workers);
		p->police[i] = pl;
		p->police_by_id[fl->lcore_id] = pl;
		p->nb_police++;
	}
	return 0;
}

static void sl_pipe_info(const struct sl_pipe *p, const struct sl_ports *ps, FILE *info)
{
	fprintf(info, "sluice: worker mode: %u policing lcore(s) (", p->nb_police);
	for (unsigned i = 0; i < p->nb_police; i++)
		fprintf(info, "%s%u", i ? "," : "", p->police[i]->fl->lcore_id);
	fprintf(info, "), %u worker(s) (", p->nb_workers);
	for (unsigned i = 0; i < p->nb_workers; i++)
		fprintf(info, "%s%u", i ? "," : "", p->workers[i]->lcore_id);
	fprintf(info, "), %u rings of %u frames\n", p->nb_police * p->nb_workers, SL_PIPE_RING);
	for (unsigned i = 0; i < ps->nb; i++)
		if (ps->p[i].nb_txq < p->nb_workers)
			fprintf(stderr, "sluice: note: %s takes %u TX queue(s): %u of the %u "
				"workers send to it\n", ps->p[i].name, ps->p[i].nb_txq, ps->p[i].nb_txq,
				p->nb_workers);
}

/* Each worker's timing wheel: slots of slot_us over the longest max-delay, from now. */
static int sl_pipe_wheels(struct sl_pipe *p, uint64_t slot_us)
{
	uint64_t width = (p->hz * slot_us + US_PER_S - 1) / US_PER_S, now = rte_rdtsc();
	uint64_t horizon = (uint64_t)((long double)SL_SHAPE_MAX_DELAY_NS * p->hz / 1e9L) + width;

	for (unsigned j = 0; j < p->nb_workers; j++) {
		int ret = sl_wheel_init(&p->workers[j]->wheel, width ? width : 1, horizon,
					p->shape_cap ? p->shape_cap : 1, now);

		if (ret) {
			fprintf(stderr, "sluice: --shape-slot-us %" PRIu64 ": %s (%" PRIu64
				" slots of 1 s)\n", slot_us, ret == -ENOMEM ? "out of memory" :
				"too fine", horizon / (width ? width : 1));
			return ret;
		}
	}
	return 0;
}

int sl_pipe_init(struct sl_pipe *p, struct sl_fwd *f, const struct sl_ports *ps,
		 unsigned nb_workers, uint64_t hz, const struct sl_pipe_shape_opts *sh, FILE *info)
{
	int ret;

	memset(p, 0, sizeof(*p));
	atomic_init(&p->drain, false);
	p->fwd = f;
	p->hz = hz;
	p->shape_cap = sh->mbufs;
	p->drain_tsc = (hz + US_PER_S - 1) / US_PER_S * SL_FWD_DRAIN_US;
	if (nb_workers > SL_PIPE_MAX_WORKERS) {
		fprintf(stderr, "sluice: --workers %u: at most %u\n", nb_workers,
			SL_PIPE_MAX_WORKERS);
		return -EINVAL;
	}
	ret = sl_pipe_field(p);
	if (ret)
		return ret;
	p->occ = rte_zmalloc("sl_pipe_occ", sizeof(*p->occ) * SL_PIPE_COUNTERS,
			     RTE_CACHE_LINE_SIZE);
	ret = p->occ ? sl_pipe_workers(p, ps) : -ENOMEM;
	if (!ret && p->nb_workers != nb_workers) {
		fprintf(stderr, "sluice: --workers %u: %u lcore(s) left for them\n", nb_workers,
			p->nb_workers);
		return -EINVAL;
	}
	if (!ret)
		ret = sl_pipe_police_init(p, ps);
	if (ret == -ENOMEM)
		fprintf(stderr, "sluice: worker mode: out of memory\n");
	if (!ret)
		ret = sl_pipe_rings(p);
	if (!ret)
		ret = sl_pipe_wheels(p, sh->slot_us);
	if (!ret && info)
		sl_pipe_info(p, ps, info);
	return ret;
}

void sl_pipe_free(struct sl_pipe *p)
{
	for (unsigned i = 0; i < p->nb_police; i++) {
		for (unsigned j = 0; j < p->nb_workers; j++)
			rte_ring_free(p->police[i]->ring[j]);
		rte_free(p->police[i]);
		p->police[i] = NULL;
	}
	for (unsigned j = 0; j < p->nb_workers; j++) {
		sl_wheel_free(&p->workers[j]->wheel);
		rte_free(p->workers[j]);
		p->workers[j] = NULL;
	}
	rte_free(p->occ);
	p->occ = NULL;
	p->nb_police = p->nb_workers = 0;
	memset(p->police_by_id, 0, sizeof(p->police_by_id));
	memset(p->worker_by_id, 0, sizeof(p->worker_by_id));
}

/* ---- policing lcores ---- */

/* Frame i of a burst, forwarded by the engine: what the worker needs, and its cap group. */
static inline unsigned sl_pipe_tag(struct rte_mbuf *m, int off, const struct sl_decision *d,
				   uint8_t port, struct sl_pipe_group *g)
{
	struct sl_pipe_meta *mt = sl_pipe_meta(m, off);

	mt->wi.due = 0;		/* set by the hand-off for a frame admitted to wait */
	mt->l3_off = d->l3_off;
	mt->port = port;
	mt->mark = d->mark ? (uint8_t)(SL_PIPE_MARK | d->dscp) : 0;
	if (d->tenant == SL_NO_TENANT_INDEX) {
		mt->slot = SL_PIPE_NO_SLOT;
		return SL_PIPE_GROUP_MAX;
	}
	mt->slot = sl_pipe_slot(d->queue_key, d->tenant, d->max_queue);
	return sl_pipe_group_add(g, mt->slot, d->tenant, d->max_queue);
}

/* One atomic operation per group: want[] becomes what may be queued; raise high-water marks. */
static inline void sl_pipe_admit_groups(uint32_t *occ, struct sl_pipe_group *g,
					struct sl_lcore *lc)
{
	for (unsigned k = 0; k < g->n; k++) {
		uint32_t level;

		g->want[k] = sl_pipe_admit(&occ[g->slot[k]], g->want[k], g->max[k], &level);
		if (g->want[k])
			sl_lcore_queue_level(lc, g->tenant[k], level);
	}
}

/* Count a frame lost at hand-off: its tenant's queue_drops, or `lost` for no tenant. */
static inline void sl_pipe_count_loss(struct sl_pipe_police *pl, uint32_t tenant, uint32_t len)
{
	if (tenant != SL_NO_TENANT_INDEX)
		sl_lcore_queue_drop(pl->fl->lc, tenant, len);
	else
		__atomic_store_n(&pl->lost, pl->lost + 1, __ATOMIC_RELAXED);
}

/*
 * Enqueue each worker's share of the burst. What a full ring refuses is lost: counted, its
 * places (max-queue, shaping) given back, freed in bulk, so that an overloaded policing lcore
 * sheds load cheaply.
 */
static inline void sl_pipe_handoff(struct sl_pipe *p, struct sl_pipe_police *pl,
				   struct rte_mbuf **m, const struct sl_decision *dec,
				   const unsigned *nstage)
{
	for (unsigned w = 0; w < pl->nb_workers; w++) {
		struct rte_mbuf *batch[SL_FWD_BURST];
		uint32_t slot[SL_FWD_BURST];
		unsigned k = nstage[w], sent, shaped = 0;

		if (!k)
			continue;
		for (unsigned j = 0; j < k; j++)
			batch[j] = m[pl->stage[w][j]];
		sent = rte_ring_sp_enqueue_burst(pl->ring[w], (void **)batch, k, NULL);
		if (likely(sent == k))
			continue;
		for (unsigned j = sent; j < k; j++) {
			const struct sl_pipe_meta *mt = sl_pipe_meta(batch[j], p->meta_off);

			slot[j] = mt->slot;
			shaped += mt->wi.due != 0;
			sl_pipe_count_loss(pl, dec[pl->stage[w][j]].tenant, batch[j]->pkt_len);
		}
		sl_pipe_release(p->occ, &slot[sent], k - sent);
		if (shaped) {	/* their shaping places too */
			__atomic_sub_fetch(&p->shape_held, shaped, __ATOMIC_RELAXED);
			shaped = 0;
		}
		rte_pktmbuf_free_bulk(&batch[sent], k - sent);
	}
}

/*
 * Places for `want` frames that will wait in timing wheels, under the appliance-wide cap: how
 * many were given (one atomic for the burst); raises the high-water mark.
 */
static uint32_t sl_pipe_shape_admit(struct sl_pipe *p, uint32_t want)
{
	uint32_t level, got = sl_pipe_admit(&p->shape_held, want, p->shape_cap, &level);

	sl_stats_raise(&p->shape_held_max, level);
	return got;
}

/*
 * Finish the oldest burst in the engine's pipeline (app/sl_fwd.h) and hand its forwarded frames
 * to the workers; its frames came from a port whose frames leave by port `out`.
 */
static inline void sl_pipe_police_burst(struct sl_pipe *p, struct sl_pipe_police *pl)
{
	struct sl_fwd_lcore *fl = pl->fl;
	struct sl_fwd_inflight *b = &fl->inflight[fl->head];
	struct rte_mbuf **m = b->m;
	const uint32_t *len = b->len;
	uint8_t verdict[SL_FWD_BURST], grp[SL_FWD_BURST];
	struct sl_decision dec[SL_FWD_BURST];
	struct rte_mbuf *drop[SL_FWD_BURST];
	unsigned nstage[SL_PIPE_MAX_WORKERS] = { 0 };
	uint8_t out = (uint8_t)fl->tx[b->tx].port;
	unsigned i, nd = 0, n = b->n, nbw = pl->nbw[out], shaped = 0;
	struct sl_pipe_group g;
	uint64_t now = rte_rdtsc();

	if (sl_burst_finish(fl->lc, fl->head, b->data, b->caplen, b->len, now, verdict, dec) &&
	    unlikely(!fl->first_tsc))
		fl->first_tsc = now;
	/* tag the forwarded frames and count them per (slot, tenant, cap) */
	sl_pipe_group_reset(&g);
	for (i = 0; i < n; i++)
		grp[i] = verdict[i] == SL_V_FORWARD ?
			 (uint8_t)sl_pipe_tag(m[i], p->meta_off, &dec[i], out, &g) : 0;
	sl_pipe_admit_groups(p->occ, &g, fl->lc);
	for (i = 0; i < n; i++)
		shaped += verdict[i] == SL_V_FORWARD && dec[i].depart > now;
	if (unlikely(shaped))
		shaped = sl_pipe_shape_admit(p, shaped);
	/* in burst order: policy drops, over-cap drops (freed together), the rest to its flow's
	 * worker */
	for (i = 0; i < n; i++) {
		unsigned w;

		if (verdict[i] != SL_V_FORWARD) {
			drop[nd++] = m[i];	/* counted by the engine (dropped) */
			continue;
		}
		if (grp[i] < SL_PIPE_GROUP_MAX) {
			if (!g.want[grp[i]]) {	/* over its max-queue: took no place */
				sl_pipe_count_loss(pl, dec[i].tenant, len[i]);
				drop[nd++] = m[i];
				continue;
			}
			g.want[grp[i]]--;
		}
		if (unlikely(dec[i].depart > now)) {
			if (!shaped) {	/* over --shape-mbufs */
				sl_pipe_release(p->occ, &sl_pipe_meta(m[i], p->meta_off)->slot, 1);
				sl_pipe_count_loss(pl, dec[i].tenant, len[i]);
				__atomic_fetch_add(&p->shape_cap_drops, 1, __ATOMIC_RELAXED);
				drop[nd++] = m[i];
				continue;
			}
			shaped--;	/* it holds a shaping place until its worker sends it */
			sl_pipe_meta(m[i], p->meta_off)->wi.due = dec[i].depart;
		}
		w = sl_pipe_worker(dec[i].flow_hash, nbw);
		pl->stage[w][nstage[w]++] = (uint8_t)i;
	}
	if (nd)
		rte_pktmbuf_free_bulk(drop, nd);
	sl_pipe_handoff(p, pl, m, dec, nstage);
	sl_fwd_retire(fl);
}

/*
 * Policing lcore: a QSBR reader of the engine's policy (a burst's finish and the
 * sl_lcore_queue_drop/level calls of its hand-off happen before the next quiescent state).
 * Bursts go through the engine's pipeline as in run-to-completion mode (sl_fwd_main); a pass
 * that receives nothing finishes what is in flight, and so does stopping, so once it returns
 * everything it let through is in a ring or counted.
 */
int sl_pipe_police_main(void *arg)
{
	struct sl_pipe *p = arg;
	struct sl_pipe_police *pl = p->police_by_id[rte_lcore_id()];
	struct sl_fwd_lcore *fl;
	uint64_t pass_tsc, cur_tsc;
	unsigned got = 1;

	if (!pl || !pl->fl->nb_rxq)
		return 0;
	fl = pl->fl;
	fl->head = fl->nin = 0;
	rcu_register_thread();
	pass_tsc = rte_rdtsc();
	while (!atomic_load_explicit(&p->fwd->stop, memory_order_relaxed)) {
		cur_tsc = rte_rdtsc();
		if (!got)	/* the pass before received nothing: its time was idle */
			__atomic_store_n(&fl->idle_tsc, fl->idle_tsc + (cur_tsc - pass_tsc),
					 __ATOMIC_RELAXED);
		sl_stall_note(&fl->stall, cur_tsc - pass_tsc, p->fwd->stall_tsc);
		pass_tsc = cur_tsc;
		got = 0;
		for (unsigned i = 0; i < fl->nb_rxq; i++) {
			got += sl_fwd_rx_stage(fl, &fl->rxq[i]);
			if (fl->nin == SL_SLOTS)
				sl_pipe_police_burst(p, pl);
		}
		if (!got)
			while (fl->nin)
				sl_pipe_police_burst(p, pl);
		rcu_quiescent_state();
	}
	while (fl->nin)
		sl_pipe_police_burst(p, pl);
	rcu_unregister_thread();
	return 0;
}

/* ---- workers ---- */

/* Send what tb holds, retrying a full queue; then give back the frames' places. */
static void sl_pipe_flush(struct sl_pipe *p, struct sl_pipe_worker *w, struct sl_pipe_txbuf *tb)
{
	uint16_t n = tb->n, sent = rte_eth_tx_burst(tb->port, tb->queue, tb->m, n);

	for (unsigned r = 0; unlikely(sent < n) && r < SL_PIPE_TX_RETRIES; r++) {
		rte_pause();
		sent += rte_eth_tx_burst(tb->port, tb->queue, &tb->m[sent], n - sent);
	}
	__atomic_store_n(&w->sent, w->sent + sent, __ATOMIC_RELAXED);
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(&tb->m[sent], n - sent);
		__atomic_store_n(&w->tx_dropped, w->tx_dropped + (n - sent), __ATOMIC_RELAXED);
	}
	sl_pipe_release(p->occ, tb->slot, n);	/* slots were copied: the mbufs are gone */
	tb->n = 0;
}

static void sl_pipe_flush_all(struct sl_pipe *p, struct sl_pipe_worker *w)
{
	while (w->pending) {
		struct sl_pipe_txbuf *tb = &w->tx[__builtin_ctzll(w->pending)];

		if (tb->n)
			sl_pipe_flush(p, w, tb);
		w->pending &= w->pending - 1;
	}
}

/* A frame leaves: into the TX buffer of its port (sent when full). */
static inline void sl_pipe_out(struct sl_pipe *p, struct sl_pipe_worker *w, struct rte_mbuf *m,
			       const struct sl_pipe_meta *mt)
{
	struct sl_pipe_txbuf *tb = &w->tx[mt->port];

	tb->slot[tb->n] = mt->slot;
	tb->m[tb->n++] = m;
	w->pending |= 1ull << mt->port;
	if (unlikely(tb->n == SL_FWD_BURST))
		sl_pipe_flush(p, w, tb);
}

/*
 * Dequeued frames at tick now: deferred DSCP rewrite; a frame admitted to wait (wi.due set by
 * the policing lcore) and due later waits in the wheel, the others go to the TX buffer of
 * their port.
 */
static inline void sl_pipe_work(struct sl_pipe *p, struct sl_pipe_worker *w,
				struct rte_mbuf **m, unsigned n, uint64_t now)
{
	unsigned due = 0;	/* frames admitted to wait whose departure has already come */

	for (unsigned i = 0; i < n; i++) {
		struct sl_pipe_meta *mt = sl_pipe_meta(m[i], p->meta_off);

		if (i + 1 < n)
			rte_prefetch0(sl_pipe_meta(m[i + 1], p->meta_off));
		if (mt->mark) {
			struct sl_decision d = { .mark = 1, .dscp = mt->mark & 0x3f,
						 .l3_off = mt->l3_off };

			sl_decision_mark(rte_pktmbuf_mtod(m[i], uint8_t *), m[i]->data_len, &d);
		}
		if (likely(!mt->wi.due)) {
			sl_pipe_out(p, w, m[i], mt);
		} else if (mt->wi.due > now &&	/* its place is given back when it leaves */
			   likely(!sl_wheel_insert(&w->wheel, &mt->wi))) {
			/* held (the wheel holds the cap: never full while the cap is kept) */
		} else {
			due++;
			sl_pipe_out(p, w, m[i], mt);
		}
	}
	if (unlikely(due))
		__atomic_sub_fetch(&p->shape_held, due, __ATOMIC_RELAXED);
}

/* Frames of the wheel due by now leave, in slot order; their shaping places are given back;
 * the pacing error of each is counted. Returns how many left. */
static unsigned sl_pipe_release_due(struct sl_pipe *p, struct sl_pipe_worker *w, uint64_t now)
{
	struct sl_wheel_item *it[SL_FWD_BURST];
	unsigned n, total = 0;

	do {
		n = sl_wheel_release(&w->wheel, now, it, SL_FWD_BURST);
		for (unsigned i = 0; i < n; i++) {	/* they waited: out of the cache by now */
			rte_prefetch0(it[i]);
			rte_prefetch0(sl_pipe_mbuf_of(it[i], p->meta_off));
		}
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = sl_pipe_mbuf_of(it[i], p->meta_off);
			uint64_t err = now > it[i]->due ? now - it[i]->due : it[i]->due - now;
			uint64_t b = err * 8 / w->wheel.width;

			w->pace_err[b < SL_PIPE_PACE_BUCKETS - 1 ? b : SL_PIPE_PACE_BUCKETS - 1]++;
			sl_pipe_out(p, w, m, sl_pipe_meta(m, p->meta_off));
		}
		if (n)
			__atomic_sub_fetch(&p->shape_held, n, __ATOMIC_RELAXED);
		total += n;
	} while (n == SL_FWD_BURST);
	return total;
}

/* One pass at tick now: what the wheel has due, then the rings. Returns the frames dequeued
 * and released. */
static inline unsigned sl_pipe_pass(struct sl_pipe *p, struct sl_pipe_worker *w, uint64_t now)
{
	struct rte_mbuf *m[SL_FWD_BURST];
	unsigned got = 0;

	if (unlikely(w->wheel.held))	/* first: a flow's earlier frames leave before it */
		got += sl_pipe_release_due(p, w, now);
	for (unsigned i = 0; i < w->nb_rings; i++) {
		unsigned n = rte_ring_sc_dequeue_burst(w->ring[i], (void **)m, SL_FWD_BURST, NULL);

		if (n) {
			sl_pipe_work(p, w, m, n, now);
			got += n;
		}
	}
	return got;
}

/*
 * The stop: frames still waiting leave on time until the wheel is empty or the deadline has
 * passed; what is left is freed and counted in tx_dropped.
 */
static void sl_pipe_stop_wheel(struct sl_pipe *p, struct sl_pipe_worker *w)
{
	uint64_t deadline = rte_rdtsc() + p->hz / 1000 * SL_PIPE_STOP_WAIT_MS;
	struct sl_wheel_item *it[SL_FWD_BURST];
	unsigned n;

	while (w->wheel.held && rte_rdtsc() < deadline) {
		if (sl_pipe_release_due(p, w, rte_rdtsc()))
			sl_pipe_flush_all(p, w);
		else
			rte_pause();
	}
	while ((n = sl_wheel_drain(&w->wheel, it, SL_FWD_BURST))) {
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = sl_pipe_mbuf_of(it[i], p->meta_off);

			sl_pipe_release(p->occ, &sl_pipe_meta(m, p->meta_off)->slot, 1);
			rte_pktmbuf_free(m);
		}
		__atomic_sub_fetch(&p->shape_held, n, __ATOMIC_RELAXED);
		__atomic_store_n(&w->tx_dropped, w->tx_dropped + n, __ATOMIC_RELAXED);
	}
}

/*
 * Worker: until told to drain, pass over the rings; flush partly filled TX buffers when a pass
 * finds nothing or every SL_FWD_DRAIN_US. Draining: the producers have returned, so passes
 * until one finds every ring empty take everything; flush and return.
 */
int sl_pipe_worker_main(void *arg)
{
	struct sl_pipe *p = arg;
	struct sl_pipe_worker *w = p->worker_by_id[rte_lcore_id()];
	uint64_t prev_tsc, cur_tsc, pass_tsc;
	unsigned got = 1;

	if (!w)
		return 0;
	prev_tsc = pass_tsc = rte_rdtsc();
	while (!atomic_load_explicit(&p->drain, memory_order_acquire)) {
		cur_tsc = rte_rdtsc();
		if (!got)	/* the pass before moved nothing: its time was idle */
			__atomic_store_n(&w->idle_tsc, w->idle_tsc + (cur_tsc - pass_tsc),
					 __ATOMIC_RELAXED);
		sl_stall_note(&w->stall, cur_tsc - pass_tsc, p->fwd->stall_tsc);
		pass_tsc = cur_tsc;
		got = sl_pipe_pass(p, w, cur_tsc);
		if (!got || unlikely(cur_tsc - prev_tsc > p->drain_tsc)) {
			sl_pipe_flush_all(p, w);
			prev_tsc = cur_tsc;
		}
	}
	while (sl_pipe_pass(p, w, rte_rdtsc()))
		;
	sl_pipe_flush_all(p, w);
	sl_pipe_stop_wheel(p, w);
	sl_pipe_flush_all(p, w);
	return 0;
}

/* ---- main lcore ---- */

int sl_pipe_launch(struct sl_pipe *p)
{
	for (unsigned j = 0; j < p->nb_workers; j++) {
		int ret = rte_eal_remote_launch(sl_pipe_worker_main, p, p->workers[j]->lcore_id);

		if (ret) {
			fprintf(stderr, "sluice: cannot launch worker lcore %u: %s\n",
				p->workers[j]->lcore_id, rte_strerror(-ret));
			return ret;
		}
	}
	for (unsigned i = 0; i < p->nb_police; i++) {
		unsigned id = p->police[i]->fl->lcore_id;
		int ret = rte_eal_remote_launch(sl_pipe_police_main, p, id);

		if (ret) {
			fprintf(stderr, "sluice: cannot launch lcore %u: %s\n", id,
				rte_strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void sl_pipe_stop(struct sl_pipe *p)
{
	atomic_store_explicit(&p->fwd->stop, true, memory_order_release);
	for (unsigned i = 0; i < p->nb_police; i++)
		rte_eal_wait_lcore(p->police[i]->fl->lcore_id);
	atomic_store_explicit(&p->drain, true, memory_order_release);
}

uint64_t sl_pipe_tx_dropped(const struct sl_pipe *p)
{
	uint64_t sum = 0;

	for (unsigned j = 0; j < p->nb_workers; j++)
		sum += __atomic_load_n(&p->workers[j]->tx_dropped, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < p->nb_police; i++)
		sum += __atomic_load_n(&p->police[i]->lost, __ATOMIC_RELAXED);
	return sum;
}

uint64_t sl_pipe_shape_held(const struct sl_pipe *p)
{
	return __atomic_load_n(&p->shape_held, __ATOMIC_RELAXED);
}

/* Pacing error quantile q (0..1) over every worker, in slots (from eighths). */
static double sl_pipe_pace_quantile(const struct sl_pipe *p, double q, uint64_t *total)
{
	uint64_t h[SL_PIPE_PACE_BUCKETS] = { 0 }, n = 0, c = 0;

	for (unsigned j = 0; j < p->nb_workers; j++)
		for (unsigned b = 0; b < SL_PIPE_PACE_BUCKETS; b++)
			h[b] += p->workers[j]->pace_err[b];
	for (unsigned b = 0; b < SL_PIPE_PACE_BUCKETS; b++)
		n += h[b];
	*total = n;
	for (unsigned b = 0; b < SL_PIPE_PACE_BUCKETS; b++) {
		c += h[b];
		if (n && (double)c >= q * (double)n)
			return (b + 1) / 8.0;	/* the bucket's upper bound */
	}
	return 0;
}

void sl_pipe_final(const struct sl_pipe *p, const struct sl_stats *s, FILE *f)
{
	uint64_t drops = 0, shaped = 0, paced, stalls = 0, stall_tsc = 0;

	for (unsigned j = 0; j < p->nb_workers; j++) {
		stalls += p->workers[j]->stall.n;
		stall_tsc += p->workers[j]->stall.tsc;
	}

	for (unsigned i = 0; i < s->nb_tenants; i++) {
		drops += s->t[i].c.queue_drops;
		shaped += s->t[i].c.shaped_packets;
	}
	fprintf(f, "sluice: worker mode: %" PRIu64 " frame(s) lost at hand-off (queue_drops)\n",
		drops);
	if (shaped || p->shape_held_max) {
		double p50 = sl_pipe_pace_quantile(p, 0.5, &paced);
		double p90 = sl_pipe_pace_quantile(p, 0.9, &paced);
		double p99 = sl_pipe_pace_quantile(p, 0.99, &paced);

		fprintf(f, "sluice: shaping: %" PRIu64 " frame(s) waited in timing wheels (slots of "
			"%.1f us), at most %" PRIu64 " at once (cap %u), %" PRIu64 " lost to the "
			"cap, %" PRIu64 " waiting now; pacing error p50 <= %.3f, p90 <= %.3f, p99 "
			"<= %.3f slot(s) over %" PRIu64 " frames\n", shaped,
			p->nb_workers ? (double)p->workers[0]->wheel.width * 1e6 / (double)p->hz
				      : 0.0,
			__atomic_load_n(&p->shape_held_max, __ATOMIC_RELAXED), p->shape_cap,
			__atomic_load_n(&p->shape_cap_drops, __ATOMIC_RELAXED),
			sl_pipe_shape_held(p), p50, p90, p99, paced);
	}
	if (stalls)	/* what late departures (and latency) come from when it is not sluice */
		fprintf(f, "sluice: worker mode: the worker(s) lost their core %" PRIu64 " time(s) "
			"for over %u ms, %.1f ms in all: other threads or the hypervisor run there "
			"(isolate the workers' cores: README, Operating sluice)\n", stalls,
			SL_FWD_STALL_US / 1000, (double)stall_tsc * 1e3 / (double)p->hz);
	for (unsigned i = 0; i < s->nb_tenants; i++)
		fprintf(f, "  %-24s queue_drops %12" PRIu64 "  most queued at once %8" PRIu64 "\n",
			s->t[i].name, s->t[i].c.queue_drops, s->t[i].queue_hwm);
	fflush(f);
}
