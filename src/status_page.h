/*
 * status_page.h - the status page served at / on the metrics address.
 *
 * One self-contained HTML document (inline CSS, inline SVG and a little
 * inline script, no external asset): for each service port, sparklines
 * of the last five minutes (new connections/s, active connections, bytes/s
 * each way, redrawn every second from /debug/history) and its endpoints
 * with their share of connections and their failures; then what
 * `kube-uproxy show` shows, and the way a packet takes to each port.
 */
#ifndef STATUS_PAGE_H
#define STATUS_PAGE_H

#include <cjson/cJSON.h>
#include <event2/buffer.h>

struct config;

/*
 * Append the page for `services` (the /debug/services array, borrowed) to
 * buf.  cfg says whether iptables rules exist and where proxy ports
 * listen.
 */
void	status_page_write(struct evbuffer *buf, const struct config *cfg,
	    const cJSON *services);

#endif
