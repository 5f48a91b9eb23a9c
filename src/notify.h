/*
 * notify.h - tell systemd how the service is doing (sd_notify(3)).
 *
 * With Type=notify (or notify-reload) systemd passes $NOTIFY_SOCKET, an
 * AF_UNIX datagram socket, and waits for "READY=1" before it counts the
 * service as started.  Each call here sends one datagram there; without
 * the variable every call does nothing, so the daemon runs the same
 * outside systemd.  No libsystemd: the protocol is one sendto(2).
 */
#ifndef NOTIFY_H
#define NOTIFY_H

/* "READY=1": the first full sync is done (and again after a reload). */
void	notify_ready(void);

/*
 * "RELOADING=1" with "MONOTONIC_USEC=" (CLOCK_MONOTONIC now), which
 * Type=notify-reload requires: a SIGHUP reload has begun; notify_ready()
 * ends it.
 */
void	notify_reloading(void);

/* "STOPPING=1": shutting down (SIGTERM, SIGINT). */
void	notify_stopping(void);

/* "STATUS=...": one line for `systemctl status`. */
void	notify_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
