/* sluice_replay.c - the engine over captures, each packet's timestamp as the clock:
 * deterministic what-if runs of a policy, and the reference for tests. The k-th --in is DPDK
 * port k; the captures are merged in timestamp order (ties: the lower port first). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sl_config.h"
#include "sl_engine.h"
#include "sl_html.h"

#define MAX_IN 16
#define MAX_RELOADS 16

struct replay_opts {
	const char *config;
	const char *in[MAX_IN];		/* in[k]: the capture of port k */
	unsigned nb_in;
	const char *out;
	const char *report;
	const char *html;
	uint64_t max_keys;		/* the key budget; 0: the engine's default (1M) */
	int quiet;
	struct replay_reload {		/* --reload SECONDS:FILE, sorted by time before the run */
		uint64_t at_ns;		/* after the first frame */
		const char *path;
		struct sl_config *cfg;	/* loaded before the replay starts */
	} reload[MAX_RELOADS];
	unsigned nb_reload;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-replay --config FILE --in IN.pcap [--in IN.pcap ...] [--out OUT.pcap]\n"
		"                     [--report FILE.json] [--html FILE.html] [--max-keys N]\n"
		"                     [--quiet]\n"
		"  Polices every frame of the captures with the policy in FILE, using their\n"
		"  timestamps as the clock. The k-th --in (from 0, at most %d) is the traffic of\n"
		"  DPDK port k (what a tenant's 'port' match compares); the captures are merged in\n"
		"  timestamp order, equal timestamps the lower port first, each capture in its\n"
		"  own order. --out receives every forwarded frame (conforming, marked, passed,\n"
		"  unmatched with 'unmatched: pass') with the time it leaves: its own timestamp,\n"
		"  or for a frame of an 'exceed: shape' profile that waits, its departure (frames\n"
		"  in departure order, equal times in input order); --report writes the counters\n"
		"  as JSON. --html writes one self-contained page (no script, nothing fetched):\n"
		"  the policy, and per tenant its offered, conforming, dropped, marked and\n"
		"  shaped rates over the capture's time, its live keys and the keys that\n"
		"  exceeded most. --reload SECONDS:FILE (up to %d, in any order): SECONDS\n"
		"  after the first frame, the policy becomes FILE as a SIGHUP makes it in\n"
		"  sluice (tenants keep their state by name). --max-keys: the appliance's\n"
		"  key budget (default 1M keys, as sluice --max-keys). Exit 0, or 1 on a bad\n"
		"  argument, policy or capture.\n", MAX_IN, MAX_RELOADS);
}

static int parse_args(int argc, char **argv, struct replay_opts *o)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'}, {"in", required_argument, NULL, 'i'},
		{"out", required_argument, NULL, 'o'},    {"report", required_argument, NULL, 'r'},
		{"html", required_argument, NULL, 'H'},
		{"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
		{"max-keys", required_argument, NULL, 'k'},
		{"reload", required_argument, NULL, 'R'}, {NULL, 0, NULL, 0}};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "c:i:o:r:H:k:R:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'i':
			if (o->nb_in == MAX_IN) {
				fprintf(stderr, "sluice-replay: at most %d --in\n", MAX_IN);
				return -EINVAL;
			}
			o->in[o->nb_in++] = optarg;
			break;
		case 'o': o->out = optarg; break;
		case 'r': o->report = optarg; break;
		case 'H': o->html = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'k':
			errno = 0;
			o->max_keys = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || *optarg == '-' || !o->max_keys ||
			    o->max_keys > SL_KEYS_MAX) {
				fprintf(stderr, "sluice-replay: --max-keys: expected 1..%llu, got '%s'\n",
					(unsigned long long)SL_KEYS_MAX, optarg);
				return -EINVAL;
			}
			break;
		case 'R': {
			const char *colon = strchr(optarg, ':');
			long double s;

			errno = 0;
			s = colon ? strtold(optarg, &end) : -1;
			if (o->nb_reload == MAX_RELOADS || !colon || errno || end != colon ||
			    end == optarg || !(s >= 0 && s < 1e9) || !colon[1]) {
				fprintf(stderr, "sluice-replay: --reload: expected SECONDS:FILE (at most "
					"%d), got '%s'\n", MAX_RELOADS, optarg);
				return -EINVAL;
			}
			o->reload[o->nb_reload].at_ns = (uint64_t)llroundl(s * 1e9L);
			o->reload[o->nb_reload++].path = colon + 1;
			break;
		}
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc || !o->config || !o->nb_in) {
		fprintf(stderr, "sluice-replay: --config and --in are required\n");
		return -EINVAL;
	}
	return 0;
}

