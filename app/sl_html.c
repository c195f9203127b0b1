/* sl_html.c - sluice-replay --html (sl_html.h): counters sampled on a capture-time grid,
 * per-key exceeding bytes from the per-frame decisions, and the page (inline CSS and SVG). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "sl_html.h"
#include "sl_parse.h"

/* Samples: at most HTML_MAX_POINTS on the grid (halved by dropping every other one when full,
 * so 200..400 over a whole capture), fewer when the policy has so many tenants that they
 * would take more than HTML_SAMPLE_BUDGET bytes; the grid starts at HTML_BASE_IV_NS. */
#define HTML_SAMPLE_BUDGET (64ull << 20)
#define HTML_MAX_POINTS 400u
#define HTML_MIN_POINTS 16u
#define HTML_BASE_IV_NS 1000ull
/* Per-key exceeding bytes of dedicated tenants: at most HTML_MAX_KEYS keys. */
#define HTML_MAX_KEYS 200000u
#define HTML_MAP_SLOTS (1u << 18)	/* 16 MB */
#define HTML_TOP_KEYS 10u
/* Tenants with their own plots (the most offered bytes); the others are in the tables. */
#define HTML_MAX_PLOTTED 64u

/* Cumulative values kept per sample: the whole capture's, then each tenant's. */
enum { G_BYTES, G_PKTS, G_DROP_B, G_DROP_P, G_UNM_B, G_UNM_P, G_MAL_B, G_MAL_P, G_N };
enum {
	T_BYTES, T_PKTS, T_CONF_B, T_CONF_P, T_EXC_B, T_EXC_P,
	T_DROP_B, T_DROP_P, T_MARK_B, T_MARK_P,	/* from the verdicts (sl_html_frames) */
	T_SHAPED_B, T_SHAPED_P, T_SHAPE_DROPS, T_KEYS, T_KEYREF, T_FLOWREF, T_N
};

/* One key of a dedicated tenant that exceeded (or waited) at least once: one cache line. */
struct hent {
	uint8_t src[16], dst[16];
	uint32_t tenant;
	uint16_t sport, dport;
	uint8_t proto, fam, used, pad;
	uint32_t ex_p;			/* frames dropped or marked (saturates) */
	uint64_t ex_b;			/* their bytes */
	uint64_t wait_b;		/* exceed: shape: bytes forwarded after a wait */
};

_Static_assert(sizeof(struct hent) == 64, "a key map entry is a cache line");

struct sl_html {
	const struct sl_config *cfg;
	struct sl_engine *e;
	struct sl_html_meta meta;
	unsigned nt;
	size_t stride;			/* values per sample: G_N + nt * T_N */
	uint64_t *acc;			/* per tenant: drop bytes, drop pkts, mark bytes, mark pkts */
	uint8_t *ded;			/* per tenant: 1 + key kind when dedicated, else 0 */
	/*
	 * Samples: row i (v[i * stride ...]) holds the counts of the frames before any time in
	 * (lo[i], hi[i]]: read between two groups of frames, at times lo[i] and hi[i]. Each
	 * row's range holds at least one point of the grid t0 + k * iv, no two rows the same.
	 */
	unsigned cap, nr;
	uint64_t *lo, *hi, *v;
	uint64_t t0, iv, prev;
	int started;
	/* the points plotted (sl_html_write): times lt[j] (ns), counts of row lr[j] */
	unsigned n;
	uint64_t *lt;
	unsigned *lr;
	/* the key map: open addressing, allocated at the first key */
	struct hent *map;
	size_t map_n;
	int map_failed;
	uint64_t *ovf;			/* per tenant: exceeding frames, bytes not in the map */
	struct sl_stats last;		/* the final counters */
	int have_last;
	int plottable;			/* the frames span more than one timestamp */
};

struct sl_html *sl_html_create(const struct sl_config *cfg, struct sl_engine *e,
			       const struct sl_html_meta *meta)
{
	struct sl_html *h = calloc(1, sizeof(*h));
	uint64_t pts;

	if (!h)
		return NULL;
	h->cfg = cfg;
	h->e = e;
	h->meta = *meta;
	h->nt = cfg->nb_tenants;
	h->stride = G_N + (size_t)h->nt * T_N;
	pts = HTML_SAMPLE_BUDGET / (h->stride * sizeof(uint64_t));
	pts = pts > HTML_MAX_POINTS ? HTML_MAX_POINTS : pts < HTML_MIN_POINTS ? HTML_MIN_POINTS : pts;
	h->cap = (unsigned)pts;
	h->iv = HTML_BASE_IV_NS;
	h->lo = calloc(h->cap + 1, sizeof(*h->lo));
	h->hi = calloc(h->cap + 1, sizeof(*h->hi));
	h->lt = calloc(2 * (size_t)h->cap + 2, sizeof(*h->lt));
	h->lr = calloc(2 * (size_t)h->cap + 2, sizeof(*h->lr));
	h->v = calloc((h->cap + 1) * h->stride, sizeof(*h->v));
	h->acc = calloc((size_t)h->nt * 4 + 1, sizeof(*h->acc));
	h->ovf = calloc((size_t)h->nt * 2 + 1, sizeof(*h->ovf));
	h->ded = calloc(h->nt + 1, 1);
	if (!h->lo || !h->hi || !h->lt || !h->lr || !h->v || !h->acc || !h->ovf || !h->ded) {
		sl_html_free(h);
		return NULL;
	}
	for (unsigned i = 0; i < h->nt; i++) {
		const struct sl_cfg_profile *p = &cfg->profiles[cfg->tenants[i].profile];

		h->ded[i] = p->mode == SL_MODE_DEDICATED ? (uint8_t)(1 + p->key) : 0;
	}
	return h;
}

void sl_html_free(struct sl_html *h)
{
	if (!h)
		return;
	free(h->lo);
	free(h->hi);
	free(h->lt);
	free(h->lr);
	free(h->v);
	free(h->acc);
	free(h->ovf);
	free(h->ded);
	if (h->map)
		munmap(h->map, HTML_MAP_SLOTS * sizeof(*h->map));
	if (h->have_last)
		sl_stats_free(&h->last);
	free(h);
}

/* ------------------------------------------------------------------ sampling */

static uint64_t *row_of(const struct sl_html *h, unsigned i)
{
	return h->v + (size_t)i * h->stride;
}

/* The engine's counters and ours now into row; keep: the stats go to h->last. */
static int read_row(struct sl_html *h, uint64_t *row, int keep)
{
	struct sl_stats st;

	if (sl_engine_stats(h->e, &st))
		return -ENOMEM;
	row[G_BYTES] = st.total.bytes;
	row[G_PKTS] = st.total.packets;
	row[G_DROP_B] = st.dropped.bytes;
	row[G_DROP_P] = st.dropped.packets;
	row[G_UNM_B] = st.unmatched.bytes;
	row[G_UNM_P] = st.unmatched.packets;
	row[G_MAL_B] = st.malformed.bytes;
	row[G_MAL_P] = st.malformed.packets;
	for (unsigned t = 0; t < h->nt; t++) {
		uint64_t *r = row + G_N + (size_t)t * T_N;
		const uint64_t *a = h->acc + 4 * (size_t)t;
		const struct sl_tenant_stats *s;

		memset(r, 0, T_N * sizeof(*r));
		r[T_DROP_B] = a[0];
		r[T_DROP_P] = a[1];
		r[T_MARK_B] = a[2];
		r[T_MARK_P] = a[3];
		if (t >= st.nb_tenants)
			continue;
		s = &st.t[t];
		r[T_BYTES] = s->c.bytes;
		r[T_PKTS] = s->c.packets;
		r[T_CONF_B] = s->c.conform_bytes;
		r[T_CONF_P] = s->c.conform_packets;
		r[T_EXC_B] = s->c.exceed_bytes;
		r[T_EXC_P] = s->c.exceed_packets;
		r[T_SHAPED_B] = s->c.shaped_bytes;
		r[T_SHAPED_P] = s->c.shaped_packets;
		r[T_SHAPE_DROPS] = s->c.shape_drops;
		r[T_KEYS] = s->keys;
		r[T_KEYREF] = s->c.table_full + s->c.quota_full;
		r[T_FLOWREF] = s->c.flow_refused;
	}
	if (keep) {
		if (h->have_last)
			sl_stats_free(&h->last);
		h->last = st;
		h->have_last = 1;
	} else {
		sl_stats_free(&st);
	}
	return 0;
}

