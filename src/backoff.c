/*
 * backoff.c - the delay before a failed list or watch is tried again.
 */
#include "backoff.h"

uint64_t
backoff_fail(struct backoff *bo, uint64_t now, uint32_t r)
{
	uint64_t base = BACKOFF_MIN_MS;
	unsigned i;

	if (bo->bo_failures > 0 && now - bo->bo_last > BACKOFF_RESET_MS)
		bo->bo_failures = 0;
	bo->bo_last = now;
	for (i = 0; i < bo->bo_failures && base < BACKOFF_MAX_MS; i++)
		base *= 2;
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	if (bo->bo_failures < 1000)	/* no wrap, however long it fails */
		bo->bo_failures++;
	return base + (base * r >> 32);
}

void
backoff_progress(struct backoff *bo)
{
	bo->bo_failures = 0;
}

unsigned
backoff_failures(const struct backoff *bo)
{
	return bo->bo_failures;
}
