/*
 * libipc tests: a context in a child made by fork(2).
 *
 * The child shares the parent's sockets, epoll set and run-directory
 * files.  Every call on the parent's context fails there with -ECHILD,
 * and ipc_context_deinit() only closes the child's copies: the parent's
 * service stays reachable and locked, its epoll set unchanged, and no
 * queued frame is written twice.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "forked"
#define QUEUED (1024 * 1024)

/* fork() keeping every fd (ipc_test_fork() closes the library's). */
static pid_t fork_keeping_fds(void (*child)(void *ctx), void *ctx)
{
	pid_t pid = fork();

	g_assert_no_errno(pid);
	if (pid == 0) {
		alarm(IPC_TEST_TIMEOUT);
		child(ctx);
		_exit(0);
	}
	return pid;
}

static void child_deinit(void *ctx)
{
	ipc_context_deinit(&ctx);
	g_assert_null(ctx);
}

static gboolean exists(Fixture *f, const char *name)
{
	g_autofree char *path = ipc_test_path(f, name);
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The parent's service still answers a new client. */
static void assert_serves(Fixture *f, int svc)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) reply = g_byte_array_new();
	int raw = ipc_test_raw_connect(NAME);
	int fd = ipc_test_accept(f->ctx, svc, NULL);

	ipc_test_write_frame(raw, "ping", 4);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
	g_assert_cmpint(ipc_write(f->ctx, fd, ev.data, ev.len), ==, 0);
	g_assert_cmpuint(ipc_test_read_frame(raw, reply), ==, 4);
	g_assert_cmpmem(reply->data, reply->len, "ping", 4);
	close(raw);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
}

/*
 * The child frees its copy of the context (an atexit handler, cleanup
 * before exec): the parent keeps its socket, lock and clients.
 */
static void test_child_deinit(Fixture *f, gconstpointer data)
{
	void *other = NULL;
	int svc, fd;

	(void)data;
	svc = ipc_test_service_init(f->ctx, NAME);
	ipc_test_reap(fork_keeping_fds(child_deinit, f->ctx));
	g_assert_true(exists(f, NAME));
	g_assert_true(exists(f, NAME ".lock"));
	assert_serves(f, svc);
	/* Still locked: a second instance is refused. */
	g_assert_cmpint(ipc_context_init(&other), ==, 0);
	g_assert_cmpint(ipc_service_init(other, &fd, NAME, strlen(NAME)), ==,
			-EADDRINUSE);
	ipc_context_deinit(&other);
}

static int child_conn;

static void child_calls(void *ctx_)
{
	void *ctx = ctx_;
	char t, buf[8];
	size_t index, len = sizeof(buf);
	int fd, newfd, pair[2];
	pid_t pid;
	uid_t uid;
	gid_t gid;

	g_assert_cmpint(ipc_close_fd(ctx, child_conn), ==, -ECHILD);
	g_assert_cmpint(ipc_close(ctx, 0), ==, -ECHILD);
	g_assert_cmpint(ipc_close_all(ctx), ==, -ECHILD);
	g_assert_cmpint(ipc_wait_event(ctx, &t, &index, &fd, &newfd, buf,
				       &len), ==, -ECHILD);
	g_assert_cmpint(ipc_wait_event_timeout(ctx, &t, &index, &fd, &newfd,
					       buf, &len, 0), ==, -ECHILD);
	g_assert_cmpint(ipc_context_fd(ctx), ==, -ECHILD);
	g_assert_cmpint(ipc_schedule(ctx, child_conn, "x", 1), ==, -ECHILD);
	g_assert_cmpint(ipc_write(ctx, child_conn, "x", 1), ==, -ECHILD);
	g_assert_cmpint(ipc_read_fd(ctx, child_conn, buf, &len), ==, -ECHILD);
	g_assert_cmpint(ipc_read(ctx, 0, buf, &len), ==, -ECHILD);
	g_assert_cmpint(ipc_service_init(ctx, &fd, "other", 5), ==, -ECHILD);
	g_assert_cmpint(ipc_connect_service(ctx, &fd, NAME, strlen(NAME)), ==,
			-ECHILD);
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
	g_assert_cmpint(ipc_add_external(ctx, pair[0]), ==, -ECHILD);
	g_assert_cmpint(ipc_add_switch(ctx, child_conn, pair[0]), ==, -ECHILD);
	g_assert_cmpint(ipc_set_switch_callbacks(ctx, child_conn, NULL, NULL),
			==, -ECHILD);
	g_assert_cmpint(ipc_context_max_message_size(ctx, 1), ==, -ECHILD);
	g_assert_cmpint(ipc_context_queue_limits(ctx, 1, 1), ==, -ECHILD);
	g_assert_cmpint(ipc_peer_credentials(ctx, child_conn, &pid, &uid,
					     &gid), ==, -ECHILD);
	ipc_context_timer(ctx, 1);
	ipc_context_deinit(&ctx);
}

