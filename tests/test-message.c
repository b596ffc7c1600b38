/*
 * Messages through the whole lifecycle: connection, both directions,
 * MESSAGE_TX, disconnection, framing edge cases, size limits, small
 * buffers, blocking reads, backpressure and SIGPIPE.
 *
 * The service runs in the test process; clients are raw sockets speaking
 * the wire format (in this process or a forked child) or libipc clients in
 * forked children.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NAME "msg"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* One connection to the fixture's service. */
struct peer {
	int fd;		/* the service side, held by the context */
	size_t index;	/* its index */
	int raw;	/* the raw client socket, or -1 when in a child */
};

/* A raw client of service @service connects and is accepted. */
static void peer_connect(void *ctx, int service, struct peer *p)
{
	p->raw = ipc_test_raw_connect(NAME);
	p->fd = ipc_test_accept(ctx, service, &p->index);
}

/* The fixture's context starts service NAME and accepts a raw client into
 * @p; returns the service's fd. */
static int service_with_peer(struct ipc_test_fixture *f, struct peer *p)
{
	int service = ipc_test_service_init(f->ctx, NAME);

	peer_connect(f->ctx, service, p);
	return service;
}

static void expect_rx(void *ctx, const struct peer *p, const void *data,
		      size_t len)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, p->index, p->fd, data, len);
}

static void expect_tx(void *ctx, const struct peer *p)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_wait_for(ctx, MESSAGE_TX, &ev);
	g_assert_cmpint(ev.fd, ==, p->fd);
	g_assert_cmpuint(ev.index, ==, p->index);
	g_assert_cmpint(ev.newfd, ==, -1);
	g_assert_cmpuint(ev.len, ==, 0);
}

/* The next event is the DISCONNECTION of @p, whose fd is then closed. */
static void expect_disconnection(void *ctx, const struct peer *p)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_wait_for(ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, p->fd);
	g_assert_cmpuint(ev.index, ==, p->index);
	g_assert_cmpint(ev.newfd, ==, -1);
	g_assert_cmpuint(ev.len, ==, 0);
	ipc_test_assert_fd_closed(p->fd);
}

/* The raw client reads one frame equal to @data. */
static void expect_frame(const struct peer *p, const void *data, size_t len)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();

	g_assert_cmpuint(ipc_test_read_frame(p->raw, frame), ==, len);
	g_assert_cmpmem(frame->data, frame->len, data, len);
}

/* The raw client hangs up; the service reports it. */
static void peer_hangup(void *ctx, struct peer *p)
{
	close(p->raw);
	p->raw = -1;
	expect_disconnection(ctx, p);
}

/* Payload @seq of a series: its 4-byte big-endian sequence number, then
 * the pattern of that number. */
static void fill_numbered(char *buf, size_t len, guint32 seq)
{
	guint32 be = GUINT32_TO_BE(seq);

	ipc_test_fill(buf, len, seq);
	memcpy(buf, &be, MIN(len, sizeof(be)));
}

static void assert_numbered(const char *data, size_t len, size_t expected_len,
			    guint32 seq)
{
	g_autofree char *expected = g_malloc(expected_len + 1);

	fill_numbered(expected, expected_len, seq);
	g_assert_cmpmem(data, len, expected, expected_len);
}

/* ------------------------------------------------------------------ */
/* Connection and disconnection                                         */
/* ------------------------------------------------------------------ */

static void assert_nonblock_cloexec(int fd)
{
	g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
	g_assert_cmpint(fcntl(fd, F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
}

static void test_connection_event(struct ipc_test_fixture *f,
				  gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	struct peer a, b;

	(void)data;
	peer_connect(f->ctx, service, &a);
	peer_connect(f->ctx, service, &b);
	g_assert_cmpint(a.fd, !=, b.fd);
	g_assert_cmpuint(a.index, !=, b.index);
	assert_nonblock_cloexec(a.fd);
	assert_nonblock_cloexec(b.fd);

	/* Closing one connection leaves the other's index and fd alone. */
	peer_hangup(f->ctx, &a);
	ipc_test_write_frame(b.raw, "still here", 10);
	expect_rx(f->ctx, &b, "still here", 10);
	peer_hangup(f->ctx, &b);
}

/* Writing to a closed connection fails; nothing else is reported. */
static void test_disconnection(struct ipc_test_fixture *f, gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	struct peer a, b;

	(void)data;
	peer_connect(f->ctx, service, &a);
	peer_hangup(f->ctx, &a);
	g_assert_cmpint(ipc_write(f->ctx, a.fd, "x", 1), ==, -EBADF);
	g_assert_cmpint(ipc_schedule(f->ctx, a.fd, "x", 1), ==, -EBADF);
	g_assert_cmpint(ipc_close_fd(f->ctx, a.fd), ==, -EBADF);
	g_assert_cmpint(ipc_close(f->ctx, a.index), ==, -EBADF);
	/* The next event is the next connection's, not a second DISCONNECTION. */
	peer_connect(f->ctx, service, &b);
	peer_hangup(f->ctx, &b);
}

/* ipc_close_fd() makes one write attempt for what is queued, produces no
 * DISCONNECTION, and the peer sees the end of the stream. */
static void test_close_flushes(struct ipc_test_fixture *f, gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	struct peer a, b;

	peer_connect(f->ctx, service, &a);
	g_assert_cmpint(ipc_schedule(f->ctx, a.fd, "bye", 3), ==, 0);
	if (data)
		g_assert_cmpint(ipc_close(f->ctx, a.index), ==, 0);
	else
		g_assert_cmpint(ipc_close_fd(f->ctx, a.fd), ==, 0);
	ipc_test_assert_fd_closed(a.fd);
	expect_frame(&a, "bye", 3);
	ipc_test_assert_eof(a.raw);
	close(a.raw);
	/* No event for the closed connection: the next is b's CONNECTION. */
	peer_connect(f->ctx, service, &b);
	peer_hangup(f->ctx, &b);
}

/*
 * The fixture's context connects to a raw listener standing in for the
 * service; p->raw is the accepted end.  p->index stays unknown until an
 * event names it: ipc_connect_service() does not return it.
 */
static void client_of_raw_service(struct ipc_test_fixture *f, struct peer *p)
{
	g_autofree char *path = ipc_test_path(f, NAME);
	int listener = ipc_test_raw_listen(NAME);

	p->fd = ipc_test_connect(f->ctx, NAME);
	p->index = (size_t)-1;
	p->raw = accept(listener, NULL, NULL);
	g_assert_no_errno(p->raw);
	close(listener);
	g_assert_no_errno(unlink(path));
}

/* The raw service sends @data; the client learns its index from it. */
static void expect_first_rx(void *ctx, struct peer *p, const void *data,
			    size_t len)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
	g_assert_cmpuint(ev.index, !=, (size_t)-1);
	p->index = ev.index;
	ipc_test_assert_message(&ev, p->index, p->fd, data, len);
}

/* The client side: a libipc client of a raw service. */
static void test_client_side(struct ipc_test_fixture *f, gconstpointer data)
{
	struct peer p;

	(void)data;
	client_of_raw_service(f, &p);
	assert_nonblock_cloexec(p.fd);
	g_assert_cmpint(ipc_write(f->ctx, p.fd, "hello", 5), ==, 0);
	expect_frame(&p, "hello", 5);
	ipc_test_write_frame(p.raw, "world", 5);
	expect_first_rx(f->ctx, &p, "world", 5);
	/* The service goes away: the client gets its DISCONNECTION. */
	peer_hangup(f->ctx, &p);
}

/* ------------------------------------------------------------------ */
/* Both directions with libipc on both ends                             */
/* ------------------------------------------------------------------ */

struct echo_plan {
	guint count;	/* messages sent, each echoed back */
	size_t size;	/* payload size of each */
};

/* Child: a libipc client sends plan->count numbered messages one at a
 * time with ipc_write() and checks each echo, byte for byte. */
static void echo_client(void *arg)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	const struct echo_plan *plan = arg;
	g_autofree char *buf = g_malloc(plan->size + 1);
	void *ctx = NULL;
	int fd;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	fd = ipc_test_connect(ctx, NAME);
	for (guint i = 0; i < plan->count; i++) {
		fill_numbered(buf, plan->size, i);
		g_assert_cmpint(ipc_write(ctx, fd, buf, plan->size), ==, 0);
		ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
		g_assert_cmpint(ev.fd, ==, fd);
		assert_numbered(ev.data, ev.len, plan->size, i);
	}
	ipc_context_deinit(&ctx);
}

