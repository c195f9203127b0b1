/* sl_ports.h - the ports of the appliance: pairing (0<->1, 2<->3, ...; one port: itself), queue
 * counts from what each device reports, the packet pool, start and stop. Control path only. */
#ifndef SL_PORTS_H
#define SL_PORTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include "sl_fwd.h"

#define SL_PORT_RXD 1024	/* descriptors asked for; the device may adjust them */
#define SL_PORT_TXD 1024

struct sl_port {
	uint16_t id;			/* DPDK port id */
	unsigned peer;			/* index in sl_ports.p[] of the port its frames leave by */
	char name[RTE_ETH_NAME_MAX_LEN];
	char driver[32];
	uint16_t max_rxq, max_txq;	/* as the device reports them */
	uint16_t nb_rxq;		/* RX queues configured */
	uint16_t nb_txq;		/* TX queues: one per lcore that forwards to this port, or
					 * in worker mode one per worker (within max_txq) */
	unsigned nb_lc;			/* forwarding lcores polling this port's RX queues */
	unsigned first_lc;		/* the first of them (forwarding index); the others follow */
	uint16_t nb_rxd, nb_txd;
	uint64_t rss_hf;		/* hash types asked for; 0 = no RSS */
	uint64_t tx_offloads;
	int socket;
	uint64_t capture_frames;	/* net_pcap infinite_rx: frames it keeps in the pool */
	uint32_t capture_max;		/* largest frame of those captures, bytes */
	bool configured;
	bool started;
};

struct sl_ports {
	unsigned nb;
	unsigned nb_fwd;		/* forwarding lcores (worker mode: policing lcores) */
	unsigned nb_workers;		/* worker mode: worker lcores; 0 = run-to-completion */
	uint64_t held;			/* frames held outside the ports (worker mode rings, set by
					 * the caller before sl_ports_start), added to the pool */
	struct sl_port p[RTE_MAX_ETHPORTS];
	struct rte_mempool *pool;
	unsigned nb_mbufs;
	unsigned nb_mbufs_need;		/* what the plan needs (differs with --mbufs) */
	uint16_t data_room;		/* mbuf data room, headroom included */
};

/*
 * Read every probed port and decide queue counts for nb_fwd forwarding lcores: RX queues
 * = one per lcore within what the device takes (net_pcap: one per rx_pcap file, all polled),
 * RSS on IP/UDP/TCP when there is more than one RX queue and lcore and the device hashes,
 * TX queues = one per lcore that sends to the port, or with nb_workers > 0 (worker mode: the
 * nb_fwd lcores police and never transmit) one per worker within what the device takes.
 * The number of ports must be 1 or even (the caller checks). Notes about clamping go to
 * stderr, the plan to info (may be NULL). Returns 0 or -errno after a message on stderr.
 */
int sl_ports_plan(struct sl_ports *ps, unsigned nb_fwd, unsigned nb_workers, FILE *info);

/*
 * Give each forwarding lcore of f its RX queues and TX buffers from the plan (worker mode: a TX
 * buffer only names the port the frames of an RX queue leave by). 0 or -ENOSPC.
 */
int sl_ports_assign(const struct sl_ports *ps, struct sl_fwd *f, FILE *info);

/*
 * Create the packet pool (nb_mbufs, or 0 = sized from ports, queues, descriptors, lcores and
 * the captures net_pcap keeps in memory), configure and start every port.
 * Returns 0 or -errno after a message on stderr.
 */
int sl_ports_start(struct sl_ports *ps, unsigned nb_mbufs, FILE *info);

/* Stop and close every port configured (a net_pcap tx file is complete after this). */
void sl_ports_close(struct sl_ports *ps);

#endif
