/*
 * kup-bench.c - the small load tools of `make bench` (tests/bench/run.sh).
 *
 * One binary, eight modes, all IPv4, all single-threaded:
 *
 *   echo-tcp IP:PORT            epoll echo server, any number of connections
 *                               (also the backend of the idle-memory test)
 *   echo-udp IP:PORT            UDP echo with recvmmsg/sendmmsg
 *   rr IP:PORT N SIZE           one TCP connection, N round trips of SIZE
 *                               bytes; prints "p50 p99 p999" in microseconds
 *   udp IP:PORT SECS SIZE WIN   closed-loop UDP: WIN datagrams in flight,
 *                               one sent per echo received; prints
 *                               "datagrams_per_s lost"
 *   idle IP:PORT N              opens N TCP connections, sends one byte on
 *                               each and waits for its echo (so a relay has
 *                               both sides up), prints "ready N", then
 *                               holds them until stdin closes
 *   dns IP:PORT SECS WIN NAME   closed-loop DNS A queries for NAME from 4
 *                               sockets, WIN in flight; prints
 *                               "answers_per_s lost sent" (lost: no answer
 *                               within 1 s, or never; an error rcode is
 *                               lost too)
 *   connrate IP:PORT SECS WIN   closed-loop new TCP connections, WIN in
 *                               flight: connect, send one byte, read its
 *                               echo, close with a reset (no TIME_WAIT
 *                               left to run the client out of ports);
 *                               prints "connections_per_s failed"
 *   addpoll IP:PORT TMP DST     checks that nothing answers at IP:PORT,
 *                               renames TMP to DST, then starts a
 *                               nonblocking connect every 1 ms (each given
 *                               up after 100 ms) until one is established;
 *                               prints the ms from the rename to then
 *
 * These are benchmark tools, not part of the daemon: errors exit(1) with a
 * message on stderr.
 */

#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
parse_addr(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		errx(1, "bad address %s (want IP:PORT)", s);
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		errx(1, "bad address %s", s);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void
nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
tcp_connect(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1 || connect(fd, (const struct sockaddr *)sin,
	    sizeof(*sin)) == -1)
		err(1, "connect");
	nodelay(fd);
	return fd;
}

static void
echo_tcp(const struct sockaddr_in *sin)
{
	static char buf[256 * 1024];
	struct epoll_event ev, evs[256];
	int lfd, ep, one = 1, n, i, fd;
	ssize_t r;

	raise_nofile();
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		err(1, "socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (const struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    listen(lfd, 4096) == -1)
		err(1, "bind/listen");
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == lfd) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					nodelay(fd);
					ev.events = EPOLLIN;
					ev.data.fd = fd;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r == 0 || (r == -1 && errno != EAGAIN)) {
				close(fd);
				continue;
			}
			if (r > 0) {
				/* Small echoes: a blocking write is fine. */
				fcntl(fd, F_SETFL, 0);
				if (write(fd, buf, r) != r)
					close(fd);
				else
					fcntl(fd, F_SETFL, O_NONBLOCK);
			}
		}
	}
}

