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
 *   - objects that disappeared from a file are deleted from the store.
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

#include "k8s.h"
#include "log.h"
#include "source_file.h"
#include "store.h"
#include "tree.h"
#include "util.h"
#include "yamljson.h"

#define MANIFEST_MAX	(16 << 20)	/* bytes per file */
#define COALESCE_MS	30	/* a file created or touched, maybe half written */
#define COALESCE_DONE_MS 1	/* a file complete: rescan almost at once */

/* What a file contributed to the store, and the raw JSON to fall back on. */
RB_HEAD(mobjects, mobject);

struct mobject {
	RB_ENTRY(mobject) node;		/* in mfile.objs, by kind and name */
	enum k8s_kind	 kind;
	char		*name;		/* "ns/name" */
	char		*json;		/* last good raw object, compact JSON */
};

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
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->name, b->name);
}

RB_GENERATE_LOCAL(mobjects, mobject, node, mobject_cmp)

struct source_file {
	struct event_base *base;
	struct store	*store;
	char		*path;		/* as given */
	char		*dir;		/* the directory watched */
	char		*only;		/* basename when path is a file, else NULL */
	struct mfiles	 files;
	int		 inotify_fd;
	struct event	*inotify_ev;
	struct event	*coalesce_ev;
	int		 coalesce_done;	/* coalesce_ev runs the short delay */
};

static int
manifest_name_ok(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (name[0] == '.' || dot == NULL)	/* hidden, editor swap files */
		return 0;
	return strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 ||
	    strcmp(dot, ".json") == 0;
}

/* Line number of a position in text, for JSON syntax errors. */
static int
line_of(const char *text, const char *pos)
{
	int line = 1;

	for (; text < pos && *text; text++)
		if (*text == '\n')
			line++;
	return line;
}

/*
 * Parse a file into a cJSON array of documents.  JSON when the name ends in
 * .json or the text starts with '{' or '[', YAML otherwise.
 */
static cJSON *
parse_documents(const char *path, const char *text, size_t len, char *err,
    size_t err_len)
{
	const char *dot = strrchr(path, '.'), *t = text, *end = NULL;
	cJSON *doc, *docs;

	while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
		t++;
	if ((dot == NULL || strcmp(dot, ".json") != 0) && *t != '{' && *t != '[')
		return yaml_parse_stream(text, len, err, err_len);
	/* text is NUL-terminated: let cJSON see the NUL, so trailing junk fails. */
	doc = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
	if (doc == NULL) {
		snprintf(err, err_len, "line %d: invalid JSON",
		    line_of(text, end != NULL ? end : text + len));
		return NULL;
	}
	docs = cJSON_CreateArray();
	cJSON_AddItemToArray(docs, doc);
	return docs;
}

static struct mobject *
mobject_find(struct mobjects *objs, enum k8s_kind kind, const char *name)
{
	struct mobject key;

	key.kind = kind;
	key.name = (char *)(uintptr_t)name;	/* only compared */
	return RB_FIND(mobjects, objs, &key);
}

static void
mobjects_free(struct mobjects *objs)
{
	struct mobject *o;

	while ((o = RB_ROOT(objs)) != NULL) {
		RB_REMOVE(mobjects, objs, o);
		free(o->name);
		free(o->json);
		free(o);
	}
}

/* The kind a broken object claims to be, to find its last good version. */
static int
claimed_kind(const cJSON *raw, enum k8s_kind *kind)
{
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(raw, "kind"));

	if (k == NULL)
		return -1;
	if (strcmp(k, "Service") == 0)
		*kind = K8S_SERVICE;
	else if (strcmp(k, "EndpointSlice") == 0)
		*kind = K8S_ENDPOINTSLICE;
	else if (strcmp(k, "Endpoints") == 0)
		*kind = K8S_ENDPOINTS;
	else
		return -1;
	return 0;
}

/*
 * Decode one raw object of file f into the new object list (and the store).
 * `where` names it in messages: "document 2" or "document 1 item 3".
 */
