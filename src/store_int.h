/*
 * store_int.h - the store's internals, PRIVATE to the store files
 * (store.c, store_join.c, store_diff.c); callers use store.h only.
 *
 * store.c keeps the indexes (objects, groups, ports) and reports;
 * store_join.c builds the service ports of one group; store_diff.c says
 * what changed between two versions of a port.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <bsd/sys/queue.h>

#include "store.h"
#include "tree.h"

struct group;

struct obj_entry {
	RB_ENTRY(obj_entry)	 entry;
	TAILQ_ENTRY(obj_entry)	 group_entry;	/* slices of the group */
	enum k8s_kind		 kind;		/* key, ns and name point */
	const char		*ns;		/* into obj */
	const char		*name;
	struct k8s_object	*obj;
	struct group		*group;		/* NULL: slice without label */
	uint64_t		 gen;
	int			 parked;	/* a Service past BOUND_SERVICES */
	TAILQ_ENTRY(obj_entry)	 park_entry;	/* store.parked */
};

struct port_node {
	RB_ENTRY(port_node)	 entry;
	struct store_port	 port;
	/* then the source ranges, the address arrays and the strings */
	struct store_endpoint	 all[];
};

struct group {
	RB_ENTRY(group)		 entry;
	TAILQ_ENTRY(group)	 dirty_entry;
	const char		*ns;		/* point into buf */
	const char		*name;
	struct obj_entry	*svc;
	struct obj_entry	*endpoints;
	TAILQ_HEAD(, obj_entry)	 slices;
	struct port_node	**ports;	/* as reported, Service order */
	size_t			 n_ports;
	int			 dirty;
	int			 svc_changed;	/* log skipped ports again */
	const char		*skip_logged;	/* static reason last logged */
	char			 buf[];
};

RB_HEAD(obj_tree, obj_entry);
RB_HEAD(group_tree, group);
RB_HEAD(port_tree, port_node);

struct store {
	store_cb		*cb;
	void			*arg;
	struct obj_tree		 objects;
	struct group_tree	 groups;
	struct port_tree	 ports;
	TAILQ_HEAD(, group)	 dirty;
	TAILQ_HEAD(, obj_entry)	 parked;	/* oldest first */
	size_t			 n_services;	/* joined, not parked */
	size_t			 n_ports;
	uint64_t		 gen;
	/* our Node: names own the strings node points into */
	char			*node_name;
	char			*node_zone;
	struct store_node	 node;
};

/*
 * The service ports a group should have now, in Service order
 * (store_join.c).  Returns an array of *np ports, both owned by the
 * caller; NULL with *np 0 when the group has no Service to join or the
 * Service is skipped.
 */
struct port_node **store_group_join(const struct store *, struct group *,
		    size_t *np);
/* What changed from a to b: STORE_* bits, 0 if nothing (store_diff.c). */
unsigned	 store_port_diff(const struct store_port *a,
		    const struct store_port *b);

#endif
