/*
 * libipc tests: stress.  A service killed with SIGKILL and restarted over
 * and over while its clients reconnect (the stale socket and lock file
 * are taken over every time), and clients connecting and disconnecting
 * in churn while messages flow; the fd count and memory of the processes
 * that live through it are the same at the end as after a warm-up.
 *
 * Sizes: make check runs a short version (seconds).  With IPC_STRESS=1 in
 * the environment (make check-stress) the full one: 1,000 kill and restart
 * cycles, 10,000 clients in churn.  IPC_STRESS_SOAK=<seconds> adds the
 * soak: churn and flow for that long (make check-stress
 * IPC_STRESS_SOAK=3600 for an hour).
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "stress"

/* Restart cycles and churn clients, short and full. */
#define CYCLES_SHORT 100
#define CYCLES_FULL 1000
#define CHURN_SHORT 1000
#define CHURN_FULL 10000
/* The share of each run that is warm-up, before the first figures. */
#define WARMUP_PERCENT 10

/*
 * What the bytes malloc'ed may differ by between the figures after
 * warm-up and at the end: the flowing clients have a varying number of
 * messages in flight, so the service's buffers for them hold 0 to 4 of the
 * library's chunks (128 KiB each) besides the spare ones it keeps.  The
 * resident set may differ by more, as malloc keeps and reuses freed memory
 * in its own ways.  A leak of 120 bytes per client shows in the full run
 * (10,000 clients), of 1.2 KiB in the short one.
 */
#define HEAP_TOLERANCE (1024u * 1024)
#define RSS_TOLERANCE (2048u * 1024)

static gboolean full_size(void)
{
	const char *s = g_getenv("IPC_STRESS");

	return s && *s && strcmp(s, "0") != 0;
}

/* Seconds of soak asked for, or 0. */
static guint soak_seconds(void)
{
	const char *s = g_getenv("IPC_STRESS_SOAK");

	return s ? (guint)strtoul(s, NULL, 10) : 0;
}

/* The watchdog of the running case, for it and the children it forks. */
static guint watchdog_seconds = IPC_TEST_TIMEOUT;

/* Re-arms the watchdog for a run of about @seconds. */
static void watchdog(guint seconds)
{
	watchdog_seconds = MAX(IPC_TEST_TIMEOUT, seconds + 120);
	alarm(watchdog_seconds);
}

/* Figures of the process under watch. */
struct figures {
	int fds;
	gsize rss, heap;
	gboolean have_heap;
};

/* The figures of this process, after giving malloc's free memory back
 * to the system (what stays resident is what is in use). */
static void figures_self(struct figures *fg)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	fg->fds = ipc_test_count_fds();
	ipc_test_memory(0, NULL, &fg->rss);
	fg->have_heap = ipc_test_heap_in_use(&fg->heap);
}

/* Open fds of process @pid. */
static int count_fds_of(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
	GDir *dir = g_dir_open(path, 0, NULL);
	int n = 0;

	g_assert_nonnull(dir);
	while (g_dir_read_name(dir))
		n++;
	g_dir_close(dir);
	return n;
}

/* Logs both sets of figures and asserts they match. */
static void figures_compare(const char *who, const struct figures *warm,
			    const struct figures *end)
{
	g_test_message("%s: fds %d after warm-up, %d at the end; RSS %"
		       G_GSIZE_FORMAT " KiB, then %" G_GSIZE_FORMAT " KiB; "
		       "malloc'ed %" G_GSIZE_FORMAT " KiB, then %"
		       G_GSIZE_FORMAT " KiB%s", who, warm->fds, end->fds,
		       warm->rss / 1024, end->rss / 1024, warm->heap / 1024,
		       end->heap / 1024,
		       ipc_test_memory_instrumented() ?
			       " (instrumented: memory not compared)" : "");
	g_assert_cmpint(end->fds, ==, warm->fds);
	if (ipc_test_memory_instrumented())
		return;
	g_assert_cmpuint(end->rss, <=, warm->rss + RSS_TOLERANCE);
	if (warm->have_heap)
		g_assert_cmpuint(end->heap, <=, warm->heap + HEAP_TOLERANCE);
}

