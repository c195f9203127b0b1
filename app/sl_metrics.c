/* sl_metrics.c - /metrics in the Prometheus text exposition format (version 0.0.4), served by
 * libmicrohttpd's internal thread; each scrape reads the counters the lcores publish. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_version.h>
#include "sl_metrics.h"

struct sl_metrics {
	struct MHD_Daemon *d;
	const struct sl_metrics_src *src;
};

/* ---- the text ---- */

/* The scrape's body, grown as it is written (one scrape of 10,000 tenants is about 14 MB:
 * fprintf per line cost 200 ms, these appends a few). */
struct buf {
	char *p;
	size_t n, cap;
	int err;
};

static int grow(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 1 << 16;
	char *p;

	if (b->err)
		return -1;
	while (cap - b->n < more)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->cap - b->n < n && grow(b, n))
		return;
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_u64(struct buf *b, uint64_t v)
{
	char t[24];
	int i = sizeof(t);

	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(b, t + i, sizeof(t) - (size_t)i);
}

static void __attribute__((format(printf, 2, 3))) putf(struct buf *b, const char *fmt, ...)
{
	char t[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t, sizeof(t), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, t, (size_t)n < sizeof(t) ? (size_t)n : sizeof(t) - 1);
}

/* A label value: the names are [A-Za-z0-9_.-] by validation, port names are DPDK's; escape
 * what the format requires anyway. */
static void label(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put(b, "\\", 1);
		if (*s == '\n')
			put(b, "\\n", 2);
		else
			put(b, s, 1);
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	putf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(struct buf *b, const char *name, const char *type, const char *help,
		   double v)
{
	family(b, name, type, help);
	putf(b, "%s %.17g\n", name, v);
}

static void scalar_u(struct buf *b, const char *name, const char *type, const char *help,
		     uint64_t v)
{
	family(b, name, type, help);
	puts_(b, name);
	put(b, " ", 1);
	put_u64(b, v);
	put(b, "\n", 1);
}

/* Every tenant counter of the engine, by its name in the report. */
static const struct {
	const char *name;
	size_t off;
} tenant_counters[] = {
#define SL_X_COUNTER(n) { #n, offsetof(struct sl_tenant_stats, c) + \
			      offsetof(struct sl_counts, n) },
	SL_TENANT_COUNTERS(SL_X_COUNTER)
#undef SL_X_COUNTER
};

static const char *const tenant_help[][2] = {
	{ "packets", "Frames classified to the tenant (conform + exceed)." },
	{ "bytes", "Bytes of the frames classified to the tenant, as received." },
	{ "conform_packets", "Frames that fit every bucket (shaped frames included)." },
	{ "conform_bytes", "Bytes of the conforming frames." },
	{ "exceed_packets", "Frames that did not fit: the exceed action applied." },
	{ "exceed_bytes", "Bytes of the exceeding frames." },
	{ "keys_created", "Dedicated keys inserted into the key table." },
	{ "keys_evicted", "Dedicated keys removed after their idle time." },
	{ "table_full", "New keys refused: the appliance's key budget was taken." },
	{ "quota_full", "New keys refused: the tenant's max-keys quota was taken." },
	{ "queue_drops", "Forwarded frames lost at the worker hand-off (max-queue, ring, "
			 "shaping cap)." },
	{ "flow_refused", "Frames of flows refused by max-flows." },
	{ "shaped_packets", "Conforming frames that waited (exceed: shape)." },
	{ "shaped_bytes", "Bytes of the conforming frames that waited." },
	{ "shape_drops", "Frames dropped for they would have waited longer than max-delay, or "
			 "(fair_drops) held more than their flow's share of the queue." },
	{ "fair_drops", "Shape drops of frames whose flow held more than its share of the "
			"tenant's queue (fair: flows)." },
};

static const char *help_of(const char *name)
{
	for (size_t i = 0; i < sizeof(tenant_help) / sizeof(tenant_help[0]); i++)
		if (!strcmp(tenant_help[i][0], name))
			return tenant_help[i][1];
	return "A per-tenant counter of the engine.";
}

/* One series per tenant of metric `name`: the uint64_t at byte off of each tenant's stats (a
 * counter, keys, flows, queue_hwm). The tenants' label sets were written once into lb
 * (offsets lo[i] .. lo[i + 1]). */
static void per_tenant(struct buf *b, const struct sl_stats *s, const char *name,
		       const char *type, const char *help, const struct buf *lb, const size_t *lo,
		       size_t off)
{
	size_t nl = strlen(name);

	family(b, name, type, help);
	for (unsigned i = 0; i < s->nb_tenants; i++) {
		uint64_t v;

		memcpy(&v, (const char *)&s->t[i] + off, sizeof(v));
		put(b, name, nl);
		put(b, lb->p + lo[i], lo[i + 1] - lo[i]);
		put(b, " ", 1);
		put_u64(b, v);
		put(b, "\n", 1);
	}
}

