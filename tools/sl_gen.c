/* sl_gen.c - sl-gen: synthetic traffic writer for tests, demos and performance runs. Merges
 * rate-shaped flows (IPv4/IPv6, VLAN/QinQ, TCP/UDP/ICMP) into one pcap, deterministic per seed. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GEN_MAX_FLOWS 64
#define GEN_FRAME_MIN 60	/* sizes are frame lengths without FCS, as pcap's orig_len */
#define GEN_FRAME_MAX 9000
#define GEN_T0_S 1700000000ull	/* default capture start (epoch seconds) */
#define GEN_JITTER 0.05		/* arrival=const: each gap scaled by 1 +- U(0, 5%) */
#define GEN_DISTINCT_BPS 10e9	/* --distinct: back-to-back at 10 Gbit/s, +20 B preamble/IFG */

enum { ARR_CONST, ARR_EXACT, ARR_POISSON };
enum { PR_ICMP = 1, PR_TCP = 6, PR_UDP = 17, PR_FRAG6 = 44, PR_ICMP6 = 58, PR_HOP6 = 0,
       PR_DST6 = 60 };

/* xoshiro256** seeded by splitmix64: small, fast, identical on every platform. */
struct prng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void prng_seed(struct prng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);

	for (unsigned i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rnd(struct prng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static inline double rnd_unit(struct prng *r)	/* [0, 1) */
{
	return (double)(rnd(r) >> 11) * 0x1.0p-53;
}

static inline uint64_t rnd_below(struct prng *r, uint64_t n)	/* [0, n), n > 0 */
{
	return (uint64_t)(((unsigned __int128)rnd(r) * n) >> 64);
}

/*
 * -ln(1 - u) for u in [0, 1): the exponential variate of poisson arrivals. Computed here (no
 * libm) so captures are bit-identical whatever the C library: x = m * 2^e, m in [1, 2),
 * ln m = 2 atanh(s), s = (m - 1) / (m + 1) < 1/3; 20 series terms leave an error < 1e-19.
 */
static double neg_log1m(double u)
{
	double x = 1 - u, s, s2, t, sum = 0;
	uint64_t bits;
	int e;

	memcpy(&bits, &x, 8);
	e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ((1ull << 52) - 1)) | (1023ull << 52);
	memcpy(&x, &bits, 8);
	s = (x - 1) / (x + 1);
	s2 = s * s;
	t = s;
	for (int k = 1; k < 40; k += 2, t *= s2)
		sum += t / k;
	return -(e * 0.69314718055994530942 + 2 * sum);
}

struct gen_range {
	uint32_t lo, hi;	/* inclusive */
};

static uint32_t range_pick(const struct gen_range *g, struct prng *r)
{
	return g->lo + (uint32_t)rnd_below(r, (uint64_t)g->hi - g->lo + 1);
}

struct gen_addr {
	uint8_t a[16];		/* network order; IPv4 in bytes 0..3 */
	uint8_t family;		/* 0 = not given, 4, 6 */
	uint8_t plen;
	uint64_t keys;		/* 0: any host of the prefix; N: one of N fixed hosts */
	uint64_t stride, off;	/* host of key k = off + k * stride (stride odd: distinct) */
};

struct gen_flow {
	struct prng r;
	int vlan, vlan2;	/* -1 = no tag */
	struct gen_addr src, dst;
	int proto;		/* -1 = not given (udp) */
	uint8_t tos;
	struct gen_range sport, dport, size;
	double rate;		/* bits/s, or packets/s when pps */
	int pps, arrival, v6ext;
	double frag;		/* fraction of frames sent as IP fragments */
	double start_ns, end_ns;	/* relative to the capture start; end < 0 = --duration */
	double next_ns;
};

/* What build_frame laid out, for the malformer. */
struct frame_info {
	unsigned l3off, l4len;	/* l4len 0 when no TCP/UDP header in this frame */
	int family;
};

struct gen_opts {
	const char *out;
	double duration;
	uint64_t seed, t0_s, distinct, count;
	unsigned size;
	double malformed;
	int usec, quiet;
	unsigned nb_flows;
	struct gen_flow flows[GEN_MAX_FLOWS];
};

struct gen_out {
	pcap_t *dead;
	pcap_dumper_t *dump;
	FILE *f;
	int usec;
	struct prng mr;		/* malformed choices, own stream */
	double malformed;
	uint64_t frames, bytes, bad;
};

/* --demo: each tenant of config/sluice.yaml offered about twice its profile, plus others. */
static const char *const demo_flows[] = {
	/* acme: VLAN 100, 40 sources, dedicated src-ip 800kbit -> ~1.6 Mbit/s per source */
	"vlan=100,src=10.100.0.0/24,keys=40,dst=192.0.2.10,proto=udp,dport=53,rate=64mbit,"
	"size=64-1500,arrival=poisson",
	/* free: shared 8mbit */
	"src=10.1.0.0/16,dst=198.51.100.7,proto=udp,dport=4500,rate=16mbit,size=200-1400",
	/* lab6: 5-tuple 1.5mbit; 2 sources x 5 ports = 10 connections of ~3 Mbit/s */
	"src=2001:db8:100::/48,keys=2,sport=40000-40004,dst=2001:db8:ffff::1,proto=tcp,"
	"dport=8080,rate=30mbit,size=100-1500,arrival=poisson",
	/* web: shared 2kpps, TCP to 443 from 10.2.0.0/16 */
	"src=10.2.0.0/16,dst=203.0.113.5,proto=tcp,dport=443,rate=4kpps,size=64-600,"
	"arrival=poisson",
	/* dns-watch: 0.5mbit, exceed pass */
	"src=10.5.0.0/16,dst=192.0.2.53,proto=udp,dport=53,rate=1mbit,size=80-300",
	/* unmatched */
	"src=172.16.0.0/12,dst=192.0.2.200,proto=tcp,dport=80,rate=3mbit,size=64-1500",
};
#define DEMO_DURATION 4.0
#define DEMO_MALFORMED 0.002

static void usage(FILE *f)
{
	fprintf(f,
"usage: sl-gen --out FILE.pcap [--duration S] [--seed N] --flow SPEC [--flow SPEC ...]\n"
"       sl-gen --out FILE.pcap --distinct N [--size B] [--count M]\n"
"       sl-gen --out FILE.pcap --demo\n"
"Writes an Ethernet pcap (nanosecond timestamps) of synthetic frames, deterministic for a\n"
"given seed. Frame sizes are frame lengths without FCS (the pcap orig_len, = caplen).\n"
"Options:\n"
"  --out FILE          output pcap (required)\n"
"  --duration S        seconds of traffic (decimals allowed; default 1)\n"
"  --seed N            PRNG seed (default 1); each flow draws from its own stream\n"
"  --flow SPEC         a flow, repeatable (up to %d); SPEC is key=value[,key=value...]:\n"
"      rate=R          offered rate: N[.N]bit|kbit|mbit|gbit|tbit or pps|kpps|mpps (required)\n"
"      size=N|N-M      frame length, fixed or uniform in N..M, %d..%d (default 512); raised\n"
"                      to the header length when smaller\n"
"      src=A[/P]       source address or prefix, IPv4 or IPv6 (default 10.0.0.1 / 2001:db8::1)\n"
"      dst=A[/P]       destination (default 192.0.2.1 / 2001:db8::2); same family as src\n"
"      keys=N          src: use N distinct hosts of the prefix (default: any host per frame)\n"
"      dkeys=N         dst: the same for the destination\n"
"      proto=P         tcp|udp|icmp|N (default udp; icmp is ICMPv6 with IPv6)\n"
"      sport=, dport=  N, N-M (uniform) or rand (1024-65535); default sport=rand, dport=9\n"
"      vlan=N          802.1Q tag (TPID 0x8100)\n"
"      vlan2=N         QinQ: outer tag vlan (TPID 0x88a8), inner tag vlan2 (TPID 0x8100)\n"
"      tos=N           IPv4 TOS / IPv6 traffic class byte (default 0)\n"
"      arrival=A       const (gaps +-5%% jitter, default), exact (no jitter) or poisson\n"
"      start=S, end=S  send only from S to E seconds into the capture\n"
"      frag=F          fraction F of frames sent as IP fragments (half first, half later)\n"
"      v6ext=N         IPv6: N extension headers (hop-by-hop, then destination options)\n"
"  --malformed-frac F  replace a fraction F of frames by malformed ones (runt, truncated IP\n"
"                      header, bad IP version or IHL, truncated L4 ports)\n"
"  --distinct N        performance mode: N distinct UDP 5-tuples (src 10.0.0.0/8 x sport,\n"
"                      dst 192.0.2.1:9), back-to-back timestamps at 10 Gbit/s\n"
"  --size B            frame length in --distinct mode (default 64)\n"
"  --count M           frames in --distinct mode, cycling through the N tuples (default N)\n"
"  --demo              the capture for config/sluice.yaml: %.0f s offering each tenant about\n"
"                      twice its profile: acme (VLAN 100, 40 sources), free (UDP from\n"
"                      10.1.0.0/16), lab6 (10 TCP connections from 2001:db8:100::/48), web\n"
"                      (TCP 443 from 10.2.0.0/16), dns-watch (UDP to 192.0.2.53:53), plus\n"
"                      unmatched traffic (172.16.0.0/12) and %.1f%% malformed frames\n"
"  --t0 SEC            timestamp of the capture start in epoch seconds (default %llu)\n"
"  --usec              write a microsecond pcap instead of nanosecond\n"
"  --quiet             no summary line\n",
		GEN_MAX_FLOWS, GEN_FRAME_MIN, GEN_FRAME_MAX, DEMO_DURATION, DEMO_MALFORMED * 100,
		(unsigned long long)GEN_T0_S);
}

static int fail(const char *what, const char *val, const char *msg)
{
	fprintf(stderr, "sl-gen: %s '%s': %s\n", what, val, msg);
	return -EINVAL;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	*v = strtoull(s, &end, 10);
	return errno || *end || *v > max ? -EINVAL : 0;
}

static int parse_double(const char *s, double *v, char **end)
{
	errno = 0;
	*v = strtod(s, end);
	return errno || *end == s || !__builtin_isfinite(*v) || *v < 0 ? -EINVAL : 0;
}

/* "2mbit" -> 2e6 bit/s, "10kpps" -> 1e4 pkt/s */
static int parse_rate(const char *s, double *rate, int *pps)
{
	static const struct { const char *u; double mul; int pps; } units[] = {
		{"bit", 1, 0}, {"kbit", 1e3, 0}, {"mbit", 1e6, 0}, {"gbit", 1e9, 0},
		{"tbit", 1e12, 0}, {"pps", 1, 1}, {"kpps", 1e3, 1}, {"mpps", 1e6, 1},
	};
	char *end;
	double v;

	if (parse_double(s, &v, &end) || v <= 0)
		return fail("rate", s, "expected a positive number");
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcasecmp(end, units[i].u)) {
			*rate = v * units[i].mul;
			*pps = units[i].pps;
			return 0;
		}
	}
	return fail("rate", s, "unit must be bit kbit mbit gbit tbit pps kpps mpps");
}

