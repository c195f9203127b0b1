/* sl_classify_bench.c - perf/sl-classify-bench: tenant classification alone. sluice's classifier
 * (tuple-space search, timed in bursts of 32 as the engine runs it: sl_classify_burst), DPDK's rte_acl (one context, AVX2) and the linear
 * first-match scan (sl_classify_linear), on the same policy and the same parsed trace; cycles per
 * packet, build time, memory, and a per-packet agreement check (exit 1 on any disagreement).
 *
 * usage: sl-classify-bench [EAL options] -- --config POLICY.yaml --in TRACE.pcap [--rounds R]
 *                          [--no-acl] [--no-linear] [--port P] [--acl-alg NAME] [--counts]
 * e.g.   taskset -c 1 build/perf/sl-classify-bench --no-huge -m 4096 --no-shconf --no-pci -l 1
 *          --log-level=error --no-telemetry -- --config p.yaml --in t.pcap
 *
 * rte_acl rule layout (struct acl_in, 48 bytes a packet, built before timing, network order):
 *   byte 0      kind: sl_pkt.flags & (IPV4 | IPV6 | PORTS)   BITMASK  input 0 (1 byte, alone)
 *   bytes 1..4  proto (1), pad (1, always 0/0), vlan (2)     BITMASK  input 1
 *   bytes 5..8  inner vlan (2), ingress port (2)             BITMASK  input 2
 *   bytes 9..12 sport (2), dport (2)                         RANGE    input 3
 *   13..28      src: four 32-bit words                       MASK     inputs 4..7
 *   29..44      dst: four 32-bit words                       MASK     inputs 8..11
 * rte_acl reads the first field as one byte, then 4 bytes per input index from the offset of
 * that index's first field, so every later input index covers exactly 4 consecutive bytes
 * (hence the pad byte). Rule values are host order; the input is big-endian (rte_acl.h).
 * An untagged frame's vlan (and a frame without QinQ's inner vlan) is 0xffff, which no rule
 * value 0..4095 equals. Family: the kind byte's IPv4/IPv6 bits; an IPv4 address uses word 0.
 * One rule per match block; priority = tenants - tenant index (higher wins: the earliest
 * tenant), userdata = tenant index + 1, category mask 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <rte_acl.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include "sl_bench_mem.h"
#include "sl_classify.h"
#include "sl_config.h"
#include "sl_diag.h"
#include "sl_parse.h"

#define MAX_ROUNDS 101
#define ACL_BURST 64
#define LINEAR_BIG_BLOCKS 10000u	/* above this many blocks the linear scan ... */
#define LINEAR_BIG_PACKETS 2000u	/* ... runs on this many packets only */
#define MB (1024.0 * 1024.0)
#define SHOW_DISAGREE 5

/* As the engine's burst entry points (lib/sl_engine.c): the sluice loop is built for the
 * baseline and for x86-64-v3, the loader picks one, so the inlined sl_classify runs as it does
 * in the appliance. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(__clang__)	/* gcc: see lib/sl_engine.c */
#define CB_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef CB_CLONES
#define CB_CLONES
#endif

/* ------------------------------------------------------------------ rte_acl layout */

struct acl_in {
	uint8_t kind;
	uint8_t proto;
	uint8_t pad;
	uint8_t vlan[2];
	uint8_t ivlan[2];
	uint8_t port[2];
	uint8_t sport[2];
	uint8_t dport[2];
	uint8_t src[16];
	uint8_t dst[16];
	uint8_t tail[3];	/* to 48 bytes, the size of struct sl_pkt */
};

_Static_assert(sizeof(struct acl_in) == 48, "acl_in is 48 bytes");

enum {
	F_KIND, F_PROTO, F_PAD, F_VLAN, F_IVLAN, F_PORT, F_SPORT, F_DPORT,
	F_SRC0, F_SRC1, F_SRC2, F_SRC3, F_DST0, F_DST1, F_DST2, F_DST3, NB_FIELDS
};

RTE_ACL_RULE_DEF(cb_acl_rule, NB_FIELDS);

#define FDEF(f, t, member, sz, in)                                                          \
	[f] = { .type = RTE_ACL_FIELD_TYPE_##t, .size = (sz), .field_index = (f),           \
		.input_index = (in), .offset = (uint32_t)offsetof(struct acl_in, member) }

static const struct rte_acl_field_def acl_defs[NB_FIELDS] = {
	FDEF(F_KIND, BITMASK, kind, 1, 0),
	FDEF(F_PROTO, BITMASK, proto, 1, 1),
	FDEF(F_PAD, BITMASK, pad, 1, 1),
	FDEF(F_VLAN, BITMASK, vlan, 2, 1),
	FDEF(F_IVLAN, BITMASK, ivlan, 2, 2),
	FDEF(F_PORT, BITMASK, port, 2, 2),
	FDEF(F_SPORT, RANGE, sport, 2, 3),
	FDEF(F_DPORT, RANGE, dport, 2, 3),
	FDEF(F_SRC0, MASK, src[0], 4, 4),
	FDEF(F_SRC1, MASK, src[4], 4, 5),
	FDEF(F_SRC2, MASK, src[8], 4, 6),
	FDEF(F_SRC3, MASK, src[12], 4, 7),
	FDEF(F_DST0, MASK, dst[0], 4, 8),
	FDEF(F_DST1, MASK, dst[4], 4, 9),
	FDEF(F_DST2, MASK, dst[8], 4, 10),
	FDEF(F_DST3, MASK, dst[12], 4, 11),
};

