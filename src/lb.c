/*
 * lb.c - the load balancer of one service port (see lb.h).
 *
 * The proxier owns one struct lb per service port and hands it the ready
 * endpoints whenever they change; the TCP and UDP proxies call lb_pick for
 * every new connection or flow.
 *
 * Round robin walks a private, sorted copy of the endpoint list, one
 * family at a time: a client's traffic goes to endpoints of its own family
 * (an IPv4 client, or an IPv4-mapped one on a dual-stack proxy socket, to
 * IPv4 endpoints; IPv6 to IPv6), as kube-proxy's one proxier per family
 * does.  addr_cmp sorts IPv4 before IPv6, so each family is a slice of the
 * array, [0, lb_n4) and [lb_n4, lb_neps), with a round-robin position of
 * its own; a pick allocates nothing.  ClientIP
 * affinity keeps one record per client IP (the port is ignored, as in the
 * Go original) in a red-black tree for lookup, and the same records on a
 * list ordered by last use, so that expiry and eviction only ever look at
 * the oldest end.  A record stores its endpoint by value, so it survives
 * an endpoint list replacement as long as that endpoint is still there.
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/sys/queue.h>

#include "bounds.h"
#include "lb.h"
#include "log.h"
#include "metrics.h"
#include "tree.h"
#include "util.h"

/* kube-proxy's default sessionAffinityConfig.clientIP.timeoutSeconds. */
#define LB_AFFINITY_DEFAULT_S	10800

struct affinity {
	RB_ENTRY(affinity)	 af_node;	/* by client IP */
	TAILQ_ENTRY(affinity)	 af_lru;	/* oldest use first */
	union addr		 af_client;	/* port zeroed */
	union addr		 af_endpoint;
	size_t			 af_index;	/* af_endpoint in lb_eps */
	uint64_t		 af_last_used;	/* ms */
};

/*
 * Records over every lb (metrics_datapath.affinity_total counts them) and
 * the last "total bound reached" line.
 */
static size_t	 affinity_total_max = BOUND_AFFINITY_TOTAL;
static uint64_t	 affinity_warn_ms;

RB_HEAD(affinity_tree, affinity);
TAILQ_HEAD(affinity_lru, affinity);

struct lb {
	union addr		*lb_eps;
	struct endpoint_stats	**lb_stats;	/* one per lb_eps entry */
	size_t			 lb_neps;
	size_t			 lb_n4;		/* IPv4 ones: lb_eps[0, lb_n4) */
	size_t			 lb_next[2];	/* round-robin position, per
						   family (0 IPv4, 1 IPv6),
						   an index in its slice */
	int			 lb_affinity;
	uint64_t		 lb_timeout_ms;
	struct affinity_tree	 lb_tree;
	struct affinity_lru	 lb_lru;
	size_t			 lb_naffinity;
	struct lb		*lb_partner;	/* shares endpoint records */
};

static int
affinity_cmp(const struct affinity *a, const struct affinity *b)
{
	return addr_cmp_ip(&a->af_client, &b->af_client);
}

RB_GENERATE_LOCAL(affinity_tree, affinity, af_node, affinity_cmp)

static int
endpoint_cmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

struct lb *
lb_new(void)
{
	struct lb *lb = xcalloc(1, sizeof(*lb));

	RB_INIT(&lb->lb_tree);
	TAILQ_INIT(&lb->lb_lru);
	lb->lb_timeout_ms = (uint64_t)LB_AFFINITY_DEFAULT_S * 1000;
	return lb;
}

static void
affinity_drop(struct lb *lb, struct affinity *af)
{
	RB_REMOVE(affinity_tree, &lb->lb_tree, af);
	TAILQ_REMOVE(&lb->lb_lru, af, af_lru);
	lb->lb_naffinity--;
	metrics_datapath.affinity_total--;
	free(af);
}

static void
affinity_clear(struct lb *lb)
{
	struct affinity *af;

	while ((af = TAILQ_FIRST(&lb->lb_lru)) != NULL)
		affinity_drop(lb, af);
}

void
lb_free(struct lb *lb)
{
	size_t i;

	if (lb == NULL)
		return;
	if (lb->lb_partner != NULL)
		lb->lb_partner->lb_partner = NULL;
	affinity_clear(lb);
	for (i = 0; i < lb->lb_neps; i++)
		metrics_endpoint_unlist(lb->lb_stats[i]);
	free(lb->lb_stats);
	free(lb->lb_eps);
	free(lb);
}

/*
 * A family's round-robin position when its slice goes from old_n to n
 * endpoints.
 */
static void
rr_carry(size_t *next, size_t old_n, size_t n)
{
	if (n == 0)
		*next = 0;
	else if (old_n == 0)
		/*
		 * Start at a random endpoint: every node gets the same sorted
		 * list, and without this they would all send their first
		 * connection to the same pod.
		 */
		*next = arc4random_uniform((uint32_t)n);
	else
		*next %= n;
}

