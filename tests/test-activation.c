/*
 * libipc tests: socket activation, ipc_service_init() adopting the
 * listening socket it was passed (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES).
 *
 * The protocol cases run in a forked child each: the child puts real
 * sockets on fds 3 and up and sets the variables itself, as systemd would
 * before exec (the library reads them once per process).  The last cases
 * start pongd with systemd-socket-activate on its first connection; they
 * are skipped, saying why, when that program is missing.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define FIRST_FD 3

/* What a child puts on one passed fd. */
enum passed_kind {
	PASS_LISTENER,		/* AF_UNIX stream socket listening on a path */
	PASS_DGRAM,		/* AF_UNIX datagram socket */
	PASS_UNLISTENED,	/* AF_UNIX stream socket, bound, not listening */
	PASS_PIPE,		/* not a socket */
	PASS_TCP,		/* a listening TCP socket on loopback */
};

/* Makes one fd of @kind; a listener is bound to $IPC_RUNDIR/@path. */
static int passed_make(enum passed_kind kind, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sockaddr_in in = { .sin_family = AF_INET };
	int fd, fds[2];

	if (kind == PASS_PIPE) {
		g_assert_no_errno(pipe(fds));
		close(fds[1]);
		return fds[0];
	}
	if (kind == PASS_TCP) {
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		g_assert_cmpint(fd, >=, 0);
		g_assert_no_errno(bind(fd, (struct sockaddr *)&in,
				       sizeof(in)));
		g_assert_no_errno(listen(fd, 8));
		return fd;
	}
	fd = socket(AF_UNIX, kind == PASS_DGRAM ? SOCK_DGRAM : SOCK_STREAM,
		    0);
	g_assert_cmpint(fd, >=, 0);
	g_snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s",
		   g_getenv("IPC_RUNDIR"), path);
	g_assert_no_errno(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	if (kind == PASS_LISTENER)
		g_assert_no_errno(listen(fd, 8));
	return fd;
}

/*
 * Puts fds on 3, 4, ... (without close-on-exec, as systemd passes them)
 * and sets the variables for this process (@pid 0) or another one.
 */
static void pass(const enum passed_kind *kinds, const char *const *paths,
		 int count, const char *names, pid_t pid)
{
	char buf[32];
	int i, fd;

	for (i = 0; i < count; i++) {
		fd = passed_make(kinds[i], paths[i]);
		if (fd != FIRST_FD + i) {
			g_assert_no_errno(dup2(fd, FIRST_FD + i));
			close(fd);
		}
	}
	g_snprintf(buf, sizeof(buf), "%ld", (long)(pid ? pid : getpid()));
	g_setenv("LISTEN_PID", buf, TRUE);
	g_snprintf(buf, sizeof(buf), "%d", count);
	g_setenv("LISTEN_FDS", buf, TRUE);
	if (names)
		g_setenv("LISTEN_FDNAMES", names, TRUE);
	else
		g_unsetenv("LISTEN_FDNAMES");
}

static int service_init(void *ctx, const char *name)
{
	int fd = -1, ret;

	ret = ipc_service_init(ctx, &fd, name, (uint16_t)strlen(name));
	return ret < 0 ? ret : fd;
}

/* @fd and @other are the same socket (one a duplicate of the other). */
static void assert_same_socket(int fd, int other)
{
	struct stat a, b;

	g_assert_no_errno(fstat(fd, &a));
	g_assert_no_errno(fstat(other, &b));
	g_assert_true(S_ISSOCK(a.st_mode));
	g_assert_cmpuint(a.st_ino, ==, b.st_ino);
	g_assert_cmpuint(a.st_dev, ==, b.st_dev);
}

static void assert_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	g_assert_cmpint(flags, >=, 0);
	g_assert_true(flags & FD_CLOEXEC);
}

/* The library never changes the environment (another thread may be in
 * getenv); LISTEN_PID keeps the variables from the process's children. */
static void assert_kept(void)
{
	g_assert_nonnull(g_getenv("LISTEN_PID"));
	g_assert_nonnull(g_getenv("LISTEN_FDS"));
}

