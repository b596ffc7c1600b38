/*
 * Switches: relaying messages between two fds.
 *
 * SPDX-License-Identifier: ISC
 *
 * A switched fd reads messages with the libipc framing or its input
 * callback, and each message goes straight to the other side: queued
 * there (one copy), written from where it was read when it is large and
 * nothing waits before it (no copy but of what the socket did not take),
 * or handed to its output callback (no copy).  When one
 * side goes away the other stops reading, writes what was forwarded to it,
 * then closes; each side gets its DISCONNECTION event.
 *
 * A half-close is carried over: a side read to its end that can still be
 * written (IPC_F_HALF: both sides are sockets, no hang-up, no failure)
 * keeps its connection; its peer (IPC_F_DRAIN) writes what was forwarded
 * to it, then has its writing shut down, and is still read and relayed
 * to the half-closed side.  The switch ends as above when the peer ends
 * too, when the half-closed side hangs up or a write to it fails, or when
 * the draining peer lingers (IPC_LINGER_NS without taking a byte).
 */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* The fd as a switch end: held, and not a listening service. */
static int switch_end(struct ipc_ctx *ctx, int fd, struct ipc_conn **cp)
{
	struct ipc_conn *c = ipc__conn_by_fd(ctx, fd);

	if (!c)
		return -EBADF;
	if (c->kind == IPC_KIND_SERVICE)
		return -EINVAL;
	*cp = c;
	return 0;
}

IPC_EXPORT int ipc_add_switch(void *ctx_, int fd1, int fd2)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *a, *b;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	ret = switch_end(ctx, fd1, &a);
	if (!ret)
		ret = switch_end(ctx, fd2, &b);
	if (ret < 0)
		return ret;
	if (a == b)
		return -EINVAL;
	if ((a->flags | b->flags) & IPC_F_SWITCHED)
		return -EALREADY;
	ret = set_nonblocking(fd1);
	if (!ret)
		ret = set_nonblocking(fd2);
	if (ret < 0)
		return ret;
	a->peer = ipc__slot_of(ctx, b);
	b->peer = ipc__slot_of(ctx, a);
	a->flags |= IPC_F_SWITCHED;
	b->flags |= IPC_F_SWITCHED;
	/* A message kept after -EMSGSIZE is now forwarded instead. */
	if (ctx->held == a->peer || ctx->held == b->peer)
		ctx->held = IPC_NONE;
	/* Bytes already buffered on either side are forwarded now. */
	ipc__ready_push(ctx, a->peer);
	ipc__ready_push(ctx, b->peer);
	ipc__throttle_check(ctx, a);
	ipc__throttle_check(ctx, b);
	return 0;
}

IPC_EXPORT int ipc_set_switch_callbacks(void *ctx_, int fd, ipc_cb_in in,
					ipc_cb_out out)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *c;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	ret = switch_end(ctx, fd, &c);
	if (ret < 0)
		return ret;
	c->cb_in = in;
	c->cb_out = out;
	return 0;
}

/* c has IPC_LINGER_NS from now to write something (ipc__linger_expire). */
static void linger_start(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	ctx->lingering++;
	ipc__linger_progress(c);
	if (ctx->lingering == 1 || c->linger_until < ctx->linger_next)
		ctx->linger_next = c->linger_until;
}

/* c no longer waits to shut its writing down. */
static void drain_stop(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	if (!(c->flags & IPC_F_DRAIN))
		return;
	c->flags &= (uint16_t)~IPC_F_DRAIN;
	ctx->lingering--;
}

/*
 * c stops reading, writes what is queued, then reports DISCONNECTION; a
 * peer that stops reading it has IPC_LINGER_NS to change its mind.
 */
static void close_later(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	drain_stop(ctx, c);
	if (!(c->flags & IPC_F_CLOSING)) {
		c->flags |= IPC_F_CLOSING;
		linger_start(ctx, c);
	}
	ipc__conn_watch(ctx, c);
	ipc__ready_push(ctx, ipc__slot_of(ctx, c));
}

void ipc__linger_progress(struct ipc_conn *c)
{
	c->linger_until = ipc__now() + IPC_LINGER_NS;
}

int ipc__linger_expire(struct ipc_ctx *ctx, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	uint32_t slot;

	if (!ctx->lingering)
		return -1;
	if (now < ctx->linger_next)
		return ipc__ms_until(ctx->linger_next, now);
	for (slot = 0; slot < ctx->nslots; slot++) {
		struct ipc_conn *c = &ctx->conns[slot];

		if (c->kind == IPC_KIND_FREE ||
		    !(c->flags & (IPC_F_CLOSING | IPC_F_DRAIN)))
			continue;
		if (c->linger_until <= now) {
			/* A draining side closes first, then its half-closed
			 * peer (with a linger of its own). */
			ipc__out_drop(ctx, c);
			if (c->flags & IPC_F_DRAIN)
				close_later(ctx, c);
			ipc__ready_push(ctx, slot);
		} else if (c->linger_until < next) {
			next = c->linger_until;
		}
	}
	ctx->linger_next = next;
	return next == UINT64_MAX ? -1 : ipc__ms_until(next, now);
}

