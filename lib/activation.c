/*
 * Socket activation: listening sockets passed by systemd (or anything
 * that speaks its protocol: systemd-socket-activate, ...).
 *
 * SPDX-License-Identifier: ISC
 *
 * The protocol: LISTEN_PID is the pid of the process the sockets are for,
 * LISTEN_FDS how many fds were passed (from fd 3 on), LISTEN_FDNAMES
 * their names, separated by colons.  The library copies the three
 * variables when it is loaded, before the program's threads run, and
 * never changes the environment: unsetting them, as sd_listen_fds(1) can,
 * would race with a getenv() of any other thread (the library's own
 * among them: IPC_RUNDIR is read at every call).  The programs the
 * process starts do not take them for theirs all the same: LISTEN_PID
 * names this process.  The first ipc_service_init() of a process reads
 * the copies and marks every passed fd close-on-exec.  The fds are
 * remembered in a table of the process; each later
 * ipc_service_init() adopts the one named after its service (or the only
 * one, when no names were passed).  A service listens on a duplicate of
 * the passed fd; when it closes, the passed fd can be adopted again.  While
 * it is in use, another service of that name is refused (-EADDRINUSE):
 * going the usual way, it would take the socket file for a stale one.
 * An fd no service asked for stays open, unused.
 *
 * The table belongs to the process that read it: a child made by fork(2)
 * finds the table of another pid and reads the variables of its own
 * environment (getenv, in the child: what remains of the race, only with
 * the child's own threads), whose LISTEN_PID names the parent unless the
 * child set them, so it never adopts its parent's sockets.  Under setuid
 * or setgid the variables are ignored (secure_getenv(3)): the caller
 * chose them.  A mutex guards the
 * table: services may be created by several threads, each with its own
 * context.
 */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The first fd passed, as in sd_listen_fds(3). */
#define LISTEN_FDS_START 3
/* More fds than this is taken for a broken environment. */
#define LISTEN_FDS_MAX 4096

struct passed_fd {
	int fd;
	bool in_use;		/* a service listens on it */
	bool closed;		/* not open when the table was read */
	const char *name;	/* in activation.names (or .unnamed), or NULL */
};

static struct {
	pid_t pid;		/* the process the table was read for, or 0 */
	unsigned int count;
	struct passed_fd *fds;
	char *names;		/* a copy of LISTEN_FDNAMES, ':' made '\0' */
	char *unnamed;		/* the name an unnamed fd was adopted by */
} activation;

static pthread_mutex_t activation_lock = PTHREAD_MUTEX_INITIALIZER;

/* The variables when the library was loaded, and the process then. */
static struct {
	pid_t pid;
	char *listen_pid;
	char *listen_fds;
	char *listen_fdnames;
} at_load;

static char *copy_of(const char *name)
{
	const char *value = secure_getenv(name);

	return value ? strdup(value) : NULL;
}

__attribute__((constructor)) static void variables_copy(void)
{
	at_load.listen_pid = copy_of("LISTEN_PID");
	at_load.listen_fds = copy_of("LISTEN_FDS");
	at_load.listen_fdnames = copy_of("LISTEN_FDNAMES");
	at_load.pid = getpid();
}

__attribute__((destructor)) static void variables_free(void)
{
	free(at_load.listen_pid);
	free(at_load.listen_fds);
	free(at_load.listen_fdnames);
}

/* A variable as it was at load time in this process, else as it is. */
static const char *variable(const char *name, const char *copy)
{
	return getpid() == at_load.pid ? copy : secure_getenv(name);
}

/* A decimal number of [0, max] filling the whole string, else -1. */
static long number_parse(const char *s, long max)
{
	char *end;
	long n;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n > max)
		return -1;
	return n;
}

static void table_free(void)
{
	free(activation.fds);
	free(activation.names);
	free(activation.unnamed);
	activation.fds = NULL;
	activation.names = NULL;
	activation.unnamed = NULL;
	activation.count = 0;
}

