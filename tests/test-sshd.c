/*
 * libipc tests: ipc-sshd, the ssh protocol service (doc/network.md), with
 * real OpenSSH on loopback.
 *
 * Each case starts its own sshd (/usr/sbin/sshd, or $SSHD) on 127.0.0.1
 * and a free port, as the user running the tests, with a throwaway host
 * key, authorized key, known_hosts and configuration in a directory of
 * the fixture's run directory: no system configuration is read (sshd -f,
 * ssh -F), port 22 is never used.  MaxSessions is 100 (default 10: past
 * it, ssh falls back to a connection of its own), and SHLVL=1 in the
 * sessions' environment keeps bash from reading the user's ~/.bashrc
 * (it does for a command run by sshd otherwise), which on a developer's
 * machine may take seconds per session.  sshd sets nothing for the bridge:
 * ipc-sshd's --remote-command runs the build's ipcctl with IPC_RUNDIR set
 * to the "remote" run directory, where pongd serves.  Locally ipcd and
 * ipc-sshd run in the fixture's run directory, and the test's context (or
 * the pong program) reaches "pong" by IPC_NETWORK alone.
 *
 * The program is skipped (77) when sshd, ssh or ssh-keygen is missing, or
 * when it runs as root and /run/sshd, which sshd requires of root, is
 * missing (.ci/run makes it).
 *
 * SPDX-License-Identifier: ISC
 */

#include "net-test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define LOOPBACK "127.0.0.1"
#define SERIES 10000
#define CLIENTS 20
#define KIB 1024
#define MIB (1024 * 1024)
/* The poll period while waiting for a process to start or to go. */
#define POLL_US (10 * 1000)

static const char *sshd_path;
static const char *ssh_keygen = "ssh-keygen";

/* One remote "host": sshd, its files, pongd in its run directory. */
struct host {
	char *dir;		/* sshd's files */
	char *remote;		/* the remote run directory */
	GPid sshd;
	guint16 port;
	struct net_daemon pongd;
	struct net_daemon ipcd;
	struct net_daemon sshd_ipc;	/* ipc-sshd */
};

/* ------------------------------------------------------------------ */
/* Processes and files                                                  */
/* ------------------------------------------------------------------ */

