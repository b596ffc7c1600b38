/*
 * ipc-tcpd - the TCP protocol service of libipc.
 *
 * Usage: ipc-tcpd [--listen ADDR:PORT] [--allow SERVICE]... [OPTION]...
 *
 * Relays libipc connections between machines (doc/network.md, ipc-tcpd(8)):
 * - inbound, a remote ipc-tcpd connects over TCP and names a local service;
 *   when the allow-list has it, ipc-tcpd connects to it and switches the
 *   TCP connection with it;
 * - outbound, a local client (ipcd) of the libipc service "tcp" sends a
 *   URI tcp://HOST:PORT/SERVICE; ipc-tcpd connects to HOST:PORT, asks the
 *   remote ipc-tcpd for SERVICE and switches the client's connection with
 *   the TCP connection.
 * Once switched, libipc relays the frames untouched (ipc_add_switch()).
 * Everything runs in one event loop and nothing in it blocks: TCP sockets
 * in their handshake are watched by an epoll instance of ours that is
 * itself an external fd of the context (a connect completes with
 * writability, which external fds do not report, and a socket must be
 * able to stop being watched without being closed); they become external
 * fds of the context when they are switched.  The connection to a local
 * service whose backlog is full is tried again at timer ticks until the
 * handshake's time limit; host names are resolved by short-lived threads
 * that report through a pipe; signals arrive through a signalfd; time
 * limits are checked at the context's timer ticks.
 *
 * Against a flood of idle peers: at most --max-handshakes TCP connections
 * in handshake, at most --max-per-source from one address, and FD_RESERVE
 * fds kept free for relays and local clients; past a limit, the oldest
 * handshake (of that address, or of all) is shed.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "handshake.h"
#include "network.h"

#define PROGRAM "ipc-tcpd"
#define DEFAULT_LISTEN "127.0.0.1:9000"
#define DEFAULT_SERVICE "tcp"
#define LISTEN_ENV "IPC_TCPD_LISTEN"
/* doc/network.md: a handshake completes within 5 s. */
#define DEFAULT_TIMEOUT_MS 5000
/* doc/network.md section 3: a request frame announces at most 4 KiB. */
#define REQUEST_MAX 4096
#define CONNECT_PREFIX "connect "
/* Room for bursts of connections: the kernel drops the SYNs past it. */
#define LISTEN_BACKLOG 4096
/* Text form of a numeric host (IPv6 with a zone), and of host and port. */
#define ADDR_HOST 64
#define ADDR_TEXT (ADDR_HOST + 10)
/* Bytes of pending input discarded before an error reply is sent. */
#define DRAIN_MAX (64 * 1024)
/* Accepts per wake-up of the listener, so that other peers get a turn. */
#define ACCEPT_BATCH 64
/* Ready handshake sockets (our epoll) handled per wake-up. */
#define WATCH_BATCH 64
/* Handshakes in progress, overall and from one address (options). */
#define DEFAULT_MAX_HANDSHAKES 256
#define DEFAULT_MAX_PER_SOURCE 32
/* Largest value of these options. */
#define COUNT_MAX 1000000
/*
 * File descriptors kept free for established relays, local clients and
 * the connections to local services: an accepted TCP connection that
 * leaves fewer free sheds the oldest handshake.
 */
#define FD_RESERVE 64
/* Period of the attempts to reach a local service whose backlog is full. */
#define LOCAL_RETRY_MS 20
/* Host names being resolved at once (threads). */
#define RESOLVERS_MAX 16
/* Text of an error reply passed on from a remote ipc-tcpd, NUL included. */
#define REPLY_TEXT_MAX 96
/* A log line, longer ones cut (a URI may be 4 KiB). */
#define LOG_LINE_MAX 512

/* What an fd of ours is doing during its handshake. */
enum peer_state {
	PEER_INBOUND,		/* accepted TCP: reading its request */
	PEER_LOCAL,		/* accepted TCP: its service's backlog full */
	PEER_REQUESTER,		/* our client: reading its URI */
	PEER_RESOLVING,		/* requester: its host being resolved */
	PEER_WAITING,		/* requester: waiting for its TCP side */
	PEER_CONNECTING,	/* outbound TCP: connect(2) in progress */
	PEER_REPLY,		/* outbound TCP: reading the reply */
};

struct resolve_job;

/* An fd in its handshake; forgotten once it is switched or closed. */
struct peer {
	enum peer_state state;
	int other;		/* requester <-> its TCP side, or -1 */
	int older, newer;	/* inbound: the list in accept order, or -1 */
	uint64_t deadline_ms;	/* handshake time limit (monotonic) */
	struct resolve_job *job;	/* resolving: its name lookup */
	struct handshake_reader reader;	/* TCP: the frame being read */
	char frame[REQUEST_MAX];	/* its payload */
	char addr[ADDR_TEXT];	/* inbound: the remote address (log) */
	char source[ADDR_HOST];	/* inbound: the remote host (limits) */
	char name[IPC_NET_NAME_MAX + 1]; /* local: the service asked for */
	size_t name_len;
	char uri[REQUEST_MAX + 1]; /* requester: the URI asked for */
};

/*
 * A host name resolved by a thread of its own: getaddrinfo(3) may take
 * as long as the resolver likes, the loop never waits for it.  The thread
 * writes the job's address to the pipe when done; the loop then uses the
 * result if the requester is still waiting for it (its peer points to the
 * job), and frees the job in any case.
 */
