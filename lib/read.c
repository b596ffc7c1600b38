/*
 * Reading frames: growing the read buffer with what arrives, reading
 * into it, finding the frames in it, and the public calls that receive,
 * ipc_read() and ipc_read_fd().
 *
 * SPDX-License-Identifier: ISC
 *
 * A frame is a 4-byte big-endian payload length followed by the payload.
 * Reads take as much as the buffer has room for (at least half a chunk),
 * so one read usually holds many frames, handed out one per event without
 * another system call.
 */

#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bytes still missing from the frame at the start of the buffer, or 0. */
static size_t frame_missing(const struct ipc_buf *b)
{
	size_t live = b->len - b->off;

	if (live < IPC_HEADER)
		return 0;
	return (size_t)ipc__be32_get(b->data + b->off) + IPC_HEADER - live;
}

/*
 * Makes room in c->in for the next read: half a chunk, so one read holds
 * many small frames.  For a large frame the buffer grows
 * geometrically with the bytes that arrived (see ipc__buf_grow), never
 * past the frame's end: it stays under twice the bytes held plus a chunk
 * and the frame's size, never growing straight to the length a peer
 * announced, and it grows a few times per frame, not at every read.  The
 * read may fill all of b->cap - b->len.
 */
int ipc__in_reserve(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	struct ipc_buf *b = &c->in;
	size_t missing = frame_missing(b), room = IPC_CHUNK / 2;

	/* A grown buffer holding a large frame's tail needs room for the
	 * tail only: asking for more would grow it at every read. */
	if (b->cap > IPC_CHUNK && missing && missing < room)
		room = missing;
	return ipc__buf_reserve_most(ctx, b, room,
				     missing ? missing : SIZE_MAX);
}

/*
 * The buffer offset of the frame that holds the last byte of
 * data[b->off, b->len): the frame a read ending there brought fds for.
 */
static size_t last_frame_start(const struct ipc_buf *b)
{
	size_t pos = b->off, last = b->off;
	uint64_t end;

	while (pos < b->len) {
		last = pos;
		if (b->len - pos < IPC_HEADER)
			break;
		end = (uint64_t)pos + IPC_HEADER +
		      ipc__be32_get(b->data + pos);
		if (end >= b->len)
			break;
		pos = (size_t)end;
	}
	return last;
}

/*
 * Files the fds that came with the @n bytes just read at data[b->len]
 * under the frame they belong to: the frame that holds the read's last
 * byte, which must start in this read (a frame's fds come with its first
 * byte).  -EPROTO for fds that came in the middle of a frame or over the
 * bound; on failure, the fds are closed.
 */
static int rx_fds_file(struct ipc_ctx *ctx, struct ipc_conn *c,
		       const int *fds, uint32_t nfds, size_t n)
{
	struct ipc_buf *b = &c->in;
	struct ipc_fdmsg *m;
	size_t start, was = b->len;
	uint32_t i;

	b->len += n;
	start = last_frame_start(b);
	b->len = was;
	if (start < was || c->rxq.nfds + nfds > ctx->fd_limit ||
	    ipc__fdq_reserve(&c->rxq) < 0)
		goto refused;
	m = ipc__fdmsg_new(fds, nfds);
	if (!m)
		goto refused;
	m->at = c->rx_total + (start - was);
	ipc__fdq_push(&c->rxq, m);
	return 0;
refused:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	return -EPROTO;
}

/*
 * The fds of a control message: SCM_RIGHTS alone, whole.  Returns their
 * count and their address in *fds, or -EPROTO (any received are closed).
 */
static int rx_fds_parse(struct msghdr *msg, const int **fds)
{
	struct cmsghdr *cm;
	int count = 0, bad = 0;
	size_t k;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS && !count) {
			*fds = (const int *)(void *)CMSG_DATA(cm);
			count = (int)((cm->cmsg_len - CMSG_LEN(0)) /
				      sizeof(int));
			continue;
		}
		bad = 1;
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS)
			for (k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) /
				    sizeof(int); k++)
				close(((const int *)(void *)CMSG_DATA(cm))[k]);
	}
	if ((msg->msg_flags & MSG_CTRUNC) || bad) {
		for (k = 0; k < (size_t)count; k++)
			close((*fds)[k]);
		return -EPROTO;
	}
	return count;
}

/*
 * One read of up to @len bytes to @dst (c->in's free room, or the
 * caller's buffer when @landing) with the fds that come with them (a Unix
 * socket), room for no more fds than the connection's bound leaves: more
 * make MSG_CTRUNC, and the peer is dropped.  A landing frame's first byte
 * is already read, so fds with the bytes are in the middle of a frame.
 * Returns the byte count, 0 at end of stream, or -errno (-EPROTO for bad
 * fds, which are closed).
 */
