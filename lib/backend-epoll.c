/*
 * Event backend on epoll(7), for Linux: waiting costs the same whatever
 * the number of idle connections, and only ready fds are touched.
 *
 * SPDX-License-Identifier: ISC
 *
 * Level-triggered: a connection not drained in one pass (a read buffer
 * full, frames left) is reported again by the next wait.
 */

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct backend {
	int epfd;
	struct epoll_event events[MAX_EVENTS];
};

int ipc__backend_init(struct ipc_ctx *ctx)
{
	struct backend *b = malloc(sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0) {
		int ret = -errno;

		free(b);
		return ret;
	}
	ctx->backend = b;
	return 0;
}

void ipc__backend_fini(struct ipc_ctx *ctx)
{
	struct backend *b = ctx->backend;

	close(b->epfd);
	free(b);
	ctx->backend = NULL;
}

static int control(struct ipc_ctx *ctx, int op, int fd, uint32_t slot,
		   unsigned int events)
{
	struct backend *b = ctx->backend;
	struct epoll_event ev = { .data.u32 = slot };

	if (events & IPC_EV_IN)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (events & IPC_EV_OUT)
		ev.events |= EPOLLOUT;
	return epoll_ctl(b->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int ipc__backend_add(struct ipc_ctx *ctx, int fd, uint32_t slot,
		     unsigned int events)
{
	return control(ctx, EPOLL_CTL_ADD, fd, slot, events);
}

int ipc__backend_mod(struct ipc_ctx *ctx, int fd, uint32_t slot,
		     unsigned int events)
{
	return control(ctx, EPOLL_CTL_MOD, fd, slot, events);
}

/*
 * Always before close(): epoll watches the open file, and a close drops
 * the registration only when no other fd (a dup, a forked child's copy,
 * the passed fd of socket activation) refers to that file.
 */
void ipc__backend_del(struct ipc_ctx *ctx, int fd, uint32_t slot)
{
	control(ctx, EPOLL_CTL_DEL, fd, slot, 0);
}

int ipc__backend_fd(struct ipc_ctx *ctx)
{
	return ((struct backend *)ctx->backend)->epfd;
}

static uint8_t ready_bits(uint32_t events)
{
	uint8_t r = 0;

	if (events & EPOLLIN)
		r |= IPC_EV_IN;
	if (events & EPOLLOUT)
		r |= IPC_EV_OUT;
	if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		r |= IPC_EV_HUP;
	return r;
}

int ipc__backend_wait(struct ipc_ctx *ctx, int timeout_ms)
{
	struct backend *b = ctx->backend;
	int i, n;

	n = epoll_wait(b->epfd, b->events, MAX_EVENTS, timeout_ms);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		uint32_t slot = b->events[i].data.u32;

		if (slot == IPC_TAG_EMBED)
			continue;
		ctx->conns[slot].revents |= ready_bits(b->events[i].events);
		ipc__ready_push(ctx, slot);
	}
	return 0;
}
