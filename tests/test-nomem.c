/*
 * libipc tests: allocation failures.  For N = 1, 2, ... the Nth memory
 * allocation of the library during a whole lifecycle fails: context,
 * service, connections, messages both ways (small and large), an external
 * fd, a switch, closing and freeing.  Every run must end with -ENOMEM from
 * the call that needed the memory (or with the failure absorbed and the
 * lifecycle complete), never a crash, a lost or garbled message or a leak;
 * after -ENOMEM the same context must go on working.  The sweep ends with
 * the first run in which no allocation was failed.
 *
 * How allocations are failed: this program links its own copy of the
 * library (tests/libipc-nomem.la, the sources of lib/ built as a
 * convenience library) with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=free.  The linker sends every call the library's objects make to
 * those functions to the __wrap_* functions below, which count them, fail
 * the chosen one, and otherwise call the real ones (__real_*).  Nothing
 * else is affected: GLib and libc call their allocator directly.  Under
 * valgrind the real functions are valgrind's, so its leak check still sees
 * every block; the wrappers also count the library's live blocks, so a
 * leak is caught without valgrind too.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "nomem"
/* Large enough to leave straight from the caller's buffer and to make
 * the reader grow its buffer. */
#define LARGE (200 * 1024)
/* A bound on the sweep, far above the allocations of one lifecycle. */
#define MAX_RUNS 2000

/* ------------------------------------------------------------------ */
/* The allocator wrappers                                               */
/* ------------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *ptr, size_t size);
void __real_free(void *ptr);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
void __wrap_free(void *ptr);

static struct {
	gboolean armed;		/* count calls, fail call number fail_at */
	guint calls;		/* calls counted since armed */
	guint fail_at;
	gboolean injected;	/* the failure happened */
	gint64 live;		/* blocks the library holds */
	guint64 total;		/* calls seen, armed or not */
} alloc;

static void alloc_arm(guint fail_at)
{
	alloc.armed = TRUE;
	alloc.calls = 0;
	alloc.fail_at = fail_at;
	alloc.injected = FALSE;
}

static void alloc_disarm(void)
{
	alloc.armed = FALSE;
}

static gboolean alloc_fails(void)
{
	alloc.total++;
	if (!alloc.armed || ++alloc.calls != alloc.fail_at)
		return FALSE;
	alloc.injected = TRUE;
	errno = ENOMEM;
	return TRUE;
}

void *__wrap_malloc(size_t size)
{
	void *p;

	if (alloc_fails())
		return NULL;
	p = __real_malloc(size);
	if (p)
		alloc.live++;
	return p;
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (alloc_fails())
		return NULL;
	p = __real_calloc(nmemb, size);
	if (p)
		alloc.live++;
	return p;
}

void *__wrap_realloc(void *ptr, size_t size)
{
	void *p;

	if (alloc_fails())
		return NULL;
	p = __real_realloc(ptr, size);
	if (!ptr && p)
		alloc.live++;
	else if (ptr && !size && !p)
		alloc.live--;
	return p;
}

void __wrap_free(void *ptr)
{
	if (ptr)
		alloc.live--;
	__real_free(ptr);
}

/* ------------------------------------------------------------------ */
/* One run                                                              */
/* ------------------------------------------------------------------ */

struct run {
	void *ctx;
	int svc;
	guint enomem;		/* calls that returned -ENOMEM */
	GPtrArray *where;	/* which calls */
	GHashTable *unclaimed;	/* accepted fds not known as a pair's yet */
	IpcTestEvent ev;
};

/*
 * TRUE when a call failed for want of memory: that is allowed only when
 * the failure was injected, and only once per run (every later allocation
 * succeeds), so a caller that retries gets through.  Any other error fails
 * the test.
 */
static gboolean no_memory(struct run *r, int ret, const char *what)
{
	if (ret == 0)
		return FALSE;
	if (ret != -ENOMEM)
		g_test_message("%s: %s (allocation %u failed)", what,
			       g_strerror(-ret), alloc.fail_at);
	g_assert_cmpint(ret, ==, -ENOMEM);
	g_assert_true(alloc.injected);
	r->enomem++;
	g_assert_cmpuint(r->enomem, ==, 1);
	g_ptr_array_add(r->where, (gpointer)what);
	return TRUE;
}

/*
 * The next event that matters.  -ENOMEM from the wait is recorded and
 * waited past; MESSAGE_TX events pass (the messages are checked where
 * they arrive); CONNECTION events are noted, and so is the DISCONNECTION
 * of a connection no pair claimed (one whose client could not be
 * registered, see connect_pair()).  one() handles one event and says
 * whether it matters; next() returns the next one that does.
 */