struct resolve_job {
	int requester;		/* the fd of the requester that asked */
	int notify;		/* write end of the daemon's pipe */
	int ret;		/* getaddrinfo(3)'s result */
	struct addrinfo *res;
	uint16_t port;
	char host[NI_MAXHOST];
};

struct options {
	const char *listen;
	const char *service;
	char **allow;		/* service names reachable from outside */
	size_t nallow;
	unsigned int timeout_ms;
	unsigned int max_handshakes;	/* inbound, overall */
	unsigned int max_per_source;	/* inbound, from one address */
};

struct tcpd {
	struct options opt;
	void *ctx;
	int listenfd;		/* TCP listener (external fd) */
	int signalfd;		/* SIGTERM, SIGINT (external fd) */
	int watchfd;		/* epoll of TCP fds in handshake */
	int resolved[2];	/* pipe of finished name lookups */
	int sparefd;		/* spent to refuse a client, out of fds */
	struct peer **peers;	/* by fd; NULL when not in handshake */
	size_t npeers;
	unsigned int inflight;	/* peers in handshake */
	int oldest, newest;	/* inbound handshakes, in accept order */
	unsigned int ninbound;
	unsigned int nlocal;	/* inbound waiting for a full backlog */
	unsigned int nresolving;	/* resolver threads not reported yet */
	unsigned int tick_ms;	/* timer period while there are any */
	unsigned int timer_ms;	/* the period set now, 0: off */
	bool stop;
};

/* ------------------------------------------------------------------ */
/* Log and small helpers                                                */
/* ------------------------------------------------------------------ */

static void log_line(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * Everything ipc-tcpd says goes to stderr, one line per call, formatted
 * first so that it leaves in one write: lines of several daemons sharing
 * a terminal or a log do not mix.
 */
static void log_line(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROGRAM ": %s\n", line);
}