/* "N", "N-M" or (ports only) "rand" */
static int parse_range(const char *what, const char *s, uint32_t min, uint32_t max,
		       int allow_rand, struct gen_range *r)
{
	char buf[64], *dash;
	uint64_t lo, hi;

	if (allow_rand && !strcmp(s, "rand")) {
		r->lo = 1024;
		r->hi = 65535;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_u64(buf, max, &lo) || (dash && parse_u64(dash + 1, max, &hi)))
		return fail(what, s, "expected N or N-M in range");
	if (!dash)
		hi = lo;
	if (lo < min || hi < lo)
		return fail(what, s, "range empty or below the minimum");
	r->lo = (uint32_t)lo;
	r->hi = (uint32_t)hi;
	return 0;
}

static int parse_addr(const char *what, const char *s, struct gen_addr *g)
{
	char buf[80], *slash;
	uint64_t plen;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(g->a, 0, sizeof(g->a));
	if (inet_pton(AF_INET, buf, g->a) == 1)
		g->family = 4;
	else if (inet_pton(AF_INET6, buf, g->a) == 1)
		g->family = 6;
	else
		return fail(what, s, "not an IPv4 or IPv6 address");
	g->plen = g->family == 4 ? 32 : 128;
	if (slash) {
		if (parse_u64(slash + 1, g->plen, &plen))
			return fail(what, s, "bad prefix length");
		g->plen = (uint8_t)plen;
	}
	return 0;
}

