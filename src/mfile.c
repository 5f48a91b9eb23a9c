/*
 * mfile.c - what each manifest file contributes to the store (mfile.h).
 *
 * Each file is parsed into raw objects (a YAML stream's documents, a JSON
 * document, `kind: List` items), each object decoded by k8s.c and handed
 * to the store.  The file remembers its last good objects, so that:
 *
 *   - a file that does not parse at all keeps all of its last good content;
 *   - a broken object keeps its last good version (same kind and name) if
 *     the file had one, and is skipped otherwise;
 *   - objects that disappeared from a file are deleted from the store;
 *   - an object (kind, namespace, name) defined in two files is served
 *     from the file that had it first; the other copy waits, with one
 *     warning, and takes over when the first goes.
 *
 * Past a bound of bounds.h (bytes of a file, objects in a file, YAML
 * expansion), the file keeps its last good content, with one line naming
 * the file and the bound.  Values are checked by the decoder as the API
 * server would, plus the node-port range here (--service-node-port-range,
 * a flag of the API server that only manifests need).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bounds.h"
#include "k8s.h"
#include "log.h"
#include "manifest.h"
#include "mfile.h"
#include "store.h"
#include "util.h"
#include "validate.h"

/*
 * What a file contributed to the store: the last good version of each
 * object, decoded.  The store holds the same object (k8s_object_ref)
 * while this copy is the one served, so keeping it costs nothing; a copy
 * that another file serves waits here, decoded, until it is needed.
 */
struct mobject {
	RB_ENTRY(mobject) node;		/* in mfile.objs, by kind, ns, name */
	enum k8s_kind	 kind;
	const char	*ns;		/* obj's */
	const char	*name;		/* obj's */
	struct k8s_object *obj;		/* a reference: the last good version */
	int		 active;	/* in the store (else another file's
					   copy is) */
};

/* Which file serves an object defined in several: the first to have it. */
struct owner {
	RB_ENTRY(owner)	 node;		/* in mfile_set.owners */
	struct mobject	*m;		/* the served copy: key of the tree */
	struct mfile	*file;		/* that copy's file */
};

static int
mobject_cmp(const struct mobject *a, const struct mobject *b)
{
	return k8s_key_cmp(a->kind, a->ns, a->name, b->kind, b->ns, b->name);
}

static int
owner_cmp(const struct owner *a, const struct owner *b)
{
	return mobject_cmp(a->m, b->m);
}

RB_GENERATE_LOCAL(mobjects, mobject, node, mobject_cmp)
RB_GENERATE_LOCAL(owners, owner, node, owner_cmp)

static struct mobject *
mobject_find(struct mobjects *objs, enum k8s_kind kind, const char *ns,
    const char *name)
{
	struct mobject key;

	key.kind = kind;
	key.ns = ns;
	key.name = name;
	return RB_FIND(mobjects, objs, &key);
}

static struct owner *
owner_find(struct mfile_set *set, const struct mobject *m)
{
	struct owner key;

	key.m = (struct mobject *)(uintptr_t)m;	/* only compared */
	return RB_FIND(owners, &set->owners, &key);
}

static void
mobjects_free(struct mobjects *objs)
{
	struct mobject *o;

	while ((o = RB_ROOT(objs)) != NULL) {
		RB_REMOVE(mobjects, objs, o);
		k8s_object_free(o->obj);
		free(o);
	}
}

/*
 * Decode a raw object and apply the checks of this source.  Returns what
 * k8s_decode returns; the node-port range makes a decoded Service broken.
 */
static int
decode(struct mfile_set *set, const cJSON *raw, struct k8s_object **obj,
    char *hint, size_t hint_len, char *err, size_t err_len)
{
	int rc;

	rc = k8s_decode(raw, obj, hint, hint_len, err, err_len);
	if (rc == 1 && validate_node_ports(*obj, set->node_port_lo,
	    set->node_port_hi, err, err_len) == -1) {
		k8s_object_free(*obj);
		*obj = NULL;
		rc = -1;
	}
	return rc;
}

/*
 * Decode one raw object of file f into the new object list (and the store,
 * unless another file serves the same object).  `where` names it in
 * messages: "document 2" or "document 1 item 3".  Returns -1 when it
 * logged a warning, else 0.
 */
