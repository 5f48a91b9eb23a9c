/*
 * relay_pool.c - pooled copy buffers and splice pipes (see relay_pool.h).
 *
 * Both pools are LIFO stacks of at most RELAY_POOL_KEEP free items: the
 * most recently used buffer is the one most likely still in cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "relay_pool.h"
#include "util.h"

static char	*free_bufs[RELAY_POOL_KEEP];
static size_t	 nfree_bufs;
static int	 free_pipes[RELAY_POOL_KEEP][2];
static size_t	 nfree_pipes;

char *
relay_buf_get(void)
{
	if (nfree_bufs > 0)
		return free_bufs[--nfree_bufs];
	/* calloc of this size is served by fresh zero pages: no memset cost. */
	return xcalloc(1, RELAY_BUF_SIZE);
}

void
relay_buf_put(char *buf)
{
	if (buf == NULL)
		return;
	if (nfree_bufs < RELAY_POOL_KEEP)
		free_bufs[nfree_bufs++] = buf;
	else
		free(buf);
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
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		/* fds are undefined after a failure (valgrind fills them). */
		fds[0] = fds[1] = -1;
		return -1;
	}
	/*
	 * A larger pipe moves more per splice(2) call; the default is 64 KiB.
	 * Failure (an unprivileged process above fs.pipe-max-size or the
	 * per-user pipe quota) only costs throughput, so it is ignored.
	 */
	(void)fcntl(fds[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	return 0;
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
	} else {
		close(fds[0]);
		close(fds[1]);
	}
	fds[0] = fds[1] = -1;
}

void
relay_pool_flush(void)
{
	while (nfree_bufs > 0)
		free(free_bufs[--nfree_bufs]);
	while (nfree_pipes > 0) {
		nfree_pipes--;
		close(free_pipes[nfree_pipes][0]);
		close(free_pipes[nfree_pipes][1]);
	}
}
