/*
 * Embedding a context in another event loop: ipc_context_fd() and
 * ipc_wait_event_timeout().
 *
 * SPDX-License-Identifier: ISC
 *
 * The context fd is the epoll fd itself: it is readable while one of the
 * fds it watches is ready, so the kernel keeps it level-triggered.  Two
 * fds of our own join the set, tagged IPC_TAG_EMBED:
 *  - an eventfd, signalled while work is known to the library alone (the
 *    ready ring, the dirty list, a held message, the connection that gave
 *    the last event with more to give), cleared when a call leaves none;
 *  - a timerfd, armed at the next tick of the periodic timer, at the
 *    retry of a paused listener, at a closing switch side's deadline or
 *    when a large spare buffer is to be freed.
 * Both change only when their state changes (one write or read of the
 * eventfd per burst of work, one timerfd_settime per tick), and a context
 * whose fd was never asked for makes neither call: ctx->embed is NULL.
 */

#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef HAVE_SYS_EPOLL_H
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#endif

struct ipc_embed {
	int event_fd;
	int timer_fd;
	bool signalled;		/* the eventfd holds a count */
	uint64_t armed;		/* the timerfd's deadline (ns), 0 for none */
};

#ifdef HAVE_SYS_EPOLL_H

static void signal_set(struct ipc_embed *e, bool on)
{
	uint64_t v = 1;
	ssize_t n;

	if (e->signalled == on)
		return;
	do {
		n = on ? write(e->event_fd, &v, sizeof(v)) :
			 read(e->event_fd, &v, sizeof(v));
	} while (n < 0 && errno == EINTR);
	e->signalled = on;
}

void ipc__embed_wake(struct ipc_ctx *ctx)
{
	signal_set(ctx->embed, true);
	ctx->embed_idle = false;
}

void ipc__embed_before_wait(struct ipc_ctx *ctx)
{
	signal_set(ctx->embed, false);
}

/* Whether a complete frame (or a length to refuse) is buffered. */
static bool frame_ready(const struct ipc_ctx *ctx, const struct ipc_conn *c)
{
	size_t avail = c->in.len - c->in.off;
	uint32_t len;

	if (avail < IPC_HEADER)
		return false;
	len = ipc__be32_get(c->in.data + c->in.off);
	return len > ctx->max_message || avail - IPC_HEADER >= len;
}

/*
 * Whether stepping c again could give an event without the kernel saying
 * anything new: what event.c's step() would find.  Readiness the kernel
 * still reports keeps the context fd readable by itself.
 */
static bool conn_busy(const struct ipc_ctx *ctx, const struct ipc_conn *c)
{
	if (c->kind == IPC_KIND_FREE || c->kind == IPC_KIND_SERVICE)
		return false;
	if (c->kind == IPC_KIND_EXTERNAL &&
	    !(c->flags & (IPC_F_SWITCHED | IPC_F_CLOSING)))
		return c->revents != 0;
	if (c->tx_pending || (c->revents & IPC_EV_OUT))
		return true;
	if (c->flags & IPC_F_CLOSING)
		return c->out.len == c->out.off;
	if ((c->flags & (IPC_F_EOF | IPC_F_HALF)) == IPC_F_EOF)
		return true;
	return ipc__may_read(c) || (!c->cb_in && frame_ready(ctx, c));
}

static bool work_left(const struct ipc_ctx *ctx)
{
	if (ctx->ready_count || ctx->dirty_count || ctx->held != IPC_NONE)
		return true;
	return ctx->current != IPC_NONE &&
	       conn_busy(ctx, &ctx->conns[ctx->current]);
}

