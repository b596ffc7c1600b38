/*
 * libipc tests: switches (ipc_add_switch) with and without callbacks.
 *
 * The relay (ipc_test_relay_open()): a service S of the test context
 * accepts a raw client A (the context's fd a), and the context connects to
 * B, a raw listener standing in for another service (fd b); then a and b
 * are switched.  A and B are plain sockets of the test, so every byte on
 * each side can be checked.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define RELAY "relay"
#define PEER "peer-b"
#define GATEWAY "gateway"

/* An fd number no test opens. */
#define UNUSED_FD 4000

#define BULK_COUNT 200
#define BULK_LEN 2000

/* ------------------------------------------------------------------ */
/* Forwarding checks                                                    */
/* ------------------------------------------------------------------ */

static void assert_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	g_assert_no_errno(flags);
	g_assert_cmpint(flags & O_NONBLOCK, ==, O_NONBLOCK);
}

/* The DISCONNECTIONs of both sides of a switch, each once. */
struct closing {
	int fd[2];
	gboolean gone[2];
};

/* Records the DISCONNECTION @ev; TRUE once both sides are gone. */
static gboolean closing_note(struct closing *c,
			     const struct ipc_test_event *ev)
{
	int side = ev->fd == c->fd[0] ? 0 : 1;

	g_assert_cmpstr(ipc_test_event_name(ev->type), ==,
			ipc_test_event_name(DISCONNECTION));
	g_assert_cmpint(ev->fd, ==, c->fd[side]);
	g_assert_false(c->gone[side]);
	g_assert_cmpint(ev->newfd, ==, -1);
	g_assert_cmpuint(ev->len, ==, 0);
	ipc_test_assert_fd_closed(ev->fd);
	c->gone[side] = TRUE;
	return c->gone[0] && c->gone[1];
}

/* Runs the loop until both @fd1 and @fd2 are closed; events whose type is
 * in @allowed may come meanwhile, any other fails. */
static void pump_until_closed(void *ctx, int fd1, int fd2,
			      unsigned int allowed)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct closing c = { { fd1, fd2 }, { FALSE, FALSE } };

	g_test_message("waiting for the DISCONNECTION of fds %d and %d", fd1,
		       fd2);
	for (;;) {
		ipc_test_next_event(ctx, &ev);
		if (ev.type == DISCONNECTION && closing_note(&c, &ev))
			break;
		if (ev.type != DISCONNECTION)
			g_assert_cmphex(allowed & IPC_TEST_BIT(ev.type), !=, 0);
	}
	g_assert_cmpint(ipc_close_fd(ctx, fd1), ==, -EBADF);
	g_assert_cmpint(ipc_close_fd(ctx, fd2), ==, -EBADF);
}

/* ------------------------------------------------------------------ */
/* Line-protocol callbacks                                              */
/* ------------------------------------------------------------------ */

/* What the callbacks saw; reset by gateway_open(). */
static struct {
	GString *pending;	/* bytes read by line_in, not yet a line */
	int in_calls;
	int in_fd;
	size_t in_mlen;
	int out_calls;
	int out_fd;
} cb;

typedef char (*in_callback)(int orig, char *payload, size_t *mlen);
typedef char (*out_callback)(int dest, const char *payload, size_t mlen);

static void cb_note_in(int orig, const size_t *mlen)
{
	cb.in_calls++;
	cb.in_fd = orig;
	cb.in_mlen = *mlen;
}

static void cb_note_out(int dest)
{
	cb.out_calls++;
	cb.out_fd = dest;
}

/* One newline-terminated line is one message (ipc_test_line_read()). */
static char line_in(int orig, char *payload, size_t *mlen)
{
	cb_note_in(orig, mlen);
	return ipc_test_line_read(orig, cb.pending, payload, mlen);
}

static char line_out(int dest, const char *payload, size_t mlen)
{
	cb_note_out(dest);
	return ipc_test_line_write(dest, payload, mlen);
}

/* As line_out, but the message "drop" is dropped. */
static char picky_out(int dest, const char *payload, size_t mlen)
{
	if (mlen == 4 && memcmp(payload, "drop", 4) == 0) {
		cb_note_out(dest);
		return CB_IGNORE;
	}
	return line_out(dest, payload, mlen);
}

static char failing_in(int orig, char *payload, size_t *mlen)
{
	(void)payload;
	cb_note_in(orig, mlen);
	return CB_ERROR;
}