/* The service echoes every message with ipc_schedule(): one MESSAGE_TX
 * per echo, each after its MESSAGE_RX, all before the DISCONNECTION. */
static void test_echo(struct ipc_test_fixture *f, gconstpointer data)
{
	const struct echo_plan *plan = data;
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int service = ipc_test_service_init(f->ctx, NAME);
	pid_t pid = ipc_test_fork(echo_client, (void *)plan);
	guint rx = 0, tx = 0;
	struct peer p = { .raw = -1 };

	p.fd = ipc_test_accept(f->ctx, service, &p.index);
	for (;;) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == DISCONNECTION)
			break;
		g_assert_cmpint(ev.fd, ==, p.fd);
		g_assert_cmpuint(ev.index, ==, p.index);
		if (ev.type == MESSAGE_TX) {
			tx++;
			g_assert_cmpuint(tx, <=, rx);
			continue;
		}
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==, "MESSAGE_RX");
		assert_numbered(ev.data, ev.len, plan->size, rx++);
		g_assert_cmpint(ipc_schedule(f->ctx, p.fd, ev.data, ev.len), ==,
				0);
	}
	g_assert_cmpint(ev.fd, ==, p.fd);
	g_assert_cmpuint(ev.index, ==, p.index);
	g_assert_cmpuint(rx, ==, plan->count);
	g_assert_cmpuint(tx, ==, plan->count);
	ipc_test_assert_fd_closed(p.fd);
	ipc_test_reap(pid);
}

static const struct echo_plan echo_small = { 10, 1000 };
static const struct echo_plan echo_empty = { 5, 0 };
static const struct echo_plan echo_large = { 3, 1024 * 1024 };

/* ------------------------------------------------------------------ */
/* MESSAGE_TX and ordering                                              */
/* ------------------------------------------------------------------ */

#define SERIES 10

/* Queue SERIES numbered messages of growing size to @p. */
static void schedule_series(void *ctx, const struct peer *p)
{
	char buf[SERIES * 10];

	for (guint i = 0; i < SERIES; i++) {
		fill_numbered(buf, i * 10, i);
		g_assert_cmpint(ipc_schedule(ctx, p->fd, buf, i * 10), ==, 0);
	}
}

/* The raw client reads the series, in order. */
static void read_series(const struct peer *p)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();

	for (guint i = 0; i < SERIES; i++) {
		g_assert_cmpuint(ipc_test_read_frame(p->raw, frame), ==, i * 10);
		assert_numbered((char *)frame->data, frame->len, i * 10, i);
	}
}

/* After a raw "end" frame the next event must be its MESSAGE_RX: proves
 * that no further event (e.g. an extra MESSAGE_TX) was pending. */
static void expect_nothing_pending(void *ctx, const struct peer *p)
{
	ipc_test_write_frame(p->raw, "end", 3);
	expect_rx(ctx, p, "end", 3);
}

static void test_tx_events(struct ipc_test_fixture *f, gconstpointer data)
{
	struct peer p;

	(void)data;
	service_with_peer(f, &p);
	schedule_series(f->ctx, &p);
	for (guint i = 0; i < SERIES; i++)
		expect_tx(f->ctx, &p);
	read_series(&p);
	expect_nothing_pending(f->ctx, &p);
	peer_hangup(f->ctx, &p);
}

/* ipc_write() sends what was scheduled first, and has no MESSAGE_TX. */
static void test_write_after_schedule(struct ipc_test_fixture *f,
				      gconstpointer data)
{
	struct peer p;

	(void)data;
	service_with_peer(f, &p);
	schedule_series(f->ctx, &p);
	g_assert_cmpint(ipc_write(f->ctx, p.fd, "last", 4), ==, 0);
	read_series(&p);
	expect_frame(&p, "last", 4);
	for (guint i = 0; i < SERIES; i++)
		expect_tx(f->ctx, &p);
	expect_nothing_pending(f->ctx, &p);
	peer_hangup(f->ctx, &p);
}

/* ipc_schedule() copies the payload: the caller's buffer is free again. */
static void test_schedule_copies(struct ipc_test_fixture *f,
				 gconstpointer data)
{
	char buf[] = "original";
	struct peer p;

	(void)data;
	service_with_peer(f, &p);
	g_assert_cmpint(ipc_schedule(f->ctx, p.fd, buf, 8), ==, 0);
	memcpy(buf, "changed!", 8);
	expect_tx(f->ctx, &p);
	expect_frame(&p, "original", 8);
	peer_hangup(f->ctx, &p);
}

