/*
 * libipc tests: bounded resources.  Queue limits and backpressure
 * (ipc_context_queue_limits), -ENOBUFS from ipc_schedule(), backpressure
 * through a switch, and the memory a peer can make the service spend on
 * incoming messages: with the length it announces, or a length above the
 * maximum.
 *
 * "Stalled" below means a peer's non-blocking write found the socket full
 * and it stayed full for STALL_MS: a quiet period, used to decide when to
 * move to the next phase, never as a speed threshold.  If the service is
 * merely slow, the writer moves on early and the test still holds.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "limits"

/* The small limits most cases use. */
#define SMALL_HIGH (64 * 1024)
#define SMALL_MAX (256 * 1024)

/* How long a full socket must stay full for the writer to call it a
 * stall (see above). */
#define STALL_MS 500

/*
 * What one read of the service may take in beyond the high-water mark:
 * frames already read are still delivered (and echoed) when the queue
 * crosses the mark.  The library reads at most one chunk (128 KiB) at
 * once; counted twice for frame headers and rounding.
 */
#define READ_ALLOWANCE (256 * 1024)

/* ------------------------------------------------------------------ */
/* Numbered frames and the bounds of what the kernel holds             */
/* ------------------------------------------------------------------ */

/* Frame @seq (header and payload of @size bytes) into @out. */
static void numbered_frame(GByteArray *out, size_t size, guint32 seq)
{
	g_autofree char *payload = g_malloc(size + 1);

	ipc_test_fill_numbered(payload, size, seq);
	g_byte_array_set_size(out, 0);
	ipc_test_append_frame(out, payload, (uint32_t)size);
}

/*
 * Payload bytes the kernel may hold for one direction of a connection
 * whose sending end is @fd: a Unix stream socket takes more while what it
 * holds is under SO_SNDBUF, one buffer of at most half SO_SNDBUF at a
 * time, so at most one and a half times SO_SNDBUF.
 */
static gsize kernel_bound(int fd)
{
	int sndbuf = 0;
	socklen_t len = sizeof(sndbuf);

	g_assert_no_errno(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len));
	return (gsize)sndbuf * 3 / 2;
}

/*
 * Bytes a peer may manage to write before backpressure stops it: the
 * high-water mark, what one read took in beyond it, and the kernel's
 * buffers of both directions (requests in the peer's send buffer, replies
 * in the other end's, which has the same default size).
 */
static gsize stall_bound(int fd, size_t high)
{
	return high + READ_ALLOWANCE + 2 * kernel_bound(fd);
}

/* Starts service NAME and accepts a raw client of this process (*@raw);
 * returns the service's end of the connection. */
static int service_with_raw_peer(void *ctx, int *raw)
{
	int svc = ipc_test_service_init(ctx, NAME);

	*raw = ipc_test_raw_connect(NAME);
	return ipc_test_accept(ctx, svc, NULL);
}

/* ------------------------------------------------------------------ */
/* A raw peer writing numbered frames without blocking                  */
/* ------------------------------------------------------------------ */

struct writer {
	int fd;
	size_t size;		/* payload size of each message */
	guint count;		/* messages to write */
	guint next;		/* the next message to start */
	GByteArray *frame;	/* the current frame */
	size_t off;		/* bytes of it written */
	guint64 written;	/* bytes written in all */
};

static void writer_init(struct writer *w, int fd, size_t size, guint count)
{
	*w = (struct writer){ .fd = fd, .size = size, .count = count };
	w->frame = g_byte_array_new();
}

static gboolean writer_done(const struct writer *w)
{
	return w->next == w->count && w->off == w->frame->len;
}

/* Writes until the socket is full (FALSE) or everything is written
 * (TRUE); never more than @bound bytes in all. */
