/*
 * pongd - the echo service of the libipc examples.
 *
 * Usage: pongd [SERVICE]
 *        pongd --help
 *
 * Serves SERVICE ("pong" by default) in the run directory ($IPC_RUNDIR,
 * else /tmp/.libipc-run) and sends every message it receives back to its
 * sender.  SIGTERM or SIGINT stop it cleanly: every connection is closed
 * and the service's socket and lock files are removed.
 *
 * SPDX-License-Identifier: ISC
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libipc.h>

#define DEFAULT_SERVICE "pong"
#define INITIAL_BUFFER_SIZE 4096

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t wakeup_fd = -1;

/*
 * Setting the flag is enough while ipc_wait_event() sleeps: the signal
 * interrupts it (-EINTR).  A signal that arrives after the flag was
 * checked but before the wait began would be missed, so the handler also
 * writes to a pipe the loop watches, which wakes it in that case too.
 */
static void on_stop_signal(int sig)
{
	int saved_errno = errno;
	char byte = 0;

	(void)sig;
	stop_requested = 1;
	if (wakeup_fd >= 0 && write(wakeup_fd, &byte, 1) < 0) {
		/* The pipe is full: the loop is woken already. */
	}
	errno = saved_errno;
}

static int set_fd_flags(int fd)
{
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Creates the wake-up pipe; the context owns its read end from now on. */
static int watch_stop_signals(void *ctx)
{
	struct sigaction sa;
	int fds[2];
	int ret;

	if (pipe(fds) < 0)
		return -errno;
	ret = set_fd_flags(fds[0]);
	if (ret == 0)
		ret = set_fd_flags(fds[1]);
	if (ret == 0)
		ret = ipc_add_external(ctx, fds[0]);
	if (ret < 0) {
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	wakeup_fd = fds[1];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the wait must return -EINTR. */
	if (sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/*
 * Once the context may have closed the pipe's read end, a write to it
 * would raise SIGPIPE: later signals only set the flag.
 */
static void unwatch_stop_signals(void)
{
	int fd = wakeup_fd;

	wakeup_fd = -1;
	if (fd >= 0)
		close(fd);
}

static void drain(int fd)
{
	char bytes[64];

	while (read(fd, bytes, sizeof(bytes)) > 0)
		;
}

/* ipc_wait_event() kept a message too large for the buffer: grow it. */
static int grow(char **buffer, size_t *size, size_t needed)
{
	char *bigger = realloc(*buffer, needed);

	if (!bigger)
		return -ENOMEM;
	*buffer = bigger;
	*size = needed;
	return 0;
}

/*
 * -EPIPE: the client is leaving; its DISCONNECTION follows.  -ENOBUFS:
 * its replies fill the queue's maximum, so it sends without reading
 * them; it is closed rather than answered in part.
 */
static void echo(void *ctx, int fd, const char *message, size_t len)
{
	int ret = ipc_schedule(ctx, fd, message, len);

	if (ret == 0 || ret == -EPIPE)
		return;
	fprintf(stderr, "pongd: cannot answer fd %d: %s%s\n", fd,
		strerror(-ret), ret == -ENOBUFS ? ", closing it" : "");
	if (ret == -ENOBUFS)
		ipc_close_fd(ctx, fd);
}

static int serve(void *ctx)
{
	size_t size = INITIAL_BUFFER_SIZE;
	char *buffer = malloc(size);
	int ret = 0;

	if (!buffer)
		return -ENOMEM;
	while (!stop_requested) {
		size_t index, len = size;
		int fd, newfd;
		char type;

		ret = ipc_wait_event(ctx, &type, &index, &fd, &newfd, buffer,
				     &len);
		if (ret == -EINTR) {
			ret = 0;
			continue;
		}
		/* The message is kept: the next call returns it first. */
		if (ret == -EMSGSIZE) {
			ret = grow(&buffer, &size, len);
			if (ret < 0)
				break;
			continue;
		}
		if (ret < 0)
			break;
		if (type == MESSAGE_RX)
			echo(ctx, fd, buffer, len);
		else if (type == EXTERNAL)
			drain(fd);
	}
	free(buffer);
	return ret;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : DEFAULT_SERVICE;
	size_t name_len = strlen(name);
	void *ctx = NULL;
	int servicefd;
	int ret;

	if (argc == 2 && (!strcmp(name, "--help") || !strcmp(name, "-h"))) {
		printf("usage: pongd [SERVICE]\n"
		       "Echo service SERVICE (default \"%s\") of the libipc"
		       " run directory.\n", DEFAULT_SERVICE);
		return 0;
	}
	if (argc > 2 || name_len > UINT16_MAX) {
		fprintf(stderr, "usage: pongd [SERVICE]\n");
		return 2;
	}
	ret = ipc_context_init(&ctx);
	if (ret < 0) {
		fprintf(stderr, "pongd: cannot create a context: %s\n",
			strerror(-ret));
		return 1;
	}
	ret = watch_stop_signals(ctx);
	if (ret < 0) {
		fprintf(stderr, "pongd: cannot watch signals: %s\n",
			strerror(-ret));
		goto out;
	}
	ret = ipc_service_init(ctx, &servicefd, name, (uint16_t)name_len);
	if (ret < 0) {
		fprintf(stderr, "pongd: cannot start service \"%s\": %s\n",
			name, strerror(-ret));
		goto out;
	}
	ret = serve(ctx);
	if (ret < 0)
		fprintf(stderr, "pongd: waiting for events: %s\n",
			strerror(-ret));
out:
	unwatch_stop_signals();
	/* Removes the service's socket and lock files. */
	ipc_close_all(ctx);
	ipc_context_deinit(&ctx);
	return ret < 0 ? 1 : 0;
}