static void run(const char *const *argv)
{
	GError *error = NULL;
	int status;

	g_spawn_sync(NULL, (char **)argv, NULL,
		     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
		     NULL, NULL, NULL, &status, &error);
	g_assert_no_error(error);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void keygen(const char *path)
{
	const char *argv[] = { ssh_keygen, "-q", "-t", "ed25519", "-N", "",
			       "-C", "libipc-test", "-f", path, NULL };

	run(argv);
}

static char *file_get(const char *path)
{
	GError *error = NULL;
	char *s = NULL;

	g_file_get_contents(path, &s, NULL, &error);
	g_assert_no_error(error);
	return s;
}

static void file_set(const char *path, const char *text)
{
	GError *error = NULL;

	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
	g_assert_no_errno(chmod(path, 0600));
}

/* "TYPE BASE64" of a public key file. */
static char *public_key(const char *pub)
{
	g_autofree char *s = file_get(pub);
	g_auto(GStrv) w = g_strsplit(s, " ", 3);

	return g_strconcat(w[0], " ", w[1], NULL);
}

/* A port nothing listens on right now (the kernel's pick). */
static guint16 free_port(void)
{
	guint16 port;
	int fd = net_tcp_listen(LOOPBACK, &port);

	close(fd);
	return port;
}

static gboolean tcp_accepts(guint16 port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ret;

	sin.sin_port = htons(port);
	inet_pton(AF_INET, LOOPBACK, &sin.sin_addr);
	ret = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return ret == 0;
}

/* sshd must not outlive a test that failed. */
static void sshd_child_setup(gpointer data)
{
	(void)data;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void sshd_config_write(struct host *h)
{
	g_autofree char *path = g_build_filename(h->dir, "sshd_config", NULL);
	g_autofree char *text = g_strdup_printf(
		"Port %u\n"
		"ListenAddress " LOOPBACK "\n"
		"HostKey %s/host_key\n"
		"PidFile %s/sshd.pid\n"
		"AuthorizedKeysFile %s/authorized_keys\n"
		"StrictModes no\n"
		"UsePAM no\n"
		"PasswordAuthentication no\n"
		"KbdInteractiveAuthentication no\n"
		"PubkeyAuthentication yes\n"
		"PermitRootLogin prohibit-password\n"
		"AllowTcpForwarding no\n"
		"X11Forwarding no\n"
		"PrintMotd no\n"
		"MaxSessions 100\n"
		"SetEnv SHLVL=1\n"
		"MaxStartups 100\n"
		"LogLevel ERROR\n",
		h->port, h->dir, h->dir, h->dir);

	file_set(path, text);
}

/* sshd on a free port; TRUE once it accepts, FALSE if it exited. */
static gboolean sshd_try_start(struct host *h)
{
	g_autofree char *config = g_build_filename(h->dir, "sshd_config",
						   NULL);
	const char *argv[] = { sshd_path, "-D", "-e", "-f", config, NULL };
	GError *error = NULL;
	int status;

	h->port = free_port();
	sshd_config_write(h);
	g_spawn_async(NULL, (char **)argv, NULL,
		      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
		      sshd_child_setup, NULL, &h->sshd, &error);
	g_assert_no_error(error);
	while (!tcp_accepts(h->port)) {
		pid_t r = waitpid(h->sshd, &status, WNOHANG);

		g_assert_no_errno(r);
		if (r == h->sshd) {
			h->sshd = 0;
			return FALSE;
		}
		g_usleep(POLL_US);
	}
	return TRUE;
}

static void sshd_start(struct host *h)
{
	for (int i = 0; i < 10; i++)
		if (sshd_try_start(h))
			return;
	g_error("sshd did not start");
}

/* The parent's pid of process @pid, or -1 when it is gone. */
static long parent_of(const char *pid)
{
	g_autofree char *path = g_build_filename("/proc", pid, "stat", NULL);
	g_autofree char *stat = NULL;
	char *p;
	long ppid;

	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return -1;
	p = strrchr(stat, ')');
	if (!p || sscanf(p, ") %*c %ld", &ppid) != 1)
		return -1;
	return ppid;
}

/* SIGKILL to the children of @pid and to theirs, then to @pid's. */
static void kill_descendants(long pid)
{
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	const char *name;

	g_assert_nonnull(proc);
	while ((name = g_dir_read_name(proc))) {
		if (!g_ascii_isdigit(name[0]) || parent_of(name) != pid)
			continue;
		kill_descendants(atol(name));
		kill((pid_t)atol(name), SIGKILL);
	}
}

/*
 * SIGKILL to sshd and every process it forked: each connection's sshd
 * runs in a session of its own, so its process group is not enough.
 */
static void sshd_kill(struct host *h)
{
	int status;

	if (!h->sshd)
		return;
	g_assert_no_errno(kill(h->sshd, SIGSTOP));
	kill_descendants(h->sshd);
	g_assert_no_errno(kill(h->sshd, SIGKILL));
	g_assert_cmpint(waitpid(h->sshd, &status, 0), ==, h->sshd);
	h->sshd = 0;
}

/* A client configuration @name: key @id, known hosts @known. */
static void client_config(struct host *h, const char *name, const char *id,
			  const char *known)
{
	g_autofree char *path = g_build_filename(h->dir, name, NULL);
	g_autofree char *text = g_strdup_printf(
		"Host *\n"
		"  IdentityFile %s/%s\n"
		"  IdentitiesOnly yes\n"
		"  IdentityAgent none\n"
		"  UserKnownHostsFile %s/%s\n"
		"  GlobalKnownHostsFile /dev/null\n"
		"  StrictHostKeyChecking yes\n"
		"  PasswordAuthentication no\n"
		"  UpdateHostKeys no\n",
		h->dir, id, h->dir, known);

	file_set(path, text);
}

/*
 * The host's files: host key, the client's key (authorized), another key
 * (not authorized), known_hosts with the right host key and with another
 * one, the client's configuration.
 */
static void host_files(struct host *h)
{
	g_autofree char *host_key = g_build_filename(h->dir, "host_key",
						     NULL);
	g_autofree char *id = g_build_filename(h->dir, "id", NULL);
	g_autofree char *other = g_build_filename(h->dir, "other", NULL);
	g_autofree char *pub = NULL, *hostpub = NULL, *otherpub = NULL;
	g_autofree char *path = NULL, *text = NULL;

	keygen(host_key);
	keygen(id);
	keygen(other);
	pub = g_strconcat(id, ".pub", NULL);
	path = g_build_filename(h->dir, "authorized_keys", NULL);
	text = file_get(pub);
	file_set(path, text);
	g_free(pub);
	pub = g_strconcat(host_key, ".pub", NULL);
	hostpub = public_key(pub);
	g_free(pub);
	pub = g_strconcat(other, ".pub", NULL);
	otherpub = public_key(pub);
	g_free(path);
	/* known_hosts, filled once the port is known (host_known()). */
	path = g_build_filename(h->dir, "host.pub", NULL);
	file_set(path, hostpub);
	g_free(path);
	path = g_build_filename(h->dir, "other.pub", NULL);
	file_set(path, otherpub);
	client_config(h, "ssh_config", "id", "known_hosts");
	client_config(h, "wrong_key_config", "other", "known_hosts");
	client_config(h, "wrong_host_key_config", "id", "wrong_known_hosts");
}

/* known_hosts (@name) says the host at the port has the key @pubfile. */
static void host_known(struct host *h, const char *name, const char *pubfile)
{
	g_autofree char *path = g_build_filename(h->dir, name, NULL);
	g_autofree char *pub = g_build_filename(h->dir, pubfile, NULL);
	g_autofree char *key = file_get(pub);
	g_autofree char *line = g_strdup_printf("[" LOOPBACK "]:%u %s\n",
						h->port, key);

	file_set(path, line);
}

/* ------------------------------------------------------------------ */
/* The two hosts                                                        */
/* ------------------------------------------------------------------ */

/*
 * sshd and pongd on the "remote host", ipcd locally; ipc-sshd is started
 * by ipc_sshd_start() with the options of the case.
 */
static void hosts_start(Fixture *f, struct host *h)
{
	memset(h, 0, sizeof(*h));
	h->dir = net_subdir(f, "sshd");
	h->remote = net_subdir(f, "remote");
	host_files(h);
	sshd_start(h);
	host_known(h, "known_hosts", "host.pub");
	host_known(h, "wrong_known_hosts", "other.pub");
	net_daemon_start(&h->pongd, "PONGD", h->remote, "pong", NULL);
	net_daemon_start(&h->ipcd, "IPCD", f->rundir, "ipc", NULL);
}

/* ipc-sshd with the test's ssh configuration and @more options. */
static void ipc_sshd_start(Fixture *f, struct host *h,
			   const char *const *more)
{
	g_autofree char *config = g_build_filename(h->dir, "ssh_config", NULL);
	g_autofree char *remote = g_strdup_printf("IPC_RUNDIR=%s %s",
						  h->remote,
						  g_getenv("IPCCTL"));
	g_autoptr(GPtrArray) args = g_ptr_array_new();

	g_ptr_array_add(args, (gpointer)"--ssh-config");
	g_ptr_array_add(args, config);
	g_ptr_array_add(args, (gpointer)"--remote-command");
	g_ptr_array_add(args, remote);
	for (; more && *more; more++)
		g_ptr_array_add(args, (gpointer)*more);
	g_ptr_array_add(args, NULL);
	net_daemon_start(&h->sshd_ipc, "IPC_SSHD", f->rundir, "ssh",
			 (const char *const *)args->pdata);
}

static void hosts_stop(struct host *h)
{
	g_unsetenv("IPC_NETWORK");
	if (h->sshd_ipc.pid)
		net_daemon_stop(&h->sshd_ipc);
	net_daemon_stop(&h->ipcd);
	net_daemon_stop(&h->pongd);
	sshd_kill(h);
	g_free(h->dir);
	g_free(h->remote);
}

/* IPC_NETWORK routes "pong" to @service on the host, as @user if set. */
static void route(struct host *h, const char *user, const char *service)
{
	g_autofree char *rule = g_strdup_printf(
		"pong ssh://%s%s" LOOPBACK ":%u/%s", user ? user : "",
		user ? "@" : "", h->port, service);

	g_setenv("IPC_NETWORK", rule, TRUE);
}

/* ------------------------------------------------------------------ */
/* What is left: processes, fds, TCP connections                        */
/* ------------------------------------------------------------------ */

/*
 * Children of @pid, the backgrounded ssh masters ("ssh: PATH [mux]")
 * counted apart in *@masters.
 */
static guint children_of(pid_t pid, guint *masters)
{
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	const char *name;
	guint n = 0;

	*masters = 0;
	g_assert_nonnull(proc);
	while ((name = g_dir_read_name(proc))) {
		g_autofree char *cmd = NULL, *path = NULL;

		if (!g_ascii_isdigit(name[0]) || parent_of(name) != pid)
			continue;
		path = g_build_filename("/proc", name, "cmdline", NULL);
		if (g_file_get_contents(path, &cmd, NULL, NULL) &&
		    strstr(cmd, "[mux]"))
			(*masters)++;
		else
			n++;
	}
	return n;
}

/*
 * Open fds of @pid below 1024: valgrind keeps its own above the limit it
 * shows the program, and opens some of them late (its gdbserver's pipe).
 */
static int fds_of(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%ld/fd", (long)pid);
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const char *name;
	int n = 0;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)))
		if (atoi(name) < 1024)
			n++;
	return n;
}

