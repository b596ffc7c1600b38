/*
 * ipc_wait_event(): one event per call.
 *
 * SPDX-License-Identifier: ISC
 *
 * Each call first returns what is already known: a message kept after
 * -EMSGSIZE, a due timer tick, then the next event of the ready ring (each
 * connection gives one event, then goes to the back of the ring, so a
 * chatty peer cannot starve the others).  Only when the ring is empty are
 * the queued frames written and the backend asked to wait.
 */

#include "internal.h"

#include <errno.h>
#include <stdint.h>

static int report_rx(struct ipc_ctx *ctx, struct ipc_conn *c,
		     struct ipc_event *ev, const char *payload, size_t len)
{
	int ret;

	ipc__report(ctx, c, ev, MESSAGE_RX);
	ret = ipc__frame_deliver(ctx, c, payload, len, ev);
	if (ret < 0)
		ctx->held = ev->slot;
	return ret < 0 ? ret : 1;
}

static int report_tx(struct ipc_ctx *ctx, struct ipc_conn *c,
		     struct ipc_event *ev)
{
	c->tx_pending--;
	if (c->flags & (IPC_F_SWITCHED | IPC_F_CLOSING))
		return ipc__report(ctx, c, ev, SWITCH_TX);
	return ipc__report(ctx, c, ev, MESSAGE_TX);
}

/* Frames already buffered: the user's next message, or a bad length. */
static int step_frames(struct ipc_ctx *ctx, struct ipc_conn *c,
		       struct ipc_event *ev)
{
	const char *payload;
	size_t len;
	int ret;

	if (c->flags & IPC_F_SWITCHED)
		return ipc__switch_step(ctx, c, ev);
	ret = ipc__frame_peek(ctx, c, &payload, &len);
	if (ret < 0)
		return ipc__disconnect(ctx, c, ev);
	if (ret > 0)
		return report_rx(ctx, c, ev, payload, len);
	return 0;
}

/*
 * A large message read straight into the caller's buffer (ipc__land()):
 * 1 with its event, 2 after a read of it, 0 when c has none landing.
 */
static int step_land(struct ipc_ctx *ctx, struct ipc_conn *c,
		     struct ipc_event *ev)
{
	int ret;

	if (c->flags & IPC_F_SWITCHED)
		return 0;
	ret = ipc__land(ctx, c, ev);
	if (ret == 1)
		ipc__report(ctx, c, ev, MESSAGE_RX);
	return ret;
}

/* One read; 0 to look at the buffer again, -ENOMEM to retry later. */
static int step_read(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	ssize_t n;

	c->revents &= (uint8_t)~(IPC_EV_IN | IPC_EV_HUP);
	n = ipc__fill(ctx, c);
	if (n == -ENOMEM) {
		c->revents |= IPC_EV_IN;
		return -ENOMEM;
	}
	if (n == 0 || (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK) ||
	    (n < 0 && (c->flags & IPC_F_BROKEN)))
		c->flags |= IPC_F_EOF;
	return 0;
}

static bool out_empty(const struct ipc_conn *c)
{
	return c->out.len == c->out.off;
}

/*
 * A connection that carries frames (or is switched through callbacks).
 * A switch step may run callbacks that add connections, which may move
 * the table: c is found again by its slot after each.
 */
static int step_stream(struct ipc_ctx *ctx, uint32_t slot,
		       struct ipc_event *ev)
{
	struct ipc_conn *c;
	int ret;