static void put_be16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void acl_input(const struct sl_pkt *p, uint16_t port, struct acl_in *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = p->flags & (SL_PKT_IPV4 | SL_PKT_IPV6 | SL_PKT_PORTS);
	a->proto = p->proto;
	put_be16(a->vlan, p->vlan);
	put_be16(a->ivlan, p->inner_vlan);
	put_be16(a->port, port);
	put_be16(a->sport, p->sport);
	put_be16(a->dport, p->dport);
	memcpy(a->src, p->src, 16);
	memcpy(a->dst, p->dst, 16);
}

/* An address prefix as four host-order 32-bit MASK fields (value, bits of that word). */
static void acl_prefix(struct rte_acl_field *f, const uint8_t addr[16], unsigned len)
{
	for (unsigned w = 0; w < 4; w++) {
		unsigned bits = len > 32 * w ? len - 32 * w : 0;
		uint32_t v, m;

		bits = bits > 32 ? 32 : bits;
		memcpy(&v, addr + 4 * w, 4);
		m = bits ? (uint32_t)(0xffffffffull << (32 - bits)) : 0;
		f[w].value.u32 = ntohl(v) & m;
		f[w].mask_range.u32 = bits;
	}
}

static void acl_rule_of(const struct sl_cfg_match *m, uint32_t t, uint32_t nb_tenants,
			struct cb_acl_rule *r)
{
	struct rte_acl_field *f = r->field;
	uint8_t kmask = 0, kval = 0;

	memset(r, 0, sizeof(*r));
	r->data.category_mask = 1;
	r->data.priority = (int32_t)(nb_tenants - t);
	r->data.userdata = t + 1;
	if (m->fields & (SL_M_SRC | SL_M_DST)) {
		kmask |= SL_PKT_IPV4 | SL_PKT_IPV6;
		kval |= m->family == 6 ? SL_PKT_IPV6 : SL_PKT_IPV4;
	}
	if (m->fields & (SL_M_SPORT | SL_M_DPORT)) {
		kmask |= SL_PKT_PORTS;
		kval |= SL_PKT_PORTS;
	}
	f[F_KIND].value.u8 = kval;
	f[F_KIND].mask_range.u8 = kmask;
	if (m->fields & SL_M_PROTO) {
		f[F_PROTO].value.u8 = m->proto;
		f[F_PROTO].mask_range.u8 = 0xff;
	}
	if (m->fields & SL_M_VLAN) {
		f[F_VLAN].value.u16 = m->vlan;
		f[F_VLAN].mask_range.u16 = 0xffff;
	}
	if (m->fields & SL_M_INNER_VLAN) {
		f[F_IVLAN].value.u16 = m->inner_vlan;
		f[F_IVLAN].mask_range.u16 = 0xffff;
	}
	if (m->fields & SL_M_PORT) {
		f[F_PORT].value.u16 = m->port;
		f[F_PORT].mask_range.u16 = 0xffff;
	}
	f[F_SPORT].value.u16 = m->fields & SL_M_SPORT ? m->sport_lo : 0;
	f[F_SPORT].mask_range.u16 = m->fields & SL_M_SPORT ? m->sport_hi : 0xffff;
	f[F_DPORT].value.u16 = m->fields & SL_M_DPORT ? m->dport_lo : 0;
	f[F_DPORT].mask_range.u16 = m->fields & SL_M_DPORT ? m->dport_hi : 0xffff;
	if (m->fields & SL_M_SRC)
		acl_prefix(&f[F_SRC0], m->src, m->src_len);
	if (m->fields & SL_M_DST)
		acl_prefix(&f[F_DST0], m->dst, m->dst_len);
}

/* ------------------------------------------------------------------ measurements */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)		/* CPU time of this thread: build times on a shared machine */
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t heap_bytes(void)	/* DPDK heap in use, every socket */
{
	uint64_t sum = 0;

	for (unsigned s = 0; s < rte_socket_count(); s++) {
		struct rte_malloc_socket_stats st;

		if (!rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &st))
			sum += st.heap_allocsz_bytes;
	}
	return sum;
}

