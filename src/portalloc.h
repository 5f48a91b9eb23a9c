/*
 * portalloc.h - proxy port allocation from --proxy-port-range.
 *
 * With no range every proxy socket binds port 0 and the kernel chooses.
 * With a range, ports come from a bitmap: a search starts at a random
 * offset and wraps, so restarts do not reuse the same ports first.
 */
#ifndef PORTALLOC_H
#define PORTALLOC_H

#include <stdint.h>

struct portalloc;

/* lo == 0: kernel-chosen ports (portalloc_get always returns 0). */
struct portalloc *portalloc_new(uint16_t lo, uint16_t hi);
void		 portalloc_free(struct portalloc *);
/*
 * Reserve a free port.  Returns the port, 0 for "let the kernel choose"
 * (no range), or -1 when the range is exhausted.  A port that turns out
 * busy at bind (EADDRINUSE: someone else has it) should be kept reserved
 * while the caller tries the next one, then returned.
 */
int		 portalloc_get(struct portalloc *);
/* Return a port (0 and out-of-range values are ignored). */
void		 portalloc_put(struct portalloc *, uint16_t port);
unsigned	 portalloc_free_count(const struct portalloc *);

#endif
