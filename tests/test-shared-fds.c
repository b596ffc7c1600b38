/*
 * libipc tests: connections whose open file someone else also holds.
 *
 * epoll watches open files, not fd numbers: closing an fd drops its
 * registration only when no other fd refers to the same file (a dup(2),
 * a forked child's copy, an fd sent away with SCM_RIGHTS).  The library
 * must take every fd out of its backend itself before closing it, or the
 * file's readiness keeps being reported for a slot that is free or serves
 * another connection by then.
 *
 * Each case closes a connection whose file stays open elsewhere, puts a
 * pipe that never becomes readable in the freed slot, then makes the old
 * file readable: the next event must be the timer's, not an EXTERNAL
 * event of the quiet pipe.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "shared"

enum holder {
	HOLD_DUP,		/* the program keeps a dup(2) */
	HOLD_FORK,		/* a forked child keeps its copy */
};

struct held {
	enum holder how;
	int dup_fd;
	pid_t child;
};

static void hold(struct held *h, int fd)
{
	h->dup_fd = -1;
	h->child = -1;
	if (h->how == HOLD_DUP) {
		h->dup_fd = dup(fd);
		g_assert_no_errno(h->dup_fd);
		return;
	}
	h->child = fork();
	g_assert_no_errno(h->child);
	if (h->child == 0) {
		/* Holds every fd of the parent, touches nothing; ends
		 * by itself if the test fails before killing it. */
		alarm(IPC_TEST_TIMEOUT);
		for (;;)
			pause();
	}
}

static void release(struct held *h)
{
	int status;

	if (h->dup_fd >= 0)
		close(h->dup_fd);
	if (h->child > 0) {
		kill(h->child, SIGKILL);
		g_assert_cmpint(waitpid(h->child, &status, 0), ==, h->child);
	}
}

/*
 * After the close, a quiet pipe takes the freed slot; the old file's
 * readiness (from what @old_peer writes now, or its end of file when it
 * is -1) must not reach it.
 */
static void assert_quiet(void *ctx, int old_peer, int pipe_rd)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	g_assert_cmpint(ipc_add_external(ctx, pipe_rd), ==, 0);
	if (old_peer >= 0)
		ipc_test_write_frame(old_peer, "late", 4);
	ipc_context_timer(ctx, 100);
	ipc_test_next_event(ctx, &ev);
	g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
			ipc_test_event_name(TIMER));
	ipc_context_timer(ctx, 0);
}

/* A client of our service, closed with ipc_close_fd(). */
static void test_client(Fixture *f, gconstpointer data)
{
	struct held h = { .how = GPOINTER_TO_INT(data) };
	int svc, raw, conn, p[2];

	svc = ipc_test_service_init(f->ctx, NAME);
	raw = ipc_test_raw_connect(NAME);
	conn = ipc_test_accept(f->ctx, svc, NULL);
	hold(&h, conn);
	g_assert_cmpint(ipc_close_fd(f->ctx, conn), ==, 0);
	g_assert_no_errno(pipe(p));
	assert_quiet(f->ctx, raw, p[0]);
	release(&h);
	close(p[1]);
	close(raw);
}

/* An external fd (a socket the program made), closed by ipc_close_fd(). */
static void test_external(Fixture *f, gconstpointer data)
{
	struct held h = { .how = GPOINTER_TO_INT(data) };
	int pair[2], p[2];

	(void)f;
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     pair));
	g_assert_cmpint(ipc_add_external(f->ctx, pair[0]), ==, 0);
	hold(&h, pair[0]);
	g_assert_cmpint(ipc_close_fd(f->ctx, pair[0]), ==, 0);
	g_assert_no_errno(pipe(p));
	assert_quiet(f->ctx, pair[1], p[0]);
	release(&h);
	close(p[1]);
	close(pair[1]);
}

/* A connection closed because its peer left while a copy was held: the
 * DISCONNECTION path closes it, not the program. */
static void test_disconnected(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct held h = { .how = GPOINTER_TO_INT(data) };
	int svc, raw, conn, p[2];

	svc = ipc_test_service_init(f->ctx, NAME);
	raw = ipc_test_raw_connect(NAME);
	conn = ipc_test_accept(f->ctx, svc, NULL);
	hold(&h, conn);
	g_assert_no_errno(shutdown(raw, SHUT_WR));
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, conn);
	g_assert_no_errno(pipe(p));
	assert_quiet(f->ctx, -1, p[0]);
	release(&h);
	close(p[1]);
	close(raw);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/shared-fds/client/dup", test_client,
		     GINT_TO_POINTER(HOLD_DUP));
	IPC_TEST_ADD("/ipc/shared-fds/client/fork", test_client,
		     GINT_TO_POINTER(HOLD_FORK));
	IPC_TEST_ADD("/ipc/shared-fds/external/dup", test_external,
		     GINT_TO_POINTER(HOLD_DUP));
	IPC_TEST_ADD("/ipc/shared-fds/external/fork", test_external,
		     GINT_TO_POINTER(HOLD_FORK));
	IPC_TEST_ADD("/ipc/shared-fds/disconnected/dup", test_disconnected,
		     GINT_TO_POINTER(HOLD_DUP));
	IPC_TEST_ADD("/ipc/shared-fds/disconnected/fork", test_disconnected,
		     GINT_TO_POINTER(HOLD_FORK));
	return g_test_run();
}
