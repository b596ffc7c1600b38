/*
 * libipc tests: ipc_peer_credentials(), who is at the other end.
 *
 * The service runs in the test process; its client is a libipc client in
 * a forked child, so the two ends have different pids and each can check
 * that it sees the other's.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "creds"

/* An fd number no test opens. */
#define UNUSED_FD 4000

/* Poison values: a field the call should have set still holds them. */
#define NO_PID ((pid_t)-7)
#define NO_UID ((uid_t)-7)
#define NO_GID ((gid_t)-7)

struct creds {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* ipc_peer_credentials() with every out-pointer, asserted to succeed. */
static struct creds peer_creds(void *ctx, int fd)
{
	struct creds c = { NO_PID, NO_UID, NO_GID };

	g_assert_cmpint(ipc_peer_credentials(ctx, fd, &c.pid, &c.uid, &c.gid),
			==, 0);
	return c;
}

/* The peer is process @pid, running as this process's user and group. */
static void assert_creds(const struct creds *c, pid_t pid)
{
	g_assert_cmpint(c->pid, ==, pid);
	g_assert_cmpuint(c->uid, ==, getuid());
	g_assert_cmpuint(c->gid, ==, getgid());
}

/* Starts service NAME (*@svc) and accepts a raw client of this process
 * (*@raw); returns the service's end of the connection. */
static int service_with_raw_peer(void *ctx, int *svc, int *raw)
{
	*svc = ipc_test_service_init(ctx, NAME);
	*raw = ipc_test_raw_connect(NAME);
	return ipc_test_accept(ctx, *svc, NULL);
}

/* Child: a libipc client checks it sees the service's pid (its parent),
 * then exchanges a message so that the service knows it is connected. */
static void client_child(void *arg)
{
	const int *go = arg;
	void *ctx = NULL;
	struct creds c;
	int fd;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	fd = ipc_test_connect(ctx, NAME);
	c = peer_creds(ctx, fd);
	assert_creds(&c, getppid());
	g_assert_cmpint(ipc_write(ctx, fd, "checked", 7), ==, 0);
	/* Stay connected until the service has checked us. */
	ipc_test_wait_notify(go[0]);
	ipc_context_deinit(&ctx);
}

/* Each end sees the other: the service the forked client's pid, the
 * client the service's; both the uid and gid of this process. */
static void test_both_ends(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int svc = ipc_test_service_init(f->ctx, NAME);
	struct creds c;
	size_t index;
	int go[2], conn;
	pid_t pid;

	(void)data;
	ipc_test_pipe(go);
	pid = ipc_test_fork(client_child, go);
	conn = ipc_test_accept(f->ctx, svc, &index);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, index, conn, "checked", 7);
	c = peer_creds(f->ctx, conn);
	assert_creds(&c, pid);
	g_assert_cmpint(c.pid, !=, getpid());
	ipc_test_notify(go[1]);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, conn);
	ipc_test_reap(pid);
	close(go[0]);
	close(go[1]);
	/* The connection is gone: its fd is no longer known. */
	g_assert_cmpint(ipc_peer_credentials(f->ctx, conn, NULL, NULL, NULL),
			==, -EBADF);
}

/* Any out-pointer may be NULL; the others are still filled in. */
static void test_null_outputs(Fixture *f, gconstpointer data)
{
	int svc, raw, conn = service_with_raw_peer(f->ctx, &svc, &raw);
	pid_t pid = NO_PID;
	uid_t uid = NO_UID;
	gid_t gid = NO_GID;

	(void)data;
	/* The raw client is this process. */
	g_assert_cmpint(ipc_peer_credentials(f->ctx, conn, NULL, NULL, NULL),
			==, 0);
	g_assert_cmpint(ipc_peer_credentials(f->ctx, conn, &pid, NULL, NULL),
			==, 0);
	g_assert_cmpint(pid, ==, getpid());
	g_assert_cmpint(ipc_peer_credentials(f->ctx, conn, NULL, &uid, NULL),
			==, 0);
	g_assert_cmpuint(uid, ==, getuid());
	g_assert_cmpint(ipc_peer_credentials(f->ctx, conn, NULL, NULL, &gid),
			==, 0);
	g_assert_cmpuint(gid, ==, getgid());
	pid = NO_PID;
	gid = NO_GID;
	g_assert_cmpint(ipc_peer_credentials(f->ctx, conn, &pid, NULL, &gid),
			==, 0);
	g_assert_cmpint(pid, ==, getpid());
	g_assert_cmpuint(gid, ==, getgid());
	close(raw);
}

