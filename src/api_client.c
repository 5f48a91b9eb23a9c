/*
 * api_client.c - libcurl's multi interface on the daemon's libevent loop.
 *
 * libcurl owns the HTTP and TLS work; we own the waiting.  curl tells us,
 * through the socket callback, which descriptors it wants to read or
 * write (we keep one libevent event per descriptor) and, through the timer
 * callback, when it wants to be called anyway (one evtimer).  When either
 * fires we hand it to curl_multi_socket_action() and then collect the
 * transfers that finished with curl_multi_info_read().  This is the
 * pattern of curl's docs/examples/hiperfifo.c.
 *
 * Every request is a GET with the same settings: TLS from the kubeconfig,
 * a bearer token, gzip accepted (kube-apiserver compresses lists above
 * 128 KiB), TCP keep-alive, a User-Agent that does not start with "curl"
 * (the API server pretty-prints for curl, K8S-API.md §1.4).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/queue.h>
#include <bsd/string.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/event_struct.h>

#include "api_client.h"
#include "kubeconfig.h"
#include "log.h"
#include "util.h"

#define ERROR_BODY_MAX		(64 * 1024)	/* kept of an error response */
#define TOKEN_MAX_AGE_MS	(60 * 1000)	/* client-go re-reads each minute */
#define CONNECT_TIMEOUT_S	10L

struct api_request {
	TAILQ_ENTRY(api_request) ar_entry;
	struct api_client	*ar_client;
	CURL			*ar_easy;
	struct curl_slist	*ar_headers;	/* holds the token: wiped */
	api_data_cb		*ar_data;
	api_done_cb		*ar_done;
	void			*ar_arg;
	char			*ar_body;	/* error response body */
	size_t			 ar_body_len;
	int			 ar_aborted;
	char			 ar_errbuf[CURL_ERROR_SIZE];
};

/* One descriptor libcurl asked us to watch. */
struct api_socket {
	LIST_ENTRY(api_socket)	 as_entry;
	struct event		 as_ev;
};

struct api_client {
	struct event_base	*ac_base;
	CURLM			*ac_multi;
	struct event		*ac_timer;
	struct kube_client_config *ac_cfg;
	char			*ac_base_url;	/* server, or the tls-server-name form */
	char			*ac_connect_to;	/* "name:port:host:port" or NULL */
	struct curl_slist	 ac_connect_list; /* ac_connect_to, for curl */
	char			*ac_token;	/* NULL: no bearer authentication */
	uint64_t		 ac_token_read;	/* mono_ms of the last read, 0: never */
	TAILQ_HEAD(, api_request) ac_requests;
	LIST_HEAD(, api_socket)	 ac_sockets;
	int			 ac_closing;	/* in curl_multi_cleanup */
};

static void	check_done(struct api_client *);

const char *
api_client_server(const struct api_client *ac)
{
	return ac->ac_cfg->server;
}

/* --- libcurl ↔ libevent ------------------------------------------------ */

static void
socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_client *ac = arg;
	int action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ac->ac_multi, fd, action, &running);
	check_done(ac);
}