/* A forwarded frame of a shaped profile waiting for its departure (a copy). */
struct held {
	uint64_t depart;		/* ns */
	uint64_t seq;			/* input order: ties leave in it */
	struct pcap_pkthdr hdr;
	uint8_t *data;
};

struct replay_run {
	struct sl_engine *e;
	struct sl_lcore *lc;
	uint64_t next_maintain_ns;
	pcap_dumper_t *dump;
	struct sl_html *html;		/* --html, else NULL */
	const struct replay_opts *o;	/* --reload: o->reload[next_reload ..] still to come */
	unsigned next_reload;
	int quiet;
	uint64_t first_ns;		/* the first frame's timestamp */
	int first_ns_set;
	uint64_t first_fwd_ns;
	uint64_t last_ns;
	int any_fwd;
	uint64_t seq;
	/* frames waiting (exceed: shape), a binary min-heap by (depart, seq) */
	struct held *heap;
	size_t nb_held, cap_held;
	uint64_t held_max;		/* most frames waiting at once */
};

static int held_before(const struct held *a, const struct held *b)
{
	return a->depart < b->depart || (a->depart == b->depart && a->seq < b->seq);
}

static int held_push(struct replay_run *r, const struct held *h)
{
	size_t i;

	if (r->nb_held == r->cap_held) {
		size_t cap = r->cap_held ? 2 * r->cap_held : 1024;
		struct held *n = realloc(r->heap, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->heap = n;
		r->cap_held = cap;
	}
	for (i = r->nb_held++; i && held_before(h, &r->heap[(i - 1) / 2]); i = (i - 1) / 2)
		r->heap[i] = r->heap[(i - 1) / 2];
	r->heap[i] = *h;
	r->held_max = r->nb_held > r->held_max ? r->nb_held : r->held_max;
	return 0;
}

static struct held held_pop(struct replay_run *r)
{
	struct held top = r->heap[0], last = r->heap[--r->nb_held];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < r->nb_held) {
		if (c + 1 < r->nb_held && held_before(&r->heap[c + 1], &r->heap[c]))
			c++;
		if (!held_before(&r->heap[c], &last))
			break;
		r->heap[i] = r->heap[c];
		i = c;
	}
	if (r->nb_held)
		r->heap[i] = last;
	return top;
}

/* Write a forwarded frame leaving at ns (the timestamp it gets in --out). */
static void emit_frame(struct replay_run *r, struct pcap_pkthdr *h, const uint8_t *data,
		       uint64_t ns)
{
	if (!r->dump)
		return;
	h->ts.tv_sec = (time_t)(ns / 1000000000ull);
	h->ts.tv_usec = (suseconds_t)(ns % 1000000000ull);	/* nanoseconds: a nano pcap */
	pcap_dump((u_char *)r->dump, h, data);
}

/* Frames whose departure is at or before ns leave, in departure order (then input order). */
static void release_held(struct replay_run *r, uint64_t ns, int all)
{
	while (r->nb_held && (all || r->heap[0].depart <= ns)) {
		struct held h = held_pop(r);

		emit_frame(r, &h.hdr, h.data, h.depart);
		free(h.data);
	}
}

