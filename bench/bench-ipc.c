/*
 * ipc-bench - libipc, through its public API only.
 *
 * SPDX-License-Identifier: ISC
 *
 * Services live in the private run directory the driver made ($IPC_RUNDIR);
 * clients connect with ipc_connect_service(); every message is sent with
 * ipc_schedule() and every event comes from ipc_wait_event().  Senders
 * collect the MESSAGE_TX event of every message they scheduled: that is
 * part of the cost of the API, and a missing event fails the run.
 *
 * The "libipc-embed" services are driven as another event loop would
 * drive them: poll(2) on ipc_context_fd(), then
 * ipc_wait_event_timeout(..., 0) calls until one returns -EAGAIN.
 */

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libipc.h>

/* One event; the buffer grows when a message does not fit. */
struct ipc_ev {
	char type;
	size_t index;
	int fd, newfd;
	char *buf;
	size_t cap, len;
	int poll_fd;		/* the context fd when embedded, or -1 */
	bool awake;		/* embedded: the last call gave an event */
};

/*
 * The embedded loop: after a wake-up of the context fd, calls until one
 * returns -EAGAIN, so that the poll(2) is shared by the events a wake-up
 * brings; then the next wake-up.
 */
static int ipc_next_embedded(void *ctx, struct ipc_ev *ev)
{
	struct pollfd p = { .fd = ev->poll_fd, .events = POLLIN };
	size_t cap = ev->len;
	int ret;

	for (;;) {
		if (!ev->awake && poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ev->len = cap;
		ret = ipc_wait_event_timeout(ctx, &ev->type, &ev->index,
					     &ev->fd, &ev->newfd, ev->buf,
					     &ev->len, 0);
		ev->awake = ret != -EAGAIN;
		if (ev->awake)
			return ret;
	}
}

static int ipc_next(void *ctx, struct ipc_ev *ev)
{
	char *bigger;
	int ret;

	for (;;) {
		ev->len = ev->cap;
		if (ev->poll_fd >= 0)
			ret = ipc_next_embedded(ctx, ev);
		else
			ret = ipc_wait_event(ctx, &ev->type, &ev->index,
					     &ev->fd, &ev->newfd, ev->buf,
					     &ev->len);
		if (ret == -EINTR)
			continue;
		if (ret != -EMSGSIZE)
			return ret;
		bigger = realloc(ev->buf, ev->len);
		if (!bigger)
			return -ENOMEM;
		ev->buf = bigger;
		ev->cap = ev->len;
	}
}

static int ipc_ev_init(struct ipc_ev *ev, size_t size)
{
	*ev = (struct ipc_ev){ .cap = size + 1, .poll_fd = -1 };
	ev->buf = xmalloc(ev->cap);
	/* Touched now, so it is not counted as the library's memory. */
	memset(ev->buf, 0, ev->cap);
	return 0;
}

static int ipc_open(void **ctx, struct result *res)
{
	int ret = ipc_context_init(ctx);

	if (ret < 0)
		return fail(res, ret, "ipc_context_init: %s", strerror(-ret));
	/* Payloads up to MAX_PAYLOAD, two of them queued (handover). */
	ret = ipc_context_max_message_size(*ctx, MAX_PAYLOAD);
	if (!ret)
		ret = ipc_context_queue_limits(*ctx,
					       IPC_QUEUE_HIGH_WATER_DEFAULT,
					       4 * (size_t)MAX_PAYLOAD);
	if (ret < 0)
		return fail(res, ret, "context limits: %s", strerror(-ret));
	return 0;
}

static int ipc_listen(void *ctx, const struct run *r, struct result *res)
{
	int sfd, ret;

	ret = ipc_service_init(ctx, &sfd, r->service,
			       (uint16_t)strlen(r->service));
	if (ret < 0)
		return fail(res, ret, "ipc_service_init(%s): %s", r->service,
			    strerror(-ret));
	/* The context owns the stop pipe: it wakes the loop at its end. */
	ret = ipc_add_external(ctx, r->stop_fd);
	if (ret < 0)
		return fail(res, ret, "ipc_add_external: %s", strerror(-ret));
	return 0;
}

static int ipc_dial(void *ctx, const char *service, int *fd,
		    struct result *res)
{
	int ret = ipc_connect_service(ctx, fd, service,
				      (uint16_t)strlen(service));

	if (ret < 0)
		return fail(res, ret, "ipc_connect_service(%s): %s", service,
			    strerror(-ret));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Services: echo and sink                                              */
/* ------------------------------------------------------------------ */

/* Set in the -fault sink's process only. */
static bool memfd_sink_fault;

struct service {
	const struct run *r;
	struct result *res;
	void *ctx;
	struct ipc_ev ev;
	struct sink sink;
	bool is_sink;
	bool memfd;		/* payloads come as sealed memfds */
	bool fault;		/* memfd: mapped without MAP_POPULATE */
	bool stop;
	int64_t heap0, slab0;
	uint64_t tx;
};

static void service_connection(struct service *s)
{
	if (++s->res->accepted != s->r->nidle)
		return;
	s->res->heap_bytes = heap_used() - s->heap0;
	s->res->slab_bytes = slab_bytes() - s->slab0;
	ready_send(s->r, 'A');
}

/*
 * A payload handed over as a sealed memfd: checked, mapped and read whole
 * (stamp_check() reads every byte), as a receiver that uses it would.
 */
static int memfd_take(struct service *s)
{
	const char *p;
	size_t size, n = 1;
	int fd, ret;

	ret = ipc_message_fds(s->ctx, &fd, &n);
	if (ret < 0 || n == 0)
		return ret < 0 ? ret : sink_take(&s->sink, (uint32_t)s->ev.index,
						 s->ev.buf, s->ev.len);
	ret = ipc_memfd_check(fd, &size);
	if (ret < 0) {
		close(fd);
		return fail(s->res, ret, "ipc_memfd_check: %s", strerror(-ret));
	}
	p = mmap(NULL, size, PROT_READ,
		 MAP_PRIVATE | (s->fault ? 0 : MAP_POPULATE), fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return fail(s->res, -errno, "mmap: %s", strerror(errno));
	ret = sink_take(&s->sink, (uint32_t)s->ev.index, p, size);
	munmap((void *)p, size);
	return ret;
}

static void service_message(struct service *s)
{
	int ret;

	if (s->is_sink && s->memfd) {
		s->stop = memfd_take(s) != 0;
		return;
	}
	if (s->is_sink) {
		ret = sink_take(&s->sink, (uint32_t)s->ev.index, s->ev.buf,
				s->ev.len);
		s->stop = ret != 0;
		return;
	}
	ret = ipc_schedule(s->ctx, s->ev.fd, s->ev.buf, s->ev.len);
	/* -EPIPE: the client is leaving; its DISCONNECTION follows. */
	if (ret < 0 && ret != -EPIPE)
		fail(s->res, ret, "ipc_schedule: %s", strerror(-ret));
	s->res->msgs++;
}

static void service_event(struct service *s)
{
	switch (s->ev.type) {
	case CONNECTION:
		service_connection(s);
		break;
	case MESSAGE_RX:
		service_message(s);
		break;
	case MESSAGE_TX:
		s->tx++;
		break;
	case EXTERNAL:
		s->stop = true;
		break;
	case DISCONNECTION:
		if (s->ev.fd == s->r->stop_fd)
			s->stop = true;
		else if (s->is_sink && !s->sink.done)
			fail(s->res, -ECONNRESET,
			     "a stream ended before its marker");
		break;
	default:
		break;
	}
}

static int service_run(const struct run *r, struct result *res,
		       bool is_sink, bool embedded, bool memfd)
{
	struct service s = { .r = r, .res = res, .is_sink = is_sink,
			     .memfd = memfd, .fault = memfd_sink_fault };
	int ret;

	raise_nofile(r->nidle + r->total_conns + 64, "the service");
	sink_init(&s.sink, r, res);
	ipc_ev_init(&s.ev, r->size);
	if (ipc_open(&s.ctx, res) < 0 || ipc_listen(s.ctx, r, res) < 0)
		goto out;
	if (embedded) {
		s.ev.poll_fd = ipc_context_fd(s.ctx);
		if (s.ev.poll_fd < 0) {
			fail(res, s.ev.poll_fd, "ipc_context_fd: %s",
			     strerror(-s.ev.poll_fd));
			goto out;
		}
	}
	s.heap0 = heap_used();
	s.slab0 = slab_bytes();
	res->rss_start_kib = rss_peak_kib();
	ready_send(r, 'R');
	while (!s.stop && !res->err) {
		ret = ipc_next(s.ctx, &s.ev);
		if (ret < 0)
			fail(res, ret, "ipc_wait_event: %s", strerror(-ret));
		else
			service_event(&s);
	}
out:
	res->rss_peak_kib = rss_peak_kib();
	if (is_sink) {
		done_send(r);
		sink_report(&s.sink);
	}
	ipc_context_deinit(&s.ctx);
	free(s.ev.buf);
	return res->err;
}

int ipc_echo(const struct run *r, struct result *res)
{
	return service_run(r, res, false, false, false);
}

int ipc_memfd_sink(const struct run *r, struct result *res)
{
	return service_run(r, res, true, false, true);
}

int ipc_memfd_sink_fault(const struct run *r, struct result *res)
{
	memfd_sink_fault = true;
	return service_run(r, res, true, false, true);
}

int ipc_sink(const struct run *r, struct result *res)
{
	return service_run(r, res, true, false, false);
}

int ipc_echo_embedded(const struct run *r, struct result *res)
{
	return service_run(r, res, false, true, false);
}

int ipc_sink_embedded(const struct run *r, struct result *res)
{
	return service_run(r, res, true, true, false);
}

/* ------------------------------------------------------------------ */
/* Ping-pong and churn clients                                          */
/* ------------------------------------------------------------------ */

struct client {
	void *ctx;
	int fd;
	const char *service;
	struct ipc_ev ev;
	struct result *res;
	uint64_t sent, tx;
};

/* Schedules one message and waits for its answer. */
static int client_roundtrip(void *arg, const char *msg, size_t len,
			    const char **reply, size_t *rlen)
{
	struct client *c = arg;
	int ret;

	ret = ipc_schedule(c->ctx, c->fd, msg, len);
	if (ret < 0)
		return ret;
	c->sent++;
	for (;;) {
		ret = ipc_next(c->ctx, &c->ev);
		if (ret < 0)
			return ret;
		if (c->ev.type == MESSAGE_TX) {
			c->tx++;
		} else if (c->ev.type == MESSAGE_RX) {
			*reply = c->ev.buf;
			*rlen = c->ev.len;
			return 0;
		} else if (c->ev.type == DISCONNECTION) {
			return -ECONNRESET;
		}
	}
}

/* Connection churn: connect, one message each way, close. */
static int churn_roundtrip(void *arg, const char *msg, size_t len,
			   const char **reply, size_t *rlen)
{
	struct client *c = arg;
	int ret;

	ret = ipc_connect_service(c->ctx, &c->fd, c->service,
				  (uint16_t)strlen(c->service));
	if (ret < 0)
		return ret;
	ret = client_roundtrip(c, msg, len, reply, rlen);
	ipc_close_fd(c->ctx, c->fd);
	return ret;
}

static int client_run(const struct run *r, struct result *res, bool churn)
{
	struct client c = { .service = r->service, .res = res };

	ipc_ev_init(&c.ev, r->size);
	if (ipc_open(&c.ctx, res) < 0)
		goto out;
	if (!churn && ipc_dial(c.ctx, r->service, &c.fd, res) < 0)
		goto out;
	if (ready_send(r, 'R') < 0 || go_wait(r) < 0)
		goto out;
	pingpong_run(r, res, churn ? churn_roundtrip : client_roundtrip, &c);
	if (!res->err && c.tx != c.sent)
		fail(res, -EPROTO, "%llu MESSAGE_TX events for %llu messages",
		     (unsigned long long)c.tx, (unsigned long long)c.sent);
out:
	ipc_context_deinit(&c.ctx);
	free(c.ev.buf);
	return res->err;
}

int ipc_client(const struct run *r, struct result *res)
{
	return client_run(r, res, false);
}

int ipc_churn_client(const struct run *r, struct result *res)
{
	return client_run(r, res, true);
}

/* ------------------------------------------------------------------ */
/* Stream sender                                                        */
/* ------------------------------------------------------------------ */

struct sender {
	void *ctx;
	int *fds;
	unsigned int n;
	size_t size;		/* memfd: the data messages' size */
	enum memfd_way way;	/* memfd: how each is made */
	struct ipc_ev ev;
	uint64_t scheduled, tx;
	uint64_t high, low;	/* messages queued ahead */
};

/* Runs the loop until at most @ahead messages wait for MESSAGE_TX. */
static int sender_drain(struct sender *s, uint64_t ahead)
{
	int ret;

	while (s->scheduled - s->tx > ahead) {
		ret = ipc_next(s->ctx, &s->ev);
		if (ret < 0)
			return ret;
		if (s->ev.type == MESSAGE_TX)
			s->tx++;
		else if (s->ev.type == DISCONNECTION)
			return -ECONNRESET;
	}
	return 0;
}

static int sender_queued(struct sender *s)
{
	if (++s->scheduled - s->tx < s->high)
		return 0;
	return sender_drain(s, s->low);
}

static int sender_send(void *arg, unsigned int conn, const char *payload,
		       size_t len)
{
	struct sender *s = arg;
	int ret;

	ret = ipc_schedule(s->ctx, s->fds[conn], payload, len);
	if (ret < 0)
		return ret;
	return sender_queued(s);
}

/*
 * Handover: the payload numbered as @payload says is written straight
 * into a new memfd (every byte), sealed, and sent as the message's fd;
 * the message itself carries the number only.  The end marker is sent
 * as bytes.
 */
static int memfd_send(void *arg, unsigned int conn, const char *payload,
		      size_t len)
{
	struct sender *s = arg;
	uint64_t seq = 0;
	int fd, ret;

	if (len != s->size || len < 16)
		return sender_send(arg, conn, payload, len);
	memcpy(&seq, payload, 8);
	fd = memfd_make(len, seq, s->way);
	if (fd < 0)
		return fd;
	ret = ipc_schedule_fds(s->ctx, s->fds[conn], payload, 8, &fd, 1);
	close(fd);
	if (ret < 0)
		return ret;
	return sender_queued(s);
}

static int sender_flush(void *arg)
{
	return sender_drain(arg, 0);
}

static int sender_run(const struct run *r, struct result *res, bool memfd,
		      enum memfd_way way)
{
	static const struct sender_ops copy_ops = {
		.send = sender_send,
		.flush = sender_flush,
	};
	static const struct sender_ops memfd_ops = {
		.send = memfd_send,
		.flush = sender_flush,
	};
	const struct sender_ops *ops = memfd ? &memfd_ops : &copy_ops;
	struct run numbered = *r;
	struct sender s = { .n = r->nconns, .size = r->size, .way = way };
	uint64_t ahead = SEND_AHEAD;
	unsigned int i;

	raise_nofile(r->nconns + 64, "a sender");
	/*
	 * 256 KiB ahead in all, or a chunk per connection when there are
	 * many: what raw-packed holds in its packing buffers too.  At least
	 * two messages, so that one is written while the next is queued.
	 */
	if (ahead < (uint64_t)r->nconns * CHUNK)
		ahead = (uint64_t)r->nconns * CHUNK;
	s.high = ahead / (r->size + FRAME_HEADER);
	if (s.high < 2)
		s.high = 2;
	s.low = s.high / 2;
	s.fds = xmalloc(r->nconns * sizeof(*s.fds));
	ipc_ev_init(&s.ev, 0);
	if (ipc_open(&s.ctx, res) < 0)
		goto out;
	for (i = 0; i < r->nconns; i++)
		if (ipc_dial(s.ctx, r->service, &s.fds[i], res) < 0)
			goto out;
	if (ready_send(r, 'R') < 0 || go_wait(r) < 0)
		goto out;
	/* The memfd sender writes each payload into its memfd itself:
	 * stream_run() only numbers it. */
	if (memfd)
		numbered.verify = false;
	if (stream_run(&numbered, res, ops, &s) == 0)
		done_wait(r);
	res->rss_peak_kib = rss_peak_kib();
	if (!res->err && s.tx != s.scheduled)
		fail(res, -EPROTO, "%llu MESSAGE_TX events for %llu messages",
		     (unsigned long long)s.tx,
		     (unsigned long long)s.scheduled);
out:
	ipc_context_deinit(&s.ctx);
	free(s.fds);
	free(s.ev.buf);
	return res->err;
}

int ipc_sender(const struct run *r, struct result *res)
{
	return sender_run(r, res, false, MEMFD_PWRITE);
}

int ipc_memfd_sender(const struct run *r, struct result *res)
{
	return sender_run(r, res, true, MEMFD_PWRITE);
}

int ipc_memfd_sender_map(const struct run *r, struct result *res)
{
	return sender_run(r, res, true, MEMFD_MAP);
}

int ipc_memfd_sender_fault(const struct run *r, struct result *res)
{
	return sender_run(r, res, true, MEMFD_FAULT);
}

int ipc_memfd_sender_falloc(const struct run *r, struct result *res)
{
	return sender_run(r, res, true, MEMFD_FALLOC);
}

int ipc_memfd_sender_huge(const struct run *r, struct result *res)
{
	return sender_run(r, res, true, MEMFD_HUGE);
}

/* ------------------------------------------------------------------ */
/* Switch relay                                                         */
/* ------------------------------------------------------------------ */

/*
 * The callbacks read and write the libipc framing themselves on the
 * non-blocking fd.  They get no context pointer, so their state is kept
 * per fd.  An input callback reads once per readiness: after it handed
 * out a message it says CB_IGNORE rather than read again, and the
 * (level-triggered) loop calls it again if more bytes wait.
 */
struct cb_state {
	char *buf;
	size_t cap, off, len;
	bool read_done;
};

static struct cb_state *cb_states;
static int cb_nstates;

static struct cb_state *cb_state(int fd)
{
	int n = cb_nstates ? cb_nstates : 64;

	if (fd >= cb_nstates) {
		while (n <= fd)
			n *= 2;
		cb_states = realloc(cb_states, (size_t)n * sizeof(*cb_states));
		if (!cb_states)
			return NULL;
		memset(cb_states + cb_nstates, 0,
		       (size_t)(n - cb_nstates) * sizeof(*cb_states));
		cb_nstates = n;
	}
	return &cb_states[fd];
}

/* A whole frame in the buffer: its payload length, else -1. */
static long cb_frame(struct cb_state *s)
{
	uint32_t flen;

	if (s->len - s->off < FRAME_HEADER)
		return -1;
	flen = ipc__be32_get(s->buf + s->off);
	if (s->len - s->off - FRAME_HEADER < flen)
		return -1;
	return flen;
}

/* Room for the rest of the current frame, and a chunk at least. */
static int cb_room(struct cb_state *s)
{
	size_t live = s->len - s->off, need = CHUNK;
	char *p;

	if (live >= FRAME_HEADER)
		need = FRAME_HEADER + ipc__be32_get(s->buf + s->off);
	if (need < CHUNK)
		need = CHUNK;
	if (s->off) {
		memmove(s->buf, s->buf + s->off, live);
		s->off = 0;
		s->len = live;
	}
	if (s->cap >= need)
		return 0;
	p = realloc(s->buf, need);
	if (!p)
		return -ENOMEM;
	s->buf = p;
	s->cap = need;
	return 0;
}

static char relay_in(int fd, char *payload, size_t *mlen)
{
	struct cb_state *s = cb_state(fd);
	long flen;
	ssize_t n;

	if (!s)
		return CB_ERROR;
	flen = cb_frame(s);
	if (flen < 0) {
		if (s->read_done || cb_room(s) < 0) {
			s->read_done = false;
			return CB_IGNORE;
		}
		do {
			n = read(fd, s->buf + s->len, s->cap - s->len);
		} while (n < 0 && errno == EINTR);
		if (n == 0) {
			s->off = s->len = 0;
			return CB_FD_CLOSING;
		}
		if (n < 0)
			return errno == EAGAIN ? CB_IGNORE : CB_ERROR;
		s->len += (size_t)n;
		flen = cb_frame(s);
		if (flen < 0)
			return CB_IGNORE;
		s->read_done = true;
	}
	if ((size_t)flen > *mlen)
		return CB_ERROR;
	memcpy(payload, s->buf + s->off + FRAME_HEADER, (size_t)flen);
	s->off += FRAME_HEADER + (size_t)flen;
	*mlen = (size_t)flen;
	return CB_NO_ERROR;
}

static char relay_out(int fd, const char *payload, size_t mlen)
{
	int ret = write_frame(fd, payload, mlen);

	if (ret == -EPIPE || ret == -ECONNRESET)
		return CB_FD_CLOSING;
	return ret < 0 ? CB_ERROR : CB_NO_ERROR;
}

static int relay_connection(void *ctx, const struct run *r,
			    struct result *res, int client)
{
	struct cb_state *a, *b;
	int upstream, ret;

	if (ipc_dial(ctx, r->upstream, &upstream, res) < 0)
		return res->err;
	if (r->callbacks) {
		/* Fresh state: these fd numbers may have served before. */
		a = cb_state(client);
		b = cb_state(upstream);
		if (!a || !b)
			return fail(res, -ENOMEM, "out of memory");
		a->off = a->len = b->off = b->len = 0;
		a->read_done = b->read_done = false;
		ret = ipc_set_switch_callbacks(ctx, client, relay_in,
					       relay_out);
		if (!ret)
			ret = ipc_set_switch_callbacks(ctx, upstream, relay_in,
						       relay_out);
		if (ret < 0)
			return fail(res, ret, "ipc_set_switch_callbacks: %s",
				    strerror(-ret));
	}
	ret = ipc_add_switch(ctx, client, upstream);
	if (ret < 0)
		return fail(res, ret, "ipc_add_switch: %s", strerror(-ret));
	return 0;
}

int ipc_relay(const struct run *r, struct result *res)
{
	struct ipc_ev ev;
	void *ctx = NULL;
	bool stop = false;
	int ret;

	ipc_ev_init(&ev, 0);
	if (ipc_open(&ctx, res) < 0 || ipc_listen(ctx, r, res) < 0)
		goto out;
	ready_send(r, 'R');
	while (!stop && !res->err) {
		ret = ipc_next(ctx, &ev);
		if (ret < 0)
			fail(res, ret, "ipc_wait_event: %s", strerror(-ret));
		else if (ev.type == CONNECTION)
			relay_connection(ctx, r, res, ev.newfd);
		else if (ev.type == SWITCH_RX)
			res->msgs++;
		else if (ev.type == EXTERNAL ||
			 (ev.type == DISCONNECTION && ev.fd == r->stop_fd))
			stop = true;
	}
out:
	ipc_context_deinit(&ctx);
	free(ev.buf);
	for (ret = 0; ret < cb_nstates; ret++)
		free(cb_states[ret].buf);
	free(cb_states);
	return res->err;
}
