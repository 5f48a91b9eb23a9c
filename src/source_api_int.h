/*
 * source_api_int.h - internals shared by source_api*.c; private to those
 * files, never included elsewhere (callers use source_api.h).
 *
 *	source_api.c		the resource table, watchers and their
 *				failures/backoff, first sync, metrics
 *	source_api_list.c	list: pages, continue tokens, relist as a diff
 *	source_api_watch.c	watch: event stream, bookmarks, ERROR events
 */
#ifndef SOURCE_API_INT_H
#define SOURCE_API_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "api_client.h"
#include "backoff.h"
#include "jsonstream.h"
#include "k8s.h"
#include "source_api.h"
#include "store.h"

/* kube-proxy's selector (K8S-API.md §2.8), URL-escaped. */
#define SELECTOR	"labelSelector=%21service.kubernetes.io%2Fheadless" \
			"%2C%21service.kubernetes.io%2Fservice-proxy-name"
#define PAGE_SIZE	500
#define OBJECT_MAX	(1u << 20)	/* weight of one object (json_weight) */
#define LIST_TIMEOUT_S	60L

enum resource {
	RES_SERVICES,
	RES_ENDPOINTSLICES,
	RES_ENDPOINTS,
	RES_NODES,
	RES_COUNT
};

struct resource_info {
	const char	*name;		/* metric label, messages */
	const char	*path;
	enum k8s_kind	 kind;
	const char	*kind_str;	/* list items carry no kind: we add it */
	const char	*api_version;
};
extern const struct resource_info source_api_resources[RES_COUNT];

extern const char *source_api_event_types[];
enum { EV_ADDED, EV_MODIFIED, EV_DELETED, EV_BOOKMARK, EV_ERROR, EV_TYPES };

struct resource_stats {
	uint64_t	lists, relists, watches, errors, skipped, broken;
	uint64_t	events[EV_TYPES];
};

enum next_step { STEP_LIST, STEP_WATCH };

struct object_name {
	char	*ns;
	char	*name;
};

struct watcher {
	struct source_api	*w_api;
	enum resource		 w_res;
	struct api_request	*w_req;		/* the request in flight */
	struct event		*w_timer;	/* backoff */
	enum next_step		 w_next;	/* what the timer starts */
	char			*w_rv;		/* last resourceVersion seen */
	int			 w_synced;	/* a first list is applied */
	int			 w_up;		/* last request went well */
	struct backoff		 w_backoff;
	int			 w_auth_retried; /* one quick retry after a 401 */
	char			*w_selector;	/* query: label or field selector */
	int			 w_quiet;	/* failures logged once (nodes) */
	/* listing */
	char			*w_continue;
	char			*w_page;	/* body of the page in flight */
	size_t			 w_page_len;
	size_t			 w_page_cap;
	struct k8s_object	**w_items;	/* decoded, applied at the end */
	size_t			 w_nitems;
	struct object_name	*w_broken;	/* listed broken: keep the old */
	size_t			 w_nbroken;
	int			 w_continue_expired; /* once per list */
	int			 w_page_over;	/* page past its bound */
	/* watching */
	struct jsonstream	 w_stream;
	uint64_t		 w_watch_start;	/* mono_ms */
	uint64_t		 w_watch_bytes;	/* of this watch */
	char			*w_end;		/* why we ended the watch, or NULL */
};

struct source_api {
	struct event_base	*sa_base;
	struct store		*sa_store;
	struct api_client	*sa_client;
	struct event		*sa_flush;	/* deferred store_flush */
	source_api_synced_cb	*sa_synced_cb;
	void			*sa_arg;
	int			 sa_synced;
	struct watcher		 sa_services;
	struct watcher		 sa_endpoints;	/* slices, or Endpoints */
	struct watcher		 sa_node;	/* our own Node, if named */
	struct resource_stats	 sa_stats[RES_COUNT];
};

/* source_api.c */
const char	*source_api_res_name(const struct watcher *);
struct resource_stats *source_api_stats(struct watcher *);
uint32_t	 source_api_random_u32(void);
const char	*source_api_json_str(const cJSON *, const char *);
char		*source_api_url_escape(const char *);
void		 source_api_set_rv(struct watcher *, const char *);
void		 source_api_request_flush(struct source_api *);
int		 source_api_object_key(const cJSON *, const char **,
		    const char **);
struct k8s_object *source_api_decode(struct watcher *, cJSON *);
void		 source_api_retry_later(struct watcher *, enum next_step,
		    const char *, long);
void		 source_api_went_well(struct watcher *);
void		 source_api_request_failed(struct watcher *, enum next_step,
		    const struct api_result *);

/* source_api_list.c */
void		 source_api_list_reset(struct watcher *);
void		 source_api_start_list(struct watcher *);

/* source_api_watch.c */
void		 source_api_start_watch(struct watcher *);

#endif /* SOURCE_API_INT_H */
