/*
 * File descriptors passed with messages (SCM_RIGHTS): the queues that
 * keep each message's fds beside its frame, the fds of the message last
 * returned, ipc_message_fds() and ipc_context_fd_limit().
 *
 * SPDX-License-Identifier: ISC
 *
 * Fds ride on the first byte of their frame: the sender sends a frame
 * that carries fds alone in its sendmsg(2), starting at its header (see
 * write.c), so the read that brings them ends inside that frame (the
 * kernel ends a read after the data that carried fds, though it may start
 * it with earlier data).  The receiver files them under the stream offset
 * of that frame's header (see read.c) and hands them out with that frame
 * only.  An entry is a struct ipc_fdmsg; a queue keeps them in stream
 * order.
 */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new entry holding a copy of @fds, or room for @n when NULL. */
struct ipc_fdmsg *ipc__fdmsg_new(const int *fds, uint32_t n)
{
	struct ipc_fdmsg *m = malloc(sizeof(*m) + n * sizeof(int));

	if (!m)
		return NULL;
	m->at = 0;
	m->n = n;
	if (fds)
		memcpy(m->fds, fds, n * sizeof(int));
	return m;
}

void ipc__fdmsg_free(struct ipc_fdmsg *m)
{
	uint32_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		close(m->fds[i]);
	free(m);
}

/* Room for one more entry, so that the push that follows cannot fail. */
int ipc__fdq_reserve(struct ipc_fdq *q)
{
	struct ipc_fdmsg **v;
	uint32_t cap;

	if (q->count < q->cap)
		return 0;
	cap = q->cap ? q->cap * 2 : 2;
	v = realloc(q->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	q->v = v;
	q->cap = cap;
	return 0;
}

void ipc__fdq_push(struct ipc_fdq *q, struct ipc_fdmsg *m)
{
	q->v[q->count++] = m;
	q->nfds += m->n;
}

struct ipc_fdmsg *ipc__fdq_pop(struct ipc_fdq *q)
{
	struct ipc_fdmsg *m;

	if (!q->count)
		return NULL;
	m = q->v[0];
	q->count--;
	memmove(q->v, q->v + 1, q->count * sizeof(*q->v));
	q->nfds -= m->n;
	return m;
}

/* Puts back the entry just popped (its room is still there). */
void ipc__fdq_unpop(struct ipc_fdq *q, struct ipc_fdmsg *m)
{
	memmove(q->v + 1, q->v, q->count * sizeof(*q->v));
	q->v[0] = m;
	q->count++;
	q->nfds += m->n;
}

void ipc__fdq_clear(struct ipc_fdq *q)
{
	while (q->count)
		ipc__fdmsg_free(ipc__fdq_pop(q));
	free(q->v);
	q->v = NULL;
	q->cap = 0;
}

/*
 * The fds of the frame whose header is at stream offset @at, if any.
 * An entry before it cannot be there (read.c files fds only under a
 * frame's header); it would be closed, never handed to this frame.
 */
struct ipc_fdmsg *ipc__rx_fds_take(struct ipc_conn *c, uint64_t at)
{
	while (c->rxq.count && c->rxq.v[0]->at < at)
		ipc__fdmsg_free(ipc__fdq_pop(&c->rxq));
	if (c->rxq.count && c->rxq.v[0]->at == at)
		return ipc__fdq_pop(&c->rxq);
	return NULL;
}

void ipc__msg_fds_set(struct ipc_ctx *ctx, struct ipc_fdmsg *m)
{
	ipc__fdmsg_free(ctx->msg_fds);
	ctx->msg_fds = m;
}

IPC_EXPORT int ipc_message_fds(void *ctx_, int *fds, size_t *nfds)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_fdmsg *m;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	if (!nfds || (!fds && *nfds))
		return -EINVAL;
	m = ctx->msg_fds;
	if (!m) {
		*nfds = 0;
		return 0;
	}
	if (m->n > *nfds) {
		*nfds = m->n;
		return -EMSGSIZE;
	}
	memcpy(fds, m->fds, m->n * sizeof(int));
	*nfds = m->n;
	free(m);
	ctx->msg_fds = NULL;
	return 0;
}

IPC_EXPORT int ipc_context_fd_limit(void *ctx_, size_t limit)
{
	struct ipc_ctx *ctx = ctx_;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	if (limit > IPC_FD_LIMIT_MAX)
		return -EINVAL;
	ctx->fd_limit = limit;
	return 0;
}

/*
 * The seals that make a memfd safe to map: its size and its bytes can no
 * longer change, so a mapping can neither fault (SIGBUS after a shrink)
 * nor see bytes change under it.  F_SEAL_FUTURE_WRITE is not enough: it
 * leaves writable mappings made before it.
 */
#define IPC_MEMFD_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

IPC_EXPORT int ipc_memfd_check(int fd, size_t *size)
{
	struct stat st;
	int seals;

	if (!size)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return errno == EBADF ? -EBADF : -EINVAL;
	if ((seals & IPC_MEMFD_SEALS) != IPC_MEMFD_SEALS)
		return -EPERM;
	if (st.st_size < 0 || (uint64_t)st.st_size > SIZE_MAX)
		return -EFBIG;
	*size = (size_t)st.st_size;
	return 0;
}
