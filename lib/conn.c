/*
 * The connection table: slots, the fd map and the two work lists.
 *
 * SPDX-License-Identifier: ISC
 *
 * Slots live in one array that grows by doubling (its size is a power of
 * two, so the ready ring wraps with a mask); a closed slot goes on a free
 * list and is reused, so indexes stay small and never move.  The
 * ready ring and the dirty list hold each slot at most once (guarded by
 * IPC_F_QUEUED and IPC_F_DIRTY), so they need no more entries than there
 * are slots.  A slot freed while queued keeps its flag: the stale entry is
 * skipped when popped, or serves the slot's next user.
 */

#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int grow_fdmap(struct ipc_ctx *ctx, int fd)
{
	int len = ctx->fdmap_len ? ctx->fdmap_len : 64;
	int *map;

	while (len <= fd) {
		if (len > INT_MAX / 2 ||
		    (size_t)len * 2 > SIZE_MAX / sizeof(*map))
			return -ENOMEM;
		len *= 2;
	}
	map = realloc(ctx->fdmap, (size_t)len * sizeof(*map));
	if (!map)
		return -ENOMEM;
	memset(map + ctx->fdmap_len, 0xff,
	       (size_t)(len - ctx->fdmap_len) * sizeof(*map));
	ctx->fdmap = map;
	ctx->fdmap_len = len;
	return 0;
}

/* The ready ring is laid out again from index 0 when it grows. */
static int grow_slots(struct ipc_ctx *ctx)
{
	uint32_t cap = ctx->cap ? ctx->cap * 2 : 16;
	struct ipc_conn *conns;
	uint32_t *ready, *dirty, i;

	/* Slot numbers stay below IPC_NONE; sizes fit a 32-bit size_t. */
	if (ctx->cap > UINT32_MAX / 4 ||
	    (uint64_t)cap * sizeof(*conns) > SIZE_MAX)
		return -ENOMEM;
	conns = realloc(ctx->conns, cap * sizeof(*conns));
	if (!conns)
		return -ENOMEM;
	ctx->conns = conns;
	ready = malloc(cap * sizeof(*ready));
	dirty = realloc(ctx->dirty, cap * sizeof(*dirty));
	if (!ready || !dirty) {
		free(ready);
		if (dirty)
			ctx->dirty = dirty;
		return -ENOMEM;
	}
	for (i = 0; i < ctx->ready_count; i++)
		ready[i] = ctx->ready[(ctx->ready_head + i) & (ctx->cap - 1)];
	free(ctx->ready);
	ctx->ready = ready;
	ctx->ready_head = 0;
	ctx->dirty = dirty;
	ctx->cap = cap;
	return 0;
}

static uint32_t take_slot(struct ipc_ctx *ctx)
{
	uint32_t slot = ctx->free_head;

	if (slot != IPC_NONE) {
		ctx->free_head = ctx->conns[slot].peer;
		return slot;
	}
	ctx->conns[ctx->nslots].flags = 0;
	return ctx->nslots++;
}

static unsigned int watch_events(const struct ipc_conn *c)
{
	unsigned int events = IPC_EV_IN;

	/* Read to its end: a level-triggered backend would report it again
	 * and again (a hang-up is reported anyway). */
	if (c->flags & (IPC_F_PAUSED | IPC_F_CLOSING | IPC_F_THROTTLED |
			IPC_F_EOF))
		events = 0;
	if (c->flags & IPC_F_POLLOUT)
		events |= IPC_EV_OUT;
	return events;
}

/* Tells the backend what c waits for now (after a flag change). */
int ipc__conn_watch(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	return ipc__backend_mod(ctx, c->fd, ipc__slot_of(ctx, c),
				watch_events(c));
}

static bool fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Whether fds may be passed on it (SCM_RIGHTS): a Unix socket. */
static bool fd_is_unix(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	return getsockname(fd, (struct sockaddr *)&sa, &len) == 0 &&
	       sa.ss_family == AF_UNIX;
}

