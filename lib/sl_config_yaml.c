/* sl_config_yaml.c - the policy parser's typed access to libyaml document nodes: every getter
 * reports what it expected at the node's line, messages are collected and sorted by line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sl_config_int.h"

#define CFG_MAX_FIELDS 32	/* pairs of a mapping with fixed field names */

/* ---- messages ---------------------------------------------------------------------------- */

void cfg_err(struct cfg_ctx *x, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
	struct cfg_msg *m;
	char body[512];
	va_list ap;

	x->nb_err++;
	if (x->nb_msgs == CFG_MAX_MSGS)
		return;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	m = &x->msgs[x->nb_msgs];
	m->line = n ? (unsigned)n->start_mark.line + 1 : 0;
	m->seq = x->nb_msgs;
	if (field && !*field)
		field = NULL;	/* the root has no path */
	m->field = field ? strdup(field) : NULL;
	m->body = strdup(body);
	if (!m->body || (field && !m->field)) {
		free(m->field);
		free(m->body);
		x->nomem = 1;
		return;
	}
	x->nb_msgs++;
}

static int msg_cmp(const void *a, const void *b)
{
	const struct cfg_msg *p = a, *q = b;

	if (p->line != q->line)
		return p->line < q->line ? -1 : 1;
	return (p->seq > q->seq) - (p->seq < q->seq);
}

void cfg_flush(struct cfg_ctx *x, struct sl_diag *d)
{
	qsort(x->msgs, x->nb_msgs, sizeof(x->msgs[0]), msg_cmp);
	for (unsigned i = 0; i < x->nb_msgs; i++) {
		sl_diag_add(d, x->file, x->msgs[i].line, x->msgs[i].field, "%s", x->msgs[i].body);
		free(x->msgs[i].field);
		free(x->msgs[i].body);
	}
	if (x->nb_err > x->nb_msgs)
		sl_diag_add(d, x->file, 0, NULL, "%u more problems not shown",
			    x->nb_err - x->nb_msgs);
	if (x->nomem)
		sl_diag_add(d, x->file, 0, NULL, "out of memory");
	x->nb_msgs = 0;
}

const char *cfg_show(char *buf, size_t sz, const char *s)
{
	size_t i = 0;

	for (; *s && i + 1 < sz; s++) {
		if (i + 4 >= sz && s[1]) {
			memcpy(buf + i, "...", 3);
			i += 3;
			break;
		}
		buf[i++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
	}
	buf[i] = 0;
	return buf;
}

void cfg_path(char *buf, const char *parent, const char *key)
{
	char k[SL_NAME_MAX + 8];	/* valid names in full, others truncated */

	snprintf(buf, CFG_PATH_LEN, "%s%s%s", parent, *parent ? "." : "",
		 cfg_show(k, sizeof(k), key));
}

const char *cfg_join(char *buf, size_t sz, const char *const *names, unsigned nb)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < nb && o < sz; i++)
		o += (size_t)snprintf(buf + o, sz - o, "%s%s", i ? ", " : "", names[i]);
	return buf;
}

/* ---- typed access to nodes --------------------------------------------------------------- */

yaml_node_t *cfg_node(struct cfg_ctx *x, int id)
{
	return yaml_document_get_node(x->doc, id);
}

const char *cfg_kind(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? "a mapping" :
	       n->type == YAML_SEQUENCE_NODE ? "a list" : "a value";
}

int cfg_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

int cfg_parse_uint(const char *s, uint64_t *v)
{
	uint64_t r = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || r > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		r = r * 10 + (uint64_t)(*s - '0');
	}
	*v = r;
	return 0;
}

const char *cfg_scalar(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *expect)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE) {
		cfg_err(x, n, path, "expected %s, got %s", expect, cfg_kind(n));
		return NULL;
	}
	if (cfg_is_null(n)) {
		cfg_err(x, n, path, "missing value: expected %s", expect);
		return NULL;
	}
	v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length) {
		cfg_err(x, n, path, "contains a NUL character: expected %s", expect);
		return NULL;
	}
	return v;
}

int cfg_uint(struct cfg_ctx *x, yaml_node_t *n, const char *path, uint64_t lo, uint64_t hi,
	     uint64_t *v)
{
	char expect[64], b[48];
	const char *s;

	snprintf(expect, sizeof(expect), "a whole number %llu..%llu",
		 (unsigned long long)lo, (unsigned long long)hi);
	s = cfg_scalar(x, n, path, expect);
	if (!s)
		return -EINVAL;
	if (cfg_parse_uint(s, v)) {
		cfg_err(x, n, path, "expected %s (decimal, no sign or leading zero), got '%s'",
			expect, cfg_show(b, sizeof(b), s));
		return -EINVAL;
	}
	if (*v < lo || *v > hi) {
		cfg_err(x, n, path, "%s is out of range: expected %s", s, expect);
		return -EINVAL;
	}
	return 0;
}