static void tenants(struct buf *b, const struct sl_stats *s)
{
	struct buf lb = { 0 };
	size_t *lo = malloc(((size_t)s->nb_tenants + 1) * sizeof(*lo));
	char name[96];

	if (!lo) {
		b->err = 1;
		return;
	}
	for (unsigned i = 0; i < s->nb_tenants; i++) {
		lo[i] = lb.n;
		puts_(&lb, "{tenant=\"");
		label(&lb, s->t[i].name);
		puts_(&lb, "\",profile=\"");
		label(&lb, s->t[i].profile);
		puts_(&lb, "\"}");
	}
	lo[s->nb_tenants] = lb.n;
	if (lb.err) {
		b->err = 1;
		goto out;
	}
	for (size_t k = 0; k < sizeof(tenant_counters) / sizeof(tenant_counters[0]); k++) {
		snprintf(name, sizeof(name), "sluice_tenant_%s_total", tenant_counters[k].name);
		per_tenant(b, s, name, "counter", help_of(tenant_counters[k].name), &lb, lo,
			   tenant_counters[k].off);
	}
	per_tenant(b, s, "sluice_tenant_keys", "gauge", "Live keys: dedicated keys in the table "
		   "(1 for a shared tenant that saw traffic).", &lb, lo,
		   offsetof(struct sl_tenant_stats, keys));
	per_tenant(b, s, "sluice_tenant_flows", "gauge", "Flows admitted and active (max-flows).",
		   &lb, lo, offsetof(struct sl_tenant_stats, flows));
	per_tenant(b, s, "sluice_tenant_queue_high_water", "gauge", "Most frames of the tenant "
		   "queued to workers at once.", &lb, lo,
		   offsetof(struct sl_tenant_stats, queue_hwm));
	family(b, "sluice_tenant_shape_delay_max_seconds", "gauge", "Longest wait given to a "
	       "shaped frame of the tenant.");
	for (unsigned i = 0; i < s->nb_tenants; i++) {
		puts_(b, "sluice_tenant_shape_delay_max_seconds");
		put(b, lb.p + lo[i], lo[i + 1] - lo[i]);
		putf(b, " %.6f\n", (double)s->t[i].shape_delay_max_us / 1e6);
	}
out:
	free(lb.p);
	free(lo);
}

/* rx, tx, missed, errors and no-mbuf counters of every port. */
static void ports(struct buf *b)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} pc[] = {
		{ "sluice_port_rx_packets_total", "Frames received by the port.",
		  offsetof(struct rte_eth_stats, ipackets) },
		{ "sluice_port_tx_packets_total", "Frames sent by the port.",
		  offsetof(struct rte_eth_stats, opackets) },
		{ "sluice_port_rx_bytes_total", "Bytes received by the port.",
		  offsetof(struct rte_eth_stats, ibytes) },
		{ "sluice_port_tx_bytes_total", "Bytes sent by the port.",
		  offsetof(struct rte_eth_stats, obytes) },
		{ "sluice_port_rx_missed_total", "Frames the port dropped: RX queues full.",
		  offsetof(struct rte_eth_stats, imissed) },
		{ "sluice_port_rx_errors_total", "Erroneous frames received.",
		  offsetof(struct rte_eth_stats, ierrors) },
		{ "sluice_port_tx_errors_total", "Frames the port failed to send.",
		  offsetof(struct rte_eth_stats, oerrors) },
		{ "sluice_port_rx_nombuf_total", "RX mbuf allocation failures.",
		  offsetof(struct rte_eth_stats, rx_nombuf) },
	};
	struct rte_eth_stats st[RTE_MAX_ETHPORTS];
	char names[RTE_MAX_ETHPORTS][RTE_ETH_NAME_MAX_LEN];
	uint16_t ids[RTE_MAX_ETHPORTS], n = 0, id;

	RTE_ETH_FOREACH_DEV(id) {
		if (rte_eth_stats_get(id, &st[n]))
			continue;
		if (rte_eth_dev_get_name_by_port(id, names[n]))
			snprintf(names[n], sizeof(names[n]), "port%u", id);
		ids[n++] = id;
	}
	for (size_t k = 0; k < sizeof(pc) / sizeof(pc[0]); k++) {
		family(b, pc[k].name, "counter", pc[k].help);
		for (uint16_t i = 0; i < n; i++) {
			uint64_t v;

			memcpy(&v, (const char *)&st[i] + pc[k].off, sizeof(v));
			putf(b, "%s{port=\"%u\",name=\"", pc[k].name, ids[i]);
			label(b, names[i]);
			putf(b, "\"} %" PRIu64 "\n", v);
		}
	}
}