/* Splits the names at the colons; names beyond the fds are ignored. */
static int names_split(const char *env)
{
	unsigned int i;
	char *p;

	if (!env || !*env)
		return 0;
	activation.names = strdup(env);
	if (!activation.names)
		return -ENOMEM;
	p = activation.names;
	for (i = 0; i < activation.count && p; i++) {
		char *colon = strchr(p, ':');

		if (colon)
			*colon = '\0';
		activation.fds[i].name = p;
		p = colon ? colon + 1 : NULL;
	}
	return 0;
}

/*
 * Reads the variables when they are for this process.  A missing or
 * malformed variable means nothing was passed (as for a program started
 * by hand).  When memory runs out, the next call tries again.
 */
static int table_read(void)
{
	long pid = number_parse(variable("LISTEN_PID", at_load.listen_pid),
				LONG_MAX);
	long count = number_parse(variable("LISTEN_FDS", at_load.listen_fds),
				  LISTEN_FDS_MAX);
	unsigned int i;
	int ret = 0;

	if (pid != (long)getpid() || count <= 0)
		goto out;
	activation.fds = calloc((size_t)count, sizeof(*activation.fds));
	if (!activation.fds) {
		ret = -ENOMEM;
		goto out;
	}
	activation.count = (unsigned int)count;
	for (i = 0; i < activation.count; i++) {
		activation.fds[i].fd = LISTEN_FDS_START + (int)i;
		/* Also tells a closed fd, which is then never adopted. */
		if (fcntl(activation.fds[i].fd, F_SETFD, FD_CLOEXEC) < 0)
			activation.fds[i].closed = true;
	}
	ret = names_split(variable("LISTEN_FDNAMES", at_load.listen_fdnames));
	if (ret < 0)
		table_free();
out:
	if (ret == 0)
		activation.pid = getpid();
	return ret;
}

/*
 * The fd for the service: named after it, or the only one when it came
 * unnamed (it takes the name of the first service that adopts it).
 */
static int table_find(const char *name, uint16_t len, struct passed_fd **pp)
{
	struct passed_fd *p = NULL;
	unsigned int i;

	for (i = 0; i < activation.count && !p; i++) {
		const char *n = activation.fds[i].name;

		if (n && strlen(n) == len && memcmp(n, name, len) == 0)
			p = &activation.fds[i];
	}
	if (!p && activation.count == 1 && !activation.fds[0].name &&
	    !activation.fds[0].closed) {
		activation.fds[0].name = activation.unnamed =
			strndup(name, len);
		if (!activation.unnamed)
			return -ENOMEM;
		p = &activation.fds[0];
	}
	if (!p || p->closed)
		return 0;
	if (p->in_use)
		return -EADDRINUSE;
	*pp = p;
	return 1;
}

/* A listening AF_UNIX stream socket, made non-blocking. */
static int listener_check(int fd)
{
	int domain, type, listening, flags;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return errno == ENOTSOCK ? -ENOTSOCK : -errno;
	if (domain != AF_UNIX)
		return -EAFNOSUPPORT;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	if (type != SOCK_STREAM)
		return -EPROTOTYPE;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return -errno;
	if (!listening)
		return -EBADFD;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int ipc__activation_take(const char *name, uint16_t len, int *fdp)
{
	struct passed_fd *p = NULL;
	int ret = 0;

	pthread_mutex_lock(&activation_lock);
	if (activation.pid != getpid()) {
		/* A copy made by fork(2): the parent's, not ours. */
		table_free();
		ret = table_read();
		if (ret < 0)
			goto out;
	}
	ret = table_find(name, len, &p);
	if (ret <= 0)
		goto out;
	ret = listener_check(p->fd);
	if (ret < 0)
		goto out;
	p->in_use = true;
	*fdp = p->fd;
	ret = 1;
out:
	pthread_mutex_unlock(&activation_lock);
	return ret;
}

void ipc__activation_untake(int fd)
{
	unsigned int i;

	pthread_mutex_lock(&activation_lock);
	if (activation.pid == getpid()) {
		for (i = 0; i < activation.count; i++)
			if (activation.fds[i].fd == fd)
				activation.fds[i].in_use = false;
	}
	pthread_mutex_unlock(&activation_lock);
}
