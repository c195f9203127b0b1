/* sl_ports.c - port set-up of the appliance: queue plan from the devices' limits, lcore
 * assignment, pool sizing (incl. the captures net_pcap infinite_rx keeps), start, stop. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_kvargs.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include "sl_ports.h"

#define SL_RSS_HF (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP)
#define SL_POOL_CACHE 256	/* per-lcore mempool cache */
#define SL_POOL_SLACK 4096	/* frames in flight elsewhere (PMD copies, bursts) */

static unsigned sl_min(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

static bool sl_port_is_pcap(const struct sl_port *p)
{
	return strcmp(p->driver, "net_pcap") == 0;
}

/* Add the frame count and largest frame of a classic pcap file (either byte order, us or ns). */
static int sl_pcap_scan(const char *path, uint64_t *frames, uint32_t *max)
{
	uint32_t hdr[6], rec[4];
	bool swap;
	FILE *f = fopen(path, "rb");

	if (!f)
		return -errno;
	if (fread(hdr, sizeof(hdr), 1, f) != 1) {
		fclose(f);
		return -EINVAL;
	}
	switch (hdr[0]) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		swap = false;
		break;
	case 0xd4c3b2a1:
	case 0x4d3cb2a1:
		swap = true;
		break;
	default:
		fclose(f);
		return -ENOTSUP;
	}
	while (fread(rec, sizeof(rec), 1, f) == 1) {
		uint32_t incl = swap ? __builtin_bswap32(rec[2]) : rec[2];

		(*frames)++;
		if (incl > *max)
			*max = incl;
		if (fseek(f, incl, SEEK_CUR))
			break;
	}
	fclose(f);
	return 0;
}

static int sl_pcap_arg(const char *key, const char *value, void *opaque)
{
	struct sl_port *p = opaque;
	int ret = sl_pcap_scan(value, &p->capture_frames, &p->capture_max);

	(void)key;
	if (ret)
		fprintf(stderr, "sluice: note: %s: cannot count the frames of %s (%s): if the pool "
			"is too small, give --mbufs\n", p->name, value,
			ret == -ENOTSUP ? "not a classic pcap file" : strerror(-ret));
	return 0;
}

/* net_pcap with infinite_rx=1 loads every frame of its rx_pcap files into the pool. */
static void sl_port_captures(struct sl_port *p, const struct rte_eth_dev_info *info)
{
	const struct rte_devargs *da;
	struct rte_kvargs *kv;
	const char *inf;

	if (!sl_port_is_pcap(p) || !info->device)
		return;
	da = rte_dev_devargs(info->device);
	if (!da || !da->args || !*da->args)
		return;
	kv = rte_kvargs_parse(da->args, NULL);
	if (!kv)
		return;
	inf = rte_kvargs_get(kv, "infinite_rx");
	if (inf && atoi(inf))
		rte_kvargs_process(kv, "rx_pcap", sl_pcap_arg, p);
	rte_kvargs_free(kv);
}

static int sl_port_probe(struct sl_port *p, uint16_t id)
{
	struct rte_eth_dev_info info;
	int ret = rte_eth_dev_info_get(id, &info);

	if (ret) {
		fprintf(stderr, "sluice: port %u: cannot read device info: %s\n", id,
			rte_strerror(-ret));
		return ret;
	}
	p->id = id;
	if (rte_eth_dev_get_name_by_port(id, p->name))
		snprintf(p->name, sizeof(p->name), "port%u", id);
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name ? info.driver_name : "?");
	p->max_rxq = info.max_rx_queues;
	p->max_txq = info.max_tx_queues;
	p->rss_hf = info.flow_type_rss_offloads & SL_RSS_HF;	/* kept only if RSS is used */
	p->tx_offloads = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	p->socket = rte_eth_dev_socket_id(id);
	p->nb_rxd = SL_PORT_RXD;
	p->nb_txd = SL_PORT_TXD;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(id, &p->nb_rxd, &p->nb_txd);
	if (ret) {
		fprintf(stderr, "sluice: %s: cannot adjust descriptor counts: %s\n", p->name,
			rte_strerror(-ret));
		return ret;
	}
	if (!p->max_rxq || !p->max_txq) {
		fprintf(stderr, "sluice: %s: the device has %u RX and %u TX queues; sluice needs "
			"both\n", p->name, p->max_rxq, p->max_txq);
		return -ENOTSUP;
	}
	sl_port_captures(p, &info);
	return 0;
}

