/*
 * Run directory and services: files, permissions, names, instances,
 * stale sockets, cleanup, and connecting to services.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NAME "svc"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Number of entries of a directory. */
static guint count_entries(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	guint n = 0;

	g_assert_nonnull(dir);
	while (g_dir_read_name(dir) != NULL)
		n++;
	g_dir_close(dir);
	return n;
}

/* lstat() of <dir>/<name>; returns -errno or 0. */
static int stat_in(const char *dir, const char *name, struct stat *st)
{
	char *path = g_build_filename(dir, name, NULL);
	int ret = lstat(path, st) < 0 ? -errno : 0;

	g_free(path);
	return ret;
}

static void assert_service_files(const char *dir, const char *name)
{
	char *lock = g_strconcat(name, ".lock", NULL);
	struct stat st;

	g_assert_cmpint(stat_in(dir, name, &st), ==, 0);
	g_assert_true(S_ISSOCK(st.st_mode));
	g_assert_cmpint(st.st_mode & 07777, ==, 0660);
	g_assert_cmpint(stat_in(dir, lock, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_free(lock);
}

static void assert_no_service_files(const char *dir, const char *name)
{
	char *lock = g_strconcat(name, ".lock", NULL);
	struct stat st;

	g_assert_cmpint(stat_in(dir, name, &st), ==, -ENOENT);
	g_assert_cmpint(stat_in(dir, lock, &st), ==, -ENOENT);
	g_free(lock);
}

static ino_t socket_inode(const char *dir, const char *name)
{
	struct stat st;

	g_assert_cmpint(stat_in(dir, name, &st), ==, 0);
	g_assert_true(S_ISSOCK(st.st_mode));
	return st.st_ino;
}

static void plant_file(const char *path)
{
	GError *error = NULL;

	g_file_set_contents(path, "keep", 4, &error);
	g_assert_no_error(error);
}

static void assert_file_untouched(const char *path)
{
	g_autofree char *contents = NULL;
	GError *error = NULL;
	struct stat st;
	gsize len;

	g_assert_no_errno(lstat(path, &st));
	g_assert_true(S_ISREG(st.st_mode));
	g_file_get_contents(path, &contents, &len, &error);
	g_assert_no_error(error);
	g_assert_cmpmem(contents, len, "keep", 4);
}

/*
 * Point IPC_RUNDIR at <f->rundir>/<sub>, declared as a leftover; returns
 * the new run directory (g_free it).
 */
static char *use_sub_rundir(struct ipc_test_fixture *f, const char *sub)
{
	char *path = ipc_test_path(f, sub);

	ipc_test_expect_leftover(f, sub);
	g_assert_true(g_setenv("IPC_RUNDIR", path, TRUE));
	return path;
}

/*
 * A raw client connects to the service @servicefd named @name, sends
 * "ping", gets "pong" back through ipc_write(), then hangs up: the service
 * reports the whole lifecycle with the right fds and index.
 */
static void assert_service_works(void *ctx, int servicefd, const char *name)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) reply = g_byte_array_new();
	int raw = ipc_test_raw_connect(name);
	size_t index;
	int fd = ipc_test_accept(ctx, servicefd, &index);

	ipc_test_write_frame(raw, "ping", 4);
	ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, index, fd, "ping", 4);
	g_assert_cmpint(ipc_write(ctx, fd, "pong", 4), ==, 0);
	g_assert_cmpuint(ipc_test_read_frame(raw, reply), ==, 4);
	g_assert_cmpmem(reply->data, reply->len, "pong", 4);
	close(raw);
	ipc_test_wait_for(ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
	g_assert_cmpuint(ev.index, ==, index);
	ipc_test_assert_fd_closed(fd);
}

/* Both ipc_service_init() and ipc_connect_service() refuse @name with
 * @expected and leave the fd count alone. */