static gboolean one(struct run *r)
{
	int ret = ipc_test_wait_raw(r->ctx, &r->ev, LARGE);

	if (no_memory(r, ret, "ipc_wait_event")) {
		g_assert_cmpint(r->ev.type, ==, ERROR);
		return FALSE;
	}
	g_assert_cmpint(ret, ==, 0);
	if (r->ev.type == MESSAGE_TX)
		return FALSE;
	if (r->ev.type == CONNECTION) {
		g_assert_cmpint(r->ev.fd, ==, r->svc);
		g_hash_table_add(r->unclaimed, GINT_TO_POINTER(r->ev.newfd));
		return FALSE;
	}
	return r->ev.type != DISCONNECTION ||
	       !g_hash_table_remove(r->unclaimed, GINT_TO_POINTER(r->ev.fd));
}

static void next(struct run *r)
{
	while (!one(r))
		;
}

/* Lets the connections no pair claimed be reported gone. */
static void drain_unclaimed(struct run *r)
{
	while (g_hash_table_size(r->unclaimed))
		g_assert_false(one(r));
}

/* Fills @buf with message @seq's bytes. */
static void fill_message(char *buf, size_t len, guint32 seq)
{
	ipc_test_fill(buf, len, seq);
}

/* ipc_schedule() until it succeeds; FALSE when the connection broke
 * (-EPIPE after a -ENOMEM that had cut a large message short). */
static gboolean schedule(struct run *r, int fd, const void *data, size_t len)
{
	int ret;

	while (no_memory(r, ret = ipc_schedule(r->ctx, fd, data, len),
			 "ipc_schedule"))
		;
	return ret == 0;
}

/* Runs the loop until @fd has been reported gone (after a broken pair:
 * what is left of it may still be reported first). */
static void wait_gone(struct run *r, int fd)
{
	for (;;) {
		next(r);
		if (r->ev.type == DISCONNECTION && r->ev.fd == fd)
			return;
		g_assert_cmpint(r->ev.type, ==, DISCONNECTION);
	}
}

/*
 * A client of the service and its accepted end.  The client sends "hello"
 * and the service's end is the one that receives it: a connection whose
 * accept failed for want of memory (the library closes it) or whose client
 * could not be registered shows up only as a CONNECTION and a
 * DISCONNECTION, which are passed over.
 */
static void connect_pair(struct run *r, int *cli, int *srv)
{
	for (;;) {
		gboolean cli_gone = FALSE;

		while (no_memory(r, ipc_connect_service(r->ctx, cli, NAME,
							strlen(NAME)),
				 "ipc_connect_service"))
			;
		g_assert_true(schedule(r, *cli, "hello", 5));
		while (!cli_gone) {
			next(r);
			if (r->ev.type == MESSAGE_RX) {
				g_assert_true(g_hash_table_remove(
					r->unclaimed,
					GINT_TO_POINTER(r->ev.fd)));
				g_assert_cmpmem(r->ev.data, r->ev.len, "hello",
						5);
				*srv = r->ev.fd;
				return;
			}
			cli_gone = r->ev.type == DISCONNECTION &&
				   r->ev.fd == *cli;
		}
	}
}

/* The next event is the message @data on @fd. */
static void expect_message(struct run *r, int fd, const void *data,
			   size_t len)
{
	next(r);
	g_assert_cmpstr(ipc_test_event_name(r->ev.type), ==,
			ipc_test_event_name(MESSAGE_RX));
	g_assert_cmpint(r->ev.fd, ==, fd);
	g_assert_cmpmem(r->ev.data, r->ev.len, data, len);
}

/* A large message from *cli to *srv; a pair broken by a failure is
 * replaced by a new one and the message sent again. */
static void send_large(struct run *r, int *cli, int *srv)
{
	g_autofree char *buf = g_malloc(LARGE);

	fill_message(buf, LARGE, alloc.fail_at);
	while (!schedule(r, *cli, buf, LARGE)) {
		wait_gone(r, *cli);
		wait_gone(r, *srv);
		connect_pair(r, cli, srv);
	}
	expect_message(r, *srv, buf, LARGE);
}

/* A small message then a large one from *srv to *cli: the large one is
 * queued behind the other, in a buffer grown for it. */
static void send_queued_large(struct run *r, int *cli, int *srv)
{
	g_autofree char *buf = g_malloc(LARGE);

	fill_message(buf, LARGE, alloc.fail_at + 1);
	g_assert_true(schedule(r, *srv, "before", 6));
	g_assert_true(schedule(r, *srv, buf, LARGE));
	expect_message(r, *cli, "before", 6);
	expect_message(r, *cli, buf, LARGE);
}

#define CROWD 24

/* More connections than the context's first tables hold, each with a
 * message in flight (more buffers than the context keeps spare). */
