/*
 * Contexts: creating, configuring, closing and freeing them.
 *
 * SPDX-License-Identifier: ISC
 */

#include "internal.h"

#include <errno.h>
#include <stdlib.h>

IPC_EXPORT int ipc_context_init(void **ptr)
{
	struct ipc_ctx *ctx;
	int ret;

	if (!ptr)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->free_head = IPC_NONE;
	ctx->held = IPC_NONE;
	ctx->current = IPC_NONE;
	ctx->max_message = IPC_MAX_MESSAGE_SIZE_DEFAULT;
	ctx->queue_high = IPC_QUEUE_HIGH_WATER_DEFAULT;
	ctx->queue_max = IPC_QUEUE_MAX_DEFAULT;
	ret = ipc__backend_init(ctx);
	if (ret < 0) {
		free(ctx);
		return ret;
	}
	*ptr = ctx;
	return 0;
}

IPC_EXPORT void ipc_context_deinit(void **ptr)
{
	struct ipc_ctx *ctx;

	if (!ptr || !*ptr)
		return;
	ctx = *ptr;
	ipc_close_all(ctx);
	ipc__embed_fini(ctx);
	ipc__backend_fini(ctx);
	ipc__pool_fini(ctx);
	free(ctx->scratch);
	free(ctx->conns);
	free(ctx->fdmap);
	free(ctx->ready);
	free(ctx->dirty);
	free(ctx);
	*ptr = NULL;
}

IPC_EXPORT int ipc_context_max_message_size(void *ctx_, size_t size)
{
	struct ipc_ctx *ctx = ctx_;

	if (!ctx || !size || size > UINT32_MAX)
		return -EINVAL;
	ctx->max_message = size;
	return 0;
}

IPC_EXPORT int ipc_context_queue_limits(void *ctx_, size_t high_water,
					size_t max)
{
	struct ipc_ctx *ctx = ctx_;

	if (!ctx || !high_water || max < high_water)
		return -EINVAL;
	ctx->queue_high = high_water;
	ctx->queue_max = max;
	return 0;
}

/* Gives queued frames one chance to leave, then closes. */
static void conn_close(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	if (c->out.len > c->out.off)
		ipc__flush(ctx, c);
	ipc__conn_free(ctx, ipc__slot_of(ctx, c));
}

IPC_EXPORT int ipc_close_fd(void *ctx_, int fd)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *c;

	if (!ctx)
		return -EINVAL;
	c = ipc__conn_by_fd(ctx, fd);
	if (!c)
		return -EBADF;
	conn_close(ctx, c);
	return 0;
}

IPC_EXPORT int ipc_close(void *ctx_, size_t index)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *c;

	if (!ctx)
		return -EINVAL;
	c = ipc__conn_by_slot(ctx, index);
	if (!c)
		return -EBADF;
	conn_close(ctx, c);
	return 0;
}

IPC_EXPORT int ipc_close_all(void *ctx_)
{
	struct ipc_ctx *ctx = ctx_;
	uint32_t slot;

	if (!ctx)
		return -EINVAL;
	for (slot = 0; slot < ctx->nslots; slot++)
		if (ctx->conns[slot].kind != IPC_KIND_FREE)
			conn_close(ctx, &ctx->conns[slot]);
	return 0;
}
