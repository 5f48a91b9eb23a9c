/*
 * bounds.h - every bound kube-uproxy puts on what it is sent, in one place.
 *
 * kube-uproxy is on the path of every connection to every Service of its
 * node: one runaway allocation or one stalled loop takes all of them down
 * at once.  So each input that a manifest, the API server or a client can
 * grow is bounded here, with the reason for its default.  Past a bound the
 * object is skipped with one line naming it and the bound; everything
 * else goes on being served.  The man page's LIMITS section lists the
 * same table; bounds an operator may need to move are flags instead
 * (--relay-memory, --tcp-keepalive, --tcp-fin-timeout, --udp-timeout).
 */
#ifndef BOUNDS_H
#define BOUNDS_H

/* ---- manifests (--manifests) ---- */

/* Bytes of one manifest file as read. */
#define BOUND_MANIFEST_BYTES		(16 * 1024 * 1024)
/*
 * Bytes of one YAML file's JSON after alias expansion: an alias re-reads
 * its anchor's whole subtree, so a small file could otherwise expand
 * exponentially ("billion laughs").
 */
#define BOUND_YAML_EXPANDED_BYTES	(64 * 1024 * 1024)
/* Anchors defined in one YAML file (looked up by hash). */
#define BOUND_YAML_ANCHORS		65536
/* Objects (documents and List items) in one manifest file. */
#define BOUND_OBJECTS_PER_FILE		100000

/* ---- objects, from either source ---- */

/* Ports of one Service; a Service with more is skipped. */
#define BOUND_PORTS_PER_SERVICE		1024
/*
 * Topology hints of one endpoint (hints.forZones, hints.forNodes, each):
 * the API server admits 8 (discovery/v1 validation), so more is hostile.
 */
#define BOUND_HINTS_PER_ENDPOINT	8
/*
 * spec.loadBalancerSourceRanges of one Service: each range is a rule per
 * LoadBalancer IP and port, so a runaway list would swell every sync.
 */
#define BOUND_SOURCE_RANGES_PER_SERVICE	1024
/* Services in total; one past it is skipped until others go. */
#define BOUND_SERVICES			100000

/* ---- the API (list and watch) ---- */

/*
 * Bytes of one watch event line.  The API server refuses objects over
 * 1.5 MiB (etcd's request limit), so an event is well under this.
 */
#define BOUND_WATCH_EVENT_BYTES		(8 * 1024 * 1024)
/* Bytes of one list response page (500 items a page). */
#define BOUND_LIST_PAGE_BYTES		(64 * 1024 * 1024)

/* ---- admin HTTP (healthz and metrics listeners, each) ---- */

#define BOUND_ADMIN_HEADERS_BYTES	(16 * 1024)	/* request line and headers */
#define BOUND_ADMIN_BODY_BYTES		(4 * 1024)
#define BOUND_ADMIN_CONNECTIONS		64
#define BOUND_ADMIN_IDLE_S		10	/* read or write stalled this long: closed */
/*
 * Health check node ports (one per LoadBalancer Service with
 * externalTrafficPolicy Local) have the bounds above each, and this many
 * connections over all of them: a load balancer probes each node every
 * few seconds, so a few per Service is plenty.
 */
#define BOUND_HEALTH_CHECK_CONNECTIONS	1024

/* ---- the data path ---- */

/* UDP client flows in total, over every service port. */
#define BOUND_UDP_FLOWS_TOTAL		65536
/* ClientIP affinity records in total, over every service port. */
#define BOUND_AFFINITY_TOTAL		262144
/*
 * File descriptors kept for listeners, the API, admin and logs when the
 * connection bound is derived from RLIMIT_NOFILE: a relay takes two.
 */
#define BOUND_FD_RESERVE		256

/* ---- configuration (flags and --config) ---- */

/*
 * Bytes of one flag or configuration-file value (a path, a URL, a list of
 * ranges): PATH_MAX, so that any path fits.  Longer is refused, from a
 * flag and from the file alike, never cut.
 */
#define BOUND_CONFIG_VALUE_BYTES	4096

#endif
