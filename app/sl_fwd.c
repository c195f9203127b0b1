/* sl_fwd.c - the data path of the appliance, one loop per forwarding lcore (model: DPDK
 * examples/l3fwd): rx burst, engine verdicts, bulk free of drops, buffered TX on a timer. */
#include <errno.h>
#include <string.h>
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <urcu-qsbr.h>
#include <inttypes.h>
#include "sl_fwd.h"

int sl_fwd_init(struct sl_fwd *f, struct sl_engine *e, uint64_t hz, unsigned nb)
{
	unsigned id, n = 0;

	memset(f, 0, sizeof(*f));
	atomic_init(&f->stop, false);
	f->drain_tsc = (hz + US_PER_S - 1) / US_PER_S * SL_FWD_DRAIN_US;
	f->stall_tsc = hz / US_PER_S * SL_FWD_STALL_US;
	RTE_LCORE_FOREACH_WORKER(id) {
		struct sl_fwd_lcore *fl;

		if (n == nb)
			break;
		fl = rte_zmalloc_socket("sl_fwd_lcore", sizeof(*fl), RTE_CACHE_LINE_SIZE,
					rte_lcore_to_socket_id(id));
		if (!fl) {
			sl_fwd_free(f);
			return -ENOMEM;
		}
		fl->lcore_id = id;
		fl->index = n;
		f->lcores[n++] = fl;
		f->by_id[id] = fl;
	}
	f->nb_lcores = n;
	for (unsigned i = 0; i < n; i++)
		f->lcores[i]->lc = sl_engine_lcore(e, i);
	return (int)n;
}

void sl_fwd_free(struct sl_fwd *f)
{
	for (unsigned i = 0; i < RTE_MAX_LCORE; i++) {
		rte_free(f->lcores[i]);
		f->lcores[i] = NULL;
		f->by_id[i] = NULL;
	}
	f->nb_lcores = 0;
}

int sl_fwd_txbuf(struct sl_fwd_lcore *fl, uint16_t port, uint16_t queue)
{
	for (unsigned i = 0; i < fl->nb_tx; i++)
		if (fl->tx[i].port == port && fl->tx[i].queue == queue)
			return (int)i;
	if (fl->nb_tx == SL_FWD_MAX_RXQ)
		return -ENOSPC;
	fl->tx[fl->nb_tx].port = port;
	fl->tx[fl->nb_tx].queue = queue;
	fl->tx[fl->nb_tx].n = 0;
	return (int)fl->nb_tx++;
}

/* Send n frames to tb's queue; free and count what the queue did not take. */
static inline void sl_fwd_send(struct sl_fwd_lcore *fl, const struct sl_fwd_txbuf *tb,
			       struct rte_mbuf **m, uint16_t n)
{
	uint16_t sent = rte_eth_tx_burst(tb->port, tb->queue, m, n);

	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(&m[sent], n - sent);
		__atomic_store_n(&fl->tx_dropped, fl->tx_dropped + (n - sent), __ATOMIC_RELAXED);
	}
}

/* Send what tb holds. */
static inline void sl_fwd_flush(struct sl_fwd_lcore *fl, struct sl_fwd_txbuf *tb)
{
	sl_fwd_send(fl, tb, tb->m, tb->n);
	tb->n = 0;
}

static void sl_fwd_flush_all(struct sl_fwd_lcore *fl)
{
	for (unsigned i = 0; i < fl->nb_tx; i++)
		if (fl->tx[i].n)
			sl_fwd_flush(fl, &fl->tx[i]);
}

/*
 * Finish the oldest burst in flight and dispatch its verdicts. A whole burst forwarded while
 * its TX buffer is empty (the common case at full load) is sent as it is, without copying.
 */
