/* sl_pipe.h - worker mode of the appliance (--workers N): policing lcores hand the frames they
 * forward over SPSC rings to worker lcores chosen by flow hash; workers mark, batch and send. */
#ifndef SL_PIPE_H
#define SL_PIPE_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include "sl_fwd.h"
#include "sl_pipe_cap.h"
#include "sl_ports.h"
#include "sl_wheel.h"

/*
 * max-queue (sl_pipe_cap.h): a frame holds its place from the hand-off until its worker has
 * passed it to rte_eth_tx_burst or freed it, so the cap bounds the frames of a tenant (or key)
 * in the rings and in the workers' TX buffers together. A frame over its cap, or refused by a
 * full ring, is freed by the policing lcore and counted in its tenant's queue_drops (frames of
 * no tenant in sl_pipe_tx_dropped). Ordering: a flow comes in by one RX queue, so one policing
 * lcore; its frames go to one worker (sl_pipe_worker of the flow hash), through one FIFO ring,
 * out by that worker's TX queue: their order is kept.
 */
#define SL_PIPE_RING 1024	/* frames one (policing lcore, worker) ring holds */
#define SL_PIPE_MAX_WORKERS 32	/* --workers at most */
#define SL_PIPE_TX_RETRIES 32	/* more rte_eth_tx_burst calls for a full TX queue, then drop */
#define SL_PIPE_PACE_BUCKETS 65	/* pacing error histogram: 1/8 slot each, 8 slots and more */
#define SL_PIPE_SHAPE_SLOT_US 10	/* --shape-slot-us default: timing wheel slot width */
#define SL_PIPE_SHAPE_MBUFS 16384	/* --shape-mbufs default: frames waiting, all workers */

/*
 * What a worker needs of a frame's decision, carried in a registered mbuf dynamic field
 * ("sluice_pipe_meta") from the policing lcore to the worker.
 */
struct sl_pipe_meta {
	struct sl_wheel_item wi;	/* exceed: shape: wi.due, the departure tick; what its
					 * worker's timing wheel points to while it waits */
	uint32_t slot;			/* occupancy counter taken, SL_PIPE_NO_SLOT = none */
	uint16_t l3_off;		/* IP header offset, for the deferred DSCP rewrite */
	uint8_t port;			/* port id the frame leaves by */
	uint8_t mark;			/* 0, or SL_PIPE_MARK | DSCP to write */
};

#define SL_PIPE_MARK 0x80u
_Static_assert(RTE_MAX_ETHPORTS <= 64, "sl_pipe_meta.port is 8 bits, a pending mask 64");

/* Frames a worker has for one TX queue of one port, and the slots they hold. */
struct sl_pipe_txbuf {
	uint16_t port;
	uint16_t queue;			/* the worker's own queue on that port */
	uint16_t n;
	struct rte_mbuf *m[SL_FWD_BURST];
	uint32_t slot[SL_FWD_BURST];
};

/*
 * One worker lcore: dequeues from one ring per policing lcore, transmits on its own TX queue
 * (queue = worker index) of each port. Written by the main lcore before launch, then by the
 * worker only; tx_dropped is read by the main lcore (relaxed atomic).
 */
struct sl_pipe_worker {
	unsigned lcore_id;
	unsigned index;
	unsigned nb_rings;
	uint64_t tx_dropped;		/* frames the TX queue did not take after the retries, and
					 * shaped frames still waiting at the stop's deadline */
	uint64_t pending;		/* bit per port id: tx[] may hold frames */
	uint64_t sent;			/* frames rte_eth_tx_burst took (metrics) */
	uint64_t idle_tsc;		/* TSC ticks in passes that moved nothing (metrics) */
	struct sl_stall stall;		/* core losses (metrics, final lines) */
	/* exceed: shape: frames waiting for their departure, and how late they left (|release
	 * tick - departure| in eighths of a slot, the last bucket 8 slots or more) */
	struct sl_wheel wheel;
	uint64_t pace_err[SL_PIPE_PACE_BUCKETS];
	struct rte_ring *ring[RTE_MAX_LCORE];	/* by policing index */
	struct sl_pipe_txbuf tx[RTE_MAX_ETHPORTS] __rte_cache_aligned;	/* by port id */
} __rte_cache_aligned;

/*
 * What a policing lcore adds to its sl_fwd_lcore (RX queues, engine context, first_tsc): a
 * ring to each worker and how many workers send on each port. Policing lcores never transmit;
 * fl->tx[] only names the port each RX queue's frames leave by.
 */
struct sl_pipe_police {
	struct sl_fwd_lcore *fl;
	uint64_t lost;			/* frames of no tenant refused by a full ring */
	unsigned nb_workers;
	uint8_t nbw[RTE_MAX_ETHPORTS];	/* by port id: workers 0..nbw-1 have a TX queue there */
	struct rte_ring *ring[SL_PIPE_MAX_WORKERS];	/* by worker index; SPSC */
	uint8_t stage[SL_PIPE_MAX_WORKERS][SL_FWD_BURST];	/* burst indexes per worker */
} __rte_cache_aligned;