/* One input capture and its next frame (h NULL: at its end). */
struct replay_in {
	const char *path;
	pcap_t *pc;
	struct pcap_pkthdr *h;		/* valid until the next read of pc */
	const u_char *pkt;
	uint64_t ns;
};

static int read_next(struct replay_in *f)
{
	int rc = pcap_next_ex(f->pc, &f->h, &f->pkt);

	if (rc == 1) {
		f->ns = (uint64_t)f->h->ts.tv_sec * 1000000000ull + (uint64_t)f->h->ts.tv_usec;
		return 0;
	}
	f->h = NULL;
	if (rc == -1) {
		fprintf(stderr, "sluice-replay: %s: reading capture: %s\n", f->path,
			pcap_geterr(f->pc));
		return -EIO;
	}
	return 0;
}

/*
 * Police one group of frames of one port sharing a timestamp and write the forwarded ones:
 * frames that waited before it and are due by now first, then the group's frames that leave
 * at once, in input order; frames of shaped profiles that wait are held until their
 * departure. html (a constant): --html samples the counters before and records the decisions
 * after. 0 or -ENOMEM.
 */
static inline __attribute__((always_inline)) int
flush_group_with(struct replay_run *r, uint16_t port, uint8_t *const data[],
		 struct pcap_pkthdr *hdr, unsigned n, uint64_t now, const int html)
{
	uint32_t caplen[SL_BURST_MAX] = {0}, len[SL_BURST_MAX] = {0};
	uint8_t verdict[SL_BURST_MAX];
	struct sl_decision dec[SL_BURST_MAX];

	for (unsigned i = 0; i < n; i++) {
		caplen[i] = hdr[i].caplen;
		len[i] = hdr[i].len;
	}
	release_held(r, now, 0);
	if (html && sl_html_tick(r->html, now)) {
		fprintf(stderr, "sluice-replay: out of memory sampling counters for --html\n");
		return -ENOMEM;
	}
	sl_process_ex(r->lc, port, data, caplen, len, n, now, verdict, dec);
	if (html)
		sl_html_frames(r->html, data, caplen, len, n, now, verdict, dec);
	for (unsigned i = 0; i < n; i++) {
		uint64_t seq = r->seq++;

		if (verdict[i] != SL_V_FORWARD)
			continue;
		sl_decision_mark(data[i], caplen[i], &dec[i]);
		if (!r->any_fwd) {
			r->any_fwd = 1;
			r->first_fwd_ns = now;
		}
		if (dec[i].depart > now) {
			struct held h = {dec[i].depart, seq, hdr[i], malloc(caplen[i] ? caplen[i] : 1)};

			if (!h.data || held_push(r, &h)) {
				free(h.data);
				fprintf(stderr, "sluice-replay: out of memory holding shaped frames\n");
				return -ENOMEM;
			}
			memcpy(h.data, data[i], caplen[i]);
			continue;
		}
		emit_frame(r, &hdr[i], data[i], now);
	}
	return 0;
}

/* Without --html the loop is exactly the plain one; with it, a copy of its own. */
static __attribute__((noinline)) int flush_group_plain(struct replay_run *r, uint16_t port,
							uint8_t *const data[],
							struct pcap_pkthdr *hdr, unsigned n,
							uint64_t now)
{
	return flush_group_with(r, port, data, hdr, n, now, 0);
}

static __attribute__((noinline)) int flush_group_html(struct replay_run *r, uint16_t port,
						       uint8_t *const data[],
						       struct pcap_pkthdr *hdr, unsigned n,
						       uint64_t now)
{
	return flush_group_with(r, port, data, hdr, n, now, 1);
}

static int flush_group(struct replay_run *r, uint16_t port, uint8_t *const data[],
		       struct pcap_pkthdr *hdr, unsigned n, uint64_t now)
{
	return r->html ? flush_group_html(r, port, data, hdr, n, now)
		       : flush_group_plain(r, port, data, hdr, n, now);
}