/*
 * Every call on the parent's context fails in the child, which changes
 * nothing the parent relies on: its connection is still watched, its
 * limits and timer unchanged.
 */
static void test_child_calls(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int svc, raw;

	(void)data;
	svc = ipc_test_service_init(f->ctx, NAME);
	raw = ipc_test_raw_connect(NAME);
	child_conn = ipc_test_accept(f->ctx, svc, NULL);
	ipc_test_reap(fork_keeping_fds(child_calls, f->ctx));
	ipc_test_write_frame(raw, "still here", 10);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, child_conn);
	g_assert_cmpmem(ev.data, ev.len, "still here", 10);
	close(raw);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
}

static int go[2];

/* Connects, waits for the go-ahead, reads the four frames, answers "end"
 * and expects the end of file: no frame twice. */
static void queued_reader(void *arg)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();
	int raw = ipc_test_raw_connect(NAME);
	guint32 i;

	(void)arg;
	ipc_test_wait_notify(go[0]);
	for (i = 0; i < 4; i++) {
		g_assert_cmpuint(ipc_test_read_frame(raw, frame), ==, QUEUED);
		ipc_test_assert_numbered(frame->data, frame->len, QUEUED, i);
	}
	ipc_test_write_frame(raw, "end", 3);
	ipc_test_assert_eof(raw);
	close(raw);
}

/*
 * Frames queued for a peer that is not reading yet are written once: by
 * the parent, never by a child freeing its copy of the queue.
 */
static void test_child_queued(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree char *payload = g_malloc(QUEUED);
	int svc, conn, i;
	pid_t reader;

	(void)data;
	svc = ipc_test_service_init(f->ctx, NAME);
	ipc_test_pipe(go);
	reader = ipc_test_fork(queued_reader, NULL);
	conn = ipc_test_accept(f->ctx, svc, NULL);
	for (i = 0; i < 4; i++) {
		ipc_test_fill_numbered(payload, QUEUED, (guint32)i);
		g_assert_cmpint(ipc_schedule(f->ctx, conn, payload, QUEUED), ==,
				0);
	}
	ipc_test_reap(fork_keeping_fds(child_deinit, f->ctx));
	ipc_test_notify(go[1]);
	close(go[0]);
	close(go[1]);
	ipc_test_wait_for_ignoring(f->ctx, MESSAGE_RX, IPC_TEST_BIT(MESSAGE_TX),
				   &ev);
	g_assert_cmpmem(ev.data, ev.len, "end", 3);
	g_assert_cmpint(ipc_close_fd(f->ctx, conn), ==, 0);
	ipc_test_reap(reader);
}

static void child_own(void *unused)
{
	void *ctx = NULL;
	int svc, client;

	(void)unused;
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	svc = ipc_test_service_init(ctx, "child");
	client = ipc_test_connect(ctx, "child");
	g_assert_cmpint(ipc_test_accept(ctx, svc, NULL), >=, 0);
	g_assert_cmpint(ipc_write(ctx, client, "x", 1), ==, 0);
	ipc_context_deinit(&ctx);
}

/* A context the child makes itself is its own. */
static void test_child_own(Fixture *f, gconstpointer data)
{
	(void)data;
	ipc_test_service_init(f->ctx, NAME);
	ipc_test_reap(fork_keeping_fds(child_own, NULL));
	g_assert_false(exists(f, "child"));
	g_assert_true(exists(f, NAME));
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/fork/child-deinit", test_child_deinit, NULL);
	IPC_TEST_ADD("/ipc/fork/child-calls", test_child_calls, NULL);
	IPC_TEST_ADD("/ipc/fork/child-queued", test_child_queued, NULL);
	IPC_TEST_ADD("/ipc/fork/child-own", test_child_own, NULL);
	return g_test_run();
}
