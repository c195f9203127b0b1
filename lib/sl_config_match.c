/* sl_config_match.c - a tenant's match: one block or a list of blocks of vlan, inner-vlan,
 * ingress port, src/dst prefixes (IPv4 or IPv6), proto and port ranges, each block checked
 * together (one address family, ports only with tcp or udp). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "sl_config_int.h"

enum { MF_VLAN, MF_INNER_VLAN, MF_PORT, MF_SRC, MF_DST, MF_PROTO, MF_SPORT, MF_DPORT, MF_COUNT };
static const char *const match_fields[MF_COUNT] = { "vlan", "inner-vlan", "port", "src", "dst",
	"proto", "src-port", "dst-port" };

#define IPPROTO_NR_ICMP 1
#define IPPROTO_NR_TCP 6
#define IPPROTO_NR_UDP 17
#define IPPROTO_NR_ICMPV6 58

/* "10.1.0.0/16", "2001:db8::/48", or a bare address (= /32 or /128); host bits must be 0. */
static int parse_prefix(struct cfg_ctx *x, yaml_node_t *n, const char *path, uint8_t *addr,
			uint8_t *len, uint8_t *family)
{
	const char *expect = "an IPv4 or IPv6 address or prefix such as 10.1.0.0/16 or "
			     "2001:db8::/48";
	const char *s = cfg_scalar(x, n, path, expect), *slash;
	char a[INET6_ADDRSTRLEN + 1], b[64], fixed[INET6_ADDRSTRLEN];
	uint8_t masked[16];
	uint64_t plen;
	unsigned max;
	size_t alen;
	int af;

	if (!s)
		return -EINVAL;
	cfg_show(b, sizeof(b), s);
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen >= sizeof(a))
		goto bad;
	memcpy(a, s, alen);
	a[alen] = 0;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, a, addr) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, a, addr) == 1)
		af = AF_INET6;
	else
		goto bad;
	max = af == AF_INET ? 32 : 128;
	plen = max;
	if (slash && (cfg_parse_uint(slash + 1, &plen) || plen > max)) {
		cfg_err(x, n, path, "bad prefix length in '%s': expected /0 to /%u for %s", b, max,
			af == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	memcpy(masked, addr, 16);
	for (unsigned i = 0; i < 16; i++) {
		uint64_t bits = plen > i * 8 ? plen - i * 8 : 0;

		if (bits < 8)
			masked[i] &= (uint8_t)(0xff00u >> bits);
	}
	if (memcmp(masked, addr, 16)) {
		inet_ntop(af, masked, fixed, sizeof(fixed));
		cfg_err(x, n, path, "host bits set in '%s'; did you mean %s/%u?", b, fixed,
			(unsigned)plen);
		return -EINVAL;
	}
	*len = (uint8_t)plen;
	*family = af == AF_INET ? 4 : 6;
	return 0;
bad:
	cfg_err(x, n, path, "expected %s, got '%s'", expect, b);
	return -EINVAL;
}

/* "N" or "N-M", 0..65535, N <= M */
static int parse_ports(struct cfg_ctx *x, yaml_node_t *n, const char *path, uint16_t *lo,
		       uint16_t *hi)
{
	const char *expect = "a port N or a range N-M, 0..65535";
	const char *s = cfg_scalar(x, n, path, expect), *dash;
	char first[24], b[48];
	uint64_t a, z;
	size_t l;

	if (!s)
		return -EINVAL;
	dash = strchr(s, '-');
	l = dash ? (size_t)(dash - s) : strlen(s);
	if (l >= sizeof(first))
		goto bad;
	memcpy(first, s, l);
	first[l] = 0;
	if (cfg_parse_uint(first, &a) || (dash && cfg_parse_uint(dash + 1, &z)))
		goto bad;
	if (!dash)
		z = a;
	if (a > 65535 || z > 65535) {
		cfg_err(x, n, path, "port %llu is out of range 0..65535",
			(unsigned long long)(a > 65535 ? a : z));
		return -EINVAL;
	}
	if (a > z) {
		cfg_err(x, n, path, "port range %llu-%llu is reversed; write %llu-%llu",
			(unsigned long long)a, (unsigned long long)z, (unsigned long long)z,
			(unsigned long long)a);
		return -EINVAL;
	}
	*lo = (uint16_t)a;
	*hi = (uint16_t)z;
	return 0;
bad:
	cfg_err(x, n, path, "expected %s, got '%s'", expect, cfg_show(b, sizeof(b), s));
	return -EINVAL;
}

/* tcp | udp | icmp | 0..255; *icmp is set for the name "icmp" (1 or 58 by family later) */
static int parse_proto(struct cfg_ctx *x, yaml_node_t *n, const char *path, uint8_t *proto,
		       int *icmp)
{
	const char *expect = "tcp, udp, icmp or a protocol number 0..255";
	const char *s = cfg_scalar(x, n, path, expect);
	char b[48];
	uint64_t v;

	if (!s)
		return -EINVAL;
	*icmp = !strcmp(s, "icmp");
	if (!strcmp(s, "tcp"))
		v = IPPROTO_NR_TCP;
	else if (!strcmp(s, "udp"))
		v = IPPROTO_NR_UDP;
	else if (*icmp)
		v = IPPROTO_NR_ICMP;
	else if (cfg_parse_uint(s, &v) || v > 255) {
		cfg_err(x, n, path, "expected %s, got '%s'", expect, cfg_show(b, sizeof(b), s));
		return -EINVAL;
	}
	*proto = (uint8_t)v;
	return 0;
}

static void match_addrs(struct cfg_ctx *x, yaml_node_t **v, const char *path,
			struct sl_cfg_match *m)
{
	char fp[CFG_PATH_LEN];
	uint8_t fs = 0, fd = 0;

	cfg_path(fp, path, "src");
	if (v[MF_SRC] && !parse_prefix(x, v[MF_SRC], fp, m->src, &m->src_len, &fs))
		m->fields |= SL_M_SRC;
	cfg_path(fp, path, "dst");
	if (v[MF_DST] && !parse_prefix(x, v[MF_DST], fp, m->dst, &m->dst_len, &fd))
		m->fields |= SL_M_DST;
	if (fs && fd && fs != fd)
		cfg_err(x, v[MF_DST], fp, "dst is IPv%u but src is IPv%u; a match block has one "
			"address family (for both, give a list of blocks: match: [{...}, {...}])",
			fd, fs);
	m->family = fs ? fs : fd;
}

static void match_ports(struct cfg_ctx *x, yaml_node_t **v, const char *path,
			struct sl_cfg_match *m)
{
	static const unsigned f[2] = { MF_SPORT, MF_DPORT };
	static const uint32_t bit[2] = { SL_M_SPORT, SL_M_DPORT };
	uint16_t *lo[2] = { &m->sport_lo, &m->dport_lo }, *hi[2] = { &m->sport_hi, &m->dport_hi };
	char fp[CFG_PATH_LEN], b[48];

	for (unsigned i = 0; i < 2; i++) {
		yaml_node_t *n = v[f[i]];

		if (!n)
			continue;
		cfg_path(fp, path, match_fields[f[i]]);
		if ((m->fields & SL_M_PROTO) && m->proto != IPPROTO_NR_TCP &&
		    m->proto != IPPROTO_NR_UDP)
			cfg_err(x, n, fp, "ports need proto tcp or udp (proto is '%s')", cfg_show(b,
				sizeof(b), (const char *)v[MF_PROTO]->data.scalar.value));
		else if (!parse_ports(x, n, fp, lo[i], hi[i]))
			m->fields |= bit[i];
	}
}

/* vlan, inner-vlan (0..4095) and port (0..65535): plain numbers */
static void match_ids(struct cfg_ctx *x, yaml_node_t **v, const char *path,
		      struct sl_cfg_match *m)
{
	static const unsigned f[3] = { MF_VLAN, MF_INNER_VLAN, MF_PORT };
	static const uint32_t bit[3] = { SL_M_VLAN, SL_M_INNER_VLAN, SL_M_PORT };
	static const uint64_t hi[3] = { 4095, 4095, 65535 };
	uint16_t *out[3] = { &m->vlan, &m->inner_vlan, &m->port };
	char fp[CFG_PATH_LEN];
	uint64_t val;

	for (unsigned i = 0; i < 3; i++) {
		cfg_path(fp, path, match_fields[f[i]]);
		if (v[f[i]] && !cfg_uint(x, v[f[i]], fp, 0, hi[i], &val)) {
			*out[i] = (uint16_t)val;
			m->fields |= bit[i];
		}
	}
}

/*
 * One block. proto: icmp is stored as 1 (ICMPv4) unless src/dst are IPv6, then 58 (ICMPv6).
 * Without any address the family is unknown and 1 is kept: such a block matches protocol 1
 * (ICMPv4's number) in frames of either family.
 */
static void match_block(struct cfg_ctx *x, yaml_node_t *n, const char *path,
			struct sl_cfg_match *m)
{
	yaml_node_t *k[MF_COUNT], *v[MF_COUNT];
	char fp[CFG_PATH_LEN];
	int icmp = 0;

	memset(m, 0, sizeof(*m));
	m->line = (unsigned)n->start_mark.line + 1;
	if (cfg_is_null(n)) {
		cfg_err(x, n, path, "empty match: write 'match: {}' to match all traffic, or give "
			"some of vlan, inner-vlan, port, src, dst, proto, src-port, dst-port");
		return;
	}
	if (cfg_fields(x, n, path, "a mapping of match fields, or a list of them (write {} to "
		       "match all traffic)", match_fields, MF_COUNT, k, v))
		return;
	match_ids(x, v, path, m);
	match_addrs(x, v, path, m);
	cfg_path(fp, path, "proto");
	if (v[MF_PROTO] && !parse_proto(x, v[MF_PROTO], fp, &m->proto, &icmp)) {
		m->fields |= SL_M_PROTO;
		if (icmp && m->family == 6)
			m->proto = IPPROTO_NR_ICMPV6;
	}
	match_ports(x, v, path, m);
}

/* Room for one more block in x->c->matches (doubling); NULL when out of memory. */
static struct sl_cfg_match *match_add(struct cfg_ctx *x)
{
	struct sl_config *c = x->c;

	if (c->nb_matches == x->cap_matches) {
		unsigned cap = x->cap_matches ? 2 * x->cap_matches : 64;
		struct sl_cfg_match *m = realloc(c->matches, cap * sizeof(*m));

		if (!m) {
			x->nomem = 1;
			return NULL;
		}
		c->matches = m;
		x->cap_matches = cap;
	}
	return &c->matches[c->nb_matches++];
}

void cfg_match(struct cfg_ctx *x, yaml_node_t *n, const char *path, struct sl_cfg_tenant *t)
{
	char bp[CFG_PATH_LEN];
	struct sl_cfg_match *m;

	t->match = x->c->nb_matches;
	t->nb_match = 0;
	if (!n || n->type != YAML_SEQUENCE_NODE) {	/* one block; none: match everything */
		m = match_add(x);
		if (!m)
			return;
		if (n) {
			match_block(x, n, path, m);
		} else {
			memset(m, 0, sizeof(*m));
			m->line = t->line;
		}
		t->nb_match = 1;
		return;
	}
	if (n->data.sequence.items.top == n->data.sequence.items.start) {
		cfg_err(x, n, path, "empty list: give at least one match block, or write "
			"'match: {}' to match all traffic");
		return;
	}
	if (n->data.sequence.items.top - n->data.sequence.items.start > CFG_MAX_BLOCKS) {
		cfg_err(x, n, path, "too many match blocks (%ld; at most %d per tenant)",
			(long)(n->data.sequence.items.top - n->data.sequence.items.start),
			CFG_MAX_BLOCKS);
		return;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		snprintf(bp, sizeof(bp), "%s[%u]", path, t->nb_match);
		m = match_add(x);
		if (!m)
			return;
		match_block(x, cfg_node(x, *it), bp, m);
		t->nb_match++;
	}
}
