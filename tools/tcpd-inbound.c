/*
 * ipc-tcpd, inbound: a remote ipc-tcpd connects over TCP and asks for a
 * local service; accepting under the flood limits, the allow-list, the
 * connection to the local service, the switch.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "tcpd.h"

/* ------------------------------------------------------------------ */
/* Inbound: a remote ipc-tcpd asks for a local service                  */
/* ------------------------------------------------------------------ */

void inbound_refuse(struct tcpd *d, int fd, int err, const char *text,
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
void inbound_local_try(struct tcpd *d, int fd)
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
bool inbound_readable(struct tcpd *d, int fd)
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

void listener_readable(struct tcpd *d)
{
	long nfree = free_fds();
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++)
		if (accept_one(d, &nfree) == -EAGAIN)
			return;
}