/* Host part of key k (or of a random host) written into out, which holds the prefix. */
static void addr_pick(const struct gen_addr *g, struct prng *r, uint8_t out[16])
{
	unsigned bits = (g->family == 4 ? 32u : 128u) - g->plen, hb = bits < 64 ? bits : 64;
	uint64_t mask = hb == 64 ? ~0ull : (1ull << hb) - 1, h, w;
	unsigned lo = g->family == 4 ? 0 : 8;	/* byte offset of the low word */

	memcpy(out, g->a, 16);
	if (!bits)
		return;
	h = g->keys ? g->off + rnd_below(r, g->keys) * g->stride : rnd(r);
	if (g->family == 4) {
		uint32_t a;

		memcpy(&a, out, 4);
		a = htonl((uint32_t)((ntohl(a) & ~mask) | (h & mask)));
		memcpy(out, &a, 4);
		return;
	}
	if (bits > 64 && !g->keys) {	/* random upper host bits too */
		uint64_t hm = bits - 64 == 64 ? ~0ull : (1ull << (bits - 64)) - 1;

		memcpy(&w, out, 8);
		w = __builtin_bswap64(w);
		w = __builtin_bswap64((w & ~hm) | (rnd(r) & hm));
		memcpy(out, &w, 8);
	}
	memcpy(&w, out + lo, 8);
	w = __builtin_bswap64((__builtin_bswap64(w) & ~mask) | (h & mask));
	memcpy(out + lo, &w, 8);
}