static void assert_name_refused(void *ctx, const char *name, size_t len,
				int expected)
{
	int before = ipc_test_count_fds();
	int fd = -1;

	g_test_message("name of %zu bytes, expecting %s", len,
		       g_strerror(-expected));
	g_assert_cmpint(ipc_service_init(ctx, &fd, name, len), ==, expected);
	g_assert_cmpint(ipc_connect_service(ctx, &fd, name, len), ==,
			expected);
	g_assert_cmpint(ipc_test_count_fds(), ==, before);
}

/* Both ipc_service_init() and ipc_connect_service() fail with @expected
 * in the current run directory. */
static void assert_rundir_refused(void *ctx, int expected)
{
	int before = ipc_test_count_fds();
	int fd = -1;

	g_assert_cmpint(ipc_service_init(ctx, &fd, NAME, strlen(NAME)), ==,
			expected);
	g_assert_cmpint(ipc_connect_service(ctx, &fd, NAME, strlen(NAME)), ==,
			expected);
	g_assert_cmpint(ipc_test_count_fds(), ==, before);
}

/* ------------------------------------------------------------------ */
/* Files and run directory                                              */
/* ------------------------------------------------------------------ */

/* The modes are the library's whatever the umask (here a strict one). */
static void test_socket_and_lock(struct ipc_test_fixture *f,
				 gconstpointer data)
{
	mode_t old_umask = umask(077);
	int fd;

	(void)data;
	fd = ipc_test_service_init(f->ctx, NAME);
	umask(old_umask);
	assert_service_files(f->rundir, NAME);
	g_assert_cmpuint(count_entries(f->rundir), ==, 2);
	/* Every library fd is non-blocking and close-on-exec. */
	g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
	g_assert_cmpint(fcntl(fd, F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
	assert_service_works(f->ctx, fd, NAME);
}

static void test_rundir_created(struct ipc_test_fixture *f,
				gconstpointer data)
{
	g_autofree char *run = use_sub_rundir(f, "run");
	mode_t old_umask = umask(077);
	struct stat st;
	int fd;

	(void)data;
	fd = ipc_test_service_init(f->ctx, NAME);
	umask(old_umask);
	g_assert_no_errno(lstat(run, &st));
	g_assert_true(S_ISDIR(st.st_mode));
	g_assert_cmpint(st.st_mode & 07777, ==, 0770);
	assert_service_files(run, NAME);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	g_assert_cmpuint(count_entries(run), ==, 0);
}

static void test_rundir_symlink(struct ipc_test_fixture *f,
				gconstpointer data)
{
	g_autofree char *target = ipc_test_path(f, "target");
	g_autofree char *link = use_sub_rundir(f, "link");
	g_autofree char *slashed = g_strconcat(link, "//", NULL);

	(void)data;
	ipc_test_expect_leftover(f, "target");
	g_assert_no_errno(mkdir(target, 0700));
	g_assert_no_errno(symlink(target, link));
	assert_rundir_refused(f->ctx, -ELOOP);
	/* A trailing slash would make the kernel follow the link. */
	g_assert_true(g_setenv("IPC_RUNDIR", slashed, TRUE));
	assert_rundir_refused(f->ctx, -ELOOP);
	g_assert_cmpuint(count_entries(target), ==, 0);
}

static void test_rundir_dangling_symlink(struct ipc_test_fixture *f,
					 gconstpointer data)
{
	g_autofree char *target = ipc_test_path(f, "target");
	g_autofree char *link = use_sub_rundir(f, "link");
	struct stat st;

	(void)data;
	g_assert_no_errno(symlink(target, link));
	assert_rundir_refused(f->ctx, -ELOOP);
	/* The run directory must not be created through the link. */
	g_assert_cmpint(lstat(target, &st), ==, -1);
	g_assert_cmpuint(count_entries(f->rundir), ==, 1);
}

static void test_rundir_world_writable(struct ipc_test_fixture *f,
				       gconstpointer data)
{
	g_autofree char *run = use_sub_rundir(f, "run");

	g_assert_no_errno(mkdir(run, 0700));
	g_assert_no_errno(chmod(run, GPOINTER_TO_UINT(data)));
	assert_rundir_refused(f->ctx, -EPERM);
	g_assert_cmpuint(count_entries(run), ==, 0);
}

static void test_rundir_not_directory(struct ipc_test_fixture *f,
				      gconstpointer data)
{
	g_autofree char *run = use_sub_rundir(f, "run");

	(void)data;
	plant_file(run);
	assert_rundir_refused(f->ctx, -ENOTDIR);
	assert_file_untouched(run);
}

static void test_rundir_group_writable(struct ipc_test_fixture *f,
				       gconstpointer data)
{
	g_autofree char *run = use_sub_rundir(f, "run");
	int fd;

	(void)data;
	g_assert_no_errno(mkdir(run, 0700));
	g_assert_no_errno(chmod(run, 0770));
	fd = ipc_test_service_init(f->ctx, NAME);
	assert_service_files(run, NAME);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	g_assert_cmpuint(count_entries(run), ==, 0);
}

/* The default run directory is used when IPC_RUNDIR is unset or empty. */
static void test_default_rundir(struct ipc_test_fixture *f,
				gconstpointer data)
{
	g_autofree char *name = g_strdup_printf("libipc-test-%d-%08x",
						(int)getpid(),
						g_random_int());
	gboolean existed = g_file_test(IPC_RUNDIR_DEFAULT, G_FILE_TEST_EXISTS);
	int fd;

	if (data)
		g_assert_true(g_setenv("IPC_RUNDIR", "", TRUE));
	else
		g_unsetenv("IPC_RUNDIR");
	fd = ipc_test_service_init(f->ctx, name);
	assert_service_files(IPC_RUNDIR_DEFAULT, name);
	g_assert_cmpuint(count_entries(f->rundir), ==, 0);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	assert_no_service_files(IPC_RUNDIR_DEFAULT, name);
	/* Leave a shared directory alone; remove it if we made it. */
	if (!existed)
		rmdir(IPC_RUNDIR_DEFAULT);
}

/* ------------------------------------------------------------------ */
/* Names and arguments                                                  */
/* ------------------------------------------------------------------ */

static void test_invalid_names(struct ipc_test_fixture *f, gconstpointer data)
{
	static const char embedded_nul[] = { 'a', '\0', 'b' };

	(void)data;
	assert_name_refused(f->ctx, "", 0, -EINVAL);
	assert_name_refused(f->ctx, "a/b", 3, -EINVAL);
	assert_name_refused(f->ctx, "/", 1, -EINVAL);
	assert_name_refused(f->ctx, "ab/", 3, -EINVAL);
	assert_name_refused(f->ctx, ".", 1, -EINVAL);
	assert_name_refused(f->ctx, "..", 2, -EINVAL);
	assert_name_refused(f->ctx, embedded_nul, sizeof(embedded_nul),
			    -EINVAL);
	/* The length is authoritative: a trailing NUL is part of the name. */
	assert_name_refused(f->ctx, "abc", 4, -EINVAL);
	g_assert_cmpuint(count_entries(f->rundir), ==, 0);
}

/* Longest name for which "<rundir>/<name>" and its NUL fit in sun_path. */
static size_t longest_name(const struct ipc_test_fixture *f)
{
	struct sockaddr_un addr;
	size_t prefix = strlen(f->rundir) + 1;

	if (prefix + 2 > sizeof(addr.sun_path))
		return 0;
	return sizeof(addr.sun_path) - 1 - prefix;
}

static void test_name_too_long(struct ipc_test_fixture *f, gconstpointer data)
{
	size_t longest = longest_name(f);
	g_autofree char *name = NULL;
	int fd;

	(void)data;
	if (longest == 0) {
		g_test_skip("run directory path too long for this test");
		return;
	}
	name = g_strnfill(UINT16_MAX, 'n');
	/* One more fills sun_path with no room left for the NUL. */
	assert_name_refused(f->ctx, name, longest + 1, -ENAMETOOLONG);
	assert_name_refused(f->ctx, name, longest + 2, -ENAMETOOLONG);
	assert_name_refused(f->ctx, name, UINT16_MAX, -ENAMETOOLONG);
	g_assert_cmpuint(count_entries(f->rundir), ==, 0);

	/* The longest name that fits works, with a NUL-free pointer. */
	g_assert_cmpint(ipc_service_init(f->ctx, &fd, name, longest), ==, 0);
	name[longest] = '\0';
	assert_service_files(f->rundir, name);
	assert_service_works(f->ctx, fd, name);
}

/* The name is taken by pointer and length, not as a C string. */
static void test_name_not_terminated(struct ipc_test_fixture *f,
				     gconstpointer data)
{
	int fd;

	(void)data;
	g_assert_cmpint(ipc_service_init(f->ctx, &fd, NAME "-and-more",
					 strlen(NAME)), ==, 0);
	assert_service_files(f->rundir, NAME);
	g_assert_cmpuint(count_entries(f->rundir), ==, 2);
	assert_service_works(f->ctx, fd, NAME);
}

static void test_null_arguments(struct ipc_test_fixture *f,
				gconstpointer data)
{
	int fd;

	(void)data;
	g_assert_cmpint(ipc_service_init(NULL, &fd, NAME, 3), ==, -EINVAL);
	g_assert_cmpint(ipc_service_init(f->ctx, NULL, NAME, 3), ==, -EINVAL);
	g_assert_cmpint(ipc_service_init(f->ctx, &fd, NULL, 3), ==, -EINVAL);
	g_assert_cmpint(ipc_connect_service(NULL, &fd, NAME, 3), ==, -EINVAL);
	g_assert_cmpint(ipc_connect_service(f->ctx, NULL, NAME, 3), ==,
			-EINVAL);
	g_assert_cmpint(ipc_connect_service(f->ctx, &fd, NULL, 3), ==,
			-EINVAL);
	g_assert_cmpuint(count_entries(f->rundir), ==, 0);
}

/* ------------------------------------------------------------------ */
/* Instances                                                            */
/* ------------------------------------------------------------------ */

/* In a child: a second instance of NAME is refused. */
static void second_instance_child(void *arg)
{
	void *ctx = NULL;
	int fd = -1;

	(void)arg;
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	g_assert_cmpint(ipc_service_init(ctx, &fd, NAME, strlen(NAME)), ==,
			-EADDRINUSE);
	ipc_context_deinit(&ctx);
}

enum second_kind { SECOND_PROCESS, SECOND_CONTEXT, SECOND_SAME_CONTEXT };

/*
 * A second instance of a live service is refused, from another process,
 * another context of this process (contexts share no state) or the same
 * context, and the first one keeps its socket and works on.
 */
static void test_second_instance(struct ipc_test_fixture *f,
				 gconstpointer data)
{
	int fd = ipc_test_service_init(f->ctx, NAME);
	ino_t inode = socket_inode(f->rundir, NAME);
	int fd2 = -1;

	switch (GPOINTER_TO_INT(data)) {
	case SECOND_PROCESS:
		ipc_test_reap(ipc_test_fork(second_instance_child, NULL));
		break;
	case SECOND_CONTEXT:
		second_instance_child(NULL);
		break;
	case SECOND_SAME_CONTEXT:
		g_assert_cmpint(ipc_service_init(f->ctx, &fd2, NAME,
						 strlen(NAME)), ==,
				-EADDRINUSE);
		break;
	}
	g_assert_cmpuint(socket_inode(f->rundir, NAME), ==, inode);
	assert_service_files(f->rundir, NAME);
	assert_service_works(f->ctx, fd, NAME);
}

/* Processes that start and stop NAME at once, and how often each must
 * get it. */
#define RACERS 4
#define RACE_WINS 300

/* Shared by the racers (an anonymous shared mapping). */
struct race {
	gint owners;	/* instances holding NAME right now */
	gint wins;	/* successful ipc_service_init() calls in all */
	gint tries;	/* ipc_service_init() calls in all */
};

/* In a child: start NAME, hold it a moment, stop it, until it got it
 * RACE_WINS times.  Whoever gets it must be alone with it. */
static void racer_child(void *arg)
{
	struct race *race = arg;
	void *ctx = NULL;
	int fd, ret;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	for (int won = 0; won < RACE_WINS;) {
		fd = -1;
		ret = ipc_service_init(ctx, &fd, NAME, strlen(NAME));
		g_atomic_int_inc(&race->tries);
		if (ret == -EADDRINUSE)
			continue;
		g_assert_cmpint(ret, ==, 0);
		g_assert_cmpint(g_atomic_int_add(&race->owners, 1), ==, 0);
		g_atomic_int_inc(&race->wins);
		g_usleep(50);
		g_atomic_int_add(&race->owners, -1);
		g_assert_cmpint(ipc_close_fd(ctx, fd), ==, 0);
		won++;
	}
	ipc_context_deinit(&ctx);
}

/*
 * Instances starting while another stops: one that opened the lock file
 * just before the stopping one removed it must not take the name, as a
 * lock on a removed file excludes nobody who comes later.
 */
static void test_instances_race(struct ipc_test_fixture *f,
				gconstpointer data)
{
	struct race *race;
	pid_t pids[RACERS];

	(void)data;
	race = mmap(NULL, sizeof(*race), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	g_assert_true(race != MAP_FAILED);
	for (int i = 0; i < RACERS; i++)
		pids[i] = ipc_test_fork(racer_child, race);
	for (int i = 0; i < RACERS; i++)
		ipc_test_reap(pids[i]);
	g_test_message("%d of %d tries took the name", race->wins,
		       race->tries);
	g_assert_cmpint(race->wins, ==, RACERS * RACE_WINS);
	g_assert_cmpuint(count_entries(f->rundir), ==, 0);
	g_assert_no_errno(munmap(race, sizeof(*race)));
}

enum stale_kind { STALE_EXITED, STALE_KILLED };

/* The dying child's context: global, so that valgrind sees it still
 * reachable rather than leaked when the child ends without cleanup. */
static void *stale_ctx;

/* In a child: start NAME, tell the parent (arg = pipe write end), then
 * either _exit() without cleanup or wait to be killed. */
static void stale_child(void *arg)
{
	int *fds = arg;

	g_assert_cmpint(ipc_context_init(&stale_ctx), ==, 0);
	ipc_test_service_init(stale_ctx, NAME);
	ipc_test_notify(fds[1]);
	if (fds[2] == STALE_KILLED)
		pause();
}

static void test_stale_socket(struct ipc_test_fixture *f, gconstpointer data)
{
	int fds[3];
	pid_t pid;
	int fd;

	ipc_test_pipe(fds);
	fds[2] = GPOINTER_TO_INT(data);
	pid = ipc_test_fork(stale_child, fds);
	ipc_test_wait_notify(fds[0]);
	if (fds[2] == STALE_KILLED) {
		g_assert_no_errno(kill(pid, SIGKILL));
		ipc_test_reap_signaled(pid, SIGKILL);
	} else {
		ipc_test_reap(pid);
	}
	close(fds[0]);
	close(fds[1]);
	/* The dead instance left its files behind, with no listener. */
	socket_inode(f->rundir, NAME);
	g_assert_cmpint(ipc_test_raw_try_connect(NAME), ==, -ECONNREFUSED);

	fd = ipc_test_service_init(f->ctx, NAME);
	assert_service_files(f->rundir, NAME);
	assert_service_works(f->ctx, fd, NAME);
}

/* ------------------------------------------------------------------ */
/* Cleanup                                                              */
/* ------------------------------------------------------------------ */

enum close_kind { CLOSE_FD, CLOSE_ALL, CLOSE_DEINIT };

static void close_service(struct ipc_test_fixture *f, int fd,
			  enum close_kind how)
{
	switch (how) {
	case CLOSE_FD:
		g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
		break;
	case CLOSE_ALL:
		g_assert_cmpint(ipc_close_all(f->ctx), ==, 0);
		break;
	case CLOSE_DEINIT:
		ipc_context_deinit(&f->ctx);
		g_assert_null(f->ctx);
		g_assert_cmpint(ipc_context_init(&f->ctx), ==, 0);
		break;
	}
}

static void test_files_removed(struct ipc_test_fixture *f, gconstpointer data)
{
	int fd = ipc_test_service_init(f->ctx, NAME);
	int other = ipc_test_service_init(f->ctx, NAME "2");
	int fd_again;

	assert_service_files(f->rundir, NAME);
	close_service(f, fd, GPOINTER_TO_INT(data));
	assert_no_service_files(f->rundir, NAME);
	if (GPOINTER_TO_INT(data) == CLOSE_FD) {
		/* Only the closed service went away. */
		ipc_test_assert_fd_closed(fd);
		assert_service_files(f->rundir, NAME "2");
		g_assert_cmpint(ipc_close_fd(f->ctx, other), ==, 0);
		g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, -EBADF);
	}
	assert_no_service_files(f->rundir, NAME "2");
	g_assert_cmpuint(count_entries(f->rundir), ==, 0);
	g_assert_cmpint(ipc_connect_service(f->ctx, &fd, NAME, 3), ==,
			-ENOENT);
	/* The context is still usable and the name is free again. */
	fd_again = ipc_test_service_init(f->ctx, NAME);
	assert_service_works(f->ctx, fd_again, NAME);
}

/* ------------------------------------------------------------------ */
/* Connecting                                                           */
/* ------------------------------------------------------------------ */

static void test_connect_missing(struct ipc_test_fixture *f,
				 gconstpointer data)
{
	int before = ipc_test_count_fds();
	g_autofree char *run = NULL;
	int fd = -1;

	(void)data;
	g_assert_cmpint(ipc_connect_service(f->ctx, &fd, NAME, 3), ==,
			-ENOENT);
	g_assert_cmpint(ipc_test_count_fds(), ==, before);
	g_assert_cmpuint(count_entries(f->rundir), ==, 0);

	/* No run directory at all. */
	run = use_sub_rundir(f, "absent");
	g_assert_cmpint(ipc_connect_service(f->ctx, &fd, NAME, 3), ==,
			-ENOENT);
	g_assert_cmpint(ipc_test_count_fds(), ==, before);
}

static void test_connect_refused(struct ipc_test_fixture *f,
				 gconstpointer data)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int before, sock, fd = -1;

	(void)data;
	g_snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", f->rundir,
		   NAME);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_no_errno(sock);
	g_assert_no_errno(bind(sock, (struct sockaddr *)&addr, sizeof(addr)));
	close(sock);
	ipc_test_expect_leftover(f, NAME);

	before = ipc_test_count_fds();
	g_assert_cmpint(ipc_connect_service(f->ctx, &fd, NAME, 3), ==,
			-ECONNREFUSED);
	g_assert_cmpint(ipc_test_count_fds(), ==, before);
	socket_inode(f->rundir, NAME);
}