static char failing_out(int dest, const char *payload, size_t mlen)
{
	(void)payload;
	(void)mlen;
	cb_note_out(dest);
	return CB_ERROR;
}

/* An IPC client A of service S switched with a socketpair speaking lines:
 * the context holds a (IPC) and text (an external with callbacks); the
 * test holds raw_a and peer. */
struct gateway {
	int svc;
	int a;
	int raw_a;
	int text;
	int peer;
};

static void gateway_open(Fixture *f, struct gateway *g, in_callback in,
			 out_callback out)
{
	int sp[2];

	if (cb.pending)
		g_string_free(cb.pending, TRUE);
	memset(&cb, 0, sizeof(cb));
	cb.pending = g_string_new(NULL);
	cb.in_fd = cb.out_fd = -1;

	g->svc = ipc_test_service_init(f->ctx, GATEWAY);
	g->raw_a = ipc_test_raw_connect(GATEWAY);
	g->a = ipc_test_accept(f->ctx, g->svc, NULL);
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     sp));
	g->text = sp[0];
	g->peer = sp[1];
	g_assert_cmpint(ipc_add_external(f->ctx, g->text), ==, 0);
	/* Callbacks set before the switch exists. */
	g_assert_cmpint(ipc_set_switch_callbacks(f->ctx, g->text, in, out), ==,
			0);
	g_assert_cmpint(ipc_add_switch(f->ctx, g->text, g->a), ==, 0);
	assert_nonblocking(g->text);
}

static void read_text(int fd, const char *text)
{
	size_t len = strlen(text);
	g_autofree char *buf = g_malloc(len + 1);

	ipc_test_read_all(fd, buf, len);
	g_assert_cmpmem(buf, len, text, len);
}

/* The next bytes on @fd are exactly @text, and nothing follows yet. */
static void expect_text(int fd, const char *text)
{
	char extra;

	read_text(fd, text);
	errno = 0;
	g_assert_cmpint(recv(fd, &extra, 1, MSG_DONTWAIT), ==, -1);
	g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The bytes left on @fd are exactly @text, then the end of file. */
static void expect_text_then_eof(int fd, const char *text)
{
	read_text(fd, text);
	ipc_test_assert_eof(fd);
}

/* ------------------------------------------------------------------ */
/* Without callbacks                                                    */
/* ------------------------------------------------------------------ */

static const char *const to_b[] = {
	"hello B", "", "a third message, a little longer than the others",
};
static const char *const to_a[] = { "reply from B", "and a second one" };

static void test_relay(Fixture *f, gconstpointer data)
{
	struct ipc_test_relay r;

	(void)data;
	ipc_test_relay_open(f, &r, RELAY, PEER);
	/* Callbacks set and then removed: the defaults are back. */
	g_assert_cmpint(ipc_set_switch_callbacks(f->ctx, r.b, line_in,
						 line_out), ==, 0);
	g_assert_cmpint(ipc_set_switch_callbacks(f->ctx, r.b, NULL, NULL), ==,
			0);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, r.b), ==, 0);
	assert_nonblocking(r.a);
	assert_nonblocking(r.b);

	ipc_test_send_frames(r.raw_a, to_b, G_N_ELEMENTS(to_b));
	ipc_test_pump_forward(f->ctx, r.a, r.b, to_b, G_N_ELEMENTS(to_b));
	ipc_test_expect_frames(r.raw_b, to_b, G_N_ELEMENTS(to_b));

	ipc_test_send_frames(r.raw_b, to_a, G_N_ELEMENTS(to_a));
	ipc_test_pump_forward(f->ctx, r.b, r.a, to_a, G_N_ELEMENTS(to_a));
	ipc_test_expect_frames(r.raw_a, to_a, G_N_ELEMENTS(to_a));

	/* And once more each way, one message at a time. */
	for (guint i = 0; i < G_N_ELEMENTS(to_b); i++) {
		ipc_test_send_frames(r.raw_a, &to_b[i], 1);
		ipc_test_pump_forward(f->ctx, r.a, r.b, &to_b[i], 1);
		ipc_test_expect_frames(r.raw_b, &to_b[i], 1);
		ipc_test_send_frames(r.raw_b, &to_a[i % 2], 1);
		ipc_test_pump_forward(f->ctx, r.b, r.a, &to_a[i % 2], 1);
		ipc_test_expect_frames(r.raw_a, &to_a[i % 2], 1);
	}
	close(r.raw_a);
	close(r.raw_b);
}