static gboolean writer_push(struct writer *w, guint64 bound)
{
	while (!writer_done(w)) {
		ssize_t n;

		if (w->off == w->frame->len) {
			numbered_frame(w->frame, w->size, w->next++);
			w->off = 0;
		}
		n = send(w->fd, w->frame->data + w->off, w->frame->len - w->off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return FALSE;
		g_assert_no_errno(n);
		w->off += (size_t)n;
		w->written += (guint64)n;
		if (w->written > bound)
			g_test_message("wrote %" G_GUINT64_FORMAT " bytes, the "
				       "bound is %" G_GUINT64_FORMAT,
				       w->written, bound);
		g_assert_cmpuint(w->written, <=, bound);
	}
	return TRUE;
}

/*
 * Writes until the peer stops taking bytes for STALL_MS; the bytes written
 * never exceed @bound, and the writer must stall before all is written.
 */
static void writer_until_stall(struct writer *w, guint64 bound)
{
	for (;;) {
		g_assert_false(writer_push(w, bound));
		if (!ipc_test_poll(w->fd, POLLOUT, STALL_MS))
			break;
	}
	g_test_message("stalled after %" G_GUINT64_FORMAT " bytes (%u "
		       "messages started), bound %" G_GUINT64_FORMAT,
		       w->written, w->next, bound);
}

/* ------------------------------------------------------------------ */
/* A raw peer reading numbered frames without blocking                  */
/* ------------------------------------------------------------------ */

struct reader {
	int fd;
	size_t size;
	guint expected;		/* the next message number */
	GByteArray *in;		/* bytes read, not yet parsed */
	gboolean eof;		/* the end of the stream was read */
};

static void reader_init(struct reader *r, int fd, size_t size)
{
	*r = (struct reader){ .fd = fd, .size = size };
	r->in = g_byte_array_new();
}

/* Reads what is there (until the socket is empty) and checks every whole
 * frame; FALSE at EOF. */
static gboolean reader_pull(struct reader *r)
{
	guint8 buf[64 * 1024];
	ssize_t n;

	for (;;) {
		n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TRUE;
		g_assert_no_errno(n);
		if (n == 0)
			return FALSE;
		g_byte_array_append(r->in, buf, (guint)n);
		while (r->in->len >= 4) {
			guint32 len;

			memcpy(&len, r->in->data, 4);
			len = GUINT32_FROM_BE(len);
			if (r->in->len < 4 + len)
				break;
			ipc_test_assert_numbered(r->in->data + 4, len, r->size,
					r->expected++);
			g_byte_array_remove_range(r->in, 0, 4 + len);
		}
	}
}

/* Waits until @rfd is readable or (with @want_write) @wfd writable; a
 * negative fd is left out. */
static void wait_either(int rfd, int wfd, gboolean want_write)
{
	struct pollfd pfd[2] = {
		{ .fd = rfd, .events = POLLIN },
		{ .fd = want_write ? wfd : -1, .events = POLLOUT },
	};
	int n;

	do {
		n = poll(pfd, 2, -1);
	} while (n < 0 && errno == EINTR);
	g_assert_no_errno(n);
}

/* Writes what is left of @w (when not NULL) and reads @r until @count
 * messages were read, all in order and intact. */
static void drain(struct writer *w, struct reader *r, guint count)
{
	while (r->expected < count) {
		gboolean more = w && !writer_done(w);

		wait_either(r->fd, w ? w->fd : -1, more);
		if (more)
			writer_push(w, G_MAXUINT64);
		if (reader_pull(r))
			continue;
		r->eof = TRUE;
		if (r->expected < count)
			g_test_message("end of stream after %u of %u messages",
				       r->expected, count);
		g_assert_cmpuint(r->expected, ==, count);
	}
}

/* ------------------------------------------------------------------ */
/* Backpressure on an echo service                                      */
/* ------------------------------------------------------------------ */

struct flood {
	size_t high, max;	/* limits, 0 for the defaults */
	size_t size;		/* payload size of each message */
	guint count;		/* messages sent; each echoed unless refused */
};

/* Tells the test how many replies the flooding child read. */
static int flood_result[2];

/*
 * Checks and counts the replies in @r->in: numbered messages of @size
 * bytes, in increasing order, some missing (refused with -ENOBUFS).
 */
static void replies_check(GByteArray *in, size_t size, guint *next,
			  guint *count)
{
	while (in->len >= 4) {
		guint32 len, seq;

		memcpy(&len, in->data, 4);
		len = GUINT32_FROM_BE(len);
		if (in->len < 4 + len)
			break;
		g_assert_cmpuint(len, ==, size);
		memcpy(&seq, in->data + 4, 4);
		seq = GUINT32_FROM_BE(seq);
		g_assert_cmpuint(seq, >=, *next);
		ipc_test_assert_numbered(in->data + 4, len, size, seq);
		*next = seq + 1;
		(*count)++;
		g_byte_array_remove_range(in, 0, 4 + len);
	}
}

/*
 * Child: writes every request without reading a reply (the service must
 * keep reading it, or this never ends), then reads the replies until the
 * service closes, and tells the test how many came.
 */
static void flood_child(void *arg)
{
	const struct flood *plan = arg;
	int fd = ipc_test_raw_connect(NAME);
	GByteArray *in = g_byte_array_new();
	guint8 buf[64 * 1024];
	guint next = 0, count = 0;
	struct writer w;
	ssize_t n;

	close(flood_result[0]);
	writer_init(&w, fd, plan->size, plan->count);
	while (!writer_push(&w, G_MAXUINT64))
		wait_either(-1, fd, TRUE);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		g_byte_array_append(in, buf, (guint)n);
		replies_check(in, plan->size, &next, &count);
	}
	g_assert_no_errno(n);
	g_assert_cmpuint(in->len, ==, 0);
	ipc_test_write_all(flood_result[1], &count, sizeof(count));
	close(fd);
	g_byte_array_unref(w.frame);
	g_byte_array_unref(in);
}

/*
 * A peer sends requests to an echo service without reading the replies.
 * The service never stops reading it (a pause would make two libipc peers
 * doing the same wait for each other), and its queue for the peer stays
 * bounded: replies beyond the queue's maximum are refused with -ENOBUFS.
 * Every accepted reply reaches the peer once, in order, intact.
 */
static void test_backpressure(Fixture *f, gconstpointer data)
{
	const struct flood *plan = data;
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	guint rx = 0, tx = 0, refused = 0, read_back = 0;
	size_t index;
	int svc, conn, ret;
	pid_t pid;

	if (plan->high)
		g_assert_cmpint(ipc_context_queue_limits(f->ctx, plan->high,
							 plan->max), ==, 0);
	ipc_test_pipe(flood_result);
	svc = ipc_test_service_init(f->ctx, NAME);
	pid = ipc_test_fork(flood_child, (void *)plan);
	close(flood_result[1]);
	conn = ipc_test_accept(f->ctx, svc, &index);
	while (rx < plan->count || tx < rx - refused) {
		ipc_test_next_event(f->ctx, &ev);
		g_assert_cmpint(ev.fd, ==, conn);
		if (ev.type == MESSAGE_TX) {
			tx++;
			continue;
		}
		ipc_test_assert_message(&ev, index, conn, ev.data, ev.len);
		ipc_test_assert_numbered(ev.data, ev.len, plan->size, rx++);
		ret = ipc_schedule(f->ctx, conn, ev.data, ev.len);
		if (ret == -ENOBUFS)
			refused++;
		else
			g_assert_cmpint(ret, ==, 0);
	}
	g_test_message("%u requests, %u replies refused with -ENOBUFS",
		       rx, refused);
	g_assert_cmpuint(refused, >, 0);
	g_assert_cmpint(ipc_close_fd(f->ctx, conn), ==, 0);
	ipc_test_read_all(flood_result[0], &read_back, sizeof(read_back));
	close(flood_result[0]);
	g_assert_cmpuint(read_back, ==, tx);
	ipc_test_reap(pid);
}