enum planted { PLANT_FILE, PLANT_DIRECTORY, PLANT_SYMLINK };

/* Something that is not a socket under the service name is left alone. */
static void test_not_a_socket(struct ipc_test_fixture *f, gconstpointer data)
{
	g_autofree char *path = ipc_test_path(f, NAME);
	g_autofree char *target = ipc_test_path(f, "target");
	guint entries = 1;
	int before, fd = -1;
	struct stat st;

	ipc_test_expect_leftover(f, NAME);
	switch (GPOINTER_TO_INT(data)) {
	case PLANT_FILE:
		plant_file(path);
		break;
	case PLANT_DIRECTORY:
		g_assert_no_errno(mkdir(path, 0700));
		break;
	case PLANT_SYMLINK:
		ipc_test_expect_leftover(f, "target");
		plant_file(target);
		g_assert_no_errno(symlink(target, path));
		entries = 2;
		break;
	}
	before = ipc_test_count_fds();
	g_assert_cmpint(ipc_service_init(f->ctx, &fd, NAME, 3), ==, -EEXIST);
	g_assert_cmpint(ipc_test_count_fds(), ==, before);
	/* Nothing created: no lock file either. */
	g_assert_cmpuint(count_entries(f->rundir), ==, entries);
	g_assert_no_errno(lstat(path, &st));
	if (GPOINTER_TO_INT(data) == PLANT_FILE)
		assert_file_untouched(path);
	if (GPOINTER_TO_INT(data) == PLANT_DIRECTORY)
		g_assert_true(S_ISDIR(st.st_mode));
	if (GPOINTER_TO_INT(data) == PLANT_SYMLINK) {
		g_assert_true(S_ISLNK(st.st_mode));
		assert_file_untouched(target);
	}
}