/* Large messages and small ones between them, each with its own bytes:
 * the large ones leave from where they were read, and what the socket did
 * not take waits in the queue, in its place. */
static const guint large_len[] = {
	40000, 5, 1 << 20, 7, 8 << 20, 3 << 20, 11, 100000, 2,
};

/* All in one write: a small message may still wait, unwritten, when the
 * large one behind it is read whole. */
static void *large_writer(void *data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	int fd = GPOINTER_TO_INT(data);

	for (guint i = 0; i < G_N_ELEMENTS(large_len); i++) {
		g_autofree guint8 *buf = g_malloc(large_len[i]);

		ipc_test_fill(buf, large_len[i], i);
		ipc_test_append_frame(out, buf, large_len[i]);
	}
	ipc_test_write_all(fd, out->data, out->len);
	return NULL;
}

/* B reads late, so that the socket fills before it is read. */
static void *large_reader(void *data)
{
	int fd = GPOINTER_TO_INT(data);
	g_autoptr(GByteArray) in = g_byte_array_new();

	g_usleep(100 * 1000);
	for (guint i = 0; i < G_N_ELEMENTS(large_len); i++) {
		g_autofree guint8 *want = g_malloc(large_len[i]);

		ipc_test_fill(want, large_len[i], i);
		ipc_test_read_frame(fd, in);
		g_assert_cmpmem(in->data, in->len, want, large_len[i]);
	}
	return NULL;
}

static void test_large(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	guint rx = 0, tx = 0, n = G_N_ELEMENTS(large_len);
	pthread_t writer, reader;
	struct ipc_test_relay r;

	(void)data;
	ipc_test_relay_open(f, &r, RELAY, PEER);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, r.b), ==, 0);
	g_assert_cmpint(pthread_create(&writer, NULL, large_writer,
				       GINT_TO_POINTER(r.raw_a)), ==, 0);
	g_assert_cmpint(pthread_create(&reader, NULL, large_reader,
				       GINT_TO_POINTER(r.raw_b)), ==, 0);
	while (rx < n || tx < n) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == SWITCH_RX) {
			g_assert_cmpint(ev.fd, ==, r.a);
			g_assert_cmpuint(ev.len, ==, large_len[rx]);
			rx++;
		} else {
			ipc_test_assert_switch_tx(&ev, r.b);
			tx++;
			g_assert_cmpuint(tx, <=, rx);
		}
	}
	g_assert_cmpint(pthread_join(writer, NULL), ==, 0);
	g_assert_cmpint(pthread_join(reader, NULL), ==, 0);
	close(r.raw_a);
	close(r.raw_b);
}

/* A message kept after -EMSGSIZE (an event buffer too small for it) is
 * forwarded once its connection is switched, not returned as MESSAGE_RX,
 * and what followed it keeps its place behind it. */
static void test_held_message(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct ipc_test_relay r;

	(void)data;
	ipc_test_relay_open(f, &r, RELAY, PEER);
	ipc_test_send_frames(r.raw_a, to_b, G_N_ELEMENTS(to_b));
	g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev, 2), ==, -EMSGSIZE);
	g_assert_cmpint(ev.fd, ==, r.a);
	g_assert_cmpuint(ev.len, ==, strlen(to_b[0]));

	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, r.b), ==, 0);
	ipc_test_pump_forward(f->ctx, r.a, r.b, to_b, G_N_ELEMENTS(to_b));
	ipc_test_expect_frames(r.raw_b, to_b, G_N_ELEMENTS(to_b));
	close(r.raw_a);
	close(r.raw_b);
	pump_until_closed(f->ctx, r.a, r.b, 0);
}

/* SWITCH_RX copies as much of the message as the buffer holds and reports
 * its whole length; the message is forwarded whole anyway. */
