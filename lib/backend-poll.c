/*
 * Event backend on poll(2), for POSIX systems without epoll.
 *
 * SPDX-License-Identifier: ISC
 *
 * The pollfd array is kept dense: a removed entry takes the last one's
 * place, and where[slot] says where each slot's entry is.  Each wait scans
 * every entry, so its cost grows with the number of fds.
 */

#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#ifndef POLLRDHUP
#define POLLRDHUP 0
#endif

struct backend {
	struct pollfd *pfds;
	uint32_t *slots;	/* slots[i]: the slot of pfds[i] */
	uint32_t *where;	/* where[slot]: its index in pfds */
	uint32_t n;
	uint32_t cap;
	uint32_t where_len;
};

int ipc__backend_init(struct ipc_ctx *ctx)
{
	ctx->backend = calloc(1, sizeof(struct backend));
	return ctx->backend ? 0 : -ENOMEM;
}

void ipc__backend_fini(struct ipc_ctx *ctx)
{
	struct backend *b = ctx->backend;

	free(b->pfds);
	free(b->slots);
	free(b->where);
	free(b);
	ctx->backend = NULL;
}

static int grow(struct backend *b, uint32_t slot)
{
	void *p;

	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 16;

		p = realloc(b->pfds, cap * sizeof(*b->pfds));
		if (!p)
			return -ENOMEM;
		b->pfds = p;
		p = realloc(b->slots, cap * sizeof(*b->slots));
		if (!p)
			return -ENOMEM;
		b->slots = p;
		b->cap = cap;
	}
	if (slot >= b->where_len) {
		uint32_t len = b->where_len ? b->where_len : 16;

		while (len <= slot)
			len *= 2;
		p = realloc(b->where, len * sizeof(*b->where));
		if (!p)
			return -ENOMEM;
		b->where = p;
		b->where_len = len;
	}
	return 0;
}

static short poll_events(unsigned int events)
{
	short e = 0;

	if (events & IPC_EV_IN)
		e |= POLLIN | POLLRDHUP;
	if (events & IPC_EV_OUT)
		e |= POLLOUT;
	return e;
}

int ipc__backend_add(struct ipc_ctx *ctx, int fd, uint32_t slot,
		     unsigned int events)
{
	struct backend *b = ctx->backend;
	int ret = grow(b, slot);

	if (ret < 0)
		return ret;
	b->pfds[b->n] = (struct pollfd){ .fd = fd, .events =
						   poll_events(events) };
	b->slots[b->n] = slot;
	b->where[slot] = b->n++;
	return 0;
}

int ipc__backend_mod(struct ipc_ctx *ctx, int fd, uint32_t slot,
		     unsigned int events)
{
	struct backend *b = ctx->backend;

	(void)fd;
	b->pfds[b->where[slot]].events = poll_events(events);
	return 0;
}

void ipc__backend_del(struct ipc_ctx *ctx, int fd, uint32_t slot)
{
	struct backend *b = ctx->backend;
	uint32_t i = b->where[slot];

	(void)fd;
	b->n--;
	b->pfds[i] = b->pfds[b->n];
	b->slots[i] = b->slots[b->n];
	b->where[b->slots[i]] = i;
}

/* poll(2) keeps no set in the kernel: nothing a host loop could poll. */
int ipc__backend_fd(struct ipc_ctx *ctx)
{
	(void)ctx;
	return -EOPNOTSUPP;
}

static uint8_t ready_bits(short revents)
{
	uint8_t r = 0;

	if (revents & POLLIN)
		r |= IPC_EV_IN;
	if (revents & POLLOUT)
		r |= IPC_EV_OUT;
	if (revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP))
		r |= IPC_EV_HUP;
	return r;
}

int ipc__backend_wait(struct ipc_ctx *ctx, int timeout_ms)
{
	struct backend *b = ctx->backend;
	uint32_t i;

	if (poll(b->pfds, b->n, timeout_ms) < 0)
		return -errno;
	for (i = 0; i < b->n; i++) {
		if (!b->pfds[i].revents)
			continue;
		ctx->conns[b->slots[i]].revents |=
			ready_bits(b->pfds[i].revents);
		ipc__ready_push(ctx, b->slots[i]);
	}
	return 0;
}
