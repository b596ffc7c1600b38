/*
 * Services and clients: creating, connecting to and accepting on the
 * sockets of the run directory.
 *
 * SPDX-License-Identifier: ISC
 *
 * One live instance per service name: the instance holds an flock(2) on
 * <name>.lock for its lifetime.  The kernel drops the lock when a process
 * dies, so whoever takes it may remove a socket left by a dead instance.
 *
 * A service started by socket activation adopts the listening socket it
 * was passed (activation.c) and creates, locks and removes no file: the
 * socket file belongs to whoever passed it.
 *
 * When accept(2) runs out of fds, the listener is paused (its clients
 * wait in the backlog) until a connection of the context closes or
 * IPC_ACCEPT_RETRY_NS have passed; it never spins.
 */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char lock_suffix[] = ".lock";

/*
 * Takes the lock file.  The file the lock was taken on must still be the
 * one at lock_path: an instance that was closing may have removed it
 * between our open(2) and flock(2).
 */
static int lock_take(const char *lock_path, int *fdp)
{
	struct stat held, named;
	int fd, tries, ret;

	for (tries = 0; tries < 8; tries++) {
		fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0660);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			ret = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
			close(fd);
			return ret;
		}
		if (fstat(fd, &held) == 0 && stat(lock_path, &named) == 0 &&
		    held.st_ino == named.st_ino && held.st_dev == named.st_dev) {
			*fdp = fd;
			return 0;
		}
		close(fd);
	}
	return -EADDRINUSE;
}

/* Removes a socket left by a dead instance; anything else stays. */
static int stale_remove(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static void sockaddr_set(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, strlen(path) + 1);
}

static int listen_on(const char *path, int *fdp)
{
	struct sockaddr_un sa;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sockaddr_set(&sa, path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
		ret = -errno;
		unlink(path);
		close(fd);
		return ret;
	}
	*fdp = fd;
	return 0;
}

static struct ipc_service *service_new(char *path)
{
	size_t len = strlen(path);
	struct ipc_service *s = calloc(1, sizeof(*s));
	char *lock_path = malloc(len + sizeof(lock_suffix));

	if (!s || !lock_path) {
		free(s);
		free(lock_path);
		return NULL;
	}
	memcpy(lock_path, path, len);
	memcpy(lock_path + len, lock_suffix, sizeof(lock_suffix));
	s->path = path;
	s->lock_path = lock_path;
	s->lock_fd = -1;
	s->passed_fd = -1;
	return s;
}

static void service_free(struct ipc_service *s)
{
	free(s->path);
	free(s->lock_path);
	free(s);
}

/*
 * Removes the socket, then the lock file, then lets the lock go; an
 * adopted socket has no files of ours, its passed fd is given back.
 */
void ipc__service_remove(struct ipc_service *s)
{
	if (s->path) {
		unlink(s->path);
		unlink(s->lock_path);
		close(s->lock_fd);
	}
	if (s->passed_fd >= 0)
		ipc__activation_untake(s->passed_fd);
	service_free(s);
}

void ipc__service_forget(struct ipc_service *s)
{
	if (s->path)
		close(s->lock_fd);
	service_free(s);
}

/*
 * Serves on a duplicate of a socket passed by socket activation: closing
 * the service closes the duplicate, and the passed fd stays for a later
 * service of the same name.
 */
