/*
 * ipcctl bridge: joins standard input and output to a local service
 * (ipcctl(1)), the far end of ipc-sshd's ssh route (doc/network.md).
 *
 * SPDX-License-Identifier: ISC
 *
 * The bridge first writes one status frame on stdout, in the replies'
 * format of doc/network.md: "ok" once the service is connected, else
 * "error ENAME TEXT" and it exits.  After "ok" the bytes are the libipc
 * stream, relayed unchanged both ways by the switch (ipc_add_switch()):
 * stdin is an external fd switched with the service's connection.  When
 * stdin and stdout are one socket, the switch writes to it; when they
 * are two fds (sshd gives a command pipes), an output callback on stdin
 * writes each frame to stdout, waiting with poll(2) while stdout is full:
 * the bridge relays one connection, so the ssh channel's flow control
 * paces it.  End of file on stdin closes the service's connection; the
 * service closing ends the bridge, which closes stdout: ssh carries both
 * ends across.
 *
 * Why the switch, and not splice(2) between sshd's pipes and the socket:
 * measured on the ssh route (bench/ssh-bench.sh, the two bridges A/B
 * alternately in one run, six rounds each, 64-byte ping-pong), a thread
 * per direction moving bytes with splice() made 3 system calls a round
 * trip where the switch makes 6 (two epoll_wait, read, sendto, recvmsg,
 * writev), yet was no faster: route/raw median 0.62 (0.51 to 0.72)
 * against the switch's 0.66 (0.54 to 0.87); with read() and write() in
 * the threads, 0.67 (0.63 to 0.77) against 0.74 (0.61 to 0.85).  The
 * wake-ups, three on this side where `ssh HOST cat` has one, set a small
 * round trip's time, not the system calls.  splice() has a trap too: it
 * holds the pipe's lock while it waits on the socket, and whoever reads
 * or writes that pipe meanwhile (sshd) blocks on the lock, O_NONBLOCK or
 * not (the first try hung test-ipcctl's bridge case so).
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <libipc.h>

#include "be32.h"
#include "internal.h"
#include "ipcctl.h"
#include "network.h"

/* The pipe size asked for (Linux's default limit for users is 1 MiB). */
#define BRIDGE_PIPE_SIZE (1024 * 1024)

/* Writes all of @iov (@n entries, changed) to @fd, waiting while full. */
static int write_all(int fd, struct iovec *iov, int n)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (n > 0) {
		w = writev(fd, iov, n);
		if (w < 0 && errno == EAGAIN) {
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* One frame to stdout: header and payload. */
static int frame_out(const char *payload, size_t len)
{
	char header[4];
	struct iovec iov[2] = {
		{ header, sizeof(header) },
		{ (void *)payload, len },
	};

	ipc__be32_put(header, (uint32_t)len);
	return write_all(STDOUT_FILENO, iov, len ? 2 : 1);
}

/* The switch's output to stdin's side goes to stdout. */
static char stdout_out(int dest, const char *payload, size_t mlen)
{
	(void)dest;
	return frame_out(payload, mlen) == 0 ? CB_NO_ERROR : CB_ERROR;
}

/* The status frame: "ok", or "error ENAME TEXT". */
static int status_out(int err, const char *text)
{
	char reply[160];
	int len = ipc__reply_format(reply, sizeof(reply), err, text);

	return len < 0 ? len : frame_out(reply, (size_t)len);
}

/* stdin and stdout are the same socket: the switch reads and writes it. */
static bool one_socket(void)
{
	struct stat in, out;

	return fstat(STDIN_FILENO, &in) == 0 &&
	       fstat(STDOUT_FILENO, &out) == 0 && S_ISSOCK(in.st_mode) &&
	       in.st_dev == out.st_dev && in.st_ino == out.st_ino;
}

/*
 * Larger pipes (sshd's are 64 KiB): fewer wake-ups and waits for large
 * messages.  Best effort: a pipe keeps its size when this fails.
 */
static void pipes_widen(void)
{
	(void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, BRIDGE_PIPE_SIZE);
	(void)fcntl(STDOUT_FILENO, F_SETPIPE_SZ, BRIDGE_PIPE_SIZE);
}

/* Relays until both sides are closed. */
static int relay(void *ctx, int svc)
{
	char buf[64];
	int open = 2, ret;

	pipes_widen();

	ret = ipc_add_external(ctx, STDIN_FILENO);
	if (ret == 0)
		ret = ipc_add_switch(ctx, STDIN_FILENO, svc);
	if (ret == 0 && !one_socket())
		ret = ipc_set_switch_callbacks(ctx, STDIN_FILENO, NULL,
					       stdout_out);
	while (ret == 0 && open > 0) {
		size_t index, len = sizeof(buf);
		int fd, newfd;
		char type;

		ret = ipc_wait_event(ctx, &type, &index, &fd, &newfd, buf,
				     &len);
		if (ret == -EINTR || ret == -ENOMEM || ret == -EMSGSIZE)
			ret = 0;
		else if (ret == 0 && type == DISCONNECTION)
			open--;
	}
	if (ret < 0)
		fprintf(stderr, "%s: bridge: %s\n", progname, strerror(-ret));
	return ret < 0 ? EXIT_ERROR : EXIT_OK;
}

int cmd_bridge(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *service;
	void *ctx = NULL;
	int svc, opt, ret, status;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'h')
			return fputs(usage_text, stdout), EXIT_OK;
		else if (opt == '?')
			return bad_option("bridge", argv);
	}
	if (optind != argc - 1)
		return usage_error("bridge: %s", "name one service");
	service = argv[optind];
	/* A write to a closed stdout is an error to handle, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	/* The bridge reaches the local service, never a routed one. */
	unsetenv("IPC_NETWORK");
	ret = name_check(service);
	if (ret == 0)
		ret = ipc_context_init(&ctx);
	if (ret == 0)
		ret = ipc_connect_service(ctx, &svc, service,
					  (uint16_t)strlen(service));
	if (ret < 0) {
		/* The status frame first: ipc-sshd reads it, not stderr. */
		(void)status_out(ret, ret == -ENOENT ? "no such service" :
				 strerror(-ret));
		status = service_error(service, ret);
		ipc_context_deinit(&ctx);
		return status;
	}
	ret = status_out(0, NULL);
	status = ret < 0 ? EXIT_ERROR : relay(ctx, svc);
	ipc_context_deinit(&ctx);
	return status;
}
