/*
 * Handshake I/O of ipcd and ipc-tcpd: see handshake.h.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include "handshake.h"

#include "be32.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define HEADER 4

void handshake_reader_init(struct handshake_reader *r, char *buf, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->max = max;
	r->passfd = -1;
}

/* Where the next byte goes and how many may come: never past the frame. */
static size_t reader_room(struct handshake_reader *r, char **dst)
{
	if (r->got < HEADER) {
		*dst = (char *)r->header + r->got;
		return HEADER - r->got;
	}
	*dst = r->buf + (r->got - HEADER);
	return r->len - (r->got - HEADER);
}

/* The header is whole: check the length, maybe finish at once. */
static int reader_header_done(struct handshake_reader *r)
{
	uint32_t len = ipc__be32_get((const char *)r->header);

	if (len > r->max)
		return -EMSGSIZE;
	r->len = len;
	return len == 0 ? 1 : 0;
}

/*
 * Takes the fds of @msg's control messages: the first one into r->passfd,
 * any other closed.  0, or -EPROTO when it was not exactly one fd.
 */
static int reader_take_fds(struct handshake_reader *r, struct msghdr *msg)
{
	struct cmsghdr *cmsg;
	int ret = msg->msg_flags & MSG_CTRUNC ? -EPROTO : 0;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		size_t i, n;
		int fd;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS) {
			ret = -EPROTO;
			continue;
		}
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			       sizeof(int));
			if (r->passfd < 0) {
				r->passfd = fd;
			} else {
				close(fd);
				ret = -EPROTO;
			}
		}
	}
	return ret;
}

/* One read(2), or recvmsg(2) taking the fds when @fds. */
static ssize_t reader_recv(int fd, struct handshake_reader *r, char *dst,
			   size_t room, bool fds, int *fd_error)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { dst, room };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (!fds)
		return read(fd, dst, room);
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n >= 0 && msg.msg_controllen > 0) {
		int ret = reader_take_fds(r, &msg);

		if (ret < 0)
			*fd_error = ret;
	}
	return n;
}

static int reader_run(int fd, struct handshake_reader *r, bool fds)
{
	char *dst;
	size_t room;
	ssize_t n;
	int fd_error = 0;

	while (!r->result) {
		room = reader_room(r, &dst);
		do {
			n = reader_recv(fd, r, dst, room, fds, &fd_error);
		} while (n < 0 && errno == EINTR);
		if (fd_error) {
			r->result = fd_error;
			break;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			r->result = -errno;
			break;
		}
		if (n == 0) {
			r->result = -ECONNRESET;
			break;
		}
		r->got += (size_t)n;
		if (r->got == HEADER)
			r->result = reader_header_done(r);
		else if (r->got > HEADER && r->got - HEADER == r->len)
			r->result = 1;
	}
	return r->result;
}

int handshake_read(int fd, struct handshake_reader *r)
{
	return reader_run(fd, r, false);
}

int handshake_read_fd(int fd, struct handshake_reader *r)
{
	return reader_run(fd, r, true);
}

int handshake_send(int fd, const char *payload, size_t len, int passfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	char header[HEADER];
	struct iovec iov[2];
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	if (len > HANDSHAKE_SEND_MAX)
		return -EMSGSIZE;
	ipc__be32_put(header, (uint32_t)len);
	iov[0].iov_base = header;
	iov[0].iov_len = HEADER;
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (passfd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &passfd, sizeof(int));
	}
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == HEADER + len ? 0 : -EAGAIN;
}