static double ratio(uint64_t idle, uint64_t span)
{
	return span && idle < span ? 1.0 - (double)idle / (double)span : 0.0;
}

static void stall_line(struct buf *b, const char *name, unsigned lcore, const char *role,
		       const struct sl_stall *st, uint64_t hz, int seconds)
{
	if (seconds)
		putf(b, "%s{lcore=\"%u\",role=\"%s\"} %.6f\n", name, lcore, role,
		     (double)__atomic_load_n(&st->tsc, __ATOMIC_RELAXED) / (double)hz);
	else
		putf(b, "%s{lcore=\"%u\",role=\"%s\"} %" PRIu64 "\n", name, lcore, role,
		     __atomic_load_n(&st->n, __ATOMIC_RELAXED));
}

/* Per lcore: its core losses (sl_stall): how many (seconds 0) or their time (seconds 1). */
static void stalls(struct buf *b, const struct sl_metrics_src *src, const char *role,
		   int seconds)
{
	const char *name = seconds ? "sluice_lcore_stalled_seconds_total" :
				     "sluice_lcore_stalls_total";

	family(b, name, "counter", seconds ? "Time an lcore's passes spent more than 1 ms apart: "
	       "its core was taken (isolate the lcores' cores)." : "Times an lcore's passes came "
	       "more than 1 ms apart: its core was taken (another thread, the kernel, the "
	       "hypervisor).");
	for (unsigned i = 0; i < src->fwd->nb_lcores; i++) {
		const struct sl_stall *st = &src->fwd->lcores[i]->stall;

		stall_line(b, name, src->fwd->lcores[i]->lcore_id, role, st, src->hz, seconds);
	}
	for (unsigned j = 0; src->pipe && j < src->pipe->nb_workers; j++)
		stall_line(b, name, src->pipe->workers[j]->lcore_id, "worker",
			   &src->pipe->workers[j]->stall, src->hz, seconds);
}

/* Per lcore: frames handled and the share of time in passes that had work. */
static void lcores(struct buf *b, const struct sl_metrics_src *src)
{
	uint64_t now = rte_rdtsc(), span = now - src->start_tsc;
	const char *role = src->pipe ? "police" : "forward";

	family(b, "sluice_lcore_packets_total", "counter", "Frames an lcore handled: read and "
	       "policed (forward, police) or sent (worker).");
	for (unsigned i = 0; i < src->fwd->nb_lcores; i++)
		putf(b, "sluice_lcore_packets_total{lcore=\"%u\",role=\"%s\"} %" PRIu64 "\n",
		     src->fwd->lcores[i]->lcore_id, role,
		     sl_engine_lcore_total(src->e, i).packets);
	for (unsigned j = 0; src->pipe && j < src->pipe->nb_workers; j++)
		putf(b, "sluice_lcore_packets_total{lcore=\"%u\",role=\"worker\"} %" PRIu64 "\n",
		     src->pipe->workers[j]->lcore_id,
		     __atomic_load_n(&src->pipe->workers[j]->sent, __ATOMIC_RELAXED));
	family(b, "sluice_lcore_busy_ratio", "gauge", "Share of an lcore's time since start in "
	       "passes that found work (the rest polled empty queues).");
	for (unsigned i = 0; i < src->fwd->nb_lcores; i++)
		putf(b, "sluice_lcore_busy_ratio{lcore=\"%u\",role=\"%s\"} %.6f\n",
		     src->fwd->lcores[i]->lcore_id, role,
		     ratio(__atomic_load_n(&src->fwd->lcores[i]->idle_tsc, __ATOMIC_RELAXED), span));
	for (unsigned j = 0; src->pipe && j < src->pipe->nb_workers; j++)
		putf(b, "sluice_lcore_busy_ratio{lcore=\"%u\",role=\"worker\"} %.6f\n",
		     src->pipe->workers[j]->lcore_id,
		     ratio(__atomic_load_n(&src->pipe->workers[j]->idle_tsc, __ATOMIC_RELAXED),
			   span));
	stalls(b, src, role, 0);
	stalls(b, src, role, 1);
}

