/*
 * source_file.c - Services and endpoints from manifest files.
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
 *
 * Only files whose inode, size or mtime changed are parsed again, so a
 * change costs work in proportion to the changed file.  The directory is
 * watched with inotify (editors replace files by rename, so the directory,
 * not the file, is what to watch); events are coalesced by a short timer
 * and answered with a rescan: 1 ms after an event that says a file is
 * whole (written and closed, renamed in, removed), 30 ms after one that
 * says it is being written (created, touched) and no end came yet.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/sys/queue.h>

#include "bounds.h"
#include "k8s.h"
#include "log.h"
#include "manifest.h"
#include "source_file.h"
#include "store.h"
#include "tree.h"
#include "util.h"
#include "validate.h"

#define COALESCE_MS	30	/* a file created or touched, maybe half written */
#define COALESCE_DONE_MS 1	/* a file complete: rescan almost at once */

/*
 * What a file contributed to the store: the last good version of each
 * object, decoded.  The store holds the same object (k8s_object_ref)
 * while this copy is the one served, so keeping it costs nothing; a copy
 * that another file serves waits here, decoded, until it is needed.
 */
RB_HEAD(mobjects, mobject);

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
	RB_ENTRY(owner)	 node;		/* in source_file.owners */
	struct mobject	*m;		/* the served copy: key of the tree */
	struct mfile	*file;		/* that copy's file */
};
RB_HEAD(owners, owner);

struct mfile {
	TAILQ_ENTRY(mfile) entry;
	char		*path;
	struct stat	 st;		/* when last read */
	struct mobjects	 objs;
	int		 seen;		/* present in the current scan */
};

TAILQ_HEAD(mfiles, mfile);

static int
mobject_cmp(const struct mobject *a, const struct mobject *b)
{
	int r;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((r = strcmp(a->ns, b->ns)) != 0)
		return r;
	return strcmp(a->name, b->name);
}

static int
owner_cmp(const struct owner *a, const struct owner *b)
{
	return mobject_cmp(a->m, b->m);
}

RB_GENERATE_LOCAL(mobjects, mobject, node, mobject_cmp)
RB_GENERATE_LOCAL(owners, owner, node, owner_cmp)

struct source_file {
	struct event_base *base;
	struct store	*store;
	char		*path;		/* as given */
	char		*dir;		/* the directory watched */
	char		*only;		/* basename when path is a file, else NULL */
	struct mfiles	 files;
	struct owners	 owners;
	uint16_t	 node_port_lo, node_port_hi;
	int		 inotify_fd;
	struct event	*inotify_ev;
	struct event	*coalesce_ev;
	int		 coalesce_done;	/* coalesce_ev runs the short delay */
};