/* A lock file that is a symbolic link is not followed. */
static void test_lock_symlink(struct ipc_test_fixture *f, gconstpointer data)
{
	g_autofree char *lock = ipc_test_path(f, NAME ".lock");
	g_autofree char *target = ipc_test_path(f, "target");
	int before, fd = -1, ret;

	(void)data;
	ipc_test_expect_leftover(f, NAME ".lock");
	ipc_test_expect_leftover(f, "target");
	plant_file(target);
	g_assert_no_errno(symlink(target, lock));
	before = ipc_test_count_fds();
	ret = ipc_service_init(f->ctx, &fd, NAME, 3);
	g_test_message("ipc_service_init: %s", g_strerror(-ret));
	g_assert_cmpint(ret, <, 0);
	g_assert_cmpint(ipc_test_count_fds(), ==, before);
	g_assert_cmpuint(count_entries(f->rundir), ==, 2);
	assert_file_untouched(target);
}

/* ------------------------------------------------------------------ */
/* A service that is also a client                                      */
/* ------------------------------------------------------------------ */

#define UPSTREAM "upstream"

/* In a child: the UPSTREAM service answers each message with the same
 * payload and a '!' appended, until its client leaves. */
static void upstream_child(void *arg)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int *ready = arg;
	void *ctx = NULL;
	size_t index;
	int service, fd;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	service = ipc_test_service_init(ctx, UPSTREAM);
	ipc_test_notify(ready[1]);
	fd = ipc_test_accept(ctx, service, &index);
	for (;;) {
		ipc_test_next_event(ctx, &ev);
		if (ev.type == DISCONNECTION)
			break;
		g_assert_cmpint(ev.type, ==, MESSAGE_RX);
		g_assert_cmpint(ev.fd, ==, fd);
		ev.data[ev.len] = '!';
		g_assert_cmpint(ipc_write(ctx, fd, ev.data, ev.len + 1), ==, 0);
	}
	g_assert_cmpint(ev.fd, ==, fd);
	g_assert_cmpuint(ev.index, ==, index);
	ipc_context_deinit(&ctx);
}

