/*
 * ipc-bench - the raw baselines: plain AF_UNIX stream sockets.
 *
 * SPDX-License-Identifier: ISC
 *
 * The same 4-byte big-endian framing as libipc, written the way a careful
 * C programmer would: writev for header and payload, reads of 64 KiB
 * split into frames, large payloads read straight into a buffer of their
 * size.  Ping-pong comes blocking and with an epoll loop; streams come
 * with one writev per message and with frames packed into 64 KiB writes;
 * the server loop runs on epoll or, to show how the kernel scales, on
 * poll(2).
 */

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Waits for a client on lfd, or for the stop pipe; -ESHUTDOWN on stop. */
static int accept_one(const struct run *r, int lfd)
{
	struct pollfd p[2] = {
		{ .fd = lfd, .events = POLLIN },
		{ .fd = r->stop_fd, .events = POLLIN },
	};
	int fd;

	while (poll(p, 2, -1) < 0)
		if (errno != EINTR)
			return -errno;
	if (!(p[0].revents & POLLIN))
		return -ESHUTDOWN;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ------------------------------------------------------------------ */
/* Ping-pong clients                                                    */
/* ------------------------------------------------------------------ */

struct raw_client {
	int fd;
	int epfd;		/* -1: blocking */
	struct reader rd;
	const char *reply;
	size_t rlen;
	const char *path;	/* churn: connect for each round trip */
};

static int take_reply(void *arg, const char *frame, size_t len)
{
	struct raw_client *c = arg;

	c->reply = frame + FRAME_HEADER;
	c->rlen = len - FRAME_HEADER;
	return 0;
}

static int raw_wait_in(struct raw_client *c)
{
	struct epoll_event ev;
	int n;

	if (c->epfd < 0)
		return 0;
	do {
		n = epoll_wait(c->epfd, &ev, 1, -1);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static int raw_roundtrip(void *arg, const char *msg, size_t len,
			 const char **reply, size_t *rlen)
{
	struct raw_client *c = arg;
	ssize_t n;
	int ret;

	ret = write_frame(c->fd, msg, len);
	if (ret < 0)
		return ret;
	c->reply = NULL;
	while (!c->reply) {
		ret = raw_wait_in(c);
		if (ret < 0)
			return ret;
		n = reader_fill(&c->rd, c->fd, take_reply, c);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && n != -EAGAIN)
			return (int)n;
	}
	*reply = c->reply;
	*rlen = c->rlen;
	return 0;
}

static int raw_client_run(const struct run *r, struct result *res,
			  bool use_epoll)
{
	struct raw_client c = { .epfd = -1 };
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	c.fd = unix_connect(r->path);
	if (c.fd < 0)
		return fail(res, c.fd, "connect %s: %s", r->path,
			    strerror(-c.fd));
	if (use_epoll) {
		c.epfd = epoll_create1(EPOLL_CLOEXEC);
		if (c.epfd < 0 || set_nonblocking(c.fd) < 0 ||
		    epoll_ctl(c.epfd, EPOLL_CTL_ADD, c.fd, &ev) < 0)
			return fail(res, -errno, "epoll: %s", strerror(errno));
	}
	ret = ready_send(r, 'R');
	if (!ret)
		ret = go_wait(r);
	if (!ret)
		pingpong_run(r, res, raw_roundtrip, &c);
	close(c.fd);
	if (c.epfd >= 0)
		close(c.epfd);
	reader_free(&c.rd);
	return res->err;
}

int raw_blocking_client(const struct run *r, struct result *res)
{
	return raw_client_run(r, res, false);
}

int raw_epoll_client(const struct run *r, struct result *res)
{
	return raw_client_run(r, res, true);
}

/* Connection churn: connect, one message each way, close. */
static int churn_roundtrip(void *arg, const char *msg, size_t len,
			   const char **reply, size_t *rlen)
{
	struct raw_client *c = arg;
	int ret;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = unix_connect(c->path);
	if (c->fd < 0)
		return c->fd;
	c->rd.off = c->rd.len = 0;
	ret = raw_roundtrip(c, msg, len, reply, rlen);
	/* The reply stays readable: it lives in c->rd, not in the socket. */
	close(c->fd);
	c->fd = -1;
	return ret;
}

int raw_churn_client(const struct run *r, struct result *res)
{
	struct raw_client c = { .fd = -1, .epfd = -1, .path = r->path };
	int ret;

	ret = ready_send(r, 'R');
	if (!ret)
		ret = go_wait(r);
	if (!ret)
		pingpong_run(r, res, churn_roundtrip, &c);
	reader_free(&c.rd);
	return res->err;
}

/* ------------------------------------------------------------------ */
/* Blocking echo server and blocking sink: one client                   */
/* ------------------------------------------------------------------ */

static int echo_frame(void *arg, const char *frame, size_t len)
{
	int *fd = arg;
	struct iovec iov = { .iov_base = (char *)frame, .iov_len = len };

	return write_iov(*fd, &iov, 1);
}

/* Listens on r->path, says so, and takes one client: its fd, or < 0. */
static int serve_one(const struct run *r, struct result *res, int *lfd)
{
	int fd;

	*lfd = unix_listen(r->path);
	if (*lfd < 0)
		return fail(res, *lfd, "listen %s: %s", r->path,
			    strerror(-*lfd));
	ready_send(r, 'R');
	fd = accept_one(r, *lfd);
	if (fd < 0 && fd != -ESHUTDOWN)
		fail(res, fd, "accept: %s", strerror(-fd));
	return fd;
}

static void serve_end(const struct run *r, int lfd, int fd)
{
	if (fd >= 0)
		close(fd);
	if (lfd >= 0) {
		close(lfd);
		unlink(r->path);
	}
}

int raw_blocking_echo(const struct run *r, struct result *res)
{
	struct reader rd = { 0 };
	int lfd, fd;
	ssize_t n = 0;

	fd = serve_one(r, res, &lfd);
	while (fd >= 0 && (n = reader_fill(&rd, fd, echo_frame, &fd)) > 0)
		;
	if (fd >= 0 && n < 0 && n != -ECONNRESET && n != -EPIPE)
		fail(res, (int)n, "echo: %s", strerror((int)-n));
	serve_end(r, lfd, fd);
	reader_free(&rd);
	return res->err;
}

struct sink_conn {
	struct sink *sink;
	uint32_t conn;
};

static int sink_frame(void *arg, const char *frame, size_t len)
{
	struct sink_conn *sc = arg;

	return sink_take(sc->sink, sc->conn, frame + FRAME_HEADER,
			 len - FRAME_HEADER);
}

/* The stream receiver: blocking reads of 64 KiB, one client. */
int raw_sink(const struct run *r, struct result *res)
{
	struct reader rd = { 0 };
	struct sink sink;
	struct sink_conn sc = { .sink = &sink, .conn = 0 };
	ssize_t n = 0;
	int lfd, fd;

	sink_init(&sink, r, res);
	fd = serve_one(r, res, &lfd);
	res->rss_start_kib = rss_peak_kib();
	while (fd >= 0 && !sink.done &&
	       (n = reader_fill(&rd, fd, sink_frame, &sc)) > 0)
		;
	if (n < 0)
		fail(res, (int)n, "read: %s", strerror((int)-n));
	else if (!sink.done)
		fail(res, -ECONNRESET, "the stream ended before its marker");
	done_send(r);
	res->rss_peak_kib = rss_peak_kib();
	sink_report(&sink);
	serve_end(r, lfd, fd);
	reader_free(&rd);
	return res->err;
}

/* ------------------------------------------------------------------ */
/* The event-loop server: echo or sink, on epoll or poll(2)             */
/* ------------------------------------------------------------------ */

struct engine;

struct rconn {
	struct engine *e;
	int fd;
	bool pollout;		/* reading stops until the output drains */
	struct reader rd;
	const char *lent;	/* the rest of a frame, still in rd */
	size_t lent_len;
	char *out;		/* bytes the socket did not take */
	size_t out_off, out_len, out_cap;
};

struct engine {
	const struct run *r;
	struct result *res;
	bool use_poll;
	bool is_sink;
	bool stop;
	int lfd, epfd;
	struct rconn **conns;	/* by fd */
	int nconns;
	struct pollfd *pfd;	/* poll(2): listener, stop pipe, clients */
	int *pidx;		/* fd -> index in pfd */
	int npfd, pfd_cap;
	struct sink sink;
	unsigned int accepted;
	int64_t heap0, slab0;
	uint64_t echoed;
};

static int grow_by_fd(struct engine *e, int fd)
{
	int n = e->nconns ? e->nconns : 1024, i;

	if (fd < e->nconns)
		return 0;
	while (n <= fd)
		n *= 2;
	e->conns = realloc(e->conns, (size_t)n * sizeof(*e->conns));
	e->pidx = realloc(e->pidx, (size_t)n * sizeof(*e->pidx));
	if (!e->conns || !e->pidx)
		return -ENOMEM;
	for (i = e->nconns; i < n; i++) {
		e->conns[i] = NULL;
		e->pidx[i] = -1;
	}
	e->nconns = n;
	return 0;
}

static int watch(struct engine *e, int fd, bool out)
{
	struct epoll_event ev = {
		.events = out ? EPOLLOUT : EPOLLIN,
		.data.fd = fd,
	};
	int i = e->pidx[fd];

	if (!e->use_poll) {
		if (epoll_ctl(e->epfd, i < 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
			      fd, &ev) < 0)
			return -errno;
		e->pidx[fd] = 0;
		return 0;
	}
	if (i < 0) {
		if (e->npfd == e->pfd_cap) {
			e->pfd_cap = e->pfd_cap ? e->pfd_cap * 2 : 1024;
			e->pfd = realloc(e->pfd,
					 (size_t)e->pfd_cap * sizeof(*e->pfd));
			if (!e->pfd)
				return -ENOMEM;
		}
		i = e->npfd++;
		e->pidx[fd] = i;
		e->pfd[i].fd = fd;
	}
	e->pfd[i].events = out ? POLLOUT : POLLIN;
	e->pfd[i].revents = 0;
	return 0;
}

static void unwatch(struct engine *e, int fd)
{
	int i = e->pidx[fd], last;

	e->pidx[fd] = -1;
	if (!e->use_poll) {
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	last = --e->npfd;
	if (i != last) {
		e->pfd[i] = e->pfd[last];
		e->pidx[e->pfd[i].fd] = i;
	}
}

static void conn_close(struct engine *e, struct rconn *c)
{
	unwatch(e, c->fd);
	close(c->fd);
	e->conns[c->fd] = NULL;
	reader_free(&c->rd);
	free(c->out);
	free(c);
}

static int conn_pollout(struct rconn *c, bool on)
{
	if (c->pollout == on)
		return 0;
	c->pollout = on;
	return watch(c->e, c->fd, on);
}

/*
 * Keeps what the socket did not take, and waits for writability without
 * reading.  The rest of the first such frame stays where the reader put
 * it (nothing is read again before it is written); the frames after it
 * are copied.
 */
static int conn_keep(struct rconn *c, const char *p, size_t len)
{
	size_t live = c->out_len - c->out_off;

	if (!live && !c->lent_len) {
		c->lent = p;
		c->lent_len = len;
		return conn_pollout(c, true);
	}

	if (c->out_off && live + len > c->out_cap) {
		memmove(c->out, c->out + c->out_off, live);
		c->out_off = 0;
		c->out_len = live;
	}
	if (c->out_len + len > c->out_cap) {
		c->out_cap = c->out_len + len > 2 * c->out_cap ?
			     c->out_len + len : 2 * c->out_cap;
		c->out = realloc(c->out, c->out_cap);
		if (!c->out)
			return -ENOMEM;
	}
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
	return conn_pollout(c, true);
}

/* Writes straight from the read buffer; copies only what is left. */
static int conn_send(struct rconn *c, const char *p, size_t len)
{
	ssize_t n = 0;

	if (c->out_len == c->out_off && !c->lent_len) {
		do {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n < 0)
			n = 0;
		if ((size_t)n == len)
			return 0;
	}
	return conn_keep(c, p + n, len - (size_t)n);
}

/* Writes p[0, *len) as far as the socket takes it. */
static int send_some(int fd, const char **p, size_t *len)
{
	ssize_t n;

	while (*len) {
		n = send(fd, *p, *len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		*p += n;
		*len -= (size_t)n;
	}
	return 0;
}

static int conn_flush(struct rconn *c)
{
	const char *p = c->out + c->out_off;
	size_t len = c->out_len - c->out_off;
	int ret;

	ret = send_some(c->fd, &c->lent, &c->lent_len);
	if (!ret) {
		ret = send_some(c->fd, &p, &len);
		c->out_off = c->out_len - len;
	}
	if (ret == -EAGAIN)
		return 0;
	if (ret < 0)
		return ret;
	c->out_off = c->out_len = 0;
	return conn_pollout(c, false);
}

static int engine_frame(void *arg, const char *frame, size_t len)
{
	struct rconn *c = arg;
	struct engine *e = c->e;
	int ret;

	if (!e->is_sink) {
		e->echoed++;
		return conn_send(c, frame, len);
	}
	ret = sink_take(&e->sink, (uint32_t)c->fd, frame + FRAME_HEADER,
			len - FRAME_HEADER);
	if (ret > 0)
		e->stop = true;
	return ret < 0 ? ret : 0;
}

/* The clients the server waited for are all in: memory, then 'A'. */
static void engine_all_in(struct engine *e)
{
	e->res->heap_bytes = heap_used() - e->heap0;
	e->res->slab_bytes = slab_bytes() - e->slab0;
	ready_send(e->r, 'A');
}

static int engine_accept(struct engine *e)
{
	struct rconn *c;
	int fd, ret;

	for (;;) {
		fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0 && errno == EAGAIN)
			return 0;
		if (fd < 0)
			return fail(e->res, -errno, "accept: %s",
				    strerror(errno));
		c = calloc(1, sizeof(*c));
		ret = c ? grow_by_fd(e, fd) : -ENOMEM;
		if (!ret)
			ret = watch(e, fd, false);
		if (ret < 0)
			return fail(e->res, ret, "new client: %s",
				    strerror(-ret));
		c->e = e;
		c->fd = fd;
		e->conns[fd] = c;
		if (++e->accepted == e->r->nidle)
			engine_all_in(e);
	}
}

static int engine_ready(struct engine *e, int fd, bool in, bool out)
{
	struct rconn *c;
	ssize_t n;

	if (fd == e->lfd)
		return engine_accept(e);
	if (fd == e->r->stop_fd) {
		e->stop = true;
		return 0;
	}
	c = e->conns[fd];
	if (!c)
		return 0;
	if (out && conn_flush(c) < 0) {
		conn_close(e, c);
		return 0;
	}
	if (!in || c->pollout)
		return 0;
	n = reader_fill(&c->rd, fd, engine_frame, c);
	if ((n == 0 || n == -ECONNRESET || n == -EPIPE) && e->is_sink &&
	    !e->sink.done)
		return fail(e->res, -ECONNRESET,
			    "a stream ended before its marker");
	if (n == 0 || n == -ECONNRESET || n == -EPIPE)
		conn_close(e, c);
	else if (n < 0 && n != -EAGAIN)
		return (int)n;
	return 0;
}

static int engine_wait_epoll(struct engine *e)
{
	struct epoll_event ev[MAX_EVENTS];
	int n, i, ret = 0;

	n = epoll_wait(e->epfd, ev, MAX_EVENTS, -1);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n && !ret && !e->stop; i++)
		ret = engine_ready(e, ev[i].data.fd,
				   ev[i].events & (EPOLLIN | EPOLLHUP |
						   EPOLLERR),
				   ev[i].events & EPOLLOUT);
	return ret;
}

/* poll(2) tells how many fds are ready, not which: scan for them. */
static int engine_wait_poll(struct engine *e)
{
	int n, i, ret = 0;
	short rev;

	n = poll(e->pfd, (nfds_t)e->npfd, -1);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = e->npfd - 1; i >= 0 && n > 0 && !ret && !e->stop; i--) {
		rev = e->pfd[i].revents;
		if (!rev)
			continue;
		n--;
		e->pfd[i].revents = 0;
		ret = engine_ready(e, e->pfd[i].fd,
				   rev & (POLLIN | POLLHUP | POLLERR),
				   rev & POLLOUT);
	}
	return ret;
}

static int engine_setup(struct engine *e)
{
	int ret;

	raise_nofile(e->r->nidle + e->r->total_conns + 64, "the server");
	e->lfd = unix_listen(e->r->path);
	if (e->lfd < 0)
		return fail(e->res, e->lfd, "listen %s: %s", e->r->path,
			    strerror(-e->lfd));
	ret = set_nonblocking(e->lfd);
	if (!ret && !e->use_poll) {
		e->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (e->epfd < 0)
			ret = -errno;
	}
	if (!ret)
		ret = grow_by_fd(e, e->lfd > e->r->stop_fd ? e->lfd :
							      e->r->stop_fd);
	if (!ret)
		ret = watch(e, e->lfd, false);
	if (!ret)
		ret = watch(e, e->r->stop_fd, false);
	if (ret < 0)
		return fail(e->res, ret, "server setup: %s", strerror(-ret));
	return 0;
}

static void engine_teardown(struct engine *e)
{
	int fd;

	for (fd = 0; fd < e->nconns; fd++)
		if (e->conns[fd])
			conn_close(e, e->conns[fd]);
	if (e->lfd >= 0) {
		close(e->lfd);
		unlink(e->r->path);
	}
	if (e->epfd >= 0)
		close(e->epfd);
	free(e->conns);
	free(e->pidx);
	free(e->pfd);
}

static int engine_run(const struct run *r, struct result *res, bool use_poll,
		      bool is_sink)
{
	struct engine e = {
		.r = r, .res = res, .use_poll = use_poll, .is_sink = is_sink,
		.lfd = -1, .epfd = -1,
	};
	int ret;

	sink_init(&e.sink, r, res);
	if (engine_setup(&e) == 0) {
		e.heap0 = heap_used();
		e.slab0 = slab_bytes();
		ready_send(r, 'R');
		while (!e.stop && !res->err) {
			ret = use_poll ? engine_wait_poll(&e) :
					 engine_wait_epoll(&e);
			if (ret < 0)
				fail(res, ret, "server: %s", strerror(-ret));
		}
	}
	if (is_sink) {
		done_send(r);
		sink_report(&e.sink);
	} else {
		res->msgs = e.echoed;
	}
	res->accepted = e.accepted;
	engine_teardown(&e);
	return res->err;
}

int raw_epoll_echo(const struct run *r, struct result *res)
{
	return engine_run(r, res, false, false);
}

int raw_poll_echo(const struct run *r, struct result *res)
{
	return engine_run(r, res, true, false);
}

int raw_epoll_sink(const struct run *r, struct result *res)
{
	return engine_run(r, res, false, true);
}

/* ------------------------------------------------------------------ */
/* Stream senders: one writev per message, or frames packed            */
/* ------------------------------------------------------------------ */

struct raw_sender {
	int *fds;
	unsigned int n;
	char **pack;		/* per connection, CHUNK bytes */
	size_t *packed;
};

static int writev_send(void *arg, unsigned int conn, const char *payload,
		       size_t len)
{
	struct raw_sender *s = arg;

	return write_frame(s->fds[conn], payload, len);
}

static int pack_flush(struct raw_sender *s, unsigned int conn)
{
	struct iovec iov = {
		.iov_base = s->pack[conn],
		.iov_len = s->packed[conn],
	};

	s->packed[conn] = 0;
	return iov.iov_len ? write_iov(s->fds[conn], &iov, 1) : 0;
}

static int packed_send(void *arg, unsigned int conn, const char *payload,
		       size_t len)
{
	struct raw_sender *s = arg;
	size_t frame = FRAME_HEADER + len;
	char *p;
	int ret;

	if (frame > CHUNK - s->packed[conn]) {
		ret = pack_flush(s, conn);
		if (ret < 0)
			return ret;
		if (frame > CHUNK)
			return write_frame(s->fds[conn], payload, len);
	}
	if (!s->pack[conn])
		s->pack[conn] = xmalloc(CHUNK);
	p = s->pack[conn] + s->packed[conn];
	ipc__be32_put(p, (uint32_t)len);
	memcpy(p + FRAME_HEADER, payload, len);
	s->packed[conn] += frame;
	return 0;
}

static int packed_flush(void *arg)
{
	struct raw_sender *s = arg;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < s->n && !ret; i++)
		ret = pack_flush(s, i);
	return ret;
}