static int addr_keys(const char *what, struct gen_addr *g, uint64_t keys, struct prng *r)
{
	unsigned bits = (g->family == 4 ? 32u : 128u) - g->plen;

	if (!keys || (bits < 64 && keys > (1ull << bits))) {
		fprintf(stderr, "sl-gen: %s: %llu keys: must be 1 .. 2^%u (its host bits)\n", what,
			(unsigned long long)keys, bits);
		return -EINVAL;
	}
	g->keys = keys;
	g->stride = rnd(r) | 1;
	g->off = rnd(r);
	return 0;
}

/* A whole number 0..max into *dst. */
static int set_uint(const char *k, const char *v, uint64_t max, uint64_t *dst)
{
	return parse_u64(v, max, dst) ? fail(k, v, "not a whole number in range") : 0;
}

/* A number 0..max, times scale, into *dst. */
static int set_real(const char *k, const char *v, double max, double scale, double *dst)
{
	char *end;
	double d;

	if (parse_double(v, &d, &end) || *end || d > max)
		return fail(k, v, "not a number in range");
	*dst = d * scale;
	return 0;
}

static int set_proto(const char *v, int *proto)
{
	uint64_t n;

	if (!strcmp(v, "tcp") || !strcmp(v, "udp") || !strcmp(v, "icmp")) {
		*proto = *v == 't' ? PR_TCP : *v == 'u' ? PR_UDP : PR_ICMP;
		return 0;
	}
	if (parse_u64(v, 255, &n))
		return fail("proto", v, "expected tcp, udp, icmp or 0..255");
	*proto = (int)n;
	return 0;
}

static int set_arrival(const char *v, int *arrival)
{
	static const char *const names[] = {[ARR_CONST] = "const", [ARR_EXACT] = "exact",
					    [ARR_POISSON] = "poisson"};

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
		if (!strcmp(v, names[i])) {
			*arrival = i;
			return 0;
		}
	}
	return fail("arrival", v, "expected const, exact or poisson");
}

/* One key=value item of a --flow spec. */
static int flow_set(struct gen_flow *fl, const char *k, const char *v, uint64_t *keys,
		    uint64_t *dkeys)
{
	uint64_t n;

	if (!strcmp(k, "rate"))
		return parse_rate(v, &fl->rate, &fl->pps);
	if (!strcmp(k, "size"))
		return parse_range("size", v, GEN_FRAME_MIN, GEN_FRAME_MAX, 0, &fl->size);
	if (!strcmp(k, "src") || !strcmp(k, "dst"))
		return parse_addr(k, v, *k == 's' ? &fl->src : &fl->dst);
	if (!strcmp(k, "sport") || !strcmp(k, "dport"))
		return parse_range(k, v, 0, 65535, 1, *k == 's' ? &fl->sport : &fl->dport);
	if (!strcmp(k, "keys") || !strcmp(k, "dkeys"))
		return set_uint(k, v, ~0ull, *k == 'k' ? keys : dkeys);
	if (!strcmp(k, "proto"))
		return set_proto(v, &fl->proto);
	if (!strcmp(k, "arrival"))
		return set_arrival(v, &fl->arrival);
	if (!strcmp(k, "start"))
		return set_real(k, v, 1e6, 1e9, &fl->start_ns);
	if (!strcmp(k, "end"))
		return set_real(k, v, 1e6, 1e9, &fl->end_ns);
	if (!strcmp(k, "frag"))
		return set_real(k, v, 1, 1, &fl->frag);
	if (!strcmp(k, "vlan") || !strcmp(k, "vlan2") || !strcmp(k, "tos") || !strcmp(k, "v6ext")) {
		if (set_uint(k, v, *k == 'v' ? (k[1] == '6' ? 3 : 4095) : 255, &n))
			return -EINVAL;
		if (*k == 't')
			fl->tos = (uint8_t)n;
		else if (k[1] == '6')
			fl->v6ext = (int)n;
		else if (k[4])
			fl->vlan2 = (int)n;
		else
			fl->vlan = (int)n;
		return 0;
	}
	return fail("flow key", k, "unknown (see --help)");
}

