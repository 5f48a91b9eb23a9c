/*
 * mfile.h - what each manifest file contributes to the store
 * (source_file.c's private half; see source_file.h for the behaviour).
 *
 * A file's objects are kept decoded, as their last good versions; an
 * object (kind, namespace, name) defined in several files is served from
 * the first to have it, and the other copies wait.  source_file.c decides
 * which files to read and when; mfile.c reads one and keeps the store in
 * line with it.
 */
#ifndef MFILE_H
#define MFILE_H

#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>

#include <bsd/sys/queue.h>

#include "tree.h"

struct store;
struct mobject;
struct owner;

RB_HEAD(mobjects, mobject);
RB_HEAD(owners, owner);

struct mfile {
	TAILQ_ENTRY(mfile) entry;
	char		*path;
	struct stat	 st;		/* when last read */
	int		 seen;		/* present in the current scan */
	/* mfile.c's own: */
	struct mobjects	 objs;		/* the last good objects, by key */
	/*
	 * The text of the last read if it took every object without a
	 * warning, else NULL: the same bytes again (a rewrite by a
	 * configuration tool, SIGHUP) are not parsed again.  A read with a
	 * warning is not kept, since its cause may have been passing (out
	 * of memory while decoding) rather than in the text.
	 */
	char		*text;
	size_t		 text_len;
};

TAILQ_HEAD(mfiles, mfile);

/* The files of one --manifests, and what they serve together. */
struct mfile_set {
	struct store	*store;		/* borrowed */
	struct mfiles	 files;		/* in the order first seen */
	struct owners	 owners;	/* which copy of an object is served */
	uint16_t	 node_port_lo, node_port_hi;	/* checked here */
};

void	 mfile_set_init(struct mfile_set *, struct store *, uint16_t np_lo,
	    uint16_t np_hi);
/* A file not read yet, at the end of the list (path is taken). */
struct mfile *mfile_add(struct mfile_set *, char *path);
/*
 * Read f again: a file that does not parse, or passes a bound, keeps its
 * last good content, with one warning; otherwise its objects go to the
 * store (unless another file serves them) and those it no longer has
 * leave it.  The caller flushes the store.
 */
void	 mfile_read(struct mfile_set *, struct mfile *f);
/* f is gone: its objects leave the store or are served from another file. */
void	 mfile_remove(struct mfile_set *, struct mfile *f);
/* Free every file, leaving the store as it is (at exit). */
void	 mfile_set_clear(struct mfile_set *);

#endif
