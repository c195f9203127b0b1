/* sl_fwd.h - the forwarding lcores of the appliance: what each one polls and where it sends,
 * and the loop (rx burst -> sl_process -> free drops, buffer and flush the rest). */
#ifndef SL_FWD_H
#define SL_FWD_H

#include <stdatomic.h>
#include <stdint.h>
#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include "sl_engine.h"

#define SL_FWD_BURST 32		/* frames per rte_eth_rx_burst and per TX flush */
#define SL_FWD_MAX_RXQ 64	/* (port, queue) RX pairs one lcore may poll */
#define SL_FWD_DRAIN_US 100	/* flush partly filled TX buffers this often */

_Static_assert(SL_FWD_BURST <= SL_BURST_MAX, "sl_process takes at most SL_BURST_MAX frames");

/* Frames waiting for one TX queue of one port. Owned by one lcore. */
struct sl_fwd_txbuf {
	uint16_t port;
	uint16_t queue;
	uint16_t n;
	struct rte_mbuf *m[SL_FWD_BURST];
};

/* One RX queue polled by an lcore and the TX buffer (index into tx[]) its frames go to. */
struct sl_fwd_rxq {
	uint16_t port;
	uint16_t queue;
	uint16_t tx;
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
	struct sl_fwd_txbuf tx[SL_FWD_MAX_RXQ] __rte_cache_aligned;
} __rte_cache_aligned;

/* The shared context of the forwarding lcores: set up by the main lcore before launch. */
struct sl_fwd {
	atomic_bool stop;		/* set by the main lcore; workers finish the burst and return */
	uint64_t drain_tsc;		/* TSC ticks between TX drains */
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
 * lcore_function_t for rte_eal_remote_launch; arg is the struct sl_fwd. Returns 0. The lcore
 * is a liburcu QSBR reader while it loops (registered, a quiescent state after each pass over
 * its RX queues, unregistered on return), so policy reloads and evictions wait for it.
 */
int sl_fwd_main(void *arg);

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

#endif