/* --reload: the policy becomes rl->cfg (as SIGHUP in sluice), before the frame at ns. */
static int apply_reload(struct replay_run *r, const struct replay_reload *rl, uint64_t ns)
{
	struct sl_reload_summary sum;
	struct sl_diag d = {0};
	int rc = sl_engine_reload(r->e, rl->cfg, &sum, &d);

	if (rc) {
		sl_diag_print(&d, stderr);
		fprintf(stderr, "sluice-replay: --reload %s at %.9f s: refused\n", rl->path,
			(double)(ns - r->first_ns) / 1e9);
	} else if (!r->quiet) {
		printf("sluice-replay: reload at %.9f s (frame time %.9f s): %s, generation %llu: "
		       "tenants +%u -%u ~%u, profiles +%u -%u ~%u, states reset %u\n",
		       (double)rl->at_ns / 1e9, (double)(ns - r->first_ns) / 1e9, rl->path,
		       (unsigned long long)sum.generation, sum.tenants_added, sum.tenants_removed,
		       sum.tenants_changed, sum.profiles_added, sum.profiles_removed,
		       sum.profiles_changed, sum.states_reset);
	}
	sl_diag_free(&d);
	return rc;
}

static int reload_cmp(const void *a, const void *b)
{
	const struct replay_reload *x = a, *y = b;

	return (x->at_ns > y->at_ns) - (x->at_ns < y->at_ns);
}

