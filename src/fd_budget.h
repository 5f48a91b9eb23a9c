/*
 * fd_budget.h - how the file descriptors RLIMIT_NOFILE allows are shared
 * out between the parts of the data path, so that no part can take
 * another's: a reserve for listeners, the API, admin HTTP and logs; UDP
 * flows (one each); splice pipes (two each); TCP relays (two each).
 */
#ifndef FD_BUDGET_H
#define FD_BUDGET_H

#include <stddef.h>
#include <stdint.h>

struct fd_budget {
	uint64_t	fb_nofile;	/* the limit shared out */
	uint64_t	fb_reserve;	/* BOUND_FD_RESERVE, or half a tiny limit */
	uint64_t	fb_udp_flows;	/* a quarter of the rest, at most
					   BOUND_UDP_FLOWS_TOTAL */
	uint64_t	fb_pipes;	/* splice only: a quarter of what is left
					   at most, and what `memory` pays for */
	uint64_t	fb_relays;	/* the rest, two each (at least 1) */
};

/*
 * Share out nofile descriptors (RLIMIT_NOFILE; 0: unlimited, taken as
 * 2^20) for a relay of `splice` mode whose buffers and pipes may use
 * `memory` bytes.  A pure function: tcp_proxy_configure applies it.
 */
void	fd_budget_share(struct fd_budget *, uint64_t nofile, int splice,
	    size_t memory);

#endif