/* 8,192 x 1 KiB = 8 MiB, 32 times the maximum. */
static const struct flood flood_small = {
	SMALL_HIGH, SMALL_MAX, 1024, 8192
};
/* The defaults: 64 MiB maximum, so 1,536 x 64 KiB = 96 MiB. */
static const struct flood flood_default = { 0, 0, 64 * 1024, 1536 };

/* ------------------------------------------------------------------ */
/* -ENOBUFS                                                             */
/* ------------------------------------------------------------------ */

#define REFUSED_SIZE 1000

/*
 * Schedules @size-byte messages from number *@seq on until one is refused
 * with -ENOBUFS; returns the bytes (frames) accepted.  Refused early: the
 * queue alone was within one message of @max (what the kernel took left
 * the queue, so the bytes accepted are at least those queued).  Refused
 * late: more than @max plus what the kernel holds.
 */
static gsize schedule_until_full(void *ctx, int fd, size_t size, guint *seq,
				 size_t max)
{
	g_autofree char *buf = g_malloc(size);
	gsize accepted = 0;
	int ret;

	for (;;) {
		ipc_test_fill_numbered(buf, size, *seq);
		ret = ipc_schedule(ctx, fd, buf, size);
		if (ret == -ENOBUFS)
			break;
		g_assert_cmpint(ret, ==, 0);
		accepted += 4 + size;
		(*seq)++;
		if (accepted > max + kernel_bound(fd))
			g_test_message("%" G_GSIZE_FORMAT " bytes accepted, "
				       "max %zu, the kernel holds at most %"
				       G_GSIZE_FORMAT, accepted, max,
				       kernel_bound(fd));
		g_assert_cmpuint(accepted, <=, max + kernel_bound(fd));
	}
	g_test_message("%u messages (%" G_GSIZE_FORMAT " bytes) accepted "
		       "before -ENOBUFS; max %zu, bound %" G_GSIZE_FORMAT,
		       *seq, accepted, max, max + kernel_bound(fd));
	g_assert_cmpuint(accepted + 4 + size, >, max);
	/* Refused again while nothing drained. */
	g_assert_cmpint(ipc_schedule(ctx, fd, buf, size), ==, -ENOBUFS);
	return accepted;
}

/* Runs the loop and reads the raw peer until @count messages were read
 * and written whole (MESSAGE_TX) in all. */
static void pump(void *ctx, int conn, struct reader *r, guint *tx,
		 guint count)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	while (r->expected < count || *tx < count) {
		g_assert_true(reader_pull(r));
		if (*tx == count)
			continue;
		ipc_test_next_event(ctx, &ev);
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
				ipc_test_event_name(MESSAGE_TX));
		g_assert_cmpint(ev.fd, ==, conn);
		(*tx)++;
	}
}

/* The next event is the MESSAGE_RX of a frame the raw peer writes now:
 * nothing else (such as one more MESSAGE_TX) was pending. */
static void expect_nothing_pending(void *ctx, int raw, int conn)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_write_frame(raw, "end", 3);
	ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, conn);
	g_assert_cmpmem(ev.data, ev.len, "end", 3);
}

/*
 * A peer that reads nothing: ipc_schedule() accepts about max bytes, then
 * refuses with -ENOBUFS and queues nothing; once the peer reads, it
 * accepts again, and the peer gets every accepted message once, in order.
 * @data: the payload size.
 */
static void test_enobufs(Fixture *f, gconstpointer data)
{
	size_t size = GPOINTER_TO_SIZE(data);
	int raw, conn;
	struct reader r;
	guint seq = 0, tx = 0, refused, again;

	g_assert_cmpint(ipc_context_queue_limits(f->ctx, SMALL_HIGH, SMALL_MAX),
			==, 0);
	conn = service_with_raw_peer(f->ctx, &raw);
	reader_init(&r, raw, size);

	schedule_until_full(f->ctx, conn, size, &seq, SMALL_MAX);
	refused = seq;

	/* The peer reads: everything accepted arrives, then the loop has
	 * nothing more to report (the refused message was never queued). */
	pump(f->ctx, conn, &r, &tx, refused);
	expect_nothing_pending(f->ctx, raw, conn);

	/* Accepted again: the refused message and the next ones (as many as
	 * fit under max, at most 8) follow the others without a gap or a
	 * duplicate. */
	again = MIN(8, SMALL_MAX / (4 + size));
	g_assert_cmpuint(again, >=, 2);
	for (guint i = 0; i < again; i++) {
		g_autofree char *buf = g_malloc(size);

		ipc_test_fill_numbered(buf, size, seq);
		g_assert_cmpint(ipc_schedule(f->ctx, conn, buf, size), ==, 0);
		seq++;
	}
	pump(f->ctx, conn, &r, &tx, seq);
	expect_nothing_pending(f->ctx, raw, conn);
	g_assert_cmpuint(r.in->len, ==, 0);
	g_byte_array_unref(r.in);
	g_assert_cmpint(ipc_close_fd(f->ctx, conn), ==, 0);
	close(raw);
}