static void crowd(struct run *r)
{
	int cli[CROWD], srv[CROWD];
	guint gone = 0;

	for (int i = 0; i < CROWD; i++)
		connect_pair(r, &cli[i], &srv[i]);
	for (int i = 0; i < CROWD; i++)
		g_assert_true(schedule(r, srv[i], "each", 4));
	for (int i = 0; i < CROWD; i++)
		expect_message(r, cli[i], "each", 4);
	for (int i = 0; i < CROWD; i++)
		g_assert_cmpint(ipc_close_fd(r->ctx, cli[i]), ==, 0);
	while (gone < CROWD) {
		next(r);
		g_assert_cmpstr(ipc_test_event_name(r->ev.type), ==,
				ipc_test_event_name(DISCONNECTION));
		gone++;
	}
}

/* A switch input callback: whatever can be read is one message. */
static char read_in(int fd, char *payload, size_t *len)
{
	ssize_t n = read(fd, payload, *len);

	if (n > 0) {
		*len = (size_t)n;
		return CB_NO_ERROR;
	}
	if (n == 0)
		return CB_FD_CLOSING;
	return errno == EAGAIN || errno == EINTR ? CB_IGNORE : CB_ERROR;
}

/* An external fd switched to a connection through an input callback. */
static void callback_switch(struct run *r)
{
	int pair[2], cli, srv;
	gboolean rx = FALSE, tx = FALSE, got = FALSE;
	guint gone = 0;

	connect_pair(r, &cli, &srv);
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     pair));
	while (no_memory(r, ipc_add_external(r->ctx, pair[0]),
			 "ipc_add_external"))
		;
	g_assert_cmpint(ipc_set_switch_callbacks(r->ctx, pair[0], read_in,
						 NULL), ==, 0);
	g_assert_cmpint(ipc_add_switch(r->ctx, pair[0], srv), ==, 0);
	ipc_test_write_all(pair[1], "callback", 8);
	while (!rx || !tx || !got) {
		next(r);
		if (r->ev.type == SWITCH_RX) {
			g_assert_cmpint(r->ev.fd, ==, pair[0]);
			rx = TRUE;
		} else if (r->ev.type == SWITCH_TX) {
			g_assert_cmpint(r->ev.fd, ==, srv);
			tx = TRUE;
		} else {
			g_assert_cmpstr(ipc_test_event_name(r->ev.type), ==,
					ipc_test_event_name(MESSAGE_RX));
			g_assert_cmpint(r->ev.fd, ==, cli);
			g_assert_cmpmem(r->ev.data, r->ev.len, "callback", 8);
			got = TRUE;
		}
	}
	close(pair[1]);
	while (gone < 3) {
		next(r);
		g_assert_cmpstr(ipc_test_event_name(r->ev.type), ==,
				ipc_test_event_name(DISCONNECTION));
		g_assert_true(r->ev.fd == pair[0] || r->ev.fd == srv ||
			      r->ev.fd == cli);
		gone++;
	}
}

/* An external fd: readable once the other end writes. */
static void external(struct run *r)
{
	int pair[2];
	char byte = 0;

	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     pair));
	while (no_memory(r, ipc_add_external(r->ctx, pair[0]),
			 "ipc_add_external"))
		;
	ipc_test_write_all(pair[1], "x", 1);
	next(r);
	g_assert_cmpstr(ipc_test_event_name(r->ev.type), ==,
			ipc_test_event_name(EXTERNAL));
	g_assert_cmpint(r->ev.fd, ==, pair[0]);
	ipc_test_read_all(pair[0], &byte, 1);
	g_assert_cmpint(byte, ==, 'x');
	g_assert_cmpint(ipc_close_fd(r->ctx, pair[0]), ==, 0);
	close(pair[1]);
}

/* Two pairs; the service ends are switched: a message from one client
 * reaches the other.  Closing one client closes the whole chain. */
static void switched(struct run *r)
{
	int cli2, srv2, cli3, srv3;
	gboolean rx = FALSE, tx = FALSE, got = FALSE;
	guint gone = 0;

	connect_pair(r, &cli2, &srv2);
	connect_pair(r, &cli3, &srv3);
	g_assert_cmpint(ipc_add_switch(r->ctx, srv2, srv3), ==, 0);
	g_assert_true(schedule(r, cli2, "through", 7));
	while (!rx || !tx || !got) {
		next(r);
		switch (r->ev.type) {
		case SWITCH_RX:
			g_assert_cmpint(r->ev.fd, ==, srv2);
			rx = TRUE;
			break;
		case SWITCH_TX:
			g_assert_cmpint(r->ev.fd, ==, srv3);
			tx = TRUE;
			break;
		default:
			g_assert_cmpstr(ipc_test_event_name(r->ev.type), ==,
					ipc_test_event_name(MESSAGE_RX));
			g_assert_cmpint(r->ev.fd, ==, cli3);
			g_assert_cmpmem(r->ev.data, r->ev.len, "through", 7);
			got = TRUE;
		}
	}
	g_assert_cmpint(ipc_close_fd(r->ctx, cli2), ==, 0);
	while (gone < 3) {
		next(r);
		g_assert_cmpstr(ipc_test_event_name(r->ev.type), ==,
				ipc_test_event_name(DISCONNECTION));
		g_assert_true(r->ev.fd == srv2 || r->ev.fd == srv3 ||
			      r->ev.fd == cli3);
		gone++;
	}
}

