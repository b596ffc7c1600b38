/*
 * libipc tests: ipcctl(1) against real services.
 *
 * Each case runs the ipcctl program ($IPCCTL) as a child process, its
 * standard output and error going to temporary files, in the fixture's
 * run directory.  The services are pongd ($PONGD), services of this test
 * forked as children, or plain sockets standing for a silent or a stale
 * service.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

/* Room for the clients that fill a backlog (see busy_fill()). */
#define BUSY_MAX 64

/* Exit statuses of ipcctl(1). */
enum {
	EXIT_USAGE = 2,
	EXIT_NO_SERVICE = 3,
	EXIT_REFUSED = 4,
	EXIT_TIMEOUT = 5,
	EXIT_CLOSED = 6,
	EXIT_DENIED = 7,
};

/* What a run of ipcctl left: its exit status and its output. */
struct run {
	int status;		/* exit status; -1 if killed by a signal */
	char *out;
	gsize out_len;
	char *err;
};

static void run_clear(struct run *r)
{
	g_free(r->out);
	g_free(r->err);
	memset(r, 0, sizeof(*r));
}

/* An anonymous temporary file for a child's output. */
static int output_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("test-ipcctl-XXXXXX", &path, &error);

	g_assert_no_error(error);
	g_assert_no_errno(unlink(path));
	return fd;
}

static char *output_read(int fd, gsize *len)
{
	GByteArray *a = g_byte_array_new();
	char buf[4096];
	ssize_t n;

	g_assert_no_errno(lseek(fd, 0, SEEK_SET));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_byte_array_append(a, (guint8 *)buf, (guint)n);
	g_assert_cmpint(n, ==, 0);
	close(fd);
	if (len)
		*len = a->len;
	g_byte_array_append(a, (guint8 *)"", 1);
	return (char *)g_byte_array_free(a, FALSE);
}

/*
 * Under make check-valgrind, ipcctl runs under valgrind too, which
 * writes its own lines ("==PID== ...") to the same stderr: they are not
 * ipcctl's.  An error valgrind finds shows in the exit status.
 */
static char *valgrind_lines_drop(char *err)
{
	g_auto(GStrv) lines = g_strsplit(err, "\n", -1);
	GString *kept = g_string_new(NULL);
	char **l;

	for (l = lines; *l; l++) {
		if (g_regex_match_simple("^==[0-9]+==", *l, 0, 0))
			continue;
		g_string_append(kept, *l);
		if (l[1])
			g_string_append_c(kept, '\n');
	}
	g_free(err);
	return g_string_free(kept, FALSE);
}

/*
 * Starts ipcctl with @args (NULL-terminated), standard input from
 * @in_fd (-1: /dev/null), output to the files *@out and *@err (not
 * NULL: opened here).
 */
static GPid spawn_ipcctl(const char *const *args, int in_fd, int out,
			 int err)
{
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) argv = NULL;
	GPid pid = 0;

	g_strv_builder_add(b, g_getenv("IPCCTL"));
	g_strv_builder_addv(b, (const char **)args);
	argv = g_strv_builder_end(b);
	g_assert_true(g_spawn_async_with_pipes_and_fds(NULL,
			(const char *const *)argv, NULL,
			G_SPAWN_DO_NOT_REAP_CHILD |
			(in_fd < 0 ? G_SPAWN_DEFAULT :
				     G_SPAWN_CHILD_INHERITS_STDIN),
			NULL, NULL, in_fd, out, err, NULL, NULL, 0, &pid,
			NULL, NULL, NULL, &error));
	g_assert_no_error(error);
	return pid;
}

static int reap(GPid pid)
{
	int status;

	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs ipcctl to its end, standard input from the file @in (or none). */
static void run_in(struct run *r, const char *in, const char *const *args)
{
	int out = output_file(), err = output_file(), in_fd = -1;
	GPid pid;

	if (in) {
		in_fd = open(in, O_RDONLY | O_CLOEXEC);
		g_assert_cmpint(in_fd, >=, 0);
	}
	pid = spawn_ipcctl(args, in_fd, out, err);
	if (in_fd >= 0)
		close(in_fd);
	r->status = reap(pid);
	r->out = output_read(out, &r->out_len);
	r->err = valgrind_lines_drop(output_read(err, NULL));
	g_test_message("ipcctl: exit %d, stdout \"%s\", stderr \"%s\"",
		       r->status, r->out, r->err);
}

#define RUN(r, ...) run_in((r), NULL, (const char *const[]){ __VA_ARGS__, \
							   NULL })