/* The grid (t0 + k * iv) point just above x, and the one at or below it (x >= t0). */
static uint64_t grid_above(const struct sl_html *h, uint64_t x)
{
	return h->t0 + ((x - h->t0) / h->iv + 1) * h->iv;
}

static uint64_t grid_floor(const struct sl_html *h, uint64_t x)
{
	return h->t0 + (x - h->t0) / h->iv * h->iv;
}

/* Does row i's range (lo, hi] hold a grid point? */
static int on_grid(const struct sl_html *h, unsigned i)
{
	return h->hi[i] >= h->t0 && grid_above(h, h->lo[i] < h->t0 ? h->t0 : h->lo[i]) <= h->hi[i];
}

/* Twice the interval: keep the rows whose range holds a point of the coarser grid. */
static void compact(struct sl_html *h)
{
	unsigned k = 0;

	h->iv *= 2;
	for (unsigned i = 0; i < h->nr; i++) {
		if (i && !on_grid(h, i))	/* row 0 holds t0, on every grid */
			continue;
		if (k != i) {
			h->lo[k] = h->lo[i];
			h->hi[k] = h->hi[i];
			memcpy(row_of(h, k), row_of(h, i), h->stride * sizeof(uint64_t));
		}
		k++;
	}
	h->nr = k;
}

int sl_html_tick(struct sl_html *h, uint64_t now)
{
	if (!h->started) {
		/* the first group: nothing counted yet, row 0 is all zero, at t0 */
		h->started = 1;
		h->t0 = h->prev = now;
		h->lo[0] = h->hi[0] = now;
		h->nr = 1;
		return 0;
	}
	if (now < h->prev)	/* a capture out of time order: its clock does not go back */
		now = h->prev;
	/* every frame counted so far is at or before prev, the next ones at or after now:
	 * a grid point in (prev, now] is due a sample */
	if (now > h->prev && grid_above(h, h->prev) <= now) {
		if (h->nr == h->cap) {
			while (h->nr == h->cap)
				compact(h);
			if (grid_above(h, h->prev) > now)
				goto out;	/* not due on the coarser grid */
		}
		if (read_row(h, row_of(h, h->nr), 0))
			return -ENOMEM;
		h->lo[h->nr] = h->prev;
		h->hi[h->nr++] = now;
	}
out:
	h->prev = now;
	return 0;
}

/*
 * The points plotted: each row at the grid points its range holds (the first and the last
 * of them: between them no frame, a rate of zero), then the last row at end (after the last
 * frame). A last interval shorter than half the others is merged into the one before: no
 * spike from a sliver of time.
 */
static void points(struct sl_html *h, uint64_t end)
{
	h->n = 0;
	for (unsigned i = 0; i < h->nr; i++) {
		uint64_t a, b;

		if (!i) {
			h->lt[h->n] = h->t0;
			h->lr[h->n++] = 0;
			continue;
		}
		if (!on_grid(h, i))
			continue;
		a = grid_above(h, h->lo[i]);
		b = grid_floor(h, h->hi[i]);
		h->lt[h->n] = a;
		h->lr[h->n++] = i;
		if (b > a) {
			h->lt[h->n] = b;
			h->lr[h->n++] = i;
		}
	}
	while (h->n >= 2 && end - h->lt[h->n - 1] < h->iv / 2)
		h->n--;
	h->lt[h->n] = end;
	h->lr[h->n++] = h->nr;
}

/* ------------------------------------------------------------------ keys */

static uint64_t key_hash(const struct hent *k)
{
	uint64_t w[5], x = k->tenant * 0x9e3779b97f4a7c15ull;

	memcpy(w, k->src, 16);
	memcpy(w + 2, k->dst, 16);
	w[4] = (uint64_t)k->sport << 32 | (uint64_t)k->dport << 16 | (uint64_t)k->proto << 8 |
	       k->fam;
	for (unsigned i = 0; i < 5; i++) {
		x ^= w[i];
		x *= 0xff51afd7ed558ccdull;
		x ^= x >> 33;
	}
	return x;
}

static int key_eq(const struct hent *a, const struct hent *b)
{
	return a->tenant == b->tenant && a->sport == b->sport && a->dport == b->dport &&
	       a->proto == b->proto && a->fam == b->fam && !memcmp(a->src, b->src, 16) &&
	       !memcmp(a->dst, b->dst, 16);
}

/* The key of a frame of dedicated tenant t, as the engine builds it (no VLAN). */
static void key_of(const struct sl_html *h, uint32_t t, const uint8_t *data, uint32_t caplen,
		   struct hent *k)
{
	struct sl_pkt p;

	memset(k, 0, sizeof(*k));
	k->tenant = t;
	if (sl_parse(data, caplen, &p) == 0 && (p.flags & (SL_PKT_IPV4 | SL_PKT_IPV6))) {
		enum sl_keykind kind = (enum sl_keykind)(h->ded[t] - 1);

		k->fam = p.flags & (SL_PKT_IPV4 | SL_PKT_IPV6);
		if (kind != SL_KEY_DST_IP)
			memcpy(k->src, p.src, 16);
		if (kind != SL_KEY_SRC_IP)
			memcpy(k->dst, p.dst, 16);
		if (kind == SL_KEY_5TUPLE) {
			k->proto = p.proto;
			k->sport = p.sport;
			k->dport = p.dport;
		}
	}
}

/* The key map, zero: anonymous memory, on huge pages where it can (fewer TLB misses). */
static void map_create(struct sl_html *h)
{
	void *p = mmap(NULL, HTML_MAP_SLOTS * sizeof(*h->map), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		h->map_failed = 1;
		return;
	}
	madvise(p, HTML_MAP_SLOTS * sizeof(*h->map), MADV_HUGEPAGE);
	h->map = p;
}

/* A frame of len bytes of key k (hash hs) exceeded (ex) or waited (!ex): count it. */
static void count_key(struct sl_html *h, const struct hent *k, uint64_t hs, uint32_t len, int ex)
{
	size_t i;

	for (i = hs & (HTML_MAP_SLOTS - 1); h->map[i].used; i = (i + 1) & (HTML_MAP_SLOTS - 1))
		if (key_eq(&h->map[i], k))
			break;
	if (!h->map[i].used) {
		if (h->map_n >= HTML_MAX_KEYS) {
			h->ovf[2 * k->tenant]++;
			h->ovf[2 * k->tenant + 1] += len;
			return;
		}
		h->map[i] = *k;
		h->map[i].used = 1;
		h->map_n++;
	}
	if (ex) {
		h->map[i].ex_b += len;
		h->map[i].ex_p += h->map[i].ex_p != UINT32_MAX;
	} else {
		h->map[i].wait_b += len;
	}
}

void sl_html_frames(struct sl_html *h, uint8_t *const data[], const uint32_t caplen[],
		    const uint32_t len[], unsigned n, uint64_t now, const uint8_t verdict[],
		    const struct sl_decision dec[])
{
	/* frames of dedicated tenants to count per key: their keys are built and their map
	 * slots loaded first, then counted (a flood of new keys misses the cache per frame) */
	struct hent k[SL_BURST_MAX];
	uint64_t hs[SL_BURST_MAX];
	uint32_t ln[SL_BURST_MAX];
	uint8_t ex[SL_BURST_MAX];
	unsigned nk = 0;

	for (unsigned i = 0; i < n && i < SL_BURST_MAX; i++) {
		uint32_t t = dec[i].tenant;
		uint64_t *a;
		int drop, mark, wait;

		if (t >= h->nt)
			continue;
		a = h->acc + 4 * (size_t)t;
		drop = verdict[i] != SL_V_FORWARD;
		mark = !drop && dec[i].mark;
		wait = !drop && dec[i].depart > now;
		if (drop) {
			a[0] += len[i];
			a[1]++;
		} else if (mark) {
			a[2] += len[i];
			a[3]++;
		}
		if (!h->ded[t] || !(drop || mark || wait))
			continue;
		if (!h->map && !h->map_failed)
			map_create(h);
		if (!h->map) {
			h->ovf[2 * t]++;
			h->ovf[2 * t + 1] += len[i];
			continue;
		}
		key_of(h, t, data[i], caplen[i], &k[nk]);
		hs[nk] = key_hash(&k[nk]);
		ln[nk] = len[i];
		ex[nk] = (uint8_t)(drop || mark);
		__builtin_prefetch(&h->map[hs[nk] & (HTML_MAP_SLOTS - 1)], 1);
		nk++;
	}
	for (unsigned j = 0; j < nk; j++)
		count_key(h, &k[j], hs[j], ln[j], ex[j]);
}