static int
take_object(struct mfile_set *set, struct mfile *f, const cJSON *raw,
    const char *where, struct mobjects *objs)
{
	struct k8s_object *obj = NULL;
	struct mobject *old = NULL, *prev, *o;
	struct owner *owner;
	enum k8s_kind kind;
	const char *ns, *nm;
	char hint[160] = "", err[256] = "";
	int rc;

	rc = decode(set, raw, &obj, hint, sizeof(hint), err, sizeof(err));
	if (rc == 0) {
		log_debug(1, "manifests %s: %s: %s: ignored", f->path, where, err);
		return 0;
	}
	if (rc == -1) {
		if (manifest_claimed_key(raw, &kind, &ns, &nm) == 0)
			old = mobject_find(&f->objs, kind, ns, nm);
		/* Names too long to be valid are cut (and marked) here. */
		if (nm != NULL && *nm != '\0' && *ns == '\0')
			/* cluster-scoped (a Node): no namespace */
			snprintf(hint, sizeof(hint), " %.63s%s", nm,
			    strlen(nm) > 63 ? "..." : "");
		else if (nm != NULL && *nm != '\0')
			snprintf(hint, sizeof(hint), " %.63s%s/%.63s%s", ns,
			    strlen(ns) > 63 ? "..." : "", nm,
			    strlen(nm) > 63 ? "..." : "");
		else
			hint[0] = '\0';
		log_warnx("manifests %s: %s%s: %s; %s", f->path, where, hint,
		    err, old ? "keeping its last good version" : "skipped");
		if (old == NULL)
			return -1;
		obj = k8s_object_ref(old->obj);
	}
	if (mobject_find(objs, obj->kind, obj->ns, obj->name) != NULL) {
		log_warnx("manifests %s: %s: %s %s/%s defined twice; keeping "
		    "the first", f->path, where, k8s_kind_str(obj->kind),
		    obj->ns, obj->name);
		goto skip;
	}
	o = xcalloc(1, sizeof(*o));
	o->kind = obj->kind;
	o->ns = obj->ns;
	o->name = obj->name;
	o->obj = obj;
	RB_INSERT(mobjects, objs, o);
	owner = owner_find(set, o);
	if (owner != NULL && owner->file != f) {
		/* Warned once, not on every re-read of this file. */
		prev = mobject_find(&f->objs, o->kind, o->ns, o->name);
		if (prev == NULL)
			log_warnx("manifests %s: %s: %s %s/%s is also defined "
			    "in %s; this copy is ignored while that one is "
			    "there", f->path, where, k8s_kind_str(o->kind),
			    o->ns, o->name, owner->file->path);
		return -1;	/* o keeps it, in case that one goes */
	}
	if (owner == NULL) {
		owner = xcalloc(1, sizeof(*owner));
		owner->file = f;
		owner->m = o;
		RB_INSERT(owners, &set->owners, owner);
	}
	owner->m = o;		/* same key: the tree order holds */
	o->active = 1;
	store_upsert(set->store, k8s_object_ref(obj));
	return rc == 1 ? 0 : -1;
skip:
	k8s_object_free(obj);
	return -1;
}

/*
 * The object of owner left its file (o is the copy that was served): the
 * first other file with a copy serves it now, else it leaves the store.
 * The owner entry is freed.
 */
static void
hand_over(struct mfile_set *set, struct mfile *from, struct owner *owner)
{
	const struct mobject *o = owner->m;
	struct k8s_object *obj;
	struct mobject *m;
	struct mfile *g;

	RB_REMOVE(owners, &set->owners, owner);
	TAILQ_FOREACH(g, &set->files, entry) {
		if (g == from ||
		    (m = mobject_find(&g->objs, o->kind, o->ns, o->name)) == NULL)
			continue;
		obj = k8s_object_ref(m->obj);
		log_info("manifests %s: %s %s/%s: served from this file now "
		    "that %s no longer has it", g->path, k8s_kind_str(o->kind),
		    o->ns, o->name, from->path);
		m->active = 1;
		owner->m = m;
		owner->file = g;
		RB_INSERT(owners, &set->owners, owner);
		store_upsert(set->store, obj);	/* replaces: no delete first */
		return;
	}
	store_delete(set->store, o->kind, o->ns, o->name);
	free(owner);
}

/*
 * Objects f used to serve and no longer has (objs NULL: none) leave the
 * store, or are served from another file that has them too.
 */
static void
drop_missing(struct mfile_set *set, struct mfile *f, struct mobjects *objs)
{
	struct owner *owner;
	struct mobject *o;

	RB_FOREACH(o, mobjects, &f->objs) {
		if (!o->active || (objs != NULL &&
		    mobject_find(objs, o->kind, o->ns, o->name) != NULL))
			continue;
		if ((owner = owner_find(set, o)) != NULL && owner->m == o)
			hand_over(set, f, owner);
		else		/* cannot happen: an active copy has its owner */
			store_delete(set->store, o->kind, o->ns, o->name);
	}
}