#define RUN_IN(r, in, ...) \
	run_in((r), (in), (const char *const[]){ __VA_ARGS__, NULL })

/* ipcctl exits @status with one line on stderr (none when 0). */
static void assert_status(const struct run *r, int status)
{
	g_assert_cmpint(r->status, ==, status);
	if (status == 0) {
		g_assert_cmpstr(r->err, ==, "");
		return;
	}
	g_assert_true(g_str_has_prefix(r->err, "ipcctl: "));
	g_assert_nonnull(strchr(r->err, '\n'));
}

/* ------------------------------------------------------------------ */
/* Services                                                             */
/* ------------------------------------------------------------------ */

static GPid pongd_start(const char *name)
{
	g_autoptr(GError) error = NULL;
	struct run r = { 0 };
	GPid pid = 0;

	g_assert_true(g_spawn_async(NULL,
			(char *[]){ (char *)g_getenv("PONGD"), (char *)name,
				    NULL },
			NULL,
			G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
			NULL, NULL, &pid,
			&error));
	g_assert_no_error(error);
	RUN(&r, "wait", "--timeout", "0", name);
	assert_status(&r, 0);
	run_clear(&r);
	return pid;
}

static void pongd_stop(GPid pid)
{
	g_assert_no_errno(kill(pid, SIGTERM));
	g_assert_cmpint(reap(pid), ==, 0);
}

/* A socket file no one listens on, as a dead instance leaves it. */
static void stale_make(const char *name)
{
	close(ipc_test_raw_listen(name));
}

/*
 * A service of this test, in a child: for each of @clients clients, reads
 * one message, answers it with @replies messages "<message> <i>", then
 * closes the connection.
 */
struct replier {
	int clients;
	int replies;
	int ready[2];
};

static void replier_child(void *arg)
{
	struct replier *p = arg;
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	void *ctx = NULL;
	int svc, fd, c, i;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	svc = ipc_test_service_init(ctx, "multi");
	ipc_test_notify(p->ready[1]);
	for (c = 0; c < p->clients; c++) {
		fd = ipc_test_accept(ctx, svc, NULL);
		ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
		for (i = 1; i <= p->replies; i++) {
			g_autofree char *m = g_strdup_printf("%.*s %d",
							     (int)ev.len,
							     ev.data, i);
			int ret = ipc_write(ctx, fd, m, strlen(m));

			/* -EPIPE: a client with a --count below ours left. */
			g_assert_true(ret == 0 || ret == -EPIPE);
		}
		g_assert_cmpint(ipc_close_fd(ctx, fd), ==, 0);
	}
	ipc_context_deinit(&ctx);
}

static GPid replier_start(struct replier *p)
{
	GPid pid;

	ipc_test_pipe(p->ready);
	pid = ipc_test_fork(replier_child, p);
	ipc_test_wait_notify(p->ready[0]);
	close(p->ready[0]);
	close(p->ready[1]);
	return pid;
}

/* ------------------------------------------------------------------ */
/* list                                                                 */
/* ------------------------------------------------------------------ */

/* The mode ipcctl shows for a file of the run directory. */
static unsigned int mode_of(Fixture *f, const char *name)
{
	g_autofree char *path = ipc_test_path(f, name);
	struct stat st;

	g_assert_no_errno(lstat(path, &st));
	return st.st_mode & 07777;
}

/*
 * A live service (pongd), a stale socket, a file that is not a socket:
 * the two sockets are listed, sorted, with their state, owner and mode.
 */
