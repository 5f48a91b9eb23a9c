/*
 * tcp_harness.c - one tcp_proxy on its own event base, for data-path tests.
 *
 *   tcp_harness [-m copy|splice] [-b bind] [-e endpoint]... [-v N] [-n nofile]
 *		 [-k keepalive_ms] [-f fin_timeout_ms] [-M relay_memory] [-x free_fds]
 *
 * -k, -f and -M are the daemon's --tcp-keepalive, --tcp-fin-timeout and
 * --relay-memory (defaults 15 s, 1 h, 64 MiB, as the daemon's); -x leaves
 * only that many descriptors free (the rest taken by /dev/null) once the
 * proxy listens, to reach EMFILE below the connection bound.
 * Prints "PORT <n>" once listening.  SIGUSR1 closes the proxy (established
 * relays go on, their counters move to metrics_retired), SIGUSR2 prints a
 * STATS line, SIGHUP calls tcp_relays_close_all, SIGTERM closes the proxy,
 * waits for the relays to end, frees everything and exits 0, so leak
 * checkers see a clean heap.  Loopback only.
 */
#include <sys/resource.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include "addr.h"
#include "lb.h"
#include "log.h"
#include "metrics.h"
#include "relay_pool.h"
#include "tcp_proxy.h"
#include "util.h"

static struct tcp_proxy *proxy;
static struct port_stats stats;
static struct event_base *base;
static struct event *ev_wait;
static int stopping;

static void
print_stats(void)
{
	printf("STATS accepted=%llu active=%llu refused=%llu dial_failures=%llu "
	    "dial_retries=%llu to_backend=%llu to_client=%llu relays=%u "
	    "retired_active=%llu retired_to_backend=%llu pool_bytes=%llu "
	    "pool_limit=%llu pool_full=%llu conn_limit=%llu over_limit=%llu "
	    "fin_timeouts=%llu peer_timeouts=%llu\n",
	    (unsigned long long)stats.tcp_accepted,
	    (unsigned long long)stats.tcp_active,
	    (unsigned long long)stats.tcp_refused,
	    (unsigned long long)stats.dial_failures,
	    (unsigned long long)stats.dial_retries,
	    (unsigned long long)stats.bytes_to_backend,
	    (unsigned long long)stats.bytes_to_client, tcp_relays_active(),
	    (unsigned long long)metrics_retired.tcp_active,
	    (unsigned long long)metrics_retired.bytes_to_backend,
	    (unsigned long long)metrics_datapath.relay_pool_bytes,
	    (unsigned long long)metrics_datapath.relay_pool_limit,
	    (unsigned long long)metrics_datapath.relay_pool_full,
	    (unsigned long long)metrics_datapath.tcp_conn_limit,
	    (unsigned long long)metrics_datapath.tcp_conn_refused,
	    (unsigned long long)metrics_datapath.tcp_fin_timeouts,
	    (unsigned long long)metrics_datapath.tcp_peer_timeouts);
	fflush(stdout);
}

static void
wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	if (tcp_relays_active() == 0)
		event_base_loopbreak(base);
}

static void
sig_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = { 0, 50000 };

	(void)what; (void)arg;
	if (sig == SIGUSR2) {
		print_stats();
		return;
	}
	if (sig == SIGHUP) {
		tcp_relays_close_all();
		printf("CLOSED_ALL\n");
		fflush(stdout);
		return;
	}
	if (proxy != NULL) {
		tcp_proxy_close(proxy);
		proxy = NULL;
		printf("CLOSED\n");
		fflush(stdout);
	}
	if (sig == SIGTERM && !stopping) {
		stopping = 1;
		ev_wait = event_new(base, -1, EV_PERSIST, wait_cb, NULL);
		event_add(ev_wait, &tv);
	}
}

int
main(int argc, char *argv[])
{
	union addr bind, eps[16];
	size_t neps = 0;
	struct lb *lb;
	struct event *sigs[4];
	int ch, verbosity = 0, i, free_fds = -1, fd, nfds = 0;
	int *fds = NULL;
	uint64_t keepalive_ms = 15000, fin_ms = 3600000;
	size_t memory = 64 << 20;

	addr_parse_hostport("127.0.0.1:0", &bind);
	while ((ch = getopt(argc, argv, "m:b:e:v:n:k:f:M:x:")) != -1) {
		switch (ch) {
		case 'm':
			tcp_relay_mode_set(strcmp(optarg, "splice") == 0 ?
			    RELAY_SPLICE : RELAY_COPY);
			break;
		case 'b':
			if (addr_parse_hostport(optarg, &bind) == -1)
				fatalx("bad bind %s", optarg);
			break;
		case 'e':
			if (neps == nitems(eps) ||
			    addr_parse_hostport(optarg, &eps[neps++]) == -1)
				fatalx("bad endpoint %s", optarg);
			break;
		case 'v':
			verbosity = atoi(optarg);
			break;
		case 'n': {
			struct rlimit rl;
			getrlimit(RLIMIT_NOFILE, &rl);
			rl.rlim_cur = strtoul(optarg, NULL, 10);
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				fatal("setrlimit");
			break;
		}
		case 'k':
			keepalive_ms = strtoull(optarg, NULL, 10);
			break;
		case 'f':
			fin_ms = strtoull(optarg, NULL, 10);
			break;
		case 'M':
			memory = strtoull(optarg, NULL, 10);
			break;
		case 'x':
			free_fds = atoi(optarg);
			break;
		default:
			fatalx("usage");
		}
	}
	log_init(verbosity);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	tcp_proxy_configure(keepalive_ms, fin_ms, memory);
	lb = lb_new();
	lb_set_endpoints(lb, eps, neps);
	proxy = tcp_proxy_open(base, &bind, "default/harness:tcp", lb, &stats);
	if (proxy == NULL)
		fatal("tcp_proxy_open");
	/* Signals first: the test may ask for STATS as soon as it reads PORT. */
	sigs[0] = evsignal_new(base, SIGUSR1, sig_cb, NULL);
	sigs[1] = evsignal_new(base, SIGUSR2, sig_cb, NULL);
	sigs[2] = evsignal_new(base, SIGTERM, sig_cb, NULL);
	sigs[3] = evsignal_new(base, SIGHUP, sig_cb, NULL);
	for (i = 0; i < 4; i++)
		event_add(sigs[i], NULL);
	if (free_fds >= 0) {
		/* Take every descriptor, then give back free_fds of them. */
		while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
			fds = realloc(fds, (size_t)(nfds + 1) * sizeof(*fds));
			fds[nfds++] = fd;
		}
		for (i = 0; i < free_fds && nfds > 0; i++)
			close(fds[--nfds]);
	}
	printf("PORT %u\n", tcp_proxy_port(proxy));
	fflush(stdout);
	event_base_dispatch(base);
	print_stats();
	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	if (ev_wait)
		event_free(ev_wait);
	lb_free(lb);
	relay_pool_flush();
	while (nfds > 0)
		close(fds[--nfds]);
	free(fds);
	event_base_free(base);
	libevent_global_shutdown();
	return 0;
}