static int sender_run(const struct run *r, struct result *res,
		      const struct sender_ops *ops)
{
	struct raw_sender s = { .n = r->nconns };
	unsigned int i;
	int ret = 0;

	raise_nofile(r->nconns + 64, "a sender");
	s.fds = xmalloc(r->nconns * sizeof(*s.fds));
	s.pack = calloc(r->nconns, sizeof(*s.pack));
	s.packed = calloc(r->nconns, sizeof(*s.packed));
	if (!s.pack || !s.packed)
		return fail(res, -ENOMEM, "out of memory");
	for (i = 0; i < r->nconns && !ret; i++) {
		s.fds[i] = unix_connect(r->path);
		if (s.fds[i] < 0)
			ret = fail(res, s.fds[i], "connect %s: %s", r->path,
				   strerror(-s.fds[i]));
	}
	s.n = i - (ret ? 1 : 0);
	if (!ret)
		ret = ready_send(r, 'R');
	if (!ret)
		ret = go_wait(r);
	if (!ret)
		stream_run(r, res, ops, &s);
	if (!res->err)
		done_wait(r);
	res->rss_peak_kib = rss_peak_kib();
	for (i = 0; i < s.n; i++) {
		close(s.fds[i]);
		free(s.pack[i]);
	}
	free(s.fds);
	free(s.pack);
	free(s.packed);
	return res->err;
}

