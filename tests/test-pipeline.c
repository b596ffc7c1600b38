/*
 * libipc tests: two libipc peers pipelining to each other, directly and
 * through a switch, in both directions at once.  Each side schedules its
 * whole series as the seed's usage does (ipc_schedule() until -ENOBUFS,
 * then more after each MESSAGE_TX) while it reads the other's: every
 * message must arrive once, in order, intact, and neither side may stop
 * reading because its own queue is long (two such peers would wait for
 * each other forever).
 *
 * Each peer runs in its own process with its own context; the test
 * process is the relay of the switch cases.  Under valgrind the small
 * messages are fewer (the count is printed), the sizes the same.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define SERVICE "pipeline"
#define RELAY "pipeline-relay"

#define LARGE (1024 * 1024)
#define LARGE_COUNT 100
#define SMALL 64
#define SMALL_COUNT 1000000
#define SMALL_COUNT_VALGRIND 20000

/*
 * What one side does: send @n_send numbered messages of @len bytes, and
 * receive @n_recv of the same size, numbered, or echo each one back
 * (@echo) instead of checking it.
 */
struct plan {
	guint n_send;
	guint n_recv;
	gsize len;
	gboolean echo;
};

/* A case: the series each way, and whether the second side echoes. */
struct scenario {
	gsize len;
	gboolean both_ways;	/* both send; else the client sends, the
				 * service echoes */
	gboolean switched;	/* through a relay (the test process) */
};

static guint series_length(const struct scenario *s)
{
	if (s->len == LARGE)
		return LARGE_COUNT;
	return ipc_test_under_valgrind() ? SMALL_COUNT_VALGRIND : SMALL_COUNT;
}

/* The state of one side while it runs its plan. */
struct peer {
	void *ctx;
	int fd;
	const struct plan *plan;
	char *msg;
	guint sent;		/* scheduled, of the series */
	guint tx;		/* MESSAGE_TX events */
	guint received;
	gboolean full;		/* -ENOBUFS: wait for a MESSAGE_TX */
	GQueue echoes;		/* replies refused with -ENOBUFS, in order */
	guint echoed;		/* replies scheduled */
};

/* Schedules @data, or keeps it for later when the queue is full. */
static gboolean try_schedule(struct peer *p, const char *data, gsize len)
{
	int ret = ipc_schedule(p->ctx, p->fd, data, len);

	if (ret == -ENOBUFS) {
		p->full = TRUE;
		return FALSE;
	}
	g_assert_cmpint(ret, ==, 0);
	return TRUE;
}

/* Schedules what waits, in order: kept echoes first, then the series. */
static void peer_send(struct peer *p)
{
	while (!p->full && !g_queue_is_empty(&p->echoes)) {
		GBytes *b = g_queue_peek_head(&p->echoes);
		gsize len;
		const char *data = g_bytes_get_data(b, &len);

		if (!try_schedule(p, data, len))
			return;
		g_bytes_unref(g_queue_pop_head(&p->echoes));
		p->echoed++;
	}
	while (!p->full && p->sent < p->plan->n_send) {
		ipc_test_fill_numbered(p->msg, p->plan->len, p->sent);
		if (!try_schedule(p, p->msg, p->plan->len))
			return;
		p->sent++;
	}
}

static void peer_received(struct peer *p, const IpcTestEvent *ev)
{
	g_assert_cmpint(ev->fd, ==, p->fd);
	if (p->plan->echo) {
		if (!g_queue_is_empty(&p->echoes) ||
		    !try_schedule(p, ev->data, ev->len))
			g_queue_push_tail(&p->echoes,
					  g_bytes_new(ev->data, ev->len));
		else
			p->echoed++;
	} else {
		ipc_test_assert_numbered(ev->data, ev->len, p->plan->len,
					 p->received);
	}
	p->received++;
}

static gboolean peer_done(struct peer *p)
{
	return p->sent == p->plan->n_send && p->received == p->plan->n_recv &&
	       g_queue_is_empty(&p->echoes) && p->tx == p->sent + p->echoed;
}