/* ------------------------------------------------------------------ */
/* kill -9 and restart                                                  */
/* ------------------------------------------------------------------ */

#define CLIENTS 4
#define QUIT "quit"

static int ready_pipe[2];

/* Child: the service takes over whatever the killed instance left (it
 * must: a failure aborts the child before it says it is ready), then
 * echoes until killed, or until QUIT. */
static void restart_service(void *arg)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	void *ctx = NULL;

	(void)arg;
	close(ready_pipe[0]);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	ipc_test_service_init(ctx, NAME);
	ipc_test_notify(ready_pipe[1]);
	for (;;) {
		ipc_test_next_event(ctx, &ev);
		if (ev.type != MESSAGE_RX)
			continue;
		if (ev.len == strlen(QUIT) && !memcmp(ev.data, QUIT, ev.len))
			break;
		g_assert_cmpint(ipc_schedule(ctx, ev.fd, ev.data, ev.len), ==,
				0);
	}
	ipc_context_deinit(&ctx);
}

/* The client side: one context, CLIENTS connections. */
struct clients {
	void *ctx;
	int fd[CLIENTS];
	guint sent[CLIENTS];	/* messages sent on the current connection */
	guint echoed[CLIENTS];	/* echoes received on it */
	IpcTestEvent ev;
};

static int client_of(struct clients *c, int fd)
{
	for (int i = 0; i < CLIENTS; i++)
		if (c->fd[i] == fd)
			return i;
	g_assert_not_reached();
	return -1;
}

static void client_send(struct clients *c, int i, guint cycle)
{
	g_autofree char *text = g_strdup_printf("cycle %u client %d msg %u",
						cycle, i, c->sent[i]++);

	g_assert_cmpint(ipc_schedule(c->ctx, c->fd[i], text, strlen(text)),
			==, 0);
}

/* Checks an echo: the next one due on that connection. */
static void client_echo(struct clients *c, guint cycle)
{
	int i = client_of(c, c->ev.fd);
	g_autofree char *text = g_strdup_printf("cycle %u client %d msg %u",
						cycle, i, c->echoed[i]++);

	g_assert_cmpmem(c->ev.data, c->ev.len, text, strlen(text));
	g_assert_cmpuint(c->echoed[i], <=, c->sent[i]);
}

static pid_t restart(void)
{
	pid_t pid = ipc_test_fork(restart_service, NULL);

	ipc_test_wait_notify(ready_pipe[0]);
	return pid;
}

/* All clients connect and each gets the echo of one message. */
static void clients_connect(struct clients *c, guint cycle)
{
	guint echoes = 0;

	for (int i = 0; i < CLIENTS; i++) {
		c->fd[i] = ipc_test_connect(c->ctx, NAME);
		c->sent[i] = c->echoed[i] = 0;
		client_send(c, i, cycle);
	}
	while (echoes < CLIENTS) {
		ipc_test_wait_for_ignoring(c->ctx, MESSAGE_RX,
					   IPC_TEST_BIT(MESSAGE_TX), &c->ev);
		client_echo(c, cycle);
		echoes++;
	}
}

/* After the kill: every echo that still arrives is the next one due,
 * then each connection is reported gone. */
static void clients_lose_service(struct clients *c, guint cycle)
{
	guint gone = 0;

	while (gone < CLIENTS) {
		ipc_test_next_event(c->ctx, &c->ev);
		if (c->ev.type == MESSAGE_RX)
			client_echo(c, cycle);
		else if (c->ev.type == DISCONNECTION)
			gone++;
		else
			g_assert_cmpstr(ipc_test_event_name(c->ev.type), ==,
					ipc_test_event_name(MESSAGE_TX));
	}
}

