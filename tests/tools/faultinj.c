/*
 * faultinj.c - an LD_PRELOAD shim that makes chosen library calls fail, for
 * the fault-matrix test (tests/integration/fault_matrix.sh) and by hand.
 *
 * Wrapped: socket, accept, accept4, connect, pipe, pipe2, splice, sendmmsg,
 * recvmmsg, malloc (with calloc and realloc), iptc_commit, ip6tc_commit,
 * and as "nft_commit" libmnl's mnl_socket_sendto when it sends an nftables
 * transaction (a batch: its first message is NFNL_MSG_BATCH_BEGIN).
 * Each wrapper forwards to the next definition (dlsym(RTLD_NEXT, ...))
 * unless a rule says this call fails: then it returns the function's error
 * value (-1, NULL, or 0 for the libiptc commits) with errno set, without
 * calling the real function, as the kernel would on that error (a refused
 * accept leaves the connection queued, a refused recvmmsg leaves the data).
 *
 * Rules live in a control file named by $FAULTINJ_CTL, re-read at most
 * every 100 ms (on a wrapped call), so faults are switched on and off while
 * the program runs; write it aside and rename it over, so a reader never
 * sees half a file.  Nothing fails unless the file holds a line "armed":
 * no file, or no "armed", means every call goes through (so nothing fails
 * before main() or during start-up unless the caller arms it first).
 * Other lines, one rule per function ('#' starts a comment):
 *
 *	FUNC [errno=NAME|NUMBER] [nth=N] [from=N] [to=M] [rate=K] [seed=S]
 *	     [minsize=BYTES]
 *
 * Calls are counted per function from the moment the rules changed (1 is
 * the first call after).  nth=N fails call N only; from=N to=M fails calls
 * N to M (either may be omitted); rate=K fails one call in K on average,
 * chosen by a hash of seed and call number (the same seed gives the same
 * calls); all given conditions must hold, and with none every call fails.
 * minsize (malloc only) fails only allocations of at least BYTES.  The rule
 * "malloc" covers calloc and realloc too.  Default errno: EMFILE for
 * socket, accept, accept4, pipe, pipe2; ECONNREFUSED for connect; ENOBUFS
 * for sendmmsg; ENOMEM for the others.
 *
 * Every check, and the first injection, writes "$FAULTINJ_CTL.stats" when
 * counts changed: one line
 * "FUNC CALLS INJECTED" per ruled function (kept after the rules are
 * cleared, so a test can see what was injected).  Arming and clearing are
 * logged on stderr ("faultinj: ...").
 *
 * The shim must not allocate: it parses and formats in stack buffers and
 * uses only open/read/write/rename/close, which it does not wrap.  While
 * dlsym() resolves malloc (dlsym may allocate itself), allocations come
 * from a small static arena that free() recognises and ignores.
 */

#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum fn {
	F_SOCKET, F_ACCEPT, F_ACCEPT4, F_CONNECT, F_PIPE, F_PIPE2, F_SPLICE,
	F_SENDMMSG, F_RECVMMSG, F_MALLOC, F_IPTC_COMMIT, F_IP6TC_COMMIT,
	F_NFT_COMMIT, F_N
};

static const struct {
	const char	*name;
	int		 err;		/* default errno */
} fns[F_N] = {
	[F_SOCKET] = { "socket", EMFILE },
	[F_ACCEPT] = { "accept", EMFILE },
	[F_ACCEPT4] = { "accept4", EMFILE },
	[F_CONNECT] = { "connect", ECONNREFUSED },
	[F_PIPE] = { "pipe", EMFILE },
	[F_PIPE2] = { "pipe2", EMFILE },
	[F_SPLICE] = { "splice", ENOMEM },
	[F_SENDMMSG] = { "sendmmsg", ENOBUFS },
	[F_RECVMMSG] = { "recvmmsg", ENOMEM },
	[F_MALLOC] = { "malloc", ENOMEM },
	[F_IPTC_COMMIT] = { "iptc_commit", ENOMEM },
	[F_IP6TC_COMMIT] = { "ip6tc_commit", ENOMEM },
	[F_NFT_COMMIT] = { "nft_commit", ENOMEM },
};