void
mfile_read(struct mfile_set *set, struct mfile *f)
{
	struct mobjects objs = RB_INITIALIZER(&objs);
	cJSON *docs, *doc, *item, *items;
	char err[256], where[64];
	size_t len, n_objects = 0;
	int d = 0, i, clean = 1;
	char *text;

	/* f->st is from the scan; file_read checks again what it opens. */
	if (f->st.st_size > BOUND_MANIFEST_BYTES) {
		log_warnx("manifests %s: %lld bytes, more than the bound of %d "
		    "(BOUND_MANIFEST_BYTES); keeping its last good content",
		    f->path, (long long)f->st.st_size, BOUND_MANIFEST_BYTES);
		return;
	}
	if (f->text != NULL && file_same(f->path, f->text, f->text_len)) {
		log_debug(1, "manifests %s: unchanged since its last read",
		    f->path);
		return;
	}
	if ((text = file_read(f->path, BOUND_MANIFEST_BYTES, &len, err,
	    sizeof(err))) == NULL) {
		log_warnx("manifests %s: %s; keeping its last good content",
		    f->path, err);
		return;
	}
	free(f->text);
	f->text = NULL;
	docs = manifest_parse(f->path, text, len, err, sizeof(err));
	if (docs == NULL) {
		log_warnx("manifests %s: %s; keeping its last good content",
		    f->path, err);
		free(text);
		return;
	}
	/* Counted before any is taken: the file is one unit, kept or not. */
	cJSON_ArrayForEach(doc, docs)
		n_objects += (items = manifest_list_items(doc)) != NULL ?
		    (size_t)cJSON_GetArraySize(items) : 1;
	if (n_objects > BOUND_OBJECTS_PER_FILE) {
		log_warnx("manifests %s: %zu objects, more than the bound of "
		    "%d (BOUND_OBJECTS_PER_FILE); keeping its last good "
		    "content", f->path, n_objects, BOUND_OBJECTS_PER_FILE);
		cJSON_Delete(docs);
		free(text);
		return;
	}
	cJSON_ArrayForEach(doc, docs) {
		d++;
		if (!cJSON_IsObject(doc)) {
			if (!cJSON_IsNull(doc)) {
				log_warnx("manifests %s: document %d: not an "
				    "object; skipped", f->path, d);
				clean = 0;
			}
			continue;
		}
		if ((items = manifest_list_items(doc)) != NULL) {
			i = 0;
			cJSON_ArrayForEach(item, items) {
				snprintf(where, sizeof(where),
				    "document %d item %d", d, ++i);
				if (take_object(set, f, item, where, &objs) == -1)
					clean = 0;
			}
			continue;
		}
		snprintf(where, sizeof(where), "document %d", d);
		if (take_object(set, f, doc, where, &objs) == -1)
			clean = 0;
	}
	cJSON_Delete(docs);
	drop_missing(set, f, &objs);
	mobjects_free(&f->objs);
	f->objs = objs;
	if (clean) {
		f->text = text;
		f->text_len = len;
	} else
		free(text);
	log_debug(1, "manifests %s: read", f->path);
}

void
mfile_set_init(struct mfile_set *set, struct store *store, uint16_t np_lo,
    uint16_t np_hi)
{
	memset(set, 0, sizeof(*set));
	set->store = store;
	TAILQ_INIT(&set->files);
	RB_INIT(&set->owners);
	set->node_port_lo = np_lo;
	set->node_port_hi = np_hi;
}

struct mfile *
mfile_add(struct mfile_set *set, char *path)
{
	struct mfile *f = xcalloc(1, sizeof(*f));

	f->path = path;
	RB_INIT(&f->objs);
	TAILQ_INSERT_TAIL(&set->files, f, entry);
	return f;
}

static void
mfile_free(struct mfile *f)
{
	mobjects_free(&f->objs);
	free(f->text);
	free(f->path);
	free(f);
}

void
mfile_remove(struct mfile_set *set, struct mfile *f)
{
	TAILQ_REMOVE(&set->files, f, entry);
	drop_missing(set, f, NULL);
	mfile_free(f);
}

void
mfile_set_clear(struct mfile_set *set)
{
	struct owner *owner;
	struct mfile *f;

	while ((owner = RB_ROOT(&set->owners)) != NULL) {
		RB_REMOVE(owners, &set->owners, owner);
		free(owner);
	}
	while ((f = TAILQ_FIRST(&set->files)) != NULL) {
		TAILQ_REMOVE(&set->files, f, entry);
		mfile_free(f);
	}
}
