/*
 * log.c - klog-format lines on stderr (see log.h).
 *
 * The header is klog's, field for field, so that tools that read
 * kube-proxy's logs read ours:
 *
 *   Lmmdd hh:mm:ss.uuuuuu PPPPPPP file:line] message
 *
 * L is the severity (I, W, E, F), the time is local, PPPPPPP the process
 * id right-aligned in 7 columns, file the base name of the source file.
 * One write(2) per line, so lines from a crashing process are whole, and
 * one line per message: a newline inside a message is written as "\n",
 * so every line of the log starts with a header.  libevent's own
 * messages are routed here by log_init().
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
	/*
	 * The local time of the last second seen, and the pid (the daemon
	 * never forks): a burst of lines, such as one per Service port at
	 * start, pays neither a time-zone conversion nor a getpid(2) each.
	 */
	static time_t last_sec = -1;
	static struct tm tm;
	static pid_t pid;
	char msg[2048], buf[2048 + 128];
	struct timeval tv;
	const char *base = strrchr(file, '/'), *p;
	size_t n;
	int r;

	gettimeofday(&tv, NULL);
	if (tv.tv_sec != last_sec) {
		localtime_r(&tv.tv_sec, &tm);
		last_sec = tv.tv_sec;
	}
	if (pid == 0)
		pid = getpid();
	vsnprintf(msg, sizeof(msg), fmt, ap);
	r = snprintf(buf, sizeof(buf), "%c%02d%02d %02d:%02d:%02d.%06ld %7d %s:%d] ",
	    sev, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (long)tv.tv_usec, (int)pid, base ? base + 1 : file, line);
	n = r < 0 ? 0 : (size_t)r < sizeof(buf) ? (size_t)r : sizeof(buf) - 1;
	/* Room is kept for a two-character escape and the final newline. */
	for (p = msg; *p != '\0' && n < sizeof(buf) - 3; p++) {
		if (*p == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else
			buf[n++] = *p;
	}
	if (saved_errno >= 0) {
		r = snprintf(buf + n, sizeof(buf) - 1 - n, ": %s",
		    strerror(saved_errno));
		if (r > 0)
			n = n + r < sizeof(buf) - 1 ? n + r : sizeof(buf) - 2;
	}
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

/*
 * libevent's own messages (event_set_log_callback): its debug output is
 * trace detail, its "msg" level informational, its warnings and errors
 * problems like ours, logged at every level.  The line names log.c, the
 * text says "libevent".
 */
static void
log_libevent(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug(LOG_V_TRACE, "libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_debug(LOG_V_SERVICE, "libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warnx("libevent: %s", msg);
		break;
	default:
		log_errorx("libevent: %s", msg);
		break;
	}
}

void
log_init(int verbosity)
{
	log_verbosity = verbosity;
	event_set_log_callback(log_libevent);
	/* libevent produces debug messages only when asked to. */
	if (verbosity >= LOG_V_TRACE)
		event_enable_debug_logging(EVENT_DBG_ALL);
}
