/*
 * yamljson.c - YAML streams to cJSON trees (see yamljson.h).
 *
 * libyaml's event parser delivers the stream as a flat sequence of events
 * (document start, mapping start, scalar, alias, ...); a small recursive
 * builder turns each node into a cJSON value.  Manifests are then handled
 * exactly like JSON by the one decoder in k8s.c.
 *
 * Scalars are typed (yamlscalar.c) the way Kubernetes reads YAML 1.2's
 * core schema: plain true/false, null/~/empty, integers (decimal, 0x, 0o)
 * and floats become JSON values; quoted, block and !!str-tagged scalars
 * stay strings.
 *
 * A manifest directory may be writable by less trusted parties, so the
 * builder guards against hostile input: nesting deeper than YAML_MAX_DEPTH,
 * streams expanding to more than YAML_MAX_NODES values or to more than
 * BOUND_YAML_EXPANDED_BYTES of JSON (alias bombs, "billion laughs", one
 * huge anchored string aliased many times), and more than
 * BOUND_YAML_ANCHORS anchors are refused instead of exhausting the stack
 * or memory.  Sizes are counted as the tree is built, before an alias is
 * copied, so a refused stream never costs more than its bound.  Anchors
 * are found through a hash table: a stream of many anchors and aliases
 * parses in linear time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "bounds.h"
#include "util.h"
#include "yamljson.h"
#include "yamlscalar.h"

#define YAML_MAX_DEPTH	64
#define YAML_MAX_NODES	1000000
#define YAML_BUCKETS_MIN 64

/* A node with an &anchor, kept until the end of its document. */
struct yaml_anchor {
	struct yaml_anchor *next;	/* in its hash bucket */
	uint32_t	 hash;
	char		*name;
	const cJSON	*node;		/* inside the document being built */
	size_t		 n_nodes;	/* values in its subtree */
	size_t		 bytes;		/* JSON bytes of its subtree, about */
	int		 height;	/* nesting levels in its subtree */
};

struct yaml_builder {
	yaml_parser_t		 parser;
	struct yaml_anchor	**buckets;	/* n_buckets, a power of 2 */
	size_t			 n_buckets;
	size_t			 n_anchors;	/* in the table (document) */
	size_t			 n_defined;	/* anchors defined in the stream */
	size_t			 n_nodes;	/* whole stream so far */
	size_t			 n_bytes;	/* JSON bytes, whole stream */
	char			*err;
	size_t			 err_len;
};

static int	yaml_node(struct yaml_builder *, yaml_event_t *, int,
		    cJSON **, size_t *, int *);

static int __attribute__((format(printf, 3, 4)))
yaml_fail(struct yaml_builder *b, const yaml_mark_t *mark, const char *fmt,
    ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(b->err, b->err_len, "line %zu: %s", mark->line + 1, msg);
	return -1;
}

/* Report libyaml's own syntax error. */
static int
yaml_parse_error(struct yaml_builder *b)
{
	const yaml_parser_t *p = &b->parser;
	const char *problem = p->problem != NULL ? p->problem : "syntax error";

	if (p->context != NULL)
		snprintf(b->err, b->err_len, "line %zu: %s %s",
		    p->problem_mark.line + 1, problem, p->context);
	else
		snprintf(b->err, b->err_len, "line %zu: %s",
		    p->problem_mark.line + 1, problem);
	return -1;
}

static int
yaml_next(struct yaml_builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return yaml_parse_error(b);
	return 0;
}

static void
yaml_anchors_clear(struct yaml_builder *b)
{
	struct yaml_anchor *a, *next;
	size_t i;

	for (i = 0; i < b->n_buckets; i++)
		for (a = b->buckets[i]; a != NULL; a = next) {
			next = a->next;
			free(a->name);
			free(a);
		}
	free(b->buckets);
	b->buckets = NULL;
	b->n_buckets = 0;
	b->n_anchors = 0;
}

/* FNV-1a */
static uint32_t
yaml_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static struct yaml_anchor *
yaml_anchor_find(const struct yaml_builder *b, const yaml_char_t *name)
{
	struct yaml_anchor *a;
	uint32_t h;

	if (b->n_buckets == 0)
		return NULL;
	h = yaml_hash((const char *)name);
	for (a = b->buckets[h & (b->n_buckets - 1)]; a != NULL; a = a->next)
		if (a->hash == h && strcmp(a->name, (const char *)name) == 0)
			return a;
	return NULL;
}

