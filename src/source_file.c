/*
 * source_file.c - Services and endpoints from manifest files: which files
 * to read, and when.  What a file contributes to the store, and its last
 * good content, is mfile.c's.
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

#include "log.h"
#include "manifest.h"
#include "mfile.h"
#include "source_file.h"
#include "store.h"
#include "util.h"

#define COALESCE_MS	30	/* a file created or touched, maybe half written */
#define COALESCE_DONE_MS 1	/* a file complete: rescan almost at once */

struct source_file {
	struct event_base *base;
	char		*path;		/* as given */
	char		*dir;		/* the directory watched */
	char		*only;		/* basename when path is a file, else NULL */
	struct mfile_set set;
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
	TAILQ_FOREACH(f, &sf->set.files, entry)
		if (strcmp(f->path, path) == 0)
			break;
	if (f == NULL) {
		f = mfile_add(&sf->set, path);
		force = 1;
	} else
		free(path);
	f->seen = 1;
	if (force || stat_changed(&st, &f->st)) {
		f->st = st;
		mfile_read(&sf->set, f);
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

	TAILQ_FOREACH(f, &sf->set.files, entry)
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
		TAILQ_FOREACH_SAFE(f, &sf->set.files, entry, next) {
			if (f->seen)
				continue;
			log_info("manifests %s: removed", f->path);
			mfile_remove(&sf->set, f);
		}
	}
	store_flush(sf->set.store);
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
	sf->path = xstrdup(path);
	sf->inotify_fd = -1;
	mfile_set_init(&sf->set, store, np_lo, np_hi);
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
	if (sf == NULL)
		return;
	mfile_set_clear(&sf->set);
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