static uint64_t hwm_bytes(void)		/* VmHWM: peak RSS so far */
{
	char line[256];
	unsigned long kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/*
 * Timing. A pass classifies packets [0, n) in chunks (CHUNK packets, LINEAR_CHUNK for the
 * linear scan), each chunk between two serialised TSC reads. The machine is shared (2 vCPUs,
 * other people's programs on the same cores), so, as perf/sl-bench does, chunks during which
 * the thread was switched out (getrusage) and chunks slower than 2x the pass's median chunk
 * are left out; the pass's cycles per packet are those of the chunks kept. A method's figure
 * is the median over the rounds; the run prints how many chunks were left out.
 */
#define CHUNK 4096u		/* a multiple of ACL_BURST */
#define LINEAR_CHUNK 64u
#define SL_BURST 32u		/* the appliance's burst */

static volatile uint64_t sink;

struct timed {			/* what a timed chunk needs */
	const struct sl_classifier *c;
	const struct sl_pkt *pkt;
	uint16_t port;
	const struct rte_acl_ctx *ctx;
	const uint8_t **data;
	uint32_t *res;
};

typedef uint64_t (*chunk_fn)(const struct timed *t, uint32_t k0, uint32_t k1);

CB_CLONES __attribute__((noinline)) static uint64_t
chunk_sluice(const struct timed *t, uint32_t k0, uint32_t k1)
{
	const struct sl_classifier *c = t->c;
	const struct sl_pkt *pk = t->pkt;
	uint16_t port = t->port;
	uint64_t acc = 0, t0 = rte_rdtsc_precise();
	uint32_t out[SL_BURST];

	/* in bursts, as the engine classifies (sl_classify_burst) */
	for (uint32_t k = k0; k < k1; k += SL_BURST) {
		uint32_t n = k1 - k < SL_BURST ? k1 - k : SL_BURST;

		sl_classify_burst(c, &pk[k], n == 64 ? ~0ull : (1ull << n) - 1, port, out);
		for (uint32_t i = 0; i < n; i++)
			acc += out[i];
	}
	t0 = rte_rdtsc_precise() - t0;
	sink += acc;
	return t0;
}

__attribute__((noinline)) static uint64_t
chunk_linear(const struct timed *t, uint32_t k0, uint32_t k1)
{
	uint64_t acc = 0, t0 = rte_rdtsc_precise();

	for (uint32_t k = k0; k < k1; k++)
		acc += sl_classify_linear(t->c, &t->pkt[k], t->port);
	t0 = rte_rdtsc_precise() - t0;
	sink += acc;
	return t0;
}

__attribute__((noinline)) static uint64_t
chunk_acl(const struct timed *t, uint32_t k0, uint32_t k1)
{
	uint64_t t0 = rte_rdtsc_precise();

	for (uint32_t k = k0; k < k1; k += ACL_BURST)
		rte_acl_classify(t->ctx, t->data + k, t->res + k,
				 k1 - k < ACL_BURST ? k1 - k : ACL_BURST, 1);
	t0 = rte_rdtsc_precise() - t0;
	sink += t->res[k0];
	return t0;
}

static uint64_t ctx_switches(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

struct method {
	const char *name;
	chunk_fn fn;
	uint32_t n, chunk;
	double cpp[MAX_ROUNDS];
	uint64_t chunks, left_out;
	double med, min, max;
};

/* VmHWM back to the current RSS (Linux: "5" to clear_refs), so that it shows the next peak */
static void hwm_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, unsigned n, double *scratch)
{
	memcpy(scratch, v, n * sizeof(*v));
	qsort(scratch, n, sizeof(*scratch), cmp_double);
	return n % 2 ? scratch[n / 2] : (scratch[n / 2 - 1] + scratch[n / 2]) / 2;
}

/* Warm-up passes for a second: a core that was idle runs slower for a while on the hosts
 * measured here (the first run after a pause measured twice the cycles of the next). */
static void warm_method(struct method *m, const struct timed *t)
{
	for (uint64_t end = rte_rdtsc() + rte_get_tsc_hz(); rte_rdtsc() < end;)
		m->fn(t, 0, m->n);
}

/* Timed pass r of m into m->cpp[r]: chunks switched out, or slower than twice the pass's
 * median chunk, left out. 0 or -ENOMEM. */
static int pass_method(struct method *m, const struct timed *t, unsigned r)
{
	uint32_t nc = (m->n + m->chunk - 1) / m->chunk, valid = 0;
	uint64_t *cyc = malloc(nc * sizeof(*cyc)), sum = 0, pk = 0, sw = ctx_switches(), sw1;
	double *cpp = malloc(nc * sizeof(*cpp)), *scratch = malloc(nc * sizeof(*scratch)), med;
	uint8_t *out = malloc(nc);

	if (!cyc || !cpp || !scratch || !out) {
		free(cyc), free(cpp), free(scratch), free(out);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nc; i++) {
		uint32_t k0 = i * m->chunk, k1 = k0 + m->chunk < m->n ? k0 + m->chunk : m->n;

		cyc[i] = m->fn(t, k0, k1);
		sw1 = ctx_switches();
		out[i] = sw1 != sw;
		sw = sw1;
		cpp[i] = (double)cyc[i] / (k1 - k0);
		if (!out[i])
			scratch[valid++] = cpp[i];
	}
	/* the median chunk of the pass (of the chunks not switched out) */
	if (valid) {
		qsort(scratch, valid, sizeof(*scratch), cmp_double);
		med = scratch[valid / 2];
	} else {
		med = 1e300;	/* every chunk switched out: keep them all */
	}
	for (uint32_t i = 0; i < nc; i++) {
		uint32_t k0 = i * m->chunk, k1 = k0 + m->chunk < m->n ? k0 + m->chunk : m->n;

		if (valid && (out[i] || cpp[i] > 2 * med)) {
			m->left_out++;
			continue;
		}
		sum += cyc[i];
		pk += k1 - k0;
	}
	m->chunks += nc;
	m->cpp[r] = pk ? (double)sum / (double)pk : 0;
	free(cyc), free(cpp), free(scratch), free(out);
	return 0;
}

/*
 * The methods ms[0..nm) in turns: each warmed up, then round r of each in turn, so that all
 * meet the same slowdowns of a shared host (their ratio is the figure); median, min, max of
 * the rounds. 0 or -ENOMEM.
 */
static int run_methods(struct method *const *ms, unsigned nm, const struct timed *t,
		       unsigned rounds)
{
	for (unsigned i = 0; i < nm; i++)
		warm_method(ms[i], t);
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned i = 0; i < nm; i++)
			if (pass_method(ms[i], t, r))
				return -ENOMEM;
	for (unsigned i = 0; i < nm; i++) {
		struct method *m = ms[i];
		double rs[MAX_ROUNDS];

		m->med = median(m->cpp, rounds, rs);
		m->min = m->max = m->cpp[0];
		for (unsigned r = 1; r < rounds; r++) {
			m->min = m->cpp[r] < m->min ? m->cpp[r] : m->min;
			m->max = m->cpp[r] > m->max ? m->cpp[r] : m->max;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ trace */

struct trace {
	struct sl_pkt *pkt;
	uint32_t n, frames, bad;
};

static int load_trace(const char *path, struct trace *t)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *in = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *frame;
	uint32_t cap = 1u << 16;
	int r;

	memset(t, 0, sizeof(*t));
	if (!in) {
		fprintf(stderr, "sl-classify-bench: %s\n", err);
		return -EINVAL;
	}
	if (pcap_datalink(in) != DLT_EN10MB) {
		fprintf(stderr, "sl-classify-bench: %s: not an Ethernet capture\n", path);
		pcap_close(in);
		return -EINVAL;
	}
	t->pkt = aligned_alloc(64, cap * sizeof(*t->pkt));
	while (t->pkt && (r = pcap_next_ex(in, &h, &frame)) == 1) {
		t->frames++;
		if (t->n == cap) {
			struct sl_pkt *q = aligned_alloc(64, 2ull * cap * sizeof(*q));

			if (q)
				memcpy(q, t->pkt, cap * sizeof(*q));
			free(t->pkt);
			t->pkt = q;
			cap *= 2;
			if (!q)
				break;
		}
		if (sl_parse(frame, h->caplen, &t->pkt[t->n]))
			t->bad++;
		else
			t->n++;
	}
	pcap_close(in);
	if (!t->pkt) {
		fprintf(stderr, "sl-classify-bench: %s: out of memory\n", path);
		return -ENOMEM;
	}
	if (!t->n) {
		fprintf(stderr, "sl-classify-bench: %s: no frame that parses\n", path);
		return -EINVAL;
	}
	return 0;
}

static void addr_str(const struct sl_pkt *p, const uint8_t *a, char *buf, size_t len)
{
	if (p->flags & SL_PKT_IPV4)
		inet_ntop(AF_INET, a, buf, (socklen_t)len);
	else if (p->flags & SL_PKT_IPV6)
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
	else
		snprintf(buf, len, "-");
}

static const char *tenant_name(const struct sl_config *cfg, uint32_t t)
{
	return t == SL_NO_TENANT ? "(none)" : t < cfg->nb_tenants ? cfg->tenants[t].name : "(bad)";
}

static void show_pkt(const struct sl_config *cfg, uint32_t k, const struct sl_pkt *p,
		     uint16_t port, uint32_t s, const char *other, uint32_t o)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	addr_str(p, p->src, src, sizeof(src));
	addr_str(p, p->dst, dst, sizeof(dst));
	fprintf(stderr,
		"  packet %u: flags 0x%02x proto %u %s:%u -> %s:%u vlan %u inner %u port %u: "
		"sluice %s (%d), %s %s (%d)\n", k, p->flags, p->proto, src, p->sport, dst,
		p->dport, p->vlan, p->inner_vlan, port, tenant_name(cfg, s), (int)s, other,
		tenant_name(cfg, o), (int)o);
}

/* ------------------------------------------------------------------ main */

/* v as fmt, or "-" when the method did not run */
static void fmt_opt(char *buf, size_t len, int ran, const char *fmt, double v)
{
	if (ran)
		snprintf(buf, len, fmt, v);
	else
		snprintf(buf, len, "-");
}

struct opts {
	const char *config, *in;
	unsigned rounds;
	int acl, linear, counts;
	uint16_t port;
	enum rte_acl_classify_alg alg;
	const char *alg_name;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sl-classify-bench [EAL options] -- --config POLICY.yaml --in TRACE.pcap\n"
		"         [--rounds R] [--no-acl] [--no-linear] [--port P] [--acl-alg NAME] [--counts]\n"
		"Classifies every frame of the trace (as come in on port P, default 0) with sluice's\n"
		"classifier, rte_acl (one context holding every match block; --acl-alg avx2 (default),\n"
		"sse, scalar, avx512x16, avx512x32, default) and the linear first-match scan; prints\n"
		"cycles per packet (median of R rounds, default 5), build time and memory of each,\n"
		"and exits 1 if any packet's tenant differs between them. --counts: packets per\n"
		"tenant as sluice classified them.\n"
		"EAL example: --no-huge -m 4096 --no-shconf --no-pci -l 1 --log-level=error\n");
}