static void test_restart(Fixture *f, gconstpointer data)
{
	guint cycles = full_size() ? CYCLES_FULL : CYCLES_SHORT;
	guint warm_at = cycles * WARMUP_PERCENT / 100;
	struct clients c = { .ctx = f->ctx, .ev = IPC_TEST_EVENT_INIT };
	struct figures warm = { 0 }, end = { 0 };
	struct figures svc_warm = { 0 }, svc_end = { 0 };
	g_autofree char *sock = ipc_test_path(f, NAME);
	g_autofree char *lock = ipc_test_path(f, NAME ".lock");
	gint64 start = g_get_monotonic_time();
	int fd;
	pid_t pid;

	(void)data;
	watchdog(cycles / 10);
	ipc_test_pipe(ready_pipe);
	for (guint cycle = 0; cycle < cycles; cycle++) {
		pid = restart();
		clients_connect(&c, cycle);
		/* Messages in flight when the kill comes: 0 to 7 more. */
		for (int k = g_test_rand_int_range(0, 8); k > 0; k--)
			client_send(&c, g_test_rand_int_range(0, CLIENTS),
				    cycle);
		if (cycle == warm_at || cycle == cycles - 1) {
			struct figures *s = cycle == warm_at ? &svc_warm :
							       &svc_end;

			s->fds = count_fds_of(pid);
			ipc_test_memory(pid, NULL, &s->rss);
		}
		g_assert_no_errno(kill(pid, SIGKILL));
		ipc_test_reap_signaled(pid, SIGKILL);
		clients_lose_service(&c, cycle);
		/* The dead instance left its socket and lock file; nobody
		 * listens. */
		g_assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));
		g_assert_true(g_file_test(lock, G_FILE_TEST_EXISTS));
		g_assert_cmpint(ipc_connect_service(f->ctx, &fd, NAME,
						    strlen(NAME)), ==,
				-ECONNREFUSED);
		if (cycle == warm_at)
			figures_self(&warm);
	}
	figures_self(&end);
	g_test_message("%u kill -9 and restart cycles with %d clients in "
		       "%.1f s", cycles, CLIENTS,
		       (double)(g_get_monotonic_time() - start) / 1e6);
	figures_compare("clients' process", &warm, &end);
	g_test_message("service instances: fds %d (cycle %u), %d (cycle %u); "
		       "RSS %" G_GSIZE_FORMAT " KiB, %" G_GSIZE_FORMAT " KiB",
		       svc_warm.fds, warm_at, svc_end.fds, cycles - 1,
		       svc_warm.rss / 1024, svc_end.rss / 1024);
	g_assert_cmpint(svc_end.fds, ==, svc_warm.fds);

	/* A last instance, stopped cleanly, removes both files. */
	pid = restart();
	clients_connect(&c, cycles);
	g_assert_cmpint(ipc_write(f->ctx, c.fd[0], QUIT, strlen(QUIT)), ==, 0);
	ipc_test_reap(pid);
	clients_lose_service(&c, cycles);
	g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(lock, G_FILE_TEST_EXISTS));
	close(ready_pipe[0]);
	close(ready_pipe[1]);
	ipc_test_event_clear(&c.ev);
}

/* ------------------------------------------------------------------ */
/* Churn while messages flow                                            */
/* ------------------------------------------------------------------ */

#define CHURNERS 4
#define FLOWERS 2
/* Connections a churner holds at once. */
#define CONCURRENT 8
/* Messages a flowing client keeps in flight. */
#define FLOW_WINDOW 8
#define FLOW_SIZE 2000
#define FLOW_PREFIX "flow"

struct churn_plan {
	guint warm;		/* clients per churner in the warm-up */
	guint clients;		/* clients per churner after it, or ... */
	gint64 until;		/* ... churn until this monotonic time */
};

static struct churn_plan churn;
/* churners -> service: a phase is done; service -> churners: go on;
 * service -> flowers: stop. */
static int note_pipe[2], go_pipe[2], stop_pipe[2];

/* @n clients, CONCURRENT at a time: connect, send, read the echo, close.
 * Stops early (returns FALSE) once the time is up. */
