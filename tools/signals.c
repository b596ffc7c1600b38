/*
 * Stop signals for the tools' event loops: see signals.h.
 *
 * SPDX-License-Identifier: ISC
 *
 * The library installs no signal handler and a handler could not stop
 * ipc_wait_event() cleanly, so the tools take their stop signals from a
 * signalfd that the loop watches like any other fd: no handler, no
 * self-pipe, no -EINTR to retry.
 */

#include <config.h>

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <libipc.h>

#include "signals.h"

int signals_watch(void *ctx, const sigset_t *set)
{
	int fd, ret;

	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = ipc_add_external(ctx, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

unsigned int signals_read(int fd)
{
	struct signalfd_siginfo si;
	unsigned int n = 0;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		n++;
	return n;
}