static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_client *ac = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(ac->ac_multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(ac);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *clientp, void *socketp)
{
	struct api_client *ac = clientp;
	struct api_socket *as = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (as != NULL) {
			event_del(&as->as_ev);
			LIST_REMOVE(as, as_entry);
			free(as);
			if (!ac->ac_closing)
				curl_multi_assign(ac->ac_multi, fd, NULL);
		}
		return 0;
	}
	if (as == NULL) {
		as = xcalloc(1, sizeof(*as));
		LIST_INSERT_HEAD(&ac->ac_sockets, as, as_entry);
		curl_multi_assign(ac->ac_multi, fd, as);
	} else
		event_del(&as->as_ev);
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	event_assign(&as->as_ev, ac->ac_base, fd, kind, socket_event_cb, ac);
	event_add(&as->as_ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 cancels, 0 means "as soon as possible". */
static int
timer_cb(CURLM *multi, long timeout_ms, void *clientp)
{
	struct api_client *ac = clientp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(ac->ac_timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(ac->ac_timer, &tv);
	return 0;
}

/* --- requests ---------------------------------------------------------- */

static long
response_code(CURL *easy)
{
	long code = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

/*
 * CURLOPT_WRITEFUNCTION.  A 2xx body streams to the caller; an error
 * body is kept (bounded) for its Status message.  Returning anything but
 * the full size makes curl end the transfer with CURLE_WRITE_ERROR.
 */
static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct api_request *ar = arg;
	size_t len = size * nmemb, room;
	long code = response_code(ar->ar_easy);

	if (code >= 200 && code < 300) {
		if (ar->ar_data(ar->ar_arg, data, len) == -1) {
			ar->ar_aborted = 1;
			return 0;
		}
		return len;
	}
	room = ERROR_BODY_MAX - ar->ar_body_len;
	if (len < room)
		room = len;
	if (room > 0) {
		ar->ar_body = xreallocarray(ar->ar_body, ar->ar_body_len + room + 1, 1);
		memcpy(ar->ar_body + ar->ar_body_len, data, room);
		ar->ar_body_len += room;
		ar->ar_body[ar->ar_body_len] = '\0';
	}
	return len;
}

/*
 * CURLOPT_HEADERFUNCTION: the empty line after a 2xx response's headers
 * tells the caller the request was accepted (a watch may then stay silent
 * for minutes).
 */
static size_t
header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct api_request *ar = arg;
	size_t len = size * nmemb;
	long code;

	if ((len == 2 && data[0] == '\r' && data[1] == '\n') ||
	    (len == 1 && data[0] == '\n')) {
		code = response_code(ar->ar_easy);
		if (code >= 200 && code < 300 && ar->ar_data(ar->ar_arg, "", 0) == -1) {
			ar->ar_aborted = 1;
			return 0;
		}
	}
	return len;
}

/* libcurl's own narration, at --v=9 (never headers: they hold the token). */
static int
debug_cb(CURL *easy, curl_infotype type, char *data, size_t size, void *arg)
{
	(void)easy;
	(void)arg;
	if (type == CURLINFO_TEXT) {
		while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
			size--;
		log_debug(9, "curl: %.*s", (int)size, data);
	}
	return 0;
}

/*
 * The one line that explains a failed response: a Status object's
 * message (kube-apiserver's usual error body), or the first line of a
 * plain-text body ("404 page not found", a 429's text).
 */
static void
error_line(struct api_request *ar, long status, char *out, size_t len)
{
	cJSON *json = NULL, *msg;
	char *nl;

	if (ar->ar_body != NULL &&
	    (json = cJSON_ParseWithLength(ar->ar_body, ar->ar_body_len)) != NULL &&
	    cJSON_IsString(msg = cJSON_GetObjectItemCaseSensitive(json, "message")))
		snprintf(out, len, "HTTP %ld: %.200s", status, msg->valuestring);
	else if (ar->ar_body != NULL && ar->ar_body_len > 0) {
		if ((nl = strchr(ar->ar_body, '\n')) != NULL)
			*nl = '\0';
		snprintf(out, len, "HTTP %ld: %.200s", status, ar->ar_body);
	} else
		snprintf(out, len, "HTTP %ld", status);
	cJSON_Delete(json);
}

static void
request_free(struct api_request *ar)
{
	struct api_client *ac = ar->ar_client;
	struct curl_slist *h;

	TAILQ_REMOVE(&ac->ac_requests, ar, ar_entry);
	curl_multi_remove_handle(ac->ac_multi, ar->ar_easy);
	curl_easy_cleanup(ar->ar_easy);
	for (h = ar->ar_headers; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(ar->ar_headers);
	free(ar->ar_body);
	free(ar);
}

/* Collect finished transfers and report them. */
static void
check_done(struct api_client *ac)
{
	struct api_request *ar;
	struct api_result res;
	CURLMsg *msg;
	curl_off_t retry = 0;
	long oserr = 0;
	char line[320];
	int left;

	while ((msg = curl_multi_info_read(ac->ac_multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&ar);
		memset(&res, 0, sizeof(res));
		res.aborted = ar->ar_aborted;
		if (msg->data.result == CURLE_OK || !ar->ar_aborted)
			res.status = response_code(ar->ar_easy);
		if (curl_easy_getinfo(ar->ar_easy, CURLINFO_RETRY_AFTER, &retry) ==
		    CURLE_OK && retry > 0)
			res.retry_after = (long)retry;
		if (msg->data.result != CURLE_OK) {
			curl_easy_getinfo(ar->ar_easy, CURLINFO_OS_ERRNO, &oserr);
			res.refused = msg->data.result == CURLE_COULDNT_CONNECT &&
			    oserr == ECONNREFUSED;
			snprintf(line, sizeof(line), "%s", ar->ar_errbuf[0] != '\0' ?
			    ar->ar_errbuf : curl_easy_strerror(msg->data.result));
			res.error = line;
		} else if (res.status < 200 || res.status >= 300) {
			error_line(ar, res.status, line, sizeof(line));
			res.error = line;
			if (res.status == 401)
				ac->ac_token_read = 0;	/* re-read before the next try */
		}
		ar->ar_done(ar->ar_arg, &res);
		request_free(ar);
	}
}

/*
 * The token for the next request.  A token file is read at most once a
 * minute (and after a 401), like client-go's cached file token source: a
 * rotated service-account token is in use within a minute.
 */
static const char *
current_token(struct api_client *ac)
{
	char err[256], *tok;
	uint64_t now = mono_ms();

	if (ac->ac_token_read != 0 && (ac->ac_cfg->token_file == NULL ||
	    now - ac->ac_token_read < TOKEN_MAX_AGE_MS))
		return ac->ac_token;
	if (kubeconfig_read_token(ac->ac_cfg, &tok, err, sizeof(err)) == -1) {
		log_warnx("api: %s", err);
		return ac->ac_token;
	}
	if (ac->ac_token != NULL)
		explicit_bzero(ac->ac_token, strlen(ac->ac_token));
	free(ac->ac_token);
	ac->ac_token = tok;
	ac->ac_token_read = now;
	return tok;
}

static void
set_tls(struct api_client *ac, CURL *easy)
{
	struct kube_client_config *cfg = ac->ac_cfg;
	struct curl_blob blob;

	if (cfg->ca_data != NULL) {
		blob.data = cfg->ca_data;
		blob.len = cfg->ca_data_len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
	} else if (cfg->ca_file != NULL)
		curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->cert_data != NULL) {
		blob.data = cfg->cert_data;
		blob.len = cfg->cert_data_len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &blob);
	} else if (cfg->cert_file != NULL)
		curl_easy_setopt(easy, CURLOPT_SSLCERT, cfg->cert_file);
	if (cfg->key_data != NULL) {
		blob.data = cfg->key_data;
		blob.len = cfg->key_data_len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &blob);
	} else if (cfg->key_file != NULL)
		curl_easy_setopt(easy, CURLOPT_SSLKEY, cfg->key_file);
	if (cfg->insecure_skip_tls_verify) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (ac->ac_connect_to != NULL)
		curl_easy_setopt(easy, CURLOPT_CONNECT_TO, &ac->ac_connect_list);
}