void ipc__switch_unlink(struct ipc_ctx *ctx, struct ipc_conn *c,
			bool close_peer)
{
	struct ipc_conn *p;

	if (!(c->flags & IPC_F_SWITCHED))
		return;
	p = &ctx->conns[c->peer];
	drain_stop(ctx, c);
	drain_stop(ctx, p);
	c->flags &= (uint16_t)~(IPC_F_SWITCHED | IPC_F_HALF);
	p->flags &= (uint16_t)~(IPC_F_SWITCHED | IPC_F_HALF);
	c->peer = IPC_NONE;
	p->peer = IPC_NONE;
	ipc__throttle_check(ctx, c);
	ipc__throttle_check(ctx, p);
	if (close_peer)
		close_later(ctx, p);
	else if (p->flags & IPC_F_EOF)
		/* Read to its end, as an ordinary connection now: its
		 * DISCONNECTION comes at its next step. */
		ipc__ready_push(ctx, ipc__slot_of(ctx, p));
}

void ipc__switch_drained(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	if (c->out.len - c->out.off != c->out_sent)
		return;
	drain_stop(ctx, c);
	shutdown(c->fd, SHUT_WR);
}

/*
 * Whether c, read to its end, is only half-closed: both sides are sockets
 * (so the end can be passed on with shutdown(2)), nothing failed or was
 * closed, no half frame is left, the peer did not end first, and c was
 * not hung up in full: a peer gone for good hangs up (POLLHUP), one that
 * only shut down its writing does not.
 */
static bool half_closed(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	const struct ipc_conn *p = &ctx->conns[c->peer];
	struct pollfd pfd = { .fd = c->fd };

	if (!(c->flags & p->flags & IPC_F_SOCKET) ||
	    ((c->flags | p->flags) & (IPC_F_BROKEN | IPC_F_CLOSE_ASKED)) ||
	    (p->flags & (IPC_F_HALF | IPC_F_CLOSING)) ||
	    c->in.len > c->in.off)
		return false;
	return poll(&pfd, 1, 0) == 0;
}

int ipc__switch_eof(struct ipc_ctx *ctx, struct ipc_conn *c,
		    struct ipc_event *ev)
{
	uint32_t slot = c->peer;

	if (c->flags & IPC_F_HALF) {
		/* Written to until it hangs up (the backend reports no
		 * readiness but that now) or a write fails. */
		if ((c->revents & IPC_EV_HUP) || (c->flags & IPC_F_BROKEN))
			return ipc__disconnect(ctx, c, ev);
		return 0;
	}
	if (!half_closed(ctx, c))
		return ipc__disconnect(ctx, c, ev);
	c->flags |= IPC_F_HALF;
	c->revents &= (uint8_t)~(IPC_EV_IN | IPC_EV_HUP);
	ipc__conn_watch(ctx, c);
	ctx->conns[slot].flags |= IPC_F_DRAIN;
	linger_start(ctx, &ctx->conns[slot]);
	ipc__switch_drained(ctx, &ctx->conns[slot]);
	ipc__ready_push(ctx, slot);
	return 0;
}

/*
 * Delivers one message to the side in @slot; -EPIPE when its callback
 * refused it.  The callback may add connections (moving the table).
 */
static int forward(struct ipc_ctx *ctx, uint32_t slot, const char *payload,
		   size_t len, struct ipc_fdmsg *m)
{
	struct ipc_conn *dst = &ctx->conns[slot];
	char ret;
	int err;

	if (m) {
		err = ipc__frame_queue_fds(ctx, dst, payload, len, m);
		if (err < 0)
			return err;
		ipc__dirty_push(ctx, slot);
		ipc__throttle_check(ctx, dst);
		return 0;
	}

	if (dst->cb_out) {
		ctx->in_callback++;
		ret = dst->cb_out(dst->fd, payload, len);
		ctx->in_callback--;
		if (ret == CB_NO_ERROR) {
			ctx->conns[slot].tx_pending++;
			ipc__ready_push(ctx, slot);
		}
		return ret == CB_NO_ERROR || ret == CB_IGNORE ? 0 : -EPIPE;
	}
	ipc__widen(dst, len);
	if (len >= IPC_DIRECT_FROM && dst->out.len == dst->out.off &&
	    (dst->flags & (IPC_F_SOCKET | IPC_F_POLLOUT | IPC_F_BROKEN |
			   IPC_F_CLOSING | IPC_F_DRAIN)) == IPC_F_SOCKET) {
		/* Sent, or queued; -ENOMEM: cut, and dst is dropped as for a
		 * failed write (its DISCONNECTION ends the switch). */
		ipc__schedule_direct(ctx, dst, payload, len);
		return 0;
	}
	err = ipc__frame_queue(ctx, dst, payload, len);
	if (err < 0)
		return err;
	ipc__dirty_push(ctx, slot);
	ipc__throttle_check(ctx, dst);
	return 0;
}

