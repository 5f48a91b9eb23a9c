/*
 * util.c - allocation, time and fd helpers (see util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "log.h"
#include "util.h"

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("calloc %zu x %zu", n, size);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		fatal("reallocarray %zu x %zu", n, size);
	}
	q = realloc(p, (n * size) != 0 ? n * size : 1);
	if (q == NULL)
		fatal("reallocarray %zu x %zu", n, size);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("asprintf");
	return s;
}

int
file_same(const char *path, const char *text, size_t len)
{
	char buf[64 * 1024];
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd, same = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == len) {
		while (off < len && (n = read(fd, buf, sizeof(buf))) > 0 &&
		    (size_t)n <= len - off && memcmp(buf, text + off,
		    (size_t)n) == 0)
			off += (size_t)n;
		/* All of text matched, and nothing more is there. */
		same = off == len && read(fd, buf, 1) == 0;
	}
	close(fd);
	return same;
}

char *
file_read(const char *path, size_t max, size_t *lenp, char *err,
    size_t err_len)
{
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	ssize_t n = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		snprintf(err, err_len, "larger than %zu bytes", max);
		close(fd);
		return NULL;
	}
	/* A file growing while we read is cut at the size fstat saw. */
	buf = xcalloc(1, (size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	if (n == -1)
		goto fail;
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return buf;
fail:
	snprintf(err, err_len, "%s", strerror(errno));
	if (fd != -1)
		close(fd);
	if (buf != NULL)
		explicit_bzero(buf, (size_t)st.st_size + 1);	/* may be a secret */
	free(buf);
	return NULL;
}

uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return 0;
}