int ipc__conn_add(struct ipc_ctx *ctx, int fd, enum ipc_kind kind,
		  uint32_t *slot)
{
	struct ipc_conn *c;
	uint32_t s;
	int ret;

	if (fd < 0)
		return -EBADF;
	if (fd >= ctx->fdmap_len && (ret = grow_fdmap(ctx, fd)) < 0)
		return ret;
	if (ctx->fdmap[fd] >= 0)
		return -EEXIST;
	if (ctx->free_head == IPC_NONE && ctx->nslots == ctx->cap &&
	    (ret = grow_slots(ctx)) < 0)
		return ret;
	s = take_slot(ctx);
	c = &ctx->conns[s];
	*c = (struct ipc_conn){
		.fd = fd,
		.kind = (uint8_t)kind,
		.flags = c->flags & (IPC_F_QUEUED | IPC_F_DIRTY),
		.peer = IPC_NONE,
	};
	if (kind != IPC_KIND_EXTERNAL || fd_is_socket(fd))
		c->flags |= IPC_F_SOCKET;
	/* Our services' clients are; a connection made elsewhere (routed
	 * through ipcd, or the user's) is asked. */
	if (kind == IPC_KIND_CLIENT ||
	    ((c->flags & IPC_F_SOCKET) && kind != IPC_KIND_SERVICE &&
	     fd_is_unix(fd)))
		c->flags |= IPC_F_UNIX;
	ret = ipc__backend_add(ctx, fd, s, watch_events(c));
	if (ret < 0) {
		c->kind = IPC_KIND_FREE;
		c->peer = ctx->free_head;
		ctx->free_head = s;
		return ret;
	}
	ctx->fdmap[fd] = (int)s;
	ctx->nconns++;
	*slot = s;
	return 0;
}

/* Forgets the slot and closes its fd; the caller reports what it must. */
void ipc__conn_free(struct ipc_ctx *ctx, uint32_t slot)
{
	struct ipc_conn *c = &ctx->conns[slot];

	if (c->kind == IPC_KIND_FREE)
		return;
	if (c->flags & IPC_F_SWITCHED)
		ipc__switch_unlink(ctx, c, false);
	if (c->flags & IPC_F_PAUSED)
		ctx->paused--;
	if (c->flags & (IPC_F_CLOSING | IPC_F_DRAIN))
		ctx->lingering--;
	if (ctx->held == slot)
		ctx->held = IPC_NONE;
	if (ctx->landing == slot)
		ctx->landing = IPC_NONE;
	ipc__backend_del(ctx, c->fd, slot);
	if (c->service) {
		ipc__service_remove(c->service);
		c->service = NULL;
	}
	close(c->fd);
	ctx->fdmap[c->fd] = -1;
	ipc__buf_drop(ctx, &c->in);
	ipc__buf_drop(ctx, &c->out);
	/* The fds of messages never handed out or never sent. */
	ipc__fdq_clear(&c->rxq);
	ipc__fdq_clear(&c->txq);
	c->kind = IPC_KIND_FREE;
	c->flags &= IPC_F_QUEUED | IPC_F_DIRTY;
	c->fd = -1;
	c->peer = ctx->free_head;
	ctx->free_head = slot;
	ctx->nconns--;
	/* A listener paused for want of fds may accept again. */
	if (ctx->paused) {
		ctx->paused_until = 0;
		if (ctx->embed_idle)
			ipc__embed_wake(ctx);
	}
}

struct ipc_conn *ipc__conn_by_slot(struct ipc_ctx *ctx, size_t slot)
{
	if (slot >= ctx->nslots || ctx->conns[slot].kind == IPC_KIND_FREE)
		return NULL;
	return &ctx->conns[slot];
}

/* The connection behind fd, if it carries libipc frames for the user. */
int ipc__stream_conn(struct ipc_ctx *ctx, int fd, struct ipc_conn **cp)
{
	struct ipc_conn *c;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	c = ipc__conn_by_fd(ctx, fd);
	if (!c)
		return -EBADF;
	if (!ipc__is_stream(c) || (c->flags & IPC_F_SWITCHED))
		return -EINVAL;
	*cp = c;
	return 0;
}