/* A message larger than max is refused even by an empty queue (a large
 * message usually leaves without being queued). */
static void test_enobufs_single(Fixture *f, gconstpointer data)
{
	g_autofree char *big = g_malloc0(SMALL_MAX + 1);
	int raw, conn;

	(void)data;
	g_assert_cmpint(ipc_context_queue_limits(f->ctx, SMALL_HIGH, SMALL_MAX),
			==, 0);
	conn = service_with_raw_peer(f->ctx, &raw);
	g_assert_cmpint(ipc_schedule(f->ctx, conn, big, SMALL_MAX), ==,
			-ENOBUFS);
	g_assert_cmpint(ipc_schedule(f->ctx, conn, big, SMALL_MAX - 4), ==, 0);
	g_assert_cmpint(ipc_close_fd(f->ctx, conn), ==, 0);
	close(raw);
}

/* The default maximum, 64 MiB, with 1 MiB messages. */
static void test_enobufs_default(Fixture *f, gconstpointer data)
{
	size_t size = 1024 * 1024;
	int raw, conn;
	guint seq = 0;

	(void)data;
	conn = service_with_raw_peer(f->ctx, &raw);
	schedule_until_full(f->ctx, conn, size, &seq, IPC_QUEUE_MAX_DEFAULT);
	g_assert_cmpint(ipc_close_fd(f->ctx, conn), ==, 0);
	close(raw);
}

static void test_limit_arguments(Fixture *f, gconstpointer data)
{
	char buf[100] = { 0 };
	int raw, conn;

	(void)data;
	g_assert_cmpint(ipc_context_queue_limits(NULL, 10, 20), ==, -EINVAL);
	g_assert_cmpint(ipc_context_queue_limits(f->ctx, 0, 20), ==, -EINVAL);
	g_assert_cmpint(ipc_context_queue_limits(f->ctx, 0, 0), ==, -EINVAL);
	g_assert_cmpint(ipc_context_queue_limits(f->ctx, 100, 99), ==,
			-EINVAL);
	/* None of them changed the limits: 100 bytes still fit. */
	conn = service_with_raw_peer(f->ctx, &raw);
	g_assert_cmpint(ipc_schedule(f->ctx, conn, buf, sizeof(buf)), ==, 0);
	/* Equal limits are valid, and they apply at once: 104 bytes are
	 * queued (the loop has not run), and 104 more would exceed 200. */
	g_assert_cmpint(ipc_context_queue_limits(f->ctx, 200, 200), ==, 0);
	g_assert_cmpint(ipc_schedule(f->ctx, conn, buf, sizeof(buf)), ==,
			-ENOBUFS);
	g_assert_cmpint(ipc_schedule(f->ctx, conn, buf, 92), ==, 0);
	g_assert_cmpint(ipc_close_fd(f->ctx, conn), ==, 0);
	close(raw);
}

/* ------------------------------------------------------------------ */
/* Backpressure through a switch                                        */
/* ------------------------------------------------------------------ */

#define RELAY_COUNT 8192
#define RELAY_SIZE 1024

/* go_a: the switch is set up, A may write; go_b: A stalled, B may read. */
static int go_a[2], go_b[2];

/* Child A: writes until it stalls, lets B read, then writes the rest. */
static void relay_writer(void *arg)
{
	int fd = ipc_test_raw_connect(NAME);
	struct writer w;

	(void)arg;
	close(go_a[1]);
	close(go_b[0]);
	writer_init(&w, fd, RELAY_SIZE, RELAY_COUNT);
	ipc_test_wait_notify(go_a[0]);
	writer_until_stall(&w, stall_bound(fd, SMALL_HIGH));
	ipc_test_notify(go_b[1]);
	while (!writer_push(&w, G_MAXUINT64))
		wait_either(-1, fd, TRUE);
	close(fd);
	g_byte_array_unref(w.frame);
}

/* Child B: reads nothing until A stalled, then every message, in order,
 * and the end of the stream once A is gone. */
static void relay_reader(void *arg)
{
	int fd = ipc_test_raw_connect(NAME);
	struct reader r;

	(void)arg;
	/* Only A holds go_b's writing end: if A fails, B sees the end of the
	 * pipe (and fails too) instead of waiting for ever. */
	close(go_a[0]);
	close(go_a[1]);
	close(go_b[1]);
	reader_init(&r, fd, RELAY_SIZE);
	ipc_test_wait_notify(go_b[0]);
	drain(NULL, &r, RELAY_COUNT);
	g_assert_cmpuint(r.in->len, ==, 0);
	if (!r.eof)
		ipc_test_assert_eof(fd);
	close(fd);
	g_byte_array_unref(r.in);
}

/*
 * A -> relay -> B, where B does not read: the relay stops reading A, so
 * A's writes stall after a bounded number of bytes; once B reads, every
 * message arrives, in order.
 */