static int replay(struct replay_in *in, unsigned nb_in, struct replay_run *r)
{
	static uint8_t buf[SL_BURST_MAX][65536];
	uint8_t *data[SL_BURST_MAX];
	struct pcap_pkthdr hdr[SL_BURST_MAX];
	uint64_t group_ns = 0;
	uint16_t group_port = 0;
	unsigned n = 0;
	int rc = 0;

	for (unsigned i = 0; i < SL_BURST_MAX; i++)
		data[i] = buf[i];
	for (unsigned k = 0; k < nb_in && !rc; k++)
		rc = read_next(&in[k]);
	while (!rc) {
		struct replay_in *f = NULL;
		uint16_t port;
		uint64_t ns;

		/* merge: the earliest next frame of all inputs; equal timestamps: the lowest port */
		for (unsigned k = 0; k < nb_in; k++)
			if (in[k].h && (!f || in[k].ns < f->ns))
				f = &in[k];
		if (!f)
			break;
		port = (uint16_t)(f - in);
		ns = f->ns;
		/* a burst shares one clock reading and one port: group frames with equal
		 * timestamps of one port */
		if (n && (ns != group_ns || port != group_port || n == SL_BURST_MAX)) {
			rc = flush_group(r, group_port, data, hdr, n, group_ns);
			n = 0;
			if (rc)
				break;
		}
		if (!r->first_ns_set) {
			r->first_ns = ns;
			r->first_ns_set = 1;
		}
		/* --reload: the policy changes before the first frame at or after its time */
		while (r->next_reload < r->o->nb_reload &&
		       (int64_t)(ns - r->first_ns) >= (int64_t)r->o->reload[r->next_reload].at_ns) {
			if (n) {
				rc = flush_group(r, group_port, data, hdr, n, group_ns);
				n = 0;
				if (rc)
					return rc;
			}
			rc = apply_reload(r, &r->o->reload[r->next_reload++], ns);
			if (rc)
				return rc;
		}
		/* idle-key eviction once per second of capture time, as the appliance does */
		if ((int64_t)(ns - r->next_maintain_ns) >= 0) {
			if (r->next_maintain_ns)
				sl_engine_maintain(r->e, ns, 0);
			r->next_maintain_ns = ns + 1000000000ull;
		}
		group_ns = ns;
		group_port = port;
		hdr[n] = *f->h;
		if (hdr[n].caplen > sizeof(buf[0]))	/* only the headers are read */
			hdr[n].caplen = sizeof(buf[0]);
		memcpy(data[n], f->pkt, hdr[n].caplen);
		n++;
		r->last_ns = ns > r->last_ns ? ns : r->last_ns;
		rc = read_next(f);
	}
	if (n && !rc)
		rc = flush_group(r, group_port, data, hdr, n, group_ns);
	release_held(r, 0, 1);	/* the capture ended: the rest leave at their departures */
	return rc;
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
	struct sl_engine_opts eo = {.hz = 1000000000ull, .nb_lcores = 1, .can_shape = 1};
	char errbuf[PCAP_ERRBUF_SIZE];
	struct replay_in in[MAX_IN] = {0};
	struct replay_run run = {0};
	struct sl_diag d = {0};
	struct replay_opts o;
	struct sl_config *cfg = NULL;
	struct sl_engine *e = NULL;
	struct sl_stats st;
	pcap_t *dead = NULL;
	double el;
	int rc = 1;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 1;
	}
	eo.max_keys = o.max_keys;
	if (sl_config_load(o.config, &cfg, &d) || sl_engine_create(cfg, &eo, &e, &d)) {
		sl_diag_print(&d, stderr);
		goto out;
	}
	if (o.nb_reload && o.html) {
		fprintf(stderr, "sluice-replay: --html does not follow --reload yet (tenants change "
			"between policies): give one of them\n");
		goto out;
	}
	/* in time order (equal times: any order) */
	qsort(o.reload, o.nb_reload, sizeof(o.reload[0]), reload_cmp);
	for (unsigned k = 0; k < o.nb_reload; k++)
		if (sl_config_load(o.reload[k].path, &o.reload[k].cfg, &d)) {
			sl_diag_print(&d, stderr);
			goto out;
		}
	for (unsigned k = 0; k < o.nb_in; k++) {
		in[k].path = o.in[k];
		in[k].pc = pcap_open_offline_with_tstamp_precision(o.in[k],
								   PCAP_TSTAMP_PRECISION_NANO, errbuf);
		if (!in[k].pc) {
			fprintf(stderr, "sluice-replay: %s\n", errbuf);
			goto out;
		}
		if (pcap_datalink(in[k].pc) != DLT_EN10MB) {
			fprintf(stderr, "sluice-replay: %s: link type %s, only Ethernet is supported\n",
				o.in[k], pcap_datalink_val_to_name(pcap_datalink(in[k].pc)));
			goto out;
		}
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
	run.o = &o;
	run.quiet = o.quiet;
	run.lc = sl_engine_lcore(e, 0);
	if (o.html) {
		struct sl_html_meta hm = {o.config, o.in, o.nb_in, o.max_keys};

		run.html = sl_html_create(cfg, e, &hm);
		if (!run.html) {
			fprintf(stderr, "sluice-replay: out of memory for --html\n");
			goto out;
		}
	}
	if (replay(in, o.nb_in, &run))
		goto out;
	if (sl_engine_stats(e, &st))
		goto out;
	el = run.any_fwd ? (double)(run.last_ns - run.first_fwd_ns) / 1e9 : 0.0;
	if (!o.quiet)
		sl_stats_print(&st, el, stdout);
	rc = o.report && write_report(o.report, &st, el) ? 1 : 0;
	sl_stats_free(&st);
	if (run.html && sl_html_write(run.html, run.last_ns, run.held_max, o.html))
		rc = 1;
out:
	if (run.dump)
		pcap_dump_close(run.dump);
	if (dead)
		pcap_close(dead);
	for (unsigned k = 0; k < o.nb_in; k++)
		if (in[k].pc)
			pcap_close(in[k].pc);
	sl_html_free(run.html);
	free(run.heap);
	sl_engine_free(e);
	sl_config_free(cfg);
	for (unsigned k = 0; k < o.nb_reload; k++)
		sl_config_free(o.reload[k].cfg);
	sl_diag_free(&d);
	return rc;
}
