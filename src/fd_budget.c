/*
 * fd_budget.c - the file descriptors RLIMIT_NOFILE allows, shared out
 * (see fd_budget.h).
 */
#include <sys/param.h>

#include "bounds.h"
#include "fd_budget.h"
#include "relay_pool.h"

void
fd_budget_share(struct fd_budget *fb, uint64_t nofile, int splice,
    size_t memory)
{
	uint64_t rest;

	fb->fb_nofile = nofile != 0 ? nofile : (uint64_t)1 << 20;
	fb->fb_reserve = BOUND_FD_RESERVE;
	/* A tiny limit (tests) keeps half of it aside rather than all. */
	if (fb->fb_nofile < 2 * fb->fb_reserve)
		fb->fb_reserve = fb->fb_nofile / 2;
	rest = fb->fb_nofile - fb->fb_reserve;
	/*
	 * UDP flows cost one descriptor each: at most a quarter of them, so
	 * that a flood of UDP clients cannot take TCP's descriptors (and
	 * the reserve's: the admin listeners), nor TCP clients UDP's.
	 */
	fb->fb_udp_flows = MIN(BOUND_UDP_FLOWS_TOTAL, MAX(rest / 4, 1));
	rest -= MIN(rest, fb->fb_udp_flows);
	/* Splice pipes cost two descriptors each: at most a quarter of them. */
	fb->fb_pipes = 0;
	if (splice) {
		fb->fb_pipes = MIN(memory / RELAY_PIPE_SIZE, rest / 8);
		if (fb->fb_pipes == 0)
			fb->fb_pipes = 1;
		rest -= MIN(rest, 2 * fb->fb_pipes);
	}
	fb->fb_relays = MIN(MAX(rest / 2, 1), UINT32_MAX / 2);
}