static ssize_t rx_read(struct ipc_ctx *ctx, struct ipc_conn *c, char *dst,
		       size_t len, bool landing)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = dst, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t room = 0, k;
	const int *fds = NULL;
	ssize_t n;
	int nfds;

	if (!(c->flags & IPC_F_UNIX)) {
		do {
			n = read(c->fd, iov.iov_base, len);
		} while (n < 0 && errno == EINTR);
		return n < 0 ? -errno : n;
	}
	if (ctx->fd_limit > c->rxq.nfds)
		room = ctx->fd_limit - c->rxq.nfds;
	if (room > IPC_FDS_MAX)
		room = IPC_FDS_MAX;
	if (room) {
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_LEN(sizeof(int) * room);
	}
	do {
		n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	nfds = rx_fds_parse(&msg, &fds);
	if (nfds < 0)
		return nfds;
	if (nfds && landing) {
		for (k = 0; k < (size_t)nfds; k++)
			close(fds[k]);
		return -EPROTO;
	}
	if (nfds && (!n || rx_fds_file(ctx, c, fds, (uint32_t)nfds,
				       (size_t)n) < 0))
		return -EPROTO;
	c->rx_total += (uint64_t)n;
	return n;
}

/* Reads once into c->in; returns the byte count, 0 at end of stream or
 * -errno. */
ssize_t ipc__fill(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	struct ipc_buf *b = &c->in;
	ssize_t n;
	int ret;

	ret = ipc__in_reserve(ctx, c);
	if (ret < 0)
		return ret;
	n = rx_read(ctx, c, b->data + b->len, b->cap - b->len, false);
	if (n > 0) {
		b->len += (size_t)n;
		return n;
	}
	ipc__buf_release(ctx, b);
	return n;
}

/*
 * A large frame (IPC_DIRECT_FROM or more still to come) that does not
 * fit in c->in lands straight in the caller's buffer: the bytes held are
 * copied there once, and the rest is read in place, across as many waits
 * as it takes within this ipc_wait_event() call (ctx->landing).  When the
 * call must give the buffer up first (another connection's turn, a timer
 * tick, the call's end), the bytes go back to c->in (ipc__land_spill())
 * and the frame is assembled there as usual (IPC_F_ASSEMBLE): each byte
 * is copied at most twice more, and no buffer grows for a frame that
 * lands whole.
 */
static bool land_start(struct ipc_ctx *ctx, struct ipc_conn *c,
		       const struct ipc_event *ev)
{
	struct ipc_buf *b = &c->in;
	size_t missing = frame_missing(b), held;

	if (missing <= b->cap - b->len || missing < IPC_DIRECT_FROM ||
	    (c->flags & IPC_F_ASSEMBLE) || ctx->landing != IPC_NONE)
		return false;
	held = b->len - b->off - IPC_HEADER;
	if (!ev->buf || held + missing > ev->cap)
		return false;
	memcpy(ev->buf, b->data + b->off + IPC_HEADER, held);
	ctx->landing = ipc__slot_of(ctx, c);
	ctx->land_got = held;
	ctx->land_len = held + missing;
	ctx->land_at = ipc__frame_at(c);
	ctx->land_buf = ev->buf;
	ipc__buf_drop(ctx, b);
	return true;
}

/* The frame is whole in the caller's buffer: the message to report. */
static void land_done(struct ipc_ctx *ctx, struct ipc_conn *c,
		      struct ipc_event *ev)
{
	ctx->landing = IPC_NONE;
	ev->len = ctx->land_len;
	ipc__msg_fds_set(ctx, ipc__rx_fds_take(c, ctx->land_at));
}

/*
 * One read of c's landing frame, started here if it may land.  Returns 0
 * when c has no frame landing (read into c->in instead), 1 when the frame
 * is whole (ev->len and the message's fds are set), 2 when more is to
 * come or the stream ended (IPC_F_EOF, the frame lost with it).
 */
int ipc__land(struct ipc_ctx *ctx, struct ipc_conn *c, struct ipc_event *ev)
{
	size_t want;
	ssize_t n;

	if (ctx->landing != ipc__slot_of(ctx, c) && !land_start(ctx, c, ev))
		return 0;
	c->revents &= (uint8_t)~(IPC_EV_IN | IPC_EV_HUP);
	want = ctx->land_len - ctx->land_got;
	n = rx_read(ctx, c, ctx->land_buf + ctx->land_got, want, true);
	if (n > 0) {
		ctx->land_got += (size_t)n;
		if ((size_t)n == want) {
			land_done(ctx, c, ev);
			return 1;
		}
		/* A short read emptied the socket: wait before the next. */
		return 2;
	}
	if ((n == -EAGAIN || n == -EWOULDBLOCK) && !(c->flags & IPC_F_BROKEN))
		return 2;
	ctx->landing = IPC_NONE;
	c->flags |= IPC_F_EOF;
	return 2;
}