static int scratch_reserve(struct ipc_ctx *ctx)
{
	char *p;

	if (ctx->scratch_cap >= ctx->max_message && ctx->scratch)
		return 0;
	p = malloc(ctx->max_message ? ctx->max_message : 1);
	if (!p)
		return -ENOMEM;
	free(ctx->scratch);
	ctx->scratch = p;
	ctx->scratch_cap = ctx->max_message;
	return 0;
}

/*
 * Asks the input callback of the side in @slot for one message: 1 with
 * the message in the scratch buffer, 0 for nothing yet or at end of file
 * (IPC_F_EOF set), -EPIPE when the callback failed.  It is called again
 * while it produces messages, so a callback that buffers several loses
 * none.
 */
static int read_callback(struct ipc_ctx *ctx, uint32_t slot, size_t *len)
{
	struct ipc_conn *c = &ctx->conns[slot];
	size_t cap;
	char ret;

	if (!ipc__may_read(c))
		return 0;
	if (scratch_reserve(ctx) < 0)
		return -ENOMEM;
	/* The scratch buffer may be larger, from a higher maximum. */
	cap = ctx->max_message;
	*len = cap;
	ctx->in_callback++;
	ret = c->cb_in(c->fd, ctx->scratch, len);
	ctx->in_callback--;
	if (ret == CB_NO_ERROR && *len <= cap)
		return 1;
	ctx->conns[slot].revents = 0;
	/* The end of file: what follows is ipc__switch_eof()'s. */
	if (ret == CB_FD_CLOSING)
		ctx->conns[slot].flags |= IPC_F_EOF;
	return ret == CB_IGNORE || ret == CB_FD_CLOSING ? 0 : -EPIPE;
}

/*
 * Takes the fds of c's next frame into *mp.  A side that cannot carry
 * them (not a Unix socket, or written by an output callback) refuses the
 * message: true, the fds closed, and c is disconnected (doc/network.md).
 */
static bool fds_refused(struct ipc_ctx *ctx, struct ipc_conn *c,
			struct ipc_fdmsg **mp)
{
	struct ipc_conn *dst = &ctx->conns[c->peer];

	*mp = ipc__rx_fds_take(c, ipc__frame_at(c));
	if (!*mp || ((dst->flags & IPC_F_UNIX) && !dst->cb_out))
		return false;
	ipc__fdmsg_free(*mp);
	*mp = NULL;
	return true;
}

static void preview(struct ipc_event *ev, const char *payload, size_t len)
{
	ev->len = len;
	if (ev->cap)
		memcpy(ev->buf, payload, len < ev->cap ? len : ev->cap);
}

/*
 * Forwards the next message of c, if there is one: 1 with a SWITCH_RX or
 * DISCONNECTION event, 0 when c must read first, -ENOMEM to retry later.
 * Callbacks run on the way may add connections (the table may move: both
 * sides are found again by slot after each call) and may close any, but
 * that close waits until they returned (see ipc__conn_close), so neither
 * side goes away here.
 */
int ipc__switch_step(struct ipc_ctx *ctx, struct ipc_conn *c,
		     struct ipc_event *ev)
{
	uint32_t slot = ipc__slot_of(ctx, c), dst = c->peer;
	bool via_callback = c->cb_in != NULL;
	struct ipc_fdmsg *m = NULL;
	const char *payload = NULL;
	size_t len = 0;
	int ret;

	if (via_callback)
		ret = read_callback(ctx, slot, &len);
	else
		ret = ipc__frame_peek(ctx, c, &payload, &len);
	if (ret == -EPROTO || ret == -EPIPE)
		return ipc__disconnect(ctx, &ctx->conns[slot], ev);
	if (ret <= 0)
		return ret;
	if (via_callback)
		payload = ctx->scratch;
	else if (fds_refused(ctx, c, &m))
		return ipc__disconnect(ctx, c, ev);
	ret = forward(ctx, dst, payload, len, m);
	/* Forwarded later: the fds wait with their frame. */
	if (ret == -ENOMEM && m)
		ipc__fdq_unpop(&ctx->conns[slot].rxq, m);
	if (ret == -ENOMEM)
		return ret;
	c = &ctx->conns[slot];
	ev->type = SWITCH_RX;
	ev->slot = slot;
	ev->fd = c->fd;
	preview(ev, payload, len);
	if (!via_callback)
		ipc__frame_consume(ctx, c, len);
	/* dst's callback failed: it closes first, then c (see above). */
	if (ret < 0)
		close_later(ctx, &ctx->conns[dst]);
	return 1;
}
