/* sl_config_doc.c - the policy file's YAML into a libyaml document in one pass over the parser's
 * events, its nodes, strings and lists in a few large blocks: libyaml's own loader spends five
 * times the parse on a malloc per node and a free per node after. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sl_config_int.h"

#define CFG_MAX_DEPTH 32		/* nesting of YAML collections */
_Static_assert(CFG_MAX_DEPTH == 32, "the message of a deeper document says 32");
#define ARENA_BLOCK (1u << 20)

/* Bump allocation from blocks of at least ARENA_BLOCK bytes, freed together. */
struct arena_blk {
	struct arena_blk *next;
	size_t used, size;
	max_align_t data[];
};

static void *arena_alloc(struct arena_blk **a, size_t n)
{
	struct arena_blk *b = *a;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!b || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;

		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = *a;
		b->used = 0;
		b->size = size;
		*a = b;
	}
	b->used += n;
	return (char *)b->data + b->used - n;
}

/* Anchors by name: open addressing on a string hash, doubling at half full. */
struct anchor {
	const char *name;	/* in the arena; NULL: empty */
	int node;
	yaml_mark_t mark;
};

struct builder {
	struct cfg_ctx *x;
	struct arena_blk *arena;
	yaml_node_t *nodes;
	size_t nb_nodes, cap_nodes;
	int *items;		/* the open collections' items, each collection's after the last's */
	size_t nb_items, cap_items;
	struct {
		int node;
		size_t first;	/* its items start at items[first] */
	} open[CFG_MAX_DEPTH + 1];
	unsigned depth;
	struct anchor *anchors;
	size_t nb_anchors, cap_anchors;
	int root;
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

static struct anchor *anchor_slot(struct builder *b, const char *name)
{
	size_t m = b->cap_anchors - 1, i = name_hash(name) & m;