int cfg_enum(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *const *names,
	     unsigned nb, unsigned *out)
{
	char expect[96], list[80], b[48];
	const char *s;

	snprintf(expect, sizeof(expect), "one of: %s", cfg_join(list, sizeof(list), names, nb));
	s = cfg_scalar(x, n, path, expect);
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < nb; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	cfg_err(x, n, path, "expected %s; got '%s'", expect, cfg_show(b, sizeof(b), s));
	return -EINVAL;
}

/* Edit distance of two short strings, ignoring ASCII case, for "did you mean". */
static unsigned distance(const char *a, const char *b)
{
	unsigned d[CFG_PATH_LEN], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la >= CFG_PATH_LEN || lb >= CFG_PATH_LEN)
		return ~0u;
	for (unsigned j = 0; j <= lb; j++)
		d[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = d[0], up;

		d[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			up = d[j];
			d[j] = diag + ((a[i - 1] | 0x20) != (b[j - 1] | 0x20));
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			if (up + 1 < d[j])
				d[j] = up + 1;
			diag = up;
		}
	}
	return d[lb];
}

/* Names other tools give these fields (tc flower, nftables, OVS), suggested before spelling. */
static const char *const field_aliases[][2] = {
	{ "sport", "src-port" }, { "dport", "dst-port" }, { "svlan", "vlan" },
	{ "outer-vlan", "vlan" }, { "cvlan", "inner-vlan" }, { "in-port", "port" },
	{ "in_port", "port" }, { "ingress-port", "port" }, { "iif", "port" },
};

static void unknown_field(struct cfg_ctx *x, yaml_node_t *key, const char *path,
			  const char *name, const char *const *names, unsigned nb)
{
	char p[CFG_PATH_LEN], b[48], list[256];
	unsigned best = 3, bi = nb;

	for (unsigned a = 0; a < sizeof(field_aliases) / sizeof(field_aliases[0]); a++)
		for (unsigned i = 0; i < nb && bi == nb; i++)
			if (!strcasecmp(name, field_aliases[a][0]) && !strcmp(names[i], field_aliases[a][1]))
				bi = i;
	for (unsigned i = 0; i < nb && bi == nb; i++) {
		unsigned dist = distance(name, names[i]);

		if (dist < best && dist < strlen(names[i])) {
			best = dist;
			bi = i;
		}
	}
	cfg_path(p, path, name);
	cfg_join(list, sizeof(list), names, nb);
	if (bi < nb)
		cfg_err(x, key, p, "unknown field '%s' (did you mean '%s'?); valid fields: %s",
			cfg_show(b, sizeof(b), name), names[bi], list);
	else
		cfg_err(x, key, p, "unknown field '%s'; valid fields: %s",
			cfg_show(b, sizeof(b), name), list);
}

int cfg_fields(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *expect,
	       const char *const *names, unsigned nb, yaml_node_t **key, yaml_node_t **val)
{
	char p[CFG_PATH_LEN], list[256];
	yaml_node_pair_t *pr;

	memset(key, 0, nb * sizeof(*key));
	memset(val, 0, nb * sizeof(*val));
	if (n->type != YAML_MAPPING_NODE) {
		cfg_err(x, n, path, "expected %s, got %s", expect, cfg_kind(n));
		return -EINVAL;
	}
	/* bounds the work when one mapping is reached through many aliases */
	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start > CFG_MAX_FIELDS) {
		cfg_err(x, n, path, "too many fields; valid fields: %s",
			cfg_join(list, sizeof(list), names, nb));
		return 0;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = cfg_node(x, pr->key);
		const char *s;
		unsigned i;

		if (k->type != YAML_SCALAR_NODE) {
			cfg_err(x, k, path, "expected a field name, got %s", cfg_kind(k));
			continue;
		}
		s = (const char *)k->data.scalar.value;
		for (i = 0; i < nb && strcmp(s, names[i]); i++)
			;
		if (i == nb) {
			unknown_field(x, k, path, s, names, nb);
		} else if (key[i]) {
			cfg_path(p, path, s);
			cfg_err(x, k, p, "duplicate field '%s' (first at line %u)", s,
				(unsigned)key[i]->start_mark.line + 1);
		} else {
			key[i] = k;
			val[i] = cfg_node(x, pr->value);
		}
	}
	return 0;
}

int cfg_require(struct cfg_ctx *x, yaml_node_t *val, yaml_node_t *where, const char *path,
		const char *name, const char *what)
{
	char p[CFG_PATH_LEN];

	if (val)
		return 1;
	cfg_path(p, path, name);
	cfg_err(x, where, p, "missing required field: %s", what);
	return 0;
}

int cfg_name(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *what, char *out)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789_.-";
	const char *s = cfg_scalar(x, n, path, what);
	char b[48];
	size_t len;

	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (!len || len >= SL_NAME_MAX || strspn(s, ok) != len) {
		cfg_err(x, n, path, "bad name '%s': use 1..%d characters of A-Z a-z 0-9 _ . -",
			cfg_show(b, sizeof(b), s), SL_NAME_MAX - 1);
		return -EINVAL;
	}
	memcpy(out, s, len + 1);
	return 0;
}
