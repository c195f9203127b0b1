/* sluice_replay.c - the engine over a capture, each packet's timestamp as the clock:
 * deterministic what-if runs of a policy, and the reference for tests. */
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sl_config.h"
#include "sl_engine.h"

struct replay_opts {
	const char *config;
	const char *in;
	const char *out;
	const char *report;
	int quiet;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-replay --config FILE --in IN.pcap [--out OUT.pcap] [--report FILE.json] [--quiet]\n"
		"  Polices every frame of IN.pcap with the policy in FILE, using the capture's\n"
		"  timestamps as the clock. --out receives every forwarded frame (conforming,\n"
		"  marked, passed, unmatched with 'unmatched: pass') in input order with its\n"
		"  timestamp; --report writes the counters as JSON. Exit 0, or 1 on a bad\n"
		"  argument, policy or capture.\n");
}

static int parse_args(int argc, char **argv, struct replay_opts *o)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'}, {"in", required_argument, NULL, 'i'},
		{"out", required_argument, NULL, 'o'},    {"report", required_argument, NULL, 'r'},
		{"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "c:i:o:r:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'i': o->in = optarg; break;
		case 'o': o->out = optarg; break;
		case 'r': o->report = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc || !o->config || !o->in) {
		fprintf(stderr, "sluice-replay: --config and --in are required\n");
		return -EINVAL;
	}
	return 0;
}

struct replay_run {
	struct sl_engine *e;
	struct sl_lcore *lc;
	uint64_t next_maintain_ns;
	pcap_dumper_t *dump;
	uint64_t first_fwd_ns;
	uint64_t last_ns;
	int any_fwd;
};

/* Police one group of frames sharing a timestamp, write the forwarded ones. */
static void flush_group(struct replay_run *r, uint8_t *const data[], struct pcap_pkthdr *hdr,
			unsigned n, uint64_t now)
{
	uint32_t caplen[SL_BURST_MAX] = {0}, len[SL_BURST_MAX] = {0};
	uint8_t verdict[SL_BURST_MAX];

	for (unsigned i = 0; i < n; i++) {
		caplen[i] = hdr[i].caplen;
		len[i] = hdr[i].len;
	}
	sl_process(r->lc, 0, data, caplen, len, n, now, verdict);
	for (unsigned i = 0; i < n; i++) {
		if (verdict[i] != SL_V_FORWARD)
			continue;
		if (!r->any_fwd) {
			r->any_fwd = 1;
			r->first_fwd_ns = now;
		}
		if (r->dump)
			pcap_dump((u_char *)r->dump, &hdr[i], data[i]);
	}
}

static int replay(pcap_t *in, struct replay_run *r)
{
	static uint8_t buf[SL_BURST_MAX][65536];
	uint8_t *data[SL_BURST_MAX];
	struct pcap_pkthdr hdr[SL_BURST_MAX];
	struct pcap_pkthdr *h;
	const u_char *pkt;
	uint64_t group_ns = 0;
	unsigned n = 0;
	int rc;

	for (unsigned i = 0; i < SL_BURST_MAX; i++)
		data[i] = buf[i];
	while ((rc = pcap_next_ex(in, &h, &pkt)) == 1) {
		uint64_t ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;

		/* a burst shares one clock reading: group frames with equal timestamps */
		if (n && (ns != group_ns || n == SL_BURST_MAX)) {
			flush_group(r, data, hdr, n, group_ns);
			n = 0;
		}
		/* idle-key eviction once per second of capture time, as the appliance does */
		if ((int64_t)(ns - r->next_maintain_ns) >= 0) {
			if (r->next_maintain_ns)
				sl_engine_maintain(r->e, ns, 0);
			r->next_maintain_ns = ns + 1000000000ull;
		}
		group_ns = ns;
		hdr[n] = *h;
		memcpy(data[n], pkt, h->caplen);
		n++;
		r->last_ns = ns > r->last_ns ? ns : r->last_ns;
	}
	if (n)
		flush_group(r, data, hdr, n, group_ns);
	if (rc == -1) {
		fprintf(stderr, "sluice-replay: reading capture: %s\n", pcap_geterr(in));
		return -EIO;
	}
	return 0;
}

static int write_report(const char *path, const struct sl_stats *s, double el)
{
	FILE *f = fopen(path, "w");
	int r;

	if (!f) {
		fprintf(stderr, "sluice-replay: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	r = sl_stats_write_json(s, el, f);
	if (fclose(f) || r) {
		fprintf(stderr, "sluice-replay: %s: write failed\n", path);
		return -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sl_engine_opts eo = {.hz = 1000000000ull, .nb_lcores = 1, .max_keys = 0};
	char errbuf[PCAP_ERRBUF_SIZE];
	struct replay_run run = {0};
	struct sl_diag d = {0};
	struct replay_opts o;
	struct sl_config *cfg = NULL;
	struct sl_engine *e = NULL;
	struct sl_stats st;
	pcap_t *in = NULL, *dead = NULL;
	double el;
	int rc = 1;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 1;
	}
	if (sl_config_load(o.config, &cfg, &d) || sl_engine_create(cfg, &eo, &e, &d)) {
		sl_diag_print(&d, stderr);
		goto out;
	}
	in = pcap_open_offline_with_tstamp_precision(o.in, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!in) {
		fprintf(stderr, "sluice-replay: %s\n", errbuf);
		goto out;
	}
	if (pcap_datalink(in) != DLT_EN10MB) {
		fprintf(stderr, "sluice-replay: %s: link type %s, only Ethernet is supported\n", o.in,
			pcap_datalink_val_to_name(pcap_datalink(in)));
		goto out;
	}
	if (o.out) {
		dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535,
							    PCAP_TSTAMP_PRECISION_NANO);
		run.dump = dead ? pcap_dump_open(dead, o.out) : NULL;
		if (!run.dump) {
			fprintf(stderr, "sluice-replay: %s: %s\n", o.out,
				dead ? pcap_geterr(dead) : "cannot open");
			goto out;
		}
	}
	run.e = e;
	run.lc = sl_engine_lcore(e, 0);
	if (replay(in, &run))
		goto out;
	if (sl_engine_stats(e, &st))
		goto out;
	el = run.any_fwd ? (double)(run.last_ns - run.first_fwd_ns) / 1e9 : 0.0;
	if (!o.quiet)
		sl_stats_print(&st, el, stdout);
	rc = o.report && write_report(o.report, &st, el) ? 1 : 0;
	sl_stats_free(&st);
out:
	if (run.dump)
		pcap_dump_close(run.dump);
	if (dead)
		pcap_close(dead);
	if (in)
		pcap_close(in);
	sl_engine_free(e);
	sl_config_free(cfg);
	sl_diag_free(&d);
	return rc;
}