/* Double the table (or make the first one): load factor stays below 1. */
static void
yaml_anchors_grow(struct yaml_builder *b)
{
	struct yaml_anchor **buckets, *a, *next;
	size_t n = b->n_buckets ? b->n_buckets * 2 : YAML_BUCKETS_MIN, i;

	buckets = xcalloc(n, sizeof(*buckets));
	for (i = 0; i < b->n_buckets; i++)
		for (a = b->buckets[i]; a != NULL; a = next) {
			next = a->next;
			a->next = buckets[a->hash & (n - 1)];
			buckets[a->hash & (n - 1)] = a;
		}
	free(b->buckets);
	b->buckets = buckets;
	b->n_buckets = n;
}

static int
yaml_anchor_add(struct yaml_builder *b, const yaml_mark_t *mark,
    const yaml_char_t *name, const cJSON *node, size_t n_nodes, size_t bytes,
    int height)
{
	struct yaml_anchor *a;
	size_t i;

	if (b->n_defined >= BOUND_YAML_ANCHORS)
		return yaml_fail(b, mark, "more than %d anchors "
		    "(BOUND_YAML_ANCHORS)", BOUND_YAML_ANCHORS);
	b->n_defined++;
	/* YAML allows redefining an anchor: the latest definition wins. */
	if ((a = yaml_anchor_find(b, name)) == NULL) {
		if (b->n_anchors >= b->n_buckets)
			yaml_anchors_grow(b);
		a = xcalloc(1, sizeof(*a));
		a->name = xstrdup((const char *)name);
		a->hash = yaml_hash(a->name);
		i = a->hash & (b->n_buckets - 1);
		a->next = b->buckets[i];
		b->buckets[i] = a;
		b->n_anchors++;
	}
	a->node = node;
	a->n_nodes = n_nodes;
	a->bytes = bytes;
	a->height = height;
	return 0;
}

/* Count one more value; refuse streams that grow without bound. */
static int
yaml_count(struct yaml_builder *b, const yaml_mark_t *mark, size_t n)
{
	if (n > YAML_MAX_NODES - b->n_nodes)
		return yaml_fail(b, mark, "more than %d values (alias bomb?)",
		    YAML_MAX_NODES);
	b->n_nodes += n;
	return 0;
}

/*
 * Count JSON bytes (about: a value's text, its key, quotes and separators)
 * before the value is made; refuse a stream that would pass the bound.
 */
static int
yaml_count_bytes(struct yaml_builder *b, const yaml_mark_t *mark, size_t n)
{
	if (n > BOUND_YAML_EXPANDED_BYTES - b->n_bytes)
		return yaml_fail(b, mark, "expands to more than %d bytes "
		    "(BOUND_YAML_EXPANDED_BYTES)", BOUND_YAML_EXPANDED_BYTES);
	b->n_bytes += n;
	return 0;
}

/* A mapping key and where it was, for the duplicate check. */
struct yaml_key_seen {
	const char	*key;		/* owned by the cJSON child */
	size_t		 line;
};

static int
yaml_key_cmp(const void *a, const void *b)
{
	const struct yaml_key_seen *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Duplicate keys are an error in Kubernetes' YAML reader too.  Checked
 * once the mapping is complete: a small one (most of a manifest's) pair
 * by pair, a larger one by sorting, which keeps huge maps n log n.  The
 * later of two equal keys is the one reported either way.
 */
#define YAML_KEYS_SMALL	16

static int
yaml_dup_keys(struct yaml_builder *b, struct yaml_key_seen *keys, size_t n)
{
	yaml_mark_t mark;
	size_t i, j, dup = 0;

	if (n <= YAML_KEYS_SMALL) {
		for (i = 1; i < n && dup == 0; i++)
			for (j = 0; j < i; j++)
				if (strcmp(keys[j].key, keys[i].key) == 0) {
					dup = i;
					break;
				}
	} else {
		qsort(keys, n, sizeof(*keys), yaml_key_cmp);
		for (i = 1; i < n && dup == 0; i++)
			if (strcmp(keys[i - 1].key, keys[i].key) == 0)
				dup = i;
	}
	if (dup == 0)
		return 0;
	memset(&mark, 0, sizeof(mark));
	mark.line = keys[dup].line;
	return yaml_fail(b, &mark, "duplicate key \"%s\"", keys[dup].key);
}

/*
 * Read a mapping key: JSON keys are strings, so it must be a scalar.  A
 * scalar's buffer is taken from the event, as yamlscalar_resolve does.
 */
static int
yaml_key(struct yaml_builder *b, yaml_event_t *ev, char **key)
{
	const struct yaml_anchor *a;

	*key = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    strcmp((const char *)ev->data.scalar.value, "<<") == 0)
			return yaml_fail(b, &ev->start_mark,
			    "merge keys (<<) are not supported");
		if (yaml_count_bytes(b, &ev->start_mark,
		    ev->data.scalar.length + 3) == -1)
			return -1;
		*key = (char *)ev->data.scalar.value;
		ev->data.scalar.value = NULL;
		return 0;
	case YAML_ALIAS_EVENT:
		a = yaml_anchor_find(b, ev->data.alias.anchor);
		if (a != NULL && cJSON_IsString(a->node)) {
			if (yaml_count_bytes(b, &ev->start_mark,
			    a->bytes + 1) == -1)
				return -1;
			*key = xstrdup(a->node->valuestring);
			return 0;
		}
		break;
	default:
		break;
	}
	return yaml_fail(b, &ev->start_mark, "mapping key must be a string");
}