	while (b->anchors[i].name && strcmp(b->anchors[i].name, name))
		i = (i + 1) & m;
	return &b->anchors[i];
}

static int anchor_grow(struct builder *b)
{
	struct anchor *old = b->anchors;
	size_t n = b->cap_anchors;

	b->cap_anchors = n ? 2 * n : 64;
	b->anchors = calloc(b->cap_anchors, sizeof(*b->anchors));
	if (!b->anchors) {
		b->anchors = old;
		b->cap_anchors = n;
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (old[i].name)
			*anchor_slot(b, old[i].name) = old[i];
	free(old);
	return 0;
}

static char *arena_str(struct builder *b, const yaml_char_t *s, size_t len)
{
	char *p = arena_alloc(&b->arena, len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}

/*
 * Register anchor `name` for node id; a second anchor of that name is an error, as libyaml's
 * loader reports it. 0, -EINVAL (reported) or -ENOMEM.
 */
static int anchor_add(struct builder *b, const yaml_char_t *name, int id, yaml_mark_t mark)
{
	struct anchor *a;

	if (!name)
		return 0;
	if (2 * (b->nb_anchors + 1) > b->cap_anchors && anchor_grow(b))
		return -ENOMEM;
	a = anchor_slot(b, (const char *)name);
	if (a->name) {
		yaml_node_t at = { .type = YAML_NO_NODE, .start_mark = mark };

		cfg_err(b->x, &at, NULL, "YAML syntax error: second occurrence (found duplicate "
			"anchor; first occurrence at line %u)", (unsigned)a->mark.line + 1);
		return -EINVAL;
	}
	a->name = arena_str(b, name, strlen((const char *)name));
	if (!a->name)
		return -ENOMEM;
	a->node = id;
	a->mark = mark;
	b->nb_anchors++;
	return 0;
}

/* Item id to the innermost open collection, or the document's root. */
static int item_add(struct builder *b, int id)
{
	if (!b->depth) {
		b->root = id;
		return 0;
	}
	if (b->nb_items == b->cap_items) {
		size_t cap = b->cap_items ? 2 * b->cap_items : 1024;
		int *it = realloc(b->items, cap * sizeof(*it));

		if (!it)
			return -ENOMEM;
		b->items = it;
		b->cap_items = cap;
	}
	b->items[b->nb_items++] = id;
	return 0;
}

/* A new node (id = index + 1) of type t, started at mark. */
static int node_new(struct builder *b, yaml_node_type_t t, yaml_mark_t start, yaml_mark_t end)
{
	yaml_node_t *n;

	if (b->nb_nodes == b->cap_nodes) {
		size_t cap = b->cap_nodes ? 2 * b->cap_nodes : 4096;

		n = realloc(b->nodes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		b->nodes = n;
		b->cap_nodes = cap;
	}
	n = &b->nodes[b->nb_nodes++];
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->start_mark = start;
	n->end_mark = end;
	return (int)b->nb_nodes;
}

/* The innermost collection ends: its items move into the arena. */
static int collection_end(struct builder *b, yaml_mark_t end)
{
	size_t first = b->open[b->depth - 1].first, n = b->nb_items - first;
	yaml_node_t *node = &b->nodes[b->open[b->depth - 1].node - 1];
	int *it = arena_alloc(&b->arena, (n ? n : 1) * sizeof(int));

	if (!it)
		return -ENOMEM;
	if (n)	/* items may be NULL: nothing was added yet */
		memcpy(it, b->items + first, n * sizeof(int));
	b->nb_items = first;
	b->depth--;
	node->end_mark = end;
	if (node->type == YAML_SEQUENCE_NODE) {
		node->data.sequence.items.start = it;
		node->data.sequence.items.top = node->data.sequence.items.end = it + n;
	} else {
		/* a mapping's items are key, value, key, value: the layout of yaml_node_pair_t */
		_Static_assert(sizeof(yaml_node_pair_t) == 2 * sizeof(int), "pairs are two ids");
		node->data.mapping.pairs.start = (yaml_node_pair_t *)(void *)it;
		node->data.mapping.pairs.top = node->data.mapping.pairs.end =
			(yaml_node_pair_t *)(void *)(it + n);
	}
	return 0;
}

/* Report a problem at the event's start. */
static int event_err(struct builder *b, const yaml_event_t *ev, const char *what)
{
	yaml_node_t at = { .type = YAML_NO_NODE, .start_mark = ev->start_mark };

	cfg_err(b->x, &at, NULL, "%s", what);
	return -EINVAL;
}

/* One event into the document. 0, 1 at the stream's end, -EINVAL (reported), -ENOMEM. */
static int on_event(struct builder *b, yaml_event_t *ev, unsigned *docs)
{
	const yaml_char_t *anchor = NULL;
	yaml_node_type_t t;
	int id, r;

	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return event_err(b, ev, "a second YAML document starts here; the policy is "
					 "one document");
		return 0;
	case YAML_ALIAS_EVENT: {
		struct anchor *a = b->cap_anchors
					   ? anchor_slot(b, (const char *)ev->data.alias.anchor)
					   : NULL;

		if (!a || !a->name)
			return event_err(b, ev, "YAML syntax error: found undefined alias");
		return item_add(b, a->node);
	}
	case YAML_SCALAR_EVENT:
		id = node_new(b, YAML_SCALAR_NODE, ev->start_mark, ev->end_mark);
		if (id < 0)
			return id;
		b->nodes[id - 1].data.scalar.value =
			(yaml_char_t *)arena_str(b, ev->data.scalar.value, ev->data.scalar.length);
		if (!b->nodes[id - 1].data.scalar.value)
			return -ENOMEM;
		b->nodes[id - 1].data.scalar.length = ev->data.scalar.length;
		b->nodes[id - 1].data.scalar.style = ev->data.scalar.style;
		r = anchor_add(b, ev->data.scalar.anchor, id, ev->start_mark);
		return r ? r : item_add(b, id);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth == CFG_MAX_DEPTH)
			return event_err(b, ev, "nested deeper than 32 levels");
		t = ev->type == YAML_SEQUENCE_START_EVENT ? YAML_SEQUENCE_NODE : YAML_MAPPING_NODE;
		anchor = t == YAML_SEQUENCE_NODE ? ev->data.sequence_start.anchor
						 : ev->data.mapping_start.anchor;
		id = node_new(b, t, ev->start_mark, ev->end_mark);
		if (id < 0)
			return id;
		r = anchor_add(b, anchor, id, ev->start_mark);
		if (!r)
			r = item_add(b, id);
		if (r)
			return r;
		b->open[b->depth].node = id;
		b->open[b->depth++].first = b->nb_items;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return collection_end(b, ev->end_mark);
	default:
		return 0;
	}
}

/* Line (1-based) of byte offset off, for reader errors that carry no mark. */
static unsigned line_of(const char *text, size_t len, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		line += text[i] == '\n';
	return line;
}

static void syntax_error(struct cfg_ctx *x, yaml_parser_t *p, const char *text, size_t len)
{
	yaml_node_t at = { .type = YAML_NO_NODE };
	const char *hint = "";

	if (p->error == YAML_MEMORY_ERROR) {
		x->nomem = 1;
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		at.start_mark.line = line_of(text, len, p->problem_offset) - 1;
		cfg_err(x, &at, NULL, "not valid UTF-8 text: %s", p->problem);
		return;
	}
	at.start_mark = p->problem_mark;
	if (p->problem_mark.index < len && text[p->problem_mark.index] == '\t')
		hint = " (tabs are not allowed for indentation; use spaces)";
	if (p->context)
		cfg_err(x, &at, NULL, "YAML syntax error: %s (%s at line %u)%s", p->problem,
			p->context, (unsigned)p->context_mark.line + 1, hint);
	else
		cfg_err(x, &at, NULL, "YAML syntax error: %s%s", p->problem, hint);
}

int cfg_doc_load(struct cfg_ctx *x, const char *text, size_t len, struct cfg_doc *d)
{
	struct builder b;
	yaml_parser_t p;
	yaml_event_t ev;
	unsigned docs = 0;
	int r;

	memset(d, 0, sizeof(*d));
	memset(&b, 0, sizeof(b));
	b.x = x;
	if (!yaml_parser_initialize(&p)) {
		x->nomem = 1;
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	do {
		if (!yaml_parser_parse(&p, &ev)) {
			syntax_error(x, &p, text, len);
			r = x->nomem ? -ENOMEM : -EINVAL;
			break;
		}
		r = on_event(&b, &ev, &docs);
		yaml_event_delete(&ev);
	} while (!r);
	yaml_parser_delete(&p);
	free(b.items);
	free(b.anchors);
	if (r == -ENOMEM)
		x->nomem = 1;
	if (r < 0) {
		free(b.nodes);
		while (b.arena) {
			struct arena_blk *n = b.arena->next;

			free(b.arena);
			b.arena = n;
		}
		return r;
	}
	/* the root is node 1: a collection or scalar at depth 0 is the first node made */
	d->doc.nodes.start = b.nodes;
	d->doc.nodes.top = d->doc.nodes.end = b.root ? b.nodes + b.nb_nodes : b.nodes;
	d->arena = b.arena;
	return 0;
}

void cfg_doc_free(struct cfg_doc *d)
{
	struct arena_blk *a = d->arena;

	free(d->doc.nodes.start);
	while (a) {
		struct arena_blk *n = a->next;

		free(a);
		a = n;
	}
	memset(d, 0, sizeof(*d));
}
