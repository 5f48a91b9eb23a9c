/*
 * status_page.h - the status page served at / on the metrics address.
 *
 * One self-contained HTML document (inline CSS, no script, no external
 * asset) that shows what `kube-uproxy show` shows, plus the way a packet
 * takes to each service port, and reloads itself every 2 seconds.
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