static void
take_object(struct source_file *sf, struct mfile *f, const cJSON *raw,
    const char *where, struct mobjects *objs)
{
	struct k8s_object *obj = NULL;
	struct mobject *old, *o;
	enum k8s_kind kind;
	char name[512] = "", err[256] = "", *json = NULL;
	cJSON *last_good;
	int rc;

	rc = k8s_decode(raw, &obj, name, sizeof(name), err, sizeof(err));
	if (rc == 0) {
		log_debug(1, "manifests %s: %s: %s: ignored", f->path, where, err);
		return;
	}
	if (rc == -1) {
		old = NULL;
		if (name[0] != '\0' && claimed_kind(raw, &kind) == 0)
			old = mobject_find(&f->objs, kind, name);
		log_warnx("manifests %s: %s%s%s: %s; %s", f->path, where,
		    name[0] ? " " : "", name, err,
		    old ? "keeping its last good version" : "skipped");
		if (old == NULL)
			return;
		/* It decoded before, so it decodes again. */
		last_good = cJSON_Parse(old->json);
		rc = k8s_decode(last_good, &obj, name, sizeof(name), err,
		    sizeof(err));
		cJSON_Delete(last_good);
		if (rc != 1)
			return;
		json = xstrdup(old->json);
	}
	if (mobject_find(objs, obj->kind, name) != NULL) {
		log_warnx("manifests %s: %s: %s %s defined twice; keeping the first",
		    f->path, where, k8s_kind_str(obj->kind), name);
		k8s_object_free(obj);
		free(json);
		return;
	}
	/* Kept as text: a parsed tree would cost several times the memory. */
	if (json == NULL && (json = cJSON_PrintUnformatted(raw)) == NULL)
		fatalx("cJSON_PrintUnformatted: out of memory");
	o = xcalloc(1, sizeof(*o));
	o->kind = obj->kind;
	o->name = xstrdup(name);
	o->json = json;
	RB_INSERT(mobjects, objs, o);
	store_upsert(sf->store, obj);
}

/* Objects f used to have and no longer has (objs NULL: none) leave the store. */
static void
drop_missing(struct source_file *sf, struct mfile *f, struct mobjects *objs)
{
	struct mobject *o;
	char *slash;

	RB_FOREACH(o, mobjects, &f->objs) {
		if (objs != NULL && mobject_find(objs, o->kind, o->name))
			continue;
		slash = strchr(o->name, '/');
		*slash = '\0';
		store_delete(sf->store, o->kind, o->name, slash + 1);
		*slash = '/';
	}
}

/* The items of a `kind: List` (or ServiceList, ...), else NULL. */
static cJSON *
list_items(const cJSON *doc)
{
	const char *kind = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(doc, "kind"));
	cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	size_t len;

	if (kind == NULL || !cJSON_IsArray(items))
		return NULL;
	len = strlen(kind);
	return len >= 4 && strcmp(kind + len - 4, "List") == 0 ? items : NULL;
}

static void
mfile_read(struct source_file *sf, struct mfile *f)
{
	struct mobjects objs = RB_INITIALIZER(&objs);
	cJSON *docs, *doc, *item, *items;
	char err[256], where[64];
	size_t len;
	int d = 0, i;
	char *text;

	if ((text = file_read(f->path, MANIFEST_MAX, &len, err,
	    sizeof(err))) == NULL) {
		log_warnx("manifests %s: %s; keeping its last good content",
		    f->path, err);
		return;
	}
	docs = parse_documents(f->path, text, len, err, sizeof(err));
	free(text);
	if (docs == NULL) {
		log_warnx("manifests %s: %s; keeping its last good content",
		    f->path, err);
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
		if ((items = list_items(doc)) != NULL) {
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
	struct dirent *de;
	DIR *d;

	TAILQ_FOREACH(f, &sf->files, entry)
		f->seen = 0;
	if (sf->only != NULL)
		scan_one(sf, sf->only, force);
	else if ((d = opendir(sf->dir)) == NULL)
		log_warn("manifests %s: cannot read the directory; keeping the "
		    "last good content", sf->dir);
	else {
		while ((de = readdir(d)) != NULL)
			if (manifest_name_ok(de->d_name))
				scan_one(sf, de->d_name, force);
		closedir(d);
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
source_file_new(struct event_base *base, const char *path, struct store *store)
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
	struct mfile *f;

	if (sf == NULL)
		return;
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
