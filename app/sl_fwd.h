/* sl_fwd.h - the forwarding lcores of the appliance: what each one polls and where it sends,
 * and the loop (rx burst -> sl_process -> free drops, buffer and flush the rest). */
#ifndef SL_FWD_H
#define SL_FWD_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include "sl_engine.h"

#define SL_FWD_BURST 32		/* frames per rte_eth_rx_burst and per TX flush */
#define SL_FWD_MAX_RXQ 64	/* (port, queue) RX pairs one lcore may poll */
#define SL_FWD_DRAIN_US 100	/* flush partly filled TX buffers this often */
#define SL_FWD_STALL_US 1000	/* an lcore's passes this far apart: it lost its core */

_Static_assert(SL_FWD_BURST <= SL_BURST_MAX, "sl_process takes at most SL_BURST_MAX frames");

/* Frames waiting for one TX queue of one port. Owned by one lcore. */
struct sl_fwd_txbuf {
	uint16_t port;
	uint16_t queue;
	uint16_t n;
	struct rte_mbuf *m[SL_FWD_BURST];
};

/*
 * Passes of one lcore that began more than SL_FWD_STALL_US after the one before: the lcore
 * lost its core (another thread, the kernel or the hypervisor ran there) or, rarely, a pass took
 * that long. Written by the lcore, read by the main lcore (metrics, final lines): relaxed.
 */
struct sl_stall {
	uint64_t n;
	uint64_t tsc;			/* their TSC ticks in all */
};

static inline void sl_stall_note(struct sl_stall *s, uint64_t gap, uint64_t limit)
{
	if (unlikely(gap > limit)) {
		__atomic_store_n(&s->n, s->n + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->tsc, s->tsc + gap, __ATOMIC_RELAXED);
	}
}

/* One RX queue polled by an lcore and the TX buffer (index into tx[]) its frames go to. */
struct sl_fwd_rxq {
	uint16_t port;
	uint16_t queue;
	uint16_t tx;
};

/* A received burst in the engine's pipeline (sl_burst_stage .. sl_burst_finish). */
struct sl_fwd_inflight {
	uint16_t n;
	uint16_t tx;			/* TX buffer its forwarded frames go to */
	struct rte_mbuf *m[SL_FWD_BURST];
	uint8_t *data[SL_FWD_BURST];
	uint32_t caplen[SL_FWD_BURST];
	uint32_t len[SL_FWD_BURST];
};

/*
 * Everything one forwarding lcore touches, on its own cache lines, allocated on its socket.
 * Written before launch by the main lcore, then by the owning lcore only; the main lcore
 * reads tx_dropped (relaxed atomic) while it runs and first_tsc after rte_eal_mp_wait_lcore.
 */
struct sl_fwd_lcore {
	struct sl_lcore *lc;		/* engine context of this lcore */
	unsigned lcore_id;
	unsigned index;			/* forwarding lcore index = engine context index */
	unsigned nb_rxq;
	unsigned nb_tx;
	struct sl_fwd_rxq rxq[SL_FWD_MAX_RXQ];
	uint64_t first_tsc;		/* TSC of the first burst that forwarded a frame; 0 = none */
	uint64_t tx_dropped;		/* frames the TX queue did not accept, freed */
	uint64_t idle_tsc;		/* TSC ticks in passes that received nothing (metrics) */
	struct sl_stall stall;		/* core losses (metrics, final lines) */
	unsigned head, nin;		/* oldest burst in flight (slot), how many */
	struct sl_fwd_inflight inflight[SL_SLOTS] __rte_cache_aligned;	/* by engine slot */
	struct sl_fwd_txbuf tx[SL_FWD_MAX_RXQ] __rte_cache_aligned;
} __rte_cache_aligned;

/* The shared context of the forwarding lcores: set up by the main lcore before launch. */
struct sl_fwd {
	atomic_bool stop;		/* set by the main lcore; workers finish the burst and return */
	uint64_t drain_tsc;		/* TSC ticks between TX drains */
	uint64_t stall_tsc;		/* SL_FWD_STALL_US in TSC ticks */
	unsigned nb_lcores;		/* forwarding lcores (engine contexts) */
	struct sl_fwd_lcore *lcores[RTE_MAX_LCORE];	/* by forwarding index; rte_zmalloc'ed */
	struct sl_fwd_lcore *by_id[RTE_MAX_LCORE];	/* by lcore id; NULL on non-forwarding */
};