	for (;;) {
		c = &ctx->conns[slot];
		if (c->flags & IPC_F_CLOSE_ASKED) {
			ipc__conn_close(ctx, c);
			return 0;
		}
		/* Before the SWITCH_TX of its last message is reported. */
		if (c->flags & IPC_F_DRAIN)
			ipc__switch_drained(ctx, c);
		if (c->tx_pending)
			return report_tx(ctx, c, ev);
		/* A closing side's hang-up: the write tells whether the
		 * peer still takes bytes. */
		if ((c->revents & IPC_EV_OUT) ||
		    ((c->flags & IPC_F_CLOSING) && (c->revents & IPC_EV_HUP))) {
			c->revents &= (uint8_t)~(IPC_EV_OUT | IPC_EV_HUP);
			ipc__flush(ctx, c);
			continue;
		}
		if (c->flags & IPC_F_CLOSING)
			return out_empty(c) ? ipc__disconnect(ctx, c, ev) : 0;
		ret = step_frames(ctx, c, ev);
		if (ret)
			return ret;
		c = &ctx->conns[slot];
		if (ipc__may_read(c)) {
			ret = step_land(ctx, c, ev);
			if (ret == 1)
				return 1;
			if (ret == 2)
				continue;
			ret = step_read(ctx, c);
			if (ret < 0)
				return ret;
			continue;
		}
		if ((c->flags & (IPC_F_EOF | IPC_F_SWITCHED)) == IPC_F_EOF)
			return ipc__disconnect(ctx, c, ev);
		if ((c->flags & IPC_F_EOF) && ipc__switch_eof(ctx, c, ev))
			return 1;
		ipc__buf_shrink(ctx, &ctx->conns[slot].in);
		return 0;
	}
}

static int step(struct ipc_ctx *ctx, uint32_t slot, struct ipc_event *ev)
{
	struct ipc_conn *c = &ctx->conns[slot];

	if (c->flags & IPC_F_CLOSE_ASKED) {
		ipc__conn_close(ctx, c);
		return 0;
	}
	if (c->kind == IPC_KIND_SERVICE)
		return ipc__accept(ctx, slot, ev);
	if (c->kind == IPC_KIND_EXTERNAL &&
	    !(c->flags & (IPC_F_SWITCHED | IPC_F_CLOSING)))
		return ipc__external_step(ctx, c, ev);
	return step_stream(ctx, slot, ev);
}

/* The message that did not fit last time comes first. */
static int step_held(struct ipc_ctx *ctx, struct ipc_event *ev)
{
	uint32_t slot = ctx->held;
	struct ipc_conn *c = &ctx->conns[slot];
	const char *payload;
	size_t len;
	int ret;

	ctx->held = IPC_NONE;
	ipc__ready_push(ctx, slot);
	ret = ipc__frame_peek(ctx, c, &payload, &len);
	if (ret <= 0)
		return 0;
	return report_rx(ctx, c, ev, payload, len);
}

/* The sooner of two waits in ms, -1 standing for none. */
static int sooner(int a, int b)
{
	return b >= 0 && (a < 0 || b < a) ? b : a;
}

static int wait_timeout(struct ipc_ctx *ctx, uint64_t now)
{
	int timeout = ipc__timer_timeout(ctx, now);

	/* A listener may have been paused after @now was read. */
	if (ctx->paused)
		timeout = sooner(timeout, ipc__accept_retry(ctx, ipc__now()));
	/* A step may have started a linger after @now was read (as 0). */
	if (ctx->lingering) {
		timeout = sooner(timeout, ipc__linger_expire(ctx, ipc__now()));
		if (ctx->ready_count)
			timeout = 0;
	}
	/* A step may have given back a large buffer after @now was read. */
	if (ctx->spare_until)
		timeout = sooner(timeout, ipc__spare_expire(ctx, ipc__now()));
	return timeout;
}

/*
 * The connection that gave the last event is stepped again first when no
 * other one waits (ctx->current), without going through the ring.
 */
static uint32_t next_slot(struct ipc_ctx *ctx)
{
	uint32_t slot = ctx->current;

	ctx->current = IPC_NONE;
	if (slot != IPC_NONE && ctx->conns[slot].kind != IPC_KIND_FREE)
		return slot;
	return ipc__ready_pop(ctx);
}

/* After an event, the connection waits behind the others for its next. */
static void requeue(struct ipc_ctx *ctx, uint32_t slot)
{
	if (ctx->conns[slot].kind == IPC_KIND_FREE)
		return;
	if (ctx->ready_count)
		ipc__ready_push(ctx, slot);
	else
		ctx->current = slot;
}