/* Runs @plan on connection @fd of @ctx until every message went both ways. */
static void run_plan(void *ctx, int fd, const struct plan *plan)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct peer p = { .ctx = ctx, .fd = fd, .plan = plan };

	p.msg = g_malloc(plan->len);
	g_queue_init(&p.echoes);
	for (;;) {
		peer_send(&p);
		if (peer_done(&p))
			break;
		g_assert_cmpint(ipc_test_wait_raw(ctx, &ev, plan->len), ==, 0);
		if (ev.type == MESSAGE_TX) {
			g_assert_cmpint(ev.fd, ==, fd);
			p.tx++;
			p.full = FALSE;
		} else if (ev.type == MESSAGE_RX) {
			peer_received(&p, &ev);
		} else {
			g_error("unexpected %s", ipc_test_event_name(ev.type));
		}
	}
	g_free(p.msg);
}

/* ------------------------------------------------------------------ */
/* The two peers                                                        */
/* ------------------------------------------------------------------ */

struct child_args {
	const struct scenario *s;
	int ready[2];		/* the service tells the test it listens */
};

/* The service: accepts one client and runs its side of the plan. */
static void service_child(void *arg)
{
	struct child_args *a = arg;
	guint n = series_length(a->s);
	struct plan plan = {
		.n_send = a->s->both_ways ? n : 0,
		.n_recv = n,
		.len = a->s->len,
		.echo = !a->s->both_ways,
	};
	void *ctx = NULL;
	int svc, fd;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	svc = ipc_test_service_init(ctx, SERVICE);
	ipc_test_notify(a->ready[1]);
	fd = ipc_test_accept(ctx, svc, NULL);
	g_assert_cmpint(ipc_close_fd(ctx, svc), ==, 0);
	run_plan(ctx, fd, &plan);
	ipc_context_deinit(&ctx);
}

/* The client: connects to @name and runs its side of the plan. */
static void client_run(const struct scenario *s, const char *name)
{
	guint n = series_length(s);
	struct plan plan = {
		.n_send = n,
		.n_recv = n,
		.len = s->len,
	};
	void *ctx = NULL;
	int fd;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	fd = ipc_test_connect(ctx, name);
	run_plan(ctx, fd, &plan);
	ipc_context_deinit(&ctx);
}

static void client_child(void *arg)
{
	client_run(arg, RELAY);
}

static pid_t service_start(struct child_args *a)
{
	pid_t pid;

	ipc_test_pipe(a->ready);
	pid = ipc_test_fork(service_child, a);
	ipc_test_wait_notify(a->ready[0]);
	close(a->ready[0]);
	close(a->ready[1]);
	return pid;
}

/*
 * The relay: accepts the client on RELAY, connects to the service,
 * switches the two and forwards until both sides left.
 */
static void relay_run(Fixture *f, const struct scenario *s)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int svc, up, down, gone = 0;
	pid_t client;

	/* Both sides send at once: switched before the relay's first wait
	 * after the connection to the service, nothing reaches the relay
	 * itself. */
	svc = ipc_test_service_init(f->ctx, RELAY);
	client = ipc_test_fork(client_child, (void *)s);
	down = ipc_test_accept(f->ctx, svc, NULL);
	up = ipc_test_connect(f->ctx, SERVICE);
	g_assert_cmpint(ipc_add_switch(f->ctx, down, up), ==, 0);
	while (gone < 2) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == DISCONNECTION)
			gone++;
		else if (ev.type != SWITCH_RX && ev.type != SWITCH_TX)
			g_error("relay: unexpected %s",
				ipc_test_event_name(ev.type));
	}
	ipc_test_reap(client);
}

static void test_pipeline(Fixture *f, gconstpointer data)
{
	const struct scenario *s = data;
	struct child_args a = { .s = s };
	pid_t service;

	g_test_message("%u messages of %zu bytes each way%s",
		       series_length(s), s->len,
		       s->both_ways ? "" : " (the service echoes)");
	service = service_start(&a);
	if (s->switched)
		relay_run(f, s);
	else
		client_run(s, SERVICE);
	ipc_test_reap(service);
}