/* A copy of @len bytes for the log, unprintable ones written as '?'. */
static void printable(char *dst, size_t size, const char *src, size_t len)
{
	size_t i;

	if (len > size - 1)
		len = size - 1;
	for (i = 0; i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '?';
	dst[len] = '\0';
}

/* Small frames must leave at once; a dead peer must be noticed. */
static void tune_tcp(int fd)
{
	int one = 1;

	/* Failures only cost latency or liveness detection: not fatal. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

/* The peer's address as HOST:PORT in @buf, its HOST alone in @host. */
static void addr_text(const struct sockaddr *sa, socklen_t len, char *buf,
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
static int resolve(const char *host, uint16_t port, int flags, bool numeric,
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

static struct peer *peer_get(const struct tcpd *d, int fd)
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
static void timer_update(struct tcpd *d)
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
static int peer_start(struct tcpd *d, int fd, enum peer_state state)
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
static void peer_end(struct tcpd *d, int fd)
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
static void peer_close(struct tcpd *d, int fd)
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
static void tcp_send_error(int fd, int err, const char *text)
{
	char reply[128];
	int len = ipc__reply_format(reply, sizeof(reply), err, text);

	drain_input(fd);
	if (len > 0)
		(void)handshake_send(fd, reply, (size_t)len, -1);
}

/* Queues "error ENAME TEXT" for a client of our service, best effort. */
static void ipc_send_error(struct tcpd *d, int fd, int err, const char *text)
{
	char reply[128];
	int len = ipc__reply_format(reply, sizeof(reply), err, text);

	/* Closing gives it one write attempt: the socket takes it whole. */
	if (len > 0)
		(void)ipc_schedule(d->ctx, fd, reply, (size_t)len);
}

/* ------------------------------------------------------------------ */
/* Inbound: a remote ipc-tcpd asks for a local service                  */
/* ------------------------------------------------------------------ */

static void inbound_refuse(struct tcpd *d, int fd, int err, const char *text,
			   const char *service)
{
	log_line("in %s%s%s: refused: %s %s", d->peers[fd]->addr,
		 service ? " -> " : "", service ? service : "",
		 ipc__errno_name(err), text);
	tcp_send_error(fd, err, text);
	peer_close(d, fd);
}

static bool allowed(const struct tcpd *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->opt.nallow; i++)
		if (strcmp(d->opt.allow[i], name) == 0)
			return true;
	return false;
}

/*
 * Switches the inbound TCP connection @fd with @localfd, its connection
 * to the local service, after the reply "ok".  Both become external fds
 * of the context: the switch relays their bytes from then on.
 */
static void inbound_switch(struct tcpd *d, int fd, int localfd)
{
	char shown[IPC_NET_NAME_MAX + 1], addr[ADDR_TEXT];
	int ret;

	printable(shown, sizeof(shown), d->peers[fd]->name,
		  d->peers[fd]->name_len);
	memcpy(addr, d->peers[fd]->addr, sizeof(addr));
	epoll_ctl(d->watchfd, EPOLL_CTL_DEL, fd, NULL);
	ret = ipc_add_external(d->ctx, localfd);
	if (ret < 0) {
		close(localfd);
		localfd = -1;
	}
	if (ret == 0)
		ret = handshake_send(fd, "ok", 2, -1);
	if (ret == 0) {
		ret = ipc_add_external(d->ctx, fd);
		if (ret == 0) {
			peer_end(d, fd);
			ret = ipc_add_switch(d->ctx, fd, localfd);
			if (ret < 0)
				ipc_close_fd(d->ctx, fd);
		}
	}
	if (ret < 0) {
		log_line("in %s -> %s: dropped: %s", addr, shown,
			 strerror(-ret));
		if (localfd >= 0)
			ipc_close_fd(d->ctx, localfd);
		if (peer_get(d, fd))
			peer_close(d, fd);
		return;
	}
	log_line("in %s -> %s: ok", addr, shown);
}

/*
 * Tries to connect inbound @fd to its local service, without blocking.
 * Switched, refused, or (the backlog is full) waiting for the next try.
 */
static void inbound_local_try(struct tcpd *d, int fd)
{
	struct peer *p = d->peers[fd];
	char shown[IPC_NET_NAME_MAX + 1];
	int localfd, ret;

	ret = daemon_local_connect(p->name, p->name_len, &localfd);
	if (ret == 0) {
		inbound_switch(d, fd, localfd);
		return;
	}
	if (ret == -EAGAIN) {
		if (p->state != PEER_LOCAL) {
			/* Its input waits unread: stop watching it. */
			epoll_ctl(d->watchfd, EPOLL_CTL_DEL, fd, NULL);
			p->state = PEER_LOCAL;
			d->nlocal++;
			timer_update(d);
		}
		return;
	}
	printable(shown, sizeof(shown), p->name, p->name_len);
	inbound_refuse(d, fd, -ret, ret == -ENOENT ? "no such service" :
		       strerror(-ret), shown);
}

/*
 * The request "connect SERVICE" is whole: check it, connect to the local
 * service, reply "ok" and switch the TCP connection with it.
 */
static void inbound_request(struct tcpd *d, int fd, const char *req,
			    size_t len)
{
	const size_t plen = strlen(CONNECT_PREFIX);
	struct peer *p = d->peers[fd];
	char shown[IPC_NET_NAME_MAX + 1];

	if (len <= plen || memcmp(req, CONNECT_PREFIX, plen) != 0 ||
	    !ipc__service_name_ok(req + plen, len - plen)) {
		inbound_refuse(d, fd, EPROTO, "bad request", NULL);
		return;
	}
	memcpy(p->name, req + plen, len - plen);
	p->name[len - plen] = '\0';
	p->name_len = len - plen;
	if (!allowed(d, p->name)) {
		/* A name may hold any byte but '/' and NUL: not in the log. */
		printable(shown, sizeof(shown), p->name, p->name_len);
		inbound_refuse(d, fd, EACCES, "not allowed", shown);
		return;
	}
	inbound_local_try(d, fd);
}

/*
 * Reads more of the request of the accepted TCP connection @fd.  Returns
 * false while it is not whole (the handshake goes on), true when the
 * request was handled or the connection dropped.
 */
static bool inbound_readable(struct tcpd *d, int fd)
{
	struct peer *p = d->peers[fd];
	int ret = handshake_read(fd, &p->reader);

	if (ret == 0)
		return false;	/* not whole yet */
	if (ret == -EMSGSIZE) {
		inbound_refuse(d, fd, EPROTO, "bad request", NULL);
	} else if (ret < 0) {
		log_line("in %s: dropped: %s", p->addr, strerror(-ret));
		peer_close(d, fd);
	} else {
		inbound_request(d, fd, p->frame, p->reader.len);
	}
	return true;
}

/* Out of fds: take the next client with the spare fd and close it. */
static void refuse_for_lack_of_fds(struct tcpd *d)
{
	int fd;

	close(d->sparefd);
	fd = accept(d->listenfd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	d->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_line("in: refused: out of file descriptors");
}

/* The oldest inbound handshake, of @source only when not NULL; or -1. */
static int oldest_of(const struct tcpd *d, const char *source)
{
	int fd;

	for (fd = d->oldest; fd >= 0; fd = d->peers[fd]->newer)
		if (!source || strcmp(d->peers[fd]->source, source) == 0)
			return fd;
	return -1;
}

static unsigned int count_of(const struct tcpd *d, const char *source)
{
	unsigned int n = 0;
	int fd;

	for (fd = d->oldest; fd >= 0; fd = d->peers[fd]->newer)
		n += strcmp(d->peers[fd]->source, source) == 0;
	return n;
}

/*
 * Ends the inbound handshake @fd to make room: a request that has
 * arrived whole meanwhile is served, anything else gets ENOBUFS.
 * Returns the fds it freed: 1, or 0 when it served (and so took one).
 */
static int shed(struct tcpd *d, int fd)
{
	struct peer *p = d->peers[fd];

	if (p->state == PEER_INBOUND && inbound_readable(d, fd))
		return 0;
	inbound_refuse(d, fd, ENOBUFS, "too many connections", NULL);
	return 1;
}

/*
 * The TCP connection @fd was just accepted: past a limit (its address's,
 * the overall one, or fewer than FD_RESERVE fds free), the oldest
 * handshakes are shed, of that address first.  *@nfree counts the free
 * fds.
 */
static void enforce_limits(struct tcpd *d, int fd, long *nfree)
{
	char source[ADDR_HOST];
	int victim;

	memcpy(source, d->peers[fd]->source, sizeof(source));
	while (count_of(d, source) > d->opt.max_per_source &&
	       (victim = oldest_of(d, source)) >= 0)
		*nfree += shed(d, victim);
	while (d->ninbound > d->opt.max_handshakes &&
	       (victim = oldest_of(d, NULL)) >= 0)
		*nfree += shed(d, victim);
	while (*nfree < FD_RESERVE && (victim = oldest_of(d, NULL)) >= 0)
		*nfree += shed(d, victim) ? 1 : -1;
}

/* Open fds of the process, or -1 when /proc says nothing. */
static long count_open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!dir)
		return errno == EMFILE || errno == ENFILE ? LONG_MAX : -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n - 1;	/* the directory's own fd */
}

/* Accepts one TCP client: 0, or -EAGAIN when there is none left. */
static int accept_one(struct tcpd *d, long *nfree)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct epoll_event ev;
	struct peer *p;
	int fd, ret;

	fd = accept4(d->listenfd, (struct sockaddr *)&ss, &sslen,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if ((ret == -EMFILE || ret == -ENFILE) && d->sparefd >= 0) {
			refuse_for_lack_of_fds(d);
			return 0;
		}
		if (ret == -EAGAIN || ret == -EWOULDBLOCK)
			return -EAGAIN;
		if (ret != -EINTR && ret != -ECONNABORTED)
			log_line("in: accept: %s", strerror(-ret));
		return ret == -EINTR || ret == -ECONNABORTED ? 0 : -EAGAIN;
	}
	tune_tcp(fd);
	ret = peer_start(d, fd, PEER_INBOUND);
	if (ret == 0) {
		p = d->peers[fd];
		addr_text((struct sockaddr *)&ss, sslen, p->addr,
			  sizeof(p->addr), p->source, sizeof(p->source));
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (epoll_ctl(d->watchfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			ret = -errno;
			peer_end(d, fd);
		}
	}
	if (ret < 0) {
		log_line("in: dropped: %s", strerror(-ret));
		close(fd);
		return 0;
	}
	(*nfree)--;
	/* A request already there is served before any limit is applied. */
	if (!inbound_readable(d, fd))
		enforce_limits(d, fd, nfree);
	return 0;
}

/*
 * Free fds: the limit (read each time, prlimit(1) may change it) less
 * the open ones, counted once per batch of accepts.
 */
static long free_fds(void)
{
	struct rlimit rl;
	long open = count_open_fds();

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > LONG_MAX || open < 0)
		return LONG_MAX;
	if (open == LONG_MAX)
		return 0;
	return (long)rl.rlim_cur - open;
}

static void listener_readable(struct tcpd *d)
{
	long nfree = free_fds();
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++)
		if (accept_one(d, &nfree) == -EAGAIN)
			return;
}