static int parse_alg(struct opts *o, const char *s)
{
	static const struct {
		const char *name;
		enum rte_acl_classify_alg alg;
	} t[] = {
		{ "default", RTE_ACL_CLASSIFY_DEFAULT }, { "scalar", RTE_ACL_CLASSIFY_SCALAR },
		{ "sse", RTE_ACL_CLASSIFY_SSE }, { "avx2", RTE_ACL_CLASSIFY_AVX2 },
		{ "avx512x16", RTE_ACL_CLASSIFY_AVX512X16 },
		{ "avx512x32", RTE_ACL_CLASSIFY_AVX512X32 },
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].name)) {
			o->alg = t[i].alg;
			o->alg_name = t[i].name;
			return 0;
		}
	return -EINVAL;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' }, { "in", required_argument, NULL, 'i' },
		{ "rounds", required_argument, NULL, 'r' }, { "no-acl", no_argument, NULL, 'A' },
		{ "no-linear", no_argument, NULL, 'L' }, { "port", required_argument, NULL, 'p' },
		{ "acl-alg", required_argument, NULL, 'a' }, { "counts", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->rounds = 5;
	o->acl = o->linear = 1;
	o->alg = RTE_ACL_CLASSIFY_AVX2;
	o->alg_name = "avx2";
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'i':
			o->in = optarg;
			break;
		case 'r':
			v = strtoul(optarg, &end, 10);
			if (*end || !v || v > MAX_ROUNDS) {
				fprintf(stderr, "sl-classify-bench: --rounds: 1..%u\n", MAX_ROUNDS);
				return -EINVAL;
			}
			o->rounds = (unsigned)v;
			break;
		case 'A':
			o->acl = 0;
			break;
		case 'L':
			o->linear = 0;
			break;
		case 'p':
			v = strtoul(optarg, &end, 10);
			if (*end || v > 0xffff) {
				fprintf(stderr, "sl-classify-bench: --port: 0..65535\n");
				return -EINVAL;
			}
			o->port = (uint16_t)v;
			break;
		case 'a':
			if (parse_alg(o, optarg)) {
				fprintf(stderr, "sl-classify-bench: --acl-alg %s: unknown\n", optarg);
				return -EINVAL;
			}
			break;
		case 'n':
			o->counts = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || !o->config || !o->in) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

