/*
 * libipc tests: a half-close carried through a switch (ipc_add_switch()).
 *
 * A side that shuts down its writing (shutdown(SHUT_WR), as nc -N and
 * many request/response clients do) still reads: the switch shuts down
 * the other side's writing once everything forwarded to it is written,
 * and keeps relaying the other way until that side ends too.
 *
 * The relay is the one of test-switch (ipc_test_relay_open()): a service
 * of the test context accepts a raw client A (the context's fd a), the
 * context connects to a raw listener B (fd b), and a and b are switched;
 * A and B are plain sockets of the test.  The last case goes through a
 * real ipc-tcpd over TCP, whose inbound relays are a switch of two
 * external fds.
 *
 * SPDX-License-Identifier: ISC
 */

#include "net-test.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define RELAY "relay"
#define PEER "peer-b"
#define GATEWAY "gateway"
#define SERVICE "svc"
#define LOOPBACK "127.0.0.1"

/* The linger case: A sends this much, which B never reads. */
#define BULK_COUNT 512
#define BULK_LEN 2048

/* The relay of ipc-test.h, its a and b switched. */
static void relay_open(Fixture *f, struct ipc_test_relay *r)
{
	ipc_test_relay_open(f, r, RELAY, PEER);
	g_assert_cmpint(ipc_add_switch(f->ctx, r->a, r->b), ==, 0);
}

/*
 * Runs the loop, which must report nothing (a half-close has no event),
 * until the raw socket @raw has the end of file the switch passed on.
 */
static void pump_until_eof(void *ctx, int raw)
{
	char t, buf[64];
	size_t index, len;
	int fd, newfd;

	while (!ipc_test_poll(raw, POLLIN, 0)) {
		len = sizeof(buf);
		g_assert_cmpint(ipc_wait_event_timeout(ctx, &t, &index, &fd,
						       &newfd, buf, &len, 10),
				==, -EAGAIN);
	}
	ipc_test_assert_eof(raw);
}

/*
 * Nothing is left to do: the context fd (the epoll backend's own) is not
 * readable, so the half-closed side, read to its end, is no longer
 * reported ready (a level-triggered backend would report it forever).
 */
static void assert_idle(void *ctx)
{
	char t, buf[64];
	size_t index, len = sizeof(buf);
	int fd, newfd, ctxfd = ipc_context_fd(ctx);

	if (ctxfd == -EOPNOTSUPP) {
		g_test_message("no context fd with this backend");
		return;
	}
	g_assert_cmpint(ctxfd, >=, 0);
	g_assert_cmpint(ipc_wait_event_timeout(ctx, &t, &index, &fd, &newfd,
					       buf, &len, 0), ==, -EAGAIN);
	g_assert_false(ipc_test_poll(ctxfd, POLLIN, 0));
}

/* Runs the loop until @fd1 and @fd2 both had their DISCONNECTION (each
 * once, the fd closed); SWITCH_RX and SWITCH_TX may come meanwhile. */
static void pump_until_closed(void *ctx, int fd1, int fd2)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	gboolean gone[2] = { FALSE, FALSE };

	while (!gone[0] || !gone[1]) {
		int side;

		ipc_test_next_event(ctx, &ev);
		if (ev.type == SWITCH_RX || ev.type == SWITCH_TX)
			continue;
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
				ipc_test_event_name(DISCONNECTION));
		g_assert_true(ev.fd == fd1 || ev.fd == fd2);
		side = ev.fd == fd1 ? 0 : 1;
		g_assert_false(gone[side]);
		gone[side] = TRUE;
		ipc_test_assert_fd_closed(ev.fd);
	}
	g_assert_cmpint(ipc_close_fd(ctx, fd1), ==, -EBADF);
	g_assert_cmpint(ipc_close_fd(ctx, fd2), ==, -EBADF);
}

static const char *const requests[] = {
	"first request", "", "a third one, a little longer than the others",
};
static const char *const replies[] = { "first reply", "second reply" };
static const char *const late[] = { "sent after B's half-close" };

/*
 * A sends its requests and shuts down its writing: B gets them, then end
 * of file; B's replies still reach A; when B leaves, both sides close and
 * A sees end of file after the replies.
 */