struct api_request *
api_get(struct api_client *ac, const char *path, long timeout_s, long idle_s,
    api_data_cb *data, api_done_cb *done, void *arg)
{
	struct api_request *ar;
	const char *tok;
	char *url, *hdr;
	CURL *easy;

	if ((easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init");
	ar = xcalloc(1, sizeof(*ar));
	ar->ar_client = ac;
	ar->ar_easy = easy;
	ar->ar_data = data;
	ar->ar_done = done;
	ar->ar_arg = arg;

	url = xasprintf("%s%s", ac->ac_base_url, path);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	free(url);		/* curl keeps a copy */
	curl_easy_setopt(easy, CURLOPT_PRIVATE, ar);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, ar->ar_errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "kube-uproxy/" PACKAGE_VERSION);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT, timeout_s);
	if (idle_s > 0) {
		curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, idle_s);
	}
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, ar);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, ar);
	if (log_verbosity >= 9) {
		curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, debug_cb);
		curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
	}
	set_tls(ac, easy);

	ar->ar_headers = curl_slist_append(NULL, "Accept: application/json");
	if ((tok = current_token(ac)) != NULL) {
		hdr = xasprintf("Authorization: Bearer %s", tok);
		ar->ar_headers = curl_slist_append(ar->ar_headers, hdr);
		explicit_bzero(hdr, strlen(hdr));
		free(hdr);
	}
	if (ar->ar_headers == NULL)
		fatalx("curl_slist_append");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, ar->ar_headers);

	TAILQ_INSERT_TAIL(&ac->ac_requests, ar, ar_entry);
	if (curl_multi_add_handle(ac->ac_multi, easy) != CURLM_OK)
		fatalx("curl_multi_add_handle");
	return ar;
}

