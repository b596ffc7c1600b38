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

/* The next event is @type on @fd, with no new fd and no payload. */
static void expect_fd_event(void *ctx, char type, int fd)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_next_event(ctx, &ev);
	g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
			ipc_test_event_name(type));
	g_assert_cmpint(ev.fd, ==, fd);
	g_assert_cmpint(ev.newfd, ==, -1);
	g_assert_cmpuint(ev.len, ==, 0);
}

/* The next event is EXTERNAL on @fd, and the library read nothing: all
 * @pending bytes are still there. */
static void expect_external(void *ctx, int fd, int pending)
{
	expect_fd_event(ctx, EXTERNAL, fd);
	g_assert_cmpint(pending_bytes(fd), ==, pending);
}

/* The next event is the DISCONNECTION of @fd, which the library closed. */
static void expect_hangup(void *ctx, int fd)
{
	expect_fd_event(ctx, DISCONNECTION, fd);
	ipc_test_assert_fd_closed(fd);
	g_assert_cmpint(ipc_close_fd(ctx, fd), ==, -EBADF);
}

static void read_pipe_text(int fd)
{
	char buf[sizeof(pipe_text)];

	ipc_test_read_all(fd, buf, PIPE_TEXT_LEN);
	g_assert_cmpmem(buf, PIPE_TEXT_LEN, pipe_text, PIPE_TEXT_LEN);
}

/* A pipe (or a socketpair) whose first fd the context watches; the flags
 * of that fd must be left as they were. */
static void add_watched(void *ctx, int fds[2], gboolean socket)
{
	int flags;

	if (socket)
		g_assert_no_errno(socketpair(AF_UNIX,
					     SOCK_STREAM | SOCK_CLOEXEC, 0,
					     fds));
	else
		g_assert_no_errno(pipe(fds));
	flags = fcntl(fds[0], F_GETFL);
	g_assert_cmpint(ipc_add_external(ctx, fds[0]), ==, 0);
	g_assert_cmpint(fcntl(fds[0], F_GETFL), ==, flags);
}

static void add_pipe(void *ctx, int p[2])
{
	add_watched(ctx, p, FALSE);
}

/* ------------------------------------------------------------------ */
/* Reading and hanging up                                               */
/* ------------------------------------------------------------------ */

struct hangup_case {
	gboolean socket;	/* a socketpair, else a pipe */
	gboolean early_close;	/* the writer leaves before the reading */
};

/*
 * Bytes written to the fd: EXTERNAL, and the library read nothing; while
 * the writer stays, EXTERNAL again when nobody read them (readable is
 * readable).  The test reads them all itself.  A writer that left before
 * gives its DISCONNECTION only once nothing is left to read; then the
 * library has closed the fd.
 */
static void test_read_then_hangup(Fixture *f, gconstpointer data)
{
	const struct hangup_case *hc = data;
	int fds[2];

	add_watched(f->ctx, fds, hc->socket);
	ipc_test_write_all(fds[1], pipe_text, PIPE_TEXT_LEN);
	if (hc->early_close)
		close(fds[1]);
	expect_external(f->ctx, fds[0], PIPE_TEXT_LEN);
	if (!hc->early_close)
		expect_external(f->ctx, fds[0], PIPE_TEXT_LEN);
	read_pipe_text(fds[0]);
	if (!hc->early_close)
		close(fds[1]);
	expect_hangup(f->ctx, fds[0]);
}

static const struct hangup_case pipe_late = { FALSE, FALSE };
static const struct hangup_case pipe_early = { FALSE, TRUE };
static const struct hangup_case socket_late = { TRUE, FALSE };
static const struct hangup_case socket_early = { TRUE, TRUE };

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

#define ADD(path, data, func) \
	g_test_add(path, Fixture, data, ipc_test_setup, func, ipc_test_teardown)
	ADD("/ipc/external/pipe-readable", &pipe_late, test_read_then_hangup);
	ADD("/ipc/external/pipe-hangup-after-data", &pipe_early,
	    test_read_then_hangup);
	ADD("/ipc/external/socket-readable", &socket_late,
	    test_read_then_hangup);
	ADD("/ipc/external/socket-hangup-after-data", &socket_early,
	    test_read_then_hangup);
	ADD("/ipc/external/errors", NULL, test_errors);
	ADD("/ipc/external/with-service", NULL, test_with_service);
	ADD("/ipc/external/deinit-closes", NULL, test_deinit_closes);
#undef ADD

	return g_test_run();
}
