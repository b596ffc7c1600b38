/*
 * What ipcd and ipc-tcpd share as daemons of a libipc event loop.
 *
 * SPDX-License-Identifier: ISC
 *
 * The daemons take their stop signals from a signalfd that the loop
 * watches like any other fd (signals.c).
 */

#include <config.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "signals.h"

/* Above a chunk of the library's buffer pool (128 KiB). */
#define DAEMON_MMAP_THRESHOLD (256 * 1024)

void daemon_memory_setup(void)
{
	mallopt(M_MMAP_THRESHOLD, DAEMON_MMAP_THRESHOLD);
}

int daemon_signals_watch(void *ctx)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	return signals_watch(ctx, &set);
}

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int daemon_count_parse(const char *s, unsigned int max, unsigned int *n)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > (long)max)
		return -EINVAL;
	*n = (unsigned int)v;
	return 0;
}

int daemon_ms_parse(const char *s, unsigned int *ms)
{
	return daemon_count_parse(s, DAEMON_TIMEOUT_MAX_MS, ms);
}

int daemon_local_connect(const char *name, size_t len, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *dir = getenv("IPC_RUNDIR");
	size_t dlen;
	int fd, ret;

	if (!dir || !*dir)
		dir = IPC_RUNDIR_DEFAULT;
	dlen = strlen(dir);
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (dlen + 1 + len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, dir, dlen);
	sa.sun_path[dlen] = '/';
	memcpy(sa.sun_path + dlen + 1, name, len);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Non-blocking: a full backlog fails at once with EAGAIN. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		close(fd);
		return ret;
	}
	*fdp = fd;
	return 0;
}