#define BATCH 64
static void
echo_udp(const struct sockaddr_in *sin)
{
	static char bufs[BATCH][2048];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in from[BATCH];
	int fd, n, i, sz = 4 << 20;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1)
		err(1, "udp bind");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	for (;;) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		if ((n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL)) <= 0)
			continue;
		for (i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		sendmmsg(fd, msgs, n, 0);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
rr(const struct sockaddr_in *sin, long n, size_t size)
{
	char buf[65536];
	uint64_t *lat, t0;
	long i, warm = n / 10 + 100;
	size_t got;
	ssize_t r;
	int fd;

	if (size == 0 || size > sizeof(buf) || n < 1)
		errx(1, "rr: bad size or count");
	memset(buf, 'x', size);
	lat = calloc(n, sizeof(*lat));
	fd = tcp_connect(sin);
	for (i = -warm; i < n; i++) {
		t0 = now_ns();
		if (write(fd, buf, size) != (ssize_t)size)
			err(1, "rr write");
		for (got = 0; got < size; got += r)
			if ((r = read(fd, buf + got, size - got)) <= 0)
				err(1, "rr read");
		if (i >= 0)
			lat[i] = now_ns() - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("%.1f %.1f %.1f\n", lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3,
	    lat[n * 999 / 1000] / 1e3);
	free(lat);
	close(fd);
}

static void
udp_load(const struct sockaddr_in *sin, double secs, size_t size, int win)
{
	char buf[2048];
	struct pollfd pfd;
	uint64_t start, end, now, got = 0, lost = 0, t_first = 0;
	int fd, inflight = 0, sz = 4 << 20, warm = 1;
	ssize_t r;

	if (size == 0 || size > sizeof(buf))
		errx(1, "udp: bad size");
	memset(buf, 'u', size);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1 ||
	    connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1)
		err(1, "udp connect");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	pfd.fd = fd;
	pfd.events = POLLIN;
	start = now_ns();
	end = start + (uint64_t)(secs * 1e9);
	/* The first 10% of the time (at least until an echo came) is
	 * warm-up: a proxy creates its flow on the first datagram. */
	for (;;) {
		now = now_ns();
		if (now >= end)
			break;
		if (warm && now > start + (uint64_t)(secs * 1e8) && got > 0) {
			warm = 0;
			got = lost = 0;
			t_first = now;
		}
		while (inflight < win) {
			if (send(fd, buf, size, 0) != (ssize_t)size)
				break;
			inflight++;
		}
		if (poll(&pfd, 1, 20) == 0) {
			/* 20 ms without an echo: what is in flight is lost. */
			lost += inflight;
			inflight = 0;
			continue;
		}
		while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
			got++;
			if (inflight > 0)
				inflight--;
		}
	}
	if (warm)
		errx(1, "udp: no echo within the warm-up");
	printf("%.0f %llu\n", got / ((now_ns() - t_first) / 1e9),
	    (unsigned long long)lost);
}

static void
idle(const struct sockaddr_in *sin, int n)
{
	int *fds, i, fd;
	char c = 'i';

	raise_nofile();
	fds = calloc(n, sizeof(*fds));
	for (i = 0; i < n; i++) {
		fds[i] = fd = tcp_connect(sin);
		if (write(fd, &c, 1) != 1)
			err(1, "idle write %d", i);
		if (read(fd, &c, 1) != 1)
			errx(1, "idle: connection %d got no echo", i);
	}
	printf("ready %d\n", n);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (i = 0; i < n; i++)
		close(fds[i]);
}

#define DNS_SOCKS	4
#define DNS_TIMEOUT_NS	1000000000ull

/* Per socket and query id: 0 free, 1 sent in the warm-up, 2 measured. */
struct dns_sock {
	int		 fd;
	uint16_t	 next_id;
	uint8_t		 state[65536];
	uint64_t	 sent_ns[65536];
};

static size_t
dns_query(char *q, uint16_t id, const char *name)
{
	const char *p = name, *dot;
	size_t n = 12, len;

	memset(q, 0, 12);
	q[0] = id >> 8;
	q[1] = id & 0xff;
	q[2] = 0x01;			/* RD */
	q[5] = 1;			/* QDCOUNT */
	while (*p != '\0') {
		dot = strchr(p, '.');
		len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > 63 || n + len + 6 > 512)
			errx(1, "dns: bad name %s", name);
		q[n++] = (char)len;
		memcpy(q + n, p, len);
		n += len;
		p += len + (dot != NULL);
	}
	q[n++] = 0;
	q[n++] = 0; q[n++] = 1;		/* A */
	q[n++] = 0; q[n++] = 1;		/* IN */
	return n;
}

