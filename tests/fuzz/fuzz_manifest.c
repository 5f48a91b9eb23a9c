/*
 * fuzz_manifest.c - a manifest file as the file source reads it
 * (source_file.c): multi-document YAML, JSON, `kind: List`, decoded into a
 * store.  The input is the file's content; if it holds the line
 * "#~~~" the part after it is a second version of the file, read on a
 * reload.  Then the file is deleted and read once more, so every object
 * leaves the store the way it does when an operator removes a file: the
 * store must end empty.
 */
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz.h"
#include "source_file.h"
#include "store.h"

#define SPLIT	"\n#~~~\n"

static struct event_base *base;

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
	size_t first_len = size, second_len = 0, i;
	struct source_file *sf;
	struct store *st;
	const char *path;

	if (base == NULL && (base = event_base_new()) == NULL)
		abort();
	for (i = 0; i + strlen(SPLIT) <= size; i++)
		if (memcmp(data + i, SPLIT, strlen(SPLIT)) == 0) {
			first_len = i;
			second = data + i + strlen(SPLIT);
			second_len = size - first_len - strlen(SPLIT);
			break;
		}
	path = fuzz_write_file("m.yaml", data, first_len);
	st = store_new(ignore, NULL);
	sf = source_file_new(base, fuzz_tmpdir(), st);
	FUZZ_CHECK(sf != NULL);
	if (second != NULL) {
		fuzz_write_file("m.yaml", second, second_len);
		source_file_reload(sf);
	}
	unlink(path);
	source_file_reload(sf);
	FUZZ_CHECK(store_count(st) == 0);
	source_file_free(sf);
	store_free(st);
	return 0;
}
