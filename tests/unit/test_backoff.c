/*
 * test_backoff.c - the retry delay doubles from 0.8 s to its 30 s cap with
 * a jitter factor in [1, 2), only progress or two quiet minutes start it
 * over, and it never wraps however long the server fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "backoff.h"

static void
test_doubles_to_cap(void **state)
{
	struct backoff bo;
	uint64_t now = 1000000, base = BACKOFF_MIN_MS, d;
	int i;

	(void)state;
	memset(&bo, 0, sizeof(bo));
	for (i = 0; i < 20; i++) {
		/* r = 0: the low end; r = max: just under twice the base. */
		d = backoff_fail(&bo, now, 0);
		assert_int_equal(d, base);
		now += d;
		bo.bo_failures--;
		d = backoff_fail(&bo, now, UINT32_MAX);
		assert_true(d >= base && d < 2 * base);
		assert_true(d >= 2 * base - 1);
		now += d;
		base = base * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : base * 2;
	}
	assert_int_equal(base, BACKOFF_MAX_MS);
	/* Thousands of failures: capped, never wrapped back to short. */
	for (i = 0; i < 5000; i++) {
		d = backoff_fail(&bo, now, 0);
		assert_int_equal(d, BACKOFF_MAX_MS);
		now += d;
	}
}

static void
test_progress_and_quiet(void **state)
{
	struct backoff bo;
	uint64_t now = 5000;

	(void)state;
	memset(&bo, 0, sizeof(bo));
	assert_int_equal(backoff_fail(&bo, now, 0), 800);
	assert_int_equal(backoff_fail(&bo, now += 1000, 0), 1600);
	assert_int_equal(backoff_fail(&bo, now += 2000, 0), 3200);
	assert_int_equal(backoff_failures(&bo), 3);
	backoff_progress(&bo);
	assert_int_equal(backoff_failures(&bo), 0);
	assert_int_equal(backoff_fail(&bo, now += 100, 0), 800);
	assert_int_equal(backoff_fail(&bo, now += 1000, 0), 1600);
	/* Two quiet minutes since the last failure count as progress. */
	assert_int_equal(backoff_fail(&bo, now += BACKOFF_RESET_MS + 1, 0), 800);
	/* Not less than that. */
	assert_int_equal(backoff_fail(&bo, now += BACKOFF_RESET_MS, 0), 1600);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubles_to_cap),
		cmocka_unit_test(test_progress_and_quiet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