/*
 * Waits until ipc-sshd has no ssh child but its masters (at most
 * @masters_max) and at most @fds open fds: every process reaped, every
 * fd closed.  Gives up after 30 s, then fails saying what is left.
 */
static void assert_nothing_left(struct host *h, int fds, guint masters_max)
{
	gint64 give_up = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	guint masters, n;
	int open;

	for (;;) {
		n = children_of(h->sshd_ipc.pid, &masters);
		open = fds_of(h->sshd_ipc.pid);
		/* A master notices a dead connection in its own time. */
		if ((n == 0 && open <= fds && masters <= masters_max) ||
		    g_get_monotonic_time() > give_up)
			break;
		g_usleep(POLL_US);
	}
	/* Past 30 s (the reason stays visible, not a bare alarm): */
	if (open > fds) {
		g_autofree char *cmd = g_strdup_printf("ls -l /proc/%d/fd >&2",
						       h->sshd_ipc.pid);

		(void)system(cmd);
	}
	g_assert_cmpuint(n, ==, 0);
	/* Fewer is no leak: an fd of an earlier case may have been closed
	 * since the count was taken. */
	g_assert_cmpint(open, <=, fds);
	g_assert_cmpuint(masters, <=, masters_max);
}

/* Established TCP connections to @port from this host (/proc/net/tcp). */
static guint tcp_connections_to(guint16 port)
{
	g_autofree char *text = file_get("/proc/net/tcp");
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = 0;

	for (guint i = 1; lines[i]; i++) {
		unsigned int lport, rport, state;

		if (sscanf(lines[i], " %*u: %*x:%x %*x:%x %x", &lport, &rport,
			   &state) == 3 && rport == port && state == 1)
			n++;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Cases                                                                */
/* ------------------------------------------------------------------ */

/* The pong program, unchanged, reaches the remote pongd. */
static void test_pong_program(Fixture *f, gconstpointer data)
{
	const char *argv[] = { g_getenv("PONG"), "hello", "world", NULL };
	g_autofree char *out = NULL;
	GError *error = NULL;
	struct host h;
	int status;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start(f, &h, NULL);
	route(&h, NULL, "pong");
	g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
		     &out, NULL, &status, &error);
	g_assert_no_error(error);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_cmpstr(out, ==, "hello\nworld\n");
	hosts_stop(&h);
}

static void echo_check(Fixture *f, int fd, size_t size, guint32 seed)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree char *buf = g_malloc(size ? size : 1);

	ipc_test_fill(buf, size, seed);
	g_assert_cmpint(ipc_write(f->ctx, fd, buf, size), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, fd, buf, size);
}