/*
 * Children of a sequence or mapping, up to its end event.  Adds the number
 * of values and the height of the tallest child to *n_nodes and *height.
 */
static int
yaml_children(struct yaml_builder *b, cJSON *parent, int is_map, int depth,
    size_t *n_nodes, int *height)
{
	yaml_event_t ev;
	yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT :
	    YAML_SEQUENCE_END_EVENT;
	struct yaml_key_seen small[YAML_KEYS_SMALL], *keys = small;
	size_t n_keys = 0, cap_keys = YAML_KEYS_SMALL, key_line = 0, cn;
	char *key = NULL;
	cJSON *child;
	int ch, rc;

	for (;;) {
		if (yaml_next(b, &ev) == -1)
			goto fail;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			rc = yaml_dup_keys(b, keys, n_keys);
			if (keys != small)
				free(keys);
			return rc;
		}
		if (is_map) {
			key_line = ev.start_mark.line;
			rc = yaml_key(b, &ev, &key);
			yaml_event_delete(&ev);
			if (rc == -1)
				goto fail;
			if (yaml_next(b, &ev) == -1)
				goto fail;
		}
		cn = 0;
		ch = 0;
		if (yaml_node(b, &ev, depth + 1, &child, &cn, &ch) == -1)
			goto fail;
		if (is_map) {
			/*
			 * What cJSON_AddItemToObject does, without copying
			 * the key: the child takes it (an alias's copy may
			 * bring the key it had where its anchor was).
			 */
			free(child->string);
			child->string = key;
			key = NULL;
			cJSON_AddItemToArray(parent, child);
			if (n_keys == cap_keys) {
				cap_keys *= 2;
				if (keys == small) {
					keys = xreallocarray(NULL, cap_keys,
					    sizeof(*keys));
					memcpy(keys, small, sizeof(small));
				} else
					keys = xreallocarray(keys, cap_keys,
					    sizeof(*keys));
			}
			keys[n_keys].key = child->string;
			keys[n_keys++].line = key_line;
		} else
			cJSON_AddItemToArray(parent, child);
		*n_nodes += cn;
		if (ch > *height)
			*height = ch;
	}
fail:
	if (keys != small)
		free(keys);
	free(key);
	return -1;
}

/*
 * Build the node that starts with *ev (consumed).  depth is the nesting
 * level of this node; *n_nodes and *height receive the size of the result.
 */