/* ------------------------------------------------------------------ */
/* Outbound: a local client asks for tcp://HOST:PORT/SERVICE            */
/* ------------------------------------------------------------------ */

/* Ends the request of requester @req: its TCP side, then itself. */
static void outbound_end(struct tcpd *d, int req)
{
	int tcp = d->peers[req]->other;

	if (tcp >= 0)
		peer_close(d, tcp);
	peer_close(d, req);
}

/* Fails the request of requester @req with an error reply of our own. */
static void outbound_fail(struct tcpd *d, int req, int err, const char *text)
{
	struct peer *r = d->peers[req];

	log_line("out %s: %s %s", r->uri[0] ? r->uri : "?",
		 ipc__errno_name(err), text);
	ipc_send_error(d, req, err, text);
	outbound_end(d, req);
}

/*
 * Starts the non-blocking connect for requester @req; the TCP fd, or
 * -errno.  Its time limit is the requester's.
 */
static int outbound_connect(struct tcpd *d, int req,
			    const struct addrinfo *ai)
{
	struct epoll_event ev;
	int fd, ret;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	tune_tcp(fd);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		ret = -errno;
		goto fail;
	}
	/* Completion and failure both make it writable. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.fd = fd;
	if (epoll_ctl(d->watchfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = peer_start(d, fd, PEER_CONNECTING);
	if (ret == 0) {
		d->peers[fd]->deadline_ms = d->peers[req]->deadline_ms;
		return fd;
	}
	epoll_ctl(d->watchfd, EPOLL_CTL_DEL, fd, NULL);
fail:
	close(fd);
	return ret;
}

/* The host of requester @req is resolved (@ai): connect to it. */
static void outbound_resolved(struct tcpd *d, int req,
			      const struct addrinfo *ai)
{
	struct peer *r;
	int tcp;

	/* The first address only: one time limit covers it all. */
	tcp = outbound_connect(d, req, ai);
	if (tcp < 0) {
		outbound_fail(d, req, -tcp, strerror(-tcp));
		return;
	}
	r = d->peers[req];
	r->state = PEER_WAITING;
	r->job = NULL;
	r->other = tcp;
	d->peers[tcp]->other = req;
}

static void *resolver_main(void *arg)
{
	struct resolve_job *job = arg;
	ssize_t n;

	job->ret = resolve(job->host, job->port, 0, false, &job->res);
	/* 8 bytes: one atomic write to the pipe. */
	do {
		n = write(job->notify, &job, sizeof(job));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(job)) {
		/* The daemon is stopping: nobody will read the result. */
		if (job->res)
			freeaddrinfo(job->res);
		free(job);
	}
	return NULL;
}

