/*
 * libipc tests: external fds (ipc_add_external) and the EXTERNAL event.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

static const char pipe_text[] = "bytes for the test, not for libipc";
#define PIPE_TEXT_LEN (sizeof(pipe_text) - 1)

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Bytes waiting to be read on @fd. */
static int pending_bytes(int fd)
{
	int n = -1;

	g_assert_no_errno(ioctl(fd, FIONREAD, &n));
	return n;
}

/* The next event is EXTERNAL on @fd, and the library read nothing: all
 * @pending bytes are still there. */
static void expect_external(void *ctx, int fd, int pending)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_next_event(ctx, &ev);
	g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
			ipc_test_event_name(EXTERNAL));
	g_assert_cmpint(ev.fd, ==, fd);
	g_assert_cmpint(ev.newfd, ==, -1);
	g_assert_cmpuint(ev.len, ==, 0);
	g_assert_cmpint(pending_bytes(fd), ==, pending);
}

/* The next event is the DISCONNECTION of @fd, which the library closed. */
static void expect_hangup(void *ctx, int fd)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_next_event(ctx, &ev);
	g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
			ipc_test_event_name(DISCONNECTION));
	g_assert_cmpint(ev.fd, ==, fd);
	g_assert_cmpint(ev.newfd, ==, -1);
	g_assert_cmpuint(ev.len, ==, 0);
	ipc_test_assert_fd_closed(fd);
	g_assert_cmpint(ipc_close_fd(ctx, fd), ==, -EBADF);
}

static void read_pipe_text(int fd)
{
	char buf[sizeof(pipe_text)];

	ipc_test_read_all(fd, buf, PIPE_TEXT_LEN);
	g_assert_cmpmem(buf, PIPE_TEXT_LEN, pipe_text, PIPE_TEXT_LEN);
}

/* A pipe whose read end the context watches; the flags of that end must
 * be left as they were. */
static void add_pipe(void *ctx, int p[2])
{
	int flags;

	g_assert_no_errno(pipe(p));
	flags = fcntl(p[0], F_GETFL);
	g_assert_cmpint(ipc_add_external(ctx, p[0]), ==, 0);
	g_assert_cmpint(fcntl(p[0], F_GETFL), ==, flags);
}

/* ------------------------------------------------------------------ */
/* Reading and hanging up                                               */
/* ------------------------------------------------------------------ */

/* Bytes written to the pipe: EXTERNAL (twice when nobody reads them:
 * readable is readable), then the test reads them all itself; closing the
 * write end gives DISCONNECTION and the library closes the read end. */
static void test_readable(Fixture *f, gconstpointer data)
{
	int p[2];

	(void)data;
	add_pipe(f->ctx, p);
	ipc_test_write_all(p[1], pipe_text, PIPE_TEXT_LEN);
	expect_external(f->ctx, p[0], PIPE_TEXT_LEN);
	expect_external(f->ctx, p[0], PIPE_TEXT_LEN);
	read_pipe_text(p[0]);
	close(p[1]);
	expect_hangup(f->ctx, p[0]);
}

/* The writer wrote and left: the bytes still come first as EXTERNAL, the
 * DISCONNECTION only once nothing is left to read. */
static void test_hangup_after_data(Fixture *f, gconstpointer data)
{
	int p[2];

	(void)data;
	add_pipe(f->ctx, p);
	ipc_test_write_all(p[1], pipe_text, PIPE_TEXT_LEN);
	close(p[1]);
	expect_external(f->ctx, p[0], PIPE_TEXT_LEN);
	read_pipe_text(p[0]);
	expect_hangup(f->ctx, p[0]);
}

/* A socket as external: the peer's close is a hangup too. */
static void test_socket_hangup(Fixture *f, gconstpointer data)
{
	int sp[2];

	(void)data;
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     sp));
	g_assert_cmpint(ipc_add_external(f->ctx, sp[0]), ==, 0);
	ipc_test_write_all(sp[1], pipe_text, PIPE_TEXT_LEN);
	expect_external(f->ctx, sp[0], PIPE_TEXT_LEN);
	read_pipe_text(sp[0]);
	close(sp[1]);
	expect_hangup(f->ctx, sp[0]);
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