/* 0 B, 1 KiB, 1 MiB and the largest message, both ways. */
static void test_sizes(Fixture *f, gconstpointer data)
{
	struct host h;
	int fd;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start(f, &h, NULL);
	route(&h, NULL, "pong");
	fd = ipc_test_connect(f->ctx, "pong");
	echo_check(f, fd, 0, 1);
	echo_check(f, fd, KIB, 2);
	echo_check(f, fd, MIB, 3);
	echo_check(f, fd, IPC_MAX_MESSAGE_SIZE_DEFAULT, 4);
	echo_check(f, fd, 1, 5);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	hosts_stop(&h);
}

/* 10,000 messages pipelined: all back, in order. */
static void test_order(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	char payload[64];
	struct host h;
	guint got = 0;
	int fd;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start(f, &h, NULL);
	route(&h, NULL, "pong");
	fd = ipc_test_connect(f->ctx, "pong");
	for (guint i = 0; i < SERIES; i++) {
		ipc_test_fill_numbered(payload, sizeof(payload), i);
		g_assert_cmpint(ipc_schedule(f->ctx, fd, payload,
					     sizeof(payload)), ==, 0);
	}
	while (got < SERIES) {
		ipc_test_wait_for_ignoring(f->ctx, MESSAGE_RX,
					   IPC_TEST_BIT(MESSAGE_TX), &ev);
		g_assert_cmpint(ev.fd, ==, fd);
		ipc_test_assert_numbered(ev.data, ev.len, sizeof(payload),
					 got);
		got++;
	}
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	hosts_stop(&h);
}