static int parse_flow(const char *spec, unsigned idx, uint64_t seed, struct gen_flow *fl)
{
	char buf[1024], *save = NULL, *tok;
	uint64_t keys = 0, dkeys = 0;

	memset(fl, 0, sizeof(*fl));
	prng_seed(&fl->r, seed, idx + 1);
	fl->vlan = fl->vlan2 = -1;
	fl->proto = -1;
	fl->size = (struct gen_range){512, 512};
	fl->sport = (struct gen_range){1024, 65535};
	fl->dport = (struct gen_range){9, 9};
	fl->end_ns = -1;
	if (strlen(spec) >= sizeof(buf))
		return fail("flow", spec, "too long");
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			return fail("flow item", tok, "expected key=value");
		*eq = '\0';
		if (flow_set(fl, tok, eq + 1, &keys, &dkeys))
			return -EINVAL;
	}
	if (fl->rate <= 0)
		return fail("flow", spec, "rate= is required");
	if (fl->vlan2 >= 0 && fl->vlan < 0)
		return fail("flow", spec, "vlan2 needs vlan (the outer tag)");
	if (!fl->src.family)
		parse_addr("src", fl->dst.family == 6 ? "2001:db8::1" : "10.0.0.1", &fl->src);
	if (!fl->dst.family)
		parse_addr("dst", fl->src.family == 6 ? "2001:db8::2" : "192.0.2.1", &fl->dst);
	if (fl->src.family != fl->dst.family)
		return fail("flow", spec, "src and dst must be the same address family");
	if (fl->proto < 0)
		fl->proto = PR_UDP;
	if (fl->proto == PR_ICMP && fl->src.family == 6)
		fl->proto = PR_ICMP6;
	if ((keys && addr_keys("src", &fl->src, keys, &fl->r)) ||
	    (dkeys && addr_keys("dst", &fl->dst, dkeys, &fl->r)))
		return -EINVAL;
	return 0;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* One's complement sum of len bytes (big-endian 16-bit words), not folded. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	for (; len >= 2; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Checksum of an L4 segment with the IPv4/IPv6 pseudo-header. */
static uint16_t l4_csum(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			const uint8_t *l4, uint32_t len)
{
	unsigned alen = family == 4 ? 4 : 16;
	uint64_t sum = csum_add(csum_add(0, src, alen), dst, alen);
	uint16_t c;

	sum += proto + (len & 0xffff) + (len >> 16);
	c = csum_fold(csum_add(sum, l4, len));
	return proto == PR_UDP && !c ? 0xffff : c;
}

static unsigned l4_hlen(int proto)
{
	return proto == PR_TCP ? 20 : proto == PR_UDP || proto == PR_ICMP || proto == PR_ICMP6 ? 8
									: 0;
}

/* L4 header (and checksum over the whole segment) at l4, len bytes to the datagram end. */
static void build_l4(struct gen_flow *fl, int family, const uint8_t *src, const uint8_t *dst,
		     uint8_t *l4, uint32_t len, uint64_t seq)
{
	uint16_t sport = (uint16_t)range_pick(&fl->sport, &fl->r);
	uint16_t dport = (uint16_t)range_pick(&fl->dport, &fl->r);
	unsigned ck;

	switch (fl->proto) {
	case PR_TCP:
		put16(l4, sport);
		put16(l4 + 2, dport);
		put32(l4 + 4, (uint32_t)seq * 1000u);
		put32(l4 + 8, 1);
		l4[12] = 5 << 4;
		l4[13] = 0x18;	/* PSH ACK */
		put16(l4 + 14, 65535);
		ck = 16;
		break;
	case PR_UDP:
		put16(l4, sport);
		put16(l4 + 2, dport);
		put16(l4 + 4, (uint16_t)len);
		ck = 6;
		if (family == 4)
			return;	/* IPv4 UDP: checksum 0 = none */
		break;
	case PR_ICMP:
	case PR_ICMP6:
		l4[0] = fl->proto == PR_ICMP ? 8 : 128;	/* echo request */
		put16(l4 + 4, (uint16_t)(sport));
		put16(l4 + 6, (uint16_t)seq);
		ck = 2;
		if (fl->proto == PR_ICMP) {	/* no pseudo-header */
			put16(l4 + ck, csum_fold(csum_add(0, l4, len)));
			return;
		}
		break;
	default:
		return;
	}
	put16(l4 + ck, l4_csum(family, src, dst, (uint8_t)fl->proto, l4, len));
}

/*
 * One frame of flow fl, len bytes (>= its headers), into buf (zeroed here). frag: 0 none,
 * 1 first fragment, 2 later fragment. seq numbers frames; it goes into the payload.
 */
