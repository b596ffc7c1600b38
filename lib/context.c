/*
 * Contexts: creating, configuring, closing and freeing them.
 *
 * SPDX-License-Identifier: ISC
 */

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

unsigned int ipc__fork_generation;

static void forked(void)
{
	ipc__fork_generation++;
}

static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;

static void fork_watch_start(void)
{
	pthread_atfork(NULL, NULL, forked);
}

IPC_EXPORT int ipc_context_init(void **ptr)
{
	struct ipc_ctx *ctx;
	int ret;

	if (!ptr)
		return -EINVAL;
	pthread_once(&fork_watch, fork_watch_start);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->generation = ipc__fork_generation;
	ctx->free_head = IPC_NONE;
	ctx->held = IPC_NONE;
	ctx->landing = IPC_NONE;
	ctx->current = IPC_NONE;
	ctx->max_message = IPC_MAX_MESSAGE_SIZE_DEFAULT;
	ctx->queue_high = IPC_QUEUE_HIGH_WATER_DEFAULT;
	ctx->queue_max = IPC_QUEUE_MAX_DEFAULT;
	ctx->fd_limit = IPC_FD_LIMIT_DEFAULT;
	ret = ipc__backend_init(ctx);
	if (ret < 0) {
		free(ctx);
		return ret;
	}
	*ptr = ctx;
	return 0;
}

/*
 * In a forked child: closes the child's copies of the fds, and nothing
 * else, since the rest is the parent's: no epoll_ctl on the shared epoll
 * set, no queued frame written twice, no socket or lock file removed.
 */
static void forget_all(struct ipc_ctx *ctx)
{
	uint32_t slot;

	for (slot = 0; slot < ctx->nslots; slot++) {
		struct ipc_conn *c = &ctx->conns[slot];

		if (c->kind == IPC_KIND_FREE)
			continue;
		if (c->service)
			ipc__service_forget(c->service);
		close(c->fd);
		ipc__buf_drop(ctx, &c->in);
		ipc__buf_drop(ctx, &c->out);
		ipc__fdq_clear(&c->rxq);
		ipc__fdq_clear(&c->txq);
	}
}

IPC_EXPORT void ipc_context_deinit(void **ptr)
{
	struct ipc_ctx *ctx;

	if (!ptr || !*ptr)
		return;
	ctx = *ptr;
	/* Freeing the context under a running callback is not possible:
	 * documented as doing nothing. */
	if (ctx->in_callback)
		return;
	if (ctx->generation == ipc__fork_generation)
		ipc_close_all(ctx);
	else
		forget_all(ctx);
	ipc__msg_fds_set(ctx, NULL);
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
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	if (!size || size > UINT32_MAX || size > IPC_SIZE_LIMIT)
		return -EINVAL;
	ctx->max_message = size;
	return 0;
}

IPC_EXPORT int ipc_context_queue_limits(void *ctx_, size_t high_water,
					size_t max)
{
	struct ipc_ctx *ctx = ctx_;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	if (!high_water || max < high_water)
		return -EINVAL;
	ctx->queue_high = high_water;
	ctx->queue_max = max;
	return 0;
}