/*
 * RX queues of port p and the number of lcores they are spread over; each of them needs a TX
 * queue on the peer, except in worker mode (nb_workers > 0), where workers transmit.
 */
static void sl_port_plan_queues(struct sl_port *p, const struct sl_port *peer, unsigned nb_fwd,
				unsigned nb_workers)
{
	unsigned want = sl_min(nb_fwd, RTE_MAX_QUEUES_PER_PORT);

	if (sl_port_is_pcap(p)) {
		p->nb_rxq = p->max_rxq;		/* one queue per rx_pcap file: poll them all */
	} else {
		p->nb_rxq = sl_min(want, p->max_rxq);
		if (p->nb_rxq < want)
			fprintf(stderr, "sluice: note: %s takes %u RX queues: %u of the %u "
				"forwarding lcores poll it\n", p->name, p->max_rxq, p->nb_rxq,
				nb_fwd);
	}
	p->nb_lc = sl_min(sl_min(p->nb_rxq, nb_fwd), nb_workers ? UINT16_MAX : peer->max_txq);
	if (p->nb_lc < sl_min(p->nb_rxq, nb_fwd))
		fprintf(stderr, "sluice: note: %s takes %u TX queues: the %u RX queues of %s are "
			"polled by %u lcore(s)\n", peer->name, peer->max_txq, p->nb_rxq, p->name,
			p->nb_lc);
	if (p->nb_rxq < 2 || nb_fwd < 2 || !p->rss_hf)
		p->rss_hf = 0;
}

int sl_ports_plan(struct sl_ports *ps, unsigned nb_fwd, unsigned nb_workers, FILE *info)
{
	unsigned next_lc = 0;
	uint16_t id;
	int ret;

	memset(ps, 0, sizeof(*ps));
	ps->nb_fwd = nb_fwd;
	ps->nb_workers = nb_workers;
	RTE_ETH_FOREACH_DEV(id) {
		ret = sl_port_probe(&ps->p[ps->nb], id);
		if (ret)
			return ret;
		ps->nb++;
	}
	if (!ps->nb || (ps->nb > 1 && ps->nb % 2)) {
		fprintf(stderr, "sluice: %u ports: give 1 port or pairs of ports\n", ps->nb);
		return -EINVAL;
	}
	for (unsigned i = 0; i < ps->nb; i++)
		ps->p[i].peer = ps->nb == 1 ? 0 : i ^ 1;
	for (unsigned i = 0; i < ps->nb; i++) {
		struct sl_port *p = &ps->p[i];

		sl_port_plan_queues(p, &ps->p[p->peer], nb_fwd, nb_workers);
		p->first_lc = next_lc % nb_fwd;
		next_lc += p->nb_lc;
	}
	for (unsigned i = 0; i < ps->nb; i++) {
		struct sl_port *p = &ps->p[i];

		p->nb_txq = nb_workers ? sl_min(nb_workers, p->max_txq) : ps->p[p->peer].nb_lc;
		if (info)
			fprintf(info, "sluice: port %u %s (%s): %u RX queue(s)%s, %u TX queue(s), "
				"%u/%u descriptors, frames leave by %s\n", p->id, p->name,
				p->driver, p->nb_rxq, p->rss_hf ? " with RSS" : "", p->nb_txq,
				p->nb_rxd, p->nb_txd, ps->p[p->peer].name);
	}
	return 0;
}