static void
dns_load(const struct sockaddr_in *sin, double secs, int win, const char *name)
{
	static struct dns_sock socks[DNS_SOCKS];
	struct pollfd pfd[DNS_SOCKS];
	char q[512], a[4096];
	uint64_t start, end, now, t_first = 0, answered = 0, lost = 0, sent = 0;
	uint64_t got = 0;
	int i, k, inflight = 0, warm = 1, sz = 4 << 20, ready;
	struct dns_sock *d;
	size_t qlen;
	ssize_t r;
	uint16_t id;

	for (i = 0; i < DNS_SOCKS; i++) {
		d = &socks[i];
		if ((d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1 ||
		    connect(d->fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1)
			err(1, "dns connect");
		setsockopt(d->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		d->next_id = (uint16_t)(i * 16411);
		pfd[i].fd = d->fd;
		pfd[i].events = POLLIN;
	}
	start = now_ns();
	end = start + (uint64_t)(secs * 1e9);
	for (k = 0;; k++) {
		now = now_ns();
		if (now >= end)
			break;
		if (warm && now > start + (uint64_t)(secs * 1e8) && got > 0) {
			warm = 0;
			answered = lost = sent = 0;
			t_first = now;
		}
		for (; inflight < win; inflight++, k++) {
			d = &socks[k % DNS_SOCKS];
			id = d->next_id++;
			/* Reusing an id still waiting: that query is lost. */
			if (d->state[id] == 2)
				lost++;
			qlen = dns_query(q, id, name);
			if (send(d->fd, q, qlen, 0) != (ssize_t)qlen)
				break;
			d->state[id] = warm ? 1 : 2;
			d->sent_ns[id] = now;
			sent += !warm;
		}
		ready = poll(pfd, DNS_SOCKS, 20);
		if (ready == 0) {
			/* 20 ms without an answer: refill the window. */
			inflight = 0;
			continue;
		}
		for (i = 0; i < DNS_SOCKS; i++) {
			d = &socks[i];
			while ((r = recv(d->fd, a, sizeof(a), 0)) >= 12) {
				id = (uint16_t)((uint8_t)a[0] << 8 | (uint8_t)a[1]);
				if (inflight > 0)
					inflight--;
				got++;
				if (d->state[id] == 0)
					continue;	/* duplicate or unknown */
				/* QR set, RCODE 0, in time: answered. */
				if (d->state[id] == 2 && (a[2] & 0x80) &&
				    (a[3] & 0x0f) == 0 &&
				    now_ns() - d->sent_ns[id] < DNS_TIMEOUT_NS)
					answered++;
				else if (d->state[id] == 2)
					lost++;
				d->state[id] = 0;
			}
		}
	}
	if (warm)
		errx(1, "dns: no answer within the warm-up");
	now = now_ns();
	/* What is still waiting gets its second to answer, not counted as speed. */
	while (now_ns() - now < DNS_TIMEOUT_NS) {
		if (poll(pfd, DNS_SOCKS, 50) <= 0)
			continue;
		for (i = 0; i < DNS_SOCKS; i++)
			while ((r = recv(socks[i].fd, a, sizeof(a), 0)) >= 12) {
				d = &socks[i];
				id = (uint16_t)((uint8_t)a[0] << 8 | (uint8_t)a[1]);
				if (d->state[id] == 2 && (a[2] & 0x80) &&
				    (a[3] & 0x0f) == 0 &&
				    now_ns() - d->sent_ns[id] < DNS_TIMEOUT_NS)
					answered++;
				else if (d->state[id] == 2)
					lost++;
				d->state[id] = 0;
			}
	}
	for (i = 0; i < DNS_SOCKS; i++)
		for (k = 0; k < 65536; k++)
			lost += socks[i].state[k] == 2;
	printf("%.0f %llu %llu\n", answered / ((now - t_first) / 1e9),
	    (unsigned long long)lost, (unsigned long long)sent);
}

#define POLL_MAX	128

static void
addpoll(const struct sockaddr_in *sin, const char *tmp, const char *dst)
{
	struct pollfd pfd[POLL_MAX];
	uint64_t started[POLL_MAX], t0, now, last = 0;
	int i, n = 0, fd, e;
	socklen_t len;

	/* Before: one try must fail (within 50 ms). */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0 ||
	    (errno == EINPROGRESS && poll(&(struct pollfd){ .fd = fd,
	    .events = POLLOUT }, 1, 50) == 1 && getsockopt(fd, SOL_SOCKET,
	    SO_ERROR, &e, &(socklen_t){ sizeof(e) }) == 0 && e == 0))
		errx(1, "addpoll: the address answers before it is added");
	close(fd);
	t0 = now_ns();
	if (rename(tmp, dst) == -1)
		err(1, "rename %s", tmp);
	while ((now = now_ns()) - t0 < 30000000000ull) {
		/* Give up tries older than 100 ms: their SYN went nowhere. */
		for (i = 0; i < n; i++)
			if (now - started[i] > 100000000ull) {
				close(pfd[i].fd);
				pfd[i] = pfd[--n];
				started[i] = started[n];
				i--;
			}
		if (n < POLL_MAX && now - last >= 1000000ull) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd == -1)
				err(1, "socket");
			if (connect(fd, (const struct sockaddr *)sin,
			    sizeof(*sin)) == 0)
				goto done;
			if (errno == EINPROGRESS) {
				pfd[n].fd = fd;
				pfd[n].events = POLLOUT;
				started[n++] = now;
			} else
				close(fd);	/* refused: try again later */
			last = now;
		}
		if (poll(pfd, n, 1) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			len = sizeof(e);
			if (getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &e,
			    &len) == 0 && e == 0)
				goto done;
			close(pfd[i].fd);
			pfd[i] = pfd[--n];
			started[i] = started[n];
			i--;
		}
	}
	errx(1, "addpoll: nothing answered within 30 s");