/* ------------------------------------------------------------------ formatting */

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* v with an SI prefix (k, M, G, ...) and unit: "12.5 Mbit/s". */
static const char *si(char *b, size_t n, double v, const char *unit)
{
	static const char *const pre[] = {"", "k", "M", "G", "T", "P", "E"};
	unsigned k = 0;

	while (fabs(v) >= 999.95 && k < 6) {
		v /= 1000;
		k++;
	}
	snprintf(b, n, "%.4g%s%s%s", v, *unit || k ? " " : "", pre[k], unit);
	return b;
}

/* Bytes as the policy file writes them (x1000): "1.25 MB". */
static const char *bytes_str(char *b, size_t n, double v)
{
	static const char *const u[] = {"B", "KB", "MB", "GB", "TB", "PB"};
	unsigned k = 0;

	while (v >= 999.95 && k < 5) {
		v /= 1000;
		k++;
	}
	snprintf(b, n, "%.4g %s", v, u[k]);
	return b;
}

/* A time in the unit that suits it: "8.192 ms". */
static const char *time_str(char *b, size_t n, uint64_t ns)
{
	if (ns >= 1000000000ull)
		snprintf(b, n, "%.4g s", (double)ns / 1e9);
	else if (ns >= 1000000ull)
		snprintf(b, n, "%.4g ms", (double)ns / 1e6);
	else
		snprintf(b, n, "%.4g &micro;s", (double)ns / 1e3);
	return b;
}

static const char *dur_str(char *b, size_t n, uint64_t ns)
{
	static const struct { uint64_t ns; const char *u; } d[] = {
		{86400000000000ull, "d"}, {3600000000000ull, "h"}, {60000000000ull, "m"},
		{1000000000ull, "s"}, {1000000ull, "ms"}, {1000ull, "us"}};

	for (unsigned i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (ns >= d[i].ns && ns % d[i].ns == 0) {
			snprintf(b, n, "%llu%s", (unsigned long long)(ns / d[i].ns), d[i].u);
			return b;
		}
	return time_str(b, n, ns);
}

static const char *pct(char *b, size_t n, double part, double whole)
{
	if (whole <= 0)
		snprintf(b, n, "&ndash;");
	else if (part <= 0)
		snprintf(b, n, "0%%");
	else if (part * 1000 < whole)
		snprintf(b, n, "&lt;0.1%%");
	else
		snprintf(b, n, "%.1f%%", part * 100 / whole);
	return b;
}

/* A bucket's rate in the profile's unit ("8 Mbit/s", "2 kpkt/s") and its size. */
static const char *rate_str(char *b, size_t n, const struct sl_cfg_bucket *bk, enum sl_unit u)
{
	return si(b, n, (double)bk->amount * 1e9 / (double)bk->per_ns,
		  u == SL_UNIT_BITS ? "bit/s" : "pkt/s");
}

static const char *size_str(char *b, size_t n, uint64_t tokens, enum sl_unit u)
{
	if (u == SL_UNIT_BITS)
		return bytes_str(b, n, (double)tokens / 8);
	snprintf(b, n, "%llu pkt", (unsigned long long)tokens);
	return b;
}

static const char *addr_str(char *b, size_t n, unsigned fam, const uint8_t *a)
{
	if (!inet_ntop(fam == SL_PKT_IPV6 ? AF_INET6 : AF_INET, a, b, (socklen_t)n))
		snprintf(b, n, "?");
	return b;
}

static const char *proto_name(unsigned p)
{
	return p == 6 ? "tcp" : p == 17 ? "udp" : p == 1 ? "icmp" : p == 58 ? "icmpv6" : NULL;
}

static void key_str(FILE *f, const struct hent *k, enum sl_keykind kind)
{
	char a[64], b[64];
	const char *pn;

	if (!k->fam) {
		fputs("(not IP)", f);
		return;
	}
	if (kind == SL_KEY_SRC_IP) {
		fprintf(f, "%s", addr_str(a, sizeof(a), k->fam, k->src));
		return;
	}
	if (kind == SL_KEY_DST_IP) {
		fprintf(f, "%s", addr_str(a, sizeof(a), k->fam, k->dst));
		return;
	}
	addr_str(a, sizeof(a), k->fam, k->src);
	addr_str(b, sizeof(b), k->fam, k->dst);
	pn = proto_name(k->proto);
	if (k->fam == SL_PKT_IPV6)
		fprintf(f, "[%s]:%u &rarr; [%s]:%u", a, k->sport, b, k->dport);
	else
		fprintf(f, "%s:%u &rarr; %s:%u", a, k->sport, b, k->dport);
	if (pn)
		fprintf(f, " %s", pn);
	else
		fprintf(f, " proto %u", k->proto);
}

/* A match block as `sluice --check` describes it. */
static void match_str(FILE *f, const struct sl_cfg_match *m)
{
	char a[64];
	const char *pn;
	int any = 0;

#define SEP() (any++ ? " " : "")
	if (!m->fields)
		fputs("everything", f);
	if (m->fields & SL_M_PORT)
		fprintf(f, "%sport %u", SEP(), m->port);
	if (m->fields & SL_M_VLAN)
		fprintf(f, "%svlan %u", SEP(), m->vlan);
	if (m->fields & SL_M_INNER_VLAN)
		fprintf(f, "%sinner-vlan %u", SEP(), m->inner_vlan);
	if (m->fields & SL_M_SRC)
		fprintf(f, "%ssrc %s/%u", SEP(),
			addr_str(a, sizeof(a), m->family == 6 ? SL_PKT_IPV6 : SL_PKT_IPV4, m->src),
			m->src_len);
	if (m->fields & SL_M_DST)
		fprintf(f, "%sdst %s/%u", SEP(),
			addr_str(a, sizeof(a), m->family == 6 ? SL_PKT_IPV6 : SL_PKT_IPV4, m->dst),
			m->dst_len);
	if (m->fields & SL_M_PROTO) {
		pn = proto_name(m->proto);
		if (pn)
			fprintf(f, "%sproto %s", SEP(), pn);
		else
			fprintf(f, "%sproto %u", SEP(), m->proto);
	}
	if (m->fields & SL_M_SPORT)
		fprintf(f, m->sport_lo == m->sport_hi ? "%ssrc-port %u" : "%ssrc-port %u-%u",
			SEP(), m->sport_lo, m->sport_hi);
	if (m->fields & SL_M_DPORT)
		fprintf(f, m->dport_lo == m->dport_hi ? "%sdst-port %u" : "%sdst-port %u-%u",
			SEP(), m->dport_lo, m->dport_hi);
#undef SEP
}

/* ------------------------------------------------------------------ plots */

/* What a series shows: a cumulative value of tenant t (or of the whole capture). */
enum q {
	Q_OFFERED, Q_CONF, Q_DROP, Q_MARK, Q_PASS, Q_SHAPED, Q_SHAPE_DROP, Q_OTHER_DROP,
	Q_KEYREF, Q_FLOWREF, Q_KEYS,
	QG_OFFERED, QG_FWD, QG_DROP, QG_UNM, QG_MAL
};

struct ser {
	const char *name;
	const char *color;
	enum q q;
};

static double cum(const struct sl_html *h, unsigned i, int t, enum q q, int bytes)
{
	const uint64_t *g = row_of(h, h->lr[i]), *r = g + G_N + (size_t)(t < 0 ? 0 : t) * T_N;
	int b = bytes ? 0 : 1;	/* the _B fields are followed by their _P fields */
	double x;

	switch (q) {
	case Q_OFFERED: return (double)r[T_BYTES + b];
	case Q_CONF: return (double)r[T_CONF_B + b];
	case Q_DROP: return (double)r[T_DROP_B + b];
	case Q_MARK: return (double)r[T_MARK_B + b];
	case Q_PASS:
		x = (double)r[T_EXC_B + b] - (double)r[T_DROP_B + b] - (double)r[T_MARK_B + b];
		return x > 0 ? x : 0;
	case Q_SHAPED: return (double)r[T_SHAPED_B + b];
	case Q_SHAPE_DROP: return (double)r[T_SHAPE_DROPS];
	case Q_OTHER_DROP:
		x = (double)r[T_DROP_P] - (double)r[T_SHAPE_DROPS];
		return x > 0 ? x : 0;
	case Q_KEYREF: return (double)r[T_KEYREF];
	case Q_FLOWREF: return (double)r[T_FLOWREF];
	case Q_KEYS: return (double)r[T_KEYS];
	case QG_OFFERED: return (double)g[G_BYTES + b];
	case QG_FWD: return (double)g[G_BYTES + b] - (double)g[G_DROP_B + b];
	case QG_DROP: return (double)g[G_DROP_B + b];
	case QG_UNM: return (double)g[G_UNM_B + b];
	case QG_MAL: return (double)g[G_MAL_B + b];
	}
	return 0;
}

/* The last sample's value (the whole capture's count). */
static double total(const struct sl_html *h, int t, enum q q, int bytes)
{
	return h->n ? cum(h, h->n - 1, t, q, bytes) : 0;
}

/* A round step for an axis of span v in about n steps: 1, 2 or 5 x 10^k. */
static double nice_step(double v, double n)
{
	double raw = v / n, mag = pow(10, floor(log10(raw))), r = raw / mag;

	return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

/* The plots' viewBox: full width, and half width (beside a table). */
#define PW_FULL 960.0
#define PH_FULL 220.0
#define PW_HALF 520.0
#define PH_HALF 260.0
#define ML 70.0		/* margins: left (y labels), right, top, bottom (x labels) */
#define MR 14.0
#define MT 10.0
#define MB 30.0

struct axes {
	double w, h;		/* viewBox */
	double xmax, ymax;
};

static double px(const struct axes *a, double x)
{
	return ML + x / a->xmax * (a->w - ML - MR);
}

static double py(const struct axes *a, double y)
{
	double v = MT + (a->h - MT - MB) * (1 - y / a->ymax);

	return v < MT ? MT : v;
}

/* Seconds from the capture's start of sample i. */
static double xs(const struct sl_html *h, unsigned i)
{
	return (double)(h->lt[i] - h->t0) / 1e9;
}

static void grid(FILE *f, const struct axes *a, const char *yunit)
{
	double ys = nice_step(a->ymax, 4), xst = nice_step(a->xmax, a->w / 120);
	char b[64];

	fprintf(f, "<g class=\"grid\">");
	for (double y = 0; y <= a->ymax * 1.0001; y += ys) {
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", ML, py(a, y),
			a->w - MR, py(a, y));
		fprintf(f, "<text class=\"yl\" x=\"%.1f\" y=\"%.1f\">%s</text>", ML - 6,
			py(a, y) + 4, si(b, sizeof(b), y, yunit));
	}
	for (double x = 0; x <= a->xmax * 1.0001; x += xst) {
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", px(a, x), MT,
			px(a, x), a->h - MB);
		fprintf(f, "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">%.4g s</text>", px(a, x),
			a->h - MB + 16, x);
	}
	fprintf(f, "</g><rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
		ML, MT, a->w - ML - MR, a->h - MT - MB);
}

