/*
 * The client's side of IPC_NETWORK (doc/network.md, section 1): asking
 * ipcd, the local service "ipc", for a connection to a routed service.
 *
 * SPDX-License-Identifier: ISC
 *
 * Everything here is bounded by one deadline (IPC_LOOKUP_TIMEOUT_MS,
 * 15 s by default): the connect to ipcd, the lookup's send and the reply.
 * The reply is read with recvmsg(2) to its last byte and never further;
 * the fd comes in an SCM_RIGHTS message with its first byte.  Any other
 * fd that arrives is closed, so a confused or hostile ipcd cannot leave
 * fds behind in the client.
 */

#include "internal.h"
#include "network.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define LOOKUP_TIMEOUT_MS 15000
#define LOOKUP_TIMEOUT_MAX_MS (3600 * 1000)
/* Largest lookup payload ipcd reads. */
#define LOOKUP_MAX (64 * 1024)
/* Largest reply we take: "error ENAME TEXT" is short. */
#define REPLY_MAX 1024
/* Room for fds a peer should not send, so that all of them get closed. */
#define LOOKUP_FDS_ROOM 16
/* Pause between connects while ipcd's backlog is full. */
#define BACKLOG_RETRY_MS 10

static const char ipcd_name[] = "ipc";

struct lookup {
	int sock;		/* our connection to ipcd */
	int fd;			/* the fd received, or -1 */
	bool bad;		/* more fds, or other control data, arrived */
	uint64_t deadline;	/* monotonic ns */
};

/* IPC_LOOKUP_TIMEOUT_MS: 1 to LOOKUP_TIMEOUT_MAX_MS, else the default. */
static uint64_t timeout_ns(void)
{
	const char *env = secure_getenv("IPC_LOOKUP_TIMEOUT_MS");
	unsigned long ms = 0;
	const char *p;

	if (!env || !*env)
		return LOOKUP_TIMEOUT_MS * 1000000ull;
	for (p = env; *p >= '0' && *p <= '9' && ms <= LOOKUP_TIMEOUT_MAX_MS;
	     p++)
		ms = ms * 10 + (unsigned long)(*p - '0');
	if (*p || ms == 0 || ms > LOOKUP_TIMEOUT_MAX_MS)
		ms = LOOKUP_TIMEOUT_MS;
	return ms * 1000000ull;
}

/* Milliseconds left before the deadline, rounded up; 0 once passed. */
static int remaining_ms(const struct lookup *l)
{
	return ipc__ms_until(l->deadline, ipc__now());
}

/* Waits for @events on our socket: 0, or -ETIMEDOUT. */
static int lookup_wait(const struct lookup *l, short events)
{
	struct pollfd p = { .fd = l->sock, .events = events };
	int ms, n;

	for (;;) {
		ms = remaining_ms(l);
		if (!ms)
			return -ETIMEDOUT;
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * Connects to ipcd: 1 when connected, 0 when ipcd cannot be reached (no
 * run directory, no socket, nobody listening: the local path is taken),
 * -ETIMEDOUT when its backlog stayed full until the deadline.
 */
static int ipcd_connect(struct lookup *l)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *path;
	int ms;

	if (ipc__service_path(ipcd_name, sizeof(ipcd_name) - 1, false,
			      &path) < 0)
		return 0;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	free(path);
	l->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0);
	if (l->sock < 0)
		return -errno;
	/* A non-blocking connect to a Unix socket completes at once. */
	while (connect(l->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* EISCONN: a connect interrupted by a signal completed. */
		if (errno == EISCONN)
			break;
		if (errno != EAGAIN && errno != EINTR)
			return 0;
		ms = remaining_ms(l);
		if (!ms)
			return -ETIMEDOUT;
		poll(NULL, 0, ms < BACKLOG_RETRY_MS ? ms : BACKLOG_RETRY_MS);
	}
	return 1;
}

/* Sends the lookup frame, NAME;RULES, whole. */
static int lookup_send(struct lookup *l, const char *name, size_t len,
		       const char *rules, size_t rules_len)
{
	size_t total = IPC_HEADER + len + 1 + rules_len, off = 0;
	char *frame = malloc(total);
	ssize_t n;
	int ret = 0;

	if (!frame)
		return -ENOMEM;
	ipc__be32_put(frame, (uint32_t)(total - IPC_HEADER));
	memcpy(frame + IPC_HEADER, name, len);
	frame[IPC_HEADER + len] = ';';
	memcpy(frame + IPC_HEADER + len + 1, rules, rules_len);
	while (off < total && !ret) {
		n = send(l->sock, frame + off, total - off, MSG_NOSIGNAL);
		if (n >= 0)
			off += (size_t)n;
		else if (errno == EPIPE || errno == ECONNRESET)
			ret = -EPROTO;
		else if (errno == EAGAIN || errno == EINTR)
			ret = lookup_wait(l, POLLOUT);
		else
			ret = -errno;
	}
	free(frame);
	return ret;
}

/* Keeps the first fd received, closes any other; notes anything odd. */
static void fds_take(struct lookup *l, struct msghdr *msg)
{
	struct cmsghdr *cmsg;
	size_t i, n;
	int fd;

	if (msg->msg_flags & MSG_CTRUNC)
		l->bad = true;
	for (cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS) {
			l->bad = true;
			continue;
		}
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			       sizeof(int));
			if (l->fd < 0 && !l->bad) {
				l->fd = fd;
				continue;
			}
			close(fd);
			l->bad = true;
		}
	}
}