/* Resolves @host in a thread of its own; the requester waits for it. */
static int resolver_start(struct tcpd *d, int req, const char *host,
			  uint16_t port)
{
	struct resolve_job *job;
	pthread_attr_t attr;
	pthread_t thread;
	int ret;

	if (d->nresolving >= RESOLVERS_MAX)
		return -EAGAIN;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->requester = req;
	job->notify = d->resolved[1];
	job->port = port;
	snprintf(job->host, sizeof(job->host), "%s", host);
	ret = pthread_attr_init(&attr);
	if (ret == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ret = pthread_create(&thread, &attr, resolver_main, job);
		pthread_attr_destroy(&attr);
	}
	if (ret != 0) {
		free(job);
		return -ret;
	}
	d->nresolving++;
	d->peers[req]->state = PEER_RESOLVING;
	d->peers[req]->job = job;
	return 0;
}

/* Name lookups finished: the pipe is readable. */
static void resolved_ready(struct tcpd *d)
{
	struct resolve_job *jobs[16];
	ssize_t n;
	size_t i;

	n = read(d->resolved[0], jobs, sizeof(jobs));
	for (i = 0; n > 0 && i < (size_t)n / sizeof(jobs[0]); i++) {
		struct resolve_job *job = jobs[i];
		struct peer *r = peer_get(d, job->requester);

		d->nresolving--;
		/* A requester that timed out or left no longer waits. */
		if (r && r->state == PEER_RESOLVING && r->job == job) {
			if (job->ret != 0)
				outbound_fail(d, job->requester, EHOSTUNREACH,
					      "cannot resolve the host");
			else
				outbound_resolved(d, job->requester,
						  job->res);
		}
		if (job->res)
			freeaddrinfo(job->res);
		free(job);
	}
}

/* The URI of requester @req is whole: check it and start connecting. */
static void outbound_request(struct tcpd *d, int req, const char *uri,
			     size_t len)
{
	struct peer *r = d->peers[req];
	char host[NI_MAXHOST];
	struct addrinfo *ai;
	struct ipc_uri u;
	uint16_t port;
	int ret;

	/* Checked below; a URI that passes is printable already. */
	printable(r->uri, sizeof(r->uri), uri, len);
	if (ipc__uri_parse(uri, len, &u) < 0 || u.scheme.len != 3 ||
	    memcmp(u.scheme.p, "tcp", 3) != 0 ||
	    ipc__hostport_parse(u.authority, host, sizeof(host), &port) < 0) {
		outbound_fail(d, req, EINVAL, "bad URI");
		return;
	}
	/* Section 2: one time limit for the name, connect and reply. */
	r->deadline_ms = daemon_now_ms() + d->opt.timeout_ms;
	ret = resolve(host, port, 0, true, &ai);
	if (ret == 0) {
		outbound_resolved(d, req, ai);
		freeaddrinfo(ai);
		return;
	}
	/* An IPv6 address (with a zone) is never looked up as a name. */
	if (ret != EAI_NONAME || strchr(host, ':')) {
		outbound_fail(d, req, EHOSTUNREACH, "cannot resolve the host");
		return;
	}
	ret = resolver_start(d, req, host, port);
	if (ret < 0)
		outbound_fail(d, req, ret == -EAGAIN ? ENOBUFS : -ret,
			      "cannot resolve the host now");
}