/* One coordinate in tenths of a pixel (so that equal heights compare equal). */
static long tenths(double v)
{
	return (long)(v * 10 + 0.5);
}

/*
 * A plot of tenant t (-1: the whole capture): rates (per second of capture time, from the
 * counts' deltas between samples, drawn as steps over each interval), or with level the
 * values at each sample (live keys) drawn as a line. mult: 8 for bit/s from bytes. ref > 0:
 * a dashed line at that value (a limit). Series whose count stays zero are left out, unless
 * keep (a bit per series) says otherwise. Returns the number of series drawn.
 */
static unsigned plot(FILE *f, const struct sl_html *h, int t, const char *title,
		     const char *yunit, const struct ser *s, unsigned ns, unsigned keep, int bytes,
		     int level, double ref, const char *reflabel)
{
	unsigned n = h->n, m = level ? n : n - 1, shown = 0;
	double mult = bytes && !level ? 8 : 1, ymax = 0;
	unsigned char use[16] = {0};
	unsigned order[16], no = 0;
	struct axes a;
	double *y;
	long *pxs, *pys;	/* a rate series' points, tenths of a pixel */

	if (!h->plottable || n < 2 || ns > 16)
		return 0;
	y = calloc((size_t)ns * m + 1, sizeof(*y));
	pxs = calloc(2 * (size_t)m + 1, sizeof(*pxs));
	pys = calloc(2 * (size_t)m + 1, sizeof(*pys));
	if (!y || !pxs || !pys) {
		free(y);
		free(pxs);
		free(pys);
		return 0;
	}
	for (unsigned k = 0; k < ns; k++) {
		double *yk = y + (size_t)k * m;

		for (unsigned i = 0; i < m; i++) {
			if (level) {
				yk[i] = cum(h, i, t, s[k].q, bytes);
			} else {
				double d = cum(h, i + 1, t, s[k].q, bytes) - cum(h, i, t, s[k].q, bytes);
				double dt = (double)(h->lt[i + 1] - h->lt[i]) / 1e9;

				yk[i] = d > 0 && dt > 0 ? d * mult / dt : 0;
			}
			if (yk[i] > 0)
				use[k] = 1;
			ymax = yk[i] > ymax ? yk[i] : ymax;
		}
		use[k] |= keep >> k & 1;
		shown += use[k];
	}
	if (!shown)
		goto out;
	if (ref > ymax)
		ymax = ref;
	a.w = level ? PW_HALF : PW_FULL;	/* the keys go beside their table */
	a.h = level ? PH_HALF : PH_FULL;
	a.xmax = xs(h, n - 1) > 0 ? xs(h, n - 1) : 1e-9;
	if (ymax <= 0) {
		a.ymax = 1;
	} else {
		double st = nice_step(ymax * 1.05, 4);

		a.ymax = ceil(ymax * 1.05 / st) * st;
	}
	fprintf(f, "<figure class=\"fig\"><figcaption>");
	esc(f, title);
	fprintf(f, "</figcaption>\n<svg class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
		"data-kind=\"%s\" data-unit=\"", a.w, a.h, level ? "level" : "rate");
	esc(f, yunit);
	fprintf(f, "\"><title>");
	esc(f, title);
	fprintf(f, "</title>");
	grid(f, &a, yunit);
	if (ref > 0)
		fprintf(f, "<line class=\"ref\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
			ML, py(&a, ref), a.w - MR, py(&a, ref));
	/* drawing order: the second series (conforming, forwarded) on top of the others, and
	 * the part of it that waited (shaped), dashed, on top of it */
	for (unsigned k = 0; k < ns; k++)
		if (k != 1 && s[k].q != Q_SHAPED)
			order[no++] = k;
	if (ns > 1)
		order[no++] = 1;
	for (unsigned k = 2; k < ns; k++)
		if (s[k].q == Q_SHAPED)
			order[no++] = k;
	for (unsigned o = 0; o < no; o++) {
		unsigned k = order[o];
		const double *yk = y + (size_t)k * m;
		double mx = 0;

		if (!use[k])
			continue;
		for (unsigned i = 0; i < m; i++)
			mx = yk[i] > mx ? yk[i] : mx;
		fprintf(f, "\n<path class=\"series%s\" data-name=\"%s\" data-points=\"%u\" "
			"data-max=\"%.6g\" stroke=\"%s\" d=\"", s[k].q == Q_SHAPED ? " dash" : "",
			s[k].name, m, mx, s[k].color);
		if (level) {
			for (unsigned i = 0; i < m; i++)
				fprintf(f, "%s%.1f %.1f", i ? "L" : "M", px(&a, xs(h, i)), py(&a, yk[i]));
		} else {
			/* the rate of interval i (from point i to i + 1) at its middle; over a
			 * long one (a gap in the capture, a point dropped when the grid coarsened)
			 * flat from its start to its end; the inner points of a flat run left out */
			unsigned np = 0;

			for (unsigned i = 0; i < m; i++) {
				long yi = tenths(py(&a, yk[i]));

				if (h->lt[i + 1] - h->lt[i] > h->iv + h->iv / 2) {
					pxs[np] = tenths(px(&a, xs(h, i)));
					pys[np++] = yi;
					pxs[np] = tenths(px(&a, xs(h, i + 1)));
				} else {
					pxs[np] = tenths(px(&a, (xs(h, i) + xs(h, i + 1)) / 2));
				}
				pys[np++] = yi;
			}
			for (unsigned j = 0; j < np; j++) {
				if (j && j + 1 < np && pys[j - 1] == pys[j] && pys[j + 1] == pys[j])
					continue;
				fprintf(f, "%s%.1f %.1f", j ? "L" : "M", (double)pxs[j] / 10,
					(double)pys[j] / 10);
			}
		}
		fprintf(f, "\"/>");
	}
	fprintf(f, "\n</svg><div class=\"legend\">");
	for (unsigned k = 0; k < ns; k++)
		if (use[k])
			fprintf(f, "<span><i style=\"background:%s\"></i>%s</span>", s[k].color,
				s[k].name);
	if (ref > 0) {
		char b[64];

		fprintf(f, "<span><i class=\"dash\"></i>%s (%s)</span>", reflabel,
			si(b, sizeof(b), ref, yunit));
	}
	fprintf(f, "</div></figure>\n");
out:
	free(y);
	free(pxs);
	free(pys);
	return shown;
}

