/*
 * libipc tests: contexts, argument checks and connection indexes.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define N_CLIENTS 5
#define THREAD_ROUNDS 300

/* An fd number no test opens: far above what these programs use. */
#define UNUSED_FD 4000

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* One accepted client: its raw (test-side) socket, the library's fd and
 * index for it. */
struct client {
	int raw;
	int fd;
	size_t index;
};

static void client_open(void *ctx, int servicefd, const char *name,
			struct client *c)
{
	c->raw = ipc_test_raw_connect(name);
	c->fd = ipc_test_accept(ctx, servicefd, &c->index);
}

/* The raw client sends @text; the service must report it as a MESSAGE_RX of
 * this very connection, answer it with ipc_schedule(), see its MESSAGE_TX,
 * and the raw client must read the answer back unchanged. */
static void client_round_trip(void *ctx, const struct client *c,
			      const char *text)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) reply = g_byte_array_new();
	size_t len = strlen(text);

	ipc_test_write_frame(c->raw, text, len);
	ipc_test_wait_for(ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, c->index, c->fd, text, len);

	g_assert_cmpint(ipc_schedule(ctx, c->fd, text, len), ==, 0);
	ipc_test_wait_for(ctx, MESSAGE_TX, &ev);
	g_assert_cmpint(ev.fd, ==, c->fd);
	g_assert_cmpuint(ev.index, ==, c->index);
	g_assert_cmpuint(ev.len, ==, 0);

	g_assert_cmpuint(ipc_test_read_frame(c->raw, reply), ==, len);
	g_assert_cmpmem(reply->data, reply->len, text, len);
}

/* The library gave up @fd: every call naming it answers -EBADF. */
static void assert_fd_unknown(void *ctx, int fd)
{
	char buf[8];
	size_t len = sizeof(buf);

	g_assert_cmpint(ipc_schedule(ctx, fd, "x", 1), ==, -EBADF);
	g_assert_cmpint(ipc_write(ctx, fd, "x", 1), ==, -EBADF);
	g_assert_cmpint(ipc_read_fd(ctx, fd, buf, &len), ==, -EBADF);
	g_assert_cmpint(ipc_close_fd(ctx, fd), ==, -EBADF);
}

static void assert_index_unknown(void *ctx, size_t index)
{
	char buf[8];
	size_t len = sizeof(buf);

	g_assert_cmpint(ipc_read(ctx, index, buf, &len), ==, -EBADF);
	g_assert_cmpint(ipc_close(ctx, index), ==, -EBADF);
}

