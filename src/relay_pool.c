/*
 * relay_pool.c - pooled copy buffers and splice pipes (see relay_pool.h).
 *
 * Both pools are LIFO stacks of at most RELAY_POOL_KEEP free items: the
 * most recently used buffer is the one most likely still in cache.  The
 * budget counts every item that exists, lent or kept free, so a get fails
 * only when nothing is kept free and one more item would pass the bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "metrics.h"
#include "relay_pool.h"
#include "util.h"

static char	*free_bufs[RELAY_POOL_KEEP];
static size_t	 nfree_bufs;
static int	 free_pipes[RELAY_POOL_KEEP][2];
static size_t	 nfree_pipes;
static size_t	 npipes;		/* pipes that exist, lent or free */
static size_t	 max_pipes;		/* 0: bounded by bytes only */
static char	*scratch;
/* The bound; until set, large enough never to matter (unit tests). */
static size_t	 limit = (size_t)1 << 40;
/* Bytes allocated: kept in metrics_datapath for /metrics. */
#define POOL_BYTES	 metrics_datapath.relay_pool_bytes

void
relay_pool_set_limit(size_t bytes, size_t pipes)
{
	/* Room for the scratch buffer and one more item at least. */
	limit = bytes < 2 * RELAY_BUF_SIZE ? 2 * RELAY_BUF_SIZE : bytes;
	max_pipes = pipes;
	metrics_datapath.relay_pool_limit = limit;
	/* At start-up, so that no relay ever allocates it. */
	(void)relay_scratch();
}

/* Count `size` more bytes, keeping room for the scratch buffer. */
static int
pool_take(size_t size)
{
	if (POOL_BYTES + size + (scratch == NULL ? RELAY_BUF_SIZE : 0) > limit)
		return -1;
	POOL_BYTES += size;
	return 0;
}

char *
relay_buf_get(void)
{
	char *buf;

	if (nfree_bufs > 0)
		return free_bufs[--nfree_bufs];
	if (pool_take(RELAY_BUF_SIZE) == -1)
		return NULL;
	/*
	 * calloc of this size is served by fresh zero pages: no memset cost.
	 * No memory is the pool being full: the relay moves bytes in place.
	 */
	if ((buf = calloc(1, RELAY_BUF_SIZE)) == NULL)
		POOL_BYTES -= RELAY_BUF_SIZE;
	return buf;
}

void
relay_buf_put(char *buf)
{
	if (buf == NULL)
		return;
	if (nfree_bufs < RELAY_POOL_KEEP)
		free_bufs[nfree_bufs++] = buf;
	else {
		free(buf);
		POOL_BYTES -= RELAY_BUF_SIZE;
	}
}

char *
relay_scratch(void)
{
	/* pool_take always left room for it. */
	if (scratch == NULL) {
		scratch = xcalloc(1, RELAY_BUF_SIZE);
		POOL_BYTES += RELAY_BUF_SIZE;
	}
	return scratch;
}

int
relay_pipe_get(int fds[2])
{
	if (nfree_pipes > 0) {
		nfree_pipes--;
		fds[0] = free_pipes[nfree_pipes][0];
		fds[1] = free_pipes[nfree_pipes][1];
		return 0;
	}
	fds[0] = fds[1] = -1;
	if ((max_pipes != 0 && npipes >= max_pipes) ||
	    pool_take(RELAY_PIPE_SIZE) == -1) {
		errno = ENOBUFS;
		return -1;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		/* fds are undefined after a failure (valgrind fills them). */
		fds[0] = fds[1] = -1;
		POOL_BYTES -= RELAY_PIPE_SIZE;
		return -1;
	}
	npipes++;
	/*
	 * A larger pipe moves more per splice(2) call; the default is 64 KiB.
	 * Failure (an unprivileged process above fs.pipe-max-size or the
	 * per-user pipe quota) only costs throughput, so it is ignored.  The
	 * pipe is counted at RELAY_PIPE_SIZE either way.
	 */
	(void)fcntl(fds[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	return 0;
}

static void
pipe_close(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
	npipes--;
	POOL_BYTES -= RELAY_PIPE_SIZE;
}

void
relay_pipe_put(int fds[2], int empty)
{
	if (fds[0] == -1)
		return;
	if (empty && nfree_pipes < RELAY_POOL_KEEP) {
		free_pipes[nfree_pipes][0] = fds[0];
		free_pipes[nfree_pipes][1] = fds[1];
		nfree_pipes++;
	} else
		pipe_close(fds);
	fds[0] = fds[1] = -1;
}

void
relay_pool_flush(void)
{
	while (nfree_bufs > 0) {
		free(free_bufs[--nfree_bufs]);
		POOL_BYTES -= RELAY_BUF_SIZE;
	}
	while (nfree_pipes > 0) {
		nfree_pipes--;
		pipe_close(free_pipes[nfree_pipes]);
	}
	if (scratch != NULL) {
		free(scratch);
		scratch = NULL;
		POOL_BYTES -= RELAY_BUF_SIZE;
	}
}
