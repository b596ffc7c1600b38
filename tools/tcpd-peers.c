/*
 * ipc-tcpd: the log, small helpers, the table of peers in their handshake
 * and the error replies sent to them.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "tcpd.h"

/* ------------------------------------------------------------------ */
/* Log and small helpers                                                */
/* ------------------------------------------------------------------ */

/*
 * Everything ipc-tcpd says goes to stderr, one line per call, formatted
 * first so that it leaves in one write: lines of several daemons sharing
 * a terminal or a log do not mix.
 */
void log_line(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROGRAM ": %s\n", line);
}

/* A copy of @len bytes for the log, unprintable ones written as '?'. */
void printable(char *dst, size_t size, const char *src, size_t len)
{
	size_t i;

	if (len > size - 1)
		len = size - 1;
	for (i = 0; i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '?';
	dst[len] = '\0';
}

/* Small frames must leave at once; a dead peer must be noticed. */
void tune_tcp(int fd)
{
	int one = 1;

	/* Failures only cost latency or liveness detection: not fatal. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

/* The peer's address as HOST:PORT in @buf, its HOST alone in @host. */
void addr_text(const struct sockaddr *sa, socklen_t len, char *buf,
	       size_t size, char *host, size_t hsize)
{
	char port[8];

	if (getnameinfo(sa, len, host, (socklen_t)hsize, port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, hsize, "?");
		snprintf(buf, size, "?");
	} else if (sa->sa_family == AF_INET6) {
		snprintf(buf, size, "[%s]:%s", host, port);
	} else {
		snprintf(buf, size, "%s:%s", host, port);
	}
}

/*
 * Resolves HOST:PORT with getaddrinfo(3), as a numeric address only when
 * @numeric (which never blocks), else numeric first, then as a name
 * (which may block: never in the event loop).  0 or an EAI_* code.
 */
int resolve(const char *host, uint16_t port, int flags, bool numeric,
	    struct addrinfo **res)
{
	struct addrinfo hints;
	char service[8];
	int ret;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags | AI_NUMERICSERV | AI_NUMERICHOST;
	snprintf(service, sizeof(service), "%u", (unsigned int)port);
	ret = getaddrinfo(host, service, &hints, res);
	if (ret == EAI_NONAME && !numeric) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		ret = getaddrinfo(host, service, &hints, res);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Peers in handshake                                                   */
/* ------------------------------------------------------------------ */

struct peer *peer_get(const struct tcpd *d, int fd)
{
	if (fd < 0 || (size_t)fd >= d->npeers)
		return NULL;
	return d->peers[fd];
}

static int peer_table_grow(struct tcpd *d, int fd)
{
	size_t n = d->npeers ? d->npeers : 64;
	struct peer **p;

	while ((size_t)fd >= n)
		n *= 2;
	if (n == d->npeers)
		return 0;
	p = realloc(d->peers, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + d->npeers, 0, (n - d->npeers) * sizeof(*p));
	d->peers = p;
	d->npeers = n;
	return 0;
}

/*
 * The timer runs only while some handshake has a time limit to check,
 * and faster while some inbound connection waits for a full backlog.
 * It is set only when its period changes (setting it restarts it).
 */
void timer_update(struct tcpd *d)
{
	unsigned int ms = d->inflight ? d->tick_ms : 0;

	if (d->nlocal && ms > LOCAL_RETRY_MS)
		ms = LOCAL_RETRY_MS;
	if (ms != d->timer_ms) {
		d->timer_ms = ms;
		ipc_context_timer(d->ctx, (int)ms);
	}
}

/* Inbound handshakes are listed in accept order: the oldest is shed. */
static void inbound_link(struct tcpd *d, int fd)
{
	struct peer *p = d->peers[fd];

	p->older = d->newest;
	p->newer = -1;
	if (d->newest >= 0)
		d->peers[d->newest]->newer = fd;
	else
		d->oldest = fd;
	d->newest = fd;
	d->ninbound++;
}

static void inbound_unlink(struct tcpd *d, int fd)
{
	struct peer *p = d->peers[fd];

	if (p->older >= 0)
		d->peers[p->older]->newer = p->newer;
	else
		d->oldest = p->newer;
	if (p->newer >= 0)
		d->peers[p->newer]->older = p->older;
	else
		d->newest = p->older;
	d->ninbound--;
}

static bool is_inbound(const struct peer *p)
{
	return p->state == PEER_INBOUND || p->state == PEER_LOCAL;
}

/* @fd starts its handshake in @state, with the time limit from now. */
int peer_start(struct tcpd *d, int fd, enum peer_state state)
{
	struct peer *p;
	int ret = peer_table_grow(d, fd);

	if (ret < 0)
		return ret;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->state = state;
	p->other = -1;
	p->older = -1;
	p->newer = -1;
	p->deadline_ms = daemon_now_ms() + d->opt.timeout_ms;
	handshake_reader_init(&p->reader, p->frame, sizeof(p->frame));
	d->peers[fd] = p;
	if (is_inbound(p))
		inbound_link(d, fd);
	d->inflight++;
	timer_update(d);
	return 0;
}

/* @fd's handshake is over (switched or closed): forget it. */
void peer_end(struct tcpd *d, int fd)
{
	struct peer *p = peer_get(d, fd);

	if (!p)
		return;
	if (is_inbound(p))
		inbound_unlink(d, fd);
	if (p->state == PEER_LOCAL)
		d->nlocal--;
	d->peers[fd] = NULL;
	free(p);
	d->inflight--;
	timer_update(d);
}

/*
 * Closes an fd in handshake: the TCP fds that are not switched yet are
 * ours (in our epoll, or in none), the others the context's.
 */
void peer_close(struct tcpd *d, int fd)
{
	struct peer *p = peer_get(d, fd);
	bool ours = p && (is_inbound(p) || p->state == PEER_CONNECTING);

	peer_end(d, fd);
	if (ours) {
		epoll_ctl(d->watchfd, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
	} else {
		ipc_close_fd(d->ctx, fd);
	}
}

/* ------------------------------------------------------------------ */
/* Error replies                                                        */
/* ------------------------------------------------------------------ */

/*
 * Discards the input already received, so that closing the socket right
 * after the error reply sends a FIN, not an RST (which may destroy the
 * reply before the peer reads it).
 */
static void drain_input(int fd)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (total < DRAIN_MAX) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

/* Sends "error ENAME TEXT" on a TCP socket in handshake, best effort. */
void tcp_send_error(int fd, int err, const char *text)
{
	char reply[128];
	int len = ipc__reply_format(reply, sizeof(reply), err, text);

	drain_input(fd);
	if (len > 0)
		(void)handshake_send(fd, reply, (size_t)len, -1);
}

/* Queues "error ENAME TEXT" for a client of our service, best effort. */
void ipc_send_error(struct tcpd *d, int fd, int err, const char *text)
{
	char reply[128];
	int len = ipc__reply_format(reply, sizeof(reply), err, text);

	/* Closing gives it one write attempt: the socket takes it whole. */
	if (len > 0)
		(void)ipc_schedule(d->ctx, fd, reply, (size_t)len);
}