int sl_ports_assign(const struct sl_ports *ps, struct sl_fwd *f, FILE *info)
{
	for (unsigned i = 0; i < ps->nb; i++) {
		const struct sl_port *p = &ps->p[i];
		const struct sl_port *peer = &ps->p[p->peer];

		for (uint16_t q = 0; q < p->nb_rxq; q++) {
			uint16_t slot = q % p->nb_lc;
			struct sl_fwd_lcore *fl = f->lcores[(p->first_lc + slot) % ps->nb_fwd];
			int tx = sl_fwd_txbuf(fl, peer->id, slot);

			if (tx < 0 || fl->nb_rxq == SL_FWD_MAX_RXQ) {
				fprintf(stderr, "sluice: lcore %u would poll more than %u RX queues: "
					"give more lcores\n", fl->lcore_id, SL_FWD_MAX_RXQ);
				return -ENOSPC;
			}
			fl->rxq[fl->nb_rxq++] = (struct sl_fwd_rxq){ p->id, q, (uint16_t)tx };
		}
	}
	for (unsigned i = 0; info && i < f->nb_lcores; i++) {
		const struct sl_fwd_lcore *fl = f->lcores[i];

		fprintf(info, "sluice: lcore %u:", fl->lcore_id);
		if (!fl->nb_rxq)
			fprintf(info, " idle (no RX queue left for it)");
		for (unsigned j = 0; j < fl->nb_rxq; j++) {
			const struct sl_fwd_txbuf *tb = &fl->tx[fl->rxq[j].tx];

			if (ps->nb_workers)	/* policing only: the workers transmit */
				fprintf(info, "%s port %u rxq %u -> workers -> port %u",
					j ? "," : "", fl->rxq[j].port, fl->rxq[j].queue, tb->port);
			else
				fprintf(info, "%s port %u rxq %u -> port %u txq %u", j ? "," : "",
					fl->rxq[j].port, fl->rxq[j].queue, tb->port, tb->queue);
		}
		fprintf(info, "\n");
	}
	return 0;
}

/* Mbufs the plan needs: descriptors, captures kept in memory, bursts, caches, slack. */
static uint64_t sl_ports_mbufs(const struct sl_ports *ps, uint64_t *captures)
{
	uint64_t n = 0;

	*captures = 0;
	for (unsigned i = 0; i < ps->nb; i++) {
		const struct sl_port *p = &ps->p[i];

		n += (uint64_t)p->nb_rxq * p->nb_rxd + (uint64_t)p->nb_txq * p->nb_txd;
		*captures += p->capture_frames;
	}
	n += (uint64_t)ps->nb_fwd * SL_FWD_BURST * (1 + ps->nb);
	n += (uint64_t)rte_lcore_count() * SL_POOL_CACHE;
	return n + ps->held + *captures + SL_POOL_SLACK;
}

static uint16_t sl_ports_data_room(const struct sl_ports *ps)
{
	uint32_t max = 0;

	for (unsigned i = 0; i < ps->nb; i++)
		if (ps->p[i].capture_max > max)
			max = ps->p[i].capture_max;
	if (max <= RTE_MBUF_DEFAULT_DATAROOM)
		return RTE_MBUF_DEFAULT_BUF_SIZE;
	max = RTE_ALIGN_CEIL(max, RTE_CACHE_LINE_SIZE) + RTE_PKTMBUF_HEADROOM;
	return max > UINT16_MAX ? UINT16_MAX : (uint16_t)max;
}

static int sl_ports_pool(struct sl_ports *ps, unsigned nb_mbufs, FILE *info)
{
	uint64_t captures, need = sl_ports_mbufs(ps, &captures);
	uint64_t n = nb_mbufs ? nb_mbufs : need;

	if (n > UINT32_MAX) {
		fprintf(stderr, "sluice: the pool would need %" PRIu64 " mbufs: too many\n", n);
		return -E2BIG;
	}
	if (nb_mbufs && nb_mbufs < need)
		fprintf(stderr, "sluice: note: --mbufs %u is below the %" PRIu64 " the ports need (%"
			PRIu64 " of them hold net_pcap captures)\n", nb_mbufs, need, captures);
	ps->data_room = sl_ports_data_room(ps);
	ps->nb_mbufs = (unsigned)n;
	ps->nb_mbufs_need = need > UINT32_MAX ? UINT32_MAX : (unsigned)need;
	ps->pool = rte_pktmbuf_pool_create("sl_pool", ps->nb_mbufs, SL_POOL_CACHE, 0,
					   ps->data_room, rte_socket_id());
	if (!ps->pool) {
		uint64_t mib = (uint64_t)ps->nb_mbufs *
			       (ps->data_room + sizeof(struct rte_mbuf) + 64) >> 20;

		fprintf(stderr, "sluice: cannot create a pool of %u mbufs of %u bytes (about %"
			PRIu64 " MiB): %s; give EAL more memory (-m) or fewer --mbufs\n",
			ps->nb_mbufs, ps->data_room, mib, rte_strerror(rte_errno));
		return -rte_errno;
	}
	if (info)
		fprintf(info, "sluice: pool of %u mbufs of %u bytes (%" PRIu64
			" hold captures)\n", ps->nb_mbufs, ps->data_room, captures);
	return 0;
}

