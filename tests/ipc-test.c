/*
 * libipc test helpers.
 *
 * SPDX-License-Identifier: ISC
 */

#define _GNU_SOURCE /* accept4 */

#include "ipc-test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* ------------------------------------------------------------------ */
/* Program and fixture                                                  */
/* ------------------------------------------------------------------ */

void ipc_test_init(int *argc, char ***argv)
{
	g_test_init(argc, argv, NULL);
	/* Whoever started us may have ignored SIGPIPE (Python does): restore
	 * the default so that a SIGPIPE raised by the library kills us. */
	signal(SIGPIPE, SIG_DFL);
	alarm(IPC_TEST_TIMEOUT);
}

/* Entries of /proc/<pid>/fd (/proc/self/fd when @pid is 0). */
static int fd_entries(pid_t pid)
{
	g_autofree char *path = pid ? g_strdup_printf("/proc/%d/fd", (int)pid) :
				      g_strdup("/proc/self/fd");
	DIR *dir = opendir(path);
	struct dirent *entry;
	int count = 0;

	g_assert_nonnull(dir);
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] != '.')
			count++;
	}
	closedir(dir);
	return count;
}

int ipc_test_count_fds(void)
{
	/* The directory stream's own fd was listed too. */
	return fd_entries(0) - 1;
}

int ipc_test_count_fds_of(pid_t pid)
{
	return fd_entries(pid);
}

void ipc_test_assert_fd_closed(int fd)
{
	errno = 0;
	g_assert_cmpint(fcntl(fd, F_GETFD), ==, -1);
	g_assert_cmpint(errno, ==, EBADF);
}