/* What is left of the caller's bound in ms: -1 for none, 0 when spent. */
static int bound_left(int timeout_ms, uint64_t deadline)
{
	if (timeout_ms <= 0)
		return timeout_ms < 0 ? -1 : 0;
	return ipc__ms_until(deadline, ipc__now());
}

static int next_event(struct ipc_ctx *ctx, struct ipc_event *ev,
		      int timeout_ms)
{
	uint64_t now, deadline = 0;
	bool waited = false;
	uint32_t slot;
	int ret, wait, left;

	if (timeout_ms > 0)
		deadline = ipc__now() + (uint64_t)timeout_ms * 1000000;
	if (ctx->held != IPC_NONE && (ret = step_held(ctx, ev)) != 0)
		return ret;
	for (;;) {
		now = ctx->timer_ms > 0 || ctx->paused || ctx->lingering ||
		      ctx->spare_until ? ipc__now() : 0;
		if (ctx->timer_ms > 0 && ipc__timer_fire(ctx, now)) {
			ev->type = TIMER;
			return 1;
		}
		if (ctx->lingering)
			ipc__linger_expire(ctx, now);
		if (ctx->spare_until)
			ipc__spare_expire(ctx, now);
		while ((slot = next_slot(ctx)) != IPC_NONE) {
			/* Another connection may use the caller's buffer. */
			if (ctx->landing != IPC_NONE && slot != ctx->landing)
				ipc__land_spill(ctx);
			ret = step(ctx, slot, ev);
			if (ret == 0)
				continue;
			if (ret != -EMSGSIZE)
				requeue(ctx, slot);
			return ret;
		}
		ipc__flush_dirty(ctx);
		if (ctx->ready_count)
			continue;
		if (!ctx->nconns && ctx->timer_ms <= 0)
			return -ENOENT;
		wait = wait_timeout(ctx, now);
		if (timeout_ms >= 0) {
			/* One look at the backend at least, even with 0. */
			left = bound_left(timeout_ms, deadline);
			if (waited && !left)
				return -EAGAIN;
			if (wait < 0 || wait > left)
				wait = left;
		}
		if (ctx->embed)
			ipc__embed_before_wait(ctx);
		ret = ipc__backend_wait(ctx, wait);
		if (ret < 0)
			return ret;
		waited = true;
	}
}

int ipc__wait_event(struct ipc_ctx *ctx, char *t, size_t *index,
		    int *originfd, int *newfd, char *buffer, size_t *buflen,
		    int timeout_ms)
{
	struct ipc_event ev = {
		.type = ERROR,
		.slot = IPC_NONE,
		.fd = -1,
		.newfd = -1,
	};
	int ret;

	if (t)
		*t = ERROR;
	if (!ctx || !t || !index || !originfd || !newfd || !buflen ||
	    (!buffer && *buflen))
		return -EINVAL;
	ret = ipc__ctx_check(ctx);
	if (ret < 0)
		return ret;
	if (ctx->in_callback)
		return -EBUSY;
	ev.buf = buffer;
	ev.cap = *buflen;
	/* The last message's fds not taken are closed (ipc_message_fds()). */
	ipc__msg_fds_set(ctx, NULL);
	/* Work queued during the call is accounted for at its end. */
	ctx->embed_idle = false;
	ret = next_event(ctx, &ev, timeout_ms);
	/* A frame still landing leaves the caller's buffer with the call. */
	if (ctx->landing != IPC_NONE)
		ipc__land_spill(ctx);
	if (ctx->embed)
		ipc__embed_sync(ctx);
	*t = ev.type;
	*index = ev.slot == IPC_NONE ? SIZE_MAX : ev.slot;
	*originfd = ev.fd;
	*newfd = ev.newfd;
	*buflen = ev.len;
	return ret < 0 ? ret : 0;
}

IPC_EXPORT int ipc_wait_event(void *ctx, char *t, size_t *index,
			      int *originfd, int *newfd, char *buffer,
			      size_t *buflen)
{
	return ipc__wait_event(ctx, t, index, originfd, newfd, buffer, buflen,
			       -1);
}