/* The whole lifecycle, with allocation number @fail_at failing. */
static void lifecycle(struct run *r)
{
	int cli, srv;

	while (no_memory(r, ipc_context_init(&r->ctx), "ipc_context_init"))
		g_assert_null(r->ctx);
	g_assert_cmpint(ipc_context_max_message_size(r->ctx, LARGE), ==, 0);
	while (no_memory(r, ipc_service_init(r->ctx, &r->svc, NAME,
					     strlen(NAME)),
			 "ipc_service_init"))
		;
	connect_pair(r, &cli, &srv);
	g_assert_true(schedule(r, srv, "pong", 4));
	expect_message(r, cli, "pong", 4);
	g_assert_cmpint(ipc_write(r->ctx, cli, "written", 7), ==, 0);
	expect_message(r, srv, "written", 7);
	send_large(r, &cli, &srv);
	send_queued_large(r, &cli, &srv);
	external(r);
	switched(r);
	callback_switch(r);
	crowd(r);
	g_assert_cmpint(ipc_close_fd(r->ctx, srv), ==, 0);
	wait_gone(r, cli);
	drain_unclaimed(r);
	g_assert_cmpint(ipc_close_all(r->ctx), ==, 0);
	ipc_context_deinit(&r->ctx);
	g_assert_null(r->ctx);
}

/* ------------------------------------------------------------------ */
/* The sweep                                                            */
/* ------------------------------------------------------------------ */

static void test_sweep(Fixture *f, gconstpointer data)
{
	guint runs, reported = 0, absorbed = 0;
	GHashTable *calls = g_hash_table_new(g_str_hash, g_str_equal);
	GString *summary = g_string_new(NULL);
	GHashTableIter iter;
	gpointer key, value;

	(void)data;
	/* The fixture's own context is not part of the sweep. */
	ipc_context_deinit(&f->ctx);
	g_assert_cmpint(alloc.live, ==, 0);
	for (runs = 1; runs <= MAX_RUNS; runs++) {
		struct run r = { .ev = IPC_TEST_EVENT_INIT };
		int fds = ipc_test_count_fds();

		r.where = g_ptr_array_new();
		r.unclaimed = g_hash_table_new(NULL, NULL);
		alloc_arm(runs);
		lifecycle(&r);
		alloc_disarm();
		/* Nothing leaked, whatever failed. */
		g_assert_cmpint(alloc.live, ==, 0);
		g_assert_cmpint(ipc_test_count_fds(), ==, fds);
		if (r.enomem) {
			const char *what = g_ptr_array_index(r.where, 0);

			reported++;
			g_hash_table_insert(calls, (gpointer)what,
					    GUINT_TO_POINTER(GPOINTER_TO_UINT(
						    g_hash_table_lookup(calls,
									what)) +
							     1));
		} else if (alloc.injected) {
			absorbed++;
		}
		g_assert_cmpuint(g_hash_table_size(r.unclaimed), ==, 0);
		g_hash_table_unref(r.unclaimed);
		g_ptr_array_unref(r.where);
		ipc_test_event_clear(&r.ev);
		if (!alloc.injected)
			break;
	}
	g_assert_cmpuint(runs, <=, MAX_RUNS);
	g_hash_table_iter_init(&iter, calls);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_string_append_printf(summary, " %s %u", (const char *)key,
				       GPOINTER_TO_UINT(value));
	g_test_message("%u allocations in a lifecycle: %u failures reported "
		       "as -ENOMEM (%s ), %u absorbed", runs - 1, reported,
		       summary->str, absorbed);
	/* The wrappers did see the library's allocations. */
	g_assert_cmpuint(runs, >, 10);
	g_assert_cmpuint(reported, >, 0);
	g_string_free(summary, TRUE);
	g_hash_table_unref(calls);
	/* The fixture's teardown wants a context. */
	g_assert_cmpint(ipc_context_init(&f->ctx), ==, 0);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/nomem/sweep", test_sweep, NULL);
	return g_test_run();
}
