/*
 * Closing connections: the user's close calls, and the DISCONNECTION
 * that reports a hang-up and frees the slot.
 *
 * SPDX-License-Identifier: ISC
 *
 * A close asked by the user reports no event: queued frames get one
 * chance to leave, then the slot is freed.  A hang-up is reported once,
 * after the connection's switch partner, if any, was unlinked from it
 * (see ipc__switch_unlink()).
 */

#include "internal.h"

#include <errno.h>

/*
 * A switch callback may close any connection, its own too, while the
 * switch still uses both sides: the close waits until the callback has
 * returned (IPC_F_CLOSE_ASKED, done by the connection's next step), so a
 * slot is never freed, reused or freed twice under a running callback.
 */
void ipc__conn_close(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	if (ctx->in_callback) {
		c->flags |= IPC_F_CLOSE_ASKED;
		ipc__ready_push(ctx, ipc__slot_of(ctx, c));
		return;
	}
	if (c->out.len > c->out.off)
		ipc__flush(ctx, c);
	ipc__conn_free(ctx, ipc__slot_of(ctx, c));
}

int ipc__disconnect(struct ipc_ctx *ctx, struct ipc_conn *c,
		    struct ipc_event *ev)
{
	ipc__report(ctx, c, ev, DISCONNECTION);
	ev->len = 0;
	ipc__switch_unlink(ctx, c, true);
	ipc__conn_free(ctx, ev->slot);
	return 1;
}

IPC_EXPORT int ipc_close_fd(void *ctx_, int fd)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *c;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	c = ipc__conn_by_fd(ctx, fd);
	if (!c)
		return -EBADF;
	ipc__conn_close(ctx, c);
	return 0;
}

IPC_EXPORT int ipc_close(void *ctx_, size_t index)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *c;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	c = ipc__conn_by_slot(ctx, index);
	if (!c)
		return -EBADF;
	ipc__conn_close(ctx, c);
	return 0;
}

IPC_EXPORT int ipc_close_all(void *ctx_)
{
	struct ipc_ctx *ctx = ctx_;
	uint32_t slot;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	for (slot = 0; slot < ctx->nslots; slot++)
		if (ctx->conns[slot].kind != IPC_KIND_FREE)
			ipc__conn_close(ctx, &ctx->conns[slot]);
	return 0;
}