static void test_service_and_client(struct ipc_test_fixture *f,
				    gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) reply = g_byte_array_new();
	int ready[2], service, upstream, raw, client;
	size_t index;
	pid_t pid;

	(void)data;
	ipc_test_pipe(ready);
	pid = ipc_test_fork(upstream_child, ready);
	ipc_test_wait_notify(ready[0]);
	close(ready[0]);
	close(ready[1]);

	service = ipc_test_service_init(f->ctx, NAME);
	upstream = ipc_test_connect(f->ctx, UPSTREAM);
	g_assert_cmpint(fcntl(upstream, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
	raw = ipc_test_raw_connect(NAME);
	client = ipc_test_accept(f->ctx, service, &index);
	g_assert_cmpint(client, !=, upstream);

	/* raw -> service -> upstream -> service -> raw */
	ipc_test_write_frame(raw, "hello", 5);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, index, client, "hello", 5);
	g_assert_cmpint(ipc_write(f->ctx, upstream, ev.data, ev.len), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, upstream);
	g_assert_cmpuint(ev.index, !=, index);
	g_assert_cmpmem(ev.data, ev.len, "hello!", 6);
	g_assert_cmpint(ipc_write(f->ctx, client, ev.data, ev.len), ==, 0);
	g_assert_cmpuint(ipc_test_read_frame(raw, reply), ==, 6);
	g_assert_cmpmem(reply->data, reply->len, "hello!", 6);

	close(raw);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, client);
	g_assert_cmpuint(ev.index, ==, index);
	g_assert_cmpint(ipc_close_fd(f->ctx, upstream), ==, 0);
	ipc_test_reap(pid);
	g_assert_cmpint(ipc_close_fd(f->ctx, service), ==, 0);
	assert_no_service_files(f->rundir, NAME);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, func, data) \
	IPC_TEST_ADD("/ipc/service/" path, func, data)

	ADD("socket-and-lock", test_socket_and_lock, NULL);
	ADD("rundir/created", test_rundir_created, NULL);
	ADD("rundir/group-writable", test_rundir_group_writable, NULL);
	ADD("rundir/symlink", test_rundir_symlink, NULL);
	ADD("rundir/dangling-symlink", test_rundir_dangling_symlink, NULL);
	ADD("rundir/world-writable", test_rundir_world_writable,
	    GUINT_TO_POINTER(0777));
	ADD("rundir/world-writable-sticky", test_rundir_world_writable,
	    GUINT_TO_POINTER(01777));
	ADD("rundir/not-a-directory", test_rundir_not_directory, NULL);
	ADD("rundir/default-unset", test_default_rundir, NULL);
	ADD("rundir/default-empty", test_default_rundir,
	    GINT_TO_POINTER(1));
	ADD("name/invalid", test_invalid_names, NULL);
	ADD("name/too-long", test_name_too_long, NULL);
	ADD("name/not-terminated", test_name_not_terminated, NULL);
	ADD("null-arguments", test_null_arguments, NULL);
	ADD("second-instance/process", test_second_instance,
	    GINT_TO_POINTER(SECOND_PROCESS));
	ADD("second-instance/context", test_second_instance,
	    GINT_TO_POINTER(SECOND_CONTEXT));
	ADD("second-instance/same-context", test_second_instance,
	    GINT_TO_POINTER(SECOND_SAME_CONTEXT));
	ADD("instances-race", test_instances_race, NULL);
	ADD("stale-socket/exited", test_stale_socket,
	    GINT_TO_POINTER(STALE_EXITED));
	ADD("stale-socket/killed", test_stale_socket,
	    GINT_TO_POINTER(STALE_KILLED));
	ADD("files-removed/close-fd", test_files_removed,
	    GINT_TO_POINTER(CLOSE_FD));
	ADD("files-removed/close-all", test_files_removed,
	    GINT_TO_POINTER(CLOSE_ALL));
	ADD("files-removed/deinit", test_files_removed,
	    GINT_TO_POINTER(CLOSE_DEINIT));
	ADD("connect/missing", test_connect_missing, NULL);
	ADD("connect/refused", test_connect_refused, NULL);
	ADD("not-a-socket/file", test_not_a_socket,
	    GINT_TO_POINTER(PLANT_FILE));
	ADD("not-a-socket/directory", test_not_a_socket,
	    GINT_TO_POINTER(PLANT_DIRECTORY));
	ADD("not-a-socket/symlink", test_not_a_socket,
	    GINT_TO_POINTER(PLANT_SYMLINK));
	ADD("lock-symlink", test_lock_symlink, NULL);
	ADD("service-and-client", test_service_and_client, NULL);

#undef ADD
	return g_test_run();
}