static unsigned build_frame(struct gen_flow *fl, uint8_t *buf, unsigned len, int frag,
			    uint64_t seq, struct frame_info *fi)
{
	int v6 = fl->src.family == 6;
	unsigned off = 12, iphl = v6 ? 40 + 8 * fl->v6ext + (frag ? 8 : 0) : 20;
	unsigned l4h = frag == 2 ? 0 : l4_hlen(fl->proto), plen;
	uint8_t *ip, src[16], dst[16];

	off += fl->vlan2 >= 0 ? 8 : fl->vlan >= 0 ? 4 : 0;
	if (len < off + 2 + iphl + l4h)
		len = off + 2 + iphl + l4h;
	memset(buf, 0, len);
	memcpy(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (fl->vlan2 >= 0) {
		put16(buf + 12, 0x88a8);
		put16(buf + 14, (uint16_t)fl->vlan);
		put16(buf + 16, 0x8100);
		put16(buf + 18, (uint16_t)fl->vlan2);
	} else if (fl->vlan >= 0) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, (uint16_t)fl->vlan);
	}
	put16(buf + off, v6 ? 0x86dd : 0x0800);
	ip = buf + off + 2;
	fi->l3off = off + 2;
	fi->family = fl->src.family;
	fi->l4len = 0;
	if ((fl->proto == PR_TCP || fl->proto == PR_UDP) && frag != 2)
		fi->l4len = len - fi->l3off - iphl;
	addr_pick(&fl->src, &fl->r, src);
	addr_pick(&fl->dst, &fl->r, dst);
	plen = len - fi->l3off - iphl;	/* L4 segment (or fragment payload) */
	if (plen - l4h >= 8) {	/* frame number, big-endian, at the payload start */
		put32(ip + iphl + l4h, (uint32_t)(seq >> 32));
		put32(ip + iphl + l4h + 4, (uint32_t)seq);
	}
	if (!v6) {
		ip[0] = 0x45;
		ip[1] = fl->tos;
		put16(ip + 2, (uint16_t)(len - fi->l3off));
		put16(ip + 4, (uint16_t)seq);
		put16(ip + 6, frag == 1 ? 0x2000 : frag == 2 ? 0x2000 * (seq & 1) + 185 : 0x4000);
		ip[8] = 64;
		ip[9] = (uint8_t)fl->proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	} else {
		uint8_t *nh = ip + 6, *x = ip + 40;

		put32(ip, 0x60000000u | (uint32_t)fl->tos << 20);
		put16(ip + 4, (uint16_t)(len - fi->l3off - 40));
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		for (int i = 0; i < fl->v6ext; i++, x += 8) {
			*nh = i ? PR_DST6 : PR_HOP6;
			nh = x;
			x[2] = 1;	/* PadN, 4 bytes */
			x[3] = 4;
		}
		if (frag) {
			*nh = PR_FRAG6;
			nh = x;
			put16(x + 2, frag == 2 ? (uint16_t)(185 << 3 | (seq & 1)) : 1);
			put32(x + 4, (uint32_t)seq);
		}
		*nh = (uint8_t)fl->proto;
	}
	if (l4h)
		build_l4(fl, fl->src.family, src, dst, ip + iphl, plen, seq);
	return len;
}

/* Turn a built frame into one the parser must call malformed; returns the new length. */
static unsigned malform(uint8_t *buf, unsigned len, const struct frame_info *fi, struct prng *r)
{
	unsigned kind = (unsigned)rnd_below(r, 4), minhdr = fi->family == 4 ? 20 : 40;
	uint8_t *ip = buf + fi->l3off;

	if (kind == 3 && fi->l4len >= 4) {	/* datagram ends 2 bytes into the L4 ports */
		if (fi->family == 4) {
			put16(ip + 2, (uint16_t)((ip[0] & 0xf) * 4 + 2));
			put16(ip + 10, 0);
			put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
		} else {
			put16(ip + 4, (uint16_t)(len - fi->l3off - 40 - fi->l4len + 2));
		}
		return len;
	}
	if (kind == 2) {	/* version 7 */
		ip[0] = (uint8_t)(0x70 | (ip[0] & 0x0f));
		return len;
	}
	if (kind == 1 && fi->family == 4) {	/* IHL 3 */
		ip[0] = 0x43;
		return len;
	}
	if (kind == 0)	/* runt: no full Ethernet header */
		return 6 + (unsigned)rnd_below(r, 8);
	/* cut inside the VLAN tags or the fixed IP header */
	return 14 + (unsigned)rnd_below(r, fi->l3off + minhdr - 14);
}