int raw_writev_sender(const struct run *r, struct result *res)
{
	static const struct sender_ops ops = { .send = writev_send };

	return sender_run(r, res, &ops);
}

int raw_packed_sender(const struct run *r, struct result *res)
{
	static const struct sender_ops ops = {
		.send = packed_send,
		.flush = packed_flush,
	};

	return sender_run(r, res, &ops);
}

/* ------------------------------------------------------------------ */
/* Idle clients: connect, then wait for the stop pipe                   */
/* ------------------------------------------------------------------ */

int raw_idle_clients(const struct run *r, struct result *res)
{
	unsigned int i, limit;
	int *fds = xmalloc(r->nidle * sizeof(*fds));

	limit = raise_nofile(r->nidle + 64, "the idle clients");
	res->nofile = limit;
	for (i = 0; i < r->nidle; i++) {
		fds[i] = unix_connect(r->path);
		if (fds[i] < 0) {
			fail(res, fds[i], "idle client %u of %u: %s", i + 1,
			     r->nidle, strerror(-fds[i]));
			break;
		}
	}
	res->accepted = i;
	if (!res->err)
		ready_send(r, 'R');
	stop_wait(r);
	while (i--)
		close(fds[i]);
	free(fds);
	return res->err;
}

/* ------------------------------------------------------------------ */
/* A raw relay: bytes forwarded between two sockets by an epoll loop    */
/* ------------------------------------------------------------------ */

