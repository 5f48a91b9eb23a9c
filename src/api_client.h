/*
 * api_client.h - HTTP GETs to the Kubernetes API server, inside the loop.
 *
 * libcurl's multi interface runs on the daemon's libevent base (curl tells
 * us which sockets to watch and when to call it back: the hiperfifo
 * pattern), so a slow or silent API server never blocks the data path.
 * The client adds TLS material and the bearer token from a
 * kube_client_config; a token file is re-read every minute and after
 * every 401, so a rotated service-account token is picked up.
 */
#ifndef API_CLIENT_H
#define API_CLIENT_H

#include <stddef.h>

#include <event2/event.h>

struct kube_client_config;
struct api_client;
struct api_request;

/* How a request ended. */
struct api_result {
	long		 status;	/* HTTP status; 0 when none arrived */
	const char	*error;		/* one line when status is 0 or not 2xx */
	long		 retry_after;	/* seconds from Retry-After, or 0 */
	int		 refused;	/* the connection was refused */
	int		 aborted;	/* the data callback stopped it */
};

/*
 * Body bytes of a 2xx response as they arrive, after one call with len 0
 * when its headers are complete.  Return 0 to go on, -1 to abort the
 * request (its done callback then reports aborted).  Never called for
 * error responses (their Status message ends up in error).
 */
typedef int api_data_cb(void *arg, const char *data, size_t len);
/*
 * The request is over; it is freed right after this returns.  Runs from
 * the event loop, never from inside libcurl, so it may start new requests.
 */
typedef void api_done_cb(void *arg, const struct api_result *);

/*
 * cfg is borrowed (it must outlive the client; the token in it is
 * refreshed from its token_file).  Returns NULL with one line in err.
 */
struct api_client *api_client_new(struct event_base *,
		    struct kube_client_config *cfg, char *err, size_t err_len);
/* Cancels every request without calling their callbacks. */
void		 api_client_free(struct api_client *);

/*
 * GET server + path (path holds the query string, already escaped).
 * timeout_s bounds the whole request (0: none, for watches); a request
 * that receives nothing for idle_s seconds is failed (0: no limit).
 * Returns the request, owned by the client until done is called.
 */
struct api_request *api_get(struct api_client *, const char *path,
		    long timeout_s, long idle_s, api_data_cb *data,
		    api_done_cb *done, void *arg);
/* Drop a request without calling its callbacks (not from a data callback). */
void		 api_cancel(struct api_request *);

/* The server URL, for messages. */
const char	*api_client_server(const struct api_client *);

#endif