static const struct {
	const char	*name;
	int		 val;
} errnos[] = {
	{ "EMFILE", EMFILE }, { "ENFILE", ENFILE }, { "ENOMEM", ENOMEM },
	{ "ENOBUFS", ENOBUFS }, { "EAGAIN", EAGAIN },
	{ "EWOULDBLOCK", EWOULDBLOCK }, { "EINTR", EINTR },
	{ "ECONNREFUSED", ECONNREFUSED }, { "ECONNRESET", ECONNRESET },
	{ "ECONNABORTED", ECONNABORTED }, { "ENETUNREACH", ENETUNREACH },
	{ "EHOSTUNREACH", EHOSTUNREACH }, { "ETIMEDOUT", ETIMEDOUT },
	{ "EADDRNOTAVAIL", EADDRNOTAVAIL }, { "EADDRINUSE", EADDRINUSE },
	{ "EPERM", EPERM }, { "EACCES", EACCES }, { "EIO", EIO },
	{ "EPIPE", EPIPE }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC },
	{ "ENOSYS", ENOSYS }, { "EPROTO", EPROTO },
};

struct rule {
	int		 on;
	int		 err;
	uint64_t	 nth, from, to, rate, seed, minsize;
};

struct rules {
	int		 armed;
	struct rule	 r[F_N];
};

/*
 * Two rule sets: the reloader fills the one not published, then publishes
 * it.  Reloads are at least 100 ms apart, far longer than any reader holds
 * the pointer.
 */
static struct rules	 sets[2];
static struct rules *_Atomic cur;
static _Atomic uint64_t	 calls[F_N], injected[F_N];
static _Atomic int	 reloading;
static _Atomic long	 last_check_ms = -1000;
static int		 ready;		/* the constructor ran */

#define CTL_MAX		4096
static char		 ctl_prev[CTL_MAX];
static ssize_t		 ctl_prev_len = -2;	/* -1: no file */
static uint64_t		 stats_prev[F_N][2];

static long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
say(const char *a, const char *b)
{
	char line[512];
	size_t n = 0, k;

	k = strlen(a);
	if (k > 200)
		k = 200;
	memcpy(line, a, k);
	n = k;
	k = strlen(b);
	if (k > sizeof(line) - n - 1)
		k = sizeof(line) - n - 1;
	memcpy(line + n, b, k);
	n += k;
	line[n++] = '\n';
	(void)!write(2, line, n);
}

static int
parse_u64(const char *s, const char *end, uint64_t *v)
{
	uint64_t x = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

static int
word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* One line "FUNC key=value..." into rs; "armed" sets rs->armed. */
static void
parse_line(struct rules *rs, const char *s, const char *end)
{
	struct rule r;
	const char *w, *eq;
	size_t i;
	int f = -1;

	memset(&r, 0, sizeof(r));
	while (s < end) {
		while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s == end || *s == '#')
			break;
		for (w = s; s < end && *s != ' ' && *s != '\t' &&
		    *s != '\r'; s++)
			;
		if (f == -1) {
			if (word_is(w, (size_t)(s - w), "armed")) {
				rs->armed = 1;
				return;
			}
			for (i = 0; i < F_N; i++)
				if (word_is(w, (size_t)(s - w), fns[i].name))
					f = (int)i;
			if (f == -1) {
				say("faultinj: unknown function in rule, "
				    "ignored: ", w);
				return;
			}
			r.err = fns[f].err;
			continue;
		}
		if ((eq = memchr(w, '=', (size_t)(s - w))) == NULL)
			goto bad;
		eq++;
		if (word_is(w, (size_t)(eq - w), "errno=")) {
			if (parse_u64(eq, s, &r.nth) == 0) {
				r.err = (int)r.nth;
				r.nth = 0;
				continue;
			}
			for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
				if (word_is(eq, (size_t)(s - eq),
				    errnos[i].name))
					break;
			if (i == sizeof(errnos) / sizeof(errnos[0]))
				goto bad;
			r.err = errnos[i].val;
		} else if (word_is(w, (size_t)(eq - w), "nth=")) {
			if (parse_u64(eq, s, &r.nth) == -1)
				goto bad;
		} else if (word_is(w, (size_t)(eq - w), "from=")) {
			if (parse_u64(eq, s, &r.from) == -1)
				goto bad;
		} else if (word_is(w, (size_t)(eq - w), "to=")) {
			if (parse_u64(eq, s, &r.to) == -1)
				goto bad;
		} else if (word_is(w, (size_t)(eq - w), "rate=")) {
			if (parse_u64(eq, s, &r.rate) == -1)
				goto bad;
		} else if (word_is(w, (size_t)(eq - w), "seed=")) {
			if (parse_u64(eq, s, &r.seed) == -1)
				goto bad;
		} else if (word_is(w, (size_t)(eq - w), "minsize=")) {
			if (parse_u64(eq, s, &r.minsize) == -1)
				goto bad;
		} else
			goto bad;
	}
	if (f == -1)
		return;
	r.on = 1;
	rs->r[f] = r;
	return;
 bad:
	say("faultinj: bad rule, ignored: ", fns[f].name);
}