static int
yaml_node(struct yaml_builder *b, yaml_event_t *ev, int depth, cJSON **out,
    size_t *n_nodes, int *height)
{
	const struct yaml_anchor *a;
	const yaml_char_t *anchor = NULL;
	yaml_mark_t mark = ev->start_mark;
	size_t bytes0 = b->n_bytes;
	cJSON *node = NULL;
	int rc = -1, is_map;

	*out = NULL;
	*n_nodes = 1;
	*height = 1;
	if (depth > YAML_MAX_DEPTH) {
		yaml_fail(b, &mark, "nested deeper than %d levels",
		    YAML_MAX_DEPTH);
		goto done;
	}

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		a = yaml_anchor_find(b, ev->data.alias.anchor);
		if (a == NULL) {
			/* Also an alias to its own, unfinished, anchor. */
			yaml_fail(b, &mark, "unknown alias *%s",
			    ev->data.alias.anchor);
			goto done;
		}
		if (depth - 1 + a->height > YAML_MAX_DEPTH) {
			yaml_fail(b, &mark, "nested deeper than %d levels",
			    YAML_MAX_DEPTH);
			goto done;
		}
		if (yaml_count(b, &mark, a->n_nodes) == -1 ||
		    yaml_count_bytes(b, &mark, a->bytes) == -1)
			goto done;
		node = cJSON_Duplicate(a->node, 1);
		*n_nodes = a->n_nodes;
		*height = a->height;
		rc = 0;
		break;
	case YAML_SCALAR_EVENT:
		if (yaml_count(b, &mark, 1) == -1 || yaml_count_bytes(b, &mark,
		    ev->data.scalar.length + 3) == -1)
			goto done;
		anchor = ev->data.scalar.anchor;
		node = yamlscalar_resolve(ev);
		rc = 0;
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (yaml_count(b, &mark, 1) == -1 ||
		    yaml_count_bytes(b, &mark, 2) == -1)
			goto done;
		is_map = ev->type == YAML_MAPPING_START_EVENT;
		anchor = is_map ? ev->data.mapping_start.anchor :
		    ev->data.sequence_start.anchor;
		node = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
		*height = 0;
		if (yaml_children(b, node, is_map, depth, n_nodes,
		    height) == -1)
			goto done;
		(*height)++;
		rc = 0;
		break;
	default:
		yaml_fail(b, &mark, "unexpected event %d", ev->type);
		goto done;
	}
	if (node == NULL) {
		yaml_fail(b, &mark, "out of memory");
		rc = -1;
	} else if (anchor != NULL && yaml_anchor_add(b, &mark, anchor, node,
	    *n_nodes, b->n_bytes - bytes0, *height) == -1)
		rc = -1;
done:
	/* anchor points into ev: it is copied above before this. */
	yaml_event_delete(ev);
	if (rc == -1) {
		cJSON_Delete(node);
		return -1;
	}
	*out = node;
	return 0;
}

/* One document: its root node, or NULL for an empty one. */
static int
yaml_document(struct yaml_builder *b, cJSON **root)
{
	yaml_event_t ev;
	size_t n;
	int h;

	*root = NULL;
	if (yaml_next(b, &ev) == -1)
		return -1;
	if (yaml_node(b, &ev, 1, root, &n, &h) == -1)
		return -1;
	if (yaml_next(b, &ev) == -1)
		goto fail;
	if (ev.type != YAML_DOCUMENT_END_EVENT) {
		yaml_fail(b, &ev.start_mark, "expected end of document");
		yaml_event_delete(&ev);
		goto fail;
	}
	yaml_event_delete(&ev);
	/* Anchors never reach across "---". */
	yaml_anchors_clear(b);
	if (cJSON_IsNull(*root)) {
		cJSON_Delete(*root);
		*root = NULL;
	}
	return 0;
fail:
	cJSON_Delete(*root);
	*root = NULL;
	return -1;
}

cJSON *
yaml_parse_stream(const char *text, size_t len, char *err, size_t err_len)
{
	struct yaml_builder b;
	yaml_event_t ev;
	cJSON *docs, *root;
	int done = 0;

	memset(&b, 0, sizeof(b));
	b.err = err;
	b.err_len = err_len;
	if (err_len > 0)
		err[0] = '\0';
	if (!yaml_parser_initialize(&b.parser)) {
		snprintf(err, err_len, "line 1: cannot initialise libyaml");
		return NULL;
	}
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)text,
	    len);
	if ((docs = cJSON_CreateArray()) == NULL) {
		snprintf(err, err_len, "line 1: out of memory");
		yaml_parser_delete(&b.parser);
		return NULL;
	}

	while (!done) {
		if (yaml_next(&b, &ev) == -1)
			goto fail;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			yaml_event_delete(&ev);
			if (yaml_document(&b, &root) == -1)
				goto fail;
			if (root != NULL)
				cJSON_AddItemToArray(docs, root);
			continue;
		default:		/* stream start */
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&b.parser);
	return docs;
fail:
	yaml_anchors_clear(&b);
	yaml_parser_delete(&b.parser);
	cJSON_Delete(docs);
	return NULL;
}