static void test_errors(Fixture *f, gconstpointer data)
{
	char buf[8];
	size_t len = sizeof(buf);
	int svc = ipc_test_service_init(f->ctx, "already");
	int p[2];
	int gone[2];

	(void)data;
	g_assert_no_errno(pipe(p));
	g_assert_cmpint(ipc_add_external(NULL, p[0]), ==, -EINVAL);
	g_assert_cmpint(ipc_add_external(f->ctx, p[0]), ==, 0);
	g_assert_cmpint(ipc_add_external(f->ctx, p[0]), ==, -EEXIST);
	g_assert_cmpint(ipc_add_external(f->ctx, svc), ==, -EEXIST);

	g_assert_no_errno(pipe(gone));
	close(gone[0]);
	g_assert_cmpint(ipc_add_external(f->ctx, gone[0]), ==, -EBADF);
	close(gone[1]);
	g_assert_cmpint(ipc_add_external(f->ctx, -1), ==, -EBADF);

	/* An external is not a libipc connection. */
	g_assert_cmpint(ipc_schedule(f->ctx, p[0], "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_write(f->ctx, p[0], "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_read_fd(f->ctx, p[0], buf, &len), ==, -EINVAL);

	/* The failed calls left the external as it was: still watched. */
	ipc_test_write_all(p[1], "?", 1);
	expect_external(f->ctx, p[0], 1);
	g_assert_cmpint(ipc_close_fd(f->ctx, p[0]), ==, 0);
	ipc_test_assert_fd_closed(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------------ */
/* With a service                                                       */
/* ------------------------------------------------------------------ */

/* A pipe and a client of a service in one loop: both events come, each
 * with its own fd, whatever their order; ipc_close_all closes the
 * external too. */
static void test_with_service(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) reply = g_byte_array_new();
	int svc = ipc_test_service_init(f->ctx, "mixed");
	int raw = ipc_test_raw_connect("mixed");
	gboolean got_external = FALSE, got_message = FALSE;
	size_t index;
	int conn = ipc_test_accept(f->ctx, svc, &index);
	int p[2];

	(void)data;
	add_pipe(f->ctx, p);
	ipc_test_write_all(p[1], pipe_text, PIPE_TEXT_LEN);
	ipc_test_write_frame(raw, "over ipc", 8);
	while (!got_external || !got_message) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == EXTERNAL) {
			g_assert_false(got_external);
			g_assert_cmpint(ev.fd, ==, p[0]);
			got_external = TRUE;
			read_pipe_text(p[0]);
			continue;
		}
		g_assert_false(got_message);
		ipc_test_assert_message(&ev, index, conn, "over ipc", 8);
		got_message = TRUE;
	}

	g_assert_cmpint(ipc_schedule(f->ctx, conn, "answer", 6), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_TX, &ev);
	g_assert_cmpint(ev.fd, ==, conn);
	g_assert_cmpuint(ipc_test_read_frame(raw, reply), ==, 6);
	g_assert_cmpmem(reply->data, reply->len, "answer", 6);

	g_assert_cmpint(ipc_close_all(f->ctx), ==, 0);
	ipc_test_assert_fd_closed(p[0]);
	ipc_test_assert_fd_closed(conn);
	ipc_test_assert_eof(raw);
	close(raw);
	close(p[1]);
}

/* ipc_context_deinit closes externals it still holds. */
static void test_deinit_closes(Fixture *f, gconstpointer data)
{
	int p[2];

	(void)data;
	add_pipe(f->ctx, p);
	ipc_context_deinit(&f->ctx);
	ipc_test_assert_fd_closed(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, func) \
	g_test_add(path, Fixture, NULL, ipc_test_setup, func, ipc_test_teardown)
	ADD("/ipc/external/readable", test_readable);
	ADD("/ipc/external/hangup-after-data", test_hangup_after_data);
	ADD("/ipc/external/socket-hangup", test_socket_hangup);
	ADD("/ipc/external/errors", test_errors);
	ADD("/ipc/external/with-service", test_with_service);
	ADD("/ipc/external/deinit-closes", test_deinit_closes);
#undef ADD

	return g_test_run();
}