static void assert_no_file(const Fixture *f, const char *name)
{
	g_autofree char *path = ipc_test_path(f, name);

	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

/* ------------------------------------------------------------------ */
/* Init and deinit                                                      */
/* ------------------------------------------------------------------ */

static void test_init_null(Fixture *f, gconstpointer data)
{
	(void)f;
	(void)data;
	g_assert_cmpint(ipc_context_init(NULL), ==, -EINVAL);
}

static void test_deinit_null(Fixture *f, gconstpointer data)
{
	void *none = NULL;
	void *ctx = NULL;

	(void)f;
	(void)data;
	ipc_context_deinit(NULL);
	ipc_context_deinit(&none);
	g_assert_null(none);

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	g_assert_nonnull(ctx);
	ipc_context_deinit(&ctx);
	g_assert_null(ctx);
	/* Twice is harmless too: the pointer is NULL now. */
	ipc_context_deinit(&ctx);
	g_assert_null(ctx);
}

/* Deinit of a busy context: the pointer is cleared, the service's files go
 * away, and the client gets the message queued for it (one write attempt on
 * an empty socket succeeds) and then sees the connection close. */
static void test_deinit_busy(Fixture *f, gconstpointer data)
{
	g_autoptr(GByteArray) last = g_byte_array_new();
	struct client c;
	int svc = ipc_test_service_init(f->ctx, "busy");

	(void)data;
	client_open(f->ctx, svc, "busy", &c);
	g_assert_cmpint(ipc_schedule(f->ctx, c.fd, "pending", 7), ==, 0);
	ipc_context_deinit(&f->ctx);
	g_assert_null(f->ctx);
	assert_no_file(f, "busy");
	assert_no_file(f, "busy.lock");
	ipc_test_assert_fd_closed(c.fd);
	ipc_test_assert_fd_closed(svc);
	g_assert_cmpuint(ipc_test_read_frame(c.raw, last), ==, 7);
	g_assert_cmpmem(last->data, last->len, "pending", 7);
	ipc_test_assert_eof(c.raw);
	close(c.raw);
}

/* ------------------------------------------------------------------ */
/* ipc_wait_event arguments                                             */
/* ------------------------------------------------------------------ */

enum wait_arg { ARG_CTX, ARG_T, ARG_INDEX, ARG_ORIGIN, ARG_NEWFD,
		ARG_BUFLEN, N_WAIT_ARGS };

/* ipc_wait_event() with argument @missing set to NULL. */
static int wait_without(void *ctx, enum wait_arg missing, char *t)
{
	size_t index = 0;
	int origin = 0;
	int newfd = 0;
	char buf[16];
	size_t buflen = sizeof(buf);

	*t = (char)0x55;
	return ipc_wait_event(missing == ARG_CTX ? NULL : ctx,
			      missing == ARG_T ? NULL : t,
			      missing == ARG_INDEX ? NULL : &index,
			      missing == ARG_ORIGIN ? NULL : &origin,
			      missing == ARG_NEWFD ? NULL : &newfd, buf,
			      missing == ARG_BUFLEN ? NULL : &buflen);
}

/* A pending connection waits in the backlog: a library that did not check
 * its arguments would return it through a NULL pointer (and crash) instead
 * of refusing the call. */
static void test_wait_null_args(Fixture *f, gconstpointer data)
{
	int svc = ipc_test_service_init(f->ctx, "args");
	int raw = ipc_test_raw_connect("args");
	int fd;

	(void)data;
	for (int arg = 0; arg < N_WAIT_ARGS; arg++) {
		char t;

		g_test_message("NULL argument #%d", arg);
		g_assert_cmpint(wait_without(f->ctx, arg, &t), ==, -EINVAL);
		if (arg != ARG_T)
			g_assert_cmpint(t, ==, ERROR);
	}
	/* Nothing was consumed: the connection is still the next event. */
	fd = ipc_test_accept(f->ctx, svc, NULL);
	g_assert_cmpint(fd, >=, 0);
	close(raw);
}

static void test_wait_empty(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	(void)data;
	g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev, 64), ==, -ENOENT);
	g_assert_cmpint(ev.type, ==, ERROR);
	/* And again: the error left the context as it was. */
	g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev, 0), ==, -ENOENT);
	g_assert_cmpint(ev.type, ==, ERROR);
}

/* ------------------------------------------------------------------ */
/* Indexes                                                              */
/* ------------------------------------------------------------------ */

static void assert_clients_distinct(const struct client *c, int n)
{
	for (int i = 0; i < n; i++) {
		for (int j = i + 1; j < n; j++) {
			g_assert_cmpuint(c[i].index, !=, c[j].index);
			g_assert_cmpint(c[i].fd, !=, c[j].fd);
		}
	}
}

/* Five clients; #2 closed by index, #4 by fd: #1, #3 and #5 keep their
 * index and fd, and the closed ones are unknown to every call. */