static inline void sl_fwd_finish(struct sl_fwd_lcore *fl)
{
	struct sl_fwd_inflight *b = &fl->inflight[fl->head];
	struct sl_fwd_txbuf *tb = &fl->tx[b->tx];
	uint8_t verdict[SL_FWD_BURST];
	struct rte_mbuf *drop[SL_FWD_BURST];
	unsigned i, nd = 0, n = b->n, nt;
	uint64_t now = rte_rdtsc();
	unsigned fwd = sl_burst_finish(fl->lc, fl->head, b->data, b->caplen, b->len, now, verdict,
				       NULL);

	if (fwd && unlikely(!fl->first_tsc))
		fl->first_tsc = now;
	if (fwd == SL_FWD_BURST && tb->n == 0) {
		sl_fwd_send(fl, tb, b->m, SL_FWD_BURST);
		sl_fwd_retire(fl);
		return;
	}
	nt = tb->n;
	for (i = 0; i < n; i++) {
		if (verdict[i] != SL_V_FORWARD) {
			drop[nd++] = b->m[i];
			continue;
		}
		tb->m[nt++] = b->m[i];
		if (unlikely(nt == SL_FWD_BURST)) {
			tb->n = (uint16_t)nt;
			sl_fwd_flush(fl, tb);
			nt = 0;
		}
	}
	tb->n = (uint16_t)nt;
	if (nd)
		rte_pktmbuf_free_bulk(drop, nd);
	sl_fwd_retire(fl);
}

int sl_fwd_main(void *arg)
{
	struct sl_fwd *f = arg;
	struct sl_fwd_lcore *fl = f->by_id[rte_lcore_id()];
	const uint64_t drain_tsc = f->drain_tsc;
	uint64_t prev_tsc, cur_tsc, pass_tsc, idle = 0;

	if (!fl || !fl->nb_rxq)
		return 0;
	rcu_register_thread();	/* a QSBR reader of the policy: reloads wait for this lcore */
	prev_tsc = pass_tsc = rte_rdtsc();
	fl->head = fl->nin = 0;
	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		unsigned got = 0;

		cur_tsc = rte_rdtsc();
		if (idle)	/* the pass before received nothing: its time was idle */
			__atomic_store_n(&fl->idle_tsc, fl->idle_tsc + (cur_tsc - pass_tsc),
					 __ATOMIC_RELAXED);
		sl_stall_note(&fl->stall, cur_tsc - pass_tsc, f->stall_tsc);
		pass_tsc = cur_tsc;
		if (unlikely(cur_tsc - prev_tsc > drain_tsc)) {
			sl_fwd_flush_all(fl);
			prev_tsc = cur_tsc;
		}
		for (unsigned i = 0; i < fl->nb_rxq; i++) {
			got += sl_fwd_rx_stage(fl, &fl->rxq[i]);
			if (fl->nin == SL_SLOTS)
				sl_fwd_finish(fl);
		}
		/* nothing came in: what is in flight goes out now rather than wait for traffic */
		idle = !got;
		if (!got)
			while (fl->nin)
				sl_fwd_finish(fl);
		/* slots in flight are re-staged by the engine if the policy changed meanwhile */
		rcu_quiescent_state();
	}
	while (fl->nin)
		sl_fwd_finish(fl);
	sl_fwd_flush_all(fl);
	rcu_unregister_thread();
	return 0;
}

uint64_t sl_fwd_tx_dropped(const struct sl_fwd *f)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < f->nb_lcores; i++)
		sum += __atomic_load_n(&f->lcores[i]->tx_dropped, __ATOMIC_RELAXED);
	return sum;
}

void sl_fwd_stalls_final(const struct sl_fwd *f, const char *role, uint64_t hz, FILE *out)
{
	unsigned any = 0;

	for (unsigned i = 0; i < f->nb_lcores; i++) {
		const struct sl_stall *st = &f->lcores[i]->stall;

		if (!st->n)
			continue;
		fprintf(out, "sluice: lcore %u (%s) lost its core %" PRIu64 " time(s) for over %u ms, "
			"%.1f ms in all\n", f->lcores[i]->lcore_id, role, st->n, SL_FWD_STALL_US / 1000,
			(double)st->tsc * 1e3 / (double)hz);
		any = 1;
	}
	if (any)
		fprintf(out, "sluice: other threads or the hypervisor ran on those cores: keep them "
			"for sluice (README, Operating sluice)\n");
}

uint64_t sl_fwd_first_tsc(const struct sl_fwd *f)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < f->nb_lcores; i++) {
		uint64_t t = f->lcores[i]->first_tsc;

		if (t && (!first || t < first))
			first = t;
	}
	return first;
}