static void test_list(Fixture *f, gconstpointer data)
{
	g_autofree char *text = NULL, *json = NULL, *notes = NULL;
	struct run r = { 0 };
	GPid pongd;

	(void)data;
	pongd = pongd_start("pong");
	stale_make("old");
	notes = ipc_test_path(f, "notes");
	g_assert_true(g_file_set_contents(notes, "not a socket", -1, NULL));
	ipc_test_expect_leftover(f, "old");
	ipc_test_expect_leftover(f, "notes");
	text = g_strdup_printf("STATE       PID     UID MODE SERVICE\n"
			       "stale         -       - %04o old\n"
			       "alive   %7ld %7lu 0660 pong\n",
			       mode_of(f, "old"), (long)pongd,
			       (unsigned long)geteuid());
	json = g_strdup_printf("[\n"
			       "  {\"name\": \"old\", \"state\": \"stale\","
			       " \"pid\": null, \"uid\": null,"
			       " \"mode\": \"%04o\"},\n"
			       "  {\"name\": \"pong\", \"state\": \"alive\","
			       " \"pid\": %ld, \"uid\": %lu,"
			       " \"mode\": \"0660\"}\n"
			       "]\n",
			       mode_of(f, "old"), (long)pongd,
			       (unsigned long)geteuid());

	RUN(&r, "list");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, text);
	run_clear(&r);
	RUN(&r, "list", "--json");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, json);
	run_clear(&r);
	pongd_stop(pongd);
}

/* No run directory: nothing to list, and nothing created. */
static void test_list_empty(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = ipc_test_path(f, "none");
	struct run r = { 0 };

	(void)data;
	g_setenv("IPC_RUNDIR", dir, TRUE);
	RUN(&r, "list", "--json");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, "[]\n");
	run_clear(&r);
	RUN(&r, "list");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, "STATE       PID     UID MODE SERVICE\n");
	run_clear(&r);
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
}

/* ------------------------------------------------------------------ */
/* send                                                                 */
/* ------------------------------------------------------------------ */

/* Writes @len bytes to a file of the run directory; returns its path. */
static char *input_file(Fixture *f, const char *name, const void *data,
			gssize len)
{
	char *path = ipc_test_path(f, name);

	g_assert_true(g_file_set_contents(path, data, len, NULL));
	ipc_test_expect_leftover(f, name);
	return path;
}

static void test_send_text(Fixture *f, gconstpointer data)
{
	g_autofree char *in = input_file(f, "in", "from stdin\n", -1);
	struct run r = { 0 };
	GPid pongd = pongd_start("pong");

	(void)data;
	RUN(&r, "send", "pong", "hello");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, "hello\n");
	run_clear(&r);
	/* Standard input, whole; a text ending in a newline gets no other. */
	RUN_IN(&r, in, "send", "pong");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, "from stdin\n");
	run_clear(&r);
	/* -f FILE, and UTF-8 text. */
	g_free(in);
	in = input_file(f, "in", "gr\xc3\xbc\xc3\x9f dich", -1);
	RUN(&r, "send", "-f", in, "pong");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, "gr\xc3\xbc\xc3\x9f dich\n");
	run_clear(&r);
	/* An empty message gets an empty reply. */
	RUN(&r, "send", "pong", "");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, "\n");
	run_clear(&r);
	pongd_stop(pongd);
}

static const char binary[] = { 0x00, 0x01, 'a', '\xff', '\n', 'b', 'c',
			       'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l',
			       'm' };

static void test_send_binary(Fixture *f, gconstpointer data)
{
	g_autofree char *in = input_file(f, "in", binary, sizeof(binary));
	struct run r = { 0 };
	GPid pongd = pongd_start("pong");

	(void)data;
	/* Not text: a hex dump. */
	RUN_IN(&r, in, "send", "pong");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==,
			"00000000  00 01 61 ff 0a 62 63 64  65 66 67 68 69 6a"
			" 6b 6c  |..a..bcdefghijkl|\n"
			"00000010  6d                                        "
			"        |m|\n"
			"00000011\n");
	run_clear(&r);
	/* --raw: the bytes unchanged. */
	RUN(&r, "send", "--raw", "-f", in, "pong");
	assert_status(&r, 0);
	g_assert_cmpmem(r.out, r.out_len, binary, sizeof(binary));
	run_clear(&r);
	/* --hex: a dump of text too. */
	RUN(&r, "send", "--hex", "pong", "hi");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==,
			"00000000  68 69                                     "
			"        |hi|\n"
			"00000002\n");
	run_clear(&r);
	pongd_stop(pongd);
}

