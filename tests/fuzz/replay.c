/*
 * replay.c - main() for a fuzz target outside libFuzzer: feed it every
 * file named on the command line (directories: every file in them, in
 * name order), one call each, as libFuzzer would.  Linked with each
 * tests/fuzz/fuzz_NAME.c by the normal build, so `make check` (plain,
 * sanitizers or valgrind) replays the committed corpora; a crash or a
 * broken invariant aborts, naming the file on the line before.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

/*
 * An input still running after this long is a hang, not slowness (the
 * fuzzer's limit is 1 s; valgrind is some 50 times slower): abort, naming
 * it, rather than stall `make check`.
 */
#define REPLAY_HANG_S	60

static unsigned long	replayed;
static const char	*current;

static void
on_alarm(int sig)
{
	static const char msg[] = "replay: HANG, aborting: ";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, current, strlen(current));
	(void)!write(2, "\n", 1);
	abort();
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t off = 0;
	ssize_t n;
	double t0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* One byte more than needed, so that an empty file is not NULL. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, off);
	current = path;
	t0 = now_s();
	alarm(REPLAY_HANG_S);
	LLVMFuzzerTestOneInput(buf, off);
	alarm(0);
	/* libFuzzer's -timeout=1; sanitizers and valgrind are slower. */
	if (now_s() - t0 > 1.0)
		fprintf(stderr, "replay: %s: SLOW, %.1f s\n", path, now_s() - t0);
	free(buf);
	replayed++;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
replay_dir(const char *dir)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	int rv = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = realloc(names, cap * sizeof(*names))) == NULL)
				abort();
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (replay_file(path) == -1)
			rv = -1;
		free(names[i]);
	}
	free(names);
	return rv;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i, rv = 0;

	signal(SIGALRM, on_alarm);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			rv = 1;
		} else if (S_ISDIR(st.st_mode) ? replay_dir(argv[i]) == -1 :
		    replay_file(argv[i]) == -1)
			rv = 1;
	}
	printf("replay: %lu inputs\n", replayed);
	return rv;
}