static gboolean churn_clients(int proc, guint n, gint64 until, guint *done)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();

	while (n) {
		guint batch = MIN(n, CONCURRENT);
		int fds[CONCURRENT];
		char text[64];

		if (until && g_get_monotonic_time() >= until)
			return FALSE;
		for (guint i = 0; i < batch; i++) {
			fds[i] = ipc_test_raw_connect(NAME);
			g_snprintf(text, sizeof(text), "churn %d %u", proc,
				   *done + i);
			ipc_test_write_frame(fds[i], text, strlen(text));
		}
		for (guint i = 0; i < batch; i++) {
			g_snprintf(text, sizeof(text), "churn %d %u", proc,
				   *done + i);
			ipc_test_read_frame(fds[i], frame);
			g_assert_cmpmem(frame->data, frame->len, text,
					strlen(text));
			close(fds[i]);
		}
		*done += batch;
		if (!until)
			n -= batch;
	}
	return TRUE;
}

static void churner(void *arg)
{
	int proc = GPOINTER_TO_INT(arg);
	guint done = 0;

	alarm(watchdog_seconds);
	churn_clients(proc, churn.warm, 0, &done);
	ipc_test_notify(note_pipe[1]);
	ipc_test_wait_notify(go_pipe[0]);
	churn_clients(proc, churn.until ? G_MAXUINT : churn.clients,
		      churn.until, &done);
	ipc_test_notify(note_pipe[1]);
}