/* ------------------------------------------------------------------ */
/* A relay whose one side left while the other reads nothing            */
/* ------------------------------------------------------------------ */

#define FLOOD_FRAMES 64
#define FLOOD_SIZE (64 * 1024)

/* Child: sends frames to the relay, reads nothing, and leaves. */
static void flood_then_close(void *arg)
{
	g_autofree char *payload = g_malloc(FLOOD_SIZE);
	int fd = ipc_test_raw_connect(RELAY);
	guint i;

	(void)arg;
	for (i = 0; i < FLOOD_FRAMES; i++) {
		ipc_test_fill_numbered(payload, FLOOD_SIZE, i);
		ipc_test_write_frame(fd, payload, FLOOD_SIZE);
	}
	close(fd);
}

/*
 * Side A sends 4 MiB for side B, which never reads, and leaves: what the
 * relay holds for B goes after IPC_LINGER_MS without progress, and both
 * sides are closed (each DISCONNECTION, fds back at teardown).
 */
static void test_linger(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int svc, a, pair[2], b_fd = -1, gone = 0;
	gint64 start, a_gone = 0;
	pid_t pid;

	(void)data;
	svc = ipc_test_service_init(f->ctx, RELAY);
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     pair));
	g_assert_cmpint(ipc_add_external(f->ctx, pair[0]), ==, 0);
	pid = ipc_test_fork(flood_then_close, NULL);
	a = ipc_test_accept(f->ctx, svc, NULL);
	g_assert_cmpint(ipc_add_switch(f->ctx, a, pair[0]), ==, 0);
	start = g_get_monotonic_time();
	while (gone < 2) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == SWITCH_RX || ev.type == SWITCH_TX)
			continue;
		g_assert_cmpint(ev.type, ==, DISCONNECTION);
		if (ev.fd == a)
			a_gone = g_get_monotonic_time();
		else
			b_fd = ev.fd;
		gone++;
	}
	g_assert_cmpint(b_fd, ==, pair[0]);
	g_assert_cmpint(a_gone, >, 0);
	g_test_message("A left after %" G_GINT64_FORMAT " ms, B was dropped "
		       "%" G_GINT64_FORMAT " ms later (IPC_LINGER_MS %d), "
		       "%d bytes unread in B's socket",
		       (a_gone - start) / 1000,
		       (g_get_monotonic_time() - a_gone) / 1000, IPC_LINGER_MS,
		       ipc_test_pending_bytes(pair[1]));
	ipc_test_assert_fd_closed(pair[0]);
	close(pair[1]);
	ipc_test_reap(pid);
}

static const struct scenario echo_large = { LARGE, FALSE, FALSE };
static const struct scenario echo_small = { SMALL, FALSE, FALSE };
static const struct scenario both_large = { LARGE, TRUE, FALSE };
static const struct scenario both_small = { SMALL, TRUE, FALSE };
static const struct scenario switch_large = { LARGE, TRUE, TRUE };
static const struct scenario switch_small = { SMALL, TRUE, TRUE };
static const struct scenario switch_echo = { LARGE, FALSE, TRUE };

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/pipeline/echo/large", test_pipeline, &echo_large);
	IPC_TEST_ADD("/ipc/pipeline/echo/small", test_pipeline, &echo_small);
	IPC_TEST_ADD("/ipc/pipeline/both/large", test_pipeline, &both_large);
	IPC_TEST_ADD("/ipc/pipeline/both/small", test_pipeline, &both_small);
	IPC_TEST_ADD("/ipc/pipeline/switch/large", test_pipeline,
		     &switch_large);
	IPC_TEST_ADD("/ipc/pipeline/switch/small", test_pipeline,
		     &switch_small);
	IPC_TEST_ADD("/ipc/pipeline/switch/echo", test_pipeline,
		     &switch_echo);
	IPC_TEST_ADD("/ipc/pipeline/switch/linger", test_linger, NULL);
	return g_test_run();
}