struct acl_run {
	struct rte_acl_ctx *ctx;
	double build_ms, rules_ms, bld_ms, build_cpu_ms;
	uint64_t heap, heap_rt, rss_delta, peak_delta;
	const char *alg;
};

/* Rules from every block of cfg into one context, built; reports its own errors. */
static int acl_make(const struct sl_config *cfg, const struct opts *o, struct acl_run *a)
{
	struct rte_acl_param prm = {
		.name = "sl-classify-bench", .socket_id = SOCKET_ID_ANY,
		.rule_size = RTE_ACL_RULE_SZ(NB_FIELDS), .max_rule_num = cfg->nb_matches,
	};
	struct rte_acl_config ac;
	struct cb_acl_rule *rules;
	uint64_t heap0, heap1, rss0;
	double t0, t1, c0;
	int r;

	memset(a, 0, sizeof(*a));
	rules = malloc((size_t)cfg->nb_matches * sizeof(*rules));
	if (!rules) {
		fprintf(stderr, "sl-classify-bench: rte_acl: out of memory for the rules\n");
		return -ENOMEM;
	}
	heap0 = heap_bytes();
	c0 = cpu_ms();
	t0 = now_ms();
	for (uint32_t t = 0, b = 0; t < cfg->nb_tenants; t++)
		for (unsigned i = 0; i < cfg->tenants[t].nb_match; i++, b++)
			acl_rule_of(sl_cfg_tenant_match(cfg, &cfg->tenants[t], i), t,
				    cfg->nb_tenants, &rules[b]);
	a->ctx = rte_acl_create(&prm);
	if (!a->ctx) {
		fprintf(stderr, "sl-classify-bench: rte_acl_create: %s\n", rte_strerror(rte_errno));
		free(rules);
		return -ENOMEM;
	}
	r = rte_acl_add_rules(a->ctx, (const struct rte_acl_rule *)rules, cfg->nb_matches);
	free(rules);
	if (r) {
		fprintf(stderr, "sl-classify-bench: rte_acl_add_rules: %s\n", strerror(-r));
		return r;
	}
	t1 = now_ms();
	a->rules_ms = t1 - t0;
	memset(&ac, 0, sizeof(ac));
	ac.num_categories = 1;
	ac.num_fields = NB_FIELDS;
	memcpy(ac.defs, acl_defs, sizeof(acl_defs));
	heap1 = heap_bytes();
	rss0 = slb_rss_bytes();
	hwm_reset();
	r = rte_acl_build(a->ctx, &ac);
	a->bld_ms = now_ms() - t1;
	a->build_ms = a->rules_ms + a->bld_ms;
	a->build_cpu_ms = cpu_ms() - c0;
	if (r) {
		fprintf(stderr, "sl-classify-bench: rte_acl_build: %s (%d)\n", strerror(-r), r);
		return r;
	}
	a->heap = heap_bytes() - heap0;
	a->heap_rt = heap_bytes() - heap1;
	a->rss_delta = slb_rss_bytes() - rss0;
	a->peak_delta = hwm_bytes() > rss0 ? hwm_bytes() - rss0 : 0;
	a->alg = o->alg_name;
	r = rte_acl_set_ctx_classify(a->ctx, o->alg);
	if (r) {
		printf("note: rte_acl_set_ctx_classify(%s): %s; using rte_acl's default for this "
		       "CPU\n", o->alg_name, strerror(-r));
		a->alg = "default (fallback)";
	}
	return 0;
}