/* ------------------------------------------------------------------ */
/* Framing                                                              */
/* ------------------------------------------------------------------ */

/* The frames of the split-writer child: "hello", an empty one, and 300
 * numbered bytes. */
static GByteArray *split_stream(void)
{
	GByteArray *stream = g_byte_array_new();
	char big[300];

	fill_numbered(big, sizeof(big), 2);
	ipc_test_append_frame(stream, "hello", 5);
	ipc_test_append_frame(stream, NULL, 0);
	ipc_test_append_frame(stream, big, sizeof(big));
	return stream;
}

/* What a raw writer child sends. */
struct raw_stream {
	GByteArray *bytes;
	gboolean bytewise;	/* one byte per write, pausing after each */
};

/* Child: a raw client writes the stream, then hangs up. */
static void raw_writer(void *arg)
{
	const struct raw_stream *stream = arg;
	int raw = ipc_test_raw_connect(NAME);

	if (!stream->bytewise)
		ipc_test_write_all(raw, stream->bytes->data, stream->bytes->len);
	for (guint i = 0; stream->bytewise && i < stream->bytes->len; i++) {
		ipc_test_write_all(raw, &stream->bytes->data[i], 1);
		g_usleep(500);
	}
	close(raw);
}

/* Start a raw writer child and accept it into @p. */
static pid_t raw_writer_start(void *ctx, int service,
			      const struct raw_stream *stream, struct peer *p)
{
	pid_t pid = ipc_test_fork(raw_writer, (void *)stream);

	p->raw = -1;
	p->fd = ipc_test_accept(ctx, service, &p->index);
	return pid;
}

enum read_mode { READ_EVENTS, READ_BLOCKING };

/* Read one message of @p with ipc_read() or ipc_read_fd(). */
static void read_blocking(void *ctx, const struct peer *p, gboolean by_index,
			  const void *data, size_t len)
{
	char buf[512];
	size_t buflen = sizeof(buf);

	if (by_index)
		g_assert_cmpint(ipc_read(ctx, p->index, buf, &buflen), ==, 0);
	else
		g_assert_cmpint(ipc_read_fd(ctx, p->fd, buf, &buflen), ==, 0);
	g_assert_cmpmem(buf, buflen, data, len);
}

static void test_split_frames(struct ipc_test_fixture *f, gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	struct raw_stream stream = { split_stream(), TRUE };
	struct peer p;
	pid_t pid = raw_writer_start(f->ctx, service, &stream, &p);
	char big[300];

	fill_numbered(big, sizeof(big), 2);
	if (GPOINTER_TO_INT(data) == READ_BLOCKING) {
		read_blocking(f->ctx, &p, FALSE, "hello", 5);
		read_blocking(f->ctx, &p, TRUE, NULL, 0);
		read_blocking(f->ctx, &p, FALSE, big, sizeof(big));
	} else {
		expect_rx(f->ctx, &p, "hello", 5);
		expect_rx(f->ctx, &p, NULL, 0);
		expect_rx(f->ctx, &p, big, sizeof(big));
	}
	expect_disconnection(f->ctx, &p);
	ipc_test_reap(pid);
	g_byte_array_unref(stream.bytes);
}

#define COALESCED 500

static void test_coalesced_frames(struct ipc_test_fixture *f,
				  gconstpointer data)
{
	g_autoptr(GByteArray) stream = g_byte_array_new();
	char buf[97];
	struct peer p;

	service_with_peer(f, &p);
	for (guint i = 0; i < COALESCED; i++) {
		fill_numbered(buf, i % 97, i);
		ipc_test_append_frame(stream, buf, i % 97);
	}
	/* One write() puts all of them in the socket at once. */
	g_assert_cmpint(write(p.raw, stream->data, stream->len), ==,
			(gssize)stream->len);
	/* With @data, every other one is taken by ipc_read() or
	 * ipc_read_fd(): what the library buffered comes first, in order. */
	for (guint i = 0; i < COALESCED; i++) {
		fill_numbered(buf, i % 97, i);
		if (data && i % 2)
			read_blocking(f->ctx, &p, i % 4 == 1, buf, i % 97);
		else
			expect_rx(f->ctx, &p, buf, i % 97);
	}
	expect_nothing_pending(f->ctx, &p);
	peer_hangup(f->ctx, &p);
}

/* Zero-length messages with a raw peer, both ways, also into a NULL
 * buffer. */
static void test_zero_length_raw(struct ipc_test_fixture *f,
				 gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct peer p;

	(void)data;
	service_with_peer(f, &p);
	ipc_test_write_frame(p.raw, NULL, 0);
	ipc_test_write_frame(p.raw, NULL, 0);
	expect_rx(f->ctx, &p, NULL, 0);
	g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev, 0), ==, 0);
	ipc_test_assert_message(&ev, p.index, p.fd, NULL, 0);

	g_assert_cmpint(ipc_schedule(f->ctx, p.fd, NULL, 0), ==, 0);
	g_assert_cmpint(ipc_write(f->ctx, p.fd, NULL, 0), ==, 0);
	g_assert_cmpint(ipc_write(f->ctx, p.fd, "", 0), ==, 0);
	expect_frame(&p, NULL, 0);
	expect_frame(&p, NULL, 0);
	expect_frame(&p, NULL, 0);
	expect_tx(f->ctx, &p);
	expect_nothing_pending(f->ctx, &p);
	peer_hangup(f->ctx, &p);
}

/* A peer sends complete frames, then half a frame, then hangs up. */
static void test_closed_mid_message(struct ipc_test_fixture *f,
				    gconstpointer data)
{
	g_autoptr(GByteArray) stream = g_byte_array_new();
	char half[100];
	struct peer p;

	service_with_peer(f, &p);
	fill_numbered(half, sizeof(half), 9);
	ipc_test_append_frame(stream, "one", 3);
	ipc_test_append_frame(stream, "two", 3);
	ipc_test_append_frame(stream, half, sizeof(half));
	/* Cut the last frame in its middle. */
	g_byte_array_set_size(stream, stream->len - sizeof(half) / 2);
	ipc_test_write_all(p.raw, stream->data, stream->len);
	close(p.raw);
	if (GPOINTER_TO_INT(data) == READ_BLOCKING) {
		char buf[16];
		size_t len = sizeof(buf);

		read_blocking(f->ctx, &p, TRUE, "one", 3);
		read_blocking(f->ctx, &p, FALSE, "two", 3);
		g_assert_cmpint(ipc_read_fd(f->ctx, p.fd, buf, &len), ==,
				-ECONNRESET);
	} else {
		expect_rx(f->ctx, &p, "one", 3);
		expect_rx(f->ctx, &p, "two", 3);
	}
	expect_disconnection(f->ctx, &p);
}

