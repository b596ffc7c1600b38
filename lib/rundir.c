/*
 * The run directory and service names.
 *
 * SPDX-License-Identifier: ISC
 *
 * Services live in $IPC_RUNDIR (or IPC_RUNDIR_DEFAULT) as <dir>/<name>.
 * The directory is created on demand with mode 0770.  A directory that is
 * a symbolic link, that others may write to, or that belongs to another
 * user than ours or root is refused: whoever controls it could put a
 * socket of theirs under a service's name (doc/security.md).
 *
 * ipcctl(1) compiles this file too, so that it reads the run directory
 * and names by the library's own rules.
 */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int ipc__service_name_check(const char *name, uint16_t len)
{
	if (!name || !len || memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	return 0;
}

/* The run directory, without trailing slashes (which would follow links). */
char *ipc__rundir_get(void)
{
	const char *env = secure_getenv("IPC_RUNDIR");
	size_t len;
	char *dir;

	if (!env || !*env)
		env = IPC_RUNDIR_DEFAULT;
	len = strlen(env);
	while (len > 1 && env[len - 1] == '/')
		len--;
	dir = malloc(len + 1);
	if (dir) {
		memcpy(dir, env, len);
		dir[len] = '\0';
	}
	return dir;
}

static int rundir_create(const char *dir)
{
	int fd, ret = 0;

	if (mkdir(dir, 0770) < 0)
		return errno == EEXIST ? 0 : -errno;
	/* mkdir(2) applied the umask; the mode is part of the contract. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0770) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int ipc__rundir_check(const char *dir, bool create)
{
	struct stat st;
	int ret;

	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT || !create)
			return -errno;
		ret = rundir_create(dir);
		if (ret < 0)
			return ret;
		if (lstat(dir, &st) < 0)
			return -errno;
	}
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_mode & S_IWOTH) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()))
		return -EPERM;
	return 0;
}

/*
 * Checks the name and the run directory (creating it when @create) and
 * returns the socket path in *path (to free), short enough for sun_path.
 */
int ipc__service_path(const char *name, uint16_t len, bool create,
		      char **path)
{
	struct sockaddr_un sa;
	char *dir, *p = NULL;
	size_t dlen;
	int ret;

	ret = ipc__service_name_check(name, len);
	if (ret < 0)
		return ret;
	dir = ipc__rundir_get();
	if (!dir)
		return -ENOMEM;
	dlen = strlen(dir);
	ret = -ENAMETOOLONG;
	if (dlen + 1 + len >= sizeof(sa.sun_path))
		goto out;
	ret = ipc__rundir_check(dir, create);
	if (ret < 0)
		goto out;
	ret = -ENOMEM;
	p = malloc(dlen + 1 + len + 1);
	if (!p)
		goto out;
	memcpy(p, dir, dlen);
	p[dlen] = '/';
	memcpy(p + dlen + 1, name, len);
	p[dlen + 1 + len] = '\0';
	*path = p;
	ret = 0;
out:
	free(dir);
	return ret;
}
