/*
 * fuzz.h - what every fuzz target shares.
 *
 * Each tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput() around one
 * parser (or one stateful module) and calls the code path the daemon
 * uses.  The same file links two ways: with clang's -fsanitize=fuzzer for
 * `make fuzz` (libFuzzer supplies main), and with replay.c under the
 * normal compiler for `make check`, which feeds it every file of the
 * target's corpus tests/fuzz/NAME/.  A target reports a broken invariant
 * with FUZZ_CHECK, which aborts: libFuzzer and the replay both see that
 * as a crash.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* A cursor over the fuzz input, for targets that decode operations. */
struct fuzz_in {
	const uint8_t	*p;
	size_t		 n;
};

/* The next byte, or 0 once the input is used up. */
static inline uint8_t
fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;

	if (in->n == 0)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static inline uint16_t
fuzz_u16(struct fuzz_in *in)
{
	uint16_t hi = fuzz_u8(in);

	return (uint16_t)(hi << 8 | fuzz_u8(in));
}

/*
 * A NUL-terminated copy of size bytes (the daemon's readers hand parsers
 * NUL-terminated text).  Caller frees.
 */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}

/*
 * Write the input to DIR/NAME in a private temporary directory made once
 * per process (fuzz_util.c), for parsers that take a path.  Returns the
 * path (static storage) or aborts.
 */
const char	*fuzz_write_file(const char *name, const uint8_t *data,
		    size_t size);
/* The private temporary directory (created on first use). */
const char	*fuzz_tmpdir(void);

#endif
