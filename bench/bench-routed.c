/*
 * ipc-bench - the routed path: ipcd and two ipc-tcpd on loopback.
 *
 * SPDX-License-Identifier: ISC
 *
 * The "routed" scenario measures the ping-pong of the libipc roles
 * (ipc_client, ipc_echo) when the client reaches the service through
 * IPC_NETWORK, as a client on another machine would: "host A" is the
 * driver's run directory, with ipcd and an ipc-tcpd listening on
 * 127.0.0.1; "host B" is a second run directory, with an ipc-tcpd
 * listening on 127.0.0.2 (127.0.0.1 where that cannot be bound) that lets
 * the echo service in.  The client's messages go client -> ipc-tcpd A ->
 * TCP -> ipc-tcpd B -> echo, and back: two switches and a TCP hop, where
 * the "direct" row of the same run goes client -> echo.
 *
 * The daemons are the programs of a directory given with --routed (the
 * build tree's tools/, or /usr/sbin); they run unpinned, their output
 * thrown away, and are started and stopped around each measurement.
 */

#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a daemon may take to accept on its socket, in 10 ms steps. */
#define START_STEPS 1000

/* The address of host B: 127.0.0.2 when it can be bound. */
static const char *host_b(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ret;

	inet_pton(AF_INET, "127.0.0.2", &sin.sin_addr);
	ret = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	if (fd >= 0)
		close(fd);
	return ret == 0 ? "127.0.0.2" : "127.0.0.1";
}

/* A TCP port free right now on @addr (the kernel's pick), or 0. */
static unsigned int free_port(const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	unsigned int port = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, addr, &sin.sin_addr);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Runs @argv[0] from the tools directory in @rundir; its pid, or -1. */
static pid_t daemon_spawn(const struct routed *rt, const char *rundir,
			  const char *const argv[])
{
	char path[sizeof(rt->tools) + 32];
	pid_t pid;
	int null;

	snprintf(path, sizeof(path), "%s/%s", rt->tools, argv[0]);
	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(null, STDERR_FILENO) < 0 ||
	    setenv("IPC_RUNDIR", rundir, 1) < 0 ||
	    unsetenv("IPC_NETWORK") < 0)
		_exit(127);
	execv(path, (char *const *)argv);
	_exit(127);
}

/* Waits until the daemon accepts on RUNDIR/NAME: 0, or -errno. */
static int daemon_ready(pid_t pid, const char *rundir, const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int i, fd, ret;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", rundir, name);
	for (i = 0; i < START_STEPS; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -ECHILD;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		close(fd);
		if (ret == 0)
			return 0;
		poll(NULL, 0, 10);
	}
	return -ETIMEDOUT;
}

static void daemon_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, NULL, 0);
	*pid = -1;
}

int routed_prepare(struct routed *rt, const char *tools,
		   struct result *res)
{
	const char *tmp = getenv("TMPDIR");

	memset(rt, 0, sizeof(*rt));
	rt->ipcd = rt->tcpd_a = rt->tcpd_b = -1;
	snprintf(rt->tools, sizeof(rt->tools), "%s", tools);
	if (!tmp || !*tmp || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(rt->rundir_b, sizeof(rt->rundir_b), "%s/ipc-bench-b.XXXXXX",
		 tmp);
	if (!mkdtemp(rt->rundir_b)) {
		rt->rundir_b[0] = '\0';
		return fail(res, -errno, "mkdtemp: %s", strerror(errno));
	}
	return 0;
}

/* Starts the three daemons; the client's IPC_NETWORK reaches @service. */
int routed_start(struct routed *rt, const char *rundir_a,
		 const char *service, struct result *res)
{
	const char *addr_b = host_b();
	unsigned int port_b = free_port(addr_b), port_a = free_port(
		"127.0.0.1");
	char listen_a[32], listen_b[32], allow[64];
	const char *tcpd_b[] = { "ipc-tcpd", "--listen", listen_b, "--allow",
				 allow, NULL };
	const char *tcpd_a[] = { "ipc-tcpd", "--listen", listen_a, NULL };
	const char *ipcd[] = { "ipcd", NULL };
	int ret;

	if (!port_a || !port_b)
		return fail(res, -EADDRNOTAVAIL, "no free TCP port");
	snprintf(listen_a, sizeof(listen_a), "127.0.0.1:%u", port_a);
	snprintf(listen_b, sizeof(listen_b), "%s:%u", addr_b, port_b);
	snprintf(allow, sizeof(allow), "%s", service);
	snprintf(rt->network, sizeof(rt->network), "%s tcp://%s:%u/%s",
		 service, addr_b, port_b, service);
	rt->tcpd_b = daemon_spawn(rt, rt->rundir_b, tcpd_b);
	rt->tcpd_a = daemon_spawn(rt, rundir_a, tcpd_a);
	rt->ipcd = daemon_spawn(rt, rundir_a, ipcd);
	if (rt->tcpd_b < 0 || rt->tcpd_a < 0 || rt->ipcd < 0)
		return fail(res, -errno, "fork: %s", strerror(errno));
	ret = daemon_ready(rt->tcpd_b, rt->rundir_b, "tcp");
	if (ret == 0)
		ret = daemon_ready(rt->tcpd_a, rundir_a, "tcp");
	if (ret == 0)
		ret = daemon_ready(rt->ipcd, rundir_a, "ipc");
	if (ret < 0)
		return fail(res, ret, "the daemons of %s did not start: %s",
			    rt->tools, strerror(-ret));
	return 0;
}

/* The environment the next forked role gets: host B, or A routed. */
void routed_env(const struct routed *rt, const char *rundir, bool client)
{
	setenv("IPC_RUNDIR", rundir, 1);
	if (client)
		setenv("IPC_NETWORK", rt->network, 1);
	else
		unsetenv("IPC_NETWORK");
}

void routed_stop(struct routed *rt)
{
	char path[sizeof(rt->rundir_b) + 300];
	struct dirent *d;
	DIR *dir;

	daemon_stop(&rt->ipcd);
	daemon_stop(&rt->tcpd_a);
	daemon_stop(&rt->tcpd_b);
	if (!rt->rundir_b[0])
		return;
	/* What a killed or failed role left behind. */
	dir = opendir(rt->rundir_b);
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", rt->rundir_b,
			 d->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(rt->rundir_b);
	rt->rundir_b[0] = '\0';
}
