/*
 * backoff.h - the delay before a failed list or watch is tried again.
 *
 * client-go's reflector backoff (K8S-API.md §2.3): 0.8 s doubling to a
 * 30 s cap, each delay multiplied by a random factor in [1, 2) so that
 * the nodes of a cluster do not come back in step.  Only progress (a
 * watch event that decodes) or two quiet minutes start it over: a list
 * that succeeds, or an ERROR event, are not progress, or a server that
 * fails every watch would be listed once a second forever.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

#include <stdint.h>

#define BACKOFF_MIN_MS		800
#define BACKOFF_MAX_MS		30000
#define BACKOFF_RESET_MS	120000	/* quiet time that starts it over */

struct backoff {
	unsigned	bo_failures;	/* since the last progress */
	uint64_t	bo_last;	/* mono_ms of the last failure */
};

/*
 * One more failure at now (ms, monotonic): returns the delay in ms before
 * the next try, base * (1 + r / 2^32) where base doubles per failure from
 * BACKOFF_MIN_MS up to BACKOFF_MAX_MS.  r is a random number.
 */
uint64_t	backoff_fail(struct backoff *, uint64_t now, uint32_t r);
/* Progress: the next failure waits BACKOFF_MIN_MS again. */
void		backoff_progress(struct backoff *);
/* Failures since the last progress. */
unsigned	backoff_failures(const struct backoff *);

#endif
