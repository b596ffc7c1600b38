/*
 * libipc test helpers for the network daemons: see net-test.h.
 *
 * SPDX-License-Identifier: ISC
 */

#include "net-test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* Ports tried for the daemons: 20000 to 59999. */
#define PORT_BASE 20000
#define PORT_RANGE 40000
#define PORT_ATTEMPTS 30
/* Poll period while a daemon starts. */
#define START_POLL_US (10 * 1000)

static guint port_attempt;

/* The next port to try: spread by pid, so parallel tests rarely meet. */
static guint16 next_port(void)
{
	guint n = (guint)getpid() * 61 + port_attempt++ * 997;

	return (guint16)(PORT_BASE + n % PORT_RANGE);
}

static gboolean socket_exists(const struct net_daemon *d)
{
	g_autofree char *path = g_build_filename(d->rundir, d->socket, NULL);
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * The daemon accepts on its socket: a connection succeeds (a socket left
 * by a killed predecessor exists but refuses).
 */
static gboolean socket_accepts(const struct net_daemon *d)
{
	g_autofree char *path = g_build_filename(d->rundir, d->socket, NULL);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	g_assert_cmpuint(strlen(path), <, sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_no_errno(fd);
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return ret == 0;
}

/* A daemon must not outlive a test that failed (and so never stopped it). */
static void die_with_parent(gpointer data)
{
	(void)data;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Spawns the program; TRUE once its socket accepts, FALSE if it exited. */
static gboolean spawn_and_wait(struct net_daemon *d, const char *path,
			       const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) envp = g_get_environ();
	GError *error = NULL;
	int status;

	g_ptr_array_add(argv, (gpointer)path);
	for (; args && *args; args++)
		g_ptr_array_add(argv, (gpointer)*args);
	g_ptr_array_add(argv, NULL);
	envp = g_environ_setenv(envp, "IPC_RUNDIR", d->rundir, TRUE);
	/* stdout is the TAP stream: nothing but GLib writes there. */
	g_spawn_async(NULL, (char **)argv->pdata, envp,
		      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
		      die_with_parent, NULL, &d->pid, &error);
	g_assert_no_error(error);
	while (!socket_accepts(d)) {
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		g_assert_no_errno(r);
		if (r == d->pid) {
			d->pid = 0;
			return FALSE;
		}
		g_usleep(START_POLL_US);
	}
	return TRUE;
}

void net_daemon_start(struct net_daemon *d, const char *program_env,
		      const char *rundir, const char *socket,
		      const char *const *args)
{
	const char *path = g_getenv(program_env);

	g_assert_nonnull(path);
	memset(d, 0, sizeof(*d));
	d->rundir = g_strdup(rundir);
	d->socket = g_strdup(socket);
	if (!spawn_and_wait(d, path, args))
		g_error("%s exited before making %s/%s", path, rundir, socket);
}

void net_tcpd_start(struct net_daemon *d, const char *rundir,
		    const char *addr, const char *service,
		    const char *const *args)
{
	const char *path = g_getenv("IPC_TCPD");

	g_assert_nonnull(path);
	memset(d, 0, sizeof(*d));
	d->rundir = g_strdup(rundir);
	d->socket = g_strdup(service);
	d->addr = g_strdup(addr);
	for (int i = 0; i < PORT_ATTEMPTS; i++) {
		g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(
			g_free);

		d->port = next_port();
		g_ptr_array_add(argv, g_strdup("--listen"));
		g_ptr_array_add(argv, g_strdup_printf("%s:%u", addr, d->port));
		g_ptr_array_add(argv, g_strdup("--service"));
		g_ptr_array_add(argv, g_strdup(service));
		for (const char *const *a = args; a && *a; a++)
			g_ptr_array_add(argv, g_strdup(*a));
		g_ptr_array_add(argv, NULL);
		if (spawn_and_wait(d, path, (const char *const *)argv->pdata))
			return;
		/* Most likely the port was taken: try another one. */
		g_test_message("ipc-tcpd could not start on %s:%u", addr,
			       d->port);
	}
	g_error("ipc-tcpd did not start on %s", addr);
}

static void daemon_free(struct net_daemon *d)
{
	g_clear_pointer(&d->rundir, g_free);
	g_clear_pointer(&d->socket, g_free);
	g_clear_pointer(&d->addr, g_free);
}

static int reap(struct net_daemon *d)
{
	int status;

	g_assert_cmpint(d->pid, >, 0);
	g_assert_cmpint(waitpid(d->pid, &status, 0), ==, d->pid);
	d->pid = 0;
	return status;
}

void net_daemon_stop(struct net_daemon *d)
{
	net_daemon_stop_by(d, SIGTERM);
}

void net_daemon_stop_by(struct net_daemon *d, int sig)
{
	g_autofree char *lock = g_strconcat(d->socket, ".lock", NULL);
	g_autofree char *lock_path = g_build_filename(d->rundir, lock, NULL);
	int status;

	g_assert_no_errno(kill(d->pid, sig));
	status = reap(d);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_false(socket_exists(d));
	g_assert_false(g_file_test(lock_path, G_FILE_TEST_EXISTS));
	daemon_free(d);
}

void net_daemon_kill(struct net_daemon *d)
{
	int status;

	g_assert_no_errno(kill(d->pid, SIGKILL));
	status = reap(d);
	g_assert_true(WIFSIGNALED(status));
	daemon_free(d);
}

static void sockaddr_of(const char *addr, guint16 port,
			struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	g_assert_cmpint(inet_pton(AF_INET, addr, &sin->sin_addr), ==, 1);
}

int net_tcp_connect(const char *addr, guint16 port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_no_errno(fd);
	sockaddr_of(addr, port, &sin);
	g_assert_no_errno(connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	return fd;
}

int net_tcp_listen(const char *addr, guint16 *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_no_errno(fd);
	/* Port 0: the kernel picks a free one. */
	sockaddr_of(addr, 0, &sin);
	g_assert_no_errno(bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
	g_assert_no_errno(listen(fd, 16));
	g_assert_no_errno(getsockname(fd, (struct sockaddr *)&sin, &len));
	*port = ntohs(sin.sin_port);
	return fd;
}

void net_expect_text(int fd, const char *text)
{
	g_autoptr(GByteArray) got = g_byte_array_new();
	gsize len = ipc_test_read_frame(fd, got);

	g_assert_cmpmem(got->data, len, text, strlen(text));
}

void net_send_text(int fd, const char *text)
{
	ipc_test_write_frame(fd, text, (uint32_t)strlen(text));
}

void net_expect_last(int fd, const char *text)
{
	net_expect_text(fd, text);
	ipc_test_assert_eof(fd);
}

char *net_subdir(struct ipc_test_fixture *f, const char *name)
{
	char *path = ipc_test_path(f, name);

	g_assert_no_errno(mkdir(path, 0700));
	ipc_test_expect_leftover(f, name);
	return path;
}

gboolean net_loopback_aliases(void)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ret;

	g_assert_no_errno(fd);
	sockaddr_of("127.0.0.2", 0, &sin);
	ret = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return ret == 0;
}
