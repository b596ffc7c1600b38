/*
 * Connection buffers and the context's pool of spare ones.
 *
 * SPDX-License-Identifier: ISC
 *
 * An idle connection holds no buffer.  A buffer is taken when bytes must
 * be kept (a partial frame, queued frames) and given back once they are
 * gone.  Buffers of IPC_CHUNK bytes return to a small per-context pool,
 * so a busy connection does not call malloc per message.  A buffer grown
 * for a large message is kept as the context's one spare (up to
 * IPC_SPARE_MAX bytes), so a stream of large messages neither grows a
 * buffer again for each one nor maps and unmaps memory every time.
 * A larger spare is freed IPC_SPARE_KEEP_NS after it was last given
 * back: ipc_wait_event() wakes for it (ipc__spare_expire()).
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

/* Keeps the larger of a released grown buffer and the current spare. */
static void spare_give(struct ipc_ctx *ctx, char *data, size_t cap)
{
	if (cap < IPC_CHUNK || (ctx->spare && ctx->spare_cap >= cap)) {
		free(data);
		return;
	}
	free(ctx->spare);
	ctx->spare = data;
	ctx->spare_cap = cap;
	ctx->spare_until = 0;
	if (cap > IPC_SPARE_MAX)
		ctx->spare_until = ipc__now() + IPC_SPARE_KEEP_NS;
}

int ipc__spare_expire(struct ipc_ctx *ctx, uint64_t now)
{
	if (!ctx->spare_until)
		return -1;
	if (now < ctx->spare_until)
		return ipc__ms_until(ctx->spare_until, now);
	free(ctx->spare);
	ctx->spare = NULL;
	ctx->spare_cap = 0;
	ctx->spare_until = 0;
	return -1;
}

static void chunk_give(struct ipc_ctx *ctx, char *data, size_t cap)
{
	if (cap != IPC_CHUNK)
		spare_give(ctx, data, cap);
	else if (ctx->pool_count < IPC_POOL_SIZE)
		ctx->pool[ctx->pool_count++] = data;
	else
		free(data);
}

/* Moves the live bytes into the spare when it has room for @cap. */
static bool spare_take(struct ipc_ctx *ctx, struct ipc_buf *b, size_t cap)
{
	size_t live = b->len - b->off, spare_cap = ctx->spare_cap;
	char *data = ctx->spare;

	if (!data || spare_cap < cap)
		return false;
	ctx->spare = NULL;
	ctx->spare_until = 0;
	if (live)
		memcpy(data, b->data + b->off, live);
	if (b->data)
		chunk_give(ctx, b->data, b->cap);
	*b = (struct ipc_buf){ .data = data, .len = live, .cap = spare_cap };
	return true;
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

/* Moves the live bytes into a new buffer of @cap bytes. */
static int buf_move(struct ipc_ctx *ctx, struct ipc_buf *b, size_t cap)
{
	size_t live = b->len - b->off;
	char *data;

	if (cap > IPC_CHUNK && spare_take(ctx, b, cap))
		return 0;
	data = cap == IPC_CHUNK ? chunk_take(ctx) : malloc(cap);
	if (!data)
		return -ENOMEM;
	if (live)
		memcpy(data, b->data + b->off, live);
	if (b->data)
		chunk_give(ctx, b->data, b->cap);
	*b = (struct ipc_buf){ .data = data, .len = live, .cap = cap };
	return 0;
}

/*
 * Makes room for at least @room more bytes after b->len.  The live bytes
 * move to the front only when they fill at most half the buffer, so each
 * byte is moved at most once for every time the buffer empties as much.
 * A buffer that must grow gets as much free room as it holds live bytes
 * (geometric growth that tracks the bytes held, not the buffer's past
 * size), but no more than @most when that is larger than @room: a caller
 * that knows how many bytes are still to come says so, and the buffer
 * never grows past them.
 */
int ipc__buf_grow(struct ipc_ctx *ctx, struct ipc_buf *b, size_t room,
		  size_t most)
{
	size_t live = b->len - b->off, cap, free;
	char *data;

	if (b->data && b->cap - b->len >= room)
		return 0;
	/* So that live + free below cannot wrap (a 32-bit size_t). */
	if (room > IPC_SIZE_LIMIT || live > IPC_SIZE_LIMIT)
		return -ENOMEM;
	if (b->data && b->cap - live >= room && live <= b->cap / 2) {
		buf_compact(b);
		return 0;
	}
	if (live + room <= IPC_CHUNK)
		return buf_move(ctx, b, IPC_CHUNK);
	free = live > room ? live : room;
	if (free > most)
		free = most > room ? most : room;
	cap = live + free;
	if (!b->data || b->cap < IPC_CHUNK)
		return buf_move(ctx, b, cap);
	if (spare_take(ctx, b, cap))
		return 0;
	buf_compact(b);
	data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

/*
 * A connection that waits with part of a frame (a slow or stalled peer)
 * keeps those bytes in an allocation of their size, not in a chunk: what
 * waiting connections hold grows with the bytes they sent.
 */
void ipc__buf_shrink(struct ipc_ctx *ctx, struct ipc_buf *b)
{
	size_t live = b->len - b->off;

	if (!b->data || !live) {
		ipc__buf_release(ctx, b);
		return;
	}
	if (b->cap >= IPC_CHUNK && live <= IPC_CHUNK / 4)
		buf_move(ctx, b, live);
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
	spare_give(ctx, b->data, b->cap);
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
	free(ctx->spare);
	ctx->spare = NULL;
	ctx->spare_until = 0;
}