#define NEIGHBOURS 4

/* The library holds half a frame of @p: the timer runs the loop until the
 * socket has nothing left to read. */
static void wait_read_by_library(void *ctx, const struct peer *p)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	while (ipc_test_pending_bytes(p->fd) > 0)
		ipc_test_wait_for(ctx, TIMER, &ev);
}

/*
 * Peers that sent half a frame keep it while another goes away among
 * them: each half is completed after the disconnection and arrives whole.
 */
static void test_half_frames_kept(struct ipc_test_fixture *f,
				  gconstpointer data)
{
	struct peer peers[NEIGHBOURS];
	GByteArray *frames[NEIGHBOURS];
	int service = service_with_peer(f, &peers[0]);
	guint i, gone = GPOINTER_TO_UINT(data), half;
	char msg[200];

	for (i = 1; i < NEIGHBOURS; i++)
		peer_connect(f->ctx, service, &peers[i]);
	ipc_context_timer(f->ctx, 5);
	for (i = 0; i < NEIGHBOURS; i++) {
		frames[i] = g_byte_array_new();
		fill_numbered(msg, sizeof(msg), i);
		ipc_test_append_frame(frames[i], msg, sizeof(msg));
		half = frames[i]->len / 2;
		ipc_test_write_all(peers[i].raw, frames[i]->data, half);
		wait_read_by_library(f->ctx, &peers[i]);
		g_byte_array_remove_range(frames[i], 0, half);
	}
	ipc_context_timer(f->ctx, 0);
	peer_hangup(f->ctx, &peers[gone]);
	for (i = 0; i < NEIGHBOURS; i++) {
		if (i != gone) {
			ipc_test_write_all(peers[i].raw, frames[i]->data,
					   frames[i]->len);
			fill_numbered(msg, sizeof(msg), i);
			expect_rx(f->ctx, &peers[i], msg, sizeof(msg));
		}
		g_byte_array_unref(frames[i]);
	}
	for (i = 0; i < NEIGHBOURS; i++)
		if (i != gone)
			peer_hangup(f->ctx, &peers[i]);
}

/* ------------------------------------------------------------------ */
/* Size limits                                                          */
/* ------------------------------------------------------------------ */

/* @p announces @len; the service drops it while @other keeps working. */
static void announce_too_long(void *ctx, struct peer *p, guint32 len,
			      const struct peer *other)
{
	guint32 header = GUINT32_TO_BE(len);

	ipc_test_write_all(p->raw, &header, sizeof(header));
	ipc_test_write_all(p->raw, "abc", 3);
	expect_disconnection(ctx, p);
	ipc_test_assert_eof(p->raw);
	close(p->raw);
	ipc_test_write_frame(other->raw, "fine", 4);
	expect_rx(ctx, other, "fine", 4);
	g_assert_cmpint(ipc_write(ctx, other->fd, "ok", 2), ==, 0);
	expect_frame(other, "ok", 2);
}

static void test_over_default_limit(struct ipc_test_fixture *f,
				    gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	struct peer good, bad, worse;

	(void)data;
	peer_connect(f->ctx, service, &good);
	peer_connect(f->ctx, service, &bad);
	peer_connect(f->ctx, service, &worse);
	announce_too_long(f->ctx, &bad, IPC_MAX_MESSAGE_SIZE_DEFAULT + 1,
			  &good);
	announce_too_long(f->ctx, &worse, UINT32_MAX, &good);
	peer_hangup(f->ctx, &good);
}

static void test_lowered_limit(struct ipc_test_fixture *f, gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	char buf[101] = { 0 };
	struct peer good, bad;

	(void)data;
	g_assert_cmpint(ipc_context_max_message_size(f->ctx, 100), ==, 0);
	peer_connect(f->ctx, service, &good);
	peer_connect(f->ctx, service, &bad);
	g_assert_cmpint(ipc_schedule(f->ctx, good.fd, buf, 101), ==, -EMSGSIZE);
	g_assert_cmpint(ipc_write(f->ctx, good.fd, buf, 101), ==, -EMSGSIZE);
	g_assert_cmpint(ipc_write(f->ctx, good.fd, buf, 100), ==, 0);
	expect_frame(&good, buf, 100);
	ipc_test_write_frame(good.raw, buf, 100);
	expect_rx(f->ctx, &good, buf, 100);
	announce_too_long(f->ctx, &bad, 101, &good);
	peer_hangup(f->ctx, &good);
}

/* A message of exactly the default maximum is accepted whole. */
static void test_exact_default_limit(struct ipc_test_fixture *f,
				     gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	size_t size = IPC_MAX_MESSAGE_SIZE_DEFAULT;
	g_autofree char *payload = g_malloc(size);
	struct raw_stream stream = { g_byte_array_sized_new(size + 4), FALSE };
	struct peer p;
	pid_t pid;

	(void)data;
	/* Cheap to build, with distinct bytes at both ends. */
	memset(payload, 'm', size);
	fill_numbered(payload, 64, 7);
	fill_numbered(payload + size - 64, 64, 8);
	ipc_test_append_frame(stream.bytes, payload, size);
	pid = raw_writer_start(f->ctx, service, &stream, &p);
	expect_rx(f->ctx, &p, payload, size);
	expect_disconnection(f->ctx, &p);
	ipc_test_reap(pid);
	g_byte_array_unref(stream.bytes);
}