static int service_adopt(struct ipc_ctx *ctx, int passed, int *servicefd)
{
	struct ipc_service *s = calloc(1, sizeof(*s));
	uint32_t slot;
	int fd = -1, ret = -ENOMEM;

	if (!s)
		goto fail;
	s->lock_fd = -1;
	s->passed_fd = passed;
	fd = fcntl(passed, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = ipc__conn_add(ctx, fd, IPC_KIND_SERVICE, &slot);
	if (ret < 0)
		goto fail;
	ctx->conns[slot].service = s;
	*servicefd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(s);
	ipc__activation_untake(passed);
	return ret;
}

IPC_EXPORT int ipc_service_init(void *ctx_, int *servicefd,
				const char *service_name,
				uint16_t service_name_len)
{
	struct ipc_ctx *ctx = ctx_;
	struct ipc_service *s;
	char *path;
	uint32_t slot;
	int fd = -1, ret;

	ret = ipc__ctx_check(ctx);
	if (ret < 0)
		return ret;
	if (!servicefd)
		return -EINVAL;
	ret = ipc__service_name_check(service_name, service_name_len);
	if (ret < 0)
		return ret;
	ret = ipc__activation_take(service_name, service_name_len, &fd);
	if (ret < 0)
		return ret;
	if (ret > 0)
		return service_adopt(ctx, fd, servicefd);
	ret = ipc__service_path(service_name, service_name_len, true, &path);
	if (ret < 0)
		return ret;
	s = service_new(path);
	if (!s) {
		free(path);
		return -ENOMEM;
	}
	ret = lock_take(s->lock_path, &s->lock_fd);
	if (ret < 0) {
		service_free(s);
		return ret;
	}
	ret = stale_remove(s->path);
	if (!ret)
		ret = listen_on(s->path, &fd);
	if (!ret)
		ret = ipc__conn_add(ctx, fd, IPC_KIND_SERVICE, &slot);
	if (ret < 0) {
		if (fd >= 0) {
			unlink(s->path);
			close(fd);
		}
		unlink(s->lock_path);
		close(s->lock_fd);
		service_free(s);
		return ret;
	}
	ctx->conns[slot].service = s;
	*servicefd = fd;
	return 0;
}

/*
 * A non-blocking connect to a Unix socket completes at once, or fails
 * with EAGAIN while the listener's backlog is full: then it is made again
 * blocking, waiting for room, and the socket is made non-blocking after.
 */
static int connect_wait(int fd, const struct sockaddr_un *sa)
{
	const struct sockaddr *addr = (const struct sockaddr *)sa;

	if (connect(fd, addr, sizeof(*sa)) == 0)
		return 0;
	if (errno != EAGAIN)
		return -errno;
	if (fcntl(fd, F_SETFL, 0) < 0 || connect(fd, addr, sizeof(*sa)) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Connects to the service's socket in the run directory. */
static int connect_local(const char *name, uint16_t len, int *fdp)
{
	struct sockaddr_un sa;
	char *path;
	int fd, ret;

	ret = ipc__service_path(name, len, false, &path);
	if (ret < 0)
		return ret;
	sockaddr_set(&sa, path);
	free(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect_wait(fd, &sa);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*fdp = fd;
	return 0;
}

/*
 * With IPC_NETWORK set and a rule for the name, ipcd hands over a
 * connection (lookup.c); otherwise, or when ipcd is not running, the
 * connection is local.
 */
IPC_EXPORT int ipc_connect_service(void *ctx_, int *servicefd,
				   const char *service_name,
				   uint16_t service_name_len)
{
	struct ipc_ctx *ctx = ctx_;
	uint32_t slot;
	int fd, ret;

	ret = ipc__ctx_check(ctx);
	if (ret < 0)
		return ret;
	if (!servicefd)
		return -EINVAL;
	ret = ipc__lookup(service_name, service_name_len, &fd);
	if (ret < 0)
		return ret;
	if (!ret) {
		ret = connect_local(service_name, service_name_len, &fd);
		if (ret < 0)
			return ret;
	}
	ret = ipc__conn_add(ctx, fd, IPC_KIND_SERVER, &slot);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*servicefd = fd;
	return 0;
}

static void accept_pause(struct ipc_ctx *ctx, struct ipc_conn *svc)
{
	svc->flags |= IPC_F_PAUSED;
	ctx->paused++;
	ctx->paused_until = ipc__now() + IPC_ACCEPT_RETRY_NS;
	ipc__conn_watch(ctx, svc);
}

int ipc__accept_retry(struct ipc_ctx *ctx, uint64_t now)
{
	uint32_t slot;

	if (now < ctx->paused_until)
		return ipc__ms_until(ctx->paused_until, now);
	for (slot = 0; slot < ctx->nslots && ctx->paused; slot++) {
		struct ipc_conn *c = &ctx->conns[slot];

		if (c->kind != IPC_KIND_SERVICE || !(c->flags & IPC_F_PAUSED))
			continue;
		c->flags &= (uint16_t)~IPC_F_PAUSED;
		ctx->paused--;
		ipc__conn_watch(ctx, c);
	}
	return -1;
}

/*
 * Accepts one client: 1 with a CONNECTION event, 0 when none is waiting.
 * The backend reports the listener again while more clients wait, which
 * costs nothing more than an accept(2) failing with EAGAIN would.
 */
int ipc__accept(struct ipc_ctx *ctx, uint32_t slot, struct ipc_event *ev)
{
	struct ipc_conn *svc = &ctx->conns[slot];
	uint32_t cslot;
	int fd, ret, err;

	if (!(svc->revents & IPC_EV_IN))
		return 0;
	do {
		fd = accept4(svc->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
	if (fd < 0) {
		err = errno;
		svc->revents = 0;
		if (err == EMFILE || err == ENFILE)
			accept_pause(ctx, svc);
		return err == ENOMEM || err == ENOBUFS ? -ENOMEM : 0;
	}
	ctx->conns[slot].revents = 0;
	ret = ipc__conn_add(ctx, fd, IPC_KIND_CLIENT, &cslot);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	ev->type = CONNECTION;
	ev->slot = cslot;
	ev->fd = ctx->conns[slot].fd;
	ev->newfd = fd;
	return 1;
}

IPC_EXPORT int ipc_peer_credentials(void *ctx_, int fd, pid_t *pid,
				    uid_t *uid, gid_t *gid)
{
	struct ipc_ctx *ctx = ctx_;
	struct ucred cred;
	socklen_t len = sizeof(cred), dlen = sizeof(int);
	struct ipc_conn *c;
	int domain, ret;

	ret = ipc__ctx_check(ctx);
	if (ret < 0)
		return ret;
	c = ipc__conn_by_fd(ctx, fd);
	if (!c)
		return -EBADF;
	if (c->kind == IPC_KIND_SERVICE || !(c->flags & IPC_F_SOCKET))
		return -EINVAL;
	/* Linux answers SO_PEERCRED on any socket, with nobody's ids. */
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0)
		return -errno;
	if (domain != AF_UNIX)
		return -ENOPROTOOPT;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (pid)
		*pid = cred.pid;
	if (uid)
		*uid = cred.uid;
	if (gid)
		*gid = cred.gid;
	return 0;
}