/* Hash probes sl_classify makes for p (shapes of many values its prefilters let through), and
 * in *visits the shapes it looks at: its loop, counting (reads only the public classifier). */
static unsigned probes_of(const struct sl_classifier *c, const struct sl_pkt *p, uint16_t port,
			  uint64_t *visits)
{
	unsigned k = sl_cls_kind(p), np = 0;
	uint32_t best = c->deflt[k], j = c->first[k], end = c->first[k + 1];
	__m128i r0 = _mm_loadu_si128((const __m128i *)(const void *)p->src);
	__m128i r1 = _mm_loadu_si128((const __m128i *)(const void *)p->dst);
	__m128i r2 = sl_cls_row2(p, port);

	for (; j < end; j++) {
		const struct sl_cls_sub *s = &c->sub[c->list[j]];
		__m128i k0 = _mm_and_si128(r0, s->mask[0]), k1 = _mm_and_si128(r1, s->mask[1]);
		__m128i k2 = _mm_and_si128(r2, s->mask[2]);
		uint64_t h;

		if (s->best >= best)
			break;
		(*visits)++;
		if (s->nb_ent == 1) {
			if (sl_cls_eq(k0, k1, k2, s->ent[0].key))
				best = sl_cls_ent_tenant(c, s->ent, p, best);
			continue;
		}
		h = sl_cls_hash(k0, k1, k2);
		if (s->filter) {
			uint32_t f = (uint32_t)(h >> SL_CLS_FILTER_SHIFT) & s->filter_mask;

			if (!(s->filter[f >> 6] >> (f & 63) & 1))
				continue;
		}
		np++;
		best = sl_cls_probe(c, s, k0, k1, k2, h, p, best);
	}
	return np;
}

static void print_method(const struct method *m, const char *build,
			 const char *mem, const char *notes)
{
	printf("%-8s %11.1f %11s %10s %9.1f %9.1f  %u packets, %" PRIu64 " of %" PRIu64
	       " chunks left out%s%s\n", m->name, m->med, build, mem, m->min,
	       m->max, m->n, m->left_out,
	       m->chunks, notes ? "; " : "", notes ? notes : "");
}