void ipc_test_memory(pid_t pid, gsize *vm, gsize *rss)
{
	g_autofree char *path = NULL;
	g_autofree char *text = NULL;
	GError *error = NULL;
	unsigned long size = 0, resident = 0;
	long page = sysconf(_SC_PAGESIZE);

	if (pid)
		path = g_strdup_printf("/proc/%d/statm", (int)pid);
	else
		path = g_strdup("/proc/self/statm");
	g_assert_true(g_file_get_contents(path, &text, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(sscanf(text, "%lu %lu", &size, &resident), ==, 2);
	g_assert_cmpint(page, >, 0);
	if (vm)
		*vm = (gsize)size * (gsize)page;
	if (rss)
		*rss = (gsize)resident * (gsize)page;
}

gboolean ipc_test_heap_in_use(gsize *bytes)
{
#if defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 33)
	struct mallinfo2 mi = mallinfo2();

	*bytes = mi.uordblks + mi.hblkhd;
	return TRUE;
#endif
#endif
	*bytes = 0;
	return FALSE;
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define IPC_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define IPC_TEST_SANITIZED 1
#endif

gboolean ipc_test_under_valgrind(void)
{
	const char *preload = g_getenv("LD_PRELOAD");

	/* valgrind preloads its vgpreload_*.so into the programs it runs;
	 * no need for <valgrind/valgrind.h>. */
	return preload && strstr(preload, "vgpreload") != NULL;
}

gboolean ipc_test_memory_instrumented(void)
{
#ifdef IPC_TEST_SANITIZED
	return TRUE;
#else
	return ipc_test_under_valgrind() ||
	       g_getenv("IPC_TEST_EMULATED") != NULL;
#endif
}

guint64 ipc_test_raise_fd_limit(guint64 wanted)
{
	struct rlimit rl;

	g_assert_no_errno(getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
				      rl.rlim_max > wanted ?
				      wanted : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			g_test_message("setrlimit: %s", g_strerror(errno));
		g_assert_no_errno(getrlimit(RLIMIT_NOFILE, &rl));
	}
	return rl.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : rl.rlim_cur;
}

void ipc_test_setup(struct ipc_test_fixture *f, gconstpointer data)
{
	GError *error = NULL;

	(void)data;
	alarm(IPC_TEST_TIMEOUT);
	f->rundir = g_dir_make_tmp("libipc-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(g_setenv("IPC_RUNDIR", f->rundir, TRUE));
	f->leftovers = g_ptr_array_new_with_free_func(g_free);
	f->fds_before = ipc_test_count_fds();
	f->ctx = NULL;
	g_assert_cmpint(ipc_context_init(&f->ctx), ==, 0);
	g_assert_nonnull(f->ctx);
}

void ipc_test_expect_leftover(struct ipc_test_fixture *f, const char *name)
{
	g_ptr_array_add(f->leftovers, g_strdup(name));
}

char *ipc_test_path(const struct ipc_test_fixture *f, const char *name)
{
	return g_build_filename(f->rundir, name, NULL);
}

static gboolean is_leftover(const struct ipc_test_fixture *f, const char *name)
{
	for (guint i = 0; i < f->leftovers->len; i++) {
		if (strcmp(g_ptr_array_index(f->leftovers, i), name) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Fails on any entry of the run directory the test did not declare. */
static void assert_rundir_clean(const struct ipc_test_fixture *f)
{
	GError *error = NULL;
	GDir *dir = g_dir_open(f->rundir, 0, &error);
	const char *name;

	g_assert_no_error(error);
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (!is_leftover(f, name))
			g_test_message("unexpected file left in run dir: %s",
				       name);
		g_assert_true(is_leftover(f, name));
	}
	g_dir_close(dir);
}

/* rm -rf without following symbolic links; restores write permission. */
static void remove_tree(const char *path)
{
	struct stat st;

	g_assert_no_errno(lstat(path, &st));
	if (S_ISDIR(st.st_mode)) {
		GDir *dir;
		const char *name;

		g_assert_no_errno(chmod(path, 0700));
		dir = g_dir_open(path, 0, NULL);
		g_assert_nonnull(dir);
		while ((name = g_dir_read_name(dir)) != NULL) {
			char *child = g_build_filename(path, name, NULL);

			remove_tree(child);
			g_free(child);
		}
		g_dir_close(dir);
		g_assert_no_errno(rmdir(path));
	} else {
		g_assert_no_errno(unlink(path));
	}
}

void ipc_test_teardown(struct ipc_test_fixture *f, gconstpointer data)
{
	(void)data;
	ipc_context_deinit(&f->ctx);
	g_assert_null(f->ctx);
	g_assert_cmpint(ipc_test_count_fds(), ==, f->fds_before);
	assert_rundir_clean(f);
	remove_tree(f->rundir);
	g_unsetenv("IPC_RUNDIR");
	g_clear_pointer(&f->rundir, g_free);
	g_clear_pointer(&f->leftovers, g_ptr_array_unref);
}

/* ------------------------------------------------------------------ */
/* Child processes                                                      */
/* ------------------------------------------------------------------ */

static void close_cloexec_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
	struct dirent *entry;

	g_assert_nonnull(dir);
	while ((entry = readdir(dir)) != NULL) {
		int fd = atoi(entry->d_name);
		int flags;

		if (entry->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		flags = fcntl(fd, F_GETFD);
		if (fd > 2 && flags >= 0 && (flags & FD_CLOEXEC))
			g_array_append_val(fds, fd);
	}
	closedir(dir);
	for (guint i = 0; i < fds->len; i++)
		close(g_array_index(fds, int, i));
	g_array_unref(fds);
}

pid_t ipc_test_fork(void (*child)(void *arg), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		close_cloexec_fds();
		alarm(IPC_TEST_TIMEOUT);
		child(arg);
		_exit(0);
	}
	return pid;
}

static int wait_child(pid_t pid)
{
	int status = 0;
	pid_t ret;

	do {
		ret = waitpid(pid, &status, 0);
	} while (ret < 0 && errno == EINTR);
	g_assert_cmpint(ret, ==, pid);
	return status;
}

void ipc_test_reap(pid_t pid)
{
	int status = wait_child(pid);

	if (WIFSIGNALED(status))
		g_test_message("child %d killed by signal %d", (int)pid,
			       WTERMSIG(status));
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

void ipc_test_reap_signaled(pid_t pid, int sig)
{
	int status = wait_child(pid);

	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, sig);
}

void ipc_test_pipe(int fds[2])
{
	g_assert_no_errno(pipe(fds));
}

void ipc_test_notify(int fd)
{
	ipc_test_write_all(fd, "!", 1);
}

void ipc_test_wait_notify(int fd)
{
	char byte = 0;

	ipc_test_read_all(fd, &byte, 1);
	g_assert_cmpint(byte, ==, '!');
}

/* ------------------------------------------------------------------ */
/* Services and events                                                  */
/* ------------------------------------------------------------------ */

int ipc_test_service_init(void *ctx, const char *name)
{
	int fd = -1;

	g_assert_cmpint(ipc_service_init(ctx, &fd, name, strlen(name)), ==, 0);
	g_assert_cmpint(fd, >=, 0);
	return fd;
}

int ipc_test_connect(void *ctx, const char *name)
{
	int fd = -1;

	g_assert_cmpint(ipc_connect_service(ctx, &fd, name, strlen(name)), ==,
			0);
	g_assert_cmpint(fd, >=, 0);
	return fd;
}

void ipc_test_event_clear(struct ipc_test_event *ev)
{
	struct ipc_test_event init = IPC_TEST_EVENT_INIT;

	g_free(ev->data);
	*ev = init;
}

const char *ipc_test_event_name(char type)
{
	static const char *const names[] = {
		[ERROR] = "ERROR",
		[CONNECTION] = "CONNECTION",
		[DISCONNECTION] = "DISCONNECTION",
		[MESSAGE_RX] = "MESSAGE_RX",
		[MESSAGE_TX] = "MESSAGE_TX",
		[TIMER] = "TIMER",
		[EXTERNAL] = "EXTERNAL",
		[SWITCH_RX] = "SWITCH_RX",
		[SWITCH_TX] = "SWITCH_TX",
	};

	if (type < 0 || (size_t)type >= G_N_ELEMENTS(names))
		return "?";
	return names[(int)type];
}

int ipc_test_wait_raw(void *ctx, struct ipc_test_event *ev, size_t bufsize)
{
	if (ev->capacity < bufsize) {
		ev->data = g_realloc(ev->data, bufsize);
		ev->capacity = bufsize;
	}
	/* Poison the outputs so an unset one is noticed. */
	ev->type = (char)0x7f;
	ev->index = (size_t)-2;
	ev->fd = -2;
	ev->newfd = -2;
	ev->len = bufsize;
	ev->ret = ipc_wait_event(ctx, &ev->type, &ev->index, &ev->fd,
				 &ev->newfd, bufsize ? ev->data : NULL,
				 &ev->len);
	return ev->ret;
}

void ipc_test_next_event(void *ctx, struct ipc_test_event *ev)
{
	int ret = ipc_test_wait_raw(ctx, ev, IPC_MAX_MESSAGE_SIZE_DEFAULT);

	if (ret != 0)
		g_test_message("ipc_wait_event: %s (type %s)",
			       g_strerror(-ret), ipc_test_event_name(ev->type));
	g_assert_cmpint(ret, ==, 0);
}

void ipc_test_wait_for_ignoring(void *ctx, char type, unsigned int ignore,
				struct ipc_test_event *ev)
{
	for (;;) {
		ipc_test_next_event(ctx, ev);
		if (ev->type == type)
			return;
		if (ev->type >= 0 && ev->type < 32 &&
		    (ignore & IPC_TEST_BIT(ev->type)))
			continue;
		g_test_message("waiting for %s, got %s (fd %d, index %zd)",
			       ipc_test_event_name(type),
			       ipc_test_event_name(ev->type), ev->fd,
			       (ssize_t)ev->index);
		g_assert_cmpint(ev->type, ==, type);
	}
}

void ipc_test_wait_for(void *ctx, char type, struct ipc_test_event *ev)
{
	ipc_test_wait_for_ignoring(ctx, type, 0, ev);
}

int ipc_test_accept(void *ctx, int servicefd, size_t *index)
{
	struct ipc_test_event ev = IPC_TEST_EVENT_INIT;
	int fd;

	ipc_test_wait_for(ctx, CONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, servicefd);
	g_assert_cmpint(ev.newfd, >=, 0);
	g_assert_cmpint(ev.newfd, !=, servicefd);
	g_assert_cmpuint(ev.index, !=, (size_t)-1);
	g_assert_cmpuint(ev.len, ==, 0);
	fd = ev.newfd;
	if (index)
		*index = ev.index;
	ipc_test_event_clear(&ev);
	return fd;
}

void ipc_test_assert_message(const struct ipc_test_event *ev, size_t index,
			     int fd, const void *data, size_t len)
{
	g_assert_cmpstr(ipc_test_event_name(ev->type), ==,
			ipc_test_event_name(MESSAGE_RX));
	g_assert_cmpuint(ev->index, ==, index);
	g_assert_cmpint(ev->fd, ==, fd);
	g_assert_cmpint(ev->newfd, ==, -1);
	g_assert_cmpmem(ev->data, ev->len, data, len);
}

/* ------------------------------------------------------------------ */
/* Raw peers                                                            */
/* ------------------------------------------------------------------ */

static void rundir_address(struct sockaddr_un *addr, const char *name)
{
	const char *rundir = g_getenv("IPC_RUNDIR");

	g_assert_nonnull(rundir);
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	g_assert_cmpint(g_snprintf(addr->sun_path, sizeof(addr->sun_path),
				   "%s/%s", rundir, name), <,
			(int)sizeof(addr->sun_path));
}

static int raw_listen(const char *name, int backlog)
{
	struct sockaddr_un addr;
	int fd;

	rundir_address(&addr, name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_no_errno(fd);
	g_assert_no_errno(bind(fd, (struct sockaddr *)&addr, sizeof(addr)));
	g_assert_no_errno(listen(fd, backlog));
	return fd;
}

int ipc_test_raw_listen(const char *name)
{
	return raw_listen(name, 16);
}

/* A non-blocking connect to @name: the fd, or -errno. */
static int raw_connect_nonblocking(const char *name)
{
	struct sockaddr_un addr;
	int fd;

	rundir_address(&addr, name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	g_assert_no_errno(fd);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int ipc_test_raw_listen_full(const char *name, int *filler)
{
	/* A backlog of 0 holds one connection. */
	int fd = raw_listen(name, 0);

	*filler = raw_connect_nonblocking(name);
	g_assert_cmpint(*filler, >=, 0);
	g_assert_cmpint(raw_connect_nonblocking(name), ==, -EAGAIN);
	return fd;
}

int ipc_test_raw_try_connect(const char *name)
{
	struct sockaddr_un addr;
	int fd, ret;

	rundir_address(&addr, name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_no_errno(fd);
	do {
		ret = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int ipc_test_raw_connect(const char *name)
{
	int fd = ipc_test_raw_try_connect(name);

	if (fd < 0)
		g_test_message("connect to %s: %s", name, g_strerror(-fd));
	g_assert_cmpint(fd, >=, 0);
	return fd;
}

void ipc_test_append_frame(GByteArray *out, const void *payload,
			   uint32_t len)
{
	guint32 header = GUINT32_TO_BE(len);

	g_byte_array_append(out, (const guint8 *)&header, sizeof(header));
	if (len)
		g_byte_array_append(out, payload, len);
}

/* Waits until @fd is ready for @events (for fds the library made
 * non-blocking). */
static void wait_ready(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret;

	do {
		ret = poll(&pfd, 1, -1);
	} while (ret < 0 && errno == EINTR);
	g_assert_cmpint(ret, ==, 1);
}

/*
 * TRUE when a read or write that returned @n must be tried again: it was
 * interrupted, or @fd (made non-blocking by the library) was not ready, in
 * which case this first waits for @events.
 */
static gboolean must_retry(int fd, ssize_t n, short events)
{
	if (n >= 0)
		return FALSE;
	if (errno == EINTR)
		return TRUE;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return FALSE;
	wait_ready(fd, events);
	return TRUE;
}

static ssize_t read_some(int fd, void *buf, size_t len)
{
	ssize_t n;

	do {
		n = read(fd, buf, len);
	} while (must_retry(fd, n, POLLIN));
	return n;
}

static ssize_t write_some(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, buf, len);
	} while (must_retry(fd, n, POLLOUT));
	return n;
}

void ipc_test_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write_some(fd, p, len);

		g_assert_no_errno(n);
		p += n;
		len -= n;
	}
}

void ipc_test_write_frame(int fd, const void *payload, uint32_t len)
{
	GByteArray *frame = g_byte_array_sized_new(len + 4);

	ipc_test_append_frame(frame, payload, len);
	ipc_test_write_all(fd, frame->data, frame->len);
	g_byte_array_unref(frame);
}

void ipc_test_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read_some(fd, p, len);

		g_assert_no_errno(n);
		if (n == 0)
			g_test_message("unexpected EOF on fd %d, %zu bytes "
				       "missing", fd, len);
		g_assert_cmpint(n, >, 0);
		p += n;
		len -= n;
	}
}

gsize ipc_test_read_frame(int fd, GByteArray *out)
{
	guint32 header;
	gsize len;

	ipc_test_read_all(fd, &header, sizeof(header));
	len = GUINT32_FROM_BE(header);
	g_byte_array_set_size(out, len);
	ipc_test_read_all(fd, out->data, len);
	return len;
}

void ipc_test_assert_eof(int fd)
{
	char byte;
	ssize_t n = read_some(fd, &byte, 1);

	/* A reset connection counts as closed too. */
	if (n < 0 && errno == ECONNRESET)
		n = 0;
	g_assert_no_errno(n);
	g_assert_cmpint(n, ==, 0);
}

gboolean ipc_test_poll(int fd, short events, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	do {
		n = poll(&pfd, 1, ms);
	} while (n < 0 && errno == EINTR);
	g_assert_no_errno(n);
	return n == 1;
}

void ipc_test_set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	g_assert_no_errno(flags);
	g_assert_no_errno(fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

int ipc_test_pending_bytes(int fd)
{
	int avail = -1;

	g_assert_no_errno(ioctl(fd, FIONREAD, &avail));
	return avail;
}

void ipc_test_fill(void *buf, size_t len, guint32 seed)
{
	guint8 *p = buf;
	guint32 x = seed * 2654435761u + 1;

	if (x == 0)
		x = 1;
	for (size_t i = 0; i < len; i++) {
		/* xorshift32, four bytes per step: cheap, and no two seeds
		 * give shifted copies. */
		if (i % 4 == 0) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
		}
		p[i] = (guint8)(x >> (8 * (i % 4)));
	}
}

void ipc_test_fill_numbered(void *buf, size_t len, guint32 seq)
{
	guint32 be = GUINT32_TO_BE(seq);

	ipc_test_fill(buf, len, seq);
	memcpy(buf, &be, MIN(len, sizeof(be)));
}

void ipc_test_assert_numbered(const void *data, size_t len,
			      size_t expected_len, guint32 seq)
{
	char *expected = g_malloc(expected_len + 1);

	ipc_test_fill_numbered(expected, expected_len, seq);
	g_assert_cmpmem(data, len, expected, expected_len);
	g_free(expected);
}

/* ------------------------------------------------------------------ */
/* Switch relays                                                        */
/* ------------------------------------------------------------------ */

void ipc_test_relay_open(struct ipc_test_fixture *f,
			 struct ipc_test_relay *r, const char *relay_name,
			 const char *peer_name)
{
	g_autofree char *path = ipc_test_path(f, peer_name);
	int listener = ipc_test_raw_listen(peer_name);

	r->svc = ipc_test_service_init(f->ctx, relay_name);
	r->raw_a = ipc_test_raw_connect(relay_name);
	r->a = ipc_test_accept(f->ctx, r->svc, NULL);
	r->b = ipc_test_connect(f->ctx, peer_name);
	r->raw_b = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	g_assert_no_errno(r->raw_b);
	close(listener);
	g_assert_no_errno(unlink(path));
}

void ipc_test_send_frames(int raw, const char *const *msgs, guint n)
{
	g_autoptr(GByteArray) out = g_byte_array_new();

	for (guint i = 0; i < n; i++)
		ipc_test_append_frame(out, msgs[i], strlen(msgs[i]));
	ipc_test_write_all(raw, out->data, out->len);
}

void ipc_test_expect_frames(int raw, const char *const *msgs, guint n)
{
	g_autoptr(GByteArray) in = g_byte_array_new();

	for (guint i = 0; i < n; i++) {
		ipc_test_read_frame(raw, in);
		g_assert_cmpmem(in->data, in->len, msgs[i], strlen(msgs[i]));
	}
}

void ipc_test_assert_switch_tx(const struct ipc_test_event *ev, int to)
{
	g_assert_cmpstr(ipc_test_event_name(ev->type), ==,
			ipc_test_event_name(SWITCH_TX));
	g_assert_cmpint(ev->fd, ==, to);
	g_assert_cmpint(ev->newfd, ==, -1);
	g_assert_cmpuint(ev->len, ==, 0);
}

void ipc_test_pump_forward(void *ctx, int from, int to,
			   const char *const *msgs, guint n)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	guint rx = 0, tx = 0;

	while (rx < n || tx < n) {
		ipc_test_next_event(ctx, &ev);
		if (ev.type == SWITCH_TX) {
			ipc_test_assert_switch_tx(&ev, to);
			g_assert_cmpuint(++tx, <=, rx);
			continue;
		}
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
				ipc_test_event_name(SWITCH_RX));
		g_assert_cmpuint(rx, <, n);
		g_assert_cmpint(ev.fd, ==, from);
		g_assert_cmpint(ev.newfd, ==, -1);
		g_assert_cmpmem(ev.data, ev.len, msgs[rx], strlen(msgs[rx]));
		rx++;
	}
}

char ipc_test_line_read(int orig, GString *pending, char *payload,
			size_t *mlen)
{
	const char *nl;
	size_t len;

	while ((nl = memchr(pending->str, '\n', pending->len)) == NULL) {
		char chunk[7];
		ssize_t n = recv(orig, chunk, sizeof(chunk), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return CB_IGNORE;
		if (n < 0)
			return CB_ERROR;
		if (n == 0)
			return CB_FD_CLOSING;
		g_string_append_len(pending, chunk, n);
	}
	len = nl - pending->str;
	if (len > *mlen)
		return CB_ERROR;
	memcpy(payload, pending->str, len);
	*mlen = len;
	g_string_erase(pending, 0, len + 1);
	return CB_NO_ERROR;
}

char ipc_test_line_write(int dest, const char *payload, size_t mlen)
{
	g_autoptr(GString) line = g_string_new_len(payload, mlen);

	g_string_append_c(line, '\n');
	ipc_test_write_all(dest, line->str, line->len);
	return CB_NO_ERROR;
}