/*
 * Allocate one sl_fwd_lcore for each of the first nb non-main lcores (all of them in
 * run-to-completion mode; in worker mode the policing lcores, the rest being workers), index i
 * bound to engine context i. Returns the number of forwarding lcores (0 when there is no
 * non-main lcore), or -ENOMEM. Control path, before launch.
 */
int sl_fwd_init(struct sl_fwd *f, struct sl_engine *e, uint64_t hz, unsigned nb);
void sl_fwd_free(struct sl_fwd *f);

/*
 * Index of the TX buffer of lcore fl for (port, queue), added if new.
 * Returns the index or -ENOSPC. Control path, before launch.
 */
int sl_fwd_txbuf(struct sl_fwd_lcore *fl, uint16_t port, uint16_t queue);

/*
 * lcore_function_t for rte_eal_remote_launch; arg is the struct sl_fwd. Returns 0. Bursts go
 * through the engine's pipeline: each received burst is staged, the one before it probed and
 * the one before that finished and sent, so up to two bursts per lcore are in flight between
 * passes; a pass that receives nothing finishes them, and so does stopping. The lcore
 * is a liburcu QSBR reader while it loops (registered, a quiescent state after each pass over
 * its RX queues, unregistered on return), so policy reloads and evictions wait for it.
 */
int sl_fwd_main(void *arg);

/*
 * One line per lcore that lost its core (sl_stall), to out: "sluice: lcore 1 (role) lost its
 * core N time(s) for over 1 ms, X ms in all", and a pointer to the README when any did.
 */
void sl_fwd_stalls_final(const struct sl_fwd *f, const char *role, uint64_t hz, FILE *out);

/* Sum of tx_dropped over the forwarding lcores (any thread). */
uint64_t sl_fwd_tx_dropped(const struct sl_fwd *f);

/* Earliest first_tsc over the lcores, 0 if none forwarded. Call after the lcores returned. */
uint64_t sl_fwd_first_tsc(const struct sl_fwd *f);

/* Frame pointers and lengths of a received burst for the engine (which prefetches them). */
static inline void sl_fwd_gather(struct rte_mbuf **m, unsigned n, uint8_t *data[],
				 uint32_t caplen[], uint32_t len[])
{
	for (unsigned i = 0; i < n; i++) {
		data[i] = rte_pktmbuf_mtod(m[i], uint8_t *);
		caplen[i] = m[i]->data_len;
		len[i] = m[i]->pkt_len;
	}
}

/*
 * Receive from q into the next free slot of fl's pipeline, stage it and probe the burst before
 * it. Returns the frames received. When fl->nin reaches SL_SLOTS the caller finishes the
 * oldest burst (fl->inflight[fl->head], engine slot fl->head) and calls sl_fwd_retire.
 */
static inline unsigned sl_fwd_rx_stage(struct sl_fwd_lcore *fl, const struct sl_fwd_rxq *q)
{
	unsigned slot = (fl->head + fl->nin) % SL_SLOTS;
	struct sl_fwd_inflight *b = &fl->inflight[slot];
	uint16_t n = rte_eth_rx_burst(q->port, q->queue, b->m, SL_FWD_BURST);

	if (!n)
		return 0;
	b->n = n;
	b->tx = q->tx;
	sl_fwd_gather(b->m, n, b->data, b->caplen, b->len);
	sl_burst_stage(fl->lc, slot, q->port, b->data, b->caplen, n);
	if (fl->nin++)
		sl_burst_probe(fl->lc, (slot + SL_SLOTS - 1) % SL_SLOTS);
	return n;
}

/* The oldest burst in flight has been finished and its frames dispatched. */
static inline void sl_fwd_retire(struct sl_fwd_lcore *fl)
{
	fl->head = (fl->head + 1) % SL_SLOTS;
	fl->nin--;
}

#endif