done:
	printf("%.1f\n", (now_ns() - t0) / 1e6);
}

#define CONN_WIN_MAX	256

/* One connection of connrate: -1 when it failed. */
static int
conn_start(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd == -1)
		err(1, "socket");
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
conn_end(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void
connrate(const struct sockaddr_in *sin, double secs, int win)
{
	struct pollfd pfd[CONN_WIN_MAX];
	int sent[CONN_WIN_MAX];
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), done = 0,
	    failed = 0;
	int i, e;
	char c = 'x';

	if (win < 1 || win > CONN_WIN_MAX)
		errx(1, "connrate: WIN 1..%d", CONN_WIN_MAX);
	for (i = 0; i < win; i++) {
		while ((pfd[i].fd = conn_start(sin)) == -1)
			failed++;
		pfd[i].events = POLLOUT;
		sent[i] = 0;
	}
	while (now_ns() < end) {
		if (poll(pfd, win, 100) <= 0)
			continue;
		for (i = 0; i < win; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (!sent[i] && getsockopt(pfd[i].fd, SOL_SOCKET,
			    SO_ERROR, &e, &(socklen_t){ sizeof(e) }) == 0 &&
			    e == 0 && write(pfd[i].fd, &c, 1) == 1) {
				sent[i] = 1;
				pfd[i].events = POLLIN;
				continue;
			}
			if (sent[i] && read(pfd[i].fd, &c, 1) == 1)
				done++;
			else
				failed++;
			conn_end(pfd[i].fd);
			while ((pfd[i].fd = conn_start(sin)) == -1)
				failed++;
			pfd[i].events = POLLOUT;
			sent[i] = 0;
		}
	}
	printf("%.0f %llu\n", done / ((now_ns() - t0) / 1e9),
	    (unsigned long long)failed);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;

	if (argc < 3)
		errx(1, "usage: kup-bench echo-tcp|echo-udp|rr|udp|idle|dns|"
		    "connrate|addpoll IP:PORT [args]");
	parse_addr(argv[2], &sin);
	if (strcmp(argv[1], "echo-tcp") == 0)
		echo_tcp(&sin);
	else if (strcmp(argv[1], "echo-udp") == 0)
		echo_udp(&sin);
	else if (strcmp(argv[1], "rr") == 0 && argc == 5)
		rr(&sin, atol(argv[3]), atol(argv[4]));
	else if (strcmp(argv[1], "udp") == 0 && argc == 6)
		udp_load(&sin, atof(argv[3]), atol(argv[4]), atoi(argv[5]));
	else if (strcmp(argv[1], "idle") == 0 && argc == 4)
		idle(&sin, atoi(argv[3]));
	else if (strcmp(argv[1], "dns") == 0 && argc == 6)
		dns_load(&sin, atof(argv[3]), atoi(argv[4]), argv[5]);
	else if (strcmp(argv[1], "connrate") == 0 && argc == 5)
		connrate(&sin, atof(argv[3]), atoi(argv[4]));
	else if (strcmp(argv[1], "addpoll") == 0 && argc == 5)
		addpoll(&sin, argv[3], argv[4]);
	else
		errx(1, "bad mode or arguments");
	return 0;
}
