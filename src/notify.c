/*
 * notify.c - the sd_notify datagram, written by hand (see notify.h).
 *
 * The protocol (sd_notify(3)): newline-separated VAR=value assignments
 * in one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET.  A name
 * starting with '@' is in the abstract namespace: the '@' stands for the
 * leading NUL byte and the address has no terminating NUL.  The socket is
 * opened for each message (a handful per run) and non-blocking, so a
 * stuck service manager can never stall the event loop.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

/* Send `msg` to $NOTIFY_SOCKET; nothing without it.  Failures are logged. */
static void
notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t sun_len;
	size_t len;
	int fd;

	if (path == NULL || *path == '\0')
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET %s: not a unix socket path, ignored",
		    path);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	sun_len = offsetof(struct sockaddr_un, sun_path) + len;
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract: no trailing NUL */
	else
		sun_len++;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		log_warn("NOTIFY_SOCKET %s: socket", path);
		return;
	}
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, sun_len) == -1)
		log_warn("NOTIFY_SOCKET %s: cannot send \"%.*s\"", path,
		    (int)strcspn(msg, "\n"), msg);
	else
		log_debug(2, "NOTIFY_SOCKET: %.*s", (int)strcspn(msg, "\n"),
		    msg);
	close(fd);
}

void
notify_ready(void)
{
	notify_send("READY=1");
}

void
notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	/*
	 * systemd (Type=notify-reload) matches the reload it asked for by
	 * this timestamp: it must be taken after the signal arrived.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	/* One assignment per line: a newline would start another. */
	msg[n + strcspn(msg + n, "\n")] = '\0';
	notify_send(msg);
}
