/*
 * fuzz_util.c - helpers of the fuzz targets: a private scratch directory
 * for parsers that read a path.  It is removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>

#include "fuzz.h"

static char	fuzz_dir[64];

static void
fuzz_cleanup(void)
{
	char path[sizeof(fuzz_dir) + 256];
	struct dirent *de;
	DIR *d;

	if (fuzz_dir[0] == '\0' || (d = opendir(fuzz_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(fuzz_dir);
}

const char *
fuzz_tmpdir(void)
{
	const char *tmp;

	if (fuzz_dir[0] != '\0')
		return fuzz_dir;
	if ((tmp = getenv("TMPDIR")) == NULL || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/kup-fuzz.XXXXXX", tmp);
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(fuzz_cleanup);
	return fuzz_dir;
}

const char *
fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[sizeof(fuzz_dir) + 256];
	size_t off = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		perror("fuzz: open");
		abort();
	}
	while (off < size) {
		if ((n = write(fd, data + off, size - off)) == -1) {
			if (errno == EINTR)
				continue;
			perror("fuzz: write");
			abort();
		}
		off += (size_t)n;
	}
	close(fd);
	return path;
}