/* Index of the first IPv6 endpoint of a sorted array. */
static size_t
count_ipv4(const union addr *eps, size_t n)
{
	size_t i;

	for (i = 0; i < n && eps[i].sa.sa_family == AF_INET; i++)
		;
	return i;
}

/*
 * The counters for endpoint `ep` entering lb's list: the partner's record
 * when it lists the same endpoint (one record per endpoint of a service
 * port, whichever of its sockets connects), else a new one.
 */
static struct endpoint_stats *
stats_for(const struct lb *lb, const union addr *ep)
{
	const struct lb *pt = lb->lb_partner;
	union addr *found;

	if (pt != NULL && pt->lb_neps > 0 && (found = bsearch(ep, pt->lb_eps,
	    pt->lb_neps, sizeof(*ep), endpoint_cmp)) != NULL)
		return metrics_endpoint_list(pt->lb_stats[found - pt->lb_eps]);
	return metrics_endpoint_new(ep);
}

void
lb_set_endpoints(struct lb *lb, const union addr *eps, size_t n)
{
	struct affinity *af, *next;
	union addr *found, *copy = NULL;
	struct endpoint_stats **stats;
	size_t old_n = lb->lb_neps, old_n4 = lb->lb_n4, n4, i;

	/* Copy before freeing: eps may be our own array. */
	if (n > 0) {
		copy = xreallocarray(NULL, n, sizeof(*eps));
		memcpy(copy, eps, n * sizeof(*eps));
		/*
		 * store_port already sorts; sorting our copy again is cheap
		 * and makes the bsearch below correct whatever the caller.
		 */
		qsort(copy, n, sizeof(*eps), endpoint_cmp);
	}
	/*
	 * An endpoint that stays keeps its counters; the records of those
	 * that left are unlisted (freed once no connection holds them).
	 */
	stats = n > 0 ? xreallocarray(NULL, n, sizeof(*stats)) : NULL;
	for (i = 0; i < n; i++) {
		found = old_n == 0 ? NULL : bsearch(&copy[i], lb->lb_eps,
		    old_n, sizeof(*eps), endpoint_cmp);
		/* (A duplicate finds its slot taken and gets its own.) */
		if (found != NULL && lb->lb_stats[found - lb->lb_eps] != NULL) {
			stats[i] = lb->lb_stats[found - lb->lb_eps];
			lb->lb_stats[found - lb->lb_eps] = NULL;
		} else
			stats[i] = stats_for(lb, &copy[i]);
	}
	for (i = 0; i < old_n; i++)
		if (lb->lb_stats[i] != NULL)
			metrics_endpoint_unlist(lb->lb_stats[i]);
	free(lb->lb_stats);
	lb->lb_stats = stats;
	free(lb->lb_eps);
	lb->lb_eps = copy;
	lb->lb_neps = n;
	lb->lb_n4 = n4 = count_ipv4(copy, n);

	/* Keep the affinity of clients whose endpoint is still here. */
	TAILQ_FOREACH_SAFE(af, &lb->lb_lru, af_lru, next) {
		found = n == 0 ? NULL : bsearch(&af->af_endpoint, lb->lb_eps,
		    n, sizeof(*eps), endpoint_cmp);
		if (found == NULL)
			affinity_drop(lb, af);
		else
			af->af_index = found - lb->lb_eps;
	}

	rr_carry(&lb->lb_next[0], old_n4, n4);
	rr_carry(&lb->lb_next[1], old_n - old_n4, n - n4);
}

void
lb_set_affinity(struct lb *lb, int client_ip, uint32_t timeout_s)
{
	lb->lb_affinity = client_ip != 0;
	/*
	 * The new timeout applies to existing records too: the Go original
	 * kept the first one forever (kubernetes issue #107398).
	 */
	lb->lb_timeout_ms = (uint64_t)(timeout_s > 0 ? timeout_s :
	    LB_AFFINITY_DEFAULT_S) * 1000;
	if (!lb->lb_affinity)
		affinity_clear(lb);
}

size_t
lb_count(const struct lb *lb)
{
	return lb->lb_neps;
}

struct endpoint_stats *
lb_endpoint_stats(const struct lb *lb, const union addr *picked)
{
	return lb->lb_stats[picked - lb->lb_eps];
}

struct endpoint_stats *const *
lb_endpoint_stats_all(const struct lb *lb)
{
	return lb->lb_stats;
}

size_t
lb_affinity_count(const struct lb *lb)
{
	return lb->lb_naffinity;
}

void
lb_set_affinity_total_bound(size_t max)
{
	affinity_total_max = max > 0 ? max : 1;
}