static void test_request(Fixture *f, gconstpointer data)
{
	/* The context fd's own fds (assert_idle()) stay until the end. */
	int fds = (ipc_context_fd(f->ctx), ipc_test_count_fds());
	struct ipc_test_relay r;

	(void)data;
	relay_open(f, &r);
	ipc_test_send_frames(r.raw_a, requests, G_N_ELEMENTS(requests));
	g_assert_no_errno(shutdown(r.raw_a, SHUT_WR));
	ipc_test_pump_forward(f->ctx, r.a, r.b, requests, G_N_ELEMENTS(requests));
	/* Written whole, then B's writing side is shut down. */
	ipc_test_expect_frames(r.raw_b, requests, G_N_ELEMENTS(requests));
	pump_until_eof(f->ctx, r.raw_b);
	assert_idle(f->ctx);

	ipc_test_send_frames(r.raw_b, replies, G_N_ELEMENTS(replies));
	ipc_test_pump_forward(f->ctx, r.b, r.a, replies, G_N_ELEMENTS(replies));
	ipc_test_expect_frames(r.raw_a, replies, G_N_ELEMENTS(replies));

	close(r.raw_b);
	pump_until_closed(f->ctx, r.a, r.b);
	ipc_test_assert_eof(r.raw_a);
	close(r.raw_a);
	g_assert_cmpint(ipc_close_fd(f->ctx, r.svc), ==, 0);
	g_assert_cmpint(ipc_test_count_fds(), ==, fds);
}

/*
 * The other way: B replies and shuts down its writing; A gets the replies
 * then end of file, and may still send (B reads it).  Then A shuts down
 * its writing too: both sides half-closed, one after the other, are both
 * closed, each with its DISCONNECTION, and no fd is left.
 */
static void test_reply(Fixture *f, gconstpointer data)
{
	int fds = (ipc_context_fd(f->ctx), ipc_test_count_fds());
	struct ipc_test_relay r;

	(void)data;
	relay_open(f, &r);
	ipc_test_send_frames(r.raw_a, requests, 1);
	ipc_test_pump_forward(f->ctx, r.a, r.b, requests, 1);
	ipc_test_expect_frames(r.raw_b, requests, 1);

	ipc_test_send_frames(r.raw_b, replies, G_N_ELEMENTS(replies));
	g_assert_no_errno(shutdown(r.raw_b, SHUT_WR));
	ipc_test_pump_forward(f->ctx, r.b, r.a, replies, G_N_ELEMENTS(replies));
	ipc_test_expect_frames(r.raw_a, replies, G_N_ELEMENTS(replies));
	pump_until_eof(f->ctx, r.raw_a);
	assert_idle(f->ctx);

	ipc_test_send_frames(r.raw_a, late, 1);
	ipc_test_pump_forward(f->ctx, r.a, r.b, late, 1);
	ipc_test_expect_frames(r.raw_b, late, 1);

	g_assert_no_errno(shutdown(r.raw_a, SHUT_WR));
	pump_until_closed(f->ctx, r.a, r.b);
	ipc_test_assert_eof(r.raw_b);
	close(r.raw_a);
	close(r.raw_b);
	g_assert_cmpint(ipc_close_fd(f->ctx, r.svc), ==, 0);
	g_assert_cmpint(ipc_test_count_fds(), ==, fds);
}

/* ------------------------------------------------------------------ */
/* Input callbacks: CB_FD_CLOSING is the end of file                    */
/* ------------------------------------------------------------------ */

static GString *pending;

/* One newline-terminated line is one message (ipc_test_line_read()). */
static char line_in(int orig, char *payload, size_t *mlen)
{
	return ipc_test_line_read(orig, pending, payload, mlen);
}

/*
 * A text peer behind line callbacks writes two lines and shuts down its
 * writing: the IPC client gets them, then end of file, and its replies
 * still reach the text peer as lines.
 */
static void test_callbacks(Fixture *f, gconstpointer data)
{
	static const char *const lines[] = { "hello", "world" };
	int fds = ipc_test_count_fds();
	int svc, a, raw_a, sp[2];
	char text[64];

	(void)data;
	pending = g_string_new(NULL);
	svc = ipc_test_service_init(f->ctx, GATEWAY);
	raw_a = ipc_test_raw_connect(GATEWAY);
	a = ipc_test_accept(f->ctx, svc, NULL);
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     sp));
	g_assert_cmpint(ipc_add_external(f->ctx, sp[0]), ==, 0);
	g_assert_cmpint(ipc_add_switch(f->ctx, sp[0], a), ==, 0);
	g_assert_cmpint(ipc_set_switch_callbacks(f->ctx, sp[0], line_in,
						 ipc_test_line_write), ==, 0);

	ipc_test_write_all(sp[1], "hello\nworld\n", 12);
	g_assert_no_errno(shutdown(sp[1], SHUT_WR));
	ipc_test_pump_forward(f->ctx, sp[0], a, lines, G_N_ELEMENTS(lines));
	ipc_test_expect_frames(raw_a, lines, G_N_ELEMENTS(lines));
	pump_until_eof(f->ctx, raw_a);

	ipc_test_send_frames(raw_a, replies, G_N_ELEMENTS(replies));
	ipc_test_pump_forward(f->ctx, a, sp[0], replies, G_N_ELEMENTS(replies));
	ipc_test_read_all(sp[1], text, 25);
	g_assert_cmpmem(text, 25, "first reply\nsecond reply\n", 25);

	close(raw_a);
	pump_until_closed(f->ctx, a, sp[0]);
	ipc_test_assert_eof(sp[1]);
	close(sp[1]);
	g_assert_cmpint(ipc_close_fd(f->ctx, svc), ==, 0);
	g_string_free(pending, TRUE);
	pending = NULL;
	g_assert_cmpint(ipc_test_count_fds(), ==, fds);
}

