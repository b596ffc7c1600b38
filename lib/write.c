/*
 * Writing frames: queueing them and writing them out, backpressure, and
 * the public calls that send, ipc_schedule() and ipc_write().
 *
 * SPDX-License-Identifier: ISC
 *
 * Scheduled frames are packed into one buffer per connection and leave in
 * as few writes as the socket allows; large payloads leave straight from
 * the caller's buffer when nothing is queued before them.
 */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * write(2) on a pipe whose reader is gone raises SIGPIPE; block it for
 * the call and take back a SIGPIPE this write raised.
 */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec zero;
	sigset_t pipe_set, old, pending;
	ssize_t n;
	int err;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	err = errno;
	if (n < 0 && err == EPIPE && !sigismember(&pending, SIGPIPE))
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return n;
}

/* One write, never raising SIGPIPE; -errno on failure. */
ssize_t ipc__send(struct ipc_conn *c, const void *buf, size_t len)
{
	ssize_t n;

	do {
		if (c->flags & IPC_F_SOCKET)
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
		else
			n = write_nosigpipe(c->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int ipc__frame_queue(struct ipc_ctx *ctx, struct ipc_conn *c,
		     const char *payload, size_t len)
{
	struct ipc_buf *b = &c->out;
	int ret;

	ret = ipc__buf_reserve(ctx, b, IPC_HEADER + len);
	if (ret < 0)
		return ret;
	ipc__be32_put(b->data + b->len, (uint32_t)len);
	if (len)
		memcpy(b->data + b->len + IPC_HEADER, payload, len);
	b->len += IPC_HEADER + len;
	return 0;
}

/*
 * The fds leave with a sendmsg(2) that starts at the frame's header and
 * ends with the frame at the latest (see write_out()), so that the read
 * that brings them ends inside it (see fds.c).
 */
int ipc__frame_queue_fds(struct ipc_ctx *ctx, struct ipc_conn *c,
			 const char *payload, size_t len, struct ipc_fdmsg *m)
{
	size_t unsent = c->out.len - c->out.off - c->out_sent;
	int ret = ipc__fdq_reserve(&c->txq);

	if (!ret)
		ret = ipc__frame_queue(ctx, c, payload, len);
	if (ret < 0)
		return ret;
	m->at = c->tx_total + unsent;
	ipc__fdq_push(&c->txq, m);
	return 0;
}

/*
 * Sends the next @len bytes of the queue, and with them the fds of the
 * frame they start, if it carries some: then no byte after that frame.
 */
static ssize_t send_next(struct ipc_conn *c, const char *p, size_t *lenp)
{
	size_t len = *lenp;
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (char *)p };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct ipc_fdmsg *m = c->txq.count ? c->txq.v[0] : NULL;
	struct cmsghdr *cm;
	size_t flen;
	ssize_t n;

	if (!m)
		return ipc__send(c, p, len);
	if (m->at > c->tx_total) {
		if (m->at - c->tx_total < len)
			*lenp = len = (size_t)(m->at - c->tx_total);
		return ipc__send(c, p, len);
	}
	flen = IPC_HEADER + ipc__be32_get(p);
	*lenp = iov.iov_len = len < flen ? len : flen;
	msg.msg_control = control.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * m->n);
	memset(control.buf, 0, msg.msg_controllen);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * m->n);
	memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * m->n);
	do {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Sent with the frame's first byte: our duplicates go. */
	ipc__fdmsg_free(ipc__fdq_pop(&c->txq));
	return n;
}

/* Counts the frames written whole and drops them from the queue. */
static uint32_t out_complete(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	struct ipc_buf *b = &c->out;
	uint32_t done = 0;
	size_t flen;

	while (c->out_sent >= IPC_HEADER) {
		flen = IPC_HEADER + ipc__be32_get(b->data + b->off);
		if (c->out_sent < flen)
			break;
		b->off += flen;
		c->out_sent -= flen;
		done++;
	}
	ipc__buf_release(ctx, b);
	return done;
}

/*
 * Writes queued frames until the queue is empty (0) or the socket is full
 * (-EAGAIN); -errno when the peer is gone.  Frames written whole count as
 * pending TX events.
 */