static gboolean stop_asked(void)
{
	struct pollfd pfd = { .fd = stop_pipe[0], .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* Message @seq of flowing client @id: its name, then a pattern. */
static void flow_message(char *buf, int id, guint32 seq)
{
	memset(buf, 0, 32);
	g_snprintf(buf, 32, FLOW_PREFIX " %d %u", id, seq);
	ipc_test_fill(buf + 32, FLOW_SIZE - 32, (guint32)id << 24 | seq);
}

/* A client that keeps FLOW_WINDOW numbered messages in flight and checks
 * every echo, until told to stop. */
static void flower(void *arg)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();
	g_autofree char *msg = g_malloc(FLOW_SIZE);
	g_autofree char *expected = g_malloc(FLOW_SIZE);
	int id = GPOINTER_TO_INT(arg);
	int fd = ipc_test_raw_connect(NAME);
	guint32 sent = 0, echoed = 0;

	alarm(watchdog_seconds);
	for (;;) {
		gboolean stop = stop_asked();

		while (!stop && sent - echoed < FLOW_WINDOW) {
			flow_message(msg, id, sent++);
			ipc_test_write_frame(fd, msg, FLOW_SIZE);
		}
		if (stop && echoed == sent)
			break;
		flow_message(expected, id, echoed);
		ipc_test_read_frame(fd, frame);
		g_assert_cmpmem(frame->data, frame->len, expected, FLOW_SIZE);
		echoed++;
	}
	close(fd);
}

/* The service's count of what happened. */
struct churn_state {
	guint connections, gone, flowers, notes, messages;
	GHashTable *flowing;	/* fds of the flowing clients */
};

static void churn_event(void *ctx, struct churn_state *st,
			const struct ipc_test_event *ev)
{
	gpointer fd = GINT_TO_POINTER(ev->fd);

	switch (ev->type) {
	case CONNECTION:
		st->connections++;
		break;
	case MESSAGE_RX:
		if (ev->len >= strlen(FLOW_PREFIX) &&
		    !memcmp(ev->data, FLOW_PREFIX, strlen(FLOW_PREFIX)) &&
		    !g_hash_table_contains(st->flowing, fd)) {
			g_hash_table_add(st->flowing, fd);
			st->flowers++;
		}
		st->messages++;
		g_assert_cmpint(ipc_schedule(ctx, ev->fd, ev->data, ev->len),
				==, 0);
		break;
	case DISCONNECTION:
		g_hash_table_remove(st->flowing, fd);
		st->gone++;
		break;
	case MESSAGE_TX:
	case TIMER:
		break;
	default:
		g_test_message("unexpected %s", ipc_test_event_name(ev->type));
		g_assert_not_reached();
	}
}

/* Only the flowing clients are connected, and the churners said they are
 * through a phase. */
static gboolean churn_quiet(const struct churn_state *st, guint notes)
{
	return st->notes == notes && st->flowers == FLOWERS &&
	       st->connections - st->gone == FLOWERS;
}

/* Serves until churn_quiet(): the notes the churners wrote are read from
 * the (non-blocking) pipe as events come. */
static void churn_until_quiet(void *ctx, struct churn_state *st,
			      struct ipc_test_event *ev, guint notes)
{
	char byte;

	while (!churn_quiet(st, notes)) {
		ipc_test_next_event(ctx, ev);
		churn_event(ctx, st, ev);
		while (read(note_pipe[0], &byte, 1) == 1)
			st->notes++;
	}
}

static void run_churn(Fixture *f, const char *what)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct churn_state st = { 0 };
	struct figures warm, end;
	pid_t churners[CHURNERS], flowers[FLOWERS];
	gint64 start = g_get_monotonic_time();
	guint clients;

	ipc_test_service_init(f->ctx, NAME);
	ipc_test_pipe(note_pipe);
	ipc_test_pipe(go_pipe);
	ipc_test_pipe(stop_pipe);
	for (int i = 0; i < FLOWERS; i++)
		flowers[i] = ipc_test_fork(flower, GINT_TO_POINTER(i));
	for (int i = 0; i < CHURNERS; i++)
		churners[i] = ipc_test_fork(churner, GINT_TO_POINTER(i));
	/* Made after the forks: the children _exit() without freeing. */
	st.flowing = g_hash_table_new(NULL, NULL);
	ipc_test_set_nonblocking(note_pipe[0]);
	ipc_context_timer(f->ctx, 10);

	/* Warm-up: every churner went through its first clients. */
	churn_until_quiet(f->ctx, &st, &ev, CHURNERS);
	figures_self(&warm);
	for (int i = 0; i < CHURNERS; i++)
		ipc_test_notify(go_pipe[1]);

	/* The rest of the churn. */
	churn_until_quiet(f->ctx, &st, &ev, 2 * CHURNERS);
	figures_self(&end);
	clients = st.connections - FLOWERS;

	/* The flowing clients stop once their echoes are all back. */
	for (int i = 0; i < FLOWERS; i++)
		ipc_test_notify(stop_pipe[1]);
	while (st.gone < st.connections) {
		ipc_test_next_event(f->ctx, &ev);
		churn_event(f->ctx, &st, &ev);
	}
	ipc_context_timer(f->ctx, 0);
	for (int i = 0; i < FLOWERS; i++)
		ipc_test_reap(flowers[i]);
	for (int i = 0; i < CHURNERS; i++)
		ipc_test_reap(churners[i]);
	g_test_message("%s: %u clients connected and disconnected in %.1f s, "
		       "%u messages echoed", what, clients,
		       (double)(g_get_monotonic_time() - start) / 1e6,
		       st.messages);
	figures_compare("service", &warm, &end);
	if (!churn.until)
		g_assert_cmpuint(clients, ==,
				 CHURNERS * (churn.warm + churn.clients));
	g_hash_table_unref(st.flowing);
	for (int i = 0; i < 2; i++) {
		close(note_pipe[i]);
		close(go_pipe[i]);
		close(stop_pipe[i]);
	}
}

static void test_churn(Fixture *f, gconstpointer data)
{
	guint total = full_size() ? CHURN_FULL : CHURN_SHORT;

	(void)data;
	churn.warm = total * WARMUP_PERCENT / 100 / CHURNERS;
	churn.clients = total / CHURNERS - churn.warm;
	churn.until = 0;
	watchdog(total / 100);
	run_churn(f, "churn");
}

static void test_soak(Fixture *f, gconstpointer data)
{
	guint seconds = soak_seconds();

	(void)data;
	if (!seconds) {
		g_test_skip("set IPC_STRESS_SOAK=<seconds> to soak");
		return;
	}
	churn.warm = CHURN_FULL * WARMUP_PERCENT / 100 / CHURNERS;
	churn.clients = 0;
	churn.until = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	watchdog(seconds + 60);
	run_churn(f, "soak");
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	g_test_message("size: %s%s", full_size() ? "full (IPC_STRESS)" :
						   "short",
		       soak_seconds() ? ", with soak" : "");

#define ADD(path, func) \
	IPC_TEST_ADD("/ipc/stress/" path, func, NULL)
	ADD("restart", test_restart);
	ADD("churn", test_churn);
	ADD("soak", test_soak);
#undef ADD

	return g_test_run();
}