static int sl_port_fail(const struct sl_port *p, const char *what, int ret)
{
	fprintf(stderr, "sluice: %s: %s failed: %s\n", p->name, what, rte_strerror(-ret));
	return ret;
}

/* RX and TX queues of a configured port; RX frames come from ps->pool. */
static int sl_port_queues(const struct sl_port *p, const struct sl_ports *ps,
			  const struct rte_eth_conf *conf)
{
	struct rte_eth_dev_info dinfo;
	struct rte_eth_rxconf rxc;
	struct rte_eth_txconf txc;
	int ret = rte_eth_dev_info_get(p->id, &dinfo);

	if (ret)
		return sl_port_fail(p, "device info", ret);
	rxc = dinfo.default_rxconf;
	rxc.offloads = conf->rxmode.offloads;
	for (uint16_t q = 0; q < p->nb_rxq; q++) {
		ret = rte_eth_rx_queue_setup(p->id, q, p->nb_rxd, p->socket, &rxc, ps->pool);
		if (ret) {
			sl_port_fail(p, "RX queue set-up", ret);
			if (p->capture_frames && ps->nb_mbufs < ps->nb_mbufs_need)
				fprintf(stderr, "sluice: %s keeps its captures in the pool "
					"(infinite_rx, %" PRIu64 " frames): %u mbufs are too few, "
					"give --mbufs %u or more (and enough -m)\n", p->name,
					p->capture_frames, ps->nb_mbufs, ps->nb_mbufs_need);
			return ret;
		}
	}
	txc = dinfo.default_txconf;
	txc.offloads = conf->txmode.offloads;
	for (uint16_t q = 0; q < p->nb_txq; q++) {
		ret = rte_eth_tx_queue_setup(p->id, q, p->nb_txd, p->socket, &txc);
		if (ret)
			return sl_port_fail(p, "TX queue set-up", ret);
	}
	return 0;
}

static int sl_port_start(struct sl_port *p, const struct sl_ports *ps, FILE *info)
{
	struct rte_eth_conf conf;
	struct rte_eth_link link;
	int ret;

	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mq_mode = p->rss_hf ? RTE_ETH_MQ_RX_RSS : RTE_ETH_MQ_RX_NONE;
	conf.rx_adv_conf.rss_conf.rss_hf = p->rss_hf;
	conf.txmode.mq_mode = RTE_ETH_MQ_TX_NONE;
	conf.txmode.offloads = p->tx_offloads;
	p->configured = true;
	ret = rte_eth_dev_configure(p->id, p->nb_rxq, p->nb_txq, &conf);
	if (ret)
		return sl_port_fail(p, "configure", ret);
	ret = sl_port_queues(p, ps, &conf);
	if (ret)
		return ret;
	ret = rte_eth_promiscuous_enable(p->id);
	if (ret && ret != -ENOTSUP)
		fprintf(stderr, "sluice: note: %s: promiscuous mode: %s\n", p->name,
			rte_strerror(-ret));
	ret = rte_eth_dev_start(p->id);
	if (ret)
		return sl_port_fail(p, "start", ret);
	p->started = true;
	if (info && rte_eth_link_get_nowait(p->id, &link) == 0)
		fprintf(info, "sluice: port %u %s started: link %s, %u Mbit/s\n", p->id, p->name,
			link.link_status ? "up" : "down", link.link_speed);
	return 0;
}

int sl_ports_start(struct sl_ports *ps, unsigned nb_mbufs, FILE *info)
{
	int ret = sl_ports_pool(ps, nb_mbufs, info);

	for (unsigned i = 0; !ret && i < ps->nb; i++)
		ret = sl_port_start(&ps->p[i], ps, info);
	return ret;
}

void sl_ports_close(struct sl_ports *ps)
{
	for (unsigned i = 0; i < ps->nb; i++) {
		struct sl_port *p = &ps->p[i];
		int ret;

		if (p->started) {
			ret = rte_eth_dev_stop(p->id);
			if (ret)
				fprintf(stderr, "sluice: %s: stop: %s\n", p->name,
					rte_strerror(-ret));
			p->started = false;
		}
		if (p->configured) {
			rte_eth_dev_close(p->id);
			p->configured = false;
		}
	}
	rte_mempool_free(ps->pool);
	ps->pool = NULL;
}