static int write_out(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	struct ipc_buf *b = &c->out;
	size_t pending;
	ssize_t n;
	int ret = 0;

	while ((pending = b->len - b->off - c->out_sent) > 0) {
		size_t len = pending;

		n = send_next(c, b->data + b->off + c->out_sent, &len);
		if (n < 0) {
			ret = (int)n == -EWOULDBLOCK ? -EAGAIN : (int)n;
			break;
		}
		c->out_sent += (size_t)n;
		c->tx_total += (uint64_t)n;
		if (c->flags & (IPC_F_CLOSING | IPC_F_DRAIN))
			ipc__linger_progress(c);
		if ((size_t)n < len) {
			ret = -EAGAIN;
			break;
		}
	}
	if (c->out_sent)
		c->tx_pending += out_complete(ctx, c);
	return ret;
}

/*
 * The peer cannot take more bytes: drop what is queued, and read what it
 * sent before it went (up to the first read that would block, as a peer
 * that only shut down its reading side may never close); DISCONNECTION
 * follows.
 */
static void write_failed(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	ipc__out_drop(ctx, c);
	c->flags |= IPC_F_BROKEN;
}

/* Forgets what is queued for c: it will never be written. */
void ipc__out_drop(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	c->out_sent = 0;
	ipc__buf_drop(ctx, &c->out);
	ipc__fdq_clear(&c->txq);
}

static void set_pollout(struct ipc_ctx *ctx, struct ipc_conn *c, bool on)
{
	if (!!(c->flags & IPC_F_POLLOUT) == on)
		return;
	c->flags ^= IPC_F_POLLOUT;
	ipc__conn_watch(ctx, c);
}

/* Bytes queued for c and not written yet. */
static size_t out_queued(const struct ipc_conn *c)
{
	return c->out.len - c->out.off - c->out_sent;
}

/*
 * Whether c must not be read: it is switched and what it would forward is
 * still queued above the mark on the other side.  A connection is never
 * paused for its own queue: its peer may be a libipc program that pauses
 * by the same rule, and two such peers would wait for each other for good.
 * A direct connection's queue is bounded by ipc_schedule()'s -ENOBUFS.
 */
static bool throttled(struct ipc_ctx *ctx, const struct ipc_conn *c)
{
	return (c->flags & IPC_F_SWITCHED) &&
	       out_queued(&ctx->conns[c->peer]) > ctx->queue_high;
}

static void throttle_set(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	bool on = throttled(ctx, c);

	if (!!(c->flags & IPC_F_THROTTLED) == on)
		return;
	c->flags ^= IPC_F_THROTTLED;
	ipc__conn_watch(ctx, c);
}

/*
 * Backpressure: after c's queue changed (or c was switched or unlinked),
 * the connection whose reading fills that queue, c's switch peer, is read
 * only while the queue is at or below the mark.
 */
void ipc__throttle_check(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	struct ipc_conn *reader = c->flags & IPC_F_SWITCHED ?
				  &ctx->conns[c->peer] : c;

	/* The common case: nothing throttled, the queue under the mark. */
	if (!(reader->flags & IPC_F_THROTTLED) &&
	    (reader == c || out_queued(c) <= ctx->queue_high))
		return;
	throttle_set(ctx, reader);
}

/*
 * Whether to read now: readiness was reported (or a failed write asks to
 * read what is left) and c is not throttled.  A hang-up is read even then:
 * what is left in the socket is all there will ever be.
 */
bool ipc__may_read(const struct ipc_conn *c)
{
	if (c->flags & IPC_F_EOF)
		return false;
	if (c->revents & IPC_EV_HUP)
		return true;
	if (c->flags & IPC_F_THROTTLED)
		return false;
	return (c->revents & IPC_EV_IN) || (c->flags & IPC_F_BROKEN);
}

/* Writes what the socket takes now, and arranges for the rest. */
int ipc__flush(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	int ret = write_out(ctx, c);

	if (ret < 0 && ret != -EAGAIN)
		write_failed(ctx, c);
	set_pollout(ctx, c, ret == -EAGAIN);
	ipc__throttle_check(ctx, c);
	if (c->tx_pending || (c->flags & IPC_F_BROKEN))
		ipc__ready_push(ctx, ipc__slot_of(ctx, c));
	return ret;
}

void ipc__flush_dirty(struct ipc_ctx *ctx)
{
	uint32_t i;

	for (i = 0; i < ctx->dirty_count; i++) {
		struct ipc_conn *c = &ctx->conns[ctx->dirty[i]];

		c->flags &= ~IPC_F_DIRTY;
		if (c->kind != IPC_KIND_FREE && !(c->flags & IPC_F_POLLOUT))
			ipc__flush(ctx, c);
	}
	ctx->dirty_count = 0;
}