static int
manifest_dirent_ok(const struct dirent *de)
{
	return manifest_name_ok(de->d_name);
}

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
owner_find(struct source_file *sf, const struct mobject *m)
{
	struct owner key;

	key.m = (struct mobject *)(uintptr_t)m;	/* only compared */
	return RB_FIND(owners, &sf->owners, &key);
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
decode(struct source_file *sf, const cJSON *raw, struct k8s_object **obj,
    char *hint, size_t hint_len, char *err, size_t err_len)
{
	int rc;

	rc = k8s_decode(raw, obj, hint, hint_len, err, err_len);
	if (rc == 1 && validate_node_ports(*obj, sf->node_port_lo,
	    sf->node_port_hi, err, err_len) == -1) {
		k8s_object_free(*obj);
		*obj = NULL;
		rc = -1;
	}
	return rc;
}

/*
 * Decode one raw object of file f into the new object list (and the store,
 * unless another file serves the same object).  `where` names it in
 * messages: "document 2" or "document 1 item 3".
 */
static void
take_object(struct source_file *sf, struct mfile *f, const cJSON *raw,
    const char *where, struct mobjects *objs)
{
	struct k8s_object *obj = NULL;
	struct mobject *old = NULL, *prev, *o;
	struct owner *owner;
	enum k8s_kind kind;
	const char *ns, *nm;
	char hint[160] = "", err[256] = "";
	int rc;

	rc = decode(sf, raw, &obj, hint, sizeof(hint), err, sizeof(err));
	if (rc == 0) {
		log_debug(1, "manifests %s: %s: %s: ignored", f->path, where, err);
		return;
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
			return;
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
	owner = owner_find(sf, o);
	if (owner != NULL && owner->file != f) {
		/* Warned once, not on every re-read of this file. */
		prev = mobject_find(&f->objs, o->kind, o->ns, o->name);
		if (prev == NULL)
			log_warnx("manifests %s: %s: %s %s/%s is also defined "
			    "in %s; this copy is ignored while that one is "
			    "there", f->path, where, k8s_kind_str(o->kind),
			    o->ns, o->name, owner->file->path);
		return;		/* o keeps it, in case that one goes */
	}
	if (owner == NULL) {
		owner = xcalloc(1, sizeof(*owner));
		owner->file = f;
		owner->m = o;
		RB_INSERT(owners, &sf->owners, owner);
	}
	owner->m = o;		/* same key: the tree order holds */
	o->active = 1;
	store_upsert(sf->store, k8s_object_ref(obj));
	return;
skip:
	k8s_object_free(obj);
}

/*
 * The object of owner left its file (o is the copy that was served): the
 * first other file with a copy serves it now, else it leaves the store.
 * The owner entry is freed.
 */
static void
hand_over(struct source_file *sf, struct mfile *from, struct owner *owner)
{
	const struct mobject *o = owner->m;
	struct k8s_object *obj;
	struct mobject *m;
	struct mfile *g;

	RB_REMOVE(owners, &sf->owners, owner);
	TAILQ_FOREACH(g, &sf->files, entry) {
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
		RB_INSERT(owners, &sf->owners, owner);
		store_upsert(sf->store, obj);	/* replaces: no delete first */
		return;
	}
	store_delete(sf->store, o->kind, o->ns, o->name);
	free(owner);
}

/*
 * Objects f used to serve and no longer has (objs NULL: none) leave the
 * store, or are served from another file that has them too.
 */
static void
drop_missing(struct source_file *sf, struct mfile *f, struct mobjects *objs)
{
	struct owner *owner;
	struct mobject *o;

	RB_FOREACH(o, mobjects, &f->objs) {
		if (!o->active || (objs != NULL &&
		    mobject_find(objs, o->kind, o->ns, o->name) != NULL))
			continue;
		if ((owner = owner_find(sf, o)) != NULL && owner->m == o)
			hand_over(sf, f, owner);
		else		/* cannot happen: an active copy has its owner */
			store_delete(sf->store, o->kind, o->ns, o->name);
	}
}

static void
mfile_read(struct source_file *sf, struct mfile *f)
{
	struct mobjects objs = RB_INITIALIZER(&objs);
	cJSON *docs, *doc, *item, *items;
	char err[256], where[64];
	size_t len, n_objects = 0;
	int d = 0, i;
	char *text;

	/* f->st is from the scan; file_read checks again what it opens. */
	if (f->st.st_size > BOUND_MANIFEST_BYTES) {
		log_warnx("manifests %s: %lld bytes, more than the bound of %d "
		    "(BOUND_MANIFEST_BYTES); keeping its last good content",
		    f->path, (long long)f->st.st_size, BOUND_MANIFEST_BYTES);
		return;
	}
	if ((text = file_read(f->path, BOUND_MANIFEST_BYTES, &len, err,
	    sizeof(err))) == NULL) {
		log_warnx("manifests %s: %s; keeping its last good content",
		    f->path, err);
		return;
	}
	docs = manifest_parse(f->path, text, len, err, sizeof(err));
	free(text);
	if (docs == NULL) {
		log_warnx("manifests %s: %s; keeping its last good content",
		    f->path, err);
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
		return;
	}
	cJSON_ArrayForEach(doc, docs) {
		d++;
		if (!cJSON_IsObject(doc)) {
			if (!cJSON_IsNull(doc))
				log_warnx("manifests %s: document %d: not an "
				    "object; skipped", f->path, d);
			continue;
		}
		if ((items = manifest_list_items(doc)) != NULL) {
			i = 0;
			cJSON_ArrayForEach(item, items) {
				snprintf(where, sizeof(where),
				    "document %d item %d", d, ++i);
				take_object(sf, f, item, where, &objs);
			}
			continue;
		}
		snprintf(where, sizeof(where), "document %d", d);
		take_object(sf, f, doc, where, &objs);
	}
	cJSON_Delete(docs);
	drop_missing(sf, f, &objs);
	mobjects_free(&f->objs);
	f->objs = objs;
	log_debug(1, "manifests %s: read", f->path);
}

static void
mfile_free(struct source_file *sf, struct mfile *f, int delete)
{
	if (delete)
		drop_missing(sf, f, NULL);
	mobjects_free(&f->objs);
	free(f->path);
	free(f);
}

static int
stat_changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_dev != b->st_dev ||
	    a->st_size != b->st_size ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

static void
scan_one(struct source_file *sf, const char *name, int force)
{
	struct mfile *f;
	struct stat st;
	char *path;

	path = xasprintf("%s/%s", sf->dir, name);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		free(path);
		return;
	}
	TAILQ_FOREACH(f, &sf->files, entry)
		if (strcmp(f->path, path) == 0)
			break;
	if (f == NULL) {
		f = xcalloc(1, sizeof(*f));
		f->path = path;
		TAILQ_INSERT_TAIL(&sf->files, f, entry);
		force = 1;
	} else
		free(path);
	f->seen = 1;
	if (force || stat_changed(&st, &f->st)) {
		f->st = st;
		mfile_read(sf, f);
	}
}

/*
 * Bring the store in line with the files: read new and changed files (all
 * when force), forget deleted ones, then report the changes.
 */
static void
source_file_scan(struct source_file *sf, int force)
{
	struct mfile *f, *next;
	struct dirent **names;
	int i, n;

	TAILQ_FOREACH(f, &sf->files, entry)
		f->seen = 0;
	if (sf->only != NULL)
		scan_one(sf, sf->only, force);
	/*
	 * In name order, so that of two files defining the same object the
	 * same one wins at every start.
	 */
	else if ((n = scandir(sf->dir, &names, manifest_dirent_ok,
	    alphasort)) == -1)
		log_warn("manifests %s: cannot read the directory; keeping the "
		    "last good content", sf->dir);
	else {
		for (i = 0; i < n; i++) {
			scan_one(sf, names[i]->d_name, force);
			free(names[i]);
		}
		free(names);
		TAILQ_FOREACH_SAFE(f, &sf->files, entry, next) {
			if (f->seen)
				continue;
			log_info("manifests %s: removed", f->path);
			TAILQ_REMOVE(&sf->files, f, entry);
			mfile_free(sf, f, 1);
		}
	}
	store_flush(sf->store);
	/*
	 * Parse trees of a large manifest are freed by now; hand the memory
	 * back to the kernel instead of keeping the peak for the process's life.
	 */
	malloc_trim(0);
}

static void
coalesce_cb(evutil_socket_t fd, short what, void *arg)
{
	struct source_file *sf = arg;

	(void)fd;
	(void)what;
	sf->coalesce_done = 0;
	source_file_scan(sf, 0);
}

static void
inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct source_file *sf = arg;
	struct timeval tv = { 0, COALESCE_MS * 1000 };
	struct timeval tv_done = { 0, COALESCE_DONE_MS * 1000 };
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ie;
	ssize_t n, off;
	int done = 0;

	(void)what;
	/*
	 * The events only say "look again"; the scan finds what changed.
	 * Their kind sets how long to wait: a write that ended needs no
	 * grace period, a file just created may still be half written.
	 */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; off += sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)(buf + off);
			if (ie->mask & (IN_CLOSE_WRITE | IN_MOVED_TO |
			    IN_MOVED_FROM | IN_DELETE | IN_Q_OVERFLOW))
				done = 1;
		}
	if (done && !sf->coalesce_done) {
		/* Replaces a longer wait already pending. */
		sf->coalesce_done = 1;
		evtimer_add(sf->coalesce_ev, &tv_done);
	} else if (!evtimer_pending(sf->coalesce_ev, NULL))
		evtimer_add(sf->coalesce_ev, &tv);
}