/* A client of $IPC_RUNDIR/@path is accepted by service @svc and echoed. */
static void assert_serves(void *ctx, int svc, const char *path)
{
	g_autoptr(GByteArray) reply = g_byte_array_new();
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int raw = ipc_test_raw_connect(path);
	int fd = ipc_test_accept(ctx, svc, NULL);

	ipc_test_write_frame(raw, "ping", 4);
	ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
	g_assert_cmpint(ipc_write(ctx, fd, ev.data, ev.len), ==, 0);
	g_assert_cmpuint(ipc_test_read_frame(raw, reply), ==, 4);
	g_assert_cmpmem(reply->data, reply->len, "ping", 4);
	close(raw);
	g_assert_cmpint(ipc_close_fd(ctx, fd), ==, 0);
}

static gboolean exists(const char *name)
{
	g_autofree char *path = g_build_filename(g_getenv("IPC_RUNDIR"), name,
						 NULL);
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ------------------------------------------------------------------ */
/* The protocol, in forked children                                     */
/* ------------------------------------------------------------------ */

/*
 * Two named fds: each service takes its own, whatever the order; the
 * variables are kept and the fds close-on-exec after the first call; no
 * file is created, and none removed when the services close.
 */
static void child_named(void *arg)
{
	static const enum passed_kind kinds[] = { PASS_LISTENER,
						  PASS_LISTENER };
	static const char *const paths[] = { "first", "second" };
	void *ctx = NULL;
	int a, b;

	(void)arg;
	pass(kinds, paths, 2, "alpha:beta", 0);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	b = service_init(ctx, "beta");
	g_assert_cmpint(b, >=, 0);
	assert_kept();
	assert_cloexec(FIRST_FD);
	assert_cloexec(FIRST_FD + 1);
	assert_cloexec(b);
	g_assert_cmpint(b, !=, FIRST_FD + 1);
	assert_same_socket(b, FIRST_FD + 1);
	g_assert_true(fcntl(b, F_GETFL) & O_NONBLOCK);
	a = service_init(ctx, "alpha");
	g_assert_cmpint(a, >=, 0);
	assert_same_socket(a, FIRST_FD);
	assert_serves(ctx, a, "first");
	assert_serves(ctx, b, "second");
	g_assert_false(exists("alpha") || exists("alpha.lock"));
	g_assert_false(exists("beta") || exists("beta.lock"));
	/* A name passed no fd: created the usual way. */
	g_assert_cmpint(service_init(ctx, "gamma"), >=, 0);
	g_assert_true(exists("gamma") && exists("gamma.lock"));
	ipc_context_deinit(&ctx);
	g_assert_true(exists("first") && exists("second"));
	g_assert_false(exists("gamma") || exists("gamma.lock"));
}

static void test_named(Fixture *f, gconstpointer data)
{
	(void)data;
	ipc_test_reap(ipc_test_fork(child_named, NULL));
	ipc_test_expect_leftover(f, "first");
	ipc_test_expect_leftover(f, "second");
}

/*
 * One unnamed fd: the first service adopts it whatever its name; while it
 * is in use, another service of that name is refused; once closed, the
 * passed fd is adopted again; other names go the usual way.
 */
static void child_unnamed(void *arg)
{
	static const enum passed_kind kinds[] = { PASS_LISTENER };
	static const char *const paths[] = { "passed" };
	void *ctx = NULL, *ctx2 = NULL;
	int svc;

	(void)arg;
	pass(kinds, paths, 1, NULL, 0);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	g_assert_cmpint(ipc_context_init(&ctx2), ==, 0);
	svc = service_init(ctx, "echo");
	g_assert_cmpint(svc, >=, 0);
	assert_same_socket(svc, FIRST_FD);
	g_assert_cmpint(service_init(ctx2, "echo"), ==, -EADDRINUSE);
	g_assert_false(exists("echo") || exists("echo.lock"));
	g_assert_cmpint(ipc_close_fd(ctx, svc), ==, 0);
	assert_cloexec(FIRST_FD);	/* the passed fd stays open */
	svc = service_init(ctx2, "echo");
	g_assert_cmpint(svc, >=, 0);
	assert_same_socket(svc, FIRST_FD);
	assert_serves(ctx2, svc, "passed");
	g_assert_cmpint(service_init(ctx, "other"), >=, 0);
	g_assert_true(exists("other"));
	ipc_context_deinit(&ctx);
	ipc_context_deinit(&ctx2);
	g_assert_true(exists("passed"));
}

static void test_unnamed(Fixture *f, gconstpointer data)
{
	(void)data;
	ipc_test_reap(ipc_test_fork(child_unnamed, NULL));
	ipc_test_expect_leftover(f, "passed");
}

/*
 * The same context adopts the passed fd again after closing its service:
 * the closed duplicate left the epoll set although the passed fd keeps
 * the socket open, and a client waiting meanwhile is served.
 */
static void child_readopt(void *arg)
{
	static const enum passed_kind kinds[] = { PASS_LISTENER };
	static const char *const paths[] = { "passed" };
	void *ctx = NULL;
	int svc, i;

	(void)arg;
	pass(kinds, paths, 1, NULL, 0);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	for (i = 0; i < 3; i++) {
		svc = service_init(ctx, "echo");
		g_assert_cmpint(svc, >=, 0);
		assert_serves(ctx, svc, "passed");
		g_assert_cmpint(ipc_close_fd(ctx, svc), ==, 0);
	}
	ipc_context_deinit(&ctx);
}

static void test_readopt(Fixture *f, gconstpointer data)
{
	(void)data;
	ipc_test_reap(ipc_test_fork(child_readopt, NULL));
	ipc_test_expect_leftover(f, "passed");
}

/* An fd named after the service that is not a listening Unix stream. */
struct wrong {
	enum passed_kind kind;
	int expected;
};

static void child_wrong(void *arg)
{
	const struct wrong *w = arg;
	const enum passed_kind kinds[] = { w->kind };
	static const char *const paths[] = { "passed" };
	void *ctx = NULL;

	pass(kinds, paths, 1, "echo", 0);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	g_assert_cmpint(service_init(ctx, "echo"), ==, w->expected);
	/* Nothing was created, and the fd is left as it was. */
	g_assert_false(exists("echo") || exists("echo.lock"));
	g_assert_cmpint(fcntl(FIRST_FD, F_GETFD), >=, 0);
	ipc_context_deinit(&ctx);
}

static void test_wrong(Fixture *f, gconstpointer data)
{
	ipc_test_reap(ipc_test_fork(child_wrong, (void *)data));
	ipc_test_expect_leftover(f, "passed");
}

/* Variables for another process: not adopted, and left alone. */
static void child_other_pid(void *arg)
{
	static const enum passed_kind kinds[] = { PASS_LISTENER };
	static const char *const paths[] = { "passed" };
	void *ctx = NULL;
	int svc;

	(void)arg;
	pass(kinds, paths, 1, "echo", getppid());
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	svc = service_init(ctx, "echo");
	g_assert_cmpint(svc, >=, 0);
	assert_kept();
	g_assert_true(exists("echo") && exists("echo.lock"));
	assert_serves(ctx, svc, "echo");
	ipc_context_deinit(&ctx);
	g_assert_false(exists("echo"));
}

/* Malformed LISTEN_FDS: taken for nothing passed. */
static void child_malformed(void *arg)
{
	static const enum passed_kind kinds[] = { PASS_LISTENER };
	static const char *const paths[] = { "passed" };
	void *ctx = NULL;

	(void)arg;
	pass(kinds, paths, 1, "echo", 0);
	g_setenv("LISTEN_FDS", "1x", TRUE);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	g_assert_cmpint(service_init(ctx, "echo"), >=, 0);
	assert_kept();
	g_assert_true(exists("echo") && exists("echo.lock"));
	ipc_context_deinit(&ctx);
}

/*
 * LISTEN_FDS up to 4096 is believed, more is taken for a broken
 * environment: nothing passed.  One listener is on fd 3 either way.
 */
static void listen_fds_child(const char *count, gboolean adopted)
{
	static const enum passed_kind kinds[] = { PASS_LISTENER };
	static const char *const paths[] = { "passed" };
	void *ctx = NULL;
	int svc;

	pass(kinds, paths, 1, "echo", 0);
	g_setenv("LISTEN_FDS", count, TRUE);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	svc = service_init(ctx, "echo");
	g_assert_cmpint(svc, >=, 0);
	assert_kept();
	if (adopted)
		assert_same_socket(svc, FIRST_FD);
	g_assert_true(exists("echo") == !adopted);
	ipc_context_deinit(&ctx);
}

static void child_most_fds(void *arg)
{
	(void)arg;
	listen_fds_child("4096", TRUE);
}

static void child_too_many_fds(void *arg)
{
	(void)arg;
	listen_fds_child("4097", FALSE);
}

/*
 * A child of a process that read the variables adopts nothing, even for
 * a name its parent was passed and has not adopted.
 */
static void grandchild_forked(void *arg)
{
	void *ctx = NULL;

	(void)arg;
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	g_assert_cmpint(service_init(ctx, "later"), >=, 0);
	g_assert_true(exists("later") && exists("later.lock"));
	ipc_context_deinit(&ctx);
}

static void child_forked(void *arg)
{
	static const enum passed_kind kinds[] = { PASS_LISTENER,
						  PASS_LISTENER };
	static const char *const paths[] = { "first", "second" };
	void *ctx = NULL;

	(void)arg;
	pass(kinds, paths, 2, "now:later", 0);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	g_assert_cmpint(service_init(ctx, "now"), >=, 0);
	ipc_test_reap(ipc_test_fork(grandchild_forked, NULL));
	ipc_context_deinit(&ctx);
}

static void test_child(Fixture *f, gconstpointer data)
{
	void (*child)(void *) = (void (*)(void *))data;

	ipc_test_reap(ipc_test_fork(child, NULL));
	ipc_test_expect_leftover(f, "passed");
	ipc_test_expect_leftover(f, "first");
	ipc_test_expect_leftover(f, "second");
}

/* ------------------------------------------------------------------ */
/* systemd-socket-activate starting pongd                               */
/* ------------------------------------------------------------------ */

/* The program, or NULL after g_test_skip() saying why. */
static const char *socket_activate(void)
{
	const char *prog = g_getenv("SOCKET_ACTIVATE");

	if (!prog || !*prog || access(prog, X_OK) < 0) {
		g_test_skip("systemd-socket-activate not found by configure"
			    " (Debian: apt-get install systemd)");
		return NULL;
	}
	if (!g_getenv("PONGD")) {
		g_test_fail_printf("PONGD is not set");
		return NULL;
	}
	return prog;
}

/* Waits for a socket file that a child creates. */
static void wait_for_socket(const char *name, pid_t pid)
{
	g_autofree char *path = g_build_filename(g_getenv("IPC_RUNDIR"), name,
						 NULL);
	struct stat st;

	while (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		g_assert_cmpint(waitpid(pid, NULL, WNOHANG), ==, 0);
		g_usleep(10 * 1000);
	}
}

/* Sends a message to the service @name and checks its echo. */
static void assert_echo(const char *name)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	void *ctx = NULL;
	int fd;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	fd = ipc_test_connect(ctx, name);
	g_assert_cmpint(ipc_write(ctx, fd, "activated", 9), ==, 0);
	ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
	g_assert_cmpmem(ev.data, ev.len, "activated", 9);
	ipc_context_deinit(&ctx);
}

