/*
 * portalloc.c - proxy port allocation (see portalloc.h).
 *
 * One bit per port of --proxy-port-range, set while the port is handed
 * out.  The proxier asks for a port when it opens a proxy socket and
 * returns it when the socket closes.  Searching from a random offset
 * spreads allocations over the range, so a restarted proxy does not try
 * the same ports (possibly still in TIME_WAIT) in the same order.
 *
 * Quarantined ports (portalloc.h) are listed and marked in a second
 * bitmap over all 65536 ports, made on first use: the proxier asks about
 * each kernel-chosen port, and thousands may wait at once after a bulk
 * removal.
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
	unsigned long	*pa_quar;	/* bit p: port p is quarantined */
	uint16_t	*pa_qlist;	/* the quarantined ports */
	unsigned	 pa_nq, pa_qcap;
};

#define ALL_PORTS	65536U

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
	free(pa->pa_quar);
	free(pa->pa_qlist);
	free(pa);
}

static int
map_isset(const unsigned long *map, unsigned i)
{
	return (map[i / WORD_BITS] >> (i % WORD_BITS)) & 1;
}

static void
map_set(unsigned long *map, unsigned i)
{
	map[i / WORD_BITS] |= 1UL << (i % WORD_BITS);
}

static void
map_clear(unsigned long *map, unsigned i)
{
	map[i / WORD_BITS] &= ~(1UL << (i % WORD_BITS));
}

static int
bit_isset(const struct portalloc *pa, unsigned i)
{
	return map_isset(pa->pa_used, i);
}

static void
bit_set(struct portalloc *pa, unsigned i)
{
	map_set(pa->pa_used, i);
}

static void
bit_clear(struct portalloc *pa, unsigned i)
{
	map_clear(pa->pa_used, i);
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
	/* Its rules may still be in the kernel: portalloc_release puts it. */
	if (portalloc_is_quarantined(pa, port))
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

void
portalloc_quarantine(struct portalloc *pa, uint16_t port)
{
	if (port == 0 || portalloc_is_quarantined(pa, port))
		return;
	if (pa->pa_quar == NULL)
		pa->pa_quar = xcalloc(ALL_PORTS / WORD_BITS, sizeof(*pa->pa_quar));
	if (pa->pa_nq == pa->pa_qcap) {
		pa->pa_qcap = pa->pa_qcap ? pa->pa_qcap * 2 : 16;
		pa->pa_qlist = xreallocarray(pa->pa_qlist, pa->pa_qcap,
		    sizeof(*pa->pa_qlist));
	}
	pa->pa_qlist[pa->pa_nq++] = port;
	map_set(pa->pa_quar, port);
	/* A range port stays marked taken: portalloc_get skips it. */
	if (pa->pa_lo != 0 && port >= pa->pa_lo && port <= pa->pa_hi &&
	    !bit_isset(pa, port - pa->pa_lo)) {
		bit_set(pa, port - pa->pa_lo);
		pa->pa_free--;
	}
}

int
portalloc_is_quarantined(const struct portalloc *pa, uint16_t port)
{
	return pa->pa_quar != NULL && map_isset(pa->pa_quar, port);
}

unsigned
portalloc_release(struct portalloc *pa)
{
	unsigned i, n = pa->pa_nq;

	for (i = 0; i < n; i++) {
		map_clear(pa->pa_quar, pa->pa_qlist[i]);
		portalloc_put(pa, pa->pa_qlist[i]);
	}
	pa->pa_nq = 0;
	return n;
}

unsigned
portalloc_quarantine_count(const struct portalloc *pa)
{
	return pa->pa_nq;
}