/* ------------------------------------------------------------------ the page */

static const char CSS[] =
	":root{--fg:#1f2937;--mut:#6b7280;--line:#e5e7eb;--bg:#fff;--card:#f9fafb}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0 auto;max-width:1120px;padding:20px 24px 40px;color:var(--fg);"
	"background:var(--bg);font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
	"'DejaVu Sans',Arial,sans-serif}\n"
	"h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 10px;"
	"border-bottom:2px solid var(--line);padding-bottom:4px}"
	"h3{font-size:17px;margin:0 0 4px}\n"
	"code{font:12.5px/1.3 'DejaVu Sans Mono',Menlo,Consolas,monospace;background:#f3f4f6;"
	"padding:1px 4px;border-radius:3px}\n"
	".sub{color:var(--mut);margin:0 0 14px}.note{color:var(--mut);font-size:13px}\n"
	".warn{background:#fef3c7;border-left:4px solid #f59e0b;padding:6px 10px;margin:8px 0}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px;"
	"margin:10px 0}\n"
	".card{background:var(--card);border:1px solid var(--line);border-radius:8px;"
	"padding:8px 12px}.card b{display:block;font-size:18px}.card span{color:var(--mut);"
	"font-size:12px}\n"
	"table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}\n"
	"th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;"
	"vertical-align:top}th{background:#f3f4f6;font-weight:600}"
	"td.n,th.n{text-align:right;white-space:nowrap}\n"
	".tenant{border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:16px 0;"
	"background:#fff}\n"
	".tag{display:inline-block;font-size:12px;padding:1px 7px;border-radius:10px;"
	"background:#e0e7ff;color:#3730a3;margin-left:6px;vertical-align:2px}\n"
	".tag.shape{background:#dbeafe;color:#1e40af}.tag.drop{background:#fee2e2;color:#991b1b}"
	".tag.mark{background:#fef3c7;color:#92400e}.tag.pass{background:#ede9fe;color:#5b21b6}\n"
	".fig{margin:10px 0 4px}.fig figcaption{font-weight:600;font-size:13px;margin-bottom:2px}\n"
	"svg.plot{width:100%;height:auto;display:block}\n"
	"svg.plot .grid line{stroke:#eef0f3;stroke-width:1}svg.plot .frame{fill:none;"
	"stroke:#cbd5e1}\n"
	"svg.plot text{font:11px system-ui,'DejaVu Sans',Arial,sans-serif;fill:#6b7280}"
	"svg.plot .yl{text-anchor:end}svg.plot .xl{text-anchor:middle}\n"
	"svg.plot path.series{fill:none;stroke-width:1.8;stroke-linejoin:round}"
	"svg.plot path.dash{stroke-dasharray:6 3;stroke-width:2.2}\n"
	"svg.plot line.ref{stroke:#111827;stroke-width:1.2;stroke-dasharray:6 4}\n"
	".legend{font-size:12.5px;color:#374151;margin:2px 0 0 70px}"
	".legend span{margin-right:16px;white-space:nowrap}\n"
	".legend i{display:inline-block;width:14px;height:4px;border-radius:2px;"
	"vertical-align:middle;margin-right:5px}"
	".legend i.dash{background:repeating-linear-gradient(90deg,#111827 0 5px,transparent 5px 8px)}\n"
	".pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:20px;"
	"align-items:start}@media (max-width:900px){.pair{grid-template-columns:1fr}}\n"
	"h4{font-size:13px;margin:10px 0 4px}\n"
	"nav a{margin-right:12px}a{color:#1d4ed8;text-decoration:none}\n"
	"footer{margin-top:30px;color:var(--mut);font-size:12.5px}\n";

/* Series colours */
#define C_OFFERED "#475569"
#define C_CONF "#16a34a"
#define C_DROP "#dc2626"
#define C_MARK "#f59e0b"
#define C_PASS "#8b5cf6"
#define C_SHAPED "#2563eb"
#define C_SHAPE_DROP "#9f1239"
#define C_OTHER "#f97316"
#define C_KEYREF "#0891b2"
#define C_FLOWREF "#a16207"
#define C_KEYS "#0d9488"
#define C_UNM "#a3a3a3"

static const char *action_tag(enum sl_action a)
{
	return a == SL_ACT_SHAPE ? "shape" : a == SL_ACT_MARK ? "mark" :
	       a == SL_ACT_PASS ? "pass" : "drop";
}

static void card(FILE *f, const char *value, const char *label)
{
	fprintf(f, "<div class=\"card\"><b>%s</b><span>%s</span></div>", value, label);
}

/* The rate over the whole capture of count v (bits from bytes when bytes). */
static double avg_rate(const struct sl_html *h, double v, int bytes)
{
	double s = h->n > 1 ? xs(h, h->n - 1) : 0;

	return s > 0 ? v * (bytes ? 8 : 1) / s : 0;
}

