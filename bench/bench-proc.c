/*
 * ipc-bench - running roles in child processes.
 *
 * SPDX-License-Identifier: ISC
 *
 * The driver forks one child per role.  Pipes carry everything between
 * them: the child's ready pipe ('R' when set up, 'A' when every expected
 * client is accepted), its result pipe (one struct result), and three
 * pipes shared by the measurement: "go" and "stop" (the driver closes its
 * write end and every child sees end of file) and "done" (the sink tells
 * the senders that everything arrived).  A child that outlives its
 * timeout is killed, so a hung library fails the run instead of hanging
 * it.
 */

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The driver's own pipe ends, closed in every child it forks. */
#define MAX_DRIVER_FDS 64
static int driver_fds[MAX_DRIVER_FDS];
static int driver_nfds;

static void driver_fd_add(int fd)
{
	if (driver_nfds < MAX_DRIVER_FDS)
		driver_fds[driver_nfds++] = fd;
}

static void driver_fd_close(int *fd)
{
	int i;

	if (*fd < 0)
		return;
	for (i = 0; i < driver_nfds; i++) {
		if (driver_fds[i] == *fd) {
			driver_fds[i] = driver_fds[--driver_nfds];
			break;
		}
	}
	close(*fd);
	*fd = -1;
}

static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int measure_open(struct measure *m)
{
	int stop[2], go[2], done[2];

	if (make_pipe(stop) < 0)
		return -errno;
	if (make_pipe(go) < 0) {
		close(stop[0]);
		close(stop[1]);
		return -errno;
	}
	if (make_pipe(done) < 0) {
		close(stop[0]);
		close(stop[1]);
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	m->run.stop_fd = stop[0];
	m->run.go_fd = go[0];
	m->run.done_r = done[0];
	m->run.done_w = done[1];
	m->stop_w = stop[1];
	m->go_w = go[1];
	driver_fd_add(stop[0]);
	driver_fd_add(stop[1]);
	driver_fd_add(go[0]);
	driver_fd_add(go[1]);
	driver_fd_add(done[0]);
	driver_fd_add(done[1]);
	return 0;
}

void measure_go(struct measure *m)
{
	driver_fd_close(&m->go_w);
	/* Only the sink and the senders hold the done pipe now. */
	driver_fd_close(&m->run.done_r);
	driver_fd_close(&m->run.done_w);
}

void measure_stop(struct measure *m)
{
	driver_fd_close(&m->stop_w);
}

void measure_close(struct measure *m)
{
	measure_go(m);
	measure_stop(m);
	driver_fd_close(&m->run.stop_fd);
	driver_fd_close(&m->run.go_fd);
}

static void child_write_result(int fd, const struct result *res)
{
	ssize_t n;

	do {
		n = write(fd, res, sizeof(*res));
	} while (n < 0 && errno == EINTR);
}

/* In the child: keep what this role needs, then run it. */
static void __attribute__((noreturn))
child_main(struct measure *m, role_fn fn, int cpu, bool server,
	   int ready_w, int res_w)
{
	struct run run = m->run;
	struct result res = { .p50_us = -1, .p99_us = -1 };
	int i, ret;

	for (i = 0; i < driver_nfds; i++)
		if (driver_fds[i] != run.stop_fd &&
		    driver_fds[i] != run.go_fd &&
		    driver_fds[i] != run.done_r &&
		    driver_fds[i] != run.done_w)
			close(driver_fds[i]);
	/* A sender must see end of file when the sink dies, and back. */
	if (server) {
		close(run.done_r);
		run.done_r = -1;
	} else {
		close(run.done_w);
		run.done_w = -1;
	}
	run.ready_fd = ready_w;
	alarm(m->timeout_s);
	ret = pin_cpu(cpu);
	if (ret < 0)
		fail(&res, ret, "cannot pin to CPU %d: %s", cpu,
		     strerror(-ret));
	else
		fn(&run, &res);
	child_write_result(res_w, &res);
	_exit(res.err ? 1 : 0);
}

int child_spawn(struct measure *m, struct child *c, role_fn fn, int cpu,
		bool server, struct result *res)
{
	int ready[2], result[2];

	if (make_pipe(ready) < 0)
		return fail(res, -errno, "pipe: %s", strerror(errno));
	if (make_pipe(result) < 0) {
		close(ready[0]);
		close(ready[1]);
		return fail(res, -errno, "pipe: %s", strerror(errno));
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		close(ready[0]);
		close(ready[1]);
		close(result[0]);
		close(result[1]);
		return fail(res, -errno, "fork: %s", strerror(errno));
	}
	if (c->pid == 0) {
		close(ready[0]);
		close(result[0]);
		child_main(m, fn, cpu, server, ready[1], result[1]);
	}
	close(ready[1]);
	close(result[1]);
	c->ready_fd = ready[0];
	c->res_fd = result[0];
	driver_fd_add(c->ready_fd);
	driver_fd_add(c->res_fd);
	return 0;
}

/* Waits until fd is readable; false after timeout_s seconds. */
static bool wait_readable(int fd, unsigned int timeout_s)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do {
		n = poll(&p, 1, (int)timeout_s * 1000);
	} while (n < 0 && errno == EINTR);
	return n > 0;
}

int child_ready(struct child *c, char what, unsigned int timeout_s,
		struct result *res)
{
	char byte = 0;
	ssize_t n = -1;

	if (wait_readable(c->ready_fd, timeout_s)) {
		do {
			n = read(c->ready_fd, &byte, 1);
		} while (n < 0 && errno == EINTR);
	}
	if (n == 1 && byte == what)
		return 0;
	/* The child failed before it was ready: its result says why. */
	child_finish(c, n == 0 ? timeout_s : 0, res);
	return fail(res, -ETIMEDOUT, "a child was not ready in %u s",
		    timeout_s);
}

/* Reaps the child; a describes how it ended unless it exited with 0. */
static int child_reap(pid_t pid, char *how, size_t len)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status)) {
		snprintf(how, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		return -EINTR;
	}
	snprintf(how, len, "exit status %d", WEXITSTATUS(status));
	return WEXITSTATUS(status) ? -EPROTO : 0;
}

/* Reads the child's result and reaps it; kills it after timeout_s. */
int child_finish(struct child *c, unsigned int timeout_s,
		 struct result *res)
{
	bool readable, complete;
	char how[64];
	ssize_t n = 0;
	int ret;

	if (c->pid <= 0)
		return res->err;
	readable = wait_readable(c->res_fd, timeout_s);
	if (readable) {
		do {
			n = read(c->res_fd, res, sizeof(*res));
		} while (n < 0 && errno == EINTR);
	}
	complete = n == (ssize_t)sizeof(*res);
	if (!complete) {
		kill(c->pid, SIGKILL);
		memset(res, 0, sizeof(*res));
	}
	ret = child_reap(c->pid, how, sizeof(how));
	if (!complete && readable)
		fail(res, -EPIPE, "a child ended without a result (%s)", how);
	else if (!complete)
		fail(res, -ETIMEDOUT, "a child gave no result in %u s (killed)",
		     timeout_s);
	else if (ret < 0)
		fail(res, ret, "a child ended with %s", how);
	c->pid = -1;
	driver_fd_close(&c->ready_fd);
	driver_fd_close(&c->res_fd);
	return res->err;
}
