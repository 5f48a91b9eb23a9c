/*
 * log.h - klog-style logging to stderr.
 *
 * Lines look like kube-proxy's:  I1124 16:53:25.123456   4242 store.c:88] message
 * Level 0 is always printed; log_debug(V, ...) only when --v >= V.
 * log_warn/log_fatal append ": strerror(errno)"; the *x variants do not
 * (the relayd convention).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

extern int log_verbosity;		/* --v */

/*
 * The --v levels, as kube-proxy uses them: 0 (log_info, log_warn...) for
 * changes of the whole and problems, LOG_V_SERVICE per service-port
 * change, LOG_V_CONN per connection or UDP flow, LOG_V_TRACE for library
 * internals (libevent's debug output).
 */
#define LOG_V_SERVICE	2
#define LOG_V_CONN	4
#define LOG_V_TRACE	9

void	log_init(int verbosity);
void	log_emit(char sev, const char *file, int line, int with_errno,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
noreturn void log_fatal_at(const char *file, int line, int with_errno,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_info(...)	log_emit('I', __FILE__, __LINE__, 0, __VA_ARGS__)
#define log_warn(...)	log_emit('W', __FILE__, __LINE__, 1, __VA_ARGS__)
#define log_warnx(...)	log_emit('W', __FILE__, __LINE__, 0, __VA_ARGS__)
#define log_error(...)	log_emit('E', __FILE__, __LINE__, 1, __VA_ARGS__)
#define log_errorx(...)	log_emit('E', __FILE__, __LINE__, 0, __VA_ARGS__)
#define log_debug(v, ...) do {						\
	if (log_verbosity >= (v))					\
		log_emit('I', __FILE__, __LINE__, 0, __VA_ARGS__);	\
} while (0)
#define fatal(...)	log_fatal_at(__FILE__, __LINE__, 1, __VA_ARGS__)
#define fatalx(...)	log_fatal_at(__FILE__, __LINE__, 0, __VA_ARGS__)

#endif
