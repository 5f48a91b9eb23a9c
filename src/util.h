/*
 * util.h - small helpers every module uses.
 *
 * Allocation failures are fatal (the OpenBSD xmalloc convention): a node
 * proxy that cannot allocate a few bytes cannot do anything useful, and
 * checking every call would hide the logic this code exists to teach.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

void	*xcalloc(size_t n, size_t size);
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Read a whole regular file of at most `max` bytes.  Returns it
 * NUL-terminated (length in *lenp, buffer of *lenp + 1 bytes, caller frees),
 * or NULL with the reason, not naming the file, in err.
 */
char	*file_read(const char *path, size_t max, size_t *lenp, char *err,
	    size_t err_len);
/*
 * Whether the regular file at path holds exactly text (len bytes), read
 * in small pieces and compared as they come: an unchanged file costs no
 * buffer of its size.  0 when it differs or cannot be read.
 */
int	 file_same(const char *path, const char *text, size_t len);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t mono_ms(void);

/* Set O_NONBLOCK and FD_CLOEXEC.  Returns 0 or -1 (errno set). */
int	 fd_nonblock(int fd);

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#endif
