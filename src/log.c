/*
 * log.c - klog-format lines on stderr (see log.h).
 *
 * One write(2) per line so that lines from a crashing process are whole.
 * libevent's own messages are routed here by log_init().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

int log_verbosity;

static void
log_vemit(char sev, const char *file, int line, int saved_errno,
    const char *fmt, va_list ap)
{
	char buf[2048];
	struct timeval tv;
	struct tm tm;
	const char *base = strrchr(file, '/');
	int n;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%c%02d%02d %02d:%02d:%02d.%06ld %7d %s:%d] ",
	    sev, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (long)tv.tv_usec, (int)getpid(), base ? base + 1 : file, line);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	if (saved_errno >= 0)
		n += snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(saved_errno));
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
}

void
log_emit(char sev, const char *file, int line, int with_errno,
    const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(sev, file, line, with_errno ? saved_errno : -1, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_fatal_at(const char *file, int line, int with_errno, const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit('F', file, line, with_errno ? saved_errno : -1, fmt, ap);
	va_end(ap);
	exit(1);
}

static void
log_libevent(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug(5, "libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_debug(2, "libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_init(int verbosity)
{
	log_verbosity = verbosity;
	event_set_log_callback(log_libevent);
}