/* One recvmsg(2) of at most @room bytes: the count, or a negative errno. */
static ssize_t reply_recv_some(struct lookup *l, char *dst, size_t room)
{
	union {
		char buf[CMSG_SPACE(LOOKUP_FDS_ROOM * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { dst, room };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	int ret;

	for (;;) {
		n = recvmsg(l->sock, &msg, MSG_CMSG_CLOEXEC);
		if (n >= 0)
			break;
		if (errno == ECONNRESET)
			return -EPROTO;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = lookup_wait(l, POLLIN);
		if (ret < 0)
			return ret;
	}
	fds_take(l, &msg);
	return n ? n : -EPROTO;
}

/* Reads the reply frame, and not a byte more, into buf[REPLY_MAX]. */
static int reply_recv(struct lookup *l, char *buf, size_t *len)
{
	char header[IPC_HEADER];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(header)) {
		n = reply_recv_some(l, header + got, sizeof(header) - got);
		if (n < 0)
			return (int)n;
		got += (size_t)n;
	}
	*len = ipc__be32_get(header);
	if (*len > REPLY_MAX)
		return -EPROTO;
	for (got = 0; got < *len; got += (size_t)n) {
		n = reply_recv_some(l, buf + got, *len - got);
		if (n < 0)
			return (int)n;
	}
	return 0;
}

/* The fd must be a connected stream socket, which we make non-blocking. */
static int fd_check(int fd)
{
	socklen_t tlen = sizeof(int);
	int type, flags;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
	    type != SOCK_STREAM)
		return -EPROTO;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Asks ipcd: 1 with l->fd, or a negative errno (l->fd left to close). */
static int lookup_run(struct lookup *l, const char *name, size_t len,
		      const char *rules, size_t rules_len)
{
	char reply[REPLY_MAX];
	size_t rlen = 0;
	int ret;

	ret = lookup_send(l, name, len, rules, rules_len);
	if (!ret)
		ret = reply_recv(l, reply, &rlen);
	if (ret < 0)
		return ret;
	ret = ipc__reply_parse(reply, rlen, NULL);
	if (ret < 0)
		return ret;
	if (l->fd < 0 || l->bad)
		return -EPROTO;
	ret = fd_check(l->fd);
	return ret < 0 ? ret : 1;
}

int ipc__lookup(const char *name, uint16_t len, int *fdp)
{
	const char *rules = secure_getenv("IPC_NETWORK");
	struct lookup l = { .sock = -1, .fd = -1 };
	struct ipc_span uri;
	size_t rules_len;
	int ret;

	if (!rules || !*rules || !ipc__service_name_ok(name, len) ||
	    (len == sizeof(ipcd_name) - 1 && !memcmp(name, ipcd_name, len)))
		return 0;
	rules_len = strlen(rules);
	if (!ipc__route_find(rules, rules_len, name, len, &uri))
		return 0;
	if (rules_len > (size_t)LOOKUP_MAX - 1 - len)
		return -EMSGSIZE;
	l.deadline = ipc__now() + timeout_ns();
	ret = ipcd_connect(&l);
	if (ret > 0)
		ret = lookup_run(&l, name, len, rules, rules_len);
	if (l.sock >= 0)
		close(l.sock);
	if (ret > 0)
		*fdp = l.fd;
	else if (l.fd >= 0)
		close(l.fd);
	return ret;
}
