/*
 * tcp_keepalive.h - TCP keepalive on proxied connections (--tcp-keepalive),
 * at no cost per read or write and almost none per connection.
 *
 * A listener's keepalive settings are inherited by every socket it
 * accepts (Linux copies the listener's socket and its keepalive fields
 * into the child, tcp_create_openreq_child).  A backend socket inherits
 * nothing, and four setsockopt(2) calls per connection would cost a short
 * connection more than 3 % of its CPU, so a sweep sets them every half
 * keepalive interval on the backend sockets made since: the connections
 * that end before (most of them) pay nothing, and a long one gets its
 * first probe at most half an interval later than the client leg.  A dead
 * peer shows up as a read error (ETIMEDOUT) and the other side gets a
 * reset (tcp_relay.c).
 */
#ifndef TCP_KEEPALIVE_H
#define TCP_KEEPALIVE_H

#include <stdint.h>

#include <event2/event.h>

struct connection;

/* Idle and interval from --tcp-keepalive (ms, 0 off), in whole seconds. */
int	tcp_keepalive_set(uint64_t keepalive_ms);
/* Keepalive on fd now: a listener, for all it will accept. */
void	tcp_keepalive_socket(int fd);
/* c's backend socket gets it at the next sweep (c->bfd then). */
void	tcp_keepalive_later(struct connection *c, struct event_base *base);
/* c ends: off the sweep's list. */
void	tcp_keepalive_forget(struct connection *c);
/* No more sweeps (shutting down, every connection gone). */
void	tcp_keepalive_stop(void);

#endif