/* --count: as many replies as asked; 0 for all until the service closes. */
static void test_send_count(Fixture *f, gconstpointer data)
{
	struct replier p = { .clients = 3, .replies = 3 };
	struct run r = { 0 };
	GPid pid;

	(void)f;
	(void)data;
	pid = replier_start(&p);
	RUN(&r, "send", "--count", "0", "multi", "m");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, "m 1\nm 2\nm 3\n");
	run_clear(&r);
	RUN(&r, "send", "-n", "2", "multi", "m");
	assert_status(&r, 0);
	g_assert_cmpstr(r.out, ==, "m 1\nm 2\n");
	run_clear(&r);
	/* Fewer replies than asked, then the service closes. */
	RUN(&r, "send", "-n", "5", "multi", "m");
	assert_status(&r, EXIT_CLOSED);
	g_assert_cmpstr(r.out, ==, "m 1\nm 2\nm 3\n");
	g_assert_nonnull(strstr(r.err, "after 3 of 5 replies"));
	run_clear(&r);
	ipc_test_reap(pid);
}

/*
 * A listening socket with a backlog of none, filled with clients: a
 * connect to it waits.  @clients receives them (-1 terminated).
 */
static void busy_fill(int *clients)
{
	g_autofree char *path = g_build_filename(g_getenv("IPC_RUNDIR"),
						 "busy", NULL);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int i = 1, fd;

	clients[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(clients[0], >=, 0);
	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	g_assert_no_errno(bind(clients[0], (struct sockaddr *)&sa,
			       sizeof(sa)));
	g_assert_no_errno(listen(clients[0], 0));
	for (;;) {
		g_assert_cmpint(i, <, BUSY_MAX - 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		g_assert_cmpint(fd, >=, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			g_assert_cmpint(errno, ==, EAGAIN);
			close(fd);
			break;
		}
		clients[i++] = fd;
	}
	clients[i] = -1;
}

static void busy_free(int *clients)
{
	int i;

	for (i = 0; clients[i] >= 0; i++)
		close(clients[i]);
}

/*
 * A service that never answers, one that reads nothing, one that accepts
 * no connection: nothing ever comes, so the timeout is all that ends
 * ipcctl, whatever the speed of the machine.
 */
static void test_send_timeout(Fixture *f, gconstpointer data)
{
	g_autofree char *big = ipc_test_path(f, "big");
	int silent = ipc_test_raw_listen("silent");
	int busy[BUSY_MAX], fd;
	struct run r = { 0 };

	(void)data;
	RUN(&r, "send", "--timeout", "0.2", "silent", "anyone?");
	assert_status(&r, EXIT_TIMEOUT);
	g_assert_cmpstr(r.out, ==, "");
	g_assert_nonnull(strstr(r.err, "timeout"));
	run_clear(&r);

	/* A service that does not read: the write is bounded too. */
	fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	g_assert_cmpint(fd, >=, 0);
	g_assert_no_errno(ftruncate(fd, IPC_MAX_MESSAGE_SIZE_DEFAULT));
	close(fd);
	ipc_test_expect_leftover(f, "big");
	RUN(&r, "send", "-t", "0.2", "-f", big, "silent");
	assert_status(&r, EXIT_TIMEOUT);
	run_clear(&r);
	close(silent);
	ipc_test_expect_leftover(f, "silent");

	/* A service whose backlog is full: the connection is bounded. */
	busy_fill(busy);
	RUN(&r, "send", "-t", "0.2", "busy", "x");
	assert_status(&r, EXIT_TIMEOUT);
	g_assert_nonnull(strstr(r.err, "does not accept connections"));
	run_clear(&r);
	busy_free(busy);
	ipc_test_expect_leftover(f, "busy");
}

/* Each failure: its exit status and one line on stderr. */
static void test_send_errors(Fixture *f, gconstpointer data)
{
	g_autofree char *big = ipc_test_path(f, "big");
	g_autofree char *link = ipc_test_path(f, "link");
	g_autofree char *open_dir = ipc_test_path(f, "open");
	struct run r = { 0 };
	int fd;

	(void)data;
	RUN(&r, "send", "nothing-here", "x");
	assert_status(&r, EXIT_NO_SERVICE);
	g_assert_nonnull(strstr(r.err, "no such service"));
	run_clear(&r);

	stale_make("old");
	ipc_test_expect_leftover(f, "old");
	RUN(&r, "send", "old", "x");
	assert_status(&r, EXIT_REFUSED);
	g_assert_nonnull(strstr(r.err, "stale"));
	run_clear(&r);

	RUN(&r, "send", "a/b", "x");
	assert_status(&r, EXIT_USAGE);
	run_clear(&r);

	/* One byte over the 16 MiB limit (a sparse file). */
	fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	g_assert_cmpint(fd, >=, 0);
	g_assert_no_errno(ftruncate(fd, IPC_MAX_MESSAGE_SIZE_DEFAULT + 1));
	close(fd);
	ipc_test_expect_leftover(f, "big");
	RUN(&r, "send", "-f", big, "old");
	assert_status(&r, EXIT_USAGE);
	g_assert_nonnull(strstr(r.err, "over the message size limit"));
	run_clear(&r);

	RUN(&r, "send", "-f", "/nonexistent/file", "old");
	assert_status(&r, 1);
	run_clear(&r);

	/* Unsafe run directories: a symbolic link, one others may write. */
	g_assert_no_errno(symlink(f->rundir, link));
	ipc_test_expect_leftover(f, "link");
	g_setenv("IPC_RUNDIR", link, TRUE);
	RUN(&r, "send", "old", "x");
	assert_status(&r, EXIT_DENIED);
	run_clear(&r);
	g_assert_no_errno(mkdir(open_dir, 0777));
	g_assert_no_errno(chmod(open_dir, 0777));
	ipc_test_expect_leftover(f, "open");
	g_setenv("IPC_RUNDIR", open_dir, TRUE);
	RUN(&r, "send", "old", "x");
	assert_status(&r, EXIT_DENIED);
	run_clear(&r);
	RUN(&r, "list");
	assert_status(&r, EXIT_DENIED);
	run_clear(&r);
	g_setenv("IPC_RUNDIR", f->rundir, TRUE);
}

/* ------------------------------------------------------------------ */
/* wait                                                                 */
/* ------------------------------------------------------------------ */

static void test_wait(Fixture *f, gconstpointer data)
{
	int out = output_file(), err = output_file();
	struct run r = { 0 };
	GPid waiter, pongd;
	char *text;

	(void)data;
	RUN(&r, "wait", "--timeout", "0.1", "later");
	assert_status(&r, EXIT_TIMEOUT);
	run_clear(&r);
	/* A stale socket is not a service. */
	stale_make("later");
	RUN(&r, "wait", "-t", "0.1", "later");
	assert_status(&r, EXIT_TIMEOUT);
	g_assert_nonnull(strstr(r.err, "stale"));
	run_clear(&r);
	/* Waiting without a limit; the service comes afterwards. */
	waiter = spawn_ipcctl((const char *const[]){ "wait", "-t", "0",
						     "later", NULL },
			      -1, out, err);
	pongd = pongd_start("later");
	g_assert_cmpint(reap(waiter), ==, 0);
	text = output_read(out, NULL);
	g_assert_cmpstr(text, ==, "");
	g_free(text);
	text = valgrind_lines_drop(output_read(err, NULL));
	g_assert_cmpstr(text, ==, "");
	g_free(text);
	pongd_stop(pongd);
	(void)f;
}

/* ------------------------------------------------------------------ */
/* monitor                                                              */
/* ------------------------------------------------------------------ */

struct monitor {
	GPid pid;
	int out;		/* file: the frames */
	int err;		/* pipe: the start line, then errors */
};

/* Starts ipcctl monitor and waits until it stands in front of @name. */
static void monitor_start(struct monitor *m, const char *name)
{
	g_autofree char *expected = g_strdup_printf("ipcctl: monitoring %s ",
						    name);
	GString *line = g_string_new(NULL);
	int pipefd[2];
	char c;

	g_assert_no_errno(pipe(pipefd));
	g_assert_no_errno(fcntl(pipefd[0], F_SETFD, FD_CLOEXEC));
	g_assert_no_errno(fcntl(pipefd[1], F_SETFD, FD_CLOEXEC));
	m->out = output_file();
	m->pid = spawn_ipcctl((const char *const[]){ "monitor", name,
						     NULL },
			      -1, m->out, pipefd[1]);
	close(pipefd[1]);
	m->err = pipefd[0];
	/* The first line that is not valgrind's (see valgrind_lines_drop). */
	do {
		g_string_truncate(line, 0);
		while (read(m->err, &c, 1) == 1 && c != '\n')
			g_string_append_c(line, c);
		g_test_message("monitor: %s", line->str);
	} while (g_str_has_prefix(line->str, "=="));
	g_assert_true(g_str_has_prefix(line->str, expected));
	g_string_free(line, TRUE);
}

/* Interrupts the monitor; returns what it printed on stdout. */
static char *monitor_stop(struct monitor *m, int status)
{
	char buf[512];
	ssize_t n;

	g_assert_no_errno(kill(m->pid, SIGINT));
	g_assert_cmpint(reap(m->pid), ==, status);
	n = read(m->err, buf, sizeof(buf) - 1);
	g_assert_cmpint(n, >=, 0);
	buf[n] = '\0';
	g_test_message("monitor, at the end: %s", buf);
	close(m->err);
	return output_read(m->out, NULL);
}

static gboolean exists(Fixture *f, const char *name)
{
	g_autofree char *path = ipc_test_path(f, name);

	return g_file_test(path, G_FILE_TEST_EXISTS);
}

/*
 * Waits until the monitor has printed @text.  pread(2): the monitor
 * writes through the same open file, so its offset must not move.
 */
static void monitor_wait_for(struct monitor *m, const char *text)
{
	g_autoptr(GString) out = g_string_new(NULL);
	char buf[4096];
	ssize_t n;

	while (!strstr(out->str, text)) {
		n = pread(m->out, buf, sizeof(buf), (off_t)out->len);
		g_assert_cmpint(n, >=, 0);
		if (n == 0)
			g_usleep(10 * 1000);
		g_string_append_len(out, buf, n);
	}
}

/* Inode of a socket file of the run directory. */
static ino_t inode_of(Fixture *f, const char *name)
{
	g_autofree char *path = ipc_test_path(f, name);
	struct stat st;

	g_assert_no_errno(lstat(path, &st));
	return st.st_ino;
}

/*
 * A client talks to pongd through the monitor: every frame is printed,
 * in order, and delivered unchanged; interrupted, the monitor puts
 * pongd's socket back.
 */
static void test_monitor(Fixture *f, gconstpointer data)
{
	static const char *const messages[] = { "one", "", "three" };
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GString) expected = g_string_new(NULL);
	GPid pongd = pongd_start("pong");
	ino_t pong_inode = inode_of(f, "pong");
	struct monitor m;
	char *text;
	size_t i;
	int fd;

	(void)data;
	monitor_start(&m, "pong");
	g_assert_cmpuint(inode_of(f, ".pong.monitor"), ==, pong_inode);
	g_assert_cmpuint(inode_of(f, "pong"), !=, pong_inode);

	fd = ipc_test_connect(f->ctx, "pong");
	g_string_append_printf(expected, "#1 connected (client pid %ld,"
			       " uid %lu)\n", (long)getpid(),
			       (unsigned long)geteuid());
	for (i = 0; i < G_N_ELEMENTS(messages); i++) {
		const char *msg = messages[i];

		g_assert_cmpint(ipc_write(f->ctx, fd, msg, strlen(msg)), ==,
				0);
		ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
		g_assert_cmpmem(ev.data, ev.len, msg, strlen(msg));
		g_string_append_printf(expected,
				       "#1 client > service %zu bytes \"%s\"\n"
				       "#1 service > client %zu bytes \"%s\"\n",
				       strlen(msg), msg, strlen(msg), msg);
	}
	/* Binary, and longer than the preview. */
	{
		char big[100];

		memset(big, 'x', sizeof(big));
		big[0] = '\0';
		big[1] = '"';
		g_assert_cmpint(ipc_write(f->ctx, fd, big, sizeof(big)), ==, 0);
		ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
		g_assert_cmpmem(ev.data, ev.len, big, sizeof(big));
		for (i = 0; i < 2; i++)
			g_string_append_printf(expected,
				"#1 %s 100 bytes \"\\x00\\\"%s\"...\n",
				i ? "service > client" : "client > service",
				"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				"xxxxxxxxxxxxxxxxxx");
	}
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	g_string_append(expected, "#1 closed by the client\n");
	monitor_wait_for(&m, "#1 closed");
	{
		struct run r = { 0 };

		RUN(&r, "send", "pong", "last");
		assert_status(&r, 0);
		g_assert_cmpstr(r.out, ==, "last\n");
		run_clear(&r);
		g_string_append_printf(expected, "#2 connected (client pid ");
	}
	text = monitor_stop(&m, 0);
	/* #2's pid is ipcctl's: compare up to it, then its frames. */
	g_assert_true(g_str_has_prefix(text, expected->str));
	g_assert_nonnull(strstr(text, "#2 client > service 4 bytes \"last\"\n"
				      "#2 service > client 4 bytes \"last\"\n"
				      "#2 closed by the client\n"));
	g_free(text);
	/* pongd's own socket is back, and still serves. */
	g_assert_cmpuint(inode_of(f, "pong"), ==, pong_inode);
	g_assert_false(exists(f, ".pong.monitor"));
	fd = ipc_test_connect(f->ctx, "pong");
	g_assert_cmpint(ipc_write(f->ctx, fd, "back", 4), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpmem(ev.data, ev.len, "back", 4);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	pongd_stop(pongd);
}

/* No service, a stale one, one monitored already. */
static void test_monitor_errors(Fixture *f, gconstpointer data)
{
	struct run r = { 0 };
	struct monitor m;
	GPid pongd;
	char *text;

	(void)data;
	RUN(&r, "monitor", "pong");
	assert_status(&r, EXIT_NO_SERVICE);
	run_clear(&r);
	stale_make("old");
	ipc_test_expect_leftover(f, "old");
	RUN(&r, "monitor", "old");
	assert_status(&r, EXIT_REFUSED);
	run_clear(&r);
	g_assert_false(exists(f, ".old.monitor"));

	pongd = pongd_start("pong");
	monitor_start(&m, "pong");
	RUN(&r, "monitor", "pong");
	assert_status(&r, 1);
	g_assert_nonnull(strstr(r.err, "already monitored"));
	run_clear(&r);
	text = monitor_stop(&m, 0);
	g_assert_cmpstr(text, ==, "");
	g_free(text);
	pongd_stop(pongd);
}

/* ------------------------------------------------------------------ */
/* usage                                                                */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* bridge                                                               */
/* ------------------------------------------------------------------ */

/*
 * ipcctl bridge pong on pipes (@one_socket FALSE, as sshd runs it) or on
 * one socket: the status frame, frames both ways, then end of input
 * ends it.
 */
static void bridge_relay(gboolean one_socket)
{
	g_autoptr(GByteArray) got = g_byte_array_new();
	g_autofree char *big = g_malloc(1024 * 1024);
	int in[2], out[2], err = output_file(), status;
	GPid pongd = pongd_start("pong"), pid;
	gsize len;

	if (one_socket) {
		g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM |
					     SOCK_CLOEXEC, 0, in));
		/* The bridge's end as stdin and stdout, ours to both. */
		out[0] = fcntl(in[1], F_DUPFD_CLOEXEC, 0);
		out[1] = fcntl(in[0], F_DUPFD_CLOEXEC, 0);
	} else {
		/* GLib's spawn closes every other fd in the child. */
		g_assert_no_errno(pipe(in));
		g_assert_no_errno(pipe(out));
	}
	pid = spawn_ipcctl((const char *const[]){ "bridge", "pong", NULL },
			   in[0], out[1], err);
	close(in[0]);
	close(out[1]);
	len = ipc_test_read_frame(out[0], got);
	g_assert_cmpmem(got->data, len, "ok", 2);
	ipc_test_write_frame(in[1], "hello", 5);
	len = ipc_test_read_frame(out[0], got);
	g_assert_cmpmem(got->data, len, "hello", 5);
	ipc_test_fill(big, 1024 * 1024, 7);
	ipc_test_write_frame(in[1], big, 1024 * 1024);
	len = ipc_test_read_frame(out[0], got);
	g_assert_cmpmem(got->data, len, big, 1024 * 1024);
	ipc_test_write_frame(in[1], NULL, 0);
	len = ipc_test_read_frame(out[0], got);
	g_assert_cmpuint(len, ==, 0);
	/* The end of the input is the end of the connection. */
	if (one_socket)
		g_assert_no_errno(shutdown(in[1], SHUT_WR));
	close(in[1]);
	status = reap(pid);
	g_assert_cmpint(status, ==, 0);
	ipc_test_assert_eof(out[0]);
	close(out[0]);
	close(err);
	pongd_stop(pongd);
}

static void test_bridge(Fixture *f, gconstpointer data)
{
	(void)f;
	(void)data;
	bridge_relay(FALSE);
	bridge_relay(TRUE);
}

/* No such service: the error status frame, exit 3, one line on stderr. */
static void test_bridge_errors(Fixture *f, gconstpointer data)
{
	g_autoptr(GByteArray) got = g_byte_array_new();
	const char *expected = "error ENOENT no such service";
	int out[2], err = output_file();
	g_autofree char *text = NULL;
	GPid pid;
	gsize len;

	(void)f;
	(void)data;
	g_assert_no_errno(pipe(out));
	pid = spawn_ipcctl((const char *const[]){ "bridge", "nosuch", NULL },
			   -1, out[1], err);
	close(out[1]);
	len = ipc_test_read_frame(out[0], got);
	g_assert_cmpmem(got->data, len, expected, strlen(expected));
	ipc_test_assert_eof(out[0]);
	close(out[0]);
	g_assert_cmpint(reap(pid), ==, 3);
	text = valgrind_lines_drop(output_read(err, NULL));
	g_assert_cmpstr(text, ==, "ipcctl: nosuch: no such service\n");
}

static void test_usage(Fixture *f, gconstpointer data)
{
	static const char *const bad[][6] = {
		{ "frobnicate" },
		{ "list", "extra" },
		{ "list", "--nope" },
		{ "send" },
		{ "send", "pong", "a", "b" },
		{ "send", "-n", "x", "pong" },
		{ "send", "-t", "-1", "pong" },
		{ "send", "-f", "file", "pong", "message" },
		{ "wait" },
		{ "wait", "-t", "soon", "pong" },
		{ "monitor", "a", "b" },
		{ "monitor", "-p", "70000", "pong" },
		{ "monitor", ".." },
	};
	struct run r = { 0 };
	size_t i;

	(void)f;
	(void)data;
	RUN(&r, "--help");
	assert_status(&r, 0);
	g_assert_true(g_str_has_prefix(r.out, "Usage: ipcctl"));
	run_clear(&r);
	RUN(&r, "send", "--help");
	assert_status(&r, 0);
	g_assert_true(g_str_has_prefix(r.out, "Usage: ipcctl"));
	run_clear(&r);
	RUN(&r, "--version");
	assert_status(&r, 0);
	g_assert_true(g_str_has_prefix(r.out, "ipcctl (libipc) "));
	run_clear(&r);
	run_in(&r, NULL, (const char *const[]){ NULL });
	assert_status(&r, EXIT_USAGE);
	run_clear(&r);
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		run_in(&r, NULL, bad[i]);
		assert_status(&r, EXIT_USAGE);
		g_assert_cmpstr(r.out, ==, "");
		run_clear(&r);
	}
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	if (!g_getenv("IPCCTL") || !g_getenv("PONGD")) {
		g_printerr("IPCCTL and PONGD must name the programs\n");
		return 99;
	}
	IPC_TEST_ADD("/ipcctl/list/services", test_list, NULL);
	IPC_TEST_ADD("/ipcctl/list/no-rundir", test_list_empty, NULL);
	IPC_TEST_ADD("/ipcctl/send/text", test_send_text, NULL);
	IPC_TEST_ADD("/ipcctl/send/binary", test_send_binary, NULL);
	IPC_TEST_ADD("/ipcctl/send/count", test_send_count, NULL);
	IPC_TEST_ADD("/ipcctl/send/timeout", test_send_timeout, NULL);
	IPC_TEST_ADD("/ipcctl/send/errors", test_send_errors, NULL);
	IPC_TEST_ADD("/ipcctl/wait", test_wait, NULL);
	IPC_TEST_ADD("/ipcctl/monitor/relay", test_monitor, NULL);
	IPC_TEST_ADD("/ipcctl/monitor/errors", test_monitor_errors, NULL);
	IPC_TEST_ADD("/ipcctl/bridge/relay", test_bridge, NULL);
	IPC_TEST_ADD("/ipcctl/bridge/errors", test_bridge_errors, NULL);
	IPC_TEST_ADD("/ipcctl/usage", test_usage, NULL);
	return g_test_run();
}
