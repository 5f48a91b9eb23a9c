/*
 * portalloc.c - proxy port allocation (see portalloc.h).
 *
 * One bit per port of --proxy-port-range, set while the port is handed
 * out.  The proxier asks for a port when it opens a proxy socket and
 * returns it when the socket closes.  Searching from a random offset
 * spreads allocations over the range, so a restarted proxy does not try
 * the same ports (possibly still in TIME_WAIT) in the same order.
 */
#include <limits.h>
#include <stdlib.h>

#include <bsd/stdlib.h>

#include "log.h"
#include "portalloc.h"
#include "util.h"

#define WORD_BITS	(sizeof(unsigned long) * CHAR_BIT)

struct portalloc {
	uint16_t	 pa_lo, pa_hi;	/* pa_lo == 0: kernel-chosen */
	unsigned	 pa_size;	/* ports in the range */
	unsigned	 pa_free;
	unsigned long	*pa_used;	/* bit i: port pa_lo + i is taken */
};

struct portalloc *
portalloc_new(uint16_t lo, uint16_t hi)
{
	struct portalloc *pa = xcalloc(1, sizeof(*pa));

	if (lo == 0)
		return pa;
	if (hi < lo) {
		/* config_parse_port_range never gives this; be safe anyway. */
		log_warnx("proxy port range %u-%u is reversed, using port %u",
		    lo, hi, lo);
		hi = lo;
	}
	pa->pa_lo = lo;
	pa->pa_hi = hi;
	pa->pa_size = (unsigned)hi - lo + 1;
	pa->pa_free = pa->pa_size;
	pa->pa_used = xcalloc((pa->pa_size + WORD_BITS - 1) / WORD_BITS,
	    sizeof(*pa->pa_used));
	return pa;
}

void
portalloc_free(struct portalloc *pa)
{
	if (pa == NULL)
		return;
	free(pa->pa_used);
	free(pa);
}

static int
bit_isset(const struct portalloc *pa, unsigned i)
{
	return (pa->pa_used[i / WORD_BITS] >> (i % WORD_BITS)) & 1;
}

static void
bit_set(struct portalloc *pa, unsigned i)
{
	pa->pa_used[i / WORD_BITS] |= 1UL << (i % WORD_BITS);
}

static void
bit_clear(struct portalloc *pa, unsigned i)
{
	pa->pa_used[i / WORD_BITS] &= ~(1UL << (i % WORD_BITS));
}

int
portalloc_get(struct portalloc *pa)
{
	unsigned start, k, i;

	if (pa->pa_lo == 0)
		return 0;
	if (pa->pa_free == 0)
		return -1;
	/* Scan up from a random offset and wrap around to it. */
	start = arc4random_uniform(pa->pa_size);
	for (k = 0; k < pa->pa_size; k++) {
		i = (start + k) % pa->pa_size;
		if (!bit_isset(pa, i)) {
			bit_set(pa, i);
			pa->pa_free--;
			return pa->pa_lo + i;
		}
	}
	return -1;	/* not reached: pa_free said there was one */
}

void
portalloc_put(struct portalloc *pa, uint16_t port)
{
	unsigned i;

	if (pa->pa_lo == 0 || port < pa->pa_lo || port > pa->pa_hi)
		return;
	i = port - pa->pa_lo;
	if (bit_isset(pa, i)) {
		bit_clear(pa, i);
		pa->pa_free++;
	}
}

unsigned
portalloc_free_count(const struct portalloc *pa)
{
	return pa->pa_free;
}