struct source_file *
source_file_new(struct event_base *base, const char *path, struct store *store,
    uint16_t np_lo, uint16_t np_hi)
{
	struct source_file *sf;
	struct stat st;
	char *copy;

	if (stat(path, &st) == -1)
		return NULL;		/* errno says why; the caller reports it */
	sf = xcalloc(1, sizeof(*sf));
	sf->base = base;
	sf->store = store;
	sf->path = xstrdup(path);
	sf->inotify_fd = -1;
	TAILQ_INIT(&sf->files);
	RB_INIT(&sf->owners);
	sf->node_port_lo = np_lo;
	sf->node_port_hi = np_hi;
	if (S_ISDIR(st.st_mode))
		sf->dir = xstrdup(path);
	else {
		copy = xstrdup(path);
		sf->dir = xstrdup(dirname(copy));
		free(copy);
		copy = xstrdup(path);
		sf->only = xstrdup(basename(copy));
		free(copy);
	}
	sf->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sf->inotify_fd == -1 || inotify_add_watch(sf->inotify_fd, sf->dir,
	    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
	    IN_CREATE | IN_ATTRIB) == -1) {
		log_warn("manifests %s: cannot watch for changes", sf->dir);
		goto fail;
	}
	sf->inotify_ev = event_new(base, sf->inotify_fd, EV_READ | EV_PERSIST,
	    inotify_cb, sf);
	sf->coalesce_ev = evtimer_new(base, coalesce_cb, sf);
	if (sf->inotify_ev == NULL || sf->coalesce_ev == NULL ||
	    event_add(sf->inotify_ev, NULL) == -1) {
		log_warnx("manifests %s: cannot create events", sf->dir);
		goto fail;
	}
	source_file_scan(sf, 1);
	return sf;
fail:
	source_file_free(sf);
	return NULL;
}

void
source_file_reload(struct source_file *sf)
{
	log_info("manifests %s: reloading", sf->path);
	source_file_scan(sf, 1);
}

void
source_file_free(struct source_file *sf)
{
	struct owner *owner;
	struct mfile *f;

	if (sf == NULL)
		return;
	while ((owner = RB_ROOT(&sf->owners)) != NULL) {
		RB_REMOVE(owners, &sf->owners, owner);
		free(owner);
	}
	while ((f = TAILQ_FIRST(&sf->files)) != NULL) {
		TAILQ_REMOVE(&sf->files, f, entry);
		mfile_free(sf, f, 0);
	}
	if (sf->inotify_ev != NULL)
		event_free(sf->inotify_ev);
	if (sf->coalesce_ev != NULL)
		event_free(sf->coalesce_ev);
	if (sf->inotify_fd != -1)
		close(sf->inotify_fd);
	free(sf->path);
	free(sf->dir);
	free(sf->only);
	free(sf);
}