/* The pipes of the shared case: "connected" to the test, "go" back. */
struct shared_pipes {
	int ready[2];
	int go[2];
};

/* A process of its own: a routed client that holds its connection. */
static void shared_client(void *arg)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct shared_pipes *p = arg;
	void *ctx = NULL;
	int fd;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	fd = ipc_test_connect(ctx, "pong");
	g_assert_cmpint(ipc_write(ctx, fd, "x", 1), ==, 0);
	ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, fd, "x", 1);
	ipc_test_notify(p->ready[1]);
	ipc_test_wait_notify(p->go[0]);
	ipc_context_deinit(&ctx);
}

/*
 * 20 clients (processes) connect at once and stay: one TCP connection
 * to sshd carries them all (the first ssh's master; the others wait for
 * it), 20 ssh sessions on it.
 */
static void test_shared(Fixture *f, gconstpointer data)
{
	struct shared_pipes p;
	pid_t pids[CLIENTS];
	struct host h;
	guint masters;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start(f, &h, NULL);
	route(&h, NULL, "pong");
	ipc_test_pipe(p.ready);
	ipc_test_pipe(p.go);
	for (guint i = 0; i < CLIENTS; i++)
		pids[i] = ipc_test_fork(shared_client, &p);
	for (guint i = 0; i < CLIENTS; i++)
		ipc_test_wait_notify(p.ready[0]);
	g_assert_cmpuint(tcp_connections_to(h.port), ==, 1);
	g_assert_cmpuint(children_of(h.sshd_ipc.pid, &masters), ==, CLIENTS);
	g_assert_cmpuint(masters, ==, 1);
	for (guint i = 0; i < CLIENTS; i++)
		ipc_test_notify(p.go[1]);
	for (guint i = 0; i < CLIENTS; i++)
		ipc_test_reap(pids[i]);
	close(p.ready[0]);
	close(p.ready[1]);
	close(p.go[0]);
	close(p.go[1]);
	hosts_stop(&h);
}

/*
 * A connection that must fail with @err: after it, ipc-sshd holds no ssh
 * child (but at most @masters masters) and no more fds than before.
 */
static void expect_failure(Fixture *f, struct host *h, int err,
			   guint masters)
{
	int fds = fds_of(h->sshd_ipc.pid);
	int fd;

	g_assert_cmpint(ipc_connect_service(f->ctx, &fd, "pong", 4), ==, err);
	assert_nothing_left(h, fds, masters);
}

/* ipc-sshd with the client configuration @name (the last -F wins). */
static void ipc_sshd_start_config(Fixture *f, struct host *h,
				  const char *name)
{
	g_autofree char *path = g_build_filename(h->dir, name, NULL);
	const char *args[] = { "--ssh-config", path, NULL };

	ipc_sshd_start(f, h, args);
}

static void test_wrong_key(Fixture *f, gconstpointer data)
{
	struct host h;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start_config(f, &h, "wrong_key_config");
	route(&h, NULL, "pong");
	expect_failure(f, &h, -EACCES, 0);
	/* And again: nothing of the first attempt is in the way. */
	expect_failure(f, &h, -EACCES, 0);
	hosts_stop(&h);
}

static void test_wrong_host_key(Fixture *f, gconstpointer data)
{
	struct host h;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start_config(f, &h, "wrong_host_key_config");
	route(&h, NULL, "pong");
	expect_failure(f, &h, -EPERM, 0);
	hosts_stop(&h);
}