/* Stops pongd (the pid systemd-socket-activate exec'd into): exit 0. */
static void stop(GPid pid)
{
	int status;

	g_assert_no_errno(kill(pid, SIGTERM));
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static GPid spawn(const char **argv)
{
	g_autoptr(GError) error = NULL;
	GPid pid = 0;

	g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
				    G_SPAWN_DO_NOT_REAP_CHILD |
				    G_SPAWN_STDOUT_TO_DEV_NULL,
				    NULL, NULL, &pid, &error));
	g_assert_no_error(error);
	return pid;
}

/*
 * systemd-socket-activate listens on RUNDIR/pong and starts pongd on the
 * first connection; the client's message is echoed; pongd stops cleanly
 * and leaves the socket file, which is not its own.
 */
static void test_systemd_echo(Fixture *f, gconstpointer data)
{
	const char *prog = socket_activate();
	g_autofree char *listen = NULL;
	GPid pid;

	(void)data;
	if (!prog)
		return;
	listen = ipc_test_path(f, "pong");
	pid = spawn((const char *[]){ prog, "-l", listen, "--fdname=pong",
				      g_getenv("PONGD"), NULL });
	wait_for_socket("pong", pid);
	assert_echo("pong");
	assert_echo("pong");
	g_assert_false(exists("pong.lock"));
	stop(pid);
	g_assert_true(exists("pong"));
	ipc_test_expect_leftover(f, "pong");
}