static void test_index_stability(Fixture *f, gconstpointer data)
{
	static const int survivors[] = { 4, 2, 0 };
	struct client c[N_CLIENTS];
	struct client late;
	int svc = ipc_test_service_init(f->ctx, "stable");

	(void)data;
	for (int i = 0; i < N_CLIENTS; i++)
		client_open(f->ctx, svc, "stable", &c[i]);
	assert_clients_distinct(c, N_CLIENTS);

	g_assert_cmpint(ipc_close(f->ctx, c[1].index), ==, 0);
	g_assert_cmpint(ipc_close_fd(f->ctx, c[3].fd), ==, 0);
	ipc_test_assert_fd_closed(c[1].fd);
	ipc_test_assert_fd_closed(c[3].fd);
	ipc_test_assert_eof(c[1].raw);
	ipc_test_assert_eof(c[3].raw);
	for (int i = 1; i < N_CLIENTS; i += 2) {
		assert_fd_unknown(f->ctx, c[i].fd);
		assert_index_unknown(f->ctx, c[i].index);
	}

	for (guint k = 0; k < G_N_ELEMENTS(survivors); k++) {
		const struct client *s = &c[survivors[k]];
		g_autofree char *text = g_strdup_printf("from client #%d",
							survivors[k] + 1);
		char buf[64];
		size_t len = sizeof(buf);

		client_round_trip(f->ctx, s, text);
		/* ipc_read by index reaches the same connection. */
		ipc_test_write_frame(s->raw, text, strlen(text));
		g_assert_cmpint(ipc_read(f->ctx, s->index, buf, &len), ==, 0);
		g_assert_cmpmem(buf, len, text, strlen(text));
	}

	/* A later client may reuse a closed index, never a live one. */
	client_open(f->ctx, svc, "stable", &late);
	for (guint k = 0; k < G_N_ELEMENTS(survivors); k++) {
		g_assert_cmpuint(late.index, !=, c[survivors[k]].index);
		g_assert_cmpint(late.fd, !=, c[survivors[k]].fd);
	}
	client_round_trip(f->ctx, &late, "late");
	client_round_trip(f->ctx, &c[2], "still #3");

	for (int i = 0; i < N_CLIENTS; i++)
		close(c[i].raw);
	close(late.raw);
}

/* ------------------------------------------------------------------ */
/* Closing                                                              */
/* ------------------------------------------------------------------ */

static void test_close_all_reuse(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct client c;
	int svc = ipc_test_service_init(f->ctx, "reuse");
	int own;

	(void)data;
	client_open(f->ctx, svc, "reuse", &c);
	/* The context is also a client of its own service. */
	own = ipc_test_connect(f->ctx, "reuse");
	ipc_test_accept(f->ctx, svc, NULL);

	g_assert_cmpint(ipc_close_all(NULL), ==, -EINVAL);
	g_assert_cmpint(ipc_close_all(f->ctx), ==, 0);
	ipc_test_assert_eof(c.raw);
	close(c.raw);
	ipc_test_assert_fd_closed(svc);
	ipc_test_assert_fd_closed(c.fd);
	ipc_test_assert_fd_closed(own);
	assert_no_file(f, "reuse");
	assert_no_file(f, "reuse.lock");
	g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev, 0), ==, -ENOENT);
	g_assert_cmpint(ev.type, ==, ERROR);
	/* Closing an empty context is fine too. */
	g_assert_cmpint(ipc_close_all(f->ctx), ==, 0);

	svc = ipc_test_service_init(f->ctx, "reuse");
	client_open(f->ctx, svc, "reuse", &c);
	client_round_trip(f->ctx, &c, "after ipc_close_all");
	close(c.raw);
}

/* ------------------------------------------------------------------ */
/* Unknown fds and indexes, the listening fd                            */
/* ------------------------------------------------------------------ */

static void test_unknown_fd(Fixture *f, gconstpointer data)
{
	int p[2];

	(void)data;
	ipc_test_service_init(f->ctx, "known");
	g_assert_no_errno(pipe(p));
	/* Open fds of the process that the context does not hold. */
	assert_fd_unknown(f->ctx, p[0]);
	assert_fd_unknown(f->ctx, STDIN_FILENO);
	assert_fd_unknown(f->ctx, UNUSED_FD);
	assert_fd_unknown(f->ctx, -1);
	assert_index_unknown(f->ctx, 12345);
	assert_index_unknown(f->ctx, (size_t)-1);
	/* -EBADF means hands off: the pipe is still open. */
	g_assert_cmpint(fcntl(p[0], F_GETFD), >=, 0);
	close(p[0]);
	close(p[1]);
}