static void write_profiles(FILE *f, const struct sl_config *c)
{
	char b[64], d[64];

	fprintf(f, "<h3>Profiles</h3>\n<table><tr><th>profile</th><th>mode</th>"
		"<th class=\"n\">rate</th><th class=\"n\">burst</th><th>limits</th><th>exceed</th>"
		"<th>keys</th><th>other</th></tr>\n");
	for (unsigned i = 0; i < c->nb_profiles; i++) {
		const struct sl_cfg_profile *p = &c->profiles[i];

		fprintf(f, "<tr><td><b>");
		esc(f, p->name);
		fprintf(f, "</b></td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>",
			sl_mode_name(p->mode), rate_str(b, sizeof(b), &p->b[0], p->unit),
			size_str(d, sizeof(d), p->b[0].burst, p->unit));
		if (p->nb_buckets <= 1)
			fprintf(f, "&ndash;");
		for (unsigned k = 1; k < p->nb_buckets; k++)
			fprintf(f, "%s%s per %s", k > 1 ? "<br>" : "",
				size_str(b, sizeof(b), p->b[k].burst, p->unit),
				dur_str(d, sizeof(d), p->b[k].per_ns));
		fprintf(f, "</td><td><span class=\"tag %s\">%s</span>", action_tag(p->exceed),
			sl_action_name(p->exceed));
		if (p->exceed == SL_ACT_MARK)
			fprintf(f, " DSCP %u", p->dscp);
		if (p->exceed == SL_ACT_PASS)
			fprintf(f, " (counted only)");
		if (p->exceed == SL_ACT_SHAPE) {
			fprintf(f, " max-delay %s", dur_str(b, sizeof(b), p->max_delay_ns));
			if (p->queue)
				fprintf(f, ", queue %s", size_str(b, sizeof(b), p->queue, p->unit));
		}
		fprintf(f, "</td><td>");
		if (p->mode == SL_MODE_DEDICATED) {
			fprintf(f, "per %s, idle %s", sl_keykind_name(p->key),
				dur_str(b, sizeof(b), p->idle_ns));
			if (p->max_keys)
				fprintf(f, ", max-keys %llu", (unsigned long long)p->max_keys);
			fprintf(f, ", when-full: %s", sl_when_full_name(p->when_full));
		} else {
			fprintf(f, "&ndash;");
		}
		fprintf(f, "</td><td>");
		if (p->max_flows)
			fprintf(f, "max-flows %llu (flow-idle %s) ", (unsigned long long)p->max_flows,
				dur_str(b, sizeof(b), p->flow_idle_ns));
		if (p->max_queue)
			fprintf(f, "max-queue %llu", (unsigned long long)p->max_queue);
		if (!p->max_flows && !p->max_queue)
			fprintf(f, "&ndash;");
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

/* The peak of the sampled live keys of tenant t. */
static uint64_t peak_keys(const struct sl_html *h, unsigned t)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < h->n; i++) {
		uint64_t k = row_of(h, h->lr[i])[G_N + (size_t)t * T_N + T_KEYS];

		m = k > m ? k : m;
	}
	return m;
}