/*
 * The floor of the switch scenario: what the extra process hop costs
 * with nothing but read(2) and write(2) in it.  Each client accepted on
 * r->path gets its own connection to r->upstream_path; whatever one side
 * sends is written whole to the other before the next read.
 */
struct relay {
	int epfd;
	int *peer;		/* by fd */
	int npeer;
	char buf[CHUNK];
};

static int relay_pair(struct relay *rl, int a, int b)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int n = a > b ? a : b, i;

	if (n >= rl->npeer) {
		rl->peer = realloc(rl->peer, (size_t)(n + 64) * sizeof(int));
		if (!rl->peer)
			return -ENOMEM;
		for (i = rl->npeer; i < n + 64; i++)
			rl->peer[i] = -1;
		rl->npeer = n + 64;
	}
	rl->peer[a] = b;
	rl->peer[b] = a;
	ev.data.fd = a;
	if (epoll_ctl(rl->epfd, EPOLL_CTL_ADD, a, &ev) < 0)
		return -errno;
	ev.data.fd = b;
	if (epoll_ctl(rl->epfd, EPOLL_CTL_ADD, b, &ev) < 0)
		return -errno;
	return 0;
}

static int relay_accept(struct relay *rl, const struct run *r, int lfd)
{
	int fd, up, ret;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	up = unix_connect(r->upstream_path);
	if (up < 0) {
		close(fd);
		return up;
	}
	ret = relay_pair(rl, fd, up);
	return ret;
}