static void test_switch_backpressure(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	guint rx = 0, tx = 0, gone = 0;
	int svc, a, b;
	pid_t pid_a, pid_b;

	(void)data;
	g_assert_cmpint(ipc_context_queue_limits(f->ctx, SMALL_HIGH, SMALL_MAX),
			==, 0);
	svc = ipc_test_service_init(f->ctx, NAME);
	ipc_test_pipe(go_a);
	ipc_test_pipe(go_b);
	pid_a = ipc_test_fork(relay_writer, NULL);
	a = ipc_test_accept(f->ctx, svc, NULL);
	pid_b = ipc_test_fork(relay_reader, NULL);
	close(go_b[0]);
	close(go_b[1]);
	b = ipc_test_accept(f->ctx, svc, NULL);
	g_assert_cmpint(ipc_add_switch(f->ctx, a, b), ==, 0);
	ipc_test_notify(go_a[1]);
	while (gone < 2) {
		ipc_test_next_event(f->ctx, &ev);
		switch (ev.type) {
		case SWITCH_RX:
			g_assert_cmpint(ev.fd, ==, a);
			ipc_test_assert_numbered(ev.data, ev.len, RELAY_SIZE,
						 rx++);
			break;
		case SWITCH_TX:
			g_assert_cmpint(ev.fd, ==, b);
			tx++;
			break;
		case DISCONNECTION:
			g_assert_true(ev.fd == a || ev.fd == b);
			gone++;
			break;
		default:
			g_test_message("unexpected %s",
				       ipc_test_event_name(ev.type));
			g_assert_not_reached();
		}
	}
	g_assert_cmpuint(rx, ==, RELAY_COUNT);
	g_assert_cmpuint(tx, ==, RELAY_COUNT);
	ipc_test_reap(pid_a);
	ipc_test_reap(pid_b);
	close(go_a[0]);
	close(go_a[1]);
}

/* ------------------------------------------------------------------ */
/* Incoming memory                                                      */
/* ------------------------------------------------------------------ */

#define CROWD_PROCS 10
#define CROWD_PER_PROC 100
#define CROWD (CROWD_PROCS * CROWD_PER_PROC)
/* Each peer announces the largest message allowed and sends 1 KiB. */
#define ANNOUNCED IPC_MAX_MESSAGE_SIZE_DEFAULT
#define PART 1024

/*
 * The RSS the 1,000 half-sent messages may add to the service: what
 * arrived is 1 MiB; each connection's read buffer is a 64 KiB malloc of
 * which the read touched only the first page or two, so about 8 KiB a
 * connection (8 MiB), plus the connection table.  16 MiB leaves twice
 * that; a service that touched the announced 16 MiB per peer would need
 * 16 GiB.
 */
#define CROWD_RSS_BOUND (16u * 1024 * 1024)
/*
 * What they may add to the bytes the service has malloc'ed, touched or
 * not: the same 16 MiB, 16 KiB a peer for the 1 KiB it sent.  This
 * catches a service that allocates the announced length without touching
 * it (16 GiB in all), which the RSS cannot show, and one that keeps a
 * whole read buffer (64 KiB or more) for each waiting peer.
 */
#define CROWD_HEAP_BOUND (16u * 1024 * 1024)

#define HELLO "still there?"

static int crowd_ready[2], crowd_more[2], crowd_go[2], crowd_bye[2];
/* Whether the peers send the header, wait until the service has read it,
 * then the 1 KiB: two reads for every peer, the second one knowing the
 * announced length (which once made each peer's buffer double). */
static gboolean crowd_split;

/* The first peer of the first and the last child finish their message. */
static gboolean crowd_finisher(int proc, int i)
{
	return i == 0 && (proc == 0 || proc == CROWD_PROCS - 1);
}

static void crowd_child(void *arg)
{
	int proc = GPOINTER_TO_INT(arg);
	g_autoptr(GByteArray) frame = g_byte_array_new();
	/* Only a finisher needs all of it (cheaper under valgrind). */
	size_t size = crowd_finisher(proc, 0) ? ANNOUNCED : PART;
	g_autofree char *payload = g_malloc(size);
	guint32 header = GUINT32_TO_BE(ANNOUNCED);
	int fds[CROWD_PER_PROC];

	ipc_test_fill_numbered(payload, size, (guint32)proc);
	for (int i = 0; i < CROWD_PER_PROC; i++) {
		fds[i] = ipc_test_raw_connect(NAME);
		ipc_test_write_all(fds[i], &header, sizeof(header));
		if (!crowd_split)
			ipc_test_write_all(fds[i], payload, PART);
	}
	if (crowd_split) {
		ipc_test_notify(crowd_ready[1]);
		ipc_test_wait_notify(crowd_more[0]);
		for (int i = 0; i < CROWD_PER_PROC; i++)
			ipc_test_write_all(fds[i], payload, PART);
	}
	ipc_test_notify(crowd_ready[1]);
	ipc_test_wait_notify(crowd_go[0]);
	for (int i = 0; i < CROWD_PER_PROC; i++) {
		ipc_test_read_frame(fds[i], frame);
		g_assert_cmpmem(frame->data, frame->len, HELLO, strlen(HELLO));
		if (crowd_finisher(proc, i))
			ipc_test_write_all(fds[i], payload + PART,
					   ANNOUNCED - PART);
	}
	ipc_test_wait_notify(crowd_bye[0]);
	for (int i = 0; i < CROWD_PER_PROC; i++)
		close(fds[i]);
}

/* Counts the one-byte notes children wrote to the pipe @fd so far. */
static guint notes_read(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	guint8 buf[64];
	guint count = 0;
	ssize_t n;

	while (poll(&pfd, 1, 0) == 1) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		g_assert_cmpint(n, >, 0);
		count += (guint)n;
	}
	return count;
}

/* TRUE when the library has read every byte the peers sent. */
static gboolean all_read(const GArray *conns)
{
	for (guint i = 0; i < conns->len; i++)
		if (ipc_test_pending_bytes(g_array_index(conns, int, i)) > 0)
			return FALSE;
	return TRUE;
}