static void test_preview(Fixture *f, gconstpointer data)
{
	static const size_t lens[] = { 100, 60000, 3, 50 };
	static const size_t bufsizes[] = { 8, 0, 16, 50 };
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) in = g_byte_array_new();
	guint8 *payloads[G_N_ELEMENTS(lens)];
	struct ipc_test_relay r;
	guint tx = 0;

	(void)data;
	ipc_test_relay_open(f, &r, RELAY, PEER);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.b, r.a), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
		payloads[i] = g_malloc(lens[i]);
		ipc_test_fill(payloads[i], lens[i], i + 1);
		ipc_test_write_frame(r.raw_a, payloads[i], lens[i]);
		do {
			g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev,
							  bufsizes[i]), ==, 0);
			if (ev.type == SWITCH_TX)
				tx++;
		} while (ev.type == SWITCH_TX);
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
				ipc_test_event_name(SWITCH_RX));
		g_assert_cmpint(ev.fd, ==, r.a);
		g_assert_cmpuint(ev.len, ==, lens[i]);
		g_assert_cmpmem(ev.data, MIN(lens[i], bufsizes[i]),
				payloads[i], MIN(lens[i], bufsizes[i]));
	}
	for (; tx < G_N_ELEMENTS(lens); tx++) {
		ipc_test_next_event(f->ctx, &ev);
		ipc_test_assert_switch_tx(&ev, r.b);
	}
	for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
		ipc_test_read_frame(r.raw_b, in);
		g_assert_cmpmem(in->data, in->len, payloads[i], lens[i]);
		g_free(payloads[i]);
	}
	close(r.raw_a);
	close(r.raw_b);
}

/* ipc_close_fd on one side: the other one becomes an ordinary connection,
 * with no DISCONNECTION for either. */
static void test_close_one_side(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	static const char *const plain[] = { "plain again" };
	struct ipc_test_relay r;

	(void)data;
	ipc_test_relay_open(f, &r, RELAY, PEER);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, r.b), ==, 0);
	g_assert_cmpint(ipc_close_fd(f->ctx, r.a), ==, 0);
	ipc_test_assert_fd_closed(r.a);
	ipc_test_assert_eof(r.raw_a);

	g_assert_cmpint(ipc_schedule(f->ctx, r.b, plain[0], strlen(plain[0])),
			==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_TX, &ev);
	g_assert_cmpint(ev.fd, ==, r.b);
	ipc_test_expect_frames(r.raw_b, plain, 1);
	ipc_test_send_frames(r.raw_b, to_a, 1);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, r.b);
	g_assert_cmpmem(ev.data, ev.len, to_a[0], strlen(to_a[0]));
	close(r.raw_a);
	close(r.raw_b);
}

/* ------------------------------------------------------------------ */
/* One side goes away                                                   */
/* ------------------------------------------------------------------ */

static void bulk_payload(guint8 *buf, guint i)
{
	ipc_test_fill(buf, BULK_LEN, i + 100);
}

/* Writes BULK_COUNT messages (more than the socket buffers hold) and goes
 * away at once. */
static void *bulk_writer(void *data)
{
	int fd = GPOINTER_TO_INT(data);
	g_autofree guint8 *buf = g_malloc(BULK_LEN);

	for (guint i = 0; i < BULK_COUNT; i++) {
		bulk_payload(buf, i);
		ipc_test_write_frame(fd, buf, BULK_LEN);
	}
	close(fd);
	return NULL;
}

/* Reads and checks messages until EOF; returns how many came. */
static void *bulk_reader(void *data)
{
	int fd = GPOINTER_TO_INT(data);
	g_autoptr(GByteArray) frame = g_byte_array_new();
	g_autofree guint8 *expected = g_malloc(BULK_LEN);
	guint count = 0;
	char byte;

	while (recv(fd, &byte, 1, MSG_PEEK) == 1) {
		g_assert_cmpuint(ipc_test_read_frame(fd, frame), ==, BULK_LEN);
		bulk_payload(expected, count);
		g_assert_cmpmem(frame->data, frame->len, expected, BULK_LEN);
		count++;
	}
	return GUINT_TO_POINTER(count);
}

/* One side (A when data is NULL, else B) sends a burst and leaves: every
 * message still reaches the other side, then the context closes it too:
 * two DISCONNECTION events, the second peer sees EOF. */
