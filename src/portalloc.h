/*
 * portalloc.h - proxy port allocation from --proxy-port-range.
 *
 * With no range every proxy socket binds port 0 and the kernel chooses.
 * With a range, ports come from a bitmap: a search starts at a random
 * offset and wraps, so restarts do not reuse the same ports first.
 *
 * A port that was in nat rules is not handed out again until those rules
 * are gone from the kernel: while they may still be there, the old
 * Service's clients would be redirected to whichever Service got the
 * port next.  So a closed proxy socket's port is quarantined, not put,
 * and the quarantine is released after the next successful rule commit
 * (whose plan no longer had it).  Kernel-chosen ports are quarantined
 * too: the caller asks portalloc_is_quarantined and binds again when the
 * kernel picked one of them.
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
/* Return a port (0, out-of-range and quarantined ports are ignored). */
void		 portalloc_put(struct portalloc *, uint16_t port);
unsigned	 portalloc_free_count(const struct portalloc *);

/*
 * `port` (any nonzero port: from the range, where it stays reserved, or
 * kernel-chosen) was in rules that may still be in the kernel: keep it
 * from the next owner until portalloc_release.  Do not put it as well.
 */
void		 portalloc_quarantine(struct portalloc *, uint16_t port);
/* Is `port` quarantined (waiting for its old rules to go)? */
int		 portalloc_is_quarantined(const struct portalloc *,
		    uint16_t port);
/*
 * A rule commit planned after every quarantine so far succeeded: the old
 * rules are gone, the ports are free again.  Returns how many.
 */
unsigned	 portalloc_release(struct portalloc *);
/* Ports quarantined now. */
unsigned	 portalloc_quarantine_count(const struct portalloc *);

#endif
