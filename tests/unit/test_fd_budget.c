/*
 * test_fd_budget.c - RLIMIT_NOFILE shared out: the figures the man page,
 * datapath_limits.sh and tcp_harness_test.py count on, and for any limit
 * the parts never add up to more than it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bounds.h"
#include "fd_budget.h"
#include "relay_pool.h"

static void
assert_share(uint64_t nofile, int splice, size_t memory, uint64_t reserve,
    uint64_t udp, uint64_t pipes, uint64_t relays)
{
	struct fd_budget fb;

	fd_budget_share(&fb, nofile, splice, memory);
	assert_int_equal(fb.fb_reserve, reserve);
	assert_int_equal(fb.fb_udp_flows, udp);
	assert_int_equal(fb.fb_pipes, pipes);
	assert_int_equal(fb.fb_relays, relays);
}

static void
test_figures(void **state)
{
	(void)state;
	/* datapath_limits.sh: half of a tiny limit aside. */
	assert_share(400, 0, 1 << 20, 200, 50, 0, 75);
	assert_share(400, 1, 1 << 20, 200, 50, 4, 71);	/* 1 MiB: 4 pipes */
	/* tcp_harness_test.py's EMFILE scenario: above the 20 that fit. */
	assert_share(160, 0, 64 << 20, 80, 20, 0, 30);
	assert_share(160, 1, 64 << 20, 80, 20, 7, 23);
	/* The 20,000 of this CI machine: udp_bound.sh's 4,936 flows. */
	assert_share(20000, 0, 64 << 20, BOUND_FD_RESERVE, 4936, 0, 7404);
	/* Unlimited is 2^20: UDP at its own bound, the rest for TCP. */
	assert_share(0, 0, 64 << 20, BOUND_FD_RESERVE, BOUND_UDP_FLOWS_TOTAL,
	    0, ((1 << 20) - BOUND_FD_RESERVE - BOUND_UDP_FLOWS_TOTAL) / 2);
	assert_share(1 << 20, 1, 64 << 20, BOUND_FD_RESERVE,
	    BOUND_UDP_FLOWS_TOTAL, (64 << 20) / RELAY_PIPE_SIZE,
	    ((1 << 20) - BOUND_FD_RESERVE - BOUND_UDP_FLOWS_TOTAL -
	    2 * ((64 << 20) / RELAY_PIPE_SIZE)) / 2);
	/* Nothing left: still one flow, one pipe, one relay. */
	assert_share(2, 1, 0, 1, 1, 1, 1);
}

static void
test_never_more_than_the_limit(void **state)
{
	struct fd_budget fb;
	uint64_t n;
	int splice;

	(void)state;
	for (n = 16; n < 300000; n = n * 5 / 4 + 1)
		for (splice = 0; splice < 2; splice++) {
			fd_budget_share(&fb, n, splice, 64 << 20);
			assert_true(fb.fb_reserve + fb.fb_udp_flows +
			    2 * fb.fb_pipes + 2 * fb.fb_relays <= n);
			assert_true(fb.fb_udp_flows <= BOUND_UDP_FLOWS_TOTAL);
			assert_true(fb.fb_udp_flows * 4 <= n - fb.fb_reserve);
			assert_true(fb.fb_relays >= 1);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_figures),
		cmocka_unit_test(test_never_more_than_the_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
