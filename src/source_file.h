/*
 * source_file.h - Services and endpoints from manifest files.
 *
 * --manifests names a file or a directory (its *.yaml, *.yml and *.json
 * files, not recursive).  Each file holds JSON or YAML: single objects,
 * `kind: List` with items, or several YAML documents.  Files are re-read
 * when they change (inotify on the directory) and on SIGHUP.  A file that
 * fails to parse keeps its last good content; a broken object is skipped;
 * either gives one warning naming file, document and reason.  An object
 * defined in two files is served from the first (in name order at start)
 * until that file drops it; the other copy then takes over.
 */
#ifndef SOURCE_FILE_H
#define SOURCE_FILE_H

#include <stdint.h>

#include <event2/event.h>

struct store;
struct source_file;

/*
 * Read everything once (into the store, then store_flush) and watch for
 * changes.  A Service whose nodePort is outside [np_lo, np_hi]
 * (--service-node-port-range) is refused, as the API server refuses it.
 * Returns NULL when path does not exist (nothing logged, errno set) or
 * cannot be watched (one line logged).  store is borrowed.
 */
struct source_file *source_file_new(struct event_base *, const char *path,
		    struct store *, uint16_t np_lo, uint16_t np_hi);
/* Re-read every file now (SIGHUP). */
void		 source_file_reload(struct source_file *);
void		 source_file_free(struct source_file *);

#endif
