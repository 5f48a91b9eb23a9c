/*
 * relay_pool.h - the buffers and pipes TCP relays borrow while moving data.
 *
 * A relay holds a buffer (copy mode) or a pipe (splice mode) only while
 * bytes are in flight; an idle connection holds neither.  Returned items
 * are kept for reuse up to a bound, so steady-state relaying allocates
 * nothing, and the excess is freed, so a burst does not pin memory.
 *
 * Buffers and pipes (counted at their full capacity) come out of one
 * budget, --relay-memory: past it a get fails and the relay moves bytes
 * in place instead (relay_scratch, see tcp_proxy.c), so the pool never
 * grows past the bound and no byte is ever dropped.  The pools are
 * process-wide (one thread, one loop).
 */
#ifndef RELAY_POOL_H
#define RELAY_POOL_H

#include <stddef.h>

/* Size of one copy buffer, and the pipe capacity asked for with F_SETPIPE_SZ. */
#define RELAY_BUF_SIZE		(256 * 1024)
#define RELAY_PIPE_SIZE		(256 * 1024)
/* Free items kept per pool. */
#define RELAY_POOL_KEEP		64

/*
 * Bound buffers, pipes and the scratch buffer together to `bytes` (at
 * least two buffers' worth), and pipes alone to `max_pipes` (they cost
 * descriptors too; 0: no other bound).  Items already out stay out; the
 * bound holds for every later get.  Call before relaying starts.
 */
void	 relay_pool_set_limit(size_t bytes, size_t max_pipes);

/* A RELAY_BUF_SIZE buffer (uninitialised), or NULL when the pool is full. */
char	*relay_buf_get(void);
/* Give a buffer back; NULL is ignored. */
void	 relay_buf_put(char *);

/*
 * An empty nonblocking close-on-exec pipe, fds[0] the read end.  Returns 0,
 * or -1 with errno set (ENOBUFS: the pool is full; EMFILE...): the caller
 * may fall back to a buffer.
 */
int	 relay_pipe_get(int fds[2]);
/*
 * Give a pipe back.  `empty` says whether it holds no data: only empty
 * pipes are reused, others are closed.  fds are set to -1.
 */
void	 relay_pipe_put(int fds[2], int empty);

/*
 * The one RELAY_BUF_SIZE buffer shared by every relay for moves that keep
 * nothing once the callback returns (peek, send, consume what was sent).
 * Allocated at the first call, inside the bound; never NULL.
 */
char	*relay_scratch(void);

/* Free every pooled item and the scratch buffer (at exit, for leak checkers). */
void	 relay_pool_flush(void);

#endif