/* Event buffer made before the first measurement, so that it is not
 * counted: a message may be up to ANNOUNCED bytes. */
static void event_presize(struct ipc_test_event *ev)
{
	ev->data = g_malloc(ANNOUNCED);
	ev->capacity = ANNOUNCED;
}

/* What a test measures of the service's memory. */
struct memory {
	gsize vm, rss, heap;
	gboolean have_heap;
};

/* The figures, after giving malloc's free memory back to the system, so
 * that memory freed by earlier cases and reused here does not hide
 * growth. */
static void memory_get(struct memory *m)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	ipc_test_memory(0, &m->vm, &m->rss);
	m->have_heap = ipc_test_heap_in_use(&m->heap);
}

#define KIB_DELTA(a, b) (((gssize)(b) - (gssize)(a)) / 1024)

static void memory_report(const char *what, const struct memory *m0,
			  const struct memory *m1)
{
	g_test_message("%s: RSS +%" G_GSSIZE_FORMAT " KiB (%" G_GSIZE_FORMAT
		       " KiB), malloc'ed +%" G_GSSIZE_FORMAT " KiB, virtual +%"
		       G_GSSIZE_FORMAT " KiB%s", what,
		       KIB_DELTA(m0->rss, m1->rss), m1->rss / 1024,
		       KIB_DELTA(m0->heap, m1->heap),
		       KIB_DELTA(m0->vm, m1->vm),
		       ipc_test_memory_instrumented() ?
			       " (instrumented: bounds not checked)" : "");
}

/* The bounds above, when memory figures mean something. */
static void crowd_check_memory(const struct memory *m0,
			       const struct memory *m1)
{
	if (ipc_test_memory_instrumented())
		return;
	g_assert_cmpuint(m1->rss, <=, m0->rss + CROWD_RSS_BOUND);
	if (m0->have_heap)
		g_assert_cmpuint(m1->heap, <=, m0->heap + CROWD_HEAP_BOUND);
}

/* A raw peer of this process announces more than the maximum: it is
 * disconnected as soon as the header arrives. */
static void oversized_peer(void *ctx, int svc)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	guint32 header = GUINT32_TO_BE(ANNOUNCED + 1);
	int raw = ipc_test_raw_connect(NAME);
	int conn = ipc_test_accept(ctx, svc, NULL);

	ipc_test_write_all(raw, &header, sizeof(header));
	ipc_test_wait_for(ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, conn);
	ipc_test_assert_eof(raw);
	close(raw);
}

/*
 * 1,000 peers each announce a 16 MiB message and send 1 KiB of it: the
 * service's memory grows with what arrived, not with what was announced.
 * A peer announcing more than the maximum is disconnected meanwhile; the
 * 1,000 others are still served (each reads a message from the service,
 * two finish their 16 MiB message, all leave cleanly).
 */
static void test_incoming_memory(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GArray) conns = NULL;
	struct memory m0, m1;
	guint ready = 0, tx = 0, rx = 0, gone = 0;
	pid_t pids[CROWD_PROCS];
	int svc;

	(void)data;
	if (ipc_test_raise_fd_limit(CROWD + 64) < CROWD + 64) {
		g_test_skip("not enough fds for 1,000 connections");
		return;
	}
	svc = ipc_test_service_init(f->ctx, NAME);
	event_presize(&ev);
	crowd_split = GPOINTER_TO_INT(data);
	ipc_test_pipe(crowd_ready);
	ipc_test_pipe(crowd_more);
	ipc_test_pipe(crowd_go);
	ipc_test_pipe(crowd_bye);
	memory_get(&m0);
	for (int p = 0; p < CROWD_PROCS; p++)
		pids[p] = ipc_test_fork(crowd_child, GINT_TO_POINTER(p));
	/* Made after the forks: the children _exit() without freeing. */
	conns = g_array_new(FALSE, FALSE, sizeof(int));

	/* Accept everyone, until the library has read every byte sent; the
	 * timer wakes the loop to look. */
	ipc_context_timer(f->ctx, 10);
	for (guint phase = 1; phase <= (crowd_split ? 2u : 1u); phase++) {
		while (conns->len < CROWD || ready < phase * CROWD_PROCS ||
		       !all_read(conns)) {
			ipc_test_next_event(f->ctx, &ev);
			if (ev.type == TIMER) {
				ready += notes_read(crowd_ready[0]);
				continue;
			}
			g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
					ipc_test_event_name(CONNECTION));
			g_array_append_val(conns, ev.newfd);
		}
		for (int p = 0; crowd_split && phase == 1 && p < CROWD_PROCS;
		     p++)
			ipc_test_notify(crowd_more[1]);
	}
	memory_get(&m1);
	memory_report(crowd_split ? "1,000 peers, 1 KiB of 16 MiB each, "
				    "header read first" :
				    "1,000 peers, 1 KiB of 16 MiB each",
		      &m0, &m1);
	crowd_check_memory(&m0, &m1);

	ipc_context_timer(f->ctx, 0);
	oversized_peer(f->ctx, svc);

	/* The others are all still there. */
	for (guint i = 0; i < conns->len; i++) {
		int fd = g_array_index(conns, int, i);

		g_assert_cmpint(ipc_schedule(f->ctx, fd, HELLO, strlen(HELLO)),
				==, 0);
	}
	for (int p = 0; p < CROWD_PROCS; p++)
		ipc_test_notify(crowd_go[1]);
	while (tx < CROWD || rx < 2) {
		guint32 seq;

		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == MESSAGE_TX) {
			tx++;
			continue;
		}
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
				ipc_test_event_name(MESSAGE_RX));
		g_assert_cmpuint(ev.len, ==, ANNOUNCED);
		memcpy(&seq, ev.data, sizeof(seq));
		seq = GUINT32_FROM_BE(seq);
		g_assert_true(seq == 0 || seq == CROWD_PROCS - 1);
		ipc_test_assert_numbered(ev.data, ev.len, ANNOUNCED, seq);
		rx++;
	}
	for (int p = 0; p < CROWD_PROCS; p++)
		ipc_test_notify(crowd_bye[1]);
	while (gone < CROWD) {
		ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
		gone++;
	}
	for (int p = 0; p < CROWD_PROCS; p++)
		ipc_test_reap(pids[p]);
	for (guint i = 0; i < 2; i++) {
		close(crowd_ready[i]);
		close(crowd_more[i]);
		close(crowd_go[i]);
		close(crowd_bye[i]);
	}
}