static int emit(struct gen_out *o, uint64_t ns, uint8_t *buf, unsigned len,
		const struct frame_info *fi)
{
	struct pcap_pkthdr h;

	if (o->malformed > 0 && rnd_unit(&o->mr) < o->malformed) {
		len = malform(buf, len, fi, &o->mr);
		o->bad++;
	}
	h.ts.tv_sec = (time_t)(ns / 1000000000ull);
	h.ts.tv_usec = (suseconds_t)(ns % 1000000000ull / (o->usec ? 1000 : 1));
	h.caplen = h.len = len;
	pcap_dump((u_char *)o->dump, &h, buf);
	o->frames++;
	o->bytes += len;
	return 0;
}

/* Seconds between two frames of fl, the first one len bytes long. */
static double flow_gap_ns(struct gen_flow *fl, unsigned len)
{
	double g = (fl->pps ? 1.0 : len * 8.0) * 1e9 / fl->rate;

	if (fl->arrival == ARR_CONST)
		return g * (1 + GEN_JITTER * (2 * rnd_unit(&fl->r) - 1));
	if (fl->arrival == ARR_POISSON)
		return neg_log1m(rnd_unit(&fl->r)) * g;
	return g;
}

static unsigned flow_size(struct gen_flow *fl)
{
	return range_pick(&fl->size, &fl->r);
}

/* Merge the flows in timestamp order (ties: lower flow index first). */
static int run_flows(struct gen_opts *g, struct gen_out *o)
{
	static uint8_t buf[GEN_FRAME_MAX + 128];
	double dur_ns = g->duration * 1e9;
	unsigned next_size[GEN_MAX_FLOWS];
	struct frame_info fi;
	uint64_t seq = 0;

	for (unsigned i = 0; i < g->nb_flows; i++) {
		struct gen_flow *fl = &g->flows[i];

		if (fl->end_ns < 0 || fl->end_ns > dur_ns)
			fl->end_ns = dur_ns;
		next_size[i] = flow_size(fl);
		fl->next_ns = fl->start_ns;
		if (fl->arrival != ARR_EXACT)	/* random phase */
			fl->next_ns += rnd_unit(&fl->r) * flow_gap_ns(fl, next_size[i]);
	}
	for (;;) {
		struct gen_flow *fl = NULL;
		unsigned k = 0, len;
		int frag = 0;

		for (unsigned i = 0; i < g->nb_flows; i++) {
			struct gen_flow *c = &g->flows[i];

			if (c->next_ns < c->end_ns && (!fl || c->next_ns < fl->next_ns)) {
				fl = c;
				k = i;
			}
		}
		if (!fl)
			return 0;
		if (fl->frag > 0 && rnd_unit(&fl->r) < fl->frag)
			frag = 1 + (int)(rnd(&fl->r) & 1);
		len = build_frame(fl, buf, next_size[k], frag, seq++, &fi);
		emit(o, g->t0_s * 1000000000ull + (uint64_t)(fl->next_ns + 0.5), buf, len, &fi);
		fl->next_ns += flow_gap_ns(fl, len);
		next_size[k] = flow_size(fl);
	}
}

