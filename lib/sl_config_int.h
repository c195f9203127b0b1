/* sl_config_int.h - private to the policy file parser (sl_config*.c): the parse context and
 * typed, reporting access to libyaml document nodes. Not part of libsluice's API. */
#ifndef SL_CONFIG_INT_H
#define SL_CONFIG_INT_H

#include <stdint.h>
#include <yaml.h>
#include "sl_config.h"

#define CFG_PATH_LEN 160	/* "tenants[12].match.src-port", names shown truncated */
#define CFG_MAX_MSGS 100	/* messages kept per file; the rest are only counted */

struct cfg_msg {
	unsigned line;		/* 1-based, 0 = none */
	unsigned seq;		/* order of discovery, to keep the sort stable */
	char *field;
	char *body;
};

/* A valid profile or tenant name with its index and node, sorted for look-ups. */
struct cfg_named {
	const char *name;
	unsigned idx;
	const yaml_node_t *node;
};

/* One parse: messages are kept here, sorted by line and handed to the caller's sl_diag. */
struct cfg_ctx {
	const char *file;
	yaml_document_t *doc;
	struct sl_config *c;		/* being filled */
	struct cfg_named *pnames;	/* profiles by name */
	unsigned nb_pnames;
	struct cfg_msg msgs[CFG_MAX_MSGS];
	unsigned nb_msgs;
	unsigned nb_err;		/* all problems, reported or not */
	unsigned cap_matches;		/* room in c->matches */
	int nomem;
};

/* Record a problem at node n (its line; NULL = no line) for dotted path `field`. */
void cfg_err(struct cfg_ctx *x, const yaml_node_t *n, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Sort the messages by line and append them to d; frees them. */
void cfg_flush(struct cfg_ctx *x, struct sl_diag *d);

/* Printable copy of operator text, truncated to sz with "...". Returns buf. */
const char *cfg_show(char *buf, size_t sz, const char *s);
/* buf (CFG_PATH_LEN) = "parent.key" or "key" */
void cfg_path(char *buf, const char *parent, const char *key);
/* "a, b, c" into buf of sz */
const char *cfg_join(char *buf, size_t sz, const char *const *names, unsigned nb);

yaml_node_t *cfg_node(struct cfg_ctx *x, int id);
const char *cfg_kind(const yaml_node_t *n);	/* "a mapping", "a list", "a value" */
int cfg_is_null(const yaml_node_t *n);		/* plain "", "~", "null" */
/* Digits only, no sign, no leading zero: 0 or -EINVAL. */
int cfg_parse_uint(const char *s, uint64_t *v);

/* Typed getters: each reports its own problem and returns NULL / -EINVAL. */
const char *cfg_scalar(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *expect);
int cfg_uint(struct cfg_ctx *x, yaml_node_t *n, const char *path, uint64_t lo, uint64_t hi,
	     uint64_t *v);
int cfg_enum(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *const *names,
	     unsigned nb, unsigned *out);
/*
 * Fields of mapping n whose keys must be among names[0..nb-1]: key[i]/val[i] are the nodes
 * of names[i] or NULL. Reports a non-mapping (saying `expect`), unknown keys (listing the
 * valid ones), duplicate and non-scalar keys. Returns 0 when n is a mapping, else -EINVAL.
 */
int cfg_fields(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *expect,
	       const char *const *names, unsigned nb, yaml_node_t **key, yaml_node_t **val);
/* 1 when val is present; else reports "path.name: missing required field: what" at where. */
int cfg_require(struct cfg_ctx *x, yaml_node_t *val, yaml_node_t *where, const char *path,
		const char *name, const char *what);
/* A name of 1..63 characters of [A-Za-z0-9_.-] copied into out (SL_NAME_MAX). */
int cfg_name(struct cfg_ctx *x, yaml_node_t *n, const char *path, const char *what, char *out);

/* sl_config_doc.c: the text's one YAML document, its nodes in a few blocks (cfg_doc_free).
 * 0 (doc.nodes empty for an empty stream), or -EINVAL / -ENOMEM with the problem in x. */
struct cfg_doc {
	yaml_document_t doc;
	void *arena;
};
int cfg_doc_load(struct cfg_ctx *x, const char *text, size_t len, struct cfg_doc *d);
void cfg_doc_free(struct cfg_doc *d);

#define CFG_MAX_BLOCKS 4096	/* match blocks of one tenant */

/* sl_config_match.c: tenant t's match (n: a block, a list of blocks, or NULL for none, which
 * matches everything), appended to x->c->matches; sets t->match and t->nb_match. */
void cfg_match(struct cfg_ctx *x, yaml_node_t *n, const char *path, struct sl_cfg_tenant *t);

#endif
