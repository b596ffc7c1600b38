/*
 * ipc-sshd: the ssh children (see ipc-sshd.h).
 *
 * SPDX-License-Identifier: ISC
 *
 * ssh runs with posix_spawn(3) (no copy of the daemon's memory, no code
 * of ours between fork and exec), in a session of its own (no terminal
 * to prompt on), with the default signal mask and dispositions (the
 * daemon blocks SIGCHLD and its stop signals for its signalfd, and
 * ignores SIGPIPE).  Its stdin and stdout are one end of a socketpair,
 * the other end being the fd the daemon reads the status frame from and
 * then hands to the client; its stderr a pipe read into the log.
 * Every other fd of the daemon is close-on-exec.
 *
 * What ssh's stderr says gives the errno of a failed connection: OpenSSH
 * words its errors the same way since long ago ("ssh: connect to host H
 * port P: Connection refused", "Permission denied (publickey).", "Host
 * key verification failed.").  Only the client-side messages of ssh and
 * of the remote shell are matched; anything else falls back on the exit
 * status.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libipc.h>

#include "ipc-sshd.h"

#define LOG_LINE_MAX 512
/* The socketpair's buffers asked for (the kernel caps them). */
#define SOCKET_BUFFER (1024 * 1024)

void log_line(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROGRAM ": %s\n", line);
}

static int spawn(char **argv, int sock, int errfd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int ret;

	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	ret = posix_spawn_file_actions_init(&fa);
	if (ret)
		return -ret;
	ret = posix_spawnattr_init(&attr);
	if (ret) {
		posix_spawn_file_actions_destroy(&fa);
		return -ret;
	}
	/* dup2 clears close-on-exec on the copies: ssh gets these three. */
	ret = posix_spawn_file_actions_adddup2(&fa, sock, STDIN_FILENO);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(&fa, sock,
						       STDOUT_FILENO);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(&fa, errfd,
						       STDERR_FILENO);
	if (!ret)
		ret = posix_spawnattr_setsigmask(&attr, &none);
	if (!ret)
		ret = posix_spawnattr_setsigdefault(&attr, &dfl);
	if (!ret)
		ret = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF |
					       POSIX_SPAWN_SETSID);
	if (!ret)
		ret = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -ret;
}

int child_spawn(void *ctx, struct child *c, char **argv)
{
	int sv[2], errpipe[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (pipe2(errpipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = -errno;
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	/* Room for large messages both ways: fewer wake-ups (best effort). */
	for (int i = 0; i < 2; i++) {
		int size = SOCKET_BUFFER;

		(void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size,
				 sizeof(size));
		(void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &size,
				 sizeof(size));
	}
	ret = fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
	if (ret == 0)
		ret = spawn(argv, sv[1], errpipe[1], &c->pid);
	/* The child's ends: ssh holds them now. */
	close(sv[1]);
	close(errpipe[1]);
	if (ret == 0)
		ret = ipc_add_external(ctx, sv[0]);
	if (ret < 0) {
		close(sv[0]);
		close(errpipe[0]);
		/* A spawned child is killed and reaped by the SIGCHLD loop. */
		if (c->pid > 0)
			kill(c->pid, SIGTERM);
		return ret;
	}
	c->sock = sv[0];
	ret = ipc_add_external(ctx, errpipe[0]);
	if (ret < 0) {
		/* The log loses ssh's messages, nothing else. */
		close(errpipe[0]);
		errpipe[0] = -1;
	}
	c->err = errpipe[0];
	return 0;
}

/* The errno that a line of ssh's (or the remote shell's) stderr means. */
static int line_errno(const char *l)
{
	static const struct {
		const char *text;
		int err;
	} known[] = {
		{ "Could not resolve hostname", EHOSTUNREACH },
		{ "Name or service not known", EHOSTUNREACH },
		{ "No route to host", EHOSTUNREACH },
		{ "Network is unreachable", ENETUNREACH },
		{ "Connection refused", ECONNREFUSED },
		{ "timed out", ETIMEDOUT },
		{ "Permission denied", EACCES },
		{ "Too many authentication failures", EACCES },
		{ "Host key verification failed", EPERM },
		{ "REMOTE HOST IDENTIFICATION HAS CHANGED", EPERM },
		{ "No host key is known", EPERM },
		{ "Host key for", EPERM },
		{ "command not found", EPROTO },
		{ "not found", EPROTO },
		{ "No such file or directory", EPROTO },
		{ "Connection reset", ECONNRESET },
		{ "Connection closed", ECONNRESET },
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strstr(l, known[i].text))
			return known[i].err;
	return 0;
}

/* A whole line of ssh's stderr: logged, matched. */
static void stderr_line(struct child *c)
{
	int err;

	if (c->linelen == 0)
		return;
	c->line[c->linelen] = '\0';
	log_line("ssh %s (pid %ld): %s", c->host->name, (long)c->pid,
		 c->line);
	err = line_errno(c->line);
	/* The first match is the cause; the later lines its echoes. */
	if (err && !c->ssh_errno)
		c->ssh_errno = err;
}

bool child_stderr(struct child *c)
{
	char buf[512];
	ssize_t n, i;

	for (;;) {
		n = read(c->err, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			char ch = buf[i];

			if (ch == '\n' || ch == '\r') {
				stderr_line(c);
				c->linelen = 0;
			} else if (c->linelen < sizeof(c->line) - 1) {
				c->line[c->linelen++] =
					ch >= 0x20 && ch <= 0x7e ? ch : '?';
			}
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		stderr_line(c);
		return true;
	}
	return false;
}

int child_errno(const struct child *c)
{
	if (c->ssh_errno)
		return c->ssh_errno;
	if (c->pid == 0 && WIFEXITED(c->wstatus)) {
		/* 127: the remote shell found no ipcctl; 255: ssh failed. */
		if (WEXITSTATUS(c->wstatus) == 127 ||
		    WEXITSTATUS(c->wstatus) == 126)
			return EPROTO;
		if (WEXITSTATUS(c->wstatus) == 255)
			return ECONNABORTED;
	}
	return ECONNRESET;
}