int main(int argc, char **argv)
{
	struct method msl = { .name = "sluice", .fn = chunk_sluice, .chunk = CHUNK };
	struct method macl = { .name = "rte_acl", .fn = chunk_acl, .chunk = CHUNK };
	struct method mlin = { .name = "linear", .fn = chunk_linear, .chunk = LINEAR_CHUNK };
	struct sl_classifier_info info;
	struct sl_classifier c;
	struct sl_config *cfg;
	struct sl_diag d = { 0 };
	struct acl_run acl = { 0 };
	struct timed t;
	struct trace tr;
	struct opts o;
	uint32_t *res_sl, *res_acl = NULL, *res_lin = NULL, *count = NULL;
	uint64_t bad_acl = 0, bad_lin = 0, matched = 0, probes = 0, visits = 0, hist[9] = { 0 };
	char acl_s[32], lin_s[32], aclb_s[32], aclm_s[32], aclc_s[32], b[32], mem[32], notes[512];
	double sl_ms, sl_cpu;
	unsigned maxp = 0;
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "sl-classify-bench: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	if (parse_opts(&o, argc, argv))
		return 1;
	if (sl_config_load(o.config, &cfg, &d)) {
		sl_diag_print(&d, stderr);
		sl_diag_free(&d);
		return 1;
	}
	if (load_trace(o.in, &tr))
		return 1;

	/* sluice */
	sl_cpu = cpu_ms();
	sl_ms = now_ms();
	ret = sl_classifier_build(cfg, &c);
	sl_ms = now_ms() - sl_ms;
	sl_cpu = cpu_ms() - sl_cpu;
	if (ret) {
		fprintf(stderr, "sl-classify-bench: sl_classifier_build: %s\n", strerror(-ret));
		return 1;
	}
	sl_classifier_info(&c, &info);
	res_sl = malloc((size_t)tr.n * sizeof(*res_sl));
	count = calloc((size_t)cfg->nb_tenants + 1, sizeof(*count));
	if (!res_sl || !count)
		return 1;
	for (uint32_t k = 0; k < tr.n; k++) {
		unsigned np = probes_of(&c, &tr.pkt[k], o.port, &visits);

		res_sl[k] = sl_classify(&c, &tr.pkt[k], o.port);
		matched += res_sl[k] != SL_NO_TENANT;
		count[res_sl[k] == SL_NO_TENANT ? cfg->nb_tenants : res_sl[k]]++;
		probes += np;
		maxp = np > maxp ? np : maxp;
		hist[np < 8 ? np : 8]++;
	}
	for (uint32_t k = 0; k < tr.n; k += SL_BURST) {	/* the burst form the same */
		uint32_t out[SL_BURST], n = tr.n - k < SL_BURST ? tr.n - k : SL_BURST;

		sl_classify_burst(&c, &tr.pkt[k], (1ull << n) - 1, o.port, out);
		for (uint32_t i = 0; i < n; i++)
			if (out[i] != res_sl[k + i]) {
				fprintf(stderr, "sl-classify-bench: packet %u: sl_classify_burst %u, "
					"sl_classify %u\n", k + i, out[i], res_sl[k + i]);
				return 1;
			}
	}
	printf("sl-classify-bench: TSC %.3f GHz, lcore %u, %u rounds (median), policy %s, "
	       "trace %s\n", (double)rte_get_tsc_hz() / 1e9, rte_lcore_id(), o.rounds, o.config,
	       o.in);
	printf("policy: %u tenants, %u blocks, %u shapes, %u values, max probes %u\n",
	       cfg->nb_tenants, info.blocks, info.shapes, info.values, info.max_probes);
	printf("trace: %u frames, %u parsed (%u did not parse, skipped), port %u, %" PRIu64
	       " matched a tenant (%.1f%%)\n", tr.frames, tr.n, tr.bad, o.port, matched,
	       100.0 * (double)matched / tr.n);
	printf("sluice shapes looked at per packet: mean %.2f; probed (hashed, the prefilter "
	       "passed): mean %.2f, max %u; packets probing 0..7, 8+:", (double)visits / tr.n,
	       (double)probes / tr.n, maxp);
	for (unsigned i = 0; i < 9; i++)
		printf(" %" PRIu64, hist[i]);
	printf("\n");
	if (o.counts) {
		printf("packets per tenant (sluice):");
		for (uint32_t i = 0; i <= cfg->nb_tenants; i++)
			if (count[i])
				printf(" %s=%u", tenant_name(cfg, i == cfg->nb_tenants ? SL_NO_TENANT : i),
				       count[i]);
		printf("\n");
	}
	fflush(stdout);
	memset(&t, 0, sizeof(t));
	t.c = &c;
	t.pkt = tr.pkt;
	t.port = o.port;
	msl.n = tr.n;

	/* rte_acl */
	if (o.acl && cfg->nb_matches == 0) {
		printf("note: no match blocks: rte_acl skipped (it cannot build an empty context)\n");
		o.acl = 0;
	}
	if (o.acl) {
		struct acl_in *in = aligned_alloc(64, (size_t)tr.n * sizeof(*in));
		const uint8_t **data = malloc((size_t)tr.n * sizeof(*data));

		res_acl = malloc(((size_t)tr.n + ACL_BURST) * sizeof(*res_acl));
		if (!in || !data || !res_acl || acl_make(cfg, &o, &acl))
			return 1;
		for (uint32_t k = 0; k < tr.n; k++) {
			acl_input(&tr.pkt[k], o.port, &in[k]);
			data[k] = (const uint8_t *)&in[k];
		}
		t.ctx = acl.ctx;
		t.data = data;
		t.res = res_acl;
		macl.n = tr.n;
		{	/* sluice and rte_acl in turns */
			struct method *both[2] = {&msl, &macl};

			if (run_methods(both, 2, &t, o.rounds))
				return 1;
		}
		memset(res_acl, 0, (size_t)tr.n * sizeof(*res_acl));
		chunk_acl(&t, 0, tr.n);
		for (uint32_t k = 0; k < tr.n; k++) {
			uint32_t a = res_acl[k] ? res_acl[k] - 1 : SL_NO_TENANT;

			if (a != res_sl[k] && bad_acl++ < SHOW_DISAGREE) {
				if (bad_acl == 1)
					fprintf(stderr, "sluice and rte_acl disagree:\n");
				show_pkt(cfg, k, &tr.pkt[k], o.port, res_sl[k], "rte_acl", a);
			}
		}
		free(data);
		free(in);
	}

	if (!o.acl) {
		struct method *one[1] = {&msl};

		if (run_methods(one, 1, &t, o.rounds))
			return 1;
	}

	/* linear */
	if (o.linear) {
		mlin.n = tr.n;
		if (info.blocks > LINEAR_BIG_BLOCKS && mlin.n > LINEAR_BIG_PACKETS) {
			mlin.n = LINEAR_BIG_PACKETS;
			printf("note: %u blocks (more than %u): the linear scan runs on the first %u "
			       "packets only\n", info.blocks, LINEAR_BIG_BLOCKS, mlin.n);
		}
		res_lin = malloc((size_t)mlin.n * sizeof(*res_lin));
		if (!res_lin)
			return 1;
		for (uint32_t k = 0; k < mlin.n; k++) {
			res_lin[k] = sl_classify_linear(&c, &tr.pkt[k], o.port);
			if (res_lin[k] != res_sl[k] && bad_lin++ < SHOW_DISAGREE) {
				if (bad_lin == 1)
					fprintf(stderr, "sluice and the linear scan disagree:\n");
				show_pkt(cfg, k, &tr.pkt[k], o.port, res_sl[k], "linear",
					 res_lin[k]);
			}
		}
		{
			struct method *lin[1] = {&mlin};

			if (run_methods(lin, 1, &t, o.rounds))
				return 1;
		}
	}

	printf("%-8s %11s %11s %10s %9s %9s  %s\n", "method", "cycles/pkt", "build_ms",
	       "memory_MB", "min", "max", "notes");
	snprintf(b, sizeof(b), "%.3f", sl_ms);
	snprintf(mem, sizeof(mem), "%.3f", (double)info.bytes / MB);
	snprintf(notes, sizeof(notes), "build CPU time %.3f ms", sl_cpu);
	print_method(&msl, b, mem, notes);
	if (o.acl) {
		snprintf(b, sizeof(b), "%.3f", acl.build_ms);
		snprintf(mem, sizeof(mem), "%.3f", (double)acl.heap / MB);
		snprintf(notes, sizeof(notes),
			 "alg %s, bursts of %u; build = rules %.1f ms + rte_acl_build %.1f ms "
			 "(CPU time %.1f ms); "
			 "memory = DPDK heap: rules %.3f MB + run-time %.3f MB; during "
			 "rte_acl_build RSS %+.1f MB, peak %+.1f MB", acl.alg, ACL_BURST,
			 acl.rules_ms, acl.bld_ms, acl.build_cpu_ms, (double)(acl.heap - acl.heap_rt) / MB,
			 (double)acl.heap_rt / MB, (double)acl.rss_delta / MB,
			 (double)acl.peak_delta / MB);
		print_method(&macl, b, mem, notes);
	}
	if (o.linear)
		print_method(&mlin, "-", "-", NULL);
	printf("agreement: rte_acl %s%" PRIu64 " of %u differ, linear %s%" PRIu64 " of %u differ\n",
	       o.acl ? "" : "(not run) ", bad_acl, o.acl ? tr.n : 0,
	       o.linear ? "" : "(not run) ", bad_lin, mlin.n);
	fmt_opt(acl_s, sizeof(acl_s), o.acl, "%.1f", macl.med);
	fmt_opt(lin_s, sizeof(lin_s), o.linear, "%.1f", mlin.med);
	fmt_opt(aclb_s, sizeof(aclb_s), o.acl, "%.1f", acl.build_ms);
	fmt_opt(aclm_s, sizeof(aclm_s), o.acl, "%.3f", (double)acl.heap / MB);
	fmt_opt(aclc_s, sizeof(aclc_s), o.acl, "%.1f", acl.build_cpu_ms);
	printf("RESULT tenants=%u blocks=%u shapes=%u max_probes=%u mean_probes=%.2f packets=%u "
	       "sluice_cpp=%.1f acl_cpp=%s linear_cpp=%s acl_build_ms=%s acl_build_cpu_ms=%s "
	       "sluice_build_ms=%.3f "
	       "sluice_mb=%.3f acl_mb=%s linear_packets=%u disagree=%" PRIu64 "\n",
	       cfg->nb_tenants, info.blocks, info.shapes, info.max_probes,
	       (double)probes / tr.n, tr.n, msl.med, acl_s, lin_s, aclb_s, aclc_s, sl_ms,
	       (double)info.bytes / MB, aclm_s, mlin.n, bad_acl + bad_lin);

	rte_acl_free(acl.ctx);
	sl_classifier_free(&c);
	sl_config_free(cfg);
	free(res_sl);
	free(res_acl);
	free(res_lin);
	free(count);
	free(tr.pkt);
	rte_eal_cleanup();
	return bad_acl || bad_lin ? 1 : 0;
}
