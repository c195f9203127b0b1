/* sl_metrics.h - Prometheus metrics of the appliance (--metrics ADDR:PORT): the text exposition
 * format at /metrics, served by libmicrohttpd's own thread, never by a forwarding lcore. */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include "sl_ctl.h"
#include "sl_fwd.h"
#include "sl_pipe.h"

/*
 * What a scrape reads, all safe while the lcores run: the engine's counters (sl_engine_stats,
 * under the engine's control lock: a scrape waits for a reload), the ports' (rte_eth_stats_get),
 * the lcores' (relaxed loads of what each lcore writes), the control path's reload figures.
 */
struct sl_metrics_src {
	struct sl_engine *e;
	const struct sl_fwd *fwd;	/* forwarding (run-to-completion) or policing lcores */
	const struct sl_pipe *pipe;	/* worker mode, or NULL */
	const struct sl_ctl *ctl;
	uint64_t hz;
	uint64_t start_tsc;		/* launch: the lcores' busy ratio counts from here */
	uint64_t (*tx_dropped)(const void *arg);
	const void *tx_arg;
};

struct sl_metrics;

/*
 * Parse "ADDR:PORT" (an IPv4 address, [IPv6] or a host name; PORT 1..65535) into what
 * sl_metrics_start needs; 0 or -EINVAL with a message on stderr. For argument checking.
 */
int sl_metrics_parse_addr(const char *spec, void *sockaddr_out, unsigned *len_out);

/*
 * Serve src's metrics at http://ADDR:PORT/metrics from a thread of libmicrohttpd (created
 * here: it inherits the calling thread's CPU affinity, the main lcore's). src must outlive the
 * server. Returns 0 or -errno after a message on stderr.
 */
int sl_metrics_start(struct sl_metrics **out, const char *spec, const struct sl_metrics_src *src);
/* Stop serving (waits for a scrape in progress) and free. NULL is a no-op. */
void sl_metrics_stop(struct sl_metrics *m);

/* The exposition text of one scrape into a malloc'ed *out of *len bytes. 0 or -errno. */
int sl_metrics_render(const struct sl_metrics_src *src, char **out, size_t *len);

#endif
