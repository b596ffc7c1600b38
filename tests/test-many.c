/*
 * libipc tests: 1,000 clients at once.
 *
 * A service in this process; 10 forked processes open 100 connections
 * each, send one distinct message per connection and check its echo.  All
 * 1,000 connections are open at the same time: the children close them
 * only when the service has echoed every message.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define SERVICE "crowd"
#define N_PROCS 10
#define PER_PROC 100
#define N_CLIENTS (N_PROCS * PER_PROC)

/* The fds the service needs besides its connections (stdio, listening
 * socket, event backend, pipe, GLib), and the limit asked for. */
#define SPARE_FDS 16
#define WANTED_FDS 2100

/* Tells the children they may close their connections. */
static int go_pipe[2];

/* Client @id's message; its length varies with @id too. */
static char *client_message(int id)
{
	return g_strdup_printf("client %04d says %.*s", id, id % 37,
			       "hello hello hello hello hello hello hello");
}

/* Connect PER_PROC times, send, check every echo, then wait for the
 * go-ahead before closing, so that all clients are connected at once. */
static void crowd_child(void *arg)
{
	int first = GPOINTER_TO_INT(arg) * PER_PROC;
	g_autoptr(GByteArray) echo = g_byte_array_new();
	int fds[PER_PROC];

	close(go_pipe[1]);
	for (int i = 0; i < PER_PROC; i++)
		fds[i] = ipc_test_raw_connect(SERVICE);
	for (int i = 0; i < PER_PROC; i++) {
		g_autofree char *text = client_message(first + i);

		ipc_test_write_frame(fds[i], text, strlen(text));
	}
	for (int i = 0; i < PER_PROC; i++) {
		g_autofree char *text = client_message(first + i);

		ipc_test_read_frame(fds[i], echo);
		g_assert_cmpmem(echo->data, echo->len, text, strlen(text));
	}
	ipc_test_wait_notify(go_pipe[0]);
	for (int i = 0; i < PER_PROC; i++)
		close(fds[i]);
	close(go_pipe[0]);
}

/* The service's view: the live connections (fd -> index) and counts. */
struct crowd {
	GHashTable *live;
	gboolean seen[N_CLIENTS];
	guint connections, received, sent, disconnections, peak;
	gboolean released;
};

static void crowd_connection(struct crowd *c, const struct ipc_test_event *ev)
{
	gpointer key = GINT_TO_POINTER(ev->newfd);

	g_assert_false(g_hash_table_contains(c->live, key));
	g_hash_table_insert(c->live, key, GSIZE_TO_POINTER(ev->index));
	c->connections++;
	c->peak = MAX(c->peak, g_hash_table_size(c->live));
}

/* The connection of @ev is live and has the index its CONNECTION gave. */
static void assert_live(const struct crowd *c,
			const struct ipc_test_event *ev)
{
	gpointer index = NULL;

	g_assert_true(g_hash_table_lookup_extended(c->live,
						   GINT_TO_POINTER(ev->fd),
						   NULL, &index));
	g_assert_cmpuint(GPOINTER_TO_SIZE(index), ==, ev->index);
}

/* Checks the message is one client's, seen once, and echoes it. */
static void crowd_message(void *ctx, struct crowd *c,
			  const struct ipc_test_event *ev)
{
	g_autofree char *copy = g_strndup(ev->data, ev->len);
	g_autofree char *expected = NULL;
	int id = -1;

	assert_live(c, ev);
	g_assert_cmpint(sscanf(copy, "client %d", &id), ==, 1);
	g_assert_cmpint(id, >=, 0);
	g_assert_cmpint(id, <, N_CLIENTS);
	expected = client_message(id);
	g_assert_cmpstr(copy, ==, expected);
	g_assert_false(c->seen[id]);
	c->seen[id] = TRUE;
	c->received++;
	g_assert_cmpint(ipc_schedule(ctx, ev->fd, ev->data, ev->len), ==, 0);
}

static void crowd_event(void *ctx, struct crowd *c,
			const struct ipc_test_event *ev)
{
	switch (ev->type) {
	case CONNECTION:
		crowd_connection(c, ev);
		break;
	case MESSAGE_RX:
		crowd_message(ctx, c, ev);
		break;
	case MESSAGE_TX:
		assert_live(c, ev);
		c->sent++;
		break;
	case DISCONNECTION:
		/* Nobody leaves before every echo was written. */
		g_assert_true(c->released);
		assert_live(c, ev);
		g_hash_table_remove(c->live, GINT_TO_POINTER(ev->fd));
		c->disconnections++;
		break;
	default:
		g_test_message("unexpected %s",
			       ipc_test_event_name(ev->type));
		g_assert_not_reached();
	}
}

/* Raises the soft fd limit to the hard one when it is low; FALSE when
 * the service still could not hold all the connections. */
static gboolean raise_fd_limit(void)
{
	struct rlimit rl;

	g_assert_no_errno(getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur < WANTED_FDS && rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? WANTED_FDS :
							      rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			g_test_message("setrlimit: %s", g_strerror(errno));
		g_assert_no_errno(getrlimit(RLIMIT_NOFILE, &rl));
	}
	g_test_message("fd limit %lu", (unsigned long)rl.rlim_cur);
	return rl.rlim_cur >= N_CLIENTS + SPARE_FDS;
}

static void test_thousand_clients(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct crowd c = { 0 };
	pid_t pids[N_PROCS];
	int svc;

	(void)data;
	if (!raise_fd_limit()) {
		g_test_skip("not enough fds for 1,000 connections");
		return;
	}
	svc = ipc_test_service_init(f->ctx, SERVICE);
	ipc_test_pipe(go_pipe);
	for (int p = 0; p < N_PROCS; p++)
		pids[p] = ipc_test_fork(crowd_child, GINT_TO_POINTER(p));
	close(go_pipe[0]);
	/* Made after the forks: the children _exit() without freeing. */
	c.live = g_hash_table_new(NULL, NULL);

	while (c.disconnections < N_CLIENTS) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == CONNECTION)
			g_assert_cmpint(ev.fd, ==, svc);
		crowd_event(f->ctx, &c, &ev);
		if (!c.released && c.sent == N_CLIENTS) {
			g_assert_cmpuint(c.received, ==, N_CLIENTS);
			for (int p = 0; p < N_PROCS; p++)
				ipc_test_notify(go_pipe[1]);
			c.released = TRUE;
		}
	}
	close(go_pipe[1]);
	for (int p = 0; p < N_PROCS; p++)
		ipc_test_reap(pids[p]);

	g_test_message("%u connections, %u messages, peak %u at once",
		       c.connections, c.received, c.peak);
	g_assert_cmpuint(c.connections, ==, N_CLIENTS);
	g_assert_cmpuint(c.received, ==, N_CLIENTS);
	g_assert_cmpuint(c.sent, ==, N_CLIENTS);
	g_assert_cmpuint(c.peak, ==, N_CLIENTS);
	g_assert_cmpuint(g_hash_table_size(c.live), ==, 0);
	g_hash_table_unref(c.live);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	g_test_add("/ipc/many/thousand-clients", Fixture, NULL, ipc_test_setup,
		   test_thousand_clients, ipc_test_teardown);
	return g_test_run();
}