int sl_metrics_render(const struct sl_metrics_src *src, char **out, size_t *len)
{
	struct buf b = { 0 };
	struct sl_stats s;
	int r = sl_engine_stats(src->e, &s);

	if (r)
		return r;
	family(&b, "sluice_build_info", "gauge", "Constant 1, labelled with the versions.");
	puts_(&b, "sluice_build_info{version=\"" SLUICE_VERSION "\",dpdk=\"");
	label(&b, rte_version());
	puts_(&b, "\"} 1\n");
	scalar(&b, "sluice_uptime_seconds", "gauge", "Seconds since the lcores were launched.",
	       (double)(rte_rdtsc() - src->start_tsc) / (double)src->hz);
	scalar_u(&b, "sluice_packets_total", "counter", "Frames read.", s.total.packets);
	scalar_u(&b, "sluice_bytes_total", "counter", "Bytes of the frames read.", s.total.bytes);
	scalar_u(&b, "sluice_dropped_packets_total", "counter", "Frames dropped by the policy.",
		 s.dropped.packets);
	scalar_u(&b, "sluice_unmatched_packets_total", "counter", "Frames of no tenant.",
		 s.unmatched.packets);
	scalar_u(&b, "sluice_malformed_packets_total", "counter", "Frames not parsed far enough "
		 "to classify.", s.malformed.packets);
	scalar_u(&b, "sluice_tx_dropped_total", "counter", "Forwarded frames lost at TX (and "
		 "shaped frames still waiting at a stop's deadline).", src->tx_dropped(src->tx_arg));
	scalar_u(&b, "sluice_shape_held", "gauge", "Frames waiting in timing wheels now "
		 "(exceed: shape).", src->pipe ? sl_pipe_shape_held(src->pipe) : 0);
	scalar_u(&b, "sluice_policy_generation", "gauge", "Generation of the running policy: 1 "
		 "at start, +1 per reload.", s.generation);
	scalar_u(&b, "sluice_reloads_total", "counter", "Reloads and profile edits applied.",
		 __atomic_load_n(&src->ctl->reloads, __ATOMIC_RELAXED));
	scalar_u(&b, "sluice_reload_failures_total", "counter", "Reloads refused (bad file), "
		 "policy kept.", s.reload_failures);
	scalar(&b, "sluice_last_reload_duration_seconds", "gauge", "Parse, compile, publish and "
	       "grace period of the last reload applied (0: none yet).",
	       (double)__atomic_load_n(&src->ctl->last_reload_ns, __ATOMIC_RELAXED) / 1e9);
	scalar_u(&b, "sluice_tenants", "gauge", "Tenants of the running policy.", s.nb_tenants);
	ports(&b);
	lcores(&b, src);
	tenants(&b, &s);
	sl_stats_free(&s);
	if (b.err) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.n;
	return 0;
}

/* ---- the server ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	static const char text[] = "text/plain; charset=utf-8";
	const struct sl_metrics *m = cls;
	char *body = NULL;
	size_t len = 0;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, (char *)"only GET\n", 9,
			     MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8",
			     (char *)"<html><body><a href=\"/metrics\">/metrics</a></body></html>\n",
			     59, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, text, (char *)"not found: try /metrics\n", 24,
			     MHD_RESPMEM_PERSISTENT);
	if (sl_metrics_render(m->src, &body, &len))
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, (char *)"scrape failed\n", 14,
			     MHD_RESPMEM_PERSISTENT);
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		     MHD_RESPMEM_MUST_FREE);
}

int sl_metrics_parse_addr(const char *spec, void *out, unsigned *len)
{
	char host[256];
	const char *colon = strrchr(spec, ':'), *h = spec;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
	size_t hl;
	char *end;
	unsigned long port;
	int r;

	if (!colon || colon == spec)
		goto bad;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && colon[-1] == ']') {	/* [IPv6]:PORT */
		h = spec + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		goto bad;
	r = getaddrinfo(host, colon + 1, &hints, &ai);
	if (r) {
		fprintf(stderr, "sluice: --metrics %s: %s\n", spec, gai_strerror(r));
		return -EINVAL;
	}
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	*len = (unsigned)ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
bad:
	fprintf(stderr, "sluice: --metrics %s: expected ADDR:PORT, e.g. 127.0.0.1:9100 or "
		"[::1]:9100\n", spec);
	return -EINVAL;
}

int sl_metrics_start(struct sl_metrics **out, const char *spec, const struct sl_metrics_src *src)
{
	struct sockaddr_storage sa;
	unsigned len, flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	struct sl_metrics *m;
	int r = sl_metrics_parse_addr(spec, &sa, &len);

	if (r)
		return r;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->src = src;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->d = MHD_start_daemon(flags, sa.ss_family == AF_INET6 ?
				ntohs(((struct sockaddr_in6 *)(void *)&sa)->sin6_port) :
				ntohs(((struct sockaddr_in *)(void *)&sa)->sin_port), NULL,
				NULL, handle, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT,
				10u, MHD_OPTION_END);
	if (!m->d) {
		fprintf(stderr, "sluice: --metrics %s: cannot listen there (address in use, or not "
			"this host's)\n", spec);
		free(m);
		return -EADDRINUSE;
	}
	*out = m;
	return 0;
}

void sl_metrics_stop(struct sl_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