void ipc__embed_timer(struct ipc_ctx *ctx)
{
	struct ipc_embed *e = ctx->embed;
	struct itimerspec its = { 0 };
	uint64_t due = 0;

	if (ctx->timer_ms > 0)
		due = ctx->timer_next;
	/* A retry due now (paused_until 0) still needs a non-zero time. */
	if (ctx->paused && (!due || ctx->paused_until < due))
		due = ctx->paused_until ? ctx->paused_until : 1;
	/* A closing switch side to drop (see ipc__linger_expire). */
	if (ctx->lingering && (!due || ctx->linger_next < due))
		due = ctx->linger_next;
	/* A large spare buffer to free (see ipc__spare_expire). */
	if (ctx->spare_until && (!due || ctx->spare_until < due))
		due = ctx->spare_until;
	if (due == e->armed)
		return;
	its.it_value.tv_sec = (time_t)(due / 1000000000);
	its.it_value.tv_nsec = (long)(due % 1000000000);
	/* Arming again also clears an expiry not read yet. */
	timerfd_settime(e->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	e->armed = due;
}

void ipc__embed_sync(struct ipc_ctx *ctx)
{
	signal_set(ctx->embed, work_left(ctx));
	ipc__embed_timer(ctx);
	ctx->embed_idle = !ctx->embed->signalled;
}

static int embed_open(struct ipc_ctx *ctx)
{
	struct ipc_embed *e = calloc(1, sizeof(*e));
	int ret;

	if (!e)
		return -ENOMEM;
	e->timer_fd = -1;
	e->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->event_fd < 0)
		goto fail;
	e->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->timer_fd < 0)
		goto fail;
	ret = ipc__backend_add(ctx, e->event_fd, IPC_TAG_EMBED, IPC_EV_IN);
	if (ret < 0)
		goto fail_ret;
	ret = ipc__backend_add(ctx, e->timer_fd, IPC_TAG_EMBED, IPC_EV_IN);
	if (ret < 0)
		goto fail_ret;
	ctx->embed = e;
	ipc__embed_sync(ctx);
	return 0;
fail:
	ret = -errno;
fail_ret:
	/* Closing the fds takes them out of the epoll set as well. */
	if (e->timer_fd >= 0)
		close(e->timer_fd);
	if (e->event_fd >= 0)
		close(e->event_fd);
	free(e);
	return ret;
}

void ipc__embed_fini(struct ipc_ctx *ctx)
{
	struct ipc_embed *e = ctx->embed;

	if (!e)
		return;
	close(e->timer_fd);
	close(e->event_fd);
	free(e);
	ctx->embed = NULL;
	ctx->embed_idle = false;
}

#else /* !HAVE_SYS_EPOLL_H: never embedded, ctx->embed stays NULL */

void ipc__embed_wake(struct ipc_ctx *ctx)
{
	(void)ctx;
}

void ipc__embed_before_wait(struct ipc_ctx *ctx)
{
	(void)ctx;
}

void ipc__embed_timer(struct ipc_ctx *ctx)
{
	(void)ctx;
}

void ipc__embed_sync(struct ipc_ctx *ctx)
{
	(void)ctx;
}

static int embed_open(struct ipc_ctx *ctx)
{
	(void)ctx;
	return -EOPNOTSUPP;
}

void ipc__embed_fini(struct ipc_ctx *ctx)
{
	(void)ctx;
}

#endif

IPC_EXPORT int ipc_context_fd(void *ctx_)
{
	struct ipc_ctx *ctx = ctx_;
	int fd, ret;

	ret = ipc__ctx_check(ctx);
	if (ret < 0)
		return ret;
	fd = ipc__backend_fd(ctx);
	if (fd < 0 || ctx->embed)
		return fd;
	ret = embed_open(ctx);
	return ret < 0 ? ret : fd;
}

IPC_EXPORT int ipc_wait_event_timeout(void *ctx, char *t, size_t *index,
				      int *originfd, int *newfd, char *buffer,
				      size_t *buflen, int timeout_ms)
{
	return ipc__wait_event(ctx, t, index, originfd, newfd, buffer, buflen,
			       timeout_ms < 0 ? -1 : timeout_ms);
}
