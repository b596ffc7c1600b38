/*
 * External fds: any fd the user adds to the context, reported as
 * EXTERNAL when readable and as DISCONNECTION once hung up with nothing
 * left to read.  The library never reads or writes them.
 *
 * SPDX-License-Identifier: ISC
 */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>

IPC_EXPORT int ipc_add_external(void *ctx_, int newfd)
{
	struct ipc_ctx *ctx = ctx_;
	uint32_t slot;
	int ret = ipc__ctx_check(ctx);

	if (ret < 0)
		return ret;
	if (newfd < 0 || fcntl(newfd, F_GETFD) < 0)
		return -EBADF;
	return ipc__conn_add(ctx, newfd, IPC_KIND_EXTERNAL, &slot);
}

/* An external fd: readable, or hung up with nothing left to read. */
int ipc__external_step(struct ipc_ctx *ctx, struct ipc_conn *c,
		       struct ipc_event *ev)
{
	int avail = 0;

	if (!c->revents)
		return 0;
	if ((c->revents & IPC_EV_HUP) &&
	    (ioctl(c->fd, FIONREAD, &avail) < 0 || avail == 0))
		return ipc__disconnect(ctx, c, ev);
	c->revents = 0;
	return ipc__report(ctx, c, ev, EXTERNAL);
}