static int message_check(struct ipc_ctx *ctx, const char *mcontent,
			 size_t mlen)
{
	if (!mcontent && mlen)
		return -EINVAL;
	if (mlen > ctx->max_message)
		return -EMSGSIZE;
	return 0;
}

/*
 * The kernel's default socket buffer (about 200 KiB) splits a large
 * message into several rounds of wake-ups on both sides; a connection that
 * sends one gets a larger buffer, once.  What it may queue in all stays
 * bounded by ipc_context_queue_limits().
 */
void ipc__widen(struct ipc_conn *c, size_t len)
{
	int size = IPC_WIDE_SNDBUF;

	if (len < IPC_WIDE_FROM || (c->flags & (IPC_F_WIDE | IPC_F_SOCKET)) !=
	    IPC_F_SOCKET)
		return;
	c->flags |= IPC_F_WIDE;
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/*
 * A large message to a connection with nothing queued leaves straight from
 * the caller's buffer; only what the socket did not take is copied into
 * the queue.  If that copy cannot be made, the frame is already cut: the
 * connection is dropped as for a failed write.
 */
int ipc__schedule_direct(struct ipc_ctx *ctx, struct ipc_conn *c,
			 const char *payload, size_t len)
{
	char header[IPC_HEADER];
	struct iovec iov[2] = {
		{ .iov_base = header, .iov_len = IPC_HEADER },
		{ .iov_base = (char *)payload, .iov_len = len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	struct ipc_buf *b = &c->out;
	size_t skip;
	ssize_t n;

	ipc__be32_put(header, (uint32_t)len);
	do {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		goto failed;
	if (n < 0)
		n = 0;
	c->tx_total += (uint64_t)n;
	if ((size_t)n == IPC_HEADER + len) {
		c->tx_pending++;
		ipc__ready_push(ctx, ipc__slot_of(ctx, c));
		return 0;
	}
	if (ipc__buf_reserve(ctx, b, IPC_HEADER + len) < 0) {
		write_failed(ctx, c);
		ipc__ready_push(ctx, ipc__slot_of(ctx, c));
		return -ENOMEM;
	}
	/* The bytes already sent are accounted for but never copied. */
	skip = (size_t)n > IPC_HEADER ? (size_t)n - IPC_HEADER : 0;
	memcpy(b->data + b->len, header, IPC_HEADER);
	memcpy(b->data + b->len + IPC_HEADER + skip, payload + skip, len - skip);
	b->len += IPC_HEADER + len;
	c->out_sent = (size_t)n;
	set_pollout(ctx, c, true);
	ipc__throttle_check(ctx, c);
	return 0;
failed:
	write_failed(ctx, c);
	ipc__ready_push(ctx, ipc__slot_of(ctx, c));
	return 0;
}

/*
 * The checks ipc_schedule() and ipc_write() share: a stream connection of
 * the context, a valid message, and a peer that can still receive it.
 */
static int send_check(struct ipc_ctx *ctx, int fd, const char *mcontent,
		      size_t mlen, struct ipc_conn **c)
{
	int ret = ipc__stream_conn(ctx, fd, c);

	if (!ret)
		ret = message_check(ctx, mcontent, mlen);
	if (ret < 0)
		return ret;
	if ((*c)->flags & (IPC_F_EOF | IPC_F_BROKEN))
		return -EPIPE;
	return 0;
}

/* Room in c's queue for one more frame of @mlen bytes (-ENOBUFS). */
static int queue_room(struct ipc_ctx *ctx, struct ipc_conn *c, size_t mlen)
{
	size_t queued = out_queued(c);

	if (queued > ctx->queue_max ||
	    IPC_HEADER + mlen > ctx->queue_max - queued)
		return -ENOBUFS;
	return 0;
}

IPC_EXPORT int ipc_schedule(void *ctx_, int servicefd, const char *mcontent,
			    size_t mlen)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *c;
	int ret;

	ret = send_check(ctx, servicefd, mcontent, mlen, &c);
	if (!ret)
		ret = queue_room(ctx, c, mlen);
	if (ret < 0)
		return ret;
	ipc__widen(c, mlen);
	if (mlen >= IPC_DIRECT_FROM && c->out.len == c->out.off &&
	    !(c->flags & IPC_F_POLLOUT))
		return ipc__schedule_direct(ctx, c, mcontent, mlen);
	/* A full buffer goes out now; smaller batches wait for the loop. */
	if (c->out.cap - c->out.len < IPC_HEADER + mlen && c->out.data &&
	    !(c->flags & IPC_F_POLLOUT))
		ipc__flush(ctx, c);
	ret = ipc__frame_queue(ctx, c, mcontent, mlen);
	if (ret < 0)
		return ret;
	ipc__dirty_push(ctx, ipc__slot_of(ctx, c));
	ipc__throttle_check(ctx, c);
	return 0;
}

/* Close-on-exec duplicates of the caller's fds: -EINVAL for a bad one. */
static int fds_dup(const int *fds, size_t nfds, struct ipc_fdmsg **mp)
{
	struct ipc_fdmsg *m = ipc__fdmsg_new(NULL, (uint32_t)nfds);
	uint32_t i;
	int ret;

	if (!m)
		return -ENOMEM;
	for (i = 0; i < nfds; i++) {
		m->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (m->fds[i] < 0) {
			ret = errno == EBADF ? -EINVAL : -errno;
			m->n = i;
			ipc__fdmsg_free(m);
			return ret;
		}
	}
	*mp = m;
	return 0;
}

IPC_EXPORT int ipc_schedule_fds(void *ctx_, int servicefd,
				const char *mcontent, size_t mlen,
				const int *fds, size_t nfds)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_fdmsg *m = NULL;
	struct ipc_conn *c;
	int ret;

	if (!nfds)
		return ipc_schedule(ctx, servicefd, mcontent, mlen);
	ret = send_check(ctx, servicefd, mcontent, mlen, &c);
	if (ret < 0)
		return ret;
	if (!fds)
		return -EINVAL;
	if (nfds > IPC_FDS_MAX)
		return -E2BIG;
	if (!(c->flags & IPC_F_UNIX))
		return -EOPNOTSUPP;
	ret = queue_room(ctx, c, mlen);
	if (!ret)
		ret = fds_dup(fds, nfds, &m);
	if (ret < 0)
		return ret;
	ipc__widen(c, mlen);
	ret = ipc__frame_queue_fds(ctx, c, mcontent, mlen, m);
	if (ret < 0) {
		ipc__fdmsg_free(m);
		return ret;
	}
	ipc__dirty_push(ctx, ipc__slot_of(ctx, c));
	ipc__throttle_check(ctx, c);
	return 0;
}

/* Waits until fd is ready for events (POLLIN or POLLOUT). */
void ipc__wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
}

/* Writes all of iov, waiting while the socket is full. */
static int write_all(struct ipc_conn *c, struct iovec *iov, int iovcnt)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	while (msg.msg_iovlen) {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ipc__wait_fd(c->fd, POLLOUT);
			continue;
		}
		if (n < 0)
			return -errno;
		c->tx_total += (uint64_t)n;
		while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Writes everything already queued for c, waiting when needed. */
static int drain_queue(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	int ret;

	while ((ret = write_out(ctx, c)) == -EAGAIN)
		ipc__wait_fd(c->fd, POLLOUT);
	set_pollout(ctx, c, false);
	ipc__throttle_check(ctx, c);
	if (c->tx_pending)
		ipc__ready_push(ctx, ipc__slot_of(ctx, c));
	return ret;
}

IPC_EXPORT int ipc_write(void *ctx_, int servicefd, const char *mcontent,
			 size_t mlen)
{
	struct ipc_ctx *ctx = ctx_;
	char header[IPC_HEADER];
	struct iovec iov[2] = {
		{ .iov_base = header, .iov_len = IPC_HEADER },
		{ .iov_base = (char *)mcontent, .iov_len = mlen },
	};
	struct ipc_conn *c;
	int ret;

	ret = send_check(ctx, servicefd, mcontent, mlen, &c);
	if (ret < 0)
		return ret;
	ipc__be32_put(header, (uint32_t)mlen);
	ipc__widen(c, mlen);
	ret = drain_queue(ctx, c);
	if (!ret)
		ret = write_all(c, iov, mlen ? 2 : 1);
	if (ret < 0) {
		write_failed(ctx, c);
		ipc__ready_push(ctx, ipc__slot_of(ctx, c));
		return -EPIPE;
	}
	return 0;
}
