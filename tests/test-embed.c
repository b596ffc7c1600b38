/*
 * libipc tests: a context inside another event loop (ipc_context_fd,
 * ipc_wait_event_timeout).
 *
 * SPDX-License-Identifier: ISC
 *
 * The host loops here call ipc_wait_event_timeout(..., 0) once per
 * wake-up of the context fd, as the documentation tells programs to.  A
 * context fd that is edge-triggered, or not readable while work is left,
 * makes these loops hang (the alarm then fails the program); one that
 * stays readable without work makes them spin, which the wake-up counts
 * catch.
 */

#include "ipc-test.h"

#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define SERVICE "embed"

/* One non-blocking call: fills ev like ipc_test_wait_raw(). */
static int call0(void *ctx, struct ipc_test_event *ev, size_t bufsize)
{
	if (ev->capacity < bufsize) {
		ev->data = g_realloc(ev->data, bufsize);
		ev->capacity = bufsize;
	}
	ev->len = bufsize;
	ev->ret = ipc_wait_event_timeout(ctx, &ev->type, &ev->index, &ev->fd,
					 &ev->newfd, bufsize ? ev->data : NULL,
					 &ev->len, 0);
	return ev->ret;
}

/* TRUE (and the test skipped) when the library has no context fd. */
static gboolean no_context_fd(void *ctx)
{
	int fd = ipc_context_fd(ctx);

	if (fd == -EOPNOTSUPP) {
		g_test_skip("built with the poll backend: no context fd");
		return TRUE;
	}
	g_assert_cmpint(fd, >=, 0);
	return FALSE;
}

static gboolean readable(int fd)
{
	return ipc_test_poll(fd, POLLIN, 0);
}

/* Calls until -EAGAIN; the events met on the way must be of @allowed. */
static void settle(void *ctx, unsigned int allowed)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	while (call0(ctx, &ev, 65536) != -EAGAIN) {
		g_assert_cmpint(ev.ret, ==, 0);
		g_assert_true(IPC_TEST_BIT(ev.type) & allowed);
	}
	g_assert_cmpint(ev.type, ==, ERROR);
}

/* Waits for the context fd, then one call must give @type. */
static void expect_wake(void *ctx, int cfd, char type,
			struct ipc_test_event *ev)
{
	g_assert_true(ipc_test_poll(cfd, POLLIN, -1));
	g_assert_cmpint(call0(ctx, ev, 65536), ==, 0);
	g_assert_cmpstr(ipc_test_event_name(ev->type), ==,
			ipc_test_event_name(type));
}

/* ------------------------------------------------------------------ */
/* A GLib main loop hosting the service                                 */
/* ------------------------------------------------------------------ */

struct host {
	void *ctx;
	GMainContext *main;	/* private: its wake-up fd goes with it */
	GMainLoop *loop;
	GSource *source;
	IpcTestEvent ev;
	guint wakeups;		/* calls made by the fd's source */
	guint empty;		/* of which returned -EAGAIN */
	guint events[SWITCH_TX + 1];
	guint echoed;
	gboolean echo;
	int eventfd;		/* the worker test's external fd, or -1 */
	gboolean (*on_event)(struct host *h);
};

static gboolean host_ready(gint fd, GIOCondition cond, gpointer data)
{
	struct host *h = data;
	struct ipc_test_event *ev = &h->ev;

	(void)fd;
	(void)cond;
	h->wakeups++;
	if (call0(h->ctx, ev, 65536) == -EAGAIN) {
		h->empty++;
		return G_SOURCE_CONTINUE;
	}
	g_assert_cmpint(ev->ret, ==, 0);
	h->events[(int)ev->type]++;
	if (h->echo && ev->type == MESSAGE_RX) {
		g_assert_cmpint(ipc_schedule(h->ctx, ev->fd, ev->data, ev->len),
				==, 0);
		h->echoed++;
	}
	if (h->on_event && !h->on_event(h))
		g_main_loop_quit(h->loop);
	else if (ev->type == DISCONNECTION && h->eventfd < 0)
		g_main_loop_quit(h->loop);
	return G_SOURCE_CONTINUE;
}