/* Shared context of worker mode; set up by the main lcore before launch. */
/*
 * Shaping (exceed: shape; the engine gives each forwarded frame its departure tick): a frame
 * due later than its worker's clock waits in the worker's timing wheel (sl_wheel.h, slots of
 * --shape-slot-us) and goes to its TX buffer when its slot comes; the others go at once. A
 * worker releases what is due before it takes new frames from its rings, so a flow's frames
 * keep their order (their departures are in arrival order). Frames waiting are capped
 * appliance-wide (--shape-mbufs, one atomic per burst): a frame over the cap is lost at
 * hand-off (its tenant's queue_drops, and shape_cap_drops). A waiting frame keeps its
 * max-queue place until it leaves. Graceful stop: workers keep releasing on time until their
 * wheels are empty or SL_PIPE_STOP_WAIT_MS has passed; what is left is freed and counted in
 * tx_dropped.
 */
#define SL_PIPE_STOP_WAIT_MS 1500	/* longer than the longest max-delay (1 s) */

struct sl_pipe {
	atomic_bool drain;		/* policing lcores are done: empty rings, flush, return */
	uint64_t hz;
	uint32_t shape_cap;		/* frames that may wait at once, all workers */
	uint32_t shape_held;		/* atomic: frames waiting now (admitted, not yet left) */
	uint64_t shape_cap_drops;	/* atomic: frames lost to the cap */
	uint64_t shape_held_max;	/* atomic max: most frames waiting at once */
	int meta_off;			/* offset of struct sl_pipe_meta in the mbuf */
	uint64_t drain_tsc;		/* TSC ticks between TX flushes of partly filled buffers */
	uint32_t *occ;			/* SL_PIPE_COUNTERS occupancy counters (sl_pipe_cap.h) */
	struct sl_fwd *fwd;		/* the policing lcores and their stop flag */
	unsigned nb_police;
	unsigned nb_workers;
	struct sl_pipe_police *police[RTE_MAX_LCORE];	/* by policing (= forwarding) index */
	struct sl_pipe_police *police_by_id[RTE_MAX_LCORE];
	struct sl_pipe_worker *workers[SL_PIPE_MAX_WORKERS];
	struct sl_pipe_worker *worker_by_id[RTE_MAX_LCORE];
};

/* Mbufs worker mode may hold at once beyond what the ports hold: rings, TX buffers and the
 * frames waiting in timing wheels (shape_mbufs). */
uint64_t sl_pipe_mbufs(unsigned nb_police, unsigned nb_workers, unsigned nb_ports,
		       uint32_t shape_mbufs);

/*
 * Control path, after sl_ports_assign (policing lcores have their RX queues, ports their TX
 * queue counts) and before launch: the lcores that f did not take (the last nb_workers) become
 * workers; one SPSC ring per (policing lcore, worker); the occupancy counters; the mbuf
 * field; a timing wheel per worker (slots of sh->slot_us over 1 s, the longest max-delay). A
 * port with fewer TX queues than workers is sent to by the first nb_txq workers only.
 * Returns 0 or -errno after a message on stderr; sl_pipe_free undoes a partial set-up.
 */
struct sl_pipe_shape_opts {
	uint64_t slot_us;		/* timing wheel slot width (--shape-slot-us) */
	uint32_t mbufs;			/* frames that may wait at once (--shape-mbufs) */
};
int sl_pipe_init(struct sl_pipe *p, struct sl_fwd *f, const struct sl_ports *ps,
		 unsigned nb_workers, uint64_t hz, const struct sl_pipe_shape_opts *sh, FILE *info);
void sl_pipe_free(struct sl_pipe *p);

/* Launch the workers, then the policing lcores. Returns 0 or -errno (launched ones run). */
int sl_pipe_launch(struct sl_pipe *p);

/*
 * Main lcore, the graceful stop: stop RX (f->stop), wait until every policing lcore returned
 * (each has handed its last burst to the rings: they buffer nothing), then tell the workers to
 * empty every ring and flush their TX buffers. Returns at once; wait for the workers with
 * rte_eal_mp_wait_lcore(), then stop the ports.
 */
void sl_pipe_stop(struct sl_pipe *p);

/* lcore_function_t of policing lcores and of workers; arg is the struct sl_pipe. Return 0. */
int sl_pipe_police_main(void *arg);
int sl_pipe_worker_main(void *arg);

/*
 * Frames lost after the engine forwarded them that no tenant's queue_drops counts: TX queue
 * full after the retries, and frames of no tenant refused by a full ring. Any thread.
 */
uint64_t sl_pipe_tx_dropped(const struct sl_pipe *p);

/* Final lines of worker mode: per tenant, frames lost at hand-off and the high-water mark;
 * with shaped profiles, frames waiting, lost to the cap, and the pacing error. */
void sl_pipe_final(const struct sl_pipe *p, const struct sl_stats *s, FILE *f);

/* Frames waiting in the timing wheels now (any thread). */
uint64_t sl_pipe_shape_held(const struct sl_pipe *p);

#endif