/*
 * One peer announces 16 MiB and sends DRIP_PIECES pieces of DRIP_PIECE
 * bytes, each read by the service before the next is sent.
 */
#define DRIP_PIECES 32
#define DRIP_PIECE (4 * 1024)
#define DRIP_SENT (DRIP_PIECES * DRIP_PIECE)
/*
 * Growing with the bytes that arrive, at most doubling, the read buffer
 * holds at most twice what arrived (or one chunk, 128 KiB): 256 KiB here.
 * The bound, for both the bytes malloc'ed and the RSS, is four times that.
 * Doubling at every read instead reaches the announced length after about
 * ten reads (32 MiB malloc'ed, 16 MiB resident: the library did that once).
 */
#define DRIP_BOUND (4 * 2 * DRIP_SENT)

static int drip_go[2];

static void drip_child(void *arg)
{
	g_autofree char *payload = g_malloc(ANNOUNCED);
	guint32 header = GUINT32_TO_BE(ANNOUNCED);
	int fd = ipc_test_raw_connect(NAME);

	(void)arg;
	ipc_test_fill_numbered(payload, ANNOUNCED, 77);
	ipc_test_write_all(fd, &header, sizeof(header));
	for (size_t sent = 0; sent < DRIP_SENT; sent += DRIP_PIECE) {
		ipc_test_wait_notify(drip_go[0]);
		ipc_test_write_all(fd, payload + sent, DRIP_PIECE);
		ipc_test_notify(crowd_ready[1]);
	}
	ipc_test_wait_notify(drip_go[0]);
	ipc_test_write_all(fd, payload + DRIP_SENT, ANNOUNCED - DRIP_SENT);
	close(fd);
}

/*
 * The read buffer of a large message grows with the bytes that arrive
 * (at most doubling), not with the number of reads nor to the announced
 * length: a peer that sends a large message in many small pieces makes
 * the service hold about what it sent.  The message then arrives whole.
 */
static void test_incoming_drip(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GArray) conns = NULL;
	struct memory m0, m1;
	guint pieces = 0;
	size_t index;
	int svc, conn;
	pid_t pid;

	(void)data;
	svc = ipc_test_service_init(f->ctx, NAME);
	event_presize(&ev);
	ipc_test_pipe(crowd_ready);
	ipc_test_pipe(drip_go);
	memory_get(&m0);
	pid = ipc_test_fork(drip_child, NULL);
	conn = ipc_test_accept(f->ctx, svc, &index);
	conns = g_array_new(FALSE, FALSE, sizeof(int));
	g_array_append_val(conns, conn);
	ipc_context_timer(f->ctx, 5);
	/* One piece at a time: the next is sent once the library has read
	 * the last one. */
	ipc_test_notify(drip_go[1]);
	while (pieces < DRIP_PIECES) {
		guint sent;

		ipc_test_wait_for(f->ctx, TIMER, &ev);
		sent = notes_read(crowd_ready[0]);
		g_assert_cmpuint(sent, <=, 1);
		while (sent && !all_read(conns))
			ipc_test_wait_for(f->ctx, TIMER, &ev);
		if (!sent)
			continue;
		if (++pieces < DRIP_PIECES)
			ipc_test_notify(drip_go[1]);
	}
	memory_get(&m1);
	memory_report("32 pieces of 4 KiB of 16 MiB", &m0, &m1);
	ipc_context_timer(f->ctx, 0);
	ipc_test_notify(drip_go[1]);
	ipc_test_wait_for_ignoring(f->ctx, MESSAGE_RX, IPC_TEST_BIT(TIMER),
				   &ev);
	g_assert_cmpint(ev.fd, ==, conn);
	ipc_test_assert_numbered(ev.data, ev.len, ANNOUNCED, 77);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, conn);
	ipc_test_reap(pid);
	for (guint i = 0; i < 2; i++) {
		close(crowd_ready[i]);
		close(drip_go[i]);
	}
	if (ipc_test_memory_instrumented())
		return;
	g_assert_cmpuint(m1.rss, <=, m0.rss + DRIP_BOUND);
	if (m0.have_heap)
		g_assert_cmpuint(m1.heap, <=, m0.heap + DRIP_BOUND);
}

/* ------------------------------------------------------------------ */
/* The buffer kept after a large message                               */
/* ------------------------------------------------------------------ */

/*
 * Larger than glibc ever serves from its heap (32 MiB), so the library's
 * queue for it is a mapping of its own and freeing it shows in the
 * sender's RSS at once.
 */