static int
affinity_expired(const struct lb *lb, const struct affinity *af,
    uint64_t now_ms)
{
	/* A clock that went backwards counts as "just used". */
	if (now_ms <= af->af_last_used)
		return 0;
	return now_ms - af->af_last_used >= lb->lb_timeout_ms;
}

size_t
lb_expire(struct lb *lb, uint64_t now_ms)
{
	struct affinity *af;
	size_t dropped = 0;

	/* The list is in order of last use: stop at the first live one. */
	while ((af = TAILQ_FIRST(&lb->lb_lru)) != NULL &&
	    affinity_expired(lb, af, now_ms)) {
		affinity_drop(lb, af);
		dropped++;
	}
	return dropped;
}

static void
affinity_touch(struct lb *lb, struct affinity *af, uint64_t now_ms)
{
	af->af_last_used = now_ms;
	TAILQ_REMOVE(&lb->lb_lru, af, af_lru);
	TAILQ_INSERT_TAIL(&lb->lb_lru, af, af_lru);
}

/*
 * A record for client, or NULL when the records of every port are at
 * their bound and this port has none to give (see lb_pick).
 */
static struct affinity *
affinity_new(struct lb *lb, const union addr *client, uint64_t now_ms)
{
	struct affinity *af;
	char cb[ADDR_STRLEN];

	/* Make room: the expired first, else the least recently used. */
	if (lb->lb_naffinity >= LB_AFFINITY_MAX &&
	    lb_expire(lb, now_ms) == 0)
		affinity_drop(lb, TAILQ_FIRST(&lb->lb_lru));
	/*
	 * The same over every port, but only at this port's expense: a
	 * flood of clients on one port must not make another port's
	 * clients lose their endpoint.
	 */
	if (metrics_datapath.affinity_total >= affinity_total_max &&
	    lb_expire(lb, now_ms) == 0) {
		if (lb->lb_naffinity == 0) {
			metrics_datapath.affinity_refused++;
			if (affinity_warn_ms == 0 ||
			    now_ms - affinity_warn_ms >= 1000) {
				affinity_warn_ms = now_ms;
				log_warnx("affinity of client %s not recorded: "
				    "%zu records over all ports, the bound "
				    "(BOUND_AFFINITY_TOTAL)", addr_str(client,
				    0, cb, sizeof(cb)), affinity_total_max);
			}
			return NULL;
		}
		affinity_drop(lb, TAILQ_FIRST(&lb->lb_lru));
	}
	if ((af = calloc(1, sizeof(*af))) == NULL) {
		metrics_datapath.affinity_refused++;
		return NULL;
	}
	af->af_client = *client;
	addr_set_port(&af->af_client, 0);
	RB_INSERT(affinity_tree, &lb->lb_tree, af);
	TAILQ_INSERT_TAIL(&lb->lb_lru, af, af_lru);
	lb->lb_naffinity++;
	metrics_datapath.affinity_total++;
	return af;
}

void
lb_share_stats(struct lb *a, struct lb *b)
{
	if (a->lb_partner != NULL)
		a->lb_partner->lb_partner = NULL;
	if (b != NULL && b->lb_partner != NULL)
		b->lb_partner->lb_partner = NULL;
	a->lb_partner = b;
	if (b != NULL)
		b->lb_partner = a;
}

int
lb_family_index(const union addr *a)
{
	if (a->sa.sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
		return 1;
	return 0;
}

size_t
lb_count_family(const struct lb *lb, int family_index)
{
	return family_index == 0 ? lb->lb_n4 : lb->lb_neps - lb->lb_n4;
}

const union addr *
lb_pick(struct lb *lb, const union addr *client, int retry, uint64_t now_ms)
{
	struct affinity key, *af = NULL;
	size_t i, lo, n;
	int fam;

	/* The client's family's slice of the endpoints. */
	fam = lb_family_index(client);
	lo = fam == 0 ? 0 : lb->lb_n4;
	n = lb_count_family(lb, fam);
	if (n == 0)
		return NULL;

	if (lb->lb_affinity) {
		memset(&key, 0, sizeof(key));
		key.af_client = *client;
		af = RB_FIND(affinity_tree, &lb->lb_tree, &key);
		if (af != NULL && !retry && !affinity_expired(lb, af, now_ms)) {
			/* A sticky client does not move round robin. */
			affinity_touch(lb, af, now_ms);
			return &lb->lb_eps[af->af_index];
		}
	}

	i = lo + lb->lb_next[fam];
	if (++lb->lb_next[fam] == n)
		lb->lb_next[fam] = 0;

	if (lb->lb_affinity) {
		/* New, expired, or rebinding after a failed connect. */
		if (af == NULL)
			af = affinity_new(lb, client, now_ms);
		/* (None at the total bound: served, not recorded.) */
		if (af != NULL) {
			af->af_endpoint = lb->lb_eps[i];
			af->af_index = i;
			affinity_touch(lb, af, now_ms);
		}
	}
	return &lb->lb_eps[i];
}