static void
put_u64(char *buf, size_t *n, uint64_t v)
{
	char tmp[24];
	int k = 0;

	do {
		tmp[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (k > 0)
		buf[(*n)++] = tmp[--k];
}

/* Write CTL.stats (aside, then renamed) if a count changed. */
static void
write_stats(const char *ctl, const struct rules *rs)
{
	char buf[1024], path[512], tmp[520];
	size_t n = 0, k, i;
	int fd, changed = 0;

	for (i = 0; i < F_N; i++) {
		uint64_t c = atomic_load(&calls[i]);
		uint64_t j = atomic_load(&injected[i]);

		if (c != stats_prev[i][0] || j != stats_prev[i][1])
			changed = 1;
		stats_prev[i][0] = c;
		stats_prev[i][1] = j;
		if (!rs->r[i].on && j == 0)
			continue;
		k = strlen(fns[i].name);
		memcpy(buf + n, fns[i].name, k);
		n += k;
		buf[n++] = ' ';
		put_u64(buf, &n, c);
		buf[n++] = ' ';
		put_u64(buf, &n, j);
		buf[n++] = '\n';
	}
	if (!changed || strlen(ctl) > sizeof(path) - 16)
		return;
	k = strlen(ctl);
	memcpy(path, ctl, k);
	memcpy(path + k, ".stats", 7);
	memcpy(tmp, path, k + 6);
	memcpy(tmp + k + 6, ".tmp", 5);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return;
	(void)!write(fd, buf, n);
	close(fd);
	rename(tmp, path);
}

/*
 * At most every 100 ms, one caller at a time: re-read the control file and
 * publish new rules if its bytes changed.
 */
static void
check(void)
{
	const char *ctl;
	char buf[CTL_MAX];
	struct rules *next;
	const char *s, *e, *end;
	ssize_t len = -1, r;
	long now = mono_ms();
	size_t i;
	int fd, saved = errno;

	if (!ready || now - atomic_load(&last_check_ms) < 100)
		return;
	if (atomic_exchange(&reloading, 1))
		return;
	atomic_store(&last_check_ms, now);
	if ((ctl = getenv("FAULTINJ_CTL")) == NULL || *ctl == '\0')
		goto out;
	if ((fd = open(ctl, O_RDONLY | O_CLOEXEC)) != -1) {
		len = 0;
		while (len < CTL_MAX - 1 &&
		    (r = read(fd, buf + len, (size_t)(CTL_MAX - 1 - len))) > 0)
			len += r;
		close(fd);
	}
	if (len == ctl_prev_len && (len <= 0 ||
	    memcmp(buf, ctl_prev, (size_t)len) == 0)) {
		write_stats(ctl, atomic_load(&cur));
		goto out;
	}
	next = atomic_load(&cur) == &sets[0] ? &sets[1] : &sets[0];
	memset(next, 0, sizeof(*next));
	for (s = buf, end = buf + (len > 0 ? len : 0); s < end; s = e + 1) {
		if ((e = memchr(s, '\n', (size_t)(end - s))) == NULL)
			e = end;
		parse_line(next, s, e);
	}
	if (len > 0)
		memcpy(ctl_prev, buf, (size_t)len);
	ctl_prev_len = len;
	if (next->armed) {
		for (i = 0; i < F_N; i++) {
			atomic_store(&calls[i], 0);
			atomic_store(&injected[i], 0);
		}
		buf[len > 0 ? len : 0] = '\0';
		for (i = 0; i < (size_t)len; i++)
			if (buf[i] == '\n')
				buf[i] = ';';
		say("faultinj: armed: ", buf);
	} else if (atomic_load(&cur)->armed)
		say("faultinj: cleared", "");
	atomic_store(&cur, next);
	write_stats(ctl, next);
 out:
	atomic_store(&reloading, 0);
	errno = saved;
}

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Does this call of f fail?  Sets errno when it does. */
static int
fails(enum fn f, size_t size)
{
	const struct rules *rs;
	const struct rule *r;
	uint64_t n;

	check();
	if ((rs = atomic_load(&cur)) == NULL || !rs->armed)
		return 0;
	r = &rs->r[f];
	if (!r->on)
		return 0;
	n = atomic_fetch_add(&calls[f], 1) + 1;
	if (r->nth != 0 && n != r->nth)
		return 0;
	if (r->from != 0 && n < r->from)
		return 0;
	if (r->to != 0 && n > r->to)
		return 0;
	if (r->rate > 1 && mix(r->seed ^ (n * 0x2545f4914f6cdd1dULL)) %
	    r->rate != 0)
		return 0;
	if (size < r->minsize)
		return 0;
	if (atomic_fetch_add(&injected[f], 1) == 0 &&
	    !atomic_exchange(&reloading, 1)) {
		/* The first one is on file at once: it may be the last. */
		const char *ctl = getenv("FAULTINJ_CTL");

		if (ctl != NULL)
			write_stats(ctl, rs);
		atomic_store(&reloading, 0);
	}
	errno = r->err;
	return 1;
}

__attribute__((constructor)) static void
faultinj_init(void)
{
	atomic_store(&cur, &sets[0]);
	ready = 1;
}

#define REAL(type, name, args)						\
	static type (*real_##name) args;				\
	if (real_##name == NULL)					\
		real_##name = (type (*) args)dlsym(RTLD_NEXT, #name)

int
socket(int domain, int type, int protocol)
{
	REAL(int, socket, (int, int, int));
	if (fails(F_SOCKET, 0))
		return -1;
	return real_socket(domain, type, protocol);
}

int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	REAL(int, accept, (int, struct sockaddr *, socklen_t *));
	if (fails(F_ACCEPT, 0))
		return -1;
	return real_accept(fd, sa, len);
}

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	REAL(int, accept4, (int, struct sockaddr *, socklen_t *, int));
	if (fails(F_ACCEPT4, 0))
		return -1;
	return real_accept4(fd, sa, len, flags);
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	REAL(int, connect, (int, const struct sockaddr *, socklen_t));
	if (fails(F_CONNECT, 0))
		return -1;
	return real_connect(fd, sa, len);
}

int
pipe(int fds[2])
{
	REAL(int, pipe, (int *));
	if (fails(F_PIPE, 0))
		return -1;
	return real_pipe(fds);
}

int
pipe2(int fds[2], int flags)
{
	REAL(int, pipe2, (int *, int));
	if (fails(F_PIPE2, 0))
		return -1;
	return real_pipe2(fds, flags);
}

ssize_t
splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len,
    unsigned int flags)
{
	REAL(ssize_t, splice, (int, loff_t *, int, loff_t *, size_t,
	    unsigned int));
	if (fails(F_SPLICE, 0))
		return -1;
	return real_splice(in, off_in, out, off_out, len, flags);
}

int
sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	REAL(int, sendmmsg, (int, struct mmsghdr *, unsigned int, int));
	if (fails(F_SENDMMSG, 0))
		return -1;
	return real_sendmmsg(fd, v, n, flags);
}