void
api_cancel(struct api_request *ar)
{
	if (ar != NULL)
		request_free(ar);
}

/*
 * kubeconfig's tls-server-name: verify the certificate against that name
 * instead of the URL's host.  curl has no direct option, so we ask for
 * https://NAME:PORT and tell curl (CURLOPT_CONNECT_TO) to connect to the
 * real host:port instead; SNI and verification then use NAME.
 */
static int
setup_server_name(struct api_client *ac, char *err, size_t err_len)
{
	const char *name = ac->ac_cfg->tls_server_name;
	char *host = NULL, *port = NULL, *url = NULL, *bracketed = NULL;
	CURLU *u;
	int rc = -1;

	if (name == NULL || *name == '\0') {
		ac->ac_base_url = xstrdup(ac->ac_cfg->server);
		return 0;
	}
	/* kubeconfig.c took a DNS name or an IP address: bracket IPv6. */
	if (strchr(name, ':') != NULL)
		name = bracketed = xasprintf("[%s]", name);
	if ((u = curl_url()) == NULL)
		fatalx("curl_url");
	if (curl_url_set(u, CURLUPART_URL, ac->ac_cfg->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		snprintf(err, err_len, "%s: tls-server-name %s: cannot build the URL",
		    ac->ac_cfg->origin, name);
		goto out;
	}
	/* curl_url_get adds a "/" path: the requests bring their own. */
	if (url[0] != '\0' && url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = '\0';
	ac->ac_base_url = xstrdup(url);
	ac->ac_connect_to = xasprintf("%s:%s:%s:%s", name, port, host, port);
	ac->ac_connect_list.data = ac->ac_connect_to;
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_free(url);
	curl_url_cleanup(u);
	free(bracketed);
	return rc;
}

struct api_client *
api_client_new(struct event_base *base, struct kube_client_config *cfg,
    char *err, size_t err_len)
{
	struct api_client *ac;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, err_len, "cannot initialise libcurl");
		return NULL;
	}
	ac = xcalloc(1, sizeof(*ac));
	ac->ac_base = base;
	ac->ac_cfg = cfg;
	TAILQ_INIT(&ac->ac_requests);
	LIST_INIT(&ac->ac_sockets);
	if (setup_server_name(ac, err, err_len) == -1) {
		free(ac);
		curl_global_cleanup();
		return NULL;
	}
	if ((ac->ac_multi = curl_multi_init()) == NULL ||
	    (ac->ac_timer = evtimer_new(base, timer_event_cb, ac)) == NULL)
		fatalx("api client: out of memory");
	curl_multi_setopt(ac->ac_multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(ac->ac_multi, CURLMOPT_SOCKETDATA, ac);
	curl_multi_setopt(ac->ac_multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(ac->ac_multi, CURLMOPT_TIMERDATA, ac);
	return ac;
}

void
api_client_free(struct api_client *ac)
{
	struct api_request *ar;
	struct api_socket *as;

	if (ac == NULL)
		return;
	while ((ar = TAILQ_FIRST(&ac->ac_requests)) != NULL)
		request_free(ar);
	ac->ac_closing = 1;
	curl_multi_cleanup(ac->ac_multi);
	/* Sockets curl closed without telling us (its connection cache). */
	while ((as = LIST_FIRST(&ac->ac_sockets)) != NULL) {
		event_del(&as->as_ev);
		LIST_REMOVE(as, as_entry);
		free(as);
	}
	event_free(ac->ac_timer);
	if (ac->ac_token != NULL)
		explicit_bzero(ac->ac_token, strlen(ac->ac_token));
	free(ac->ac_token);
	free(ac->ac_base_url);
	free(ac->ac_connect_to);
	free(ac);
	curl_global_cleanup();
}
