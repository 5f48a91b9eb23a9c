/*
 * fuzz_manifest.c - a manifest file as the file source reads it
 * (source_file.c): multi-document YAML, JSON, `kind: List`, decoded into a
 * store.  The input is the file's content; if it holds the line
 * "#~~~" the part after it is a second version of the file, read on a
 * reload.  Each version is read twice: the second read (the same bytes,
 * not parsed again after a clean read) must leave as many objects in the
 * store as the first.  Then the file is deleted and read once more, so
 * every object leaves the store the way it does when an operator removes
 * a file: the store must end empty.
 *
 * One source_file watches the scratch directory for the whole run (closing
 * an inotify descriptor waits for the kernel, some 20 ms): each input
 * starts and ends with the directory empty, the file list empty and the
 * store empty, as after source_file_new on an empty directory.  Its
 * inotify events are never read (no event loop runs): they only queue.
 */
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz.h"
#include "source_file.h"
#include "store.h"

#define SPLIT	"\n#~~~\n"

static struct event_base *base;
static struct store *st;
static struct source_file *sf;

static void
ignore(void *arg, const struct store_port *old, const struct store_port *new,
    unsigned changes)
{
	(void)arg;
	(void)old;
	(void)new;
	(void)changes;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *second = NULL;
	size_t first_len = size, second_len = 0, i, n;
	const char *path;

	if (sf == NULL) {
		if ((base = event_base_new()) == NULL)
			abort();
		st = store_new(ignore, NULL);
		/* Our Node, so that a Node in the input counts (seed-node). */
		store_set_node_name(st, "node-a");
		sf = source_file_new(base, fuzz_tmpdir(), st, 30000, 32767);
		FUZZ_CHECK(sf != NULL);
	}
	for (i = 0; i + strlen(SPLIT) <= size; i++)
		if (memcmp(data + i, SPLIT, strlen(SPLIT)) == 0) {
			first_len = i;
			second = data + i + strlen(SPLIT);
			second_len = size - first_len - strlen(SPLIT);
			break;
		}
	path = fuzz_write_file("m.yaml", data, first_len);
	source_file_reload(sf);
	n = store_count(st);
	source_file_reload(sf);
	FUZZ_CHECK(store_count(st) == n);
	if (second != NULL) {
		fuzz_write_file("m.yaml", second, second_len);
		source_file_reload(sf);
		n = store_count(st);
		source_file_reload(sf);
		FUZZ_CHECK(store_count(st) == n);
	}
	unlink(path);
	source_file_reload(sf);
	FUZZ_CHECK(store_count(st) == 0);
	FUZZ_CHECK(!store_node(st)->sn_seen && !store_node(st)->sn_deleting);
	FUZZ_CHECK(*store_node(st)->sn_zone == '\0');
	return 0;
}