static void host_attach(struct host *h, void *ctx)
{
	int cfd = ipc_context_fd(ctx);

	g_assert_cmpint(cfd, >=, 0);
	h->ctx = ctx;
	h->main = g_main_context_new();
	h->loop = g_main_loop_new(h->main, FALSE);
	h->ev = (IpcTestEvent)IPC_TEST_EVENT_INIT;
	h->eventfd = -1;
	h->source = g_unix_fd_source_new(cfd, G_IO_IN);
	g_source_set_callback(h->source, G_SOURCE_FUNC(host_ready), h, NULL);
	g_source_attach(h->source, h->main);
}

static void host_detach(struct host *h)
{
	g_source_destroy(h->source);
	g_source_unref(h->source);
	g_main_loop_unref(h->loop);
	g_main_context_unref(h->main);
	ipc_test_event_clear(&h->ev);
}

static gboolean quit_loop(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

/* Runs the loop for @ms milliseconds. */
static void host_run_for(struct host *h, guint ms)
{
	GSource *t = g_timeout_source_new(ms);

	g_source_set_callback(t, quit_loop, h->loop, NULL);
	g_source_attach(t, h->main);
	g_main_loop_run(h->loop);
	g_source_destroy(t);
	g_source_unref(t);
}

/* ------------------------------------------------------------------ */
/* A burst of 1,000 messages in one write, echoed                       */
/* ------------------------------------------------------------------ */

#define BURST 1000
#define BURST_SIZE 1000

/* More than one read of the library's buffer, so an edge-triggered fd
 * would lose what the first read left in the socket. */
static void burst_client(void *arg)
{
	GByteArray *out = g_byte_array_new();
	char payload[BURST_SIZE];
	GByteArray *in = g_byte_array_new();
	int fd = ipc_test_raw_connect(SERVICE);
	guint32 i;

	(void)arg;
	for (i = 0; i < BURST; i++) {
		ipc_test_fill_numbered(payload, sizeof(payload), i);
		ipc_test_append_frame(out, payload, sizeof(payload));
	}
	ipc_test_write_all(fd, out->data, out->len);
	for (i = 0; i < BURST; i++) {
		gsize len = ipc_test_read_frame(fd, in);

		ipc_test_assert_numbered(in->data, len, BURST_SIZE, i);
	}
	close(fd);
	g_byte_array_unref(in);
	g_byte_array_unref(out);
}

static void test_glib_burst(Fixture *f, gconstpointer data)
{
	struct host h = { 0 };
	pid_t pid;

	(void)data;
	if (no_context_fd(f->ctx))
		return;
	ipc_test_service_init(f->ctx, SERVICE);
	host_attach(&h, f->ctx);
	h.echo = TRUE;
	pid = ipc_test_fork(burst_client, NULL);
	g_main_loop_run(h.loop);
	ipc_test_reap(pid);
	g_test_message("%u wake-ups, %u empty, %u echoed", h.wakeups, h.empty,
		       h.echoed);
	g_assert_cmpuint(h.events[CONNECTION], ==, 1);
	g_assert_cmpuint(h.events[MESSAGE_RX], ==, BURST);
	g_assert_cmpuint(h.events[MESSAGE_TX], ==, BURST);
	g_assert_cmpuint(h.events[DISCONNECTION], ==, 1);
	host_detach(&h);
}

/* ------------------------------------------------------------------ */
/* Idle: no wake-up; timer: one wake-up per tick                        */
/* ------------------------------------------------------------------ */

static void test_idle(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct host h = { 0 };
	int cfd, client;

	(void)data;
	if (no_context_fd(f->ctx))
		return;
	ipc_test_service_init(f->ctx, SERVICE);
	cfd = ipc_context_fd(f->ctx);
	/* Some traffic first, so the idle second follows real work. */
	client = ipc_test_raw_connect(SERVICE);
	ipc_test_write_frame(client, "ping", 4);
	expect_wake(f->ctx, cfd, CONNECTION, &ev);
	expect_wake(f->ctx, cfd, MESSAGE_RX, &ev);
	g_assert_cmpint(ipc_schedule(f->ctx, ev.fd, "pong", 4), ==, 0);
	settle(f->ctx, IPC_TEST_BIT(MESSAGE_TX));
	g_assert_false(readable(cfd));

	host_attach(&h, f->ctx);
	host_run_for(&h, 1000);
	g_test_message("idle second: %u wake-ups", h.wakeups);
	g_assert_cmpuint(h.wakeups, ==, 0);

	/* The timer, through the fd alone: each wake-up is one tick. */
	ipc_context_timer(f->ctx, 100);
	host_run_for(&h, 1000);
	g_test_message("timer second: %u wake-ups, %u TIMER, %u empty",
		       h.wakeups, h.events[TIMER], h.empty);
	g_assert_cmpuint(h.events[TIMER], >=, 1);
	g_assert_cmpuint(h.events[TIMER], <=, 10);
	g_assert_cmpuint(h.wakeups, ==, h.events[TIMER]);
	ipc_context_timer(f->ctx, 0);
	host_detach(&h);
	close(client);
}

/* ------------------------------------------------------------------ */
/* -EAGAIN between events loses nothing                                 */
/* ------------------------------------------------------------------ */

#define STREAM 100000
#define STREAM_SEED 17

static size_t stream_size(GRand *r)
{
	/* Mostly small, sometimes above the first buffer of the reader. */
	if (g_rand_int_range(r, 0, 100) == 0)
		return (size_t)g_rand_int_range(r, 4096, 16384);
	return (size_t)g_rand_int_range(r, 0, 512);
}

/* Writes the frames in pieces of random sizes: frames are cut anywhere. */
static void stream_client(void *arg)
{
	GRand *sizes = g_rand_new_with_seed(STREAM_SEED);
	GRand *cuts = g_rand_new_with_seed(STREAM_SEED + 1);
	GByteArray *out = g_byte_array_new();
	char *payload = g_malloc(16384);
	int fd = ipc_test_raw_connect(SERVICE);
	guint32 i;

	(void)arg;
	for (i = 0; i < STREAM; i++) {
		size_t len = stream_size(sizes);
		gsize at = 0;

		ipc_test_fill_numbered(payload, len, i);
		ipc_test_append_frame(out, payload, (uint32_t)len);
		if (out->len < 65536 && i + 1 < STREAM)
			continue;
		while (at < out->len) {
			/* Not inside MIN(), which would draw twice. */
			gsize n = (gsize)g_rand_int_range(cuts, 1, 9000);

			n = MIN(out->len - at, n);
			ipc_test_write_all(fd, out->data + at, n);
			at += n;
		}
		g_byte_array_set_size(out, 0);
	}
	/* Wait for the service to close: all was read. */
	ipc_test_assert_eof(fd);
	close(fd);
	g_free(payload);
	g_byte_array_unref(out);
	g_rand_free(cuts);
	g_rand_free(sizes);
}

static void test_eagain_stream(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	GRand *sizes = g_rand_new_with_seed(STREAM_SEED);
	guint eagain = 0, msgsize = 0, timers = 0;
	size_t bufsize = 4096;
	guint32 seq = 0;
	pid_t pid;

	(void)data;
	ipc_test_service_init(f->ctx, SERVICE);
	ipc_context_timer(f->ctx, 5);
	pid = ipc_test_fork(stream_client, NULL);
	while (seq < STREAM) {
		int ret = call0(f->ctx, &ev, bufsize);

		bufsize = 4096;
		if (ret == -EAGAIN) {
			eagain++;
			continue;
		}
		if (ret == -EMSGSIZE) {
			/* Kept: the next call returns it first. */
			g_assert_cmpuint(ev.len, >, 4096);
			msgsize++;
			bufsize = 16384;
			continue;
		}
		g_assert_cmpint(ret, ==, 0);
		if (ev.type == TIMER) {
			timers++;
			continue;
		}
		if (ev.type == CONNECTION)
			continue;
		g_assert_cmpint(ev.type, ==, MESSAGE_RX);
		ipc_test_assert_numbered(ev.data, ev.len, stream_size(sizes),
					 seq);
		seq++;
	}
	g_test_message("%u messages, %u -EAGAIN, %u -EMSGSIZE, %u TIMER",
		       seq, eagain, msgsize, timers);
	g_assert_cmpuint(eagain, >, 0);
	g_assert_cmpuint(msgsize, >, 0);
	ipc_context_timer(f->ctx, 0);
	g_assert_cmpint(ipc_close_all(f->ctx), ==, 0);
	ipc_test_reap(pid);
	g_rand_free(sizes);
}

/* ------------------------------------------------------------------ */
/* What wakes the fd                                                    */
/* ------------------------------------------------------------------ */

static void test_wakes(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int svc, cfd, a, b, sa, sb, pipefd[2];
	GByteArray *three = g_byte_array_new();
	GByteArray *in = g_byte_array_new();
	char big[8192];

	(void)data;
	if (no_context_fd(f->ctx))
		return;
	svc = ipc_test_service_init(f->ctx, SERVICE);
	cfd = ipc_context_fd(f->ctx);
	g_assert_cmpint(ipc_context_fd(f->ctx), ==, cfd);
	g_assert_false(readable(cfd));

	/* A new connection. */
	a = ipc_test_raw_connect(SERVICE);
	expect_wake(f->ctx, cfd, CONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, svc);
	sa = ev.newfd;
	settle(f->ctx, 0);
	g_assert_false(readable(cfd));

	/* Frames already buffered keep it readable, one event per call. */
	ipc_test_append_frame(three, "one", 3);
	ipc_test_append_frame(three, "two", 3);
	ipc_test_fill(big, sizeof(big), 3);
	ipc_test_append_frame(three, big, sizeof(big));
	ipc_test_write_all(a, three->data, three->len);
	expect_wake(f->ctx, cfd, MESSAGE_RX, &ev);
	g_assert_cmpmem(ev.data, ev.len, "one", 3);
	g_assert_true(readable(cfd));
	g_assert_cmpint(call0(f->ctx, &ev, 65536), ==, 0);
	g_assert_cmpmem(ev.data, ev.len, "two", 3);
	/* A message kept after -EMSGSIZE keeps it readable too. */
	g_assert_true(readable(cfd));
	g_assert_cmpint(call0(f->ctx, &ev, 16), ==, -EMSGSIZE);
	g_assert_true(readable(cfd));
	g_assert_cmpint(call0(f->ctx, &ev, 65536), ==, 0);
	g_assert_cmpmem(ev.data, ev.len, big, sizeof(big));
	settle(f->ctx, 0);
	g_assert_false(readable(cfd));

	/* Output queued between two calls. */
	g_assert_cmpint(ipc_schedule(f->ctx, sa, "out", 3), ==, 0);
	expect_wake(f->ctx, cfd, MESSAGE_TX, &ev);
	settle(f->ctx, 0);
	g_assert_false(readable(cfd));
	g_assert_cmpuint(ipc_test_read_frame(a, in), ==, 3);

	/* An external fd, as long as it holds bytes. */
	ipc_test_pipe(pipefd);
	g_assert_cmpint(ipc_add_external(f->ctx, pipefd[0]), ==, 0);
	g_assert_false(readable(cfd));
	ipc_test_notify(pipefd[1]);
	expect_wake(f->ctx, cfd, EXTERNAL, &ev);
	g_assert_true(readable(cfd));
	ipc_test_wait_notify(pipefd[0]);
	settle(f->ctx, IPC_TEST_BIT(EXTERNAL));
	g_assert_false(readable(cfd));
	/* Its hang-up. */
	close(pipefd[1]);
	expect_wake(f->ctx, cfd, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, pipefd[0]);

	/* A switch: a message forwarded, then written. */
	b = ipc_test_raw_connect(SERVICE);
	expect_wake(f->ctx, cfd, CONNECTION, &ev);
	sb = ev.newfd;
	settle(f->ctx, 0);
	g_assert_cmpint(ipc_add_switch(f->ctx, sa, sb), ==, 0);
	settle(f->ctx, 0);
	g_assert_false(readable(cfd));
	ipc_test_write_frame(a, "across", 6);
	expect_wake(f->ctx, cfd, SWITCH_RX, &ev);
	g_assert_cmpint(ev.fd, ==, sa);
	expect_wake(f->ctx, cfd, SWITCH_TX, &ev);
	g_assert_cmpint(ev.fd, ==, sb);
	g_assert_cmpuint(ipc_test_read_frame(b, in), ==, 6);
	g_assert_cmpmem(in->data, in->len, "across", 6);
	settle(f->ctx, 0);
	g_assert_false(readable(cfd));

	/* A peer's hang-up (the switch's other side follows it). */
	close(a);
	expect_wake(f->ctx, cfd, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, sa);
	expect_wake(f->ctx, cfd, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, sb);
	settle(f->ctx, 0);
	g_assert_false(readable(cfd));
	ipc_test_assert_eof(b);
	close(b);
	g_byte_array_unref(in);
	g_byte_array_unref(three);
}

/* ------------------------------------------------------------------ */
/* Output backpressure through the fd: 64 MiB to a slow reader          */
/* ------------------------------------------------------------------ */

#define SLOW_TOTAL (64u << 20)
#define SLOW_MESSAGE (64u << 10)
#define SLOW_COUNT (SLOW_TOTAL / SLOW_MESSAGE)
#define SLOW_NAPS 20

/* Reads everything, napping now and then with the socket full. */
static void slow_reader(void *arg)
{
	GByteArray *in = g_byte_array_new();
	int fd = ipc_test_raw_connect(SERVICE);
	guint32 i;

	(void)arg;
	if (ipc_test_under_valgrind())
		alarm(4 * IPC_TEST_TIMEOUT);
	for (i = 0; i < SLOW_COUNT; i++) {
		gsize len;

		if (i % (SLOW_COUNT / SLOW_NAPS) == 0)
			g_usleep(50000);
		len = ipc_test_read_frame(fd, in);
		ipc_test_assert_numbered(in->data, len, SLOW_MESSAGE, i);
	}
	close(fd);
	g_byte_array_unref(in);
}

struct slow {
	void *ctx;
	int fd;
	guint32 next;		/* next message to schedule */
	guint32 sent;		/* MESSAGE_TX seen */
	char *payload;
};

/* Schedules until the queue refuses: the rest follows MESSAGE_TX. */
static void slow_fill(struct slow *s)
{
	while (s->next < SLOW_COUNT) {
		int ret;

		ipc_test_fill_numbered(s->payload, SLOW_MESSAGE, s->next);
		ret = ipc_schedule(s->ctx, s->fd, s->payload, SLOW_MESSAGE);
		if (ret == -ENOBUFS)
			return;
		g_assert_cmpint(ret, ==, 0);
		s->next++;
	}
}

static void test_slow_reader(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct slow s = { .ctx = f->ctx, .payload = g_malloc(SLOW_MESSAGE) };
	guint wakeups = 0, empty = 0;
	struct rusage r0, r1;
	gint64 t0, t1;
	pid_t pid;
	int cfd;

	(void)data;
	if (no_context_fd(f->ctx))
		return;
	/* 64 MiB through memcheck takes half a minute on a quiet machine. */
	if (ipc_test_under_valgrind())
		alarm(4 * IPC_TEST_TIMEOUT);
	ipc_test_service_init(f->ctx, SERVICE);
	cfd = ipc_context_fd(f->ctx);
	pid = ipc_test_fork(slow_reader, NULL);
	expect_wake(f->ctx, cfd, CONNECTION, &ev);
	s.fd = ev.newfd;
	getrusage(RUSAGE_SELF, &r0);
	t0 = g_get_monotonic_time();
	slow_fill(&s);
	while (s.sent < SLOW_COUNT) {
		g_assert_true(ipc_test_poll(cfd, POLLIN, -1));
		wakeups++;
		if (call0(f->ctx, &ev, 65536) == -EAGAIN) {
			empty++;
			continue;
		}
		g_assert_cmpint(ev.ret, ==, 0);
		g_assert_cmpint(ev.type, ==, MESSAGE_TX);
		s.sent++;
		slow_fill(&s);
	}
	t1 = g_get_monotonic_time();
	getrusage(RUSAGE_SELF, &r1);
	g_test_message("64 MiB: %u wake-ups, %u empty, %.3f s wall, "
		       "%.3f s CPU (the reader napped %d x 50 ms)",
		       wakeups, empty, (double)(t1 - t0) / 1e6,
		       (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec +
				r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
		       (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
				r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) /
		       1e6, SLOW_NAPS);
	/* Every wake-up but a few brought work: the loop never spun while
	 * the reader slept (a spinning fd gives thousands per nap). */
	g_assert_cmpuint(empty, <=, SLOW_COUNT);
	ipc_test_reap(pid);
	expect_wake(f->ctx, cfd, DISCONNECTION, &ev);
	g_free(s.payload);
}

/* ------------------------------------------------------------------ */
/* A worker thread hands results to the loop through an eventfd         */
/* ------------------------------------------------------------------ */

#define WORK 10000

struct job {
	guint32 seq;
	int fd;			/* the connection to reply to */
};

/*
 * A queue between two threads on pthread primitives, which ThreadSanitizer
 * sees (GLib's own GMutex is a bare futex it cannot follow).
 */
struct queue {
	pthread_mutex_t lock;
	pthread_cond_t more;
	GQueue items;
};

static void queue_init(struct queue *q)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	g_queue_init(&q->items);
}

static void queue_fini(struct queue *q)
{
	g_assert_true(g_queue_is_empty(&q->items));
	pthread_cond_destroy(&q->more);
	pthread_mutex_destroy(&q->lock);
}

static void queue_push(struct queue *q, gpointer item)
{
	pthread_mutex_lock(&q->lock);
	g_queue_push_tail(&q->items, item);
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
}

/* The next item; with @wait, blocks for one, else NULL when empty. */
static gpointer queue_pop(struct queue *q, gboolean wait)
{
	gpointer item;

	pthread_mutex_lock(&q->lock);
	while (wait && g_queue_is_empty(&q->items))
		pthread_cond_wait(&q->more, &q->lock);
	item = g_queue_pop_head(&q->items);
	pthread_mutex_unlock(&q->lock);
	return item;
}

struct worker {
	struct queue jobs;
	struct queue results;
	int eventfd;
};

/* Doubles each request's number; NULL ends the thread. */
static gpointer worker_main(gpointer data)
{
	struct worker *w = data;
	struct job *j;

	while ((j = queue_pop(&w->jobs, TRUE)) != GINT_TO_POINTER(-1)) {
		uint64_t one = 1;

		j->seq *= 2;
		queue_push(&w->results, j);
		g_assert_cmpint(write(w->eventfd, &one, sizeof(one)), ==,
				sizeof(one));
	}
	return NULL;
}

static void work_client(void *arg)
{
	GByteArray *in = g_byte_array_new();
	int fd = ipc_test_raw_connect(SERVICE);
	guint32 i, be, want = 0;

	(void)arg;
	/* Requests in batches, so several results share one wake-up. */
	for (i = 0; i < WORK; i++) {
		be = GUINT32_TO_BE(i);
		ipc_test_write_frame(fd, &be, sizeof(be));
		if (i % 100 != 99)
			continue;
		for (; want <= i; want++) {
			g_assert_cmpuint(ipc_test_read_frame(fd, in), ==, 4);
			memcpy(&be, in->data, 4);
			g_assert_cmpuint(GUINT32_FROM_BE(be), ==, want * 2);
		}
	}
	close(fd);
	g_byte_array_unref(in);
}

static struct worker *the_worker;

static gboolean worker_event(struct host *h)
{
	struct ipc_test_event *ev = &h->ev;
	struct job *j;
	uint64_t n;
	guint32 be;

	if (ev->type == MESSAGE_RX) {
		g_assert_cmpuint(ev->len, ==, 4);
		j = g_new(struct job, 1);
		memcpy(&be, ev->data, 4);
		j->seq = GUINT32_FROM_BE(be);
		j->fd = ev->fd;
		queue_push(&the_worker->jobs, j);
	} else if (ev->type == EXTERNAL) {
		g_assert_cmpint(ev->fd, ==, h->eventfd);
		g_assert_cmpint(read(h->eventfd, &n, sizeof(n)), ==, sizeof(n));
		while ((j = queue_pop(&the_worker->results, FALSE))) {
			be = GUINT32_TO_BE(j->seq);
			g_assert_cmpint(ipc_schedule(h->ctx, j->fd, (char *)&be,
						     4), ==, 0);
			h->echoed++;
			g_free(j);
		}
	}
	return ev->type != DISCONNECTION;
}

static void test_worker_thread(Fixture *f, gconstpointer data)
{
	struct worker w;
	struct host h = { 0 };
	GThread *thread;
	pid_t pid;

	(void)data;
	if (no_context_fd(f->ctx))
		return;
	queue_init(&w.jobs);
	queue_init(&w.results);
	w.eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	g_assert_no_errno(w.eventfd);
	the_worker = &w;
	ipc_test_service_init(f->ctx, SERVICE);
	g_assert_cmpint(ipc_add_external(f->ctx, w.eventfd), ==, 0);
	host_attach(&h, f->ctx);
	h.eventfd = w.eventfd;
	h.on_event = worker_event;
	thread = g_thread_new("worker", worker_main, &w);
	pid = ipc_test_fork(work_client, NULL);
	g_main_loop_run(h.loop);
	ipc_test_reap(pid);
	queue_push(&w.jobs, GINT_TO_POINTER(-1));
	g_thread_join(thread);
	g_test_message("%u results, %u wake-ups (%u empty), %u EXTERNAL",
		       h.echoed, h.wakeups, h.empty, h.events[EXTERNAL]);
	g_assert_cmpuint(h.echoed, ==, WORK);
	g_assert_cmpuint(h.events[MESSAGE_TX], ==, WORK);
	host_detach(&h);
	g_assert_cmpint(ipc_close_fd(f->ctx, w.eventfd), ==, 0);
	queue_fini(&w.jobs);
	queue_fini(&w.results);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/embed/glib-burst", test_glib_burst, NULL);
	IPC_TEST_ADD("/ipc/embed/idle-and-timer", test_idle, NULL);
	IPC_TEST_ADD("/ipc/embed/eagain-stream", test_eagain_stream, NULL);
	IPC_TEST_ADD("/ipc/embed/wakes", test_wakes, NULL);
	IPC_TEST_ADD("/ipc/embed/slow-reader", test_slow_reader, NULL);
	IPC_TEST_ADD("/ipc/embed/worker-thread", test_worker_thread, NULL);
	return g_test_run();
}
