/*
 * Handshake I/O of ipcd and ipc-tcpd: see handshake.h.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include "handshake.h"

#include "be32.h"

#include <errno.h>
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

int handshake_read(int fd, struct handshake_reader *r)
{
	char *dst;
	size_t room;
	ssize_t n;

	while (!r->result) {
		room = reader_room(r, &dst);
		do {
			n = read(fd, dst, room);
		} while (n < 0 && errno == EINTR);
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