/* ------------------------------------------------------------------ */
/* A half-close whose other side never reads                            */
/* ------------------------------------------------------------------ */

/* Writes more than the relay's socket to B holds, then half-closes. */
static void *bulk_writer(void *data)
{
	int fd = GPOINTER_TO_INT(data);
	g_autofree guint8 *buf = g_malloc(BULK_LEN);

	for (guint i = 0; i < BULK_COUNT; i++) {
		ipc_test_fill(buf, BULK_LEN, i);
		ipc_test_write_frame(fd, buf, BULK_LEN);
	}
	g_assert_no_errno(shutdown(fd, SHUT_WR));
	return NULL;
}

/*
 * A sends 1 MiB and shuts down its writing; B never reads, so what the
 * relay holds for B never leaves: B is dropped once it has taken nothing
 * for IPC_LINGER_MS, and both sides close (the alarm bounds the wait).
 */
static void test_linger(Fixture *f, gconstpointer data)
{
	struct ipc_test_relay r;
	pthread_t writer;
	gint64 start;

	(void)data;
	relay_open(f, &r);
	g_assert_cmpint(pthread_create(&writer, NULL, bulk_writer,
				       GINT_TO_POINTER(r.raw_a)), ==, 0);
	start = g_get_monotonic_time();
	pump_until_closed(f->ctx, r.a, r.b);
	g_test_message("both sides closed after %" G_GINT64_FORMAT " ms, %d "
		       "bytes unread by B",
		       (g_get_monotonic_time() - start) / 1000,
		       ipc_test_pending_bytes(r.raw_b));
	g_assert_cmpint(pthread_join(writer, NULL), ==, 0);
	ipc_test_assert_eof(r.raw_a);
	close(r.raw_a);
	close(r.raw_b);
}

/* ------------------------------------------------------------------ */
/* Through ipc-tcpd, over TCP                                           */
/* ------------------------------------------------------------------ */

#define SERIES 20

/*
 * A TCP client sends "connect svc" and its requests in one write and shuts
 * down its writing (nc -N): the service gets every request and writes a
 * reply to each as it comes, then gets DISCONNECTION (the half-close,
 * carried by ipc-tcpd's switch); the client reads "ok", every reply, then
 * end of file.
 */
static void test_tcpd(Fixture *f, gconstpointer data)
{
	static const char *const args[] = { "--allow", SERVICE, NULL };
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GByteArray) got = g_byte_array_new();
	struct net_daemon d;
	char payload[64];
	int svc, tcp, local;

	(void)data;
	svc = ipc_test_service_init(f->ctx, SERVICE);
	net_tcpd_start(&d, f->rundir, LOOPBACK, "tcp", args);
	tcp = net_tcp_connect(d.addr, d.port);
	ipc_test_append_frame(out, "connect " SERVICE, 11);
	for (guint i = 0; i < SERIES; i++) {
		ipc_test_fill_numbered(payload, sizeof(payload), i);
		ipc_test_append_frame(out, payload, sizeof(payload));
	}
	ipc_test_write_all(tcp, out->data, out->len);
	g_assert_no_errno(shutdown(tcp, SHUT_WR));
	net_expect_text(tcp, "ok");
	local = ipc_test_accept(f->ctx, svc, NULL);

	for (guint i = 0; i < SERIES; i++) {
		ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
		g_assert_cmpint(ev.fd, ==, local);
		ipc_test_assert_numbered(ev.data, ev.len, sizeof(payload), i);
		ipc_test_fill_numbered(payload, sizeof(payload), i + SERIES);
		g_assert_cmpint(ipc_write(f->ctx, local, payload,
					  sizeof(payload)), ==, 0);
	}
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, local);
	for (guint i = 0; i < SERIES; i++) {
		gsize len = ipc_test_read_frame(tcp, got);

		ipc_test_assert_numbered(got->data, len, sizeof(payload),
					 i + SERIES);
	}
	ipc_test_assert_eof(tcp);
	close(tcp);
	net_daemon_stop(&d);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/half-close/request", test_request, NULL);
	IPC_TEST_ADD("/ipc/half-close/reply", test_reply, NULL);
	IPC_TEST_ADD("/ipc/half-close/callbacks", test_callbacks, NULL);
	IPC_TEST_ADD("/ipc/half-close/linger", test_linger, NULL);
	IPC_TEST_ADD("/ipc/half-close/tcpd", test_tcpd, NULL);
	return g_test_run();
}