/* --distinct: N 5-tuples, key i = src 10.0.0.0/8 host perm(i mod 2^24), sport 1024 + i/2^24. */
static int run_distinct(struct gen_opts *g, struct gen_out *o)
{
	static uint8_t buf[GEN_FRAME_MAX + 128];
	double gap = (g->size + 20) * 8.0 * 1e9 / GEN_DISTINCT_BPS;
	struct gen_flow fl;
	struct frame_info fi;

	if (parse_flow("src=10.0.0.0,dst=192.0.2.1,proto=udp,rate=1pps", 0, g->seed, &fl))
		return -EINVAL;
	for (uint64_t i = 0; i < g->count; i++) {
		uint64_t key = i % g->distinct;
		uint32_t host = (uint32_t)(key * 0x9e3779b1u) & 0xffffffu;
		unsigned len;

		put32(fl.src.a, 0x0a000000u | host);
		fl.sport.lo = fl.sport.hi = (uint32_t)(1024 + key / (1u << 24));
		len = build_frame(&fl, buf, g->size, 0, i, &fi);
		emit(o, g->t0_s * 1000000000ull + (uint64_t)((double)i * gap + 0.5), buf, len, &fi);
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct gen_opts *g)
{
	static const struct option lo[] = {
		{"out", 1, NULL, 'o'}, {"duration", 1, NULL, 'd'}, {"seed", 1, NULL, 's'},
		{"flow", 1, NULL, 'f'}, {"malformed-frac", 1, NULL, 'm'},
		{"distinct", 1, NULL, 'n'}, {"size", 1, NULL, 'z'}, {"count", 1, NULL, 'c'},
		{"demo", 0, NULL, 'D'}, {"t0", 1, NULL, 't'}, {"usec", 0, NULL, 'u'},
		{"quiet", 0, NULL, 'q'}, {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *flows[GEN_MAX_FLOWS];
	unsigned nf = 0;
	uint64_t v;
	int c, demo = 0;

	memset(g, 0, sizeof(*g));
	g->duration = 1;
	g->seed = 1;
	g->t0_s = GEN_T0_S;
	g->size = 64;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'o': g->out = optarg; break;
		case 'u': g->usec = 1; break;
		case 'q': g->quiet = 1; break;
		case 'D': demo = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'f':
			if (nf == GEN_MAX_FLOWS)
				return fail("--flow", optarg, "too many flows");
			flows[nf++] = optarg;
			break;
		case 'd':
			if (set_real("--duration", optarg, 1e6, 1, &g->duration))
				return -EINVAL;
			break;
		case 'm':
			if (set_real("--malformed-frac", optarg, 1, 1, &g->malformed))
				return -EINVAL;
			break;
		case 's':
		case 'n':
		case 'c':
		case 't':
			if (set_uint(c == 's' ? "--seed" : c == 'n' ? "--distinct" : c == 'c' ?
				     "--count" : "--t0", optarg, ~0ull, c == 's' ? &g->seed :
				     c == 'n' ? &g->distinct : c == 'c' ? &g->count : &g->t0_s))
				return -EINVAL;
			break;
		case 'z':
			if (set_uint("--size", optarg, GEN_FRAME_MAX, &v))
				return -EINVAL;
			g->size = (unsigned)v;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || !g->out)
		return fail("arguments", optind != argc ? argv[optind] : "", "--out is required");
	if (demo) {
		nf = 0;
		for (unsigned i = 0; i < sizeof(demo_flows) / sizeof(demo_flows[0]); i++)
			flows[nf++] = demo_flows[i];
		g->duration = DEMO_DURATION;
		g->malformed = DEMO_MALFORMED;
	}
	if (g->distinct) {
		if (!g->count)
			g->count = g->distinct;
		return g->size < GEN_FRAME_MIN ? fail("--size", "", "below 60") : 0;
	}
	if (!nf)
		return fail("arguments", "", "give --flow, --distinct or --demo");
	for (unsigned i = 0; i < nf; i++)
		if (parse_flow(flows[i], i, g->seed, &g->flows[i]))
			return -EINVAL;
	g->nb_flows = nf;
	return 0;
}

static int out_open(struct gen_out *o, const struct gen_opts *g)
{
	memset(o, 0, sizeof(*o));
	o->usec = g->usec;
	o->malformed = g->malformed;
	prng_seed(&o->mr, g->seed, 0);
	o->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, g->usec ?
			PCAP_TSTAMP_PRECISION_MICRO : PCAP_TSTAMP_PRECISION_NANO);
	o->f = fopen(g->out, "wb");
	if (!o->dead || !o->f) {
		fprintf(stderr, "sl-gen: %s: %s\n", g->out, o->f ? "pcap" : strerror(errno));
		return -EIO;
	}
	setvbuf(o->f, NULL, _IOFBF, 1 << 20);
	o->dump = pcap_dump_fopen(o->dead, o->f);
	if (!o->dump) {
		fprintf(stderr, "sl-gen: %s: %s\n", g->out, pcap_geterr(o->dead));
		return -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct gen_opts g;
	struct gen_out o;
	int rc;

	if (parse_args(argc, argv, &g)) {
		fprintf(stderr, "sl-gen: see --help\n");
		return 1;
	}
	rc = out_open(&o, &g);
	if (!rc)
		rc = g.distinct ? run_distinct(&g, &o) : run_flows(&g, &o);
	if (o.dump) {
		pcap_dump_flush(o.dump);
		if (ferror(o.f) && !rc) {
			fprintf(stderr, "sl-gen: %s: write error\n", g.out);
			rc = -EIO;
		}
		pcap_dump_close(o.dump);
	} else if (o.f) {
		fclose(o.f);
	}
	if (o.dead)
		pcap_close(o.dead);
	if (!rc && !g.quiet)
		printf("sl-gen: %s: %llu frames, %llu bytes, %llu malformed\n", g.out,
		       (unsigned long long)o.frames, (unsigned long long)o.bytes,
		       (unsigned long long)o.bad);
	return rc ? 1 : 0;
}