int
recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
    struct timespec *timeout)
{
	REAL(int, recvmmsg, (int, struct mmsghdr *, unsigned int, int,
	    struct timespec *));
	if (fails(F_RECVMMSG, 0))
		return -1;
	return real_recvmmsg(fd, v, n, flags, timeout);
}

struct xtc_handle;
int	iptc_commit(struct xtc_handle *);
int	ip6tc_commit(struct xtc_handle *);

int
iptc_commit(struct xtc_handle *h)
{
	REAL(int, iptc_commit, (struct xtc_handle *));
	if (real_iptc_commit == NULL) {
		errno = ENOSYS;
		return 0;
	}
	if (fails(F_IPTC_COMMIT, 0))
		return 0;
	return real_iptc_commit(h);
}

int
ip6tc_commit(struct xtc_handle *h)
{
	REAL(int, ip6tc_commit, (struct xtc_handle *));
	if (real_ip6tc_commit == NULL) {
		errno = ENOSYS;
		return 0;
	}
	if (fails(F_IP6TC_COMMIT, 0))
		return 0;
	return real_ip6tc_commit(h);
}

struct mnl_socket;
ssize_t	mnl_socket_sendto(const struct mnl_socket *, const void *, size_t);

/* NFNL_MSG_BATCH_BEGIN, <linux/netfilter/nfnetlink.h> (NLMSG_MIN_TYPE) */
#define BATCH_BEGIN	0x10