void ipc__land_spill(struct ipc_ctx *ctx)
{
	uint32_t slot = ctx->landing;
	struct ipc_conn *c = &ctx->conns[slot];
	struct ipc_buf *b = &c->in;
	size_t got = ctx->land_got;

	ctx->landing = IPC_NONE;
	c->flags |= IPC_F_ASSEMBLE;
	if (ipc__buf_grow(ctx, b, IPC_HEADER + got,
			  IPC_HEADER + ctx->land_len) < 0) {
		/* The frame cannot be kept: the connection ends. */
		c->flags |= IPC_F_EOF;
		ipc__ready_push(ctx, slot);
		return;
	}
	ipc__be32_put(b->data + b->len, (uint32_t)ctx->land_len);
	memcpy(b->data + b->len + IPC_HEADER, ctx->land_buf, got);
	b->len += IPC_HEADER + got;
	/* A peer that stalls keeps what it sent, not a chunk. */
	ipc__buf_shrink(ctx, b);
}

/*
 * Looks at the next frame: 1 when it is complete (payload and len set),
 * 0 when more bytes are needed, -EPROTO when its announced length is over
 * the context's maximum.
 */
int ipc__frame_peek(struct ipc_ctx *ctx, struct ipc_conn *c,
		    const char **payload, size_t *len)
{
	const struct ipc_buf *b = &c->in;
	size_t live = b->len - b->off;
	uint32_t flen;

	if (live < IPC_HEADER)
		return 0;
	flen = ipc__be32_get(b->data + b->off);
	if (flen > ctx->max_message)
		return -EPROTO;
	if (live - IPC_HEADER < flen)
		return 0;
	*payload = b->data + b->off + IPC_HEADER;
	*len = flen;
	return 1;
}

void ipc__frame_consume(struct ipc_ctx *ctx, struct ipc_conn *c, size_t len)
{
	struct ipc_buf *b = &c->in;

	b->off += IPC_HEADER + len;
	c->flags &= (uint16_t)~IPC_F_ASSEMBLE;
	if (b->off == b->len) {
		ipc__buf_release(ctx, b);
		return;
	}
	/* A buffer grown for large frames stays while the next is large. */
	if (b->cap > IPC_CHUNK &&
	    b->len - b->off + frame_missing(b) <= IPC_CHUNK)
		ipc__buf_release(ctx, b);
}

/* Copies the next frame out if it fits; -EMSGSIZE keeps it. */
static int frame_take(struct ipc_ctx *ctx, struct ipc_conn *c,
		      const char *payload, size_t len, char *buffer,
		      size_t *buflen)
{
	size_t cap = *buflen;

	*buflen = len;
	if (len > cap)
		return -EMSGSIZE;
	if (len)
		memcpy(buffer, payload, len);
	ipc__msg_fds_set(ctx, ipc__rx_fds_take(c, ipc__frame_at(c)));
	ipc__frame_consume(ctx, c, len);
	return 0;
}

/* The stream ended or broke: ipc_wait_event() reports it. */
static int read_ended(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	c->flags |= IPC_F_EOF;
	ipc__ready_push(ctx, ipc__slot_of(ctx, c));
	return -ECONNRESET;
}

static int read_message(struct ipc_ctx *ctx, struct ipc_conn *c,
			char *buffer, size_t *buflen)
{
	const char *payload;
	size_t len;
	ssize_t n;
	int ret;

	/* The last message's fds not taken are closed (ipc_message_fds()). */
	ipc__msg_fds_set(ctx, NULL);
	for (;;) {
		ret = ipc__frame_peek(ctx, c, &payload, &len);
		if (ret < 0)
			return read_ended(ctx, c);
		if (ret > 0)
			break;
		if (c->flags & IPC_F_EOF)
			return -ECONNRESET;
		n = ipc__fill(ctx, c);
		if ((n == -EAGAIN || n == -EWOULDBLOCK) &&
		    !(c->flags & IPC_F_BROKEN))
			ipc__wait_fd(c->fd, POLLIN);
		else if (n == -ENOMEM)
			return -ENOMEM;
		else if (n <= 0)
			return read_ended(ctx, c);
	}
	ret = frame_take(ctx, c, payload, len, buffer, buflen);
	/* Frames read along with this one are left for ipc_wait_event(). */
	if (c->in.len > c->in.off)
		ipc__ready_push(ctx, ipc__slot_of(ctx, c));
	return ret;
}

IPC_EXPORT int ipc_read_fd(void *ctx_, int fd, char *buffer, size_t *buflen)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *c;
	int ret;

	if (!buflen || (!buffer && *buflen))
		return -EINVAL;
	ret = ipc__stream_conn(ctx, fd, &c);
	if (ret < 0)
		return ret;
	return read_message(ctx, c, buffer, buflen);
}

IPC_EXPORT int ipc_read(void *ctx_, size_t index, char *buffer,
			size_t *buflen)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_conn *c;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	c = ipc__conn_by_slot(ctx, index);
	if (!c)
		return -EBADF;
	return ipc_read_fd(ctx, c->fd, buffer, buflen);
}

/* Hands a received message out through ipc_wait_event(). */
int ipc__frame_deliver(struct ipc_ctx *ctx, struct ipc_conn *c,
		       const char *payload, size_t len, struct ipc_event *ev)
{
	ev->len = ev->cap;
	return frame_take(ctx, c, payload, len, ev->buf, &ev->len);
}