static void write_tenants_table(FILE *f, const struct sl_html *h, const unsigned char *plotted)
{
	const struct sl_config *c = h->cfg;
	char b[6][64];

	fprintf(f, "<h3>Tenants</h3>\n<p class=\"note\">In match order: a frame belongs to the "
		"first tenant whose match it meets. Shares are of the tenant's offered bytes.</p>\n"
		"<table><tr><th>tenant</th><th>profile</th><th>match</th><th class=\"n\">offered"
		"</th><th class=\"n\">avg rate</th><th class=\"n\">conforming</th><th class=\"n\">"
		"dropped</th><th class=\"n\">marked</th><th class=\"n\">waited</th>"
		"<th class=\"n\">peak keys</th></tr>\n");
	for (unsigned t = 0; t < h->nt; t++) {
		const struct sl_cfg_tenant *ct = &c->tenants[t];
		const struct sl_cfg_profile *p = &c->profiles[ct->profile];
		double off = total(h, (int)t, Q_OFFERED, 1);

		fprintf(f, "<tr><td>");
		if (plotted[t]) {
			fprintf(f, "<a href=\"#t-");
			esc(f, ct->name);
			fprintf(f, "\">");
		}
		fprintf(f, "<b>");
		esc(f, ct->name);
		fprintf(f, "</b>%s</td><td>", plotted[t] ? "</a>" : "");
		esc(f, p->name);
		fprintf(f, "</td><td>");
		for (unsigned k = 0; k < ct->nb_match; k++) {
			if (k)
				fprintf(f, " <i>or</i> ");
			match_str(f, sl_cfg_tenant_match(c, ct, k));
		}
		fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td>",
			bytes_str(b[0], sizeof(b[0]), off),
			si(b[1], sizeof(b[1]), avg_rate(h, off, 1), "bit/s"));
		fprintf(f, "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
			"<td class=\"n\">%s</td>",
			pct(b[2], sizeof(b[2]), total(h, (int)t, Q_CONF, 1), off),
			pct(b[3], sizeof(b[3]), total(h, (int)t, Q_DROP, 1), off),
			pct(b[4], sizeof(b[4]), total(h, (int)t, Q_MARK, 1), off),
			p->exceed == SL_ACT_SHAPE ? pct(b[5], sizeof(b[5]),
							total(h, (int)t, Q_SHAPED, 1), off)
						  : "&ndash;");
		if (p->mode == SL_MODE_DEDICATED)
			fprintf(f, "<td class=\"n\">%llu</td></tr>\n",
				(unsigned long long)peak_keys(h, t));
		else
			fprintf(f, "<td class=\"n\">&ndash;</td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

/* The keys of tenant t that exceeded most: top[0..nk), best first. */
static void write_top_keys(FILE *f, const struct sl_html *h, unsigned t,
			   const struct sl_cfg_profile *p, struct hent *const *top, unsigned nk)
{
	double ex = total(h, (int)t, Q_DROP, 1) + total(h, (int)t, Q_MARK, 1);
	int shape = p->exceed == SL_ACT_SHAPE;
	char b[4][64];

	fprintf(f, "<h4>Keys that exceeded most (by %s bytes)</h4>\n",
		p->exceed == SL_ACT_MARK ? "marked" : "dropped");
	if (p->exceed == SL_ACT_PASS) {
		fprintf(f, "<p class=\"note\">exceed: pass forwards exceeding frames unchanged and "
			"their decisions do not say which frames exceeded: no per-key figures (the "
			"tenant's exceeding rate is in the plots).</p>\n");
		if (!nk)
			return;
	}
	if (!nk) {
		fprintf(f, "<p class=\"note\">No key exceeded%s.</p>\n",
			shape ? " or waited" : "");
		return;
	}
	fprintf(f, "<table><tr><th>#</th><th>key (%s)</th><th class=\"n\">exceeding bytes</th>"
		"<th class=\"n\">frames</th><th class=\"n\">share of tenant's</th>",
		sl_keykind_name(p->key));
	if (shape)
		fprintf(f, "<th class=\"n\">waited bytes</th>");
	fprintf(f, "</tr>\n");
	for (unsigned i = 0; i < nk; i++) {
		fprintf(f, "<tr><td>%u</td><td><code>", i + 1);
		key_str(f, top[i], p->key);
		fprintf(f, "</code></td><td class=\"n\">%s</td><td class=\"n\">%llu</td>"
			"<td class=\"n\">%s</td>", bytes_str(b[0], sizeof(b[0]), (double)top[i]->ex_b),
			(unsigned long long)top[i]->ex_p,
			pct(b[1], sizeof(b[1]), (double)top[i]->ex_b, ex));
		if (shape)
			fprintf(f, "<td class=\"n\">%s</td>",
				bytes_str(b[2], sizeof(b[2]), (double)top[i]->wait_b));
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</table>\n");
	if (h->ovf[2 * t])
		fprintf(f, "<p class=\"warn\">%llu exceeding frames (%s) of this tenant belong to "
			"keys not counted: the page's key map (%u keys) was full. The ranking covers "
			"the keys seen first.</p>\n", (unsigned long long)h->ovf[2 * t],
			bytes_str(b[3], sizeof(b[3]), (double)h->ovf[2 * t + 1]), HTML_MAX_KEYS);
}

static void write_tenant(FILE *f, const struct sl_html *h, unsigned t, struct hent *const *top,
			 unsigned nk)
{
	const struct sl_cfg_tenant *ct = &h->cfg->tenants[t];
	const struct sl_cfg_profile *p = &h->cfg->profiles[ct->profile];
	const struct sl_tenant_stats *ts = h->have_last && t < h->last.nb_tenants ? &h->last.t[t]
										   : NULL;
	int bytes = p->unit == SL_UNIT_BITS, shape = p->exceed == SL_ACT_SHAPE;
	const char *unit = bytes ? "bit/s" : "pkt/s";
	double off = total(h, (int)t, Q_OFFERED, 1), offp = total(h, (int)t, Q_OFFERED, 0);
	double ref = p->mode == SL_MODE_SHARED ? (double)p->b[0].amount * 1e9 / (double)p->b[0].per_ns
					       : 0;
	/* a shaper's drops are shape drops unless some were refused otherwise (when-full: drop,
	 * max-flows): then the events plot tells them apart */
	int other = shape && total(h, (int)t, Q_OTHER_DROP, 0) > 0;
	int events = other || total(h, (int)t, Q_KEYREF, 0) > 0 ||
		     total(h, (int)t, Q_FLOWREF, 0) > 0;
	const struct ser ra_police[] = {
		{"offered", C_OFFERED, Q_OFFERED}, {"conforming", C_CONF, Q_CONF},
		{"dropped", C_DROP, Q_DROP}, {"marked", C_MARK, Q_MARK},
		{"exceeding, passed", C_PASS, Q_PASS}};
	const struct ser ra_shape[] = {
		{"offered", C_OFFERED, Q_OFFERED}, {"conforming", C_CONF, Q_CONF},
		{"waited (shaped)", C_SHAPED, Q_SHAPED},
		other ? (struct ser){"dropped (shape-dropped and otherwise)", C_DROP, Q_DROP}
		      : (struct ser){"shape-dropped (would wait past max-delay)", C_SHAPE_DROP,
				     Q_DROP}};
	const struct ser ev_police[] = {
		{"dropped", C_DROP, Q_DROP}, {"marked", C_MARK, Q_MARK},
		{"new keys refused (key budget / max-keys)", C_KEYREF, Q_KEYREF},
		{"refused by max-flows", C_FLOWREF, Q_FLOWREF}};
	const struct ser ev_shape[] = {
		{"shape-dropped (would wait past max-delay)", C_SHAPE_DROP, Q_SHAPE_DROP},
		{"dropped otherwise", C_OTHER, Q_OTHER_DROP},
		{"new keys refused (key budget / max-keys)", C_KEYREF, Q_KEYREF},
		{"refused by max-flows", C_FLOWREF, Q_FLOWREF}};
	struct ser ky[] = {{"live keys", C_KEYS, Q_KEYS}};
	char b[8][64], title[200];

	fprintf(f, "<article class=\"tenant\" id=\"t-");
	esc(f, ct->name);
	fprintf(f, "\"><h3>");
	esc(f, ct->name);
	fprintf(f, " <span class=\"tag\">");
	esc(f, p->name);
	fprintf(f, "</span><span class=\"tag %s\">%s, exceed: %s</span></h3>\n",
		action_tag(p->exceed), sl_mode_name(p->mode), sl_action_name(p->exceed));
	fprintf(f, "<p class=\"note\">%s %s, burst %s",
		p->mode == SL_MODE_DEDICATED ? "Each key" : "The tenant",
		rate_str(b[0], sizeof(b[0]), &p->b[0], p->unit),
		size_str(b[1], sizeof(b[1]), p->b[0].burst, p->unit));
	if (p->mode == SL_MODE_DEDICATED)
		fprintf(f, ", keys by %s", sl_keykind_name(p->key));
	for (unsigned k = 1; k < p->nb_buckets; k++)
		fprintf(f, "; at most %s per %s", size_str(b[0], sizeof(b[0]), p->b[k].burst, p->unit),
			dur_str(b[1], sizeof(b[1]), p->b[k].per_ns));
	fprintf(f, ".</p>\n<div class=\"cards\">");
	card(f, bytes_str(b[0], sizeof(b[0]), off), "offered bytes");
	snprintf(b[1], sizeof(b[1]), "%.0f", offp);
	card(f, b[1], "offered frames");
	card(f, si(b[2], sizeof(b[2]), avg_rate(h, bytes ? off : offp, bytes), unit),
	     "offered, average");
	card(f, pct(b[3], sizeof(b[3]), total(h, (int)t, Q_CONF, 1), off), "of bytes conforming");
	card(f, pct(b[4], sizeof(b[4]), total(h, (int)t, Q_DROP, 1), off), "of bytes dropped");
	if (p->exceed == SL_ACT_MARK)
		card(f, pct(b[5], sizeof(b[5]), total(h, (int)t, Q_MARK, 1), off),
		     "of bytes marked");
	if (p->exceed == SL_ACT_PASS)
		card(f, pct(b[5], sizeof(b[5]), total(h, (int)t, Q_PASS, 1), off),
		     "of bytes exceeding (passed)");
	if (shape) {
		card(f, pct(b[5], sizeof(b[5]), total(h, (int)t, Q_SHAPED, 1), off),
		     "of bytes waited");
		snprintf(b[6], sizeof(b[6]), "%.3f ms",
			 ts ? (double)ts->shape_delay_max_us / 1e3 : 0.0);
		card(f, b[6], "longest wait");
	}
	if (p->mode == SL_MODE_DEDICATED) {
		snprintf(b[7], sizeof(b[7]), "%llu", (unsigned long long)peak_keys(h, t));
		card(f, b[7], "peak live keys (sampled)");
	}
	fprintf(f, "</div>\n");
	if (off <= 0) {
		fprintf(f, "<p class=\"note\">No frame of the capture belongs to this tenant.</p>"
			"</article>\n");
		return;
	}
	snprintf(title, sizeof(title), "Offered, conforming and exceeding traffic (%s)", unit);
	if (shape)
		plot(f, h, (int)t, title, unit, ra_shape, 4, 0x3, bytes, 0, ref, "the tenant's rate");
	else
		plot(f, h, (int)t, title, unit, ra_police, 5, 0x3, bytes, 0, ref,
		     "the tenant's rate");
	if (total(h, (int)t, Q_CONF, 0) >= offp && total(h, (int)t, Q_SHAPED, 0) <= 0)
		fprintf(f, "<p class=\"note\">Nothing exceeded: every frame conformed%s.</p>\n",
			shape ? " without waiting" : "");
	if (events)
		plot(f, h, (int)t, "Drops and refusals (frames per second)", "pkt/s",
		     shape ? ev_shape : ev_police, 4, 0, 0, 0, 0, NULL);
	if (p->mode == SL_MODE_DEDICATED) {
		double q = p->max_keys && (double)p->max_keys <= 4.0 * (double)peak_keys(h, t)
				   ? (double)p->max_keys : 0;

		fprintf(f, "<div class=\"pair\"><div>");
		plot(f, h, (int)t, "Live keys", "", ky, 1, 1, 0, 1, q, "max-keys");
		fprintf(f, "</div><div>");
		write_top_keys(f, h, t, p, top, nk);
		fprintf(f, "</div></div>\n");
	}
	fprintf(f, "</article>\n");
}

/* Most exceeding bytes first, then most waited, then the key. */
static int hent_before(const struct hent *a, const struct hent *b)
{
	if (a->ex_b != b->ex_b)
		return a->ex_b > b->ex_b;
	if (a->wait_b != b->wait_b)
		return a->wait_b > b->wait_b;
	return memcmp(a, b, offsetof(struct hent, used)) < 0;
}

/* One pass over the key map: each tenant's HTML_TOP_KEYS best, into top (nt rows). */
static void top_keys(const struct sl_html *h, struct hent **top, unsigned *nk)
{
	for (size_t i = 0; h->map && i < HTML_MAP_SLOTS; i++) {
		struct hent *e = &h->map[i], **r;
		unsigned *c, j;

		if (!e->used || e->tenant >= h->nt)
			continue;
		r = top + (size_t)e->tenant * HTML_TOP_KEYS;
		c = &nk[e->tenant];
		if (*c == HTML_TOP_KEYS && !hent_before(e, r[*c - 1]))
			continue;
		j = *c < HTML_TOP_KEYS ? (*c)++ : *c - 1;
		for (; j && hent_before(e, r[j - 1]); j--)
			r[j] = r[j - 1];
		r[j] = e;
	}
}

static int by_offered_desc(const void *a, const void *b, void *h)
{
	double x = total(h, (int)*(const unsigned *)a, Q_OFFERED, 1);
	double y = total(h, (int)*(const unsigned *)b, Q_OFFERED, 1);

	if (x != y)
		return x < y ? 1 : -1;
	return *(const unsigned *)a < *(const unsigned *)b ? -1 : 1;
}

static void write_page(FILE *f, const struct sl_html *h, uint64_t held_max,
		       struct hent **top, unsigned *nk, unsigned char *plotted)
{
	const struct sl_config *c = h->cfg;
	double span = h->n > 1 ? xs(h, h->n - 1) : 0;
	double tot = total(h, -1, QG_OFFERED, 1), totp = total(h, -1, QG_OFFERED, 0);
	unsigned *order = calloc(h->nt + 1, sizeof(*order)), with_traffic = 0, nplot = 0;
	struct ser all[] = {
		{"offered", C_OFFERED, QG_OFFERED}, {"forwarded", C_CONF, QG_FWD},
		{"dropped", C_DROP, QG_DROP}, {"unmatched (no tenant)", C_UNM, QG_UNM},
		{"malformed", C_SHAPE_DROP, QG_MAL}};
	char b[8][96];
	time_t start = (time_t)(h->t0 / 1000000000ull);
	struct tm tm;

	/* the tenants with their own plots: the most offered bytes, at most HTML_MAX_PLOTTED */
	for (unsigned t = 0; order && t < h->nt; t++)
		if (total(h, (int)t, Q_OFFERED, 1) > 0)
			order[with_traffic++] = t;
	if (order)
		qsort_r(order, with_traffic, sizeof(*order), by_offered_desc, (void *)h);
	for (unsigned i = 0; i < with_traffic && i < HTML_MAX_PLOTTED; i++, nplot++)
		plotted[order[i]] = 1;
	free(order);

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<title>sluice-replay: ");
	esc(f, h->meta.config);
	fprintf(f, "</title>\n<style>\n%s</style></head>\n<body>\n<header><h1>What this policy "
		"does to this traffic</h1>\n<p class=\"sub\">sluice-replay of policy <code>", CSS);
	esc(f, h->meta.config);
	fprintf(f, "</code> over ");
	for (unsigned k = 0; k < h->meta.nb_in; k++) {
		fprintf(f, "%s<code>", k ? ", " : "");
		esc(f, h->meta.in[k]);
		fprintf(f, "</code>");
		if (h->meta.nb_in > 1)
			fprintf(f, " (port %u)", k);
	}
	fprintf(f, ", the captures' timestamps as the clock.</p></header>\n");
	fprintf(f, "<nav><a href=\"#overview\">Overview</a><a href=\"#policy\">Policy</a>"
		"<a href=\"#tenants\">Tenants</a></nav>\n");

	/* overview */
	fprintf(f, "<section id=\"overview\"><h2>Overview</h2>\n");
	if (gmtime_r(&start, &tm))
		strftime(b[7], sizeof(b[7]), "%Y-%m-%d %H:%M:%S UTC", &tm);
	else
		snprintf(b[7], sizeof(b[7]), "%llu s", (unsigned long long)start);
	if (!h->started)
		fprintf(f, "<p class=\"note\">The capture holds no frames.</p>\n");
	else if (!h->plottable)
		fprintf(f, "<p class=\"note\">Capture at %s: every frame has the same timestamp, "
			"so there are no rates over time, only the counts.</p>\n", b[7]);
	else
		fprintf(f, "<p class=\"note\">Capture from %s, %.6g s of traffic. Rates are per "
			"second of capture time, averaged over %u intervals of %s (counters sampled "
			"between groups of frames).</p>\n", b[7], span, h->n - 1,
			time_str(b[6], sizeof(b[6]), h->iv));
	fprintf(f, "<div class=\"cards\">");
	snprintf(b[0], sizeof(b[0]), "%.0f", totp);
	card(f, b[0], "frames");
	card(f, bytes_str(b[1], sizeof(b[1]), tot), "bytes");
	card(f, si(b[2], sizeof(b[2]), avg_rate(h, tot, 1), "bit/s"), "offered, average");
	card(f, pct(b[3], sizeof(b[3]), total(h, -1, QG_FWD, 1), tot), "of bytes forwarded");
	card(f, pct(b[4], sizeof(b[4]), total(h, -1, QG_DROP, 1), tot), "of bytes dropped");
	card(f, pct(b[5], sizeof(b[5]), total(h, -1, QG_UNM, 1), tot),
	     c->unmatched == SL_ACT_DROP ? "unmatched (dropped)" : "unmatched (passed)");
	if (total(h, -1, QG_MAL, 0) > 0) {
		snprintf(b[6], sizeof(b[6]), "%.0f", total(h, -1, QG_MAL, 0));
		card(f, b[6], "malformed frames");
	}
	fprintf(f, "</div>\n");
	plot(f, h, -1, "All traffic (bit/s)", "bit/s", all, sizeof(all) / sizeof(all[0]), 0x3, 1,
	     0, 0, NULL);
	fprintf(f, "</section>\n");

	/* policy */
	fprintf(f, "<section id=\"policy\"><h2>Policy</h2>\n<p class=\"note\">%u profiles, %u "
		"tenants; traffic no tenant matches: <b>%s</b>.", c->nb_profiles, c->nb_tenants,
		sl_action_name(c->unmatched));
	if (h->meta.max_keys)
		fprintf(f, " Key budget: %llu keys (--max-keys).",
			(unsigned long long)h->meta.max_keys);
	if (held_max)
		fprintf(f, " At most %llu frames waited at once (all shaped tenants).",
			(unsigned long long)held_max);
	fprintf(f, "</p>\n");
	write_profiles(f, c);
	write_tenants_table(f, h, plotted);
	fprintf(f, "</section>\n");

	/* tenants */
	fprintf(f, "<section id=\"tenants\"><h2>Tenants</h2>\n");
	if (with_traffic > nplot)
		fprintf(f, "<p class=\"warn\">%u tenants had traffic; the %u that offered the most "
			"have plots here, the others are in the table above.</p>\n", with_traffic,
			nplot);
	if (!with_traffic)
		fprintf(f, "<p class=\"note\">No frame belongs to any tenant.</p>\n");
	if (h->map_failed)
		fprintf(f, "<p class=\"warn\">Out of memory for the per-key counts: no top keys."
			"</p>\n");
	for (unsigned t = 0; t < h->nt; t++)
		if (plotted[t])
			write_tenant(f, h, t, top + (size_t)t * HTML_TOP_KEYS, nk[t]);
	fprintf(f, "</section>\n<footer>Offered: frames classified to the tenant. Conforming: "
		"fit the buckets (for exceed: shape, including frames that waited). Dropped, "
		"marked, waited: per frame decisions, at the time a frame arrived (a frame that "
		"waits leaves up to max-delay later). Live keys: the tenant's keys in the key "
		"table at each sample. Page written by sluice-replay --html: self-contained, no "
		"script, nothing fetched.</footer>\n</body></html>\n");
}

int sl_html_write(struct sl_html *h, uint64_t last_ns, uint64_t held_max, const char *path)
{
	struct hent **top = calloc((size_t)h->nt * HTML_TOP_KEYS + 1, sizeof(*top));
	unsigned *nk = calloc(h->nt + 1, sizeof(*nk));
	unsigned char *plotted = calloc(h->nt + 1, 1);
	int rc = 0;
	FILE *f;

	if (!top || !nk || !plotted) {
		rc = -ENOMEM;
		goto out;
	}
	/* the last row: every frame */
	rc = read_row(h, row_of(h, h->nr), 1);
	if (rc)
		goto out;
	if (h->started) {
		uint64_t last = last_ns > h->prev ? last_ns : h->prev;

		points(h, last + 1);
		h->plottable = last > h->t0;
	}
	top_keys(h, top, nk);
	f = fopen(path, "w");
	if (!f) {
		rc = -errno;
		fprintf(stderr, "sluice-replay: %s: %s\n", path, strerror(errno));
		goto out;
	}
	write_page(f, h, held_max, top, nk, plotted);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "sluice-replay: %s: write failed\n", path);
		rc = -EIO;
	}
out:
	if (rc == -ENOMEM)
		fprintf(stderr, "sluice-replay: out of memory writing the page\n");
	free(top);
	free(nk);
	free(plotted);
	return rc;
}