/*
 * Two sockets, named "other" and "pong": pongd serves on the one named
 * after its service, whichever order they come in.
 */
static void test_systemd_two(Fixture *f, gconstpointer data)
{
	const char *prog = socket_activate();
	g_autofree char *pong = NULL, *other = NULL;
	gboolean pong_first = GPOINTER_TO_INT(data);
	GPid pid;

	if (!prog)
		return;
	pong = ipc_test_path(f, "pong");
	other = ipc_test_path(f, "other");
	pid = spawn((const char *[]){ prog,
				      "-l", pong_first ? pong : other,
				      "-l", pong_first ? other : pong,
				      pong_first ? "--fdname=pong:other" :
						   "--fdname=other:pong",
				      g_getenv("PONGD"), NULL });
	wait_for_socket("pong", pid);
	wait_for_socket("other", pid);
	assert_echo("pong");
	/* "other" was passed but not adopted: nobody accepts on it. */
	g_assert_false(exists("pong.lock") || exists("other.lock"));
	stop(pid);
	ipc_test_expect_leftover(f, "pong");
	ipc_test_expect_leftover(f, "other");
}

int main(int argc, char **argv)
{
	static const struct wrong dgram = { PASS_DGRAM, -EPROTOTYPE };
	static const struct wrong unlistened = { PASS_UNLISTENED, -EBADFD };
	static const struct wrong pipe_fd = { PASS_PIPE, -ENOTSOCK };
	static const struct wrong tcp = { PASS_TCP, -EAFNOSUPPORT };

	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/activation/named", test_named, NULL);
	IPC_TEST_ADD("/ipc/activation/unnamed", test_unnamed, NULL);
	IPC_TEST_ADD("/ipc/activation/readopt", test_readopt, NULL);
	IPC_TEST_ADD("/ipc/activation/wrong/datagram", test_wrong, &dgram);
	IPC_TEST_ADD("/ipc/activation/wrong/not-listening", test_wrong,
		     &unlistened);
	IPC_TEST_ADD("/ipc/activation/wrong/pipe", test_wrong, &pipe_fd);
	IPC_TEST_ADD("/ipc/activation/wrong/tcp", test_wrong, &tcp);
	IPC_TEST_ADD("/ipc/activation/other-pid", test_child,
		     (gconstpointer)child_other_pid);
	IPC_TEST_ADD("/ipc/activation/malformed", test_child,
		     (gconstpointer)child_malformed);
	IPC_TEST_ADD("/ipc/activation/most-fds", test_child,
		     (gconstpointer)child_most_fds);
	IPC_TEST_ADD("/ipc/activation/too-many-fds", test_child,
		     (gconstpointer)child_too_many_fds);
	IPC_TEST_ADD("/ipc/activation/fork", test_child,
		     (gconstpointer)child_forked);
	IPC_TEST_ADD("/ipc/activation/systemd/echo", test_systemd_echo,
		     NULL);
	IPC_TEST_ADD("/ipc/activation/systemd/two-pong-first",
		     test_systemd_two, GINT_TO_POINTER(TRUE));
	IPC_TEST_ADD("/ipc/activation/systemd/two-pong-second",
		     test_systemd_two, GINT_TO_POINTER(FALSE));
	return g_test_run();
}
