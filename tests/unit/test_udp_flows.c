/*
 * test_udp_flows.c - the total bound of UDP flows over every service port
 * (udp_flows.c, udp_flow_new): two proxies on loopback sharing a bound of 4.
 * A port with flows of its own replaces its oldest; a port with none is
 * refused the flow (datagram dropped, counted); no port loses flows to
 * another's clients.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "bounds.h"
#include "lb.h"
#include "metrics.h"
#include "udp_proxy.h"

static int
udp_socket(union addr *bound)
{
	union addr a;
	socklen_t len = sizeof(*bound);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd != -1);
	assert_int_equal(addr_parse("127.0.0.1", 0, &a), 0);
	assert_int_equal(bind(fd, &a.sa, addr_len(&a)), 0);
	assert_int_equal(getsockname(fd, &bound->sa, &len), 0);
	return fd;
}

/* A datagram from a new client socket to port; the socket is kept open. */
static int
send_from_new_client(uint16_t port)
{
	union addr self, to;
	int fd = udp_socket(&self);

	assert_int_equal(addr_parse("127.0.0.1", port, &to), 0);
	assert_int_equal(sendto(fd, "x", 1, 0, &to.sa, addr_len(&to)), 1);
	return fd;
}

static void
run(struct event_base *base)
{
	int i;

	for (i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/*
 * A new client of up that gets a flow.  A flow socket can fail for want
 * of ephemeral ports while other suites run (connect(2) on UDP: EAGAIN);
 * the datagram is then dropped, so send again for a while, and skip if
 * the machine never lets us.
 */
static int
new_flow(struct event_base *base, struct udp_proxy *up, unsigned *flows,
    const struct port_stats *st)
{
	union addr to;
	int fd = send_from_new_client(udp_proxy_port(up)), i;
	uint64_t created = st->udp_flows_created;

	assert_int_equal(addr_parse("127.0.0.1", udp_proxy_port(up), &to), 0);
	for (i = 0; i < 100; i++) {
		run(base);
		if (st->udp_flows_created > created) {
			*flows = udp_proxy_flows(up);
			return fd;
		}
		usleep(20000);
		(void)sendto(fd, "x", 1, 0, &to.sa, addr_len(&to));
	}
	skip();
	return fd;
}

static void
test_flows_total_bound(void **state)
{
	struct event_base *base = event_base_new();
	struct lb *lb = lb_new();
	struct port_stats sa, sb;
	struct udp_proxy *a, *b;
	union addr ep, bind;
	int backend, clients[8], n = 0, i;
	unsigned flows = 0;
	uint64_t refused = metrics_datapath.udp_flows_refused;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	memset(&sb, 0, sizeof(sb));
	backend = udp_socket(&ep);
	lb_set_endpoints(lb, &ep, 1);
	udp_proxy_set_flows_total_bound(4);
	assert_int_equal(addr_parse("127.0.0.1", 0, &bind), 0);
	a = udp_proxy_open(base, &bind, "default/a:dns", lb, &sa, 60000);
	b = udp_proxy_open(base, &bind, "default/b:dns", lb, &sb, 60000);
	assert_non_null(a);
	assert_non_null(b);

	for (i = 0; i < 4; i++)
		clients[n++] = new_flow(base, a, &flows, &sa);
	assert_int_equal(flows, 4);
	assert_int_equal(udp_proxy_flows(a), 4);
	assert_int_equal(metrics_datapath.udp_flows_total, 4);

	/* b has no flow to give: refused, and a keeps all of its flows. */
	clients[n++] = send_from_new_client(udp_proxy_port(b));
	run(base);
	assert_int_equal(udp_proxy_flows(b), 0);
	assert_int_equal(udp_proxy_flows(a), 4);
	assert_int_equal(metrics_datapath.udp_flows_refused, refused + 1);
	assert_int_equal(sb.udp_dropped, 1);

	/* a's new client replaces a's oldest flow. */
	clients[n++] = new_flow(base, a, &flows, &sa);
	assert_int_equal(udp_proxy_flows(a), 4);
	assert_int_equal(sa.udp_flows_evicted, 1);
	assert_int_equal(sa.udp_flows_created, 5);
	assert_int_equal(metrics_datapath.udp_flows_total, 4);

	udp_proxy_close(a);
	udp_proxy_close(b);
	assert_int_equal(metrics_datapath.udp_flows_total, 0);
	udp_proxy_set_flows_total_bound(BOUND_UDP_FLOWS_TOTAL);
	for (i = 0; i < n; i++)
		close(clients[i]);
	close(backend);
	lb_free(lb);
	event_base_free(base);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flows_total_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