static void test_disconnect(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree guint8 *expected = g_malloc(BULK_LEN);
	struct ipc_test_relay r;
	struct closing c = { { -1, -1 }, { FALSE, FALSE } };
	pthread_t writer, reader;
	void *delivered = NULL;
	guint rx = 0, tx = 0;
	int from_raw, to_raw;

	ipc_test_relay_open(f, &r, RELAY, PEER);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, r.b), ==, 0);
	c.fd[0] = data ? r.b : r.a;
	c.fd[1] = data ? r.a : r.b;
	from_raw = data ? r.raw_b : r.raw_a;
	to_raw = data ? r.raw_a : r.raw_b;
	g_assert_cmpint(pthread_create(&writer, NULL, bulk_writer,
				       GINT_TO_POINTER(from_raw)), ==, 0);
	g_assert_cmpint(pthread_create(&reader, NULL, bulk_reader,
				       GINT_TO_POINTER(to_raw)), ==, 0);
	do {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == SWITCH_RX) {
			g_assert_cmpint(ev.fd, ==, c.fd[0]);
			bulk_payload(expected, rx++);
			g_assert_cmpmem(ev.data, ev.len, expected, BULK_LEN);
		} else if (ev.type == SWITCH_TX) {
			ipc_test_assert_switch_tx(&ev, c.fd[1]);
			g_assert_cmpuint(++tx, <=, rx);
		} else if (ev.fd == c.fd[0]) {
			/* Every message read before the leaver's end. */
			g_assert_cmpuint(rx, ==, BULK_COUNT);
		}
	} while (ev.type == SWITCH_RX || ev.type == SWITCH_TX ||
		 !closing_note(&c, &ev));
	g_test_message("%u SWITCH_RX, %u SWITCH_TX", rx, tx);

	g_assert_cmpint(pthread_join(writer, NULL), ==, 0);
	g_assert_cmpint(pthread_join(reader, &delivered), ==, 0);
	g_assert_cmpuint(GPOINTER_TO_UINT(delivered), ==, BULK_COUNT);
	close(to_raw);
	g_assert_cmpint(ipc_close_fd(f->ctx, r.a), ==, -EBADF);
	g_assert_cmpint(ipc_close_fd(f->ctx, r.b), ==, -EBADF);
}

/* ------------------------------------------------------------------ */
/* With callbacks                                                       */
/* ------------------------------------------------------------------ */

static const char *const lines[] = { "hello", "world", "", "last line" };
static const char *const frames[] = { "ping", "", "pong pong" };

/* The maximum message size test_callbacks lowers to, and a message of
 * exactly that size. */
#define LOWERED_MAX 64
static const char *const longest[] = {
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
};

static void test_callbacks(Fixture *f, gconstpointer data)
{
	struct gateway g;

	(void)data;
	gateway_open(f, &g, line_in, line_out);

	/* Text to IPC: a line and a half, then the rest. */
	ipc_test_write_all(g.peer, "hello\nwor", 9);
	ipc_test_pump_forward(f->ctx, g.text, g.a, lines, 1);
	ipc_test_expect_frames(g.raw_a, lines, 1);
	ipc_test_write_all(g.peer, "ld\n\nlast line\n", 14);
	ipc_test_pump_forward(f->ctx, g.text, g.a, lines + 1, 3);
	ipc_test_expect_frames(g.raw_a, lines + 1, 3);
	g_assert_cmpint(cb.in_fd, ==, g.text);
	g_assert_cmpuint(cb.in_mlen, ==, IPC_MAX_MESSAGE_SIZE_DEFAULT);
	g_assert_cmpint(cb.out_calls, ==, 0);

	/* A lowered maximum is the size the callback is offered from then
	 * on, though the buffer behind it is still the larger one. */
	g_assert_cmpint(ipc_context_max_message_size(f->ctx, LOWERED_MAX),
			==, 0);
	ipc_test_write_all(g.peer, "hello\n", 6);
	ipc_test_pump_forward(f->ctx, g.text, g.a, lines, 1);
	ipc_test_expect_frames(g.raw_a, lines, 1);
	g_assert_cmpuint(cb.in_mlen, ==, LOWERED_MAX);
	/* A message of exactly the maximum goes through. */
	g_assert_cmpuint(strlen(longest[0]), ==, LOWERED_MAX);
	ipc_test_write_all(g.peer, longest[0], LOWERED_MAX);
	ipc_test_write_all(g.peer, "\n", 1);
	ipc_test_pump_forward(f->ctx, g.text, g.a, longest, 1);
	ipc_test_expect_frames(g.raw_a, longest, 1);

	/* IPC to text. */
	ipc_test_send_frames(g.raw_a, frames, G_N_ELEMENTS(frames));
	ipc_test_pump_forward(f->ctx, g.a, g.text, frames, G_N_ELEMENTS(frames));
	expect_text(g.peer, "ping\n\npong pong\n");
	g_assert_cmpint(cb.out_calls, ==, G_N_ELEMENTS(frames));
	g_assert_cmpint(cb.out_fd, ==, g.text);

	/* End of file on the text side: line_in says CB_FD_CLOSING. */
	close(g.peer);
	pump_until_closed(f->ctx, g.text, g.a, 0);
	ipc_test_assert_eof(g.raw_a);
	close(g.raw_a);
}

