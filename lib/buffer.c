/*
 * Connection buffers and the context's pool of spare ones.
 *
 * SPDX-License-Identifier: ISC
 *
 * An idle connection holds no buffer.  A buffer is taken when bytes must
 * be kept (a partial frame, queued frames) and given back once they are
 * gone.  Buffers of IPC_CHUNK bytes return to a small per-context pool,
 * so a busy connection does not call malloc per message; larger ones,
 * grown for large messages, are freed as soon as they drain.
 */

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *chunk_take(struct ipc_ctx *ctx)
{
	if (ctx->pool_count)
		return ctx->pool[--ctx->pool_count];
	return malloc(IPC_CHUNK);
}

static void chunk_give(struct ipc_ctx *ctx, char *data, size_t cap)
{
	if (cap == IPC_CHUNK && ctx->pool_count < IPC_POOL_SIZE)
		ctx->pool[ctx->pool_count++] = data;
	else
		free(data);
}

/* Moves the live bytes to the front of the buffer. */
static void buf_compact(struct ipc_buf *b)
{
	size_t live = b->len - b->off;

	if (!b->off)
		return;
	memmove(b->data, b->data + b->off, live);
	b->off = 0;
	b->len = live;
}

/* Makes room for at least @room more bytes after b->len. */
int ipc__buf_reserve(struct ipc_ctx *ctx, struct ipc_buf *b, size_t room)
{
	size_t live, cap;
	char *data;

	if (!b->data) {
		cap = room > IPC_CHUNK ? room : IPC_CHUNK;
		data = cap == IPC_CHUNK ? chunk_take(ctx) : malloc(cap);
		if (!data)
			return -ENOMEM;
		*b = (struct ipc_buf){ .data = data, .cap = cap };
		return 0;
	}
	if (b->cap - b->len >= room)
		return 0;
	live = b->len - b->off;
	if (b->cap - live >= room) {
		buf_compact(b);
		return 0;
	}
	cap = b->cap * 2 > live + room ? b->cap * 2 : live + room;
	buf_compact(b);
	data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

/*
 * Gives memory back once bytes are consumed: all of it when the buffer is
 * empty, all but a chunk when a grown buffer holds little.
 */
void ipc__buf_release(struct ipc_ctx *ctx, struct ipc_buf *b)
{
	size_t live = b->len - b->off;
	char *data;

	if (!b->data)
		return;
	if (!live) {
		chunk_give(ctx, b->data, b->cap);
		*b = (struct ipc_buf){ 0 };
		return;
	}
	if (b->cap <= IPC_CHUNK || live > IPC_CHUNK / 2)
		return;
	data = chunk_take(ctx);
	if (!data)
		return;
	memcpy(data, b->data + b->off, live);
	free(b->data);
	*b = (struct ipc_buf){ .data = data, .len = live, .cap = IPC_CHUNK };
}

void ipc__buf_drop(struct ipc_ctx *ctx, struct ipc_buf *b)
{
	b->off = b->len;
	ipc__buf_release(ctx, b);
}

void ipc__pool_fini(struct ipc_ctx *ctx)
{
	while (ctx->pool_count)
		free(ctx->pool[--ctx->pool_count]);
}
