/*
 * relay_pool.h - the buffers and pipes TCP relays borrow while moving data.
 *
 * A relay holds a buffer (copy mode) or a pipe (splice mode) only while
 * bytes are in flight; an idle connection holds neither.  Returned items
 * are kept for reuse up to a bound, so steady-state relaying allocates
 * nothing, and the excess is freed, so a burst does not pin memory.
 * The pools are process-wide (one thread, one loop).
 */
#ifndef RELAY_POOL_H
#define RELAY_POOL_H

#include <stddef.h>

/* Size of one copy buffer, and the pipe capacity asked for with F_SETPIPE_SZ. */
#define RELAY_BUF_SIZE		(256 * 1024)
#define RELAY_PIPE_SIZE		(256 * 1024)
/* Free items kept per pool. */
#define RELAY_POOL_KEEP		64

/* A RELAY_BUF_SIZE buffer (uninitialised).  Never fails (xmalloc rule). */
char	*relay_buf_get(void);
/* Give a buffer back; NULL is ignored. */
void	 relay_buf_put(char *);

/*
 * An empty nonblocking close-on-exec pipe, fds[0] the read end.  Returns 0,
 * or -1 with errno set (EMFILE...): the caller may fall back to a buffer.
 */
int	 relay_pipe_get(int fds[2]);
/*
 * Give a pipe back.  `empty` says whether it holds no data: only empty
 * pipes are reused, others are closed.  fds are set to -1.
 */
void	 relay_pipe_put(int fds[2], int empty);

/* Free every pooled item (at exit, so leak checkers see a clean heap). */
void	 relay_pool_flush(void);

#endif
