/*
 * ssh-bench - the measuring side of bench/ssh-bench.sh: the ssh route
 * (ipc-sshd) against a raw ssh pipe to `cat` on the same sshd.
 *
 * Usage: ssh-bench port
 *        ssh-bench connect SERVICE
 *        ssh-bench route SERVICE SIZE COUNT WINDOW
 *        ssh-bench raw SIZE COUNT WINDOW -- COMMAND [ARG]...
 *
 * port: a free TCP port of 127.0.0.1 (the kernel's pick), for sshd.
 * connect: the time ipc_connect_service(SERVICE) takes (IPC_NETWORK
 * routes it), in milliseconds.
 * route: COUNT frames of SIZE bytes to the echo service SERVICE, at most
 * WINDOW in flight, each one read back; raw: the same through the pipes
 * of COMMAND (e.g. ssh HOST cat), which echoes bytes.  Both drive the
 * same loop on raw fds (frames: a 4-byte big-endian length, then the
 * payload), so only the path differs.  WINDOW 1 is a ping-pong.
 * Prints one line: "msgs/s MB/s p50_us p99_us" (MB/s counts one way).
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#include "be32.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "ssh-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/*
 * The echo loop: writes COUNT frames to @out with at most @window
 * unanswered, reads each back from @in.  Round trip of each frame in
 * @rtt (us).
 */
static void echo_loop(int in, int out, size_t size, unsigned long count,
		      unsigned long window, double *rtt)
{
	size_t frame = 4 + size, wpos = 0, rpos = 0;
	unsigned long sent = 0, got = 0;
	char *wbuf = malloc(frame), *rbuf = malloc(frame);
	double *start = calloc(count, sizeof(double));

	if (!wbuf || !rbuf || !start)
		die("malloc");
	ipc__be32_put(wbuf, (uint32_t)size);
	memset(wbuf + 4, 'x', size);
	fcntl(in, F_SETFL, O_NONBLOCK);
	fcntl(out, F_SETFL, O_NONBLOCK);
	while (got < count) {
		struct pollfd p[2] = { { in, POLLIN, 0 }, { out, 0, 0 } };
		bool can_send = sent < count && sent - got < window;
		ssize_t n;

		if (can_send)
			p[1].events = POLLOUT;
		if (poll(p, can_send ? 2 : 1, -1) < 0 && errno != EINTR)
			die("poll");
		if (can_send && (p[1].revents & (POLLOUT | POLLERR))) {
			if (wpos == 0)
				start[sent] = now_us();
			n = write(out, wbuf + wpos, frame - wpos);
			if (n < 0 && errno != EAGAIN)
				die("write");
			if (n > 0 && (wpos += (size_t)n) == frame) {
				wpos = 0;
				sent++;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(in, rbuf + rpos, frame - rpos);
			if (n == 0) {
				errno = ECONNRESET;
				die("read");
			}
			if (n < 0 && errno != EAGAIN)
				die("read");
			if (n > 0 && (rpos += (size_t)n) == frame) {
				rpos = 0;
				rtt[got] = now_us() - start[got];
				got++;
			}
		}
	}
	free(wbuf);
	free(rbuf);
	free(start);
}

static void report(size_t size, unsigned long count, double *rtt,
		   double elapsed_us)
{
	double secs = elapsed_us / 1e6;

	qsort(rtt, count, sizeof(*rtt), cmp_double);
	printf("%.0f %.1f %.1f %.1f\n", (double)count / secs,
	       (double)size * (double)count / secs / 1e6, rtt[count / 2],
	       rtt[count * 99 / 100]);
}

static int run(int in, int out, size_t size, unsigned long count,
	       unsigned long window)
{
	double *rtt = calloc(count, sizeof(double));
	double t0;

	if (!rtt)
		die("malloc");
	/* One warm-up round trip, not counted. */
	echo_loop(in, out, size, 1, 1, rtt);
	t0 = now_us();
	echo_loop(in, out, size, count, window, rtt);
	report(size, count, rtt, now_us() - t0);
	free(rtt);
	return 0;
}

static int cmd_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		die("port");
	printf("%u\n", (unsigned int)ntohs(sin.sin_port));
	close(fd);
	return 0;
}

static int cmd_connect(const char *service)
{
	void *ctx = NULL;
	double t0;
	int fd, ret;

	if (ipc_context_init(&ctx) < 0)
		return 1;
	t0 = now_us();
	ret = ipc_connect_service(ctx, &fd, service, (uint16_t)strlen(service));
	if (ret < 0) {
		fprintf(stderr, "ssh-bench: connect: %s\n", strerror(-ret));
		return 1;
	}
	printf("%.1f\n", (now_us() - t0) / 1e3);
	ipc_context_deinit(&ctx);
	return 0;
}

static int cmd_route(char **argv)
{
	void *ctx = NULL;
	int fd, ret;

	if (ipc_context_init(&ctx) < 0)
		return 1;
	ret = ipc_connect_service(ctx, &fd, argv[0], (uint16_t)strlen(argv[0]));
	if (ret < 0) {
		fprintf(stderr, "ssh-bench: connect: %s\n", strerror(-ret));
		return 1;
	}
	/* The connection's fd, driven raw: the same loop as the pipe's. */
	ret = run(fd, fd, strtoul(argv[1], NULL, 0), strtoul(argv[2], NULL, 0),
		  strtoul(argv[3], NULL, 0));
	ipc_context_deinit(&ctx);
	return ret;
}

static int cmd_raw(char **argv)
{
	int to[2], from[2], status, ret;
	pid_t pid;

	if (pipe(to) < 0 || pipe(from) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		execvp(argv[4], argv + 4);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	ret = run(from[0], to[1], strtoul(argv[0], NULL, 0),
		  strtoul(argv[1], NULL, 0), strtoul(argv[2], NULL, 0));
	close(to[1]);
	close(from[0]);
	waitpid(pid, &status, 0);
	return ret;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && !strcmp(argv[1], "port"))
		return cmd_port();
	if (argc == 3 && !strcmp(argv[1], "connect"))
		return cmd_connect(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "route"))
		return cmd_route(argv + 2);
	if (argc >= 7 && !strcmp(argv[1], "raw") && !strcmp(argv[5], "--"))
		return cmd_raw(argv + 2);
	fprintf(stderr, "usage: ssh-bench port\n"
		"       ssh-bench connect SERVICE\n"
		"       ssh-bench route SERVICE SIZE COUNT WINDOW\n"
		"       ssh-bench raw SIZE COUNT WINDOW -- COMMAND [ARG]...\n");
	return 2;
}