/* An external Unix socket (one end of a socketpair) has credentials too. */
static void test_external_socket(Fixture *f, gconstpointer data)
{
	struct creds c;
	int pair[2];

	(void)data;
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     pair));
	g_assert_cmpint(ipc_add_external(f->ctx, pair[0]), ==, 0);
	c = peer_creds(f->ctx, pair[0]);
	assert_creds(&c, getpid());
	g_assert_cmpint(ipc_close_fd(f->ctx, pair[0]), ==, 0);
	close(pair[1]);
}

/*
 * A socket that is not a Unix socket has no peer credentials: the header
 * promises a negative errno from getsockopt(2) (e.g. -ENOPROTOOPT), and
 * writes nothing.
 */
static void test_not_unix(Fixture *f, gconstpointer data)
{
	pid_t pid = NO_PID;
	uid_t uid = NO_UID;
	gid_t gid = NO_GID;
	int fd, ret;

	(void)data;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_assert_no_errno(fd);
	g_assert_cmpint(ipc_add_external(f->ctx, fd), ==, 0);
	ret = ipc_peer_credentials(f->ctx, fd, &pid, &uid, &gid);
	g_test_message("ipc_peer_credentials on a UDP socket: %d, pid %d, "
		       "uid %d, gid %d", ret, (int)pid, (int)uid, (int)gid);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	/* Until lib/ was fixed (c3903b3) this was 0, with pid 0 and ids -1. */
	g_assert_cmpint(ret, <, 0);
	g_assert_cmpint(pid, ==, NO_PID);
	g_assert_cmpuint(uid, ==, NO_UID);
	g_assert_cmpuint(gid, ==, NO_GID);
}

static void test_errors(Fixture *f, gconstpointer data)
{
	int svc, raw, conn = service_with_raw_peer(f->ctx, &svc, &raw);
	pid_t pid = NO_PID;
	uid_t uid = NO_UID;
	gid_t gid = NO_GID;
	int pipefd[2];

	(void)data;
	g_assert_cmpint(ipc_peer_credentials(NULL, conn, &pid, &uid, &gid), ==,
			-EINVAL);
	/* A listening service has no peer. */
	g_assert_cmpint(ipc_peer_credentials(f->ctx, svc, &pid, &uid, &gid),
			==, -EINVAL);
	/* Fds the context does not hold, open or not. */
	g_assert_cmpint(ipc_peer_credentials(f->ctx, raw, &pid, &uid, &gid),
			==, -EBADF);
	g_assert_cmpint(ipc_peer_credentials(f->ctx, -1, &pid, &uid, &gid),
			==, -EBADF);
	g_assert_cmpint(ipc_peer_credentials(f->ctx, UNUSED_FD, &pid, &uid,
					     &gid), ==, -EBADF);
	/* An external fd that is not a socket. */
	ipc_test_pipe(pipefd);
	g_assert_cmpint(ipc_add_external(f->ctx, pipefd[0]), ==, 0);
	g_assert_cmpint(ipc_peer_credentials(f->ctx, pipefd[0], &pid, &uid,
					     &gid), ==, -EINVAL);
	/* No failed call wrote anything. */
	g_assert_cmpint(pid, ==, NO_PID);
	g_assert_cmpuint(uid, ==, NO_UID);
	g_assert_cmpuint(gid, ==, NO_GID);
	g_assert_cmpint(ipc_close_fd(f->ctx, pipefd[0]), ==, 0);
	close(pipefd[1]);
	close(raw);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, func) \
	IPC_TEST_ADD("/ipc/credentials/" path, func, NULL)
	ADD("both-ends", test_both_ends);
	ADD("null-outputs", test_null_outputs);
	ADD("external-socket", test_external_socket);
	ADD("not-unix", test_not_unix);
	ADD("errors", test_errors);
#undef ADD

	return g_test_run();
}