static void test_limit_arguments(struct ipc_test_fixture *f,
				 gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	size_t size = IPC_MAX_MESSAGE_SIZE_DEFAULT + 1;
	g_autofree char *big = g_malloc0(size);
	struct peer p;

	(void)data;
	g_assert_cmpint(ipc_context_max_message_size(f->ctx, 0), ==, -EINVAL);
	g_assert_cmpint(ipc_context_max_message_size(NULL, 10), ==, -EINVAL);
#if SIZE_MAX > UINT32_MAX
	g_assert_cmpint(ipc_context_max_message_size(f->ctx,
						     (size_t)UINT32_MAX + 1),
			==, -EINVAL);
	g_assert_cmpint(ipc_context_max_message_size(f->ctx, UINT32_MAX), ==,
			0);
#else
	/* A 32-bit size_t: at most SIZE_MAX / 4, so no length sum wraps. */
	g_assert_cmpint(ipc_context_max_message_size(f->ctx, UINT32_MAX), ==,
			-EINVAL);
	g_assert_cmpint(ipc_context_max_message_size(f->ctx,
						     SIZE_MAX / 4 + 1),
			==, -EINVAL);
	g_assert_cmpint(ipc_context_max_message_size(f->ctx, SIZE_MAX / 4),
			==, 0);
#endif
	g_assert_cmpint(ipc_context_max_message_size(f->ctx,
				IPC_MAX_MESSAGE_SIZE_DEFAULT), ==, 0);
	peer_connect(f->ctx, service, &p);
	/* The default applies, and the failed calls above changed nothing. */
	g_assert_cmpint(ipc_schedule(f->ctx, p.fd, big, size), ==, -EMSGSIZE);
	g_assert_cmpint(ipc_write(f->ctx, p.fd, big, size), ==, -EMSGSIZE);
	g_assert_cmpint(ipc_schedule(f->ctx, p.fd, big, size - 1), ==, 0);
	/* Raising the limit lets it be queued. */
	g_assert_cmpint(ipc_context_max_message_size(f->ctx, size), ==, 0);
	g_assert_cmpint(ipc_schedule(f->ctx, p.fd, big, size), ==, 0);
	g_assert_cmpint(ipc_close_fd(f->ctx, p.fd), ==, 0);
	close(p.raw);
}

/* ------------------------------------------------------------------ */
/* A buffer too small                                                   */
/* ------------------------------------------------------------------ */

#define FIRST "the first message"
#define SECOND "second"

/* The raw client sends FIRST and SECOND in one write. */
static void send_two(const struct peer *p)
{
	g_autoptr(GByteArray) stream = g_byte_array_new();

	ipc_test_append_frame(stream, FIRST, strlen(FIRST));
	ipc_test_append_frame(stream, SECOND, strlen(SECOND));
	ipc_test_write_all(p->raw, stream->data, stream->len);
}

/* ipc_wait_event() with @bufsize bytes is refused with the size needed. */
static void expect_too_small_event(void *ctx, const struct peer *p,
				   size_t bufsize)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	g_assert_cmpint(ipc_test_wait_raw(ctx, &ev, bufsize), ==, -EMSGSIZE);
	g_assert_cmpstr(ipc_test_event_name(ev.type), ==, "MESSAGE_RX");
	g_assert_cmpuint(ev.len, ==, strlen(FIRST));
	g_assert_cmpuint(ev.index, ==, p->index);
	g_assert_cmpint(ev.fd, ==, p->fd);
}

/* ipc_read() or ipc_read_fd() with @bufsize bytes is refused likewise. */
static void expect_too_small_read(void *ctx, const struct peer *p,
				  size_t bufsize, gboolean by_index)
{
	char buf[8];
	size_t len = bufsize;

	g_assert_cmpuint(bufsize, <=, sizeof(buf));
	if (by_index)
		g_assert_cmpint(ipc_read(ctx, p->index, bufsize ? buf : NULL,
					 &len), ==, -EMSGSIZE);
	else
		g_assert_cmpint(ipc_read_fd(ctx, p->fd, bufsize ? buf : NULL,
					    &len), ==, -EMSGSIZE);
	g_assert_cmpuint(len, ==, strlen(FIRST));
}

static void test_small_buffer_event(struct ipc_test_fixture *f,
				    gconstpointer data)
{
	struct peer p;

	(void)data;
	service_with_peer(f, &p);
	send_two(&p);
	/* The peer is gone too: both messages still come before that. */
	close(p.raw);
	expect_too_small_event(f->ctx, &p, 5);
	expect_too_small_event(f->ctx, &p, 0);
	expect_too_small_event(f->ctx, &p, strlen(FIRST) - 1);
	/* Kept for ipc_read() too. */
	expect_too_small_read(f->ctx, &p, 8, TRUE);
	expect_rx(f->ctx, &p, FIRST, strlen(FIRST));
	expect_rx(f->ctx, &p, SECOND, strlen(SECOND));
	expect_disconnection(f->ctx, &p);
}

static void test_small_buffer_read(struct ipc_test_fixture *f,
				   gconstpointer data)
{
	struct peer p;

	(void)data;
	service_with_peer(f, &p);
	send_two(&p);
	expect_too_small_read(f->ctx, &p, 5, TRUE);
	expect_too_small_read(f->ctx, &p, 0, FALSE);
	/* Kept for ipc_wait_event() too. */
	expect_too_small_event(f->ctx, &p, 3);
	read_blocking(f->ctx, &p, FALSE, FIRST, strlen(FIRST));
	read_blocking(f->ctx, &p, TRUE, SECOND, strlen(SECOND));
	peer_hangup(f->ctx, &p);
}

#define FIRST_UPPER "THE FIRST MESSAGE"

/*
 * Two peers have a message each.  The message refused for a small buffer
 * is the one the next call returns, whatever else is ready; with @data its
 * connection is closed instead, and nothing of it comes back.
 */
static void test_small_buffer_two_peers(struct ipc_test_fixture *f,
					gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct peer peers[2];
	int service = service_with_peer(f, &peers[0]);
	struct peer *held, *other;

	peer_connect(f->ctx, service, &peers[1]);
	ipc_test_write_frame(peers[0].raw, FIRST, strlen(FIRST));
	ipc_test_write_frame(peers[1].raw, FIRST_UPPER, strlen(FIRST_UPPER));
	g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev, 5), ==, -EMSGSIZE);
	g_assert_cmpuint(ev.len, ==, strlen(FIRST));
	held = ev.fd == peers[0].fd ? &peers[0] : &peers[1];
	other = held == &peers[0] ? &peers[1] : &peers[0];
	g_assert_cmpint(ev.fd, ==, held->fd);
	g_assert_cmpuint(ev.index, ==, held->index);
	if (data) {
		g_assert_cmpint(ipc_close_fd(f->ctx, held->fd), ==, 0);
		ipc_test_assert_eof(held->raw);
	} else {
		expect_rx(f->ctx, held, held == &peers[0] ? FIRST : FIRST_UPPER,
			  strlen(FIRST));
	}
	expect_rx(f->ctx, other, other == &peers[0] ? FIRST : FIRST_UPPER,
		  strlen(FIRST));
	if (data)
		close(held->raw);
	else
		peer_hangup(f->ctx, held);
	peer_hangup(f->ctx, other);
}