static void test_no_remote_service(Fixture *f, gconstpointer data)
{
	struct host h;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start(f, &h, NULL);
	route(&h, NULL, "nosuchservice");
	/* The connection itself works: its master may stay. */
	expect_failure(f, &h, -ENOENT, 1);
	hosts_stop(&h);
}

static void test_no_remote_tools(Fixture *f, gconstpointer data)
{
	struct host h;
	const char *args[] = { "--remote-command", "/nonexistent/ipcctl",
			       NULL };

	(void)data;
	hosts_start(f, &h);
	/* The last --remote-command wins. */
	ipc_sshd_start(f, &h, args);
	route(&h, NULL, "pong");
	expect_failure(f, &h, -EPROTO, 1);
	hosts_stop(&h);
}

static void test_refused(Fixture *f, gconstpointer data)
{
	struct host h;
	g_autofree char *rule = NULL;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start(f, &h, NULL);
	rule = g_strdup_printf("pong ssh://" LOOPBACK ":%u/pong",
			       free_port());
	g_setenv("IPC_NETWORK", rule, TRUE);
	expect_failure(f, &h, -ECONNREFUSED, 0);
	hosts_stop(&h);
}

/* sshd and its sessions killed mid-stream: the client's DISCONNECTION. */
static void test_sshd_killed(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct host h;
	int fds, fd;

	(void)data;
	hosts_start(f, &h);
	ipc_sshd_start(f, &h, NULL);
	fds = fds_of(h.sshd_ipc.pid);
	route(&h, NULL, "pong");
	fd = ipc_test_connect(f->ctx, "pong");
	echo_check(f, fd, KIB, 1);
	/* A large message in flight while the connection dies. */
	{
		g_autofree char *big = g_malloc(4 * MIB);

		ipc_test_fill(big, 4 * MIB, 2);
		g_assert_cmpint(ipc_schedule(f->ctx, fd, big, 4 * MIB), ==, 0);
	}
	sshd_kill(&h);
	do {
		ipc_test_next_event(f->ctx, &ev);
	} while (ev.type != DISCONNECTION);
	g_assert_cmpint(ev.fd, ==, fd);
	/* The master went with its connection: nothing is left at all. */
	assert_nothing_left(&h, fds, 0);
	hosts_stop(&h);
}

static gboolean have_openssh(void)
{
	g_autofree char *ssh = g_find_program_in_path("ssh");
	g_autofree char *keygen = g_find_program_in_path(ssh_keygen);

	sshd_path = g_getenv("SSHD");
	if (!sshd_path || !*sshd_path)
		sshd_path = "/usr/sbin/sshd";
	if (!ssh || !keygen || !g_file_test(sshd_path, G_FILE_TEST_IS_EXECUTABLE)) {
		g_printerr("test-sshd: skipped: OpenSSH's sshd, ssh and"
			   " ssh-keygen are needed (openssh-server,"
			   " openssh-client)\n");
		return FALSE;
	}
	if (geteuid() == 0 && !g_file_test("/run/sshd", G_FILE_TEST_IS_DIR)) {
		g_printerr("test-sshd: skipped: sshd run by root needs"
			   " /run/sshd (mkdir -m 0755 /run/sshd)\n");
		return FALSE;
	}
	return TRUE;
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	if (!have_openssh())
		return 77;
	IPC_TEST_ADD("/ipc/sshd/pong-program", test_pong_program, NULL);
	IPC_TEST_ADD("/ipc/sshd/sizes", test_sizes, NULL);
	IPC_TEST_ADD("/ipc/sshd/order", test_order, NULL);
	IPC_TEST_ADD("/ipc/sshd/shared", test_shared, NULL);
	IPC_TEST_ADD("/ipc/sshd/fail/wrong-key", test_wrong_key, NULL);
	IPC_TEST_ADD("/ipc/sshd/fail/wrong-host-key", test_wrong_host_key,
		     NULL);
	IPC_TEST_ADD("/ipc/sshd/fail/no-remote-service",
		     test_no_remote_service, NULL);
	IPC_TEST_ADD("/ipc/sshd/fail/no-remote-tools", test_no_remote_tools,
		     NULL);
	IPC_TEST_ADD("/ipc/sshd/fail/refused", test_refused, NULL);
	IPC_TEST_ADD("/ipc/sshd/fail/sshd-killed", test_sshd_killed, NULL);
	return g_test_run();
}