static void test_schedule_listening(Fixture *f, gconstpointer data)
{
	int svc = ipc_test_service_init(f->ctx, "listening");
	char buf[8];
	size_t len = sizeof(buf);
	int raw;

	(void)data;
	g_assert_cmpint(ipc_schedule(f->ctx, svc, "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_write(f->ctx, svc, "x", 1), ==, -EINVAL);
	g_assert_cmpint(ipc_read_fd(f->ctx, svc, buf, &len), ==, -EINVAL);
	/* Nothing was queued: the next event is the next client. */
	raw = ipc_test_raw_connect("listening");
	g_assert_cmpint(ipc_test_accept(f->ctx, svc, NULL), >=, 0);
	close(raw);
}

/* ------------------------------------------------------------------ */
/* Two contexts in two threads                                          */
/* ------------------------------------------------------------------ */

struct echo_job {
	const char *name;
	pthread_barrier_t *start;
	int rounds;
};

/* Waits for one MESSAGE_RX on @fd carrying @text; the MESSAGE_TX of the
 * messages scheduled meanwhile are let through. */
static void expect_text(void *ctx, struct ipc_test_event *ev, int fd,
			const char *text)
{
	ipc_test_wait_for_ignoring(ctx, MESSAGE_RX, IPC_TEST_BIT(MESSAGE_TX),
				   ev);
	g_assert_cmpint(ev->fd, ==, fd);
	g_assert_cmpmem(ev->data, ev->len, text, strlen(text));
}

/* One thread: its own context with a service and a client of it; the
 * client sends, the service echoes, for job->rounds messages. */
static void *echo_thread(void *data)
{
	struct echo_job *job = data;
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	void *ctx = NULL;
	int svc, cli, srv;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	svc = ipc_test_service_init(ctx, job->name);
	cli = ipc_test_connect(ctx, job->name);
	srv = ipc_test_accept(ctx, svc, NULL);
	pthread_barrier_wait(job->start);

	for (int i = 0; i < THREAD_ROUNDS; i++) {
		g_autofree char *text = g_strdup_printf("%s says %d",
							job->name, i);

		g_assert_cmpint(ipc_schedule(ctx, cli, text, strlen(text)),
				==, 0);
		expect_text(ctx, &ev, srv, text);
		g_assert_cmpint(ipc_schedule(ctx, srv, ev.data, ev.len), ==,
				0);
		expect_text(ctx, &ev, cli, text);
		job->rounds++;
	}
	ipc_context_deinit(&ctx);
	g_assert_null(ctx);
	return NULL;
}

static void test_threads(Fixture *f, gconstpointer data)
{
	struct echo_job jobs[] = {
		{ .name = "thread-one" },
		{ .name = "thread-two" },
	};
	pthread_t threads[G_N_ELEMENTS(jobs)];
	pthread_barrier_t start;

	(void)f;
	(void)data;
	g_assert_cmpint(pthread_barrier_init(&start, NULL,
					     G_N_ELEMENTS(jobs)), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(jobs); i++) {
		jobs[i].start = &start;
		g_assert_cmpint(pthread_create(&threads[i], NULL, echo_thread,
					       &jobs[i]), ==, 0);
	}
	for (guint i = 0; i < G_N_ELEMENTS(jobs); i++) {
		g_assert_cmpint(pthread_join(threads[i], NULL), ==, 0);
		g_assert_cmpint(jobs[i].rounds, ==, THREAD_ROUNDS);
		assert_no_file(f, jobs[i].name);
	}
	pthread_barrier_destroy(&start);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, func) \
	g_test_add(path, Fixture, NULL, ipc_test_setup, func, ipc_test_teardown)
	ADD("/ipc/context/init-null", test_init_null);
	ADD("/ipc/context/deinit-null", test_deinit_null);
	ADD("/ipc/context/deinit-busy", test_deinit_busy);
	ADD("/ipc/context/wait-null-args", test_wait_null_args);
	ADD("/ipc/context/wait-empty", test_wait_empty);
	ADD("/ipc/context/index-stability", test_index_stability);
	ADD("/ipc/context/close-all-reuse", test_close_all_reuse);
	ADD("/ipc/context/unknown-fd", test_unknown_fd);
	ADD("/ipc/context/schedule-listening", test_schedule_listening);
	ADD("/ipc/context/threads", test_threads);
#undef ADD

	return g_test_run();
}