/* Lines that line_in read in one go but returns one per call: the socket
 * is empty after the first call, so the rest comes out only because the
 * library calls `in` again after CB_NO_ERROR. */
static void test_callback_buffered(Fixture *f, gconstpointer data)
{
	static const char *const abc[] = { "a", "b", "c" };
	struct gateway g;

	(void)data;
	gateway_open(f, &g, line_in, line_out);
	ipc_test_write_all(g.peer, "a\nb\nc\n", 6);
	ipc_test_pump_forward(f->ctx, g.text, g.a, abc, G_N_ELEMENTS(abc));
	ipc_test_expect_frames(g.raw_a, abc, G_N_ELEMENTS(abc));
	close(g.peer);
	pump_until_closed(f->ctx, g.text, g.a, 0);
	close(g.raw_a);
}

/* CB_IGNORE from out drops that message, with no SWITCH_TX: a stray one
 * would come before the next message's SWITCH_RX. */
static void test_callback_ignore(Fixture *f, gconstpointer data)
{
	static const char *const sent[] = { "keep 1", "drop", "keep 2" };
	struct gateway g;

	(void)data;
	gateway_open(f, &g, NULL, picky_out);
	for (guint i = 0; i < G_N_ELEMENTS(sent); i++) {
		g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

		ipc_test_send_frames(g.raw_a, &sent[i], 1);
		if (i != 1) {
			ipc_test_pump_forward(f->ctx, g.a, g.text, &sent[i], 1);
			continue;
		}
		ipc_test_wait_for(f->ctx, SWITCH_RX, &ev);
		g_assert_cmpint(ev.fd, ==, g.a);
	}
	expect_text(g.peer, "keep 1\nkeep 2\n");
	g_assert_cmpint(cb.out_calls, ==, 3);

	/* The default input (NULL): the text side now speaks frames. */
	ipc_test_send_frames(g.peer, frames, G_N_ELEMENTS(frames));
	ipc_test_pump_forward(f->ctx, g.text, g.a, frames, G_N_ELEMENTS(frames));
	ipc_test_expect_frames(g.raw_a, frames, G_N_ELEMENTS(frames));
	close(g.peer);
	pump_until_closed(f->ctx, g.text, g.a, 0);
	ipc_test_assert_eof(g.raw_a);
	close(g.raw_a);
}

/* The IPC side sends its last messages and leaves: they are written to the
 * text side through its callback, then the text side (an external) is
 * closed too, and its peer sees EOF after exactly those lines. */
static void test_ipc_side_leaves(Fixture *f, gconstpointer data)
{
	static const char *const last[] = { "last words", "bye" };
	struct gateway g;

	(void)data;
	gateway_open(f, &g, line_in, line_out);
	ipc_test_send_frames(g.raw_a, last, G_N_ELEMENTS(last));
	close(g.raw_a);
	pump_until_closed(f->ctx, g.a, g.text,
			  IPC_TEST_BIT(SWITCH_RX) | IPC_TEST_BIT(SWITCH_TX));
	g_assert_cmpint(cb.out_calls, ==, G_N_ELEMENTS(last));
	expect_text_then_eof(g.peer, "last words\nbye\n");
	close(g.peer);
}

/* A callback returns CB_ERROR: both sides close with DISCONNECTION. */
struct failure {
	in_callback in;
	out_callback out;
	gboolean from_ipc;	/* the trigger comes from A, else from text */
};

static const struct failure out_fails = { line_in, failing_out, TRUE };
static const struct failure in_fails = { failing_in, line_out, FALSE };