/* The connect of @tcp completed: send the request, wait for the reply. */
static void outbound_connected(struct tcpd *d, int tcp)
{
	struct peer *t = d->peers[tcp];
	int req = t->other;
	const char *service = strrchr(d->peers[req]->uri, '/') + 1;
	char request[sizeof(CONNECT_PREFIX) + IPC_NET_NAME_MAX];
	socklen_t len = sizeof(int);
	int err = 0, n;

	epoll_ctl(d->watchfd, EPOLL_CTL_DEL, tcp, NULL);
	if (getsockopt(tcp, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0)
		err = -ipc_add_external(d->ctx, tcp);
	if (err) {
		/* Still CONNECTING, so closed with close(2). */
		outbound_fail(d, req, err, strerror(err));
		return;
	}
	t->state = PEER_REPLY;
	n = snprintf(request, sizeof(request), CONNECT_PREFIX "%s", service);
	err = -handshake_send(tcp, request, (size_t)n, -1);
	if (err)
		outbound_fail(d, req, err, strerror(err));
}

/*
 * Sockets of our epoll are ready: inbound requests to read, outbound
 * connects completed.  An inbound socket in error (RST while waiting for
 * its local service) is dropped.
 */
static void watch_ready(struct tcpd *d)
{
	struct epoll_event ev[WATCH_BATCH];
	int i, n;

	n = epoll_wait(d->watchfd, ev, WATCH_BATCH, 0);
	for (i = 0; i < n; i++) {
		int fd = ev[i].data.fd;
		struct peer *p = peer_get(d, fd);

		if (!p)
			continue;	/* ended by an earlier one */
		if (p->state == PEER_CONNECTING)
			outbound_connected(d, fd);
		else if (p->state == PEER_INBOUND)
			inbound_readable(d, fd);
	}
}

/* The remote's reply is whole: "ok" switches, an error is passed on. */
static void outbound_reply(struct tcpd *d, int tcp, const char *reply,
			   size_t len)
{
	bool error_reply = len > 6 && memcmp(reply, "error ", 6) == 0;
	int req = d->peers[tcp]->other;
	char shown[REPLY_TEXT_MAX];
	struct ipc_span text;
	int ret = ipc__reply_parse(reply, len, &text);

	if (ret < 0 && error_reply && (ret != -EPROTO || text.len)) {
		/*
		 * The remote's error, its name and text passed on (the text
		 * cut short: ipcd reads at most 1 KiB).
		 */
		printable(shown, sizeof(shown), text.p, text.len);
		outbound_fail(d, req, -ret, shown);
		return;
	}
	if (ret < 0) {
		outbound_fail(d, req, EPROTO, "bad reply");
		return;
	}
	ret = ipc_schedule(d->ctx, req, "ok", 2);
	if (ret == 0)
		ret = ipc_add_switch(d->ctx, req, tcp);
	if (ret < 0) {
		outbound_fail(d, req, -ret, strerror(-ret));
		return;
	}
	log_line("out %s: ok", d->peers[req]->uri);
	peer_end(d, tcp);
	peer_end(d, req);
}

/* The outbound TCP connection is readable: read more of the reply. */
static void outbound_readable(struct tcpd *d, int tcp)
{
	struct peer *t = d->peers[tcp];
	int ret = handshake_read(tcp, &t->reader);

	if (ret == 0)
		return;
	if (ret == -EMSGSIZE)
		outbound_fail(d, t->other, EPROTO, "bad reply");
	else if (ret < 0)
		outbound_fail(d, t->other, -ret, strerror(-ret));
	else
		outbound_reply(d, tcp, t->frame, t->reader.len);
}

/* A message from a client of our service: its URI. */
static void requester_message(struct tcpd *d, int fd, const char *msg,
			      size_t len)
{
	struct peer *r = peer_get(d, fd);

	/* A switched client's messages are relayed, never seen here. */
	if (!r)
		return;
	if (r->state == PEER_REQUESTER)
		outbound_request(d, fd, msg, len);
	else
		outbound_fail(d, fd, EPROTO, "one request per connection");
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

/* The library closed @fd (DISCONNECTION): drop what depended on it. */
static void peer_gone(struct tcpd *d, int fd)
{
	struct peer *p = peer_get(d, fd);
	int other;

	if (!p)
		return;		/* switched, or not ours */
	other = p->other;
	if (p->state == PEER_WAITING || p->state == PEER_RESOLVING)
		log_line("out %s: dropped: the requester went away", p->uri);
	peer_end(d, fd);
	if (!peer_get(d, other))
		return;
	if (d->peers[other]->state == PEER_WAITING) {
		/* Our TCP side: the remote closed before replying. */
		d->peers[other]->other = -1;
		outbound_fail(d, other, ECONNRESET,
			      "connection closed by the remote");
	} else {
		peer_close(d, other);
	}
}

/*
 * Inbound connections waiting for a full backlog try again; every
 * handshake past its time limit gets ETIMEDOUT and is dropped.
 */
static void check_deadlines(struct tcpd *d)
{
	uint64_t now = daemon_now_ms();
	size_t fd;

	for (fd = 0; fd < d->npeers && d->inflight > 0; fd++) {
		struct peer *p = d->peers[fd];

		if (p && p->state == PEER_LOCAL)
			inbound_local_try(d, (int)fd);
		p = d->peers[fd];
		if (!p || p->deadline_ms > now)
			continue;
		if (p->state == PEER_INBOUND) {
			inbound_refuse(d, (int)fd, ETIMEDOUT, "timed out",
				       NULL);
		} else if (p->state == PEER_LOCAL) {
			inbound_refuse(d, (int)fd, ETIMEDOUT,
				       "the service is busy", p->name);
		} else if (p->state == PEER_REQUESTER) {
			log_line("out: dropped a client: no request in time");
			ipc_send_error(d, (int)fd, ETIMEDOUT, "timed out");
			peer_close(d, (int)fd);
		} else if (p->state == PEER_WAITING ||
			   p->state == PEER_RESOLVING) {
			outbound_fail(d, (int)fd, ETIMEDOUT, "timed out");
		}
		/* CONNECTING and REPLY end with their requester. */
	}
}

static void external_readable(struct tcpd *d, int fd)
{
	struct peer *p = peer_get(d, fd);
	struct signalfd_siginfo si;

	if (fd == d->listenfd) {
		listener_readable(d);
	} else if (fd == d->watchfd) {
		watch_ready(d);
	} else if (fd == d->resolved[0]) {
		resolved_ready(d);
	} else if (fd == d->signalfd) {
		if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			log_line("stopping on signal %u", si.ssi_signo);
		d->stop = true;
	} else if (p && p->state == PEER_REPLY) {
		outbound_readable(d, fd);
	}
}

static void handle_event(struct tcpd *d, char type, int fd, int newfd,
			 const char *buf, size_t len)
{
	int ret;

	switch (type) {
	case CONNECTION:
		ret = peer_start(d, newfd, PEER_REQUESTER);
		if (ret < 0) {
			log_line("out: dropped a client: %s", strerror(-ret));
			ipc_close_fd(d->ctx, newfd);
		}
		break;
	case MESSAGE_RX:
		requester_message(d, fd, buf, len);
		break;
	case EXTERNAL:
		external_readable(d, fd);
		break;
	case DISCONNECTION:
		peer_gone(d, fd);
		break;
	case TIMER:
		check_deadlines(d);
		break;
	default:		/* MESSAGE_TX, SWITCH_RX, SWITCH_TX */
		break;
	}
}

static int serve(struct tcpd *d)
{
	/* SWITCH_RX copies what fits: relayed messages need no room here. */
	char buf[REQUEST_MAX];
	int ret;

	while (!d->stop) {
		size_t index, len = sizeof(buf);
		int fd, newfd;
		char type;

		ret = ipc_wait_event(d->ctx, &type, &index, &fd, &newfd, buf,
				     &len);
		if (ret == -EMSGSIZE) {
			/* A request longer than any URI: never kept. */
			if (peer_get(d, fd))
				outbound_fail(d, fd, EMSGSIZE, "too long");
			else
				ipc_close_fd(d->ctx, fd);
			continue;
		}
		if (ret == -EINTR || ret == -ENOMEM)
			continue;	/* nothing lost: the library retries */
		if (ret < 0)
			return ret;
		handle_event(d, type, fd, newfd, buf, len);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                       */
/* ------------------------------------------------------------------ */

static int listen_tcp(const char *spec, int *fdp)
{
	struct ipc_span a = { spec, strlen(spec) };
	char host[NI_MAXHOST];
	struct addrinfo *ai;
	uint16_t port;
	int fd, one = 1, ret;

	if (ipc__hostport_parse(a, host, sizeof(host), &port) < 0)
		return -EINVAL;
	/* Before the loop runs: a name may be resolved, and wait. */
	ret = resolve(host, port, AI_PASSIVE, false, &ai);
	if (ret != 0)
		return ret == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	/* Restarting must not wait for the old connections' TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		close(fd);
		goto out;
	}
	*fdp = fd;
out:
	freeaddrinfo(ai);
	return ret;
}

/* Our epoll of TCP fds in handshake, and the resolvers' pipe. */
static int watch_handshakes(struct tcpd *d)
{
	int ret;

	d->watchfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->watchfd < 0)
		return -errno;
	ret = ipc_add_external(d->ctx, d->watchfd);
	if (ret < 0) {
		close(d->watchfd);
		d->watchfd = -1;
		return ret;
	}
	/* The write end blocks: a resolver waits rather than lose a job. */
	if (pipe2(d->resolved, O_CLOEXEC) < 0) {
		d->resolved[0] = d->resolved[1] = -1;
		return -errno;
	}
	ret = fcntl(d->resolved[0], F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
	if (ret == 0)
		ret = ipc_add_external(d->ctx, d->resolved[0]);
	if (ret < 0) {
		close(d->resolved[0]);
		close(d->resolved[1]);
		d->resolved[0] = d->resolved[1] = -1;
	}
	return ret;
}

static int start_failed(const char *what, const char *arg, int err)
{
	fprintf(stderr, PROGRAM ": cannot %s%s%s: %s\n", what, arg ? " " : "",
		arg ? arg : "", strerror(-err));
	return err;
}

/* Sets everything up, saying on stderr what failed; 0 or -errno. */
static int start(struct tcpd *d)
{
	int servicefd, ret;

	ret = ipc_context_init(&d->ctx);
	if (ret < 0)
		return start_failed("create a context", NULL, ret);
	d->signalfd = daemon_signals_watch(d->ctx);
	if (d->signalfd < 0)
		return start_failed("watch signals", NULL, d->signalfd);
	ret = watch_handshakes(d);
	if (ret < 0)
		return start_failed("watch handshakes", NULL, ret);
	ret = listen_tcp(d->opt.listen, &d->listenfd);
	if (ret == 0) {
		ret = ipc_add_external(d->ctx, d->listenfd);
		if (ret < 0)
			close(d->listenfd);
	}
	if (ret < 0)
		return start_failed("listen on", d->opt.listen, ret);
	/* The service comes last: its socket says that all is ready. */
	ret = ipc_service_init(d->ctx, &servicefd, d->opt.service,
			       (uint16_t)strlen(d->opt.service));
	if (ret < 0)
		return start_failed("start service", d->opt.service, ret);
	d->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_line("listening on %s, service %s, %zu service%s allowed",
		 d->opt.listen, d->opt.service, d->opt.nallow,
		 d->opt.nallow == 1 ? "" : "s");
	return 0;
}

/* Closes everything; the service's socket and lock files are removed. */
static void stop(struct tcpd *d)
{
	size_t fd;

	for (fd = 0; fd < d->npeers; fd++)
		if (d->peers[fd])
			peer_close(d, (int)fd);
	free(d->peers);
	ipc_context_deinit(&d->ctx);
	if (d->sparefd >= 0)
		close(d->sparefd);
	/*
	 * A resolver still running writes to the pipe when done: its write
	 * end stays open for it (the process exits anyway), and the job is
	 * freed by the resolver when the read end is gone.
	 */
	if (d->resolved[1] >= 0 && d->nresolving == 0)
		close(d->resolved[1]);
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROGRAM " [--listen ADDR:PORT] [--allow SERVICE]..."
		" [--allow-file FILE]\n"
		"                [--service NAME] [--timeout MS]"
		" [--max-handshakes N] [--max-per-source N]\n"
		"Relays libipc connections over TCP (see ipc-tcpd(8)).\n"
		"  -l, --listen ADDR:PORT  TCP address to listen on (default "
		"$" LISTEN_ENV ",\n"
		"                          else " DEFAULT_LISTEN ")\n"
		"  -a, --allow SERVICE     let remote peers reach SERVICE"
		" (repeatable)\n"
		"  -f, --allow-file FILE   the same, one SERVICE per line\n"
		"  -s, --service NAME      libipc service name (default "
		DEFAULT_SERVICE ")\n"
		"  -t, --timeout MS        handshake time limit (default %d)\n"
		"  -m, --max-handshakes N  TCP connections in handshake at once"
		" (default %d);\n"
		"                          past it the oldest is dropped\n"
		"  -p, --max-per-source N  the same from one address"
		" (default %d)\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n"
		"%d file descriptors are kept free for relays and local"
		" clients: raise\n"
		"RLIMIT_NOFILE (LimitNOFILE=) for more relays.\n",
		DEFAULT_TIMEOUT_MS, DEFAULT_MAX_HANDSHAKES,
		DEFAULT_MAX_PER_SOURCE, FD_RESERVE);
}

static int allow_add(struct options *o, const char *name, size_t len)
{
	char **allow;

	if (!ipc__service_name_ok(name, len)) {
		fprintf(stderr, PROGRAM ": invalid service name \"%.*s\"\n",
			(int)len, name);
		return -EINVAL;
	}
	allow = realloc(o->allow, (o->nallow + 1) * sizeof(*allow));
	if (!allow)
		return -ENOMEM;
	o->allow = allow;
	allow[o->nallow] = strndup(name, len);
	if (!allow[o->nallow])
		return -ENOMEM;
	o->nallow++;
	return 0;
}

/* One service name per line; blanks around it, empty lines and lines
 * starting with '#' are ignored. */
static int allow_file(struct options *o, const char *path)
{
	FILE *f = fopen(path, "re");
	size_t size = 0, len;
	char *line = NULL, *p;
	ssize_t n;
	int ret = 0;

	if (!f) {
		fprintf(stderr, PROGRAM ": cannot read %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	while (ret == 0 && (n = getline(&line, &size, f)) >= 0) {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		len = strcspn(p, "\r\n");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && p[0] != '#')
			ret = allow_add(o, p, len);
	}
	if (ret == 0 && ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	return ret;
}

/* 0 to run, 1 when done (--help, --version), 2 on a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "allow", required_argument, NULL, 'a' },
		{ "allow-file", required_argument, NULL, 'f' },
		{ "service", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-handshakes", required_argument, NULL, 'm' },
		{ "max-per-source", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv(LISTEN_ENV);
	int c, ret = 0;

	o->listen = env && *env ? env : DEFAULT_LISTEN;
	o->service = DEFAULT_SERVICE;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->max_handshakes = DEFAULT_MAX_HANDSHAKES;
	o->max_per_source = DEFAULT_MAX_PER_SOURCE;
	while (ret == 0 &&
	       (c = getopt_long(argc, argv, "l:a:f:s:t:m:p:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'a':
			ret = allow_add(o, optarg, strlen(optarg));
			break;
		case 'f':
			ret = allow_file(o, optarg);
			break;
		case 's':
			o->service = optarg;
			if (!ipc__service_name_ok(optarg, strlen(optarg)))
				ret = -EINVAL;
			break;
		case 't':
			ret = daemon_ms_parse(optarg, &o->timeout_ms);
			break;
		case 'm':
			ret = daemon_count_parse(optarg, COUNT_MAX,
						 &o->max_handshakes);
			break;
		case 'p':
			ret = daemon_count_parse(optarg, COUNT_MAX,
						 &o->max_per_source);
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf(PROGRAM " (libipc) " PACKAGE_VERSION "\n");
			return 1;
		default:
			ret = -EINVAL;
		}
	}
	if (ret == 0 && optind < argc)
		ret = -EINVAL;
	if (ret < 0) {
		usage(stderr);
		return 2;
	}
	return 0;
}

static void options_free(struct options *o)
{
	size_t i;

	for (i = 0; i < o->nallow; i++)
		free(o->allow[i]);
	free(o->allow);
}

int main(int argc, char **argv)
{
	struct tcpd d = {
		.listenfd = -1, .signalfd = -1, .watchfd = -1, .sparefd = -1,
		.resolved = { -1, -1 }, .oldest = -1, .newest = -1,
	};
	int ret;

	daemon_memory_setup();
	ret = parse_args(argc, argv, &d.opt);
	if (ret != 0) {
		options_free(&d.opt);
		return ret == 1 ? 0 : 2;
	}
	/* Like ipcd, ipc-tcpd never routes its own connections. */
	unsetenv("IPC_NETWORK");
	/* The library never raises SIGPIPE; nor does ipc-tcpd's own I/O. */
	signal(SIGPIPE, SIG_IGN);
	d.tick_ms = d.opt.timeout_ms / 10;
	if (d.tick_ms < 10)
		d.tick_ms = 10;
	if (d.tick_ms > 1000)
		d.tick_ms = 1000;
	ret = start(&d);
	if (ret == 0) {
		ret = serve(&d);
		if (ret < 0)
			log_line("waiting for events: %s", strerror(-ret));
	}
	stop(&d);
	options_free(&d.opt);
	return ret < 0 ? 1 : 0;
}