/* ------------------------------------------------------------------ */
/* Arguments                                                            */
/* ------------------------------------------------------------------ */

static void test_message_arguments(struct ipc_test_fixture *f,
				   gconstpointer data)
{
	char buf[4];
	size_t len = sizeof(buf);
	struct peer p;
	int service;

	(void)data;
	service = service_with_peer(f, &p);
	g_assert_cmpint(ipc_write(NULL, p.fd, "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_write(f->ctx, p.fd, NULL, 1), ==, -EINVAL);
	g_assert_cmpint(ipc_write(f->ctx, service, "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_write(f->ctx, p.raw, "x", 1), ==, -EBADF);
	g_assert_cmpint(ipc_schedule(NULL, p.fd, "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_schedule(f->ctx, p.fd, NULL, 1), ==, -EINVAL);
	g_assert_cmpint(ipc_schedule(f->ctx, service, "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_schedule(f->ctx, p.raw, "x", 1), ==, -EBADF);
	g_assert_cmpint(ipc_read_fd(NULL, p.fd, buf, &len), ==, -EINVAL);
	g_assert_cmpint(ipc_read_fd(f->ctx, p.fd, buf, NULL), ==, -EINVAL);
	g_assert_cmpint(ipc_read_fd(f->ctx, service, buf, &len), ==, -EINVAL);
	g_assert_cmpint(ipc_read_fd(f->ctx, p.raw, buf, &len), ==, -EBADF);
	g_assert_cmpint(ipc_read(NULL, p.index, buf, &len), ==, -EINVAL);
	g_assert_cmpint(ipc_read(f->ctx, p.index, buf, NULL), ==, -EINVAL);
	g_assert_cmpint(ipc_read(f->ctx, p.index + 1000, buf, &len), ==,
			-EBADF);
	/* Nothing was sent by any of these. */
	expect_nothing_pending(f->ctx, &p);
	g_assert_cmpint(ipc_write(f->ctx, p.fd, "ok", 2), ==, 0);
	expect_frame(&p, "ok", 2);
	peer_hangup(f->ctx, &p);
}

/* ------------------------------------------------------------------ */
/* Backpressure: a peer that stops reading                              */
/* ------------------------------------------------------------------ */

/* 32 MiB: over a hundred times what the socket buffers hold, and quick
 * enough under valgrind (64 MiB takes three times as long there). */
#define FLOOD_COUNT 512
#define FLOOD_SIZE (64 * 1024)

/* Flood message @seq: its number, then bytes equal to its low byte (cheap
 * enough under valgrind, and still catches loss or reordering). */
static void fill_flood(char *buf, guint32 seq)
{
	guint32 be = GUINT32_TO_BE(seq);

	memset(buf, seq & 0xff, FLOOD_SIZE);
	memcpy(buf, &be, sizeof(be));
}

struct flood_reader {
	int go[2];	/* pipe: the parent's go-ahead */
	guint count;	/* messages read before hanging up */
};

/* Child: a raw client connects, waits for the go-ahead, then reads and
 * checks reader->count numbered messages and hangs up. */
static void slow_reader(void *arg)
{
	const struct flood_reader *reader = arg;
	g_autoptr(GByteArray) frame = g_byte_array_new();
	g_autofree char *expected = g_malloc(FLOOD_SIZE);
	int raw = ipc_test_raw_connect(NAME);

	ipc_test_wait_notify(reader->go[0]);
	for (guint i = 0; i < reader->count; i++) {
		g_assert_cmpuint(ipc_test_read_frame(raw, frame), ==,
				 FLOOD_SIZE);
		fill_flood(expected, i);
		g_assert_cmpmem(frame->data, frame->len, expected, FLOOD_SIZE);
	}
	close(raw);
}

/* Counts the MESSAGE_TX events of @p up to its DISCONNECTION. */
static guint count_tx_until_disconnection(void *ctx, const struct peer *p)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	guint tx = 0;

	for (;;) {
		ipc_test_next_event(ctx, &ev);
		g_assert_cmpint(ev.fd, ==, p->fd);
		g_assert_cmpuint(ev.index, ==, p->index);
		if (ev.type == DISCONNECTION)
			break;
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==, "MESSAGE_TX");
		tx++;
	}
	ipc_test_assert_fd_closed(p->fd);
	return tx;
}

/* With @data = FLOOD_COUNT the peer reads everything; with less it hangs
 * up early: the rest is dropped, without SIGPIPE. */
static void test_backpressure(struct ipc_test_fixture *f, gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	g_autofree char *buf = g_malloc(FLOOD_SIZE);
	struct flood_reader reader = { .count = GPOINTER_TO_UINT(data) };
	struct peer p = { .raw = -1 };
	guint tx;
	pid_t pid;

	ipc_test_pipe(reader.go);
	pid = ipc_test_fork(slow_reader, &reader);
	p.fd = ipc_test_accept(f->ctx, service, &p.index);
	/* The peer reads nothing yet: all of it must queue without blocking
	 * (a blocked ipc_schedule() would hang until the alarm). */
	for (guint i = 0; i < FLOOD_COUNT; i++) {
		fill_flood(buf, i);
		g_assert_cmpint(ipc_schedule(f->ctx, p.fd, buf, FLOOD_SIZE), ==,
				0);
	}
	ipc_test_notify(reader.go[1]);
	close(reader.go[0]);
	close(reader.go[1]);
	tx = count_tx_until_disconnection(f->ctx, &p);
	g_test_message("%u of %u messages written whole", tx, FLOOD_COUNT);
	if (reader.count == FLOOD_COUNT) {
		g_assert_cmpuint(tx, ==, FLOOD_COUNT);
	} else {
		/* What the peer read was written whole; not the rest. */
		g_assert_cmpuint(tx, >=, reader.count);
		g_assert_cmpuint(tx, <, FLOOD_COUNT);
	}
	ipc_test_reap(pid);
}

/* Sizes that take every path of ipc_schedule(): large payloads leave
 * straight from the caller's buffer only when nothing is queued before
 * them, small and empty ones are packed into the queue. */
static const size_t mixed_sizes[] = {
	200 * 1024, 100, 200 * 1024, 0, 64 * 1024, 100, 300 * 1024, 5,
};

/* Child: reads the mixed series in order, then hangs up. */
static void mixed_reader(void *arg)
{
	const int *go = arg;
	g_autoptr(GByteArray) frame = g_byte_array_new();
	int raw = ipc_test_raw_connect(NAME);

	ipc_test_wait_notify(go[0]);
	for (guint i = 0; i < G_N_ELEMENTS(mixed_sizes); i++) {
		g_assert_cmpuint(ipc_test_read_frame(raw, frame), ==,
				 mixed_sizes[i]);
		assert_numbered((char *)frame->data, frame->len,
				mixed_sizes[i], i);
	}
	close(raw);
}

/* Large and small messages queued together leave in the order given. */
static void test_mixed_order(struct ipc_test_fixture *f, gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	g_autofree char *buf = g_malloc(300 * 1024);
	struct peer p = { .raw = -1 };
	int go[2];
	pid_t pid;

	(void)data;
	ipc_test_pipe(go);
	pid = ipc_test_fork(mixed_reader, go);
	p.fd = ipc_test_accept(f->ctx, service, &p.index);
	for (guint i = 0; i < G_N_ELEMENTS(mixed_sizes); i++) {
		fill_numbered(buf, mixed_sizes[i], i);
		g_assert_cmpint(ipc_schedule(f->ctx, p.fd, buf, mixed_sizes[i]),
				==, 0);
	}
	ipc_test_notify(go[1]);
	close(go[0]);
	close(go[1]);
	g_assert_cmpuint(count_tx_until_disconnection(f->ctx, &p), ==,
			 G_N_ELEMENTS(mixed_sizes));
	ipc_test_reap(pid);
}

/* ------------------------------------------------------------------ */
/* SIGPIPE                                                              */
/* ------------------------------------------------------------------ */

enum sigpipe_mode { SIGPIPE_WRITE, SIGPIPE_SCHEDULE };

static void test_sigpipe(struct ipc_test_fixture *f, gconstpointer data)
{
	int service = ipc_test_service_init(f->ctx, NAME);
	struct sigaction sa;
	struct peer p;

	/* The test means something only if SIGPIPE would kill us. */
	g_assert_no_errno(sigaction(SIGPIPE, NULL, &sa));
	g_assert_true(sa.sa_handler == SIG_DFL);
	peer_connect(f->ctx, service, &p);
	/* Its last words must still be delivered, before the DISCONNECTION. */
	ipc_test_write_frame(p.raw, "last words", 10);
	close(p.raw);
	if (GPOINTER_TO_INT(data) == SIGPIPE_WRITE) {
		g_assert_cmpint(ipc_write(f->ctx, p.fd, "x", 1), ==, -EPIPE);
		/* The connection is held until its DISCONNECTION: same again. */
		g_assert_cmpint(ipc_write(f->ctx, p.fd, "y", 1), ==, -EPIPE);
	} else {
		/* Queued (0), or refused if the library already tried to write
		 * and found the connection closing (-EPIPE). */
		int ret = ipc_schedule(f->ctx, p.fd, "x", 1);

		g_assert_true(ret == 0 || ret == -EPIPE);
		ret = ipc_schedule(f->ctx, p.fd, "y", 1);
		g_assert_true(ret == 0 || ret == -EPIPE);
	}
	expect_rx(f->ctx, &p, "last words", 10);
	expect_disconnection(f->ctx, &p);
}

/* A libipc client whose service vanished while it was writing. */
static void test_sigpipe_client(struct ipc_test_fixture *f,
				gconstpointer data)
{
	struct peer p;

	(void)data;
	client_of_raw_service(f, &p);
	ipc_test_write_frame(p.raw, "last words", 10);
	close(p.raw);
	g_assert_cmpint(ipc_write(f->ctx, p.fd, "x", 1), ==, -EPIPE);
	expect_first_rx(f->ctx, &p, "last words", 10);
	expect_disconnection(f->ctx, &p);
}

/* ------------------------------------------------------------------ */
/* Large frames read straight into the caller's buffer                 */
/* ------------------------------------------------------------------ */

/* Two frames of this size; the first mebibyte of each is sent alone. */
#define LAND_SIZE (4u * 1024 * 1024)
#define LAND_FIRST (1024u * 1024)

/* The child's ends: two raw clients, a note to the parent, a go-ahead. */
static int land_a, land_b, land_note[2], land_go[2];

static void land_header(int fd, guint32 len)
{
	guint32 be = GUINT32_TO_BE(len);

	ipc_test_write_all(fd, &be, sizeof(be));
}

/*
 * The writer.  A blocking write of a mebibyte returns only once the
 * service has read most of it, so each step below happens while the
 * service is inside a frame: "between" from B arrives in the middle of
 * frame 1 from A; frame 2 stops after its first mebibyte.  Each time the
 * writer waits for the parent's go before the rest of the frame.
 */
static void land_child(void *arg)
{
	g_autofree char *one = g_malloc(LAND_SIZE);
	g_autofree char *two = g_malloc(LAND_SIZE);

	(void)arg;
	ipc_test_fill_numbered(one, LAND_SIZE, 1);
	ipc_test_fill_numbered(two, LAND_SIZE, 2);
	land_header(land_a, LAND_SIZE);
	ipc_test_write_all(land_a, one, LAND_FIRST);
	ipc_test_write_frame(land_b, "between", 7);
	ipc_test_wait_notify(land_go[0]);
	ipc_test_write_all(land_a, one + LAND_FIRST, LAND_SIZE - LAND_FIRST);
	land_header(land_a, LAND_SIZE);
	ipc_test_write_all(land_a, two, LAND_FIRST);
	ipc_test_notify(land_note[1]);
	ipc_test_wait_notify(land_go[0]);
	ipc_test_write_all(land_a, two + LAND_FIRST, LAND_SIZE - LAND_FIRST);
	close(land_a);
	close(land_b);
}

/* One event into @buf, blocking (@ms -1) or bounded; returns its ret. */
static int land_wait(void *ctx, char *buf, int ms, struct ipc_test_event *ev)
{
	ev->len = LAND_SIZE;
	ev->ret = ipc_wait_event_timeout(ctx, &ev->type, &ev->index, &ev->fd,
					 &ev->newfd, buf, &ev->len, ms);
	return ev->ret;
}

/*
 * A large frame is read straight into the buffer of the ipc_wait_event()
 * call that waits for it, across as many waits as it takes.  The buffer
 * is the caller's only for that call: when another connection's message
 * comes first, or the call ends with the frame unfinished, the bytes
 * already there are kept elsewhere, and the frame arrives whole in the
 * buffer of the call that completes it.  Both cases use another buffer
 * for the next call.
 */
static void test_large_landing(struct ipc_test_fixture *f, gconstpointer data)
{
	g_autofree char *x = g_malloc(LAND_SIZE);
	g_autofree char *y = g_malloc(LAND_SIZE);
	IpcTestEvent ev = IPC_TEST_EVENT_INIT;
	int service = ipc_test_service_init(f->ctx, NAME);
	struct peer a, b;
	pid_t pid;

	(void)data;
	g_assert_cmpint(ipc_context_max_message_size(f->ctx, LAND_SIZE), ==, 0);
	peer_connect(f->ctx, service, &a);
	peer_connect(f->ctx, service, &b);
	land_a = a.raw;
	land_b = b.raw;
	g_assert_no_errno(fcntl(land_a, F_SETFD, 0));
	g_assert_no_errno(fcntl(land_b, F_SETFD, 0));
	ipc_test_pipe(land_note);
	ipc_test_pipe(land_go);
	pid = ipc_test_fork(land_child, NULL);
	close(a.raw);
	close(b.raw);

	/* B's message comes first, in x, while frame 1 was landing there. */
	g_assert_cmpint(land_wait(f->ctx, x, -1, &ev), ==, 0);
	g_assert_cmpint(ev.type, ==, MESSAGE_RX);
	g_assert_cmpint(ev.fd, ==, b.fd);
	g_assert_cmpuint(ev.len, ==, 7);
	g_assert_cmpmem(x, 7, "between", 7);
	ipc_test_notify(land_go[1]);
	g_assert_cmpint(land_wait(f->ctx, y, -1, &ev), ==, 0);
	g_assert_cmpint(ev.type, ==, MESSAGE_RX);
	g_assert_cmpint(ev.fd, ==, a.fd);
	ipc_test_assert_numbered(y, ev.len, LAND_SIZE, 1);

	/* Frame 2's first mebibyte lands in x, in calls that time out. */
	memset(x, 0, LAND_SIZE);
	do {
		g_assert_cmpint(land_wait(f->ctx, x, 10, &ev), ==, -EAGAIN);
	} while (!ipc_test_poll(land_note[0], POLLIN, 0));
	ipc_test_wait_notify(land_note[0]);
	g_assert_cmpint(land_wait(f->ctx, x, 10, &ev), ==, -EAGAIN);
	ipc_test_notify(land_go[1]);
	g_assert_cmpint(land_wait(f->ctx, y, -1, &ev), ==, 0);
	g_assert_cmpint(ev.type, ==, MESSAGE_RX);
	g_assert_cmpint(ev.fd, ==, a.fd);
	ipc_test_assert_numbered(y, ev.len, LAND_SIZE, 2);

	ipc_test_reap(pid);
	for (guint i = 0; i < 2; i++) {
		close(land_note[i]);
		close(land_go[i]);
	}
	/* Both hang up, in either order. */
	for (guint gone = 0; gone < 2; gone++) {
		g_assert_cmpint(land_wait(f->ctx, x, -1, &ev), ==, 0);
		g_assert_cmpint(ev.type, ==, DISCONNECTION);
		g_assert_true(ev.fd == a.fd || ev.fd == b.fd);
	}
	ipc_test_assert_fd_closed(a.fd);
	ipc_test_assert_fd_closed(b.fd);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, func, data) \
	IPC_TEST_ADD("/ipc/message/" path, func, data)

	ADD("connection-event", test_connection_event, NULL);
	ADD("disconnection", test_disconnection, NULL);
	ADD("close-flushes/fd", test_close_flushes, NULL);
	ADD("close-flushes/index", test_close_flushes, GINT_TO_POINTER(1));
	ADD("client-side", test_client_side, NULL);
	ADD("both-ways", test_echo, &echo_small);
	ADD("zero-length/both-ways", test_echo, &echo_empty);
	ADD("zero-length/raw", test_zero_length_raw, NULL);
	ADD("large/both-ways", test_echo, &echo_large);
	ADD("large/landing", test_large_landing, NULL);
	ADD("tx-events", test_tx_events, NULL);
	ADD("write-after-schedule", test_write_after_schedule, NULL);
	ADD("schedule-copies", test_schedule_copies, NULL);
	ADD("mixed-sizes-order", test_mixed_order, NULL);
	ADD("split-frames/events", test_split_frames,
	    GINT_TO_POINTER(READ_EVENTS));
	ADD("split-frames/read", test_split_frames,
	    GINT_TO_POINTER(READ_BLOCKING));
	ADD("coalesced-frames/events", test_coalesced_frames, NULL);
	ADD("coalesced-frames/mixed-read", test_coalesced_frames,
	    GINT_TO_POINTER(1));
	ADD("closed-mid-message/events", test_closed_mid_message,
	    GINT_TO_POINTER(READ_EVENTS));
	ADD("closed-mid-message/read", test_closed_mid_message,
	    GINT_TO_POINTER(READ_BLOCKING));
	ADD("half-frames-kept/first-gone", test_half_frames_kept,
	    GUINT_TO_POINTER(0));
	ADD("half-frames-kept/middle-gone", test_half_frames_kept,
	    GUINT_TO_POINTER(1));
	ADD("half-frames-kept/last-gone", test_half_frames_kept,
	    GUINT_TO_POINTER(NEIGHBOURS - 1));
	ADD("limit/over-default", test_over_default_limit, NULL);
	ADD("limit/lowered", test_lowered_limit, NULL);
	ADD("limit/exact-default", test_exact_default_limit, NULL);
	ADD("limit/arguments", test_limit_arguments, NULL);
	ADD("small-buffer/wait-event", test_small_buffer_event, NULL);
	ADD("small-buffer/read", test_small_buffer_read, NULL);
	ADD("small-buffer/two-peers", test_small_buffer_two_peers, NULL);
	ADD("small-buffer/closed-while-held", test_small_buffer_two_peers,
	    GINT_TO_POINTER(1));
	ADD("arguments", test_message_arguments, NULL);
	ADD("backpressure/all", test_backpressure,
	    GUINT_TO_POINTER(FLOOD_COUNT));
	ADD("backpressure/peer-leaves", test_backpressure,
	    GUINT_TO_POINTER(FLOOD_COUNT / 2));
	ADD("sigpipe/write", test_sigpipe, GINT_TO_POINTER(SIGPIPE_WRITE));
	ADD("sigpipe/schedule", test_sigpipe,
	    GINT_TO_POINTER(SIGPIPE_SCHEDULE));
	ADD("sigpipe/client", test_sigpipe_client, NULL);

#undef ADD
	return g_test_run();
}