static void test_callback_error(Fixture *f, gconstpointer data)
{
	const struct failure *failure = data;
	static const char *const doomed[] = { "doomed" };
	struct gateway g;

	gateway_open(f, &g, failure->in, failure->out);
	if (failure->from_ipc)
		ipc_test_send_frames(g.raw_a, doomed, 1);
	else
		ipc_test_write_all(g.peer, "doomed\n", 7);
	/* The message may be reported read; it is never reported sent. */
	pump_until_closed(f->ctx, g.text, g.a, IPC_TEST_BIT(SWITCH_RX));
	g_assert_cmpint(failure->from_ipc ? cb.out_calls : cb.in_calls, ==, 1);
	g_assert_cmpint(failure->from_ipc ? cb.out_fd : cb.in_fd, ==, g.text);
	ipc_test_assert_eof(g.raw_a);
	ipc_test_assert_eof(g.peer);
	close(g.raw_a);
	close(g.peer);
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

static void test_errors(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct ipc_test_relay r;
	char buf[8];
	size_t len = sizeof(buf);
	int raw_c, c;

	(void)data;
	ipc_test_relay_open(f, &r, RELAY, PEER);
	raw_c = ipc_test_raw_connect(RELAY);
	c = ipc_test_accept(f->ctx, r.svc, NULL);

	g_assert_cmpint(ipc_add_switch(NULL, r.a, r.b), ==, -EINVAL);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, r.a), ==, -EINVAL);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, UNUSED_FD), ==, -EBADF);
	g_assert_cmpint(ipc_add_switch(f->ctx, UNUSED_FD, r.a), ==, -EBADF);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.svc, c), ==, -EINVAL);
	g_assert_cmpint(ipc_add_switch(f->ctx, c, r.svc), ==, -EINVAL);

	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, r.b), ==, 0);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.a, c), ==, -EALREADY);
	g_assert_cmpint(ipc_add_switch(f->ctx, c, r.b), ==, -EALREADY);
	g_assert_cmpint(ipc_add_switch(f->ctx, r.b, r.a), ==, -EALREADY);

	g_assert_cmpint(ipc_set_switch_callbacks(f->ctx, UNUSED_FD, line_in,
						 line_out), ==, -EBADF);
	g_assert_cmpint(ipc_set_switch_callbacks(f->ctx, r.svc, line_in,
						 line_out), ==, -EINVAL);
	g_assert_cmpint(ipc_set_switch_callbacks(NULL, r.a, line_in,
						 line_out), ==, -EINVAL);

	/* A switched fd is not for the message calls. */
	g_assert_cmpint(ipc_schedule(f->ctx, r.a, "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_write(f->ctx, r.b, "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_read_fd(f->ctx, r.a, buf, &len), ==, -EINVAL);

	/* None of it broke the switch, nor made c part of it. */
	ipc_test_send_frames(r.raw_a, to_b, 1);
	ipc_test_pump_forward(f->ctx, r.a, r.b, to_b, 1);
	ipc_test_expect_frames(r.raw_b, to_b, 1);
	ipc_test_write_frame(raw_c, "ordinary", 8);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, c);
	g_assert_cmpmem(ev.data, ev.len, "ordinary", 8);

	close(raw_c);
	close(r.raw_a);
	close(r.raw_b);
}

static void free_callback_state(void)
{
	if (cb.pending)
		g_string_free(cb.pending, TRUE);
	cb.pending = NULL;
}

int main(int argc, char **argv)
{
	int ret;

	ipc_test_init(&argc, &argv);

#define ADD(path, data, func) \
	g_test_add(path, Fixture, data, ipc_test_setup, func, ipc_test_teardown)
	ADD("/ipc/switch/relay", NULL, test_relay);
	ADD("/ipc/switch/large", NULL, test_large);
	ADD("/ipc/switch/held-message", NULL, test_held_message);
	ADD("/ipc/switch/preview", NULL, test_preview);
	ADD("/ipc/switch/close-one-side", NULL, test_close_one_side);
	ADD("/ipc/switch/disconnect-a", NULL, test_disconnect);
	ADD("/ipc/switch/disconnect-b", "b", test_disconnect);
	ADD("/ipc/switch/callbacks", NULL, test_callbacks);
	ADD("/ipc/switch/callback-buffered", NULL, test_callback_buffered);
	ADD("/ipc/switch/callback-ignore", NULL, test_callback_ignore);
	ADD("/ipc/switch/out-error", &out_fails, test_callback_error);
	ADD("/ipc/switch/in-error", &in_fails, test_callback_error);
	ADD("/ipc/switch/errors", NULL, test_errors);
	ADD("/ipc/switch/ipc-side-leaves", NULL, test_ipc_side_leaves);
#undef ADD

	ret = g_test_run();
	free_callback_state();
	return ret;
}