ssize_t
mnl_socket_sendto(const struct mnl_socket *nl, const void *buf, size_t len)
{
	uint16_t type;

	REAL(ssize_t, mnl_socket_sendto, (const struct mnl_socket *,
	    const void *, size_t));
	if (real_mnl_socket_sendto == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* struct nlmsghdr: u32 length, then u16 type */
	if (len >= 6) {
		memcpy(&type, (const char *)buf + 4, sizeof(type));
		if (type == BATCH_BEGIN && fails(F_NFT_COMMIT, 0))
			return -1;
	}
	return real_mnl_socket_sendto(nl, buf, len);
}

/* --- malloc, calloc, realloc, free ------------------------------------- */

static void	*(*real_malloc)(size_t);
static void	*(*real_calloc)(size_t, size_t);
static void	*(*real_realloc)(void *, size_t);
static void	 (*real_free)(void *);
static int	 resolving;

/* The bootstrap arena: 16-byte aligned blocks, each after its size. */
static _Alignas(16) char arena[65536];
static size_t	 arena_used;

static int
in_arena(const void *p)
{
	return (const char *)p >= arena && (const char *)p < arena +
	    sizeof(arena);
}

static void *
arena_alloc(size_t size)
{
	size_t need = 16 + ((size + 15) & ~(size_t)15);
	char *p;

	if (arena_used + need > sizeof(arena))
		return NULL;
	p = arena + arena_used;
	arena_used += need;
	memcpy(p, &size, sizeof(size));
	return p + 16;
}

static int
resolve(void)
{
	if (real_malloc != NULL)
		return 0;
	if (resolving)
		return -1;
	resolving = 1;
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT,
	    "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	resolving = 0;
	return real_malloc != NULL && real_calloc != NULL &&
	    real_realloc != NULL && real_free != NULL ? 0 : -1;
}

void *
malloc(size_t size)
{
	if (resolve() == -1)
		return arena_alloc(size);
	if (fails(F_MALLOC, size))
		return NULL;
	return real_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
	if (resolve() == -1) {
		/* The arena is zeroed and never reused. */
		if (size != 0 && n > SIZE_MAX / size)
			return NULL;
		return arena_alloc(n * size);
	}
	if (fails(F_MALLOC, n * size))
		return NULL;
	return real_calloc(n, size);
}

void *
realloc(void *p, size_t size)
{
	size_t old;
	void *q;

	if (p != NULL && in_arena(p)) {
		memcpy(&old, (char *)p - 16, sizeof(old));
		if ((q = malloc(size)) == NULL)
			return NULL;
		memcpy(q, p, old < size ? old : size);
		return q;
	}
	if (resolve() == -1)
		return arena_alloc(size);
	if (size != 0 && fails(F_MALLOC, size))
		return NULL;
	return real_realloc(p, size);
}

void
free(void *p)
{
	if (p == NULL || in_arena(p))
		return;
	if (resolve() == -1)
		return;		/* cannot happen: p came from real_malloc */
	real_free(p);
}