static void relay_drop(struct relay *rl, int fd)
{
	int other = rl->peer[fd];

	close(fd);
	close(other);
	rl->peer[fd] = rl->peer[other] = -1;
}

static int relay_forward(struct relay *rl, int fd, struct result *res)
{
	struct iovec iov = { .iov_base = rl->buf };
	ssize_t n;

	do {
		n = read(fd, rl->buf, sizeof(rl->buf));
	} while (n < 0 && errno == EINTR);
	if (n <= 0 || rl->peer[fd] < 0) {
		relay_drop(rl, fd);
		return 0;
	}
	iov.iov_len = (size_t)n;
	res->msgs++;
	if (write_iov(rl->peer[fd], &iov, 1) < 0)
		relay_drop(rl, fd);
	return 0;
}

int raw_relay(const struct run *r, struct result *res)
{
	struct relay *rl = calloc(1, sizeof(*rl));
	struct epoll_event ev = { .events = EPOLLIN };
	int lfd, n, ret = 0;
	bool stop = false;

	if (!rl)
		return fail(res, -ENOMEM, "out of memory");
	lfd = unix_listen(r->path);
	rl->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || rl->epfd < 0) {
		fail(res, lfd < 0 ? lfd : -errno, "relay setup failed");
		goto out;
	}
	ev.data.fd = lfd;
	epoll_ctl(rl->epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = r->stop_fd;
	epoll_ctl(rl->epfd, EPOLL_CTL_ADD, r->stop_fd, &ev);
	ready_send(r, 'R');
	while (!stop && !ret) {
		n = epoll_wait(rl->epfd, &ev, 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		else if (ev.data.fd == r->stop_fd)
			stop = true;
		else if (ev.data.fd == lfd)
			ret = relay_accept(rl, r, lfd);
		else
			ret = relay_forward(rl, ev.data.fd, res);
	}
	if (ret < 0)
		fail(res, ret, "relay: %s", strerror(-ret));
out:
	if (lfd >= 0) {
		close(lfd);
		unlink(r->path);
	}
	if (rl->epfd >= 0)
		close(rl->epfd);
	free(rl->peer);
	free(rl);
	return res->err;
}