#define SPARE_SIZE (48u * 1024 * 1024)
/* How much the sender's RSS must drop once that buffer is freed. */
#define SPARE_DROP (32u * 1024 * 1024)
/* How long the parent looks for the drop: far above the keep time. */
#define SPARE_WAIT_MS 20000

static int spare_note[2];

/* One event, through the context fd when @cfd >= 0, else blocking. */
static char spare_wait(void *ctx, int cfd)
{
	struct pollfd p = { .fd = cfd, .events = POLLIN };
	size_t index, len = 0;
	int fd, newfd, ret;
	char type;

	for (;;) {
		if (cfd >= 0)
			g_assert_cmpint(poll(&p, 1, -1), ==, 1);
		ret = ipc_wait_event_timeout(ctx, &type, &index, &fd, &newfd,
					     NULL, &len, cfd >= 0 ? 0 : -1);
		if (ret != -EAGAIN) {
			g_assert_cmpint(ret, ==, 0);
			return type;
		}
	}
}

/*
 * The sender: a client that queues one large message (most of it stays
 * in the library's queue until the parent reads it), tells the parent its
 * RSS once it is sent, and then only waits (in ipc_wait_event(), or in poll(2)
 * on the context fd when @arg is non-zero) until the parent hangs up.
 */
static void spare_child(void *arg)
{
	g_autofree char *payload = g_malloc(SPARE_SIZE);
	void *ctx = NULL;
	int cfd = -1, fd;
	gsize rss;
	char type;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	g_assert_cmpint(ipc_context_max_message_size(ctx, SPARE_SIZE), ==, 0);
	if (GPOINTER_TO_INT(arg))
		g_assert_cmpint(cfd = ipc_context_fd(ctx), >=, 0);
	fd = ipc_test_connect(ctx, NAME);
	ipc_test_fill_numbered(payload, SPARE_SIZE, 5);
	g_assert_cmpint(ipc_schedule(ctx, fd, payload, SPARE_SIZE), ==, 0);
	do {
		type = spare_wait(ctx, cfd);
		if (type != MESSAGE_TX)
			continue;
		/* Only a library call may free the buffer: it is here now. */
		ipc_test_memory(0, NULL, &rss);
		ipc_test_write_all(spare_note[1], &rss, sizeof(rss));
	} while (type != DISCONNECTION);
	ipc_context_deinit(&ctx);
}

/*
 * The buffer a large message was queued in is kept for the next large
 * one (no fresh pages per message), but only for a short while
 * (IPC_SPARE_KEEP_NS): a program that just waits afterwards, in
 * ipc_wait_event() or in its own loop on the context fd, gives it back
 * without any event coming, so its memory does not stay at its largest
 * message.  (Received frames rarely need it: they land in the caller's
 * buffer.)
 */
static void test_large_spare(Fixture *f, gconstpointer data)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();
	int listener, fd;
	gsize kept, rss = 0;
	gint64 until;
	pid_t pid;

	if (GPOINTER_TO_INT(data) && ipc_context_fd(f->ctx) == -EOPNOTSUPP) {
		g_test_skip("built with the poll backend: no context fd");
		return;
	}
	listener = ipc_test_raw_listen(NAME);
	ipc_test_expect_leftover(f, NAME);
	ipc_test_pipe(spare_note);
	pid = ipc_test_fork(spare_child, (gpointer)data);
	fd = accept(listener, NULL, NULL);
	g_assert_no_errno(fd);
	g_assert_cmpuint(ipc_test_read_frame(fd, frame), ==, SPARE_SIZE);
	ipc_test_read_all(spare_note[0], &kept, sizeof(kept));
	until = g_get_monotonic_time() + SPARE_WAIT_MS * 1000;
	do {
		g_usleep(10 * 1000);
		ipc_test_memory(pid, NULL, &rss);
	} while (rss + SPARE_DROP > kept && g_get_monotonic_time() < until);
	g_test_message("sender RSS: %" G_GSIZE_FORMAT " KiB once sent, %"
		       G_GSIZE_FORMAT " KiB later", kept / 1024, rss / 1024);
	close(fd);
	close(listener);
	ipc_test_reap(pid);
	for (guint i = 0; i < 2; i++)
		close(spare_note[i]);
	ipc_test_assert_numbered(frame->data, frame->len, SPARE_SIZE, 5);
	if (ipc_test_memory_instrumented())
		return;
	g_assert_cmpuint(rss + SPARE_DROP, <=, kept);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, func, data) \
	IPC_TEST_ADD("/ipc/limits/" path, func, data)
	ADD("arguments", test_limit_arguments, NULL);
	ADD("backpressure/small", test_backpressure, &flood_small);
	ADD("backpressure/default", test_backpressure, &flood_default);
	ADD("backpressure/switch", test_switch_backpressure, NULL);
	ADD("enobufs/small", test_enobufs, GSIZE_TO_POINTER(REFUSED_SIZE));
	ADD("enobufs/large", test_enobufs, GSIZE_TO_POINTER(100 * 1024));
	ADD("enobufs/single", test_enobufs_single, NULL);
	ADD("enobufs/default", test_enobufs_default, NULL);
	ADD("incoming/drip", test_incoming_drip, NULL);
	ADD("incoming/thousand-peers", test_incoming_memory, NULL);
	ADD("incoming/thousand-peers-split", test_incoming_memory,
	    GINT_TO_POINTER(1));
	ADD("large-spare/wait", test_large_spare, GINT_TO_POINTER(0));
	ADD("large-spare/context-fd", test_large_spare, GINT_TO_POINTER(1));
#undef ADD

	return g_test_run();
}
