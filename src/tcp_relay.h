/*
 * tcp_relay.h - a TCP connection and its relay, shared by tcp_proxy.c (the
 * listener, connecting, the connection bound) and tcp_relay.c (moving
 * bytes both ways once connected).  Internal to those two files.
 */
#ifndef TCP_RELAY_H
#define TCP_RELAY_H

#include <sys/queue.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "addr.h"
#include "tcp_proxy.h"

struct endpoint_stats;
struct port_stats;

TAILQ_HEAD(conn_list, connection);

enum conn_state {
	CONN_CONNECTING,
	CONN_RELAYING,
};

/*
 * One direction: from a source socket to a destination socket.  The write
 * event is made the first time the destination is full and kept until the
 * connection closes: an idle connection (or one whose peers keep up) holds
 * only the two read events, 2 x 128 bytes of its size.
 */
struct relay_half {
	struct event	 ev_read;	/* source readable; off while data waits */
	struct event	*ev_write;	/* destination writable; on while data waits */
	char		*buf;		/* copy: held while buf[off, len) waits */
	int		 pipe[2];	/* splice: held while len bytes are in it */
	uint32_t	 off;
	uint32_t	 len;
	uint8_t		 done;		/* EOF seen and forwarded */
};

struct connection {
	TAILQ_ENTRY(connection)	 entry;
	TAILQ_ENTRY(connection)	 ka_entry;	/* backend keepalive not set yet */
	struct tcp_proxy	*proxy;		/* NULL once the proxy closed */
	struct port_stats	*stats;
	int			 cfd;		/* client */
	int			 bfd;		/* backend, -1 between attempts */
	uint8_t			 state;
	uint8_t			 attempt;	/* connect attempts started */
	uint8_t			 mode;		/* enum relay_mode, fixed at connect */
	uint8_t			 ka_pending;	/* on the keepalive list (tcp_proxy.c) */
	union addr		 client;
	struct endpoint_stats	*ep;		/* held: the endpoint it dials or relays to */
	struct event		*fin_ev;	/* half-closed: --tcp-fin-timeout */
	uint64_t		 fin_last_ms;	/* half-closed: last progress */
	struct relay_half	 up;		/* client to backend */
	struct relay_half	 down;		/* backend to client */
};

/* tcp_conn_free's reset_fd meaning both sockets. */
#define RESET_BOTH	(-2)

/*
 * Free a connection in either state (tcp_proxy.c).  `reset_fd` (cfd, bfd,
 * RESET_BOTH or -1) is closed with an RST; the other sockets with a plain
 * close.
 */
void		 tcp_conn_free(struct connection *, int reset_fd,
		    const char *reason);
/* The service port's name for logs, or "(removed port)" (tcp_proxy.c). */
const char	*tcp_conn_name(const struct connection *);

/* --tcp-fin-timeout (ms, 0: off) for every relay started after. */
void		 tcp_relay_set_fin_timeout(uint64_t ms);
/*
 * Connected: relay both ways in `mode` from now on.  The connect wait in
 * c->up.ev_read is replaced.  May free c (the client's first bytes are
 * read at once): call it last.
 */
void		 tcp_relay_start(struct connection *, struct event_base *,
		    enum relay_mode mode);
/* Events, buffers, pipes and the timer of a relaying c (tcp_conn_free). */
void		 tcp_relay_stop(struct connection *);

#endif
